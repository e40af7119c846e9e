"""Cells with no rows (the class x group grid), the equal synthetic share, composability errors."""

from collections import Counter

import numpy as np
import pytest
from fake_generators import EditingJitter, MustNotFit

from synaug_learn import SynAugSampler
from synaug_learn._cells import (
    apply_synthetic_share,
    exact_share_split,
    grid_cells,
    grid_targets,
)
from synaug_learn.generators import BaseGenerator, JitterGenerator


class ComposingMean(BaseGenerator):
    """Draws a cell as class mean + group offset, so it can draw cells it never saw."""

    def __init__(self, noise=0.0):
        self.noise = noise

    def _fit(self, X, y, groups):
        X = X.astype(float)
        self.class_means_ = {c: X[y == c].mean(0) for c in self.classes_}
        overall = X.mean(0)
        self.group_offsets_ = {g: X[groups == g].mean(0) - overall for g in np.unique(groups)}

    def _generate_stratum(self, stratum, seeds):
        label, group = stratum
        return np.stack([self.class_means_[label] + self.group_offsets_[group]] * len(seeds))

    def can_compose(self):
        return True


@pytest.fixture
def cells_data():
    """Classes 0, 1, 2 x groups "a", "b"; cell (2, "b") has no rows."""
    rng = np.random.RandomState(0)
    counts = {(0, "a"): 12, (0, "b"): 6, (1, "a"): 10, (1, "b"): 4, (2, "a"): 8}
    y = np.concatenate([[c] * n for (c, _), n in counts.items()])
    groups = np.concatenate([[g] * n for (_, g), n in counts.items()])
    X = rng.rand(len(y), 4, 4)
    return X, y, groups


def test_grid_targets_include_empty_cells():
    counts = {("a", 0): 5, ("a", 1): 0, ("b", 0): 3, ("b", 1): 2}
    assert grid_targets("auto", counts) == {("a", 1): 5, ("b", 0): 2, ("b", 1): 3}
    assert grid_targets("minority", counts) == {("a", 1): 5}
    assert grid_targets("all", counts)[("a", 0)] == 0
    with pytest.raises(ValueError, match="sampling_strategy='most'"):
        grid_targets("most", counts)
    assert grid_cells([1, 0], ["x", "y"]) == [(0, "x"), (0, "y"), (1, "x"), (1, "y")]


def test_synthetic_share_reaches_every_cell_and_keeps_balance():
    counts = {"a": 40, "b": 10, "c": 0}
    plan = apply_synthetic_share({"b": 30, "c": 40}, counts, share=0.25)
    totals = {k: counts[k] + plan.get(k, 0) for k in counts}
    assert len(set(totals.values())) == 1  # balanced targets stay balanced
    shares = {k: plan.get(k, 0) / totals[k] for k in counts}
    assert shares["a"] == pytest.approx(0.25, abs=0.02)  # the largest cell: about the share
    assert all(s >= 0.25 for s in shares.values())
    # already above the share everywhere: nothing changes
    assert apply_synthetic_share({"b": 30}, {"a": 0, "b": 10}, share=0.5) == {"b": 30}


def test_exact_share_split_keeps_totals_and_leaves_empty_cells_generated():
    counts = {"a": 40, "b": 10, "c": 0}
    plan = apply_synthetic_share({"b": 30, "c": 40}, counts, share=0.25)
    generated, copies = exact_share_split(plan, counts, share=0.25)
    total = counts["a"] + plan["a"]  # every cell's total, kept
    for cell in ("a", "b"):
        assert generated[cell] == round(0.25 * total)  # exactly the share
    assert copies == {"b": total - counts["b"] - generated["b"]}  # "a" binds: no copies
    assert generated["c"] == plan["c"] == total  # no real rows to copy: wholly generated


def test_dict_names_an_empty_cell(cells_data):
    X, y, groups = cells_data
    sampler = SynAugSampler(generator=ComposingMean(), sampling_strategy={(2, "b"): 7},
                            report=False, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y, groups=groups)
    assert sampler.sampling_strategy_ == {(2, "b"): 7}
    new = sampler.synthetic_mask_
    assert Counter(zip(y_res[new].tolist(), sampler.groups_resampled_[new].tolist())) == {
        (2, "b"): 7}
    # the composed rows are class 2's mean plus group b's offset
    expected = X[y == 2].mean(0) + (X[groups == "b"].mean(0) - X.mean(0))
    np.testing.assert_allclose(X_res[new][0], expected)


def test_fill_grid_auto_fills_every_cell(cells_data):
    X, y, groups = cells_data
    sampler = SynAugSampler(generator=ComposingMean(), fill_grid=True, report=False,
                            random_state=0)
    _, y_res = sampler.fit_resample(X, y, groups=groups)
    cells = Counter(zip(y_res.tolist(), sampler.groups_resampled_.tolist()))
    assert len(cells) == 6 and set(cells.values()) == {12}
    assert sampler.sampling_strategy_[(2, "b")] == 12
    # without fill_grid, "auto" only fills the cells that occur
    plain = SynAugSampler(generator=ComposingMean(), report=False, random_state=0)
    plain.fit_resample(X, y, groups=groups)
    assert (2, "b") not in plain.sampling_strategy_


def test_fill_grid_with_class_totals_tops_up_the_empty_cell_first(cells_data):
    X, y, groups = cells_data
    sampler = SynAugSampler(generator=ComposingMean(), fill_grid=True,
                            sampling_strategy={2: 12}, report=False, random_state=0)
    sampler.fit_resample(X, y, groups=groups)
    assert sampler.sampling_strategy_ == {(2, "b"): 4}


