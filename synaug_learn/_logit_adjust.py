"""Post-hoc logit adjustment (Menon et al., ICLR 2021): a generator-free long-tail remedy."""

from __future__ import annotations

import numbers

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from .utils import check_column

__all__ = ["LogitAdjustedClassifier"]


class LogitAdjustedClassifier(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Subtract ``tau * log(prior)`` from a fitted classifier's log-probabilities.

    Post-hoc logit adjustment (Menon et al., "Long-tail learning via logit
    adjustment", ICLR 2021): a classifier trained with the plain
    cross-entropy on long-tailed data estimates ``p(y | x)`` under the
    training prior ``pi``; predicting ``argmax_y log p(y | x) - tau * log
    pi_y`` instead targets the balanced error (exactly so for ``tau=1`` and a
    calibrated model). Nothing is generated and the estimator is trained as
    it is: it is the generator-free peer to compare a fill with.

    Parameters
    ----------
    estimator : estimator
        A classifier with ``predict_proba`` (a net, a pipeline, a
        ``LogisticRegression``...). It is cloned and fitted in ``fit``.
    tau : float, default=1.0
        Strength of the adjustment; ``0`` leaves the estimator's predictions
        unchanged. Choose it on a validation split (grid-searchable).
    prior : array-like of shape (n_classes,) or None, default=None
        The class prior the estimator was trained under, in ``classes_``
        order. ``None``: the class frequencies of the ``y`` passed to
        ``fit``. Pass it when a resampling step inside ``estimator`` changes
        the class frequencies the model sees.

    Attributes
    ----------
    estimator_ : estimator
        The fitted clone of ``estimator``.
    classes_ : ndarray of shape (n_classes,)
    log_prior_ : ndarray of shape (n_classes,)
        ``log(prior)``, normalised to sum to one.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from synaug_learn import LogitAdjustedClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(0, 1, (95, 1)), rng.normal(1.5, 1, (5, 1))]
    >>> y = np.r_[np.zeros(95, int), np.ones(5, int)]
    >>> plain = LogisticRegression().fit(X, y)
    >>> adjusted = LogitAdjustedClassifier(LogisticRegression(), tau=1.0).fit(X, y)
    >>> np.round(np.exp(adjusted.log_prior_), 2).tolist()
    [0.95, 0.05]
    >>> int(plain.predict([[1.5]])[0]), int(adjusted.predict([[1.5]])[0])
    (0, 1)
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "tau": [Interval(numbers.Real, 0, None, closed="left")],
        "prior": [None, "array-like"],
    }

    def __init__(self, estimator, *, tau=1.0, prior=None):
        self.estimator = estimator
        self.tau = tau
        self.prior = prior

    def fit(self, X, y, **fit_params):
        """Fit the estimator on ``(X, y)`` and record the class prior.

        Parameters
        ----------
        X : array-like
            What ``estimator`` takes.
        y : array-like of shape (n,)
        **fit_params
            Passed to ``estimator.fit``.

        Returns
        -------
        self
        """
        self._validate_params()
        y = check_column(y, len(X), "y")
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        self.classes_ = np.asarray(self.estimator_.classes_)
        if self.prior is None:
            counts = np.array([np.sum(y == c) for c in self.classes_], dtype=float)
        else:
            counts = np.asarray(self.prior, dtype=float)
            if counts.shape != self.classes_.shape or not np.all(counts > 0):
                raise ValueError(
                    f"prior must hold {len(self.classes_)} positive numbers, one per class "
                    f"of classes_ {self.classes_.tolist()!r}; got {self.prior!r}."
                )
        with np.errstate(divide="ignore"):
            self.log_prior_ = np.log(counts / counts.sum())
        return self

    def decision_function(self, X):
        """Adjusted scores ``log p(y | x) - tau * log(prior_y)``, columns in ``classes_`` order."""
        check_is_fitted(self)
        proba = np.asarray(self.estimator_.predict_proba(X), dtype=float)
        with np.errstate(divide="ignore"):
            return np.log(proba) - self.tau * self.log_prior_

    def predict_proba(self, X):
        """The adjusted scores normalised to probabilities (softmax)."""
        scores = self.decision_function(X)
        return np.exp(scores - logsumexp(scores, axis=1, keepdims=True))

    def predict(self, X):
        """The class with the highest adjusted score."""
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]
