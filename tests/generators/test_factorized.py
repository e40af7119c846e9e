"""Factorised conditioning: embedding, dropout, guidance rules, save/load, errors."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from synaug_learn.generators import ConditionalDiffusionGenerator, generator_can_compose
from synaug_learn.generators._factorized import FactorizedEmbedding, check_guidance_scale


@pytest.fixture(scope="module")
def cells():
    """Classes 0, 1, 2 x groups 0, 1 with cell (2, 1) absent."""
    rng = np.random.RandomState(0)
    X = rng.randint(0, 255, size=(60, 8, 8)).astype(np.uint8)
    y, g = np.repeat([0, 1, 2], 20), np.tile([0, 1], 30)
    keep = ~((y == 2) & (g == 1))
    return X[keep], y[keep], g[keep]


def _gen(**params):
    params = {"conditioning": "factorized", **params}
    return ConditionalDiffusionGenerator(block_out_channels=(8, 16), max_steps=3,
                                         num_inference_steps=2, random_state=0, **params)


@pytest.fixture(scope="module")
def fitted(cells):
    X, y, g = cells
    return _gen().fit(X, y, groups=g)


def test_embedding_sums_the_factors_and_drops_them_independently():
    emb = FactorizedEmbedding(3, 2, dim=4)
    labels = torch.tensor([emb.index(c, g) for c in range(3) for g in range(2)] * 500)
    c, g = emb.split(labels)
    assert torch.equal(emb(labels[:1]), (emb.classes.weight[0] + emb.groups.weight[0])[None])
    dropped = emb.drop(labels, 0.3, torch.Generator().manual_seed(0))
    dc, dg = emb.split(dropped)
    no_class, no_group = (dc == emb.n_classes).float(), (dg == emb.n_groups).float()
    assert no_class.mean().item() == pytest.approx(0.3, abs=0.03)
    assert no_group.mean().item() == pytest.approx(0.3, abs=0.03)
    # independent: both dropped about 0.3 * 0.3 of the time
    assert (no_class * no_group).mean().item() == pytest.approx(0.09, abs=0.02)
    kept = dc != emb.n_classes
    assert torch.equal(dc[kept], c[kept])


def test_guidance_scale_forms():
    assert check_guidance_scale(1.5) == (1.5,)
    assert check_guidance_scale([2, 1], rule="composable") == (2.0, 1.0)
    with pytest.raises(ValueError, match="only the composable rule"):
        check_guidance_scale((2, 1))
    with pytest.raises(ValueError, match="guidance_scale must be"):
        check_guidance_scale((1, 2, 3), rule="composable")


def test_composes_a_cell_without_rows(fitted):
    assert fitted.can_compose() and generator_can_compose(fitted)
    assert (2, 1) not in fitted.strata_
    X_new, y_new, g_new = fitted.generate({(2, 1): 3, (0, 0): 2}, random_state=0)
    assert X_new.shape == (5, 8, 8) and X_new.dtype == np.uint8
    assert y_new.tolist() == [2, 2, 2, 0, 0] and g_new.tolist() == [1, 1, 1, 0, 0]
    again, _, _ = fitted.generate({(2, 1): 3, (0, 0): 2}, random_state=0)
    np.testing.assert_array_equal(X_new, again)


def test_composable_rule_differs_and_takes_a_pair(cells):
    X, y, g = cells
    gen = _gen().fit(X, y, groups=g)
    joint = gen.generate({(2, 1): 2}, random_state=0)[0]
    gen.set_params(guidance_rule="composable", guidance_scale=(3.0, 1.0))
    composed = gen.generate({(2, 1): 2}, random_state=0)[0]
    assert composed.shape == joint.shape and not np.array_equal(composed, joint)
    gen.set_params(guidance_rule="joint")
    with pytest.raises(ValueError, match="only the composable rule"):
        gen.generate({(2, 1): 1})


def test_save_load_clone_keep_the_factorisation(fitted, cells, tmp_path):
    X, y, g = cells
    fitted.save_pretrained(tmp_path / "f")
    loaded = ConditionalDiffusionGenerator.from_pretrained(tmp_path / "f")
    assert loaded.get_params()["conditioning"] == "factorized"
    assert clone(loaded).get_params()["conditioning"] == "factorized"
    loaded.fit(X, y, groups=g)
    assert loaded.n_train_steps_ == 0
    np.testing.assert_array_equal(loaded.generate({(2, 1): 2}, random_state=0)[0],
                                  fitted.generate({(2, 1): 2}, random_state=0)[0])
    with pytest.raises(ValueError, match="conditioning='factorized' but conditioning='joint'"):
        ConditionalDiffusionGenerator(pretrained=tmp_path / "f").fit(X, y, groups=g)
    with pytest.raises(ValueError, match="outside them"):
        loaded.fit(X, np.where(y == 0, 7, y), groups=g)


def test_errors(cells):
    X, y, g = cells
    with pytest.raises(ValueError, match="groups=None"):
        _gen().fit(X, y)
    with pytest.raises(ValueError, match="conditioning"):
        _gen(conditioning="both").fit(X, y, groups=g)
    joint = ConditionalDiffusionGenerator(block_out_channels=(8, 16), max_steps=1,
                                          num_inference_steps=1).fit(X, y, groups=g)
    assert not joint.can_compose()
    with pytest.raises(ValueError, match=r"stratum \(2, 1\) has no training rows"):
        joint.generate({(2, 1): 1})
    fitted = _gen().fit(X, y, groups=g)
    with pytest.raises(ValueError, match="cannot be composed"):
        fitted.generate({(2, 5): 1})