@pytest.mark.parametrize("params", [{"fill_grid": True}, {"sampling_strategy": {(2, "b"): 5}}])
def test_generator_that_cannot_compose_is_refused_before_any_work(cells_data, params):
    X, y, groups = cells_data
    sampler = SynAugSampler(generator=MustNotFit(), report=False, **params)
    with pytest.raises(ValueError, match=r"no training rows: \[\(2, 'b'\)\].*MustNotFit"):
        sampler.fit_resample(X, y, groups=groups)
    with pytest.raises(ValueError, match=r"\(2, 'b'\)"):
        sampler.fit(X, y, groups=groups)


def test_cell_with_unknown_group_is_still_an_error(cells_data):
    X, y, groups = cells_data
    sampler = SynAugSampler(generator=ComposingMean(), sampling_strategy={(2, "z"): 5},
                            report=False)
    with pytest.raises(ValueError, match=r"not in the data: \[\(2, 'z'\)\]"):
        sampler.fit_resample(X, y, groups=groups)


def test_sampler_synthetic_share(cells_data):
    X, y, groups = cells_data
    sampler = SynAugSampler(generator=JitterGenerator(), synthetic_share=0.25, report=False,
                            random_state=0)
    _, y_res = sampler.fit_resample(X, y, groups=groups)
    cells = Counter(zip(y_res.tolist(), sampler.groups_resampled_.tolist()))
    assert len(set(cells.values())) == 1  # still balanced over the cells present
    share = sampler.synthetic_share_
    assert set(share) == set(cells)
    assert min(share.values()) >= 0.25
    assert share[(0, "a")] == pytest.approx(0.25, abs=0.02)  # the majority cell gets some too
    with pytest.raises(ValueError, match="synthetic_share"):
        SynAugSampler(generator=JitterGenerator(), synthetic_share=1.0).fit_resample(X, y)


def test_sampler_exact_share_equalises_every_cell_with_copies_of_its_rows(cells_data):
    X, y, groups = cells_data
    sampler = SynAugSampler(generator=ComposingMean(), fill_grid=True, synthetic_share=0.5,
                            share_mode="exact", report=False, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y, groups=groups)
    g_res = sampler.groups_resampled_
    cells = Counter(zip(y_res.tolist(), g_res.tolist()))
    assert len(set(cells.values())) == 1 and cells[(0, "a")] == 24  # balanced: 12 real + 12
    share = sampler.synthetic_share_
    assert share[(2, "b")] == 1.0  # no real rows to copy
    assert all(v == 0.5 for c, v in share.items() if c != (2, "b"))
    # every non-generated row is an input row or a copy of one from its own cell
    src, mask = sampler.real_index_, sampler.synthetic_mask_
    assert (src[mask] == -1).all() and (src[~mask] >= 0).all()
    np.testing.assert_array_equal(src[:len(X)], np.arange(len(X)))
    np.testing.assert_array_equal(X_res[~mask], X[src[~mask]])
    np.testing.assert_array_equal(y_res[~mask], y[src[~mask]])
    np.testing.assert_array_equal(g_res[~mask], groups[src[~mask]])
    # copies spread over the cell's rows: (1, "b") has 4 rows and 8 copies, 2 of each
    copies_1b = src[len(X):][(y_res[len(X):] == 1) & (g_res[len(X):] == "b") & ~mask[len(X):]]
    assert sorted(Counter(copies_1b.tolist()).values()) == [2, 2, 2, 2]


def test_sampler_exact_share_redraws_each_copy_with_its_own_noise(cells_data):
    X, y, groups = cells_data
    X = (X * 200).astype(np.uint8)
    sampler = SynAugSampler(generator=EditingJitter(), synthetic_share=0.5, share_mode="exact",
                            regenerate_real=1.0, report=False, random_state=0)
    X_res, _ = sampler.fit_resample(X, y, groups=groups)
    src, mask = sampler.real_index_, sampler.synthetic_mask_
    copies = np.flatnonzero(~mask)[len(X):]
    assert len(copies) > 0
    # a copy is not its source row as it came in, nor that row's redraw among the originals
    for row in copies:
        assert not np.array_equal(X_res[row], X[src[row]])
        assert not np.array_equal(X_res[row], X_res[src[row]])


def test_exact_share_needs_a_synthetic_share_before_any_work(cells_data, tmp_path):
    X, y, groups = cells_data
    bank = tmp_path / "bank"
    sampler = SynAugSampler(generator=MustNotFit(), share_mode="exact", cache_dir=str(bank))
    with pytest.raises(ValueError, match=r"share_mode='exact' .* synthetic_share=None"):
        sampler.fit_resample(X, y, groups=groups)
    assert not bank.exists()
    with pytest.raises(ValueError, match="'share_mode' parameter"):
        SynAugSampler(share_mode="equal").fit_resample(X, y)


def test_exact_share_without_groups_works_per_class():
    X = np.random.RandomState(0).randint(0, 255, (30, 8, 8)).astype(np.uint8)
    y = np.repeat([0, 1], [20, 10])
    sampler = SynAugSampler(generator=JitterGenerator(), synthetic_share=0.5, share_mode="exact",
                            report=False, random_state=0)
    _, y_res = sampler.fit_resample(X, y)
    assert Counter(y_res.tolist()) == {0: 40, 1: 40}
    assert sampler.synthetic_share_ == {0: 0.5, 1: 0.5}
    copies = Counter(sampler.real_index_[~sampler.synthetic_mask_].tolist())
    assert all(copies[i] == 1 for i in range(20)) and all(copies[i] == 2 for i in range(20, 30))
