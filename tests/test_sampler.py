"""SynAugSampler: imblearn semantics on images, groups through routing, the bank, errors."""

import warnings
from collections import Counter

import numpy as np
import pytest
import sklearn
from fake_generators import EditingJitter, MustNotFit
from imblearn.pipeline import Pipeline
from imblearn.utils.estimator_checks import parametrize_with_checks as imblearn_checks
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.utils.estimator_checks import parametrize_with_checks as sklearn_checks

from synaug_learn import SynAugSampler
from synaug_learn.generators import ConditionalDiffusionGenerator, JitterGenerator


def _sampler(**params):
    return SynAugSampler(generator=JitterGenerator(), report=False, random_state=0, **params)


@imblearn_checks([_sampler()])
def test_imblearn_checks(estimator, check):
    check(estimator)


@sklearn_checks([_sampler()])
def test_sklearn_checks(estimator, check):
    check(estimator)


@pytest.fixture
def long_tailed():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(70, 8, 8)).astype(np.uint8)
    y = np.array([0] * 40 + [1] * 20 + [2] * 10)
    return X, y


class CountingJitter(JitterGenerator):
    """Counts generated rows across clones (a class attribute survives clone)."""

    rows = 0

    def _generate_stratum(self, stratum, seeds):
        type(self).rows += len(seeds)
        return super()._generate_stratum(stratum, seeds)


class ExplodingJitter(JitterGenerator):
    """Interrupts on its second batch, like a Ctrl-C mid-generation."""

    calls = 0

    def _generate_stratum(self, stratum, seeds):
        type(self).calls += 1
        if type(self).calls == 2:
            raise KeyboardInterrupt
        return super()._generate_stratum(stratum, seeds)


@pytest.mark.parametrize(
    "shape, dtype",
    [((64,), np.float64), ((8, 8), np.uint8), ((8, 8, 3), np.uint8), ((3, 8, 8), np.float32),
     ((8, 8, 1), np.float32)],
)
def test_layouts_and_dtypes_round_trip(shape, dtype):
    rng = np.random.RandomState(0)
    X = (rng.rand(70, *shape) * 255).astype(dtype)
    y = np.array([0] * 40 + [1] * 20 + [2] * 10)
    sampler = _sampler()
    X_res, y_res = sampler.fit_resample(X, y)
    assert X_res.shape == (120, *shape) and X_res.dtype == dtype
    np.testing.assert_array_equal(X_res[:70], X)  # original rows first, untouched
    assert Counter(y_res.tolist()) == {0: 40, 1: 40, 2: 40}
    assert sampler.synthetic_mask_.tolist() == [False] * 70 + [True] * 50
    assert sampler.n_original_ == 70 and sampler.input_shape_ == shape
    assert sampler.sampling_strategy_ == {1: 20, 2: 30}


@pytest.mark.parametrize(
    "strategy, fill_ratio, added",
    [("auto", 1.0, {1: 20, 2: 30}), ("minority", 1.0, {2: 30}), ("all", 1.0, {1: 20, 2: 30}),
     ("not majority", 0.5, {1: 10, 2: 15}), ({1: 25, 2: 11}, 1.0, {1: 5, 2: 1}),
     ({2: 17}, 0.5, {2: 3}), (lambda y: {2: 12}, 1.0, {2: 2}), ("auto", 0.25, {1: 5, 2: 7})],
)
def test_sampling_strategy_and_fill_ratio(long_tailed, strategy, fill_ratio, added):
    X, y = long_tailed
    sampler = _sampler(sampling_strategy=strategy, fill_ratio=fill_ratio)
    X_res, y_res = sampler.fit_resample(X, y)
    assert sampler.sampling_strategy_ == added
    expected = Counter(y.tolist()) + Counter(added)
    assert Counter(y_res.tolist()) == expected
    assert sampler.fit(X, y).sampling_strategy_ == added  # fit computes, generates nothing


