"""A generator written only from the documented contract works with SynAugSampler.

The contract (docs, ``synaug_learn.generators``): ``fit(X, y, groups=None)``,
``generate(n_per_stratum, random_state=None) -> (X_new, y_new, groups_new)``
and ``fingerprint()``. The generator below subclasses nothing of the package.
"""

import hashlib
from collections import Counter

import numpy as np
import pytest
import sklearn
from imblearn.pipeline import Pipeline
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from synaug_learn import SynAugSampler

GROUPS = ["a", "b"]


class ContractGenerator(BaseEstimator):
    """Rows that say what they are: feature 0 = 1000 + label, feature 1 = group index."""

    def __init__(self, noise=0.1):
        self.noise = noise

    def fit(self, X, y, groups=None):
        X = np.asarray(X)
        self.n_features_ = X.shape[1]
        self.with_groups_ = groups is not None
        self.data_sha_ = hashlib.sha256(np.ascontiguousarray(X).tobytes()).hexdigest()
        return self

    def generate(self, n_per_stratum, random_state=None):
        rng = np.random.default_rng(random_state)
        X, y, g = [], [], []
        for (label, group), n in n_per_stratum.items():
            rows = rng.normal(0.0, self.noise, size=(n, self.n_features_))
            rows[:, 0] = 1000 + label
            rows[:, 1] = -1 if group is None else GROUPS.index(group)
            X.append(rows)
            y.append(np.full(n, label))
            g.append(np.full(n, group, dtype=object))
        X = np.concatenate(X) if X else np.empty((0, self.n_features_))
        y = np.concatenate(y) if y else np.empty(0, dtype=int)
        g = np.concatenate(g) if g else np.empty(0, dtype=object)
        return X, y, (g if self.with_groups_ else None)

    def fingerprint(self):
        return f"contract-{self.noise}-{self.data_sha_}"


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    y = np.array([0] * 30 + [1] * 12 + [2] * 6)
    groups = np.array((["a"] * 2 + ["b"]) * 16)
    X = rng.uniform(0, 1, size=(len(y), 5))
    return X, y, groups


def _check_synthetic_rows(X_res, y_res, mask, groups_res=None):
    X_syn, y_syn = X_res[mask], y_res[mask]
    assert len(X_syn) > 0
    np.testing.assert_array_equal(X_syn[:, 0], 1000 + y_syn)  # the generator's rows, its labels
    assert (X_res[~mask, 0] < 1).all()  # the real rows come first, unchanged
    if groups_res is not None:
        codes = [GROUPS.index(g) for g in groups_res[mask]]
        np.testing.assert_array_equal(X_syn[:, 1], codes)


@pytest.mark.parametrize("use_cache", [False, True])
def test_class_fill(data, tmp_path, use_cache):
    X, y, _ = data
    cache = str(tmp_path / "bank") if use_cache else None
    sampler = SynAugSampler(generator=ContractGenerator(), cache_dir=cache, report=False,
                            random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert X_res.shape == (90, 5) and y_res.shape == (90,)
    assert Counter(y_res.tolist()) == {0: 30, 1: 30, 2: 30}
    assert sampler.sampling_strategy_ == {1: 18, 2: 24}
    assert sampler.synthetic_mask_.sum() == 42 and sampler.groups_resampled_ is None
    np.testing.assert_array_equal(X_res[:48], X)
    _check_synthetic_rows(X_res, y_res, sampler.synthetic_mask_)
    if use_cache:
        again = SynAugSampler(generator=ContractGenerator(), cache_dir=cache, report=False,
                              random_state=0)
        X_again, _ = again.fit_resample(X, y)
        np.testing.assert_array_equal(X_again, X_res)
        assert again.bank_stats_["generated"] == 0 and again.bank_stats_["reused"] == 42


@pytest.mark.parametrize("use_cache", [False, True])
def test_class_and_group_fill_through_routing(data, tmp_path, use_cache):
    X, y, groups = data
    cache = str(tmp_path / "bank") if use_cache else None
    with sklearn.config_context(enable_metadata_routing=True):
        sampler = SynAugSampler(generator=ContractGenerator(), cache_dir=cache, report=False,
                                random_state=0).set_fit_resample_request(groups=True)
        pipe = Pipeline([("synaug", sampler), ("clf", LogisticRegression(max_iter=500))])
        pipe.fit(X, y, groups=groups)
    fitted = pipe.named_steps["synaug"]
    cells = Counter(zip(y.tolist(), groups.tolist()))
    largest = max(cells.values())
    n_out = len(cells) * largest
    mask, g_res = fitted.synthetic_mask_, fitted.groups_resampled_
    assert mask.shape == (n_out,) and g_res.shape == (n_out,)
    assert fitted.sampling_strategy_ == {c: largest - n for c, n in cells.items() if n < largest}

    # the same resampling, called directly, gives the rows the pipeline saw
    X_res, y_res = SynAugSampler(generator=ContractGenerator(), cache_dir=cache, report=False,
                                 random_state=0).fit_resample(X, y, groups=groups)
    assert X_res.shape == (n_out, 5) and y_res.shape == (n_out,)
    assert Counter(zip(y_res.tolist(), g_res.tolist())) == dict.fromkeys(cells, largest)
    _check_synthetic_rows(X_res, y_res, mask, g_res)
