"""SyntheticAwareClassifier: how a classifier after a sampler learns which rows are generated."""

import numpy as np
import pytest
from imblearn.over_sampling import RandomOverSampler
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from synaug_learn import (
    MixupNetClassifier,
    RetrainClassifier,
    SynAugSampler,
    SyntheticAwareClassifier,
)
from synaug_learn.generators import JitterGenerator


class Spy(ClassifierMixin, BaseEstimator):
    """Keeps what fit received."""

    def __init__(self, c=1.0):
        self.c = c

    def fit(self, X, y, sample_is_synthetic=None, groups=None):
        self.mask_, self.groups_seen_, self.n_ = sample_is_synthetic, groups, len(y)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 255, size=(60, 8, 8)).astype(np.uint8)
    y = np.repeat([0, 1, 2], [30, 20, 10])
    groups = np.tile(["a", "b"], 30)
    return X, y, groups


def _sampler(**params):
    return SynAugSampler(generator=JitterGenerator(), report=False, random_state=0, **params)


def test_mask_and_groups_reach_the_classifier(data):
    X, y, groups = data
    model = SyntheticAwareClassifier(_sampler(), Spy()).fit(X, y, groups=groups)
    sampler, spy = model.sampler, model.classifier
    np.testing.assert_array_equal(spy.mask_, sampler.synthetic_mask_)
    assert spy.mask_[:60].sum() == 0 and spy.mask_[60:].all() and spy.n_ == len(spy.mask_)
    np.testing.assert_array_equal(spy.groups_seen_, sampler.groups_resampled_)
    assert model.n_synthetic_ == int(sampler.synthetic_mask_.sum()) > 0
    assert model.predict(X[:3]).tolist() == [0, 0, 0]


def test_imblearn_sampler_without_mask_gets_the_appended_rows(data):
    X, y, _ = data
    model = SyntheticAwareClassifier(RandomOverSampler(random_state=0), Spy())
    model.fit(X.reshape(60, -1), y)
    assert model.classifier.mask_.sum() == 90 - 60 and not model.classifier.mask_[:60].any()


def test_errors(data):
    X, y, groups = data
    with pytest.raises(TypeError, match="does not take fit\\(..., sample_is_synthetic"):
        SyntheticAwareClassifier(_sampler(), LogisticRegression()).fit(X.reshape(60, -1), y)
    with pytest.raises(TypeError, match="does not take fit_resample\\(..., groups"):
        SyntheticAwareClassifier(RandomOverSampler(), Spy()).fit(X.reshape(60, -1), y,
                                                                 groups=groups)
    with pytest.raises(ValueError, match="sampler"):
        SyntheticAwareClassifier("not a sampler", Spy()).fit(X, y)


def test_clone_and_search_over_both_steps(data):
    X, y, _ = data
    model = SyntheticAwareClassifier(_sampler(), Spy())
    copy = clone(model)
    assert copy.get_params()["sampler__fill_ratio"] == 1.0
    search = GridSearchCV(model, {"sampler__fill_ratio": [0.5, 1.0], "classifier__c": [1, 2]},
                          cv=2).fit(X, y)
    assert set(search.best_params_) == {"sampler__fill_ratio", "classifier__c"}
    assert not hasattr(model.classifier, "mask_")  # the search fitted clones


def test_retrain_classifier_wraps_it_with_the_net(data):
    X, y, groups = data
    model = SyntheticAwareClassifier(
        _sampler(), MixupNetClassifier(max_epochs=1, two_stage_epochs=1,
                                       mixup_pairing="real_synthetic", random_state=0))
    retrained = RetrainClassifier(model, balance="group", rows="resampled", random_state=0)
    retrained.fit(X, y, groups=groups)
    # rows="resampled" draws from the rows of the first stage (real + generated)
    n_res = len(retrained.estimator_.sampler.synthetic_mask_)
    assert retrained.retrain_indices_.max() >= 60 and retrained.retrain_indices_.max() < n_res
    assert retrained.predict(X[:5]).shape == (5,)


class AdaptSpy(Spy):
    """Spy that also records the rows adapt_batchnorm is given, and when."""

    def adapt_batchnorm(self, X):
        self.adapted_, self.adapted_after_fit_ = np.asarray(X), hasattr(self, "mask_")
        return self


def test_adapt_batchnorm_uses_the_real_rows_as_they_came_in(data):
    X, y, groups = data
    model = SyntheticAwareClassifier(_sampler(), AdaptSpy(), adapt_batchnorm=True)
    model.fit(X, y, groups=groups)
    assert model.classifier.adapted_after_fit_ and model.classifier.n_ > len(X)
    np.testing.assert_array_equal(model.classifier.adapted_, X)  # no generated row among them
    model = SyntheticAwareClassifier(_sampler(), AdaptSpy()).fit(X, y)
    assert not hasattr(model.classifier, "adapted_")  # off by default
    # a classifier without the method: an error before the sampler runs
    model = SyntheticAwareClassifier(_sampler(), Spy(), adapt_batchnorm=True)
    with pytest.raises(TypeError, match="adapt_batchnorm=True .* classifier=Spy does not have"):
        model.fit(X, y)
    assert not hasattr(model.sampler, "synthetic_mask_")