def test_groups_fill_cells(long_tailed):
    X, y = long_tailed
    groups = np.array((["a"] * 30 + ["b"] * 10) + (["a"] * 15 + ["b"] * 5) + ["a"] * 9 + ["b"])
    sampler = _sampler()
    X_res, y_res = sampler.fit_resample(X, y, groups=groups)
    cells = Counter(zip(y_res.tolist(), sampler.groups_resampled_.tolist()))
    assert set(cells.values()) == {30}  # every cell filled up to the largest
    assert len(cells) == 6
    # a dict naming cells fills exactly those cells
    cell_sampler = _sampler(sampling_strategy={(2, "b"): 4, (1, "b"): 6})
    cell_sampler.fit_resample(X, y, groups=groups)
    assert cell_sampler.sampling_strategy_ == {(2, "b"): 3, (1, "b"): 1}
    # a dict naming classes spreads the new rows over the class's cells, smallest first
    class_sampler = _sampler(sampling_strategy={2: 14})
    _, y_cls = class_sampler.fit_resample(X, y, groups=groups)
    assert class_sampler.sampling_strategy_ == {(2, "b"): 4}
    assert Counter(y_cls.tolist())[2] == 14


def test_same_seed_same_rows_and_cache_gives_the_same_rows(long_tailed, tmp_path):
    X, y = long_tailed
    a, _ = _sampler().fit_resample(X, y)
    b, _ = _sampler().fit_resample(X, y)
    c, _ = _sampler(cache_dir=str(tmp_path)).fit_resample(X, y)
    other, _ = SynAugSampler(generator=JitterGenerator(), report=False,
                             random_state=1).fit_resample(X, y)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a[70:], other[70:])


