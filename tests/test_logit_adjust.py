"""LogitAdjustedClassifier: post-hoc logit adjustment (Menon et al., 2021)."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, train_test_split

from synaug_learn import LogitAdjustedClassifier


class FixedProba(ClassifierMixin, BaseEstimator):
    """Always the same probabilities (0.6, 0.3, 0.1), whatever X."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.tile([0.6, 0.3, 0.1], (len(X), 1))

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def toy():
    X = np.zeros((10, 2))
    y = np.array(["a"] * 6 + ["b"] * 3 + ["c"])  # prior 0.6, 0.3, 0.1
    return X, y


def test_values_on_a_toy_example():
    X, y = toy()
    model = LogitAdjustedClassifier(FixedProba(), tau=1.0).fit(X, y)
    np.testing.assert_allclose(np.exp(model.log_prior_), [0.6, 0.3, 0.1])
    # log p - log prior = log(1) for every class: a tie, broken towards the first class
    np.testing.assert_allclose(model.decision_function(X[:1]), [[0.0, 0.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(model.predict_proba(X[:1]), [[1 / 3] * 3])
    half = LogitAdjustedClassifier(FixedProba(), tau=0.5).fit(X, y)
    expected = np.log([0.6, 0.3, 0.1]) - 0.5 * np.log([0.6, 0.3, 0.1])
    np.testing.assert_allclose(half.decision_function(X[:1])[0], expected)
    strong = LogitAdjustedClassifier(FixedProba(), tau=2.0).fit(X, y)
    assert strong.predict(X[:1]).tolist() == ["c"]  # log(0.1) - 2 log(0.1) is the largest


def test_tau_zero_is_the_identity():
    X, y = load_digits(return_X_y=True)
    keep = np.r_[np.flatnonzero(y == 0)[:100], np.flatnonzero(y == 1)[:10],
                 np.flatnonzero(y == 2)[:40]]
    base = LogisticRegression(max_iter=2000).fit(X[keep], y[keep])
    model = LogitAdjustedClassifier(LogisticRegression(max_iter=2000), tau=0).fit(X[keep], y[keep])
    np.testing.assert_allclose(model.predict_proba(X), base.predict_proba(X), rtol=1e-10)
    assert np.array_equal(model.predict(X), base.predict(X))


def test_balances_a_long_tailed_problem_and_is_grid_searchable():
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)
    rng = np.random.RandomState(0)
    keep = np.concatenate([rng.choice(np.flatnonzero(y_tr == c), max(2, 80 // 2 ** c),
                                      replace=False) for c in range(10)])
    clf = LogisticRegression(C=0.001, max_iter=2000)  # strong regularisation: prior-biased
    plain = balanced_accuracy_score(y_te, clone(clf).fit(X_tr[keep], y_tr[keep]).predict(X_te))
    model = LogitAdjustedClassifier(clf, tau=1.0).fit(X_tr[keep], y_tr[keep])
    adjusted = balanced_accuracy_score(y_te, model.predict(X_te))
    assert adjusted > plain + 0.05, (plain, adjusted)
    search = GridSearchCV(LogitAdjustedClassifier(clf), {"tau": [0.0, 1.0]}, cv=2,
                          scoring="balanced_accuracy").fit(X_tr[keep], y_tr[keep])
    assert search.best_params_ == {"tau": 1.0}


def test_given_prior_and_bad_input():
    X, y = toy()
    model = LogitAdjustedClassifier(FixedProba(), prior=[1, 1, 1]).fit(X, y)
    np.testing.assert_allclose(model.predict_proba(X[:1]), [[0.6, 0.3, 0.1]])  # uniform: no-op
    with pytest.raises(ValueError, match="prior must hold 3 positive numbers"):
        LogitAdjustedClassifier(FixedProba(), prior=[1, 1]).fit(X, y)
    with pytest.raises(ValueError, match="tau"):
        LogitAdjustedClassifier(FixedProba(), tau=-1).fit(X, y)
    with pytest.raises(ValueError, match="estimator"):
        LogitAdjustedClassifier(object()).fit(X, y)
