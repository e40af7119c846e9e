"""SynAugSampler on tables: the default generator, estimator checks, SMOTE's pipeline."""

import warnings

import numpy as np
import pandas as pd
import pytest
from imblearn.pipeline import Pipeline
from imblearn.utils.estimator_checks import parametrize_with_checks as imblearn_checks
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks as sklearn_checks

from synaug_learn import SynAugSampler
from synaug_learn.generators import (
    ConditionalDiffusionGenerator,
    JitterGenerator,
    TabularDiffusionGenerator,
)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """One torch thread: the models are tiny, and threads spin on a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# The default generator's class with a tiny training budget keeps the checks fast; the
# checks with the default itself (SynAugSampler()) run in the slow suite.
def _tabular_sampler():
    small = TabularDiffusionGenerator(hidden_dims=(16,), max_steps=5, num_inference_steps=2)
    return SynAugSampler(generator=small, report=False, random_state=0)


@imblearn_checks([_tabular_sampler()])
def test_imblearn_checks_with_the_tabular_generator(estimator, check):
    check(estimator)


@sklearn_checks([_tabular_sampler()])
def test_sklearn_checks_with_the_tabular_generator(estimator, check):
    check(estimator)


@pytest.mark.slow
@imblearn_checks([SynAugSampler(random_state=0)])
def test_imblearn_checks_with_the_default_generator(estimator, check):
    check(estimator)


@pytest.mark.slow
@sklearn_checks([SynAugSampler(random_state=0)])
def test_sklearn_checks_with_the_default_generator(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "X, expected",
    [
        (np.zeros((10, 30)), TabularDiffusionGenerator),
        (np.zeros((10, 49)), TabularDiffusionGenerator),  # square but below 8x8: a table
        (np.zeros((10, 64)), ConditionalDiffusionGenerator),  # 8x8 square rows: images
        (pd.DataFrame(np.zeros((10, 64))), TabularDiffusionGenerator),  # a DataFrame: a table
        (pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4]}), TabularDiffusionGenerator),
        (np.zeros((10, 8, 8)), ConditionalDiffusionGenerator),
        (np.zeros((10, 8, 8, 3), np.uint8), ConditionalDiffusionGenerator),
    ],
)
def test_default_generator_follows_the_input_and_an_explicit_one_wins(X, expected):
    y = np.arange(len(X)) % 2
    rows = np.asarray(X, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the in-domain model's time warning
        gen, _ = SynAugSampler()._check_generator_param(rows, y, 1, table=hasattr(X, "columns"))
    assert type(gen) is expected
    explicit, _ = SynAugSampler(generator=JitterGenerator())._check_generator_param(rows, y, 1)
    assert type(explicit) is JitterGenerator


def test_a_dataframe_is_a_table_whatever_its_width():
    X = pd.DataFrame(np.random.RandomState(0).normal(size=(40, 64)))
    y = np.r_[np.zeros(30, int), np.ones(10, int)]
    sampler = SynAugSampler(report=False, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert isinstance(sampler.generator_, TabularDiffusionGenerator)
    assert isinstance(X_res, pd.DataFrame) and X_res.shape == (60, 64)
    assert np.bincount(y_res).tolist() == [30, 30]


def test_dataframe_in_dataframe_out_with_dtypes():
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"x": rng.normal(size=60), "n": rng.randint(0, 9, 60),
                      "flag": rng.rand(60) < 0.5})
    y = np.r_[np.zeros(45, int), np.ones(15, int)]
    gen = TabularDiffusionGenerator(max_steps=100, random_state=0)  # the default's class
    sampler = SynAugSampler(generator=gen, report=False, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert isinstance(sampler.generator_, TabularDiffusionGenerator)
    assert isinstance(X_res, pd.DataFrame) and X_res.dtypes.to_dict() == X.dtypes.to_dict()
    assert np.bincount(y_res).tolist() == [45, 45]
    new = X_res[sampler.synthetic_mask_]
    assert new["n"].between(0, 8).all() and set(new["flag"]) <= {True, False}


def _breast_cancer(n_malignant=15, seed=0):
    """scikit-learn's breast-cancer table with the malignant class (0) thinned in training."""
    X, y = load_breast_cancer(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.4, stratify=y, random_state=seed)
    rng = np.random.RandomState(seed)
    keep = np.r_[rng.choice(np.flatnonzero(y_tr == 0), n_malignant, replace=False),
                 np.flatnonzero(y_tr == 1)]
    return X_tr[keep], y_tr[keep], X_te, y_te


@pytest.mark.slow
def test_breast_cancer_pipeline_runs_unchanged_and_matches_smote():
    from imblearn.over_sampling import SMOTE

    scores = {"smote": [], "synaug": []}
    for seed in range(3):  # one split is noisy: SMOTE's score ranges 0.83-0.95 over these
        X_tr, y_tr, X_te, y_te = _breast_cancer(seed=seed)
        for name, sampler in [("smote", SMOTE(random_state=seed)),
                              ("synaug", SynAugSampler(random_state=seed))]:
            pipe = Pipeline([("scale", StandardScaler()), ("synaug", sampler),
                             ("clf", LogisticRegression())])
            pred = pipe.fit(X_tr, y_tr).predict(X_te)
            scores[name].append(balanced_accuracy_score(y_te, pred))
    assert np.mean(scores["synaug"]) >= np.mean(scores["smote"]) - 0.02, scores
    assert min(scores["synaug"]) > 0.85, scores
