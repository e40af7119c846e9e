"""SyntheticAwareClassifier: a sampler then a classifier that is told which rows were generated.

imbalanced-learn's ``Pipeline`` passes only ``(X, y)`` from a sampler to the
next step, so a classifier after a sampler cannot know which of its rows are
generated. Every feature that needs to know -- Mixup between a real and a
generated row, two-stage training (generated first, then real), an equal
synthetic share checked downstream -- uses this one mechanism: fit the
sampler, then fit the classifier with the sampler's ``synthetic_mask_``
passed as the fit parameter ``sample_is_synthetic`` (and, when the sampler
exposes them, the groups of the resampled rows as ``groups``).

Metadata routing cannot do this: it routes what the caller passes to ``fit``,
and the mask only exists once the sampler has run.
"""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

__all__ = ["SyntheticAwareClassifier"]


def _accepts(method, name, strict=False):
    """Whether ``method`` takes ``name`` (by name; or through ``**kwargs`` unless ``strict``)."""
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return name in params or (not strict and any(p.kind is p.VAR_KEYWORD
                                                 for p in params.values()))


def _classifier_has(attr):
    def check(self):
        return hasattr(self.classifier, attr)

    return check


class SyntheticAwareClassifier(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Resample with ``sampler``, then fit ``classifier`` knowing which rows were generated.

    ``fit(X, y, groups=None)`` calls ``sampler.fit_resample(X, y)`` (with
    ``groups`` when given), then ``classifier.fit(X_res, y_res,
    sample_is_synthetic=sampler.synthetic_mask_)`` -- plus
    ``groups=sampler.groups_resampled_`` when the sampler has them and the
    classifier's ``fit`` takes ``groups``. Samplers without a
    ``synthetic_mask_`` (imbalanced-learn's, which append their new rows
    after the original ones) get the mask "row index >= len(X)".
    ``predict`` is the classifier's: samplers only act during ``fit``.

    Like a ``Pipeline`` (and so that :class:`~synaug_learn.RetrainClassifier`
    can wrap it as one) it fits its two steps in place and exposes them as
    ``steps``; ``clone`` it for an unfitted copy, as searches do. Its
    parameters are grid-searchable as ``sampler__*`` and ``classifier__*``.

    Parameters
    ----------
    sampler : sampler object
        Has ``fit_resample(X, y)``, e.g. :class:`~synaug_learn.SynAugSampler`.
    classifier : classifier object
        Its ``fit`` takes ``sample_is_synthetic``, e.g.
        :class:`~synaug_learn.MixupNetClassifier` (``mixup_pairing=
        "real_synthetic"``, ``two_stage_epochs``).
    adapt_batchnorm : bool, default=False
        After fitting, call ``classifier.adapt_batchnorm(X)`` on the real rows
        passed to ``fit`` (as they came in, before any redraw by the
        sampler): the net's BatchNorm statistics become those of real images
        (AdaBN), for a net trained mostly or only on generated rows (e.g.
        ``SynAugSampler(regenerate_real=1.0)``). Needs a classifier with that
        method, e.g. :class:`~synaug_learn.MixupNetClassifier`.

    Attributes
    ----------
    classes_ : ndarray
        The classifier's classes.
    synthetic_mask_ : ndarray of bool
        Which rows the classifier was fitted on were generated.
    n_synthetic_ : int
        How many.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn import SyntheticAwareClassifier, SynAugSampler
    >>> from synaug_learn.generators import JitterGenerator
    >>> from sklearn.base import BaseEstimator, ClassifierMixin
    >>> class Majority(ClassifierMixin, BaseEstimator):
    ...     def fit(self, X, y, sample_is_synthetic=None):
    ...         self.n_real_ = int((~sample_is_synthetic).sum())
    ...         self.classes_ = np.unique(y)
    ...         return self
    ...     def predict(self, X):
    ...         return np.full(len(X), self.classes_[0])
    >>> X = np.random.RandomState(0).rand(30, 4)
    >>> y = np.array([0] * 24 + [1] * 6)
    >>> model = SyntheticAwareClassifier(
    ...     SynAugSampler(generator=JitterGenerator(), report=False, random_state=0),
    ...     Majority()).fit(X, y)
    >>> model.n_synthetic_, model.classifier.n_real_
    (18, 30)
    """

    _parameter_constraints: dict = {
        "sampler": [HasMethods(["fit_resample"])],
        "classifier": [HasMethods(["fit", "predict"])],
        "adapt_batchnorm": ["boolean"],
    }
    # groups are used here (given to the sampler): requested by default under routing
    __metadata_request__fit = {"groups": True}

    def __init__(self, sampler, classifier, *, adapt_batchnorm=False):
        self.sampler = sampler
        self.classifier = classifier
        self.adapt_batchnorm = adapt_batchnorm

    @property
    def steps(self):
        """``[("sampler", sampler), ("classifier", classifier)]``, as a ``Pipeline``'s."""
        return [("sampler", self.sampler), ("classifier", self.classifier)]

    def fit(self, X, y, groups=None, **fit_params):
        """Resample ``(X, y)``, then fit the classifier with the synthetic mask.

        Parameters
        ----------
        X : array-like
            What the sampler takes.
        y : array-like of shape (n,)
        groups : array-like of shape (n,) or None
            Passed to ``sampler.fit_resample`` (a sampler that takes no groups
            gets an error).
        **fit_params
            Passed to ``classifier.fit``.

        Returns
        -------
        self
        """
        self._validate_params()
        if not _accepts(self.classifier.fit, "sample_is_synthetic"):
            raise TypeError(
                f"classifier={type(self.classifier).__name__} does not take "
                "fit(..., sample_is_synthetic=...); use a classifier that does (e.g. "
                "MixupNetClassifier), or an imbalanced-learn Pipeline."
            )
        if self.adapt_batchnorm and not hasattr(self.classifier, "adapt_batchnorm"):
            raise TypeError(
                f"adapt_batchnorm=True calls classifier.adapt_batchnorm(X), which "
                f"classifier={type(self.classifier).__name__} does not have; use a "
                "MixupNetClassifier or adapt_batchnorm=False."
            )
        if groups is not None and not _accepts(self.sampler.fit_resample, "groups", strict=True):
            raise TypeError(
                f"groups were given but sampler={type(self.sampler).__name__} does not take "
                "fit_resample(..., groups=...)."
            )
        resample_params = {} if groups is None else {"groups": groups}
        X_res, y_res = self.sampler.fit_resample(X, y, **resample_params)
        mask = getattr(self.sampler, "synthetic_mask_", None)
        if mask is None:  # imbalanced-learn samplers append new rows after the original ones
            mask = np.arange(len(y_res)) >= len(y)
        mask = np.asarray(mask, dtype=bool)
        g_res = getattr(self.sampler, "groups_resampled_", None)
        if g_res is not None and _accepts(self.classifier.fit, "groups"):
            fit_params.setdefault("groups", g_res)
        self.classifier.fit(X_res, y_res, sample_is_synthetic=mask, **fit_params)
        if self.adapt_batchnorm:
            self.classifier.adapt_batchnorm(X)
        self.synthetic_mask_ = mask
        self.n_synthetic_ = int(mask.sum())
        self.classes_ = getattr(self.classifier, "classes_", np.unique(y_res))
        return self

    def predict(self, X):
        """The classifier's prediction for ``X``."""
        check_is_fitted(self, "synthetic_mask_")
        return self.classifier.predict(X)

    @available_if(_classifier_has("predict_proba"))
    def predict_proba(self, X):
        """The classifier's class probabilities for ``X``."""
        check_is_fitted(self, "synthetic_mask_")
        return self.classifier.predict_proba(X)