def test_fill_ratio_grid_generates_each_row_once_with_a_bank(long_tailed, tmp_path):
    X, y = long_tailed
    Xf = X.reshape(len(X), -1).astype(float)
    CountingJitter.rows = 0
    pipe = Pipeline([
        ("synaug", SynAugSampler(generator=CountingJitter(), cache_dir=str(tmp_path),
                                 report=False, random_state=0)),
        ("clf", LogisticRegression(max_iter=200)),
    ])
    search = GridSearchCV(pipe, {"synaug__fill_ratio": [0.25, 0.5, 1.0]}, cv=2, refit=False)
    search.fit(Xf, y)
    # Each fold's full deficit is generated once (for 0.25, then only the rest).
    folds = [np.array([0] * 20 + [1] * 10 + [2] * 5)] * 2
    full = sum(sum(40 // 2 - n for n in Counter(f.tolist()).values()) for f in folds)
    assert CountingJitter.rows == full
    CountingJitter.rows = 0
    search.fit(Xf, y)  # a second search reuses everything
    assert CountingJitter.rows == 0


class CountingDiffusion(ConditionalDiffusionGenerator):
    """Counts trainings across clones (a class attribute survives clone)."""

    trainings = 0

    def _train(self, *args, **kwargs):
        type(self).trainings += 1
        return super()._train(*args, **kwargs)


def test_fill_ratio_grid_trains_an_in_domain_generator_once_per_fold(long_tailed, tmp_path):
    X, y = long_tailed
    Xf = X.reshape(len(X), -1).astype(float)
    tiny = dict(block_out_channels=(16, 32), max_steps=2, num_inference_steps=2,
                generation_batch_size=64)
    CountingDiffusion.trainings = 0
    pipe = Pipeline([
        ("synaug", SynAugSampler(generator=CountingDiffusion(**tiny), cache_dir=str(tmp_path),
                                 report=False, random_state=0)),
        ("clf", LogisticRegression(max_iter=200)),
    ])
    search = GridSearchCV(pipe, {"synaug__fill_ratio": [0.5, 1.0]}, cv=2, refit=False)
    search.fit(Xf, y)
    assert CountingDiffusion.trainings == 2  # one per fold, not one per fold and candidate
    assert (tmp_path / "fitted").is_dir()

    # The bank's copy generates exactly the rows of a fresh training with the same seed.
    first = SynAugSampler(generator=CountingDiffusion(**tiny), cache_dir=str(tmp_path / "b"),
                          report=False, random_state=3)
    X_first, _ = first.fit_resample(X, y)
    again = clone(first)
    X_again, _ = again.fit_resample(X, y)
    fresh, _ = clone(first).set_params(cache_dir=None).fit_resample(X, y)
    assert not first.generator_from_bank_ and again.generator_from_bank_
    assert CountingDiffusion.trainings == 4  # `first` and `fresh` trained; `again` did not
    np.testing.assert_array_equal(X_again, X_first)
    np.testing.assert_array_equal(fresh, X_first)
    # Another seed or other data is another generator.
    other_seed = clone(first).set_params(random_state=4)
    other_seed.fit_resample(X, y)
    other_data = clone(first)
    other_data.fit_resample(X[1:], y[1:])
    assert not other_seed.generator_from_bank_ and not other_data.generator_from_bank_


def test_generators_that_do_not_train_are_not_kept_fitted(long_tailed, tmp_path):
    X, y = long_tailed
    sampler = _sampler(cache_dir=str(tmp_path))
    sampler.fit_resample(X, y)
    assert not sampler.generator_from_bank_ and not (tmp_path / "fitted").exists()
    assert not ConditionalDiffusionGenerator(pretrained="fashion-mnist-small")._fit_trains()
    assert ConditionalDiffusionGenerator(pretrained="fashion-mnist-small",
                                         fine_tune=10)._fit_trains()


def test_interrupted_generation_resumes_losing_at_most_one_batch(long_tailed, tmp_path):
    X, y = long_tailed
    ExplodingJitter.calls = 0
    sampler = SynAugSampler(generator=ExplodingJitter(), cache_dir=str(tmp_path),
                            report=False, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        sampler.fit_resample(X, y)  # stratum 1 is written, stratum 2 interrupted
    resumed = SynAugSampler(generator=ExplodingJitter(), cache_dir=str(tmp_path),
                            report=False, random_state=0)
    X_res, _ = resumed.fit_resample(X, y)
    assert resumed.bank_stats_ == {"requested": 50, "generated": 30, "reused": 20}
    np.testing.assert_array_equal(X_res, _sampler().fit_resample(X, y)[0])


def test_groups_are_routed_through_pipeline_and_group_kfold():
    X, y = load_digits(return_X_y=True)
    keep = np.r_[np.flatnonzero(y == 0)[:60], np.flatnonzero(y == 1)[:20]]
    X, y = X[keep], y[keep]
    groups = np.arange(len(y)) % 4
    with sklearn.config_context(enable_metadata_routing=True):
        sampler = _sampler().set_fit_resample_request(groups=True)
        pipe = Pipeline([("synaug", sampler), ("clf", LogisticRegression(max_iter=500))])
        search = GridSearchCV(pipe, {"synaug__fill_ratio": [0.5, 1.0]}, cv=GroupKFold(2))
        search.fit(X, y, groups=groups)
    fitted = search.best_estimator_.named_steps["synaug"]
    assert fitted.groups_resampled_ is not None
    cells = Counter(zip(y.tolist(), groups.tolist()))
    assert set(fitted.sampling_strategy_) <= set(cells)  # strata are (class, group) cells
    assert search.best_score_ > 0.9


def test_report_flags_copying():
    X, y = load_digits(return_X_y=True)
    keep = np.r_[np.flatnonzero(y == 0)[:100], np.flatnonzero(y == 1)[:8]]
    sampler = SynAugSampler(generator=JitterGenerator(noise_scale=0.0, interpolation=0.0),
                            random_state=0)
    with pytest.warns(UserWarning, match="near-copies"):
        sampler.fit_resample(X[keep], y[keep])
    row = [r for r in sampler.report_.rows if r["n_generated"]][0]
    assert row["novelty"] < 0.05
    assert sampler.report_.copying_


def test_report_uses_held_out_rows_the_generator_never_saw():
    X, y = load_digits(return_X_y=True)
    keep = np.r_[np.flatnonzero(y == 0)[:100], np.flatnonzero(y == 1)[:30],
                 np.flatnonzero(y == 2)[:3]]
    X, y = X[keep], y[keep]
    copier = JitterGenerator(noise_scale=0.0, interpolation=0.0)  # returns training rows
    sampler = SynAugSampler(generator=copier, random_state=0)
    with pytest.warns(UserWarning, match="near-copies"):
        X_res, y_res = sampler.fit_resample(X, y)
    held = sampler.report_heldout_indices_
    assert sorted(Counter(y[held].tolist()).items()) == [(0, 20), (1, 6)]  # 20 %; class 2 too small
    assert len(X_res) == 300 and np.array_equal(X_res[:len(X)], X)  # every real row is kept
    generated = X_res[sampler.synthetic_mask_]
    assert not (generated[:, None, :] == X[held][None]).all(-1).any()  # not trained on them
    rows = {r["label"]: r for r in sampler.report_.rows}
    assert rows[1]["reference"] == "heldout" and rows[2]["reference"] == "loo"
    assert rows[1]["n_real"] == 24 and sampler.report_.reference_ == {"heldout": 1, "loo": 1}
    assert "26 held-out real rows" in str(sampler.report_).splitlines()[-1]
    sampler = SynAugSampler(generator=copier, report_holdout=0, random_state=0)
    with pytest.warns(UserWarning, match="near-copies"):
        sampler.fit_resample(X, y)
    assert len(sampler.report_heldout_indices_) == 0
    assert sampler.report_.reference_ == {"loo": 2}
    assert sampler.report_.note.endswith("(no held-out rows: report_holdout=0)")


def test_quality_filter_rejects_off_class_samples():
    X, y = load_digits(return_X_y=True)
    keep = np.r_[np.flatnonzero(y == 0)[:80], np.flatnonzero(y == 1)[:80],
                 np.flatnonzero(y == 7)[:20]]
    X, y = X[keep], y[keep]

    class HalfWrong(JitterGenerator):
        """Every second row of class 7 is a 0 in disguise."""

        def _generate_stratum(self, stratum, seeds):
            out = super()._generate_stratum(stratum, seeds)
            zeros = self._raw[self._index[(0, None)]]
            for i, seed in enumerate(seeds):
                if seed % 2:
                    out[i] = zeros[seed % len(zeros)]
            return out

    sampler = SynAugSampler(generator=HalfWrong(), filter="auto", filter_threshold=0.5,
                            report=False, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert Counter(y_res.tolist())[7] == 80
    stats = sampler.filter_report_[(7, None)]
    assert stats["kept"] == 60 and 0.3 < stats["rejection_rate"] < 0.7
    clf = LogisticRegression(max_iter=1000).fit(X, y)
    assert (clf.predict(X_res[sampler.synthetic_mask_]) == 7).mean() > 0.95


def test_pipeline_drop_in_for_smote():
    from imblearn.over_sampling import SMOTE

    X, y = load_digits(return_X_y=True)
    keep = np.concatenate([np.flatnonzero(y == c)[: (60 if c < 5 else 8)] for c in range(10)])
    scores = {}
    for name, sampler in [("smote", SMOTE(k_neighbors=3, random_state=0)), ("synaug", _sampler())]:
        pipe = Pipeline([("s", sampler), ("clf", LogisticRegression(max_iter=1000))])
        scores[name] = pipe.fit(X[keep], y[keep]).score(X, y)
    assert abs(scores["smote"] - scores["synaug"]) < 0.1


@pytest.mark.parametrize(
    "X, y, params, match",
    [
        (np.array([[0.0, np.nan], [1, 1], [2, 2]]), [0, 1, 1], {}, "NaN or infinity"),
        (np.array([[0.0, np.inf], [1, 1], [2, 2]]), [0, 1, 1], {}, "NaN or infinity"),
        (np.array([[0.0, 1j], [1, 1], [2, 2]]), [0, 1, 1], {},
         r"X is complex \(dtype=complex128\)"),
        (np.array([[0.0, 1j], [1, 1], [2, 2]], dtype=object), [0, 1, 1], {}, "X is complex"),
        (np.array([[0.0, "red"], [1, 1], [2, 2]], dtype=object), [0, 1, 1], {},
         "dtype=object holding 'red'"),
        (np.arange(4.0), [0, 1, 1, 1], {}, "must be 2-D"),
        (np.zeros((4, 2, 2, 2, 2)), [0, 1, 1, 1], {}, "must be 2-D"),
        (np.zeros((4, 3)), [0, 1, 1], {}, "different lengths: 4 != 3"),
        (np.zeros((4, 3)), [1, 1, 1, 1], {}, "only one class"),
        (np.zeros((4, 3)), [0, 1, 1, 1], {"sampling_strategy": {7: 5}}, r"not in the data: \[7\]"),
        (np.zeros((4, 3)), [0, 1, 1, 1], {"sampling_strategy": {0: -1}}, r"sampling_strategy\[0\]"),
        (np.zeros((4, 3)), [0, 0, 1, 1], {"sampling_strategy": {0: 1}}, "at least the current"),
        (np.zeros((4, 3)), [0, 1, 1, 1], {"fill_ratio": 0.0}, "fill_ratio"),
        (np.zeros((4, 3)), [0, 1, 1, 1], {"fill_ratio": 1.5}, "fill_ratio"),
        (np.zeros((4, 3)), [0, 1, 1, 1], {"generator": object()}, "'generator' parameter"),
    ],
)
def test_bad_input_is_a_clear_error_before_any_work(X, y, params, match):
    sampler = SynAugSampler(**{"generator": MustNotFit(), **params})
    with pytest.raises((ValueError, TypeError), match=match):
        sampler.fit_resample(X, y)


def test_ragged_x_and_groups_length(long_tailed):
    X, y = long_tailed
    with pytest.raises(ValueError, match="ragged"):
        SynAugSampler(generator=MustNotFit()).fit_resample([[1, 2], [3]], [0, 1])
    with pytest.raises(ValueError, match="groups must be 1-D with one entry per row"):
        SynAugSampler(generator=MustNotFit()).fit_resample(X, y, groups=np.zeros(3))


def test_unwritable_cache_dir_fails_before_training(long_tailed, tmp_path):
    X, y = long_tailed
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    sampler = SynAugSampler(generator=MustNotFit(), cache_dir=str(blocker / "bank"))
    with pytest.raises(ValueError, match="cache_dir="):
        sampler.fit_resample(X, y)


def test_bad_strategy_writes_no_bank_folder(long_tailed, tmp_path):
    X, y = long_tailed
    bank = tmp_path / "bank"
    with pytest.raises(ValueError, match="not in the data"):
        SynAugSampler(generator=MustNotFit(), cache_dir=str(bank),
                      sampling_strategy={9: 50}).fit_resample(X, y)
    assert not bank.exists()


def test_pretrained_generator_mismatch_fails_before_writing(tmp_path):
    X, y = load_digits(return_X_y=True)
    X = X.reshape(-1, 8, 8)
    gen = ConditionalDiffusionGenerator(block_out_channels=(16, 32), max_steps=1,
                                        random_state=0).fit(X[:50], y[:50])
    gen.save_pretrained(tmp_path / "gen")
    bank = tmp_path / "bank"
    sampler = SynAugSampler(generator=ConditionalDiffusionGenerator(pretrained=tmp_path / "gen"),
                            cache_dir=str(bank), report=False)
    with pytest.raises(ValueError, match="generates 1x8x8"):
        sampler.fit_resample(np.zeros((6, 10, 10), np.uint8), [0, 0, 0, 0, 1, 1])
    assert not any(bank.rglob("*.npz"))


def test_a_given_generator_is_cloned_without_a_warning(long_tailed):
    X, y = long_tailed
    given = JitterGenerator()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gen, level = SynAugSampler(generator=given)._check_generator_param(X, y, 10)
    assert isinstance(gen, JitterGenerator) and gen is not given and level == 0


@pytest.mark.parametrize("bad", [None, np.nan])
def test_missing_groups_are_refused_before_any_work(long_tailed, tmp_path, bad):
    X, y = long_tailed
    groups = np.array(["a", "b"] * 35, dtype=object)
    groups[[3, 8]] = bad
    sampler = SynAugSampler(generator=MustNotFit(), cache_dir=str(tmp_path / "bank"))
    with pytest.raises(ValueError, match=r"groups must name a group for every row; rows \[3, 8\]"):
        sampler.fit_resample(X, y, groups=groups)
    with pytest.raises(ValueError, match="groups must name a group"):
        sampler.fit_resample(X, y, groups=np.where(np.arange(70) == 5, np.nan, 1.0))
    assert not (tmp_path / "bank").exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_an_unavailable_device_is_refused_before_any_work(long_tailed, tmp_path):
    X, y = long_tailed
    gen = ConditionalDiffusionGenerator(block_out_channels=(16, 32), max_steps=1, device="cuda")
    sampler = SynAugSampler(generator=gen, cache_dir=str(tmp_path / "bank"))
    with pytest.raises(ValueError, match="device='cuda' but CUDA is not available"):
        sampler.fit_resample(X, y)
    assert not (tmp_path / "bank").exists()
    with pytest.raises(ValueError, match="device='cuda' but CUDA is not available"):
        gen.fit(X, y)  # the generator alone fails at fit start too
    with pytest.raises(ValueError, match="device='gpu' is not a torch device"):
        gen.set_params(device="gpu").fit(X, y)


def test_damaged_fitted_generator_cache_warns_once_and_retrains(long_tailed, tmp_path):
    X, y = long_tailed
    tiny = dict(block_out_channels=(16, 32), max_steps=2, num_inference_steps=2)
    first = SynAugSampler(generator=CountingDiffusion(**tiny), cache_dir=str(tmp_path),
                          report=False, random_state=0)
    X_first, _ = first.fit_resample(X, y)
    (entry,) = (tmp_path / "fitted").iterdir()
    # the cache holds the save_pretrained format (safetensors + json with hashes), no pickle
    assert (entry / "synaug_generator.json").is_file()
    assert not [p for p in tmp_path.rglob("*") if p.suffix in (".joblib", ".pkl", ".pickle")]
    again = clone(first)
    again.fit_resample(X, y)
    assert again.generator_from_bank_ and again.bank_stats_["generated"] == 0  # same rows' key
    weights = entry / "unet" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF
    weights.write_bytes(bytes(data))
    CountingDiffusion.trainings = 0
    damaged = clone(first)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        X_damaged, _ = damaged.fit_resample(X, y)
    said = [str(w.message) for w in caught if "cannot be restored" in str(w.message)]
    assert len(said) == 1 and "\n" not in said[0] and "diffusion_pytorch_model" in said[0]
    assert not damaged.generator_from_bank_ and CountingDiffusion.trainings == 1
    np.testing.assert_array_equal(X_damaged, X_first)
    healed = clone(first)
    healed.fit_resample(X, y)  # the entry was written again
    assert healed.generator_from_bank_ and CountingDiffusion.trainings == 1


def test_generators_that_cannot_be_saved_are_not_cached(long_tailed, tmp_path):
    class TrainingJitter(JitterGenerator):
        def _fit_trains(self):
            return True

    X, y = long_tailed
    sampler = SynAugSampler(generator=TrainingJitter(), cache_dir=str(tmp_path), report=False,
                            random_state=0)
    sampler.fit_resample(X, y)
    assert not sampler.generator_from_bank_ and not (tmp_path / "fitted").exists()


@pytest.mark.ray
def test_ray_backend_gives_the_local_rows(long_tailed, tmp_path):
    pytest.importorskip("ray.data")
    X, y = long_tailed
    local, _ = _sampler().fit_resample(X, y)
    sampler = _sampler(backend="ray", cache_dir=str(tmp_path),
                       ray_options={"concurrency": 2, "num_cpus_per_worker": 1})
    remote, _ = sampler.fit_resample(X, y)
    np.testing.assert_array_equal(remote, local)
    assert sampler.bank_stats_["generated"] == 50


def test_regenerate_real_redraws_the_real_rows_and_keeps_the_generated_ones():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(24, 8, 8)).astype(np.uint8)
    y, groups = np.repeat([0, 1], 12), np.tile([0, 0, 0, 1], 6)
    gen = ConditionalDiffusionGenerator(block_out_channels=(8, 16), max_steps=2,
                                        num_inference_steps=4, random_state=0)
    params = dict(generator=gen, report=False, random_state=0)
    X_plain, y_plain = SynAugSampler(**params).fit_resample(X, y, groups=groups)
    changes = []
    for strength in (0.25, 1.0):
        sampler = SynAugSampler(regenerate_real=strength, **params)
        X_res, y_res = sampler.fit_resample(X, y, groups=groups)
        n = sampler.n_original_
        # the same rows, labels and generated rows as without it; only the real rows change
        np.testing.assert_array_equal(y_res, y_plain)
        np.testing.assert_array_equal(X_res[n:], X_plain[n:])
        assert not sampler.synthetic_mask_[:n].any() and sampler.synthetic_mask_[n:].all()
        changes.append(np.abs(X_res[:n].astype(float) - X).mean())
    assert 0 < changes[0] < changes[1]  # a lower strength keeps more of each real row


def test_regenerate_real_needs_a_generator_that_edits_before_any_work(long_tailed, tmp_path):
    X, y = long_tailed
    bank = tmp_path / "bank"
    sampler = SynAugSampler(generator=MustNotFit(), regenerate_real=0.3, cache_dir=str(bank))
    with pytest.raises(ValueError, match=r"regenerate_real=0.3 .* MustNotFit does not have"):
        sampler.fit_resample(X, y)
    assert not bank.exists()
    with pytest.raises(ValueError, match="'regenerate_real' parameter"):
        SynAugSampler(generator=MustNotFit(), regenerate_real=0.0).fit_resample(X, y)


def test_interrupted_redrawing_of_real_rows_resumes_losing_at_most_one_shard(tmp_path):
    from synaug_learn._bank import SyntheticBank
    from synaug_learn._fill import edit_rows

    rng = np.random.RandomState(0)
    X, y = rng.randint(0, 200, size=(10, 8, 8)).astype(np.uint8), np.repeat([0, 1], 5)
    gen = EditingJitter().fit(X, y)
    EditingJitter.edited, EditingJitter.explode_at = 0, 8  # shards of 4 rows: the third fails
    with pytest.raises(KeyboardInterrupt):
        edit_rows(SyntheticBank(tmp_path, shard_size=4), gen, X, y, None, 1.0, random_state=0)
    EditingJitter.explode_at = None
    X_edit = edit_rows(SyntheticBank(tmp_path, shard_size=4), gen, X, y, None, 1.0, 0)
    assert EditingJitter.edited == 8 + 2  # the two stored shards were read back
    fresh = edit_rows(SyntheticBank(None, shard_size=4), gen, X, y, None, 1.0, 0)
    np.testing.assert_array_equal(X_edit, fresh)
    assert not np.array_equal(X_edit, X)
    # other rows or another strength are other shards, never the stored edits
    before = EditingJitter.edited
    edit_rows(SyntheticBank(tmp_path, shard_size=4), gen, X[::-1].copy(), y[::-1].copy(),
              None, 1.0, 0)
    edit_rows(SyntheticBank(tmp_path, shard_size=4), gen, X, y, None, 2.0, 0)
    assert EditingJitter.edited == before + 20


def test_auto_filter_judges_a_rare_class_with_class_balanced_weights():
    # Unseen *real* images of a class with 3 training rows (120 for the others) stand in
    # for honest samples: an unweighted logistic regression rejects 78 % of them at 0.5 (its
    # prior shrinks the rare class's probabilities); the class-balanced judge 32 %.
    from synaug_learn._filter import filter_generated

    X, y = load_digits(return_X_y=True)
    keep = np.concatenate([np.flatnonzero(y == c)[: (3 if c == 3 else 120)] for c in range(10)])
    unseen = X[np.flatnonzero(y == 3)[3:103]]

    def fetch(n_per_stratum, random_state):
        n = sum(n_per_stratum.values())
        return unseen[:n], np.full(n, 3), None

    with pytest.warns(UserWarning, match="filter kept only 68 of the 100 samples"):
        *_, report = filter_generated(fetch, {(3, None): 100}, 0, X[keep], y[keep],
                                      filter="auto", threshold=0.5, max_rounds=0)
    assert report[(3, None)]["rejection_rate"] == pytest.approx(0.32)
