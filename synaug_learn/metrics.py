"""Metrics for imbalanced and group-shifted classification.

* Long-tailed recognition: :func:`per_class_accuracy` and :func:`shot_accuracy`
  (many / medium / few-shot accuracy, the convention of Liu et al., 2019).
* Spurious correlations and subgroups: :func:`group_accuracy`,
  :func:`worst_group_accuracy`, :func:`mean_group_accuracy`.
* Fairness: :func:`equalized_odds_difference` and
  :func:`demographic_parity_difference`, fairlearn's metrics extended to
  multi-class labels one-vs-rest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from numbers import Real

import numpy as np
from imblearn.utils import Substitution
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ._report import SyntheticReport, synthetic_report

__all__ = [
    "SyntheticReport",
    "demographic_parity_difference",
    "equalized_odds_difference",
    "group_accuracy",
    "mean_group_accuracy",
    "per_class_accuracy",
    "shot_accuracy",
    "synthetic_report",
    "worst_group_accuracy",
]


def _key(value):
    """A plain Python dict key: numpy scalars become Python scalars, rows become tuples."""
    if isinstance(value, np.ndarray):
        return tuple(_key(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _check_targets(y_true, y_pred):
    y_true = column_or_1d(y_true)
    y_pred = column_or_1d(y_pred)
    check_consistent_length(y_true, y_pred)
    if len(y_true) == 0:
        raise ValueError("y_true and y_pred are empty.")
    return y_true, y_pred


def _recalls(y_true, y_pred, labels):
    out = {}
    for label in labels:
        mask = y_true == label
        out[_key(label)] = float(np.mean(y_pred[mask] == label)) if mask.any() else np.nan
    return out


@validate_params(
    {"y_true": ["array-like"], "y_pred": ["array-like"], "labels": ["array-like", None]},
    prefer_skip_nested_validation=True,
)
def per_class_accuracy(y_true, y_pred, labels=None):
    """Accuracy on the rows of each true class (the per-class recall).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    labels : array-like, default=None
        Classes to report, in this order. ``None``: the sorted classes of
        ``y_true``. A listed class absent from ``y_true`` gets ``nan``.

    Returns
    -------
    accuracy : dict
        ``{label: fraction of the rows of that true class predicted as it}``.

    Examples
    --------
    >>> from synaug_learn.metrics import per_class_accuracy
    >>> per_class_accuracy([0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 0, 2])
    {0: 0.5, 1: 0.6666666666666666, 2: 1.0}
    """
    y_true, y_pred = _check_targets(y_true, y_pred)
    labels = np.unique(y_true) if labels is None else column_or_1d(labels)
    return _recalls(y_true, y_pred, labels)


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "train_counts": [Mapping, "array-like"],
        "many": [Interval(Real, 0, None, closed="left")],
        "few": [Interval(Real, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def shot_accuracy(y_true, y_pred, train_counts, many=100, few=20):
    """Mean per-class accuracy over many-, medium- and few-shot classes.

    Each class of ``y_true`` is put in a bucket by its number of *training*
    images ``n``: many-shot if ``n > many``, few-shot if ``n < few``, medium
    otherwise (``few <= n <= many``). The defaults are the ImageNet-LT /
    CIFAR-LT convention (Liu et al., 2019).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels of the evaluation rows.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    train_counts : mapping or array-like of shape (n_train,)
        Training-set size of each class, as ``{label: count}``, or the
        training labels themselves (counted). A class missing from it has
        0 training images (few-shot).
    many : float, default=100
        Classes with more training images are many-shot.
    few : float, default=20
        Classes with fewer training images are few-shot. Must be < ``many``.

    Returns
    -------
    scores : dict
        ``"many"``, ``"medium"``, ``"few"``: the unweighted mean of the
        per-class accuracies (:func:`per_class_accuracy`) of the bucket's
        classes, ``nan`` for an empty bucket; ``"overall"``: the mean over
        all classes, i.e. the balanced accuracy.

    Examples
    --------
    >>> from synaug_learn.metrics import shot_accuracy
    >>> y_true = [0, 0, 1, 1, 2, 2]
    >>> y_pred = [0, 0, 1, 0, 0, 0]
    >>> shot_accuracy(y_true, y_pred, {0: 500, 1: 50, 2: 5})
    {'many': 1.0, 'medium': 0.5, 'few': 0.0, 'overall': 0.5}
    """
    if not many > few:
        raise ValueError(f"many must be greater than few; got many={many}, few={few}.")
    y_true, y_pred = _check_targets(y_true, y_pred)
    if isinstance(train_counts, Mapping):
        counts = {_key(k): v for k, v in train_counts.items()}
    else:
        counts = Counter(_key(v) for v in column_or_1d(train_counts))
    recalls = _recalls(y_true, y_pred, np.unique(y_true))
    buckets = {"many": [], "medium": [], "few": []}
    for label, recall in recalls.items():
        n = counts.get(label, 0)
        bucket = "many" if n > many else "few" if n < few else "medium"
        buckets[bucket].append(recall)
    scores = {name: float(np.mean(v)) if v else np.nan for name, v in buckets.items()}
    scores["overall"] = float(np.mean(list(recalls.values())))
    return scores


_TARGETS_DOC = """y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
"""

_GROUP_PARAMETERS_DOC = _TARGETS_DOC + """\
    groups : array-like of shape (n_samples,) or (n_samples, k)
        Group of each row. With 2-D input, each row is one group, keyed by a
        tuple; e.g. ``np.column_stack([y, colour])`` gives the (class,
        background) groups of a Waterbirds-like task.
"""

_FAIRNESS_DOC = """
    Binary labels in {{0, 1}} or {{-1, 1}} give exactly fairlearn's value
    (positive class 1). Any other labels (more than two classes, or two
    classes such as strings) are scored one-vs-rest: the result is
    ``max over classes c of fairlearn.metrics.{name}(y_true == c,
    y_pred == c)``, the classes being those of ``y_true`` and ``y_pred``. For
    two classes both one-vs-rest problems have the same value, so this
    extends the binary definition.
"""


def _check_groups(groups, n):
    groups = np.asarray(groups)
    if groups.ndim not in (1, 2) or len(groups) != n:
        raise ValueError(
            f"groups must have one entry (or one row) per sample, {n} in all; got shape "
            f"{groups.shape}."
        )
    return groups


def _metric(constraints, **docs):
    """Decorator: validate ``y_true``, ``y_pred`` and ``constraints``; fill in ``docs``."""

    def decorate(func):
        func = Substitution(**docs)(func)
        return validate_params(
            {"y_true": ["array-like"], "y_pred": ["array-like"], **constraints},
            prefer_skip_nested_validation=True,
        )(func)

    return decorate


_group_metric = _metric({"groups": ["array-like"]}, group_parameters=_GROUP_PARAMETERS_DOC)


def _fairness_metric(name, **constraints):
    """:func:`_metric` for a fairlearn metric ``name``: its parameters and docstring blocks."""
    return _metric(
        {"sensitive_features": ["array-like"],
         "method": [StrOptions({"between_groups", "to_overall"})],
         **constraints,
         "sample_weight": ["array-like", None]},
        ovr=_FAIRNESS_DOC.format(name=name), targets=_TARGETS_DOC,
    )


@_group_metric
def group_accuracy(y_true, y_pred, groups):
    """Accuracy within each group.

    Parameters
    ----------
    {group_parameters}
    Returns
    -------
    accuracy : dict
        ``{{group: accuracy on the rows of that group}}``, groups sorted.

    Examples
    --------
    >>> from synaug_learn.metrics import group_accuracy
    >>> group_accuracy([1, 1, 0, 0], [1, 0, 0, 0], groups=["a", "b", "b", "b"])
    {{'a': 1.0, 'b': 0.6666666666666666}}
    """
    y_true, y_pred = _check_targets(y_true, y_pred)
    groups = _check_groups(groups, len(y_true))
    correct = y_true == y_pred
    if groups.ndim == 1:
        uniques, inverse = np.unique(groups, return_inverse=True)
    else:
        uniques, inverse = np.unique(groups, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    return {_key(g): float(correct[inverse == k].mean()) for k, g in enumerate(uniques)}


@_group_metric
def worst_group_accuracy(y_true, y_pred, groups):
    """Lowest accuracy over the groups (see :func:`group_accuracy`).

    Parameters
    ----------
    {group_parameters}
    Returns
    -------
    accuracy : float

    Examples
    --------
    >>> from synaug_learn.metrics import worst_group_accuracy
    >>> worst_group_accuracy([1, 1, 0, 0], [1, 0, 0, 0], groups=["a", "b", "b", "b"])
    0.6666666666666666
    """
    return min(group_accuracy(y_true, y_pred, groups).values())


@_group_metric
def mean_group_accuracy(y_true, y_pred, groups):
    """Unweighted mean of the group accuracies (see :func:`group_accuracy`).

    Every group counts the same, however many rows it has.

    Parameters
    ----------
    {group_parameters}
    Returns
    -------
    accuracy : float

    Examples
    --------
    >>> from synaug_learn.metrics import mean_group_accuracy
    >>> mean_group_accuracy([1, 1, 0, 0], [1, 0, 0, 0], groups=["a", "b", "b", "b"])
    0.8333333333333333
    """
    return float(np.mean(list(group_accuracy(y_true, y_pred, groups).values())))


def _one_vs_rest(metric, y_true, y_pred, sensitive_features, **kwargs):
    """fairlearn's binary ``metric``; for other labels the max over classes one-vs-rest."""
    y_true, y_pred = _check_targets(y_true, y_pred)
    sensitive_features = np.asarray(sensitive_features)
    if len(sensitive_features) != len(y_true):
        raise ValueError(
            f"sensitive_features must have one entry per sample, {len(y_true)} in all; got "
            f"{len(sensitive_features)}."
        )
    labels = np.union1d(y_true, y_pred)
    if set(labels.tolist()) <= {0, 1} or set(labels.tolist()) <= {-1, 1}:
        return float(metric(y_true, y_pred, sensitive_features=sensitive_features, **kwargs))
    return max(
        float(
            metric(
                (y_true == c).astype(int),
                (y_pred == c).astype(int),
                sensitive_features=sensitive_features,
                **kwargs,
            )
        )
        for c in labels
    )


@_fairness_metric("equalized_odds_difference", agg=[StrOptions({"worst_case", "mean"})])
def equalized_odds_difference(
    y_true,
    y_pred,
    sensitive_features,
    *,
    method="between_groups",
    agg="worst_case",
    sample_weight=None,
):
    """Largest gap in true- or false-positive rate between sensitive groups.

    Wraps :func:`fairlearn.metrics.equalized_odds_difference`: for a binary
    problem, the larger of the differences in true-positive rate and in
    false-positive rate between groups (0 = equalized odds).
    {ovr}
    Parameters
    ----------
    {targets}    sensitive_features : array-like of shape (n_samples,)
        The sensitive feature (e.g. gender, race, background colour).
    method : {{"between_groups", "to_overall"}}, default="between_groups"
        Passed to fairlearn.
    agg : {{"worst_case", "mean"}}, default="worst_case"
        Passed to fairlearn: the max or the mean of the two rate gaps.
    sample_weight : array-like of shape (n_samples,), default=None
        Passed to fairlearn.

    Returns
    -------
    difference : float

    Examples
    --------
    >>> from synaug_learn.metrics import equalized_odds_difference
    >>> y_true = [1, 1, 0, 0, 1, 1, 0, 0]
    >>> y_pred = [1, 1, 0, 0, 1, 0, 1, 0]
    >>> equalized_odds_difference(y_true, y_pred, ["a"] * 4 + ["b"] * 4)
    0.5
    """
    return _one_vs_rest(
        _fairlearn("equalized_odds_difference"),
        y_true,
        y_pred,
        sensitive_features,
        method=method,
        agg=agg,
        sample_weight=sample_weight,
    )


@_fairness_metric("demographic_parity_difference")
def demographic_parity_difference(
    y_true, y_pred, sensitive_features, *, method="between_groups", sample_weight=None
):
    """Largest gap in selection rate between sensitive groups.

    Wraps :func:`fairlearn.metrics.demographic_parity_difference`: for a
    binary problem, the difference between the groups' rates of predicting
    the positive class (0 = demographic parity; ``y_true`` only fixes the
    length).
    {ovr}
    Parameters
    ----------
    {targets}    sensitive_features : array-like of shape (n_samples,)
        The sensitive feature.
    method : {{"between_groups", "to_overall"}}, default="between_groups"
        Passed to fairlearn.
    sample_weight : array-like of shape (n_samples,), default=None
        Passed to fairlearn.

    Returns
    -------
    difference : float

    Examples
    --------
    >>> from synaug_learn.metrics import demographic_parity_difference
    >>> y_pred = ["cat", "dog", "dog", "dog", "cat", "cat"]
    >>> groups = ["a", "a", "a", "b", "b", "b"]
    >>> round(demographic_parity_difference(y_pred, y_pred, groups), 4)  # 1/3 vs 2/3 'cat'
    0.3333
    """
    return _one_vs_rest(
        _fairlearn("demographic_parity_difference"),
        y_true,
        y_pred,
        sensitive_features,
        method=method,
        sample_weight=sample_weight,
    )


def _fairlearn(name):
    """Import a fairlearn metric lazily (fairlearn pulls in pandas)."""
    import fairlearn.metrics

    return getattr(fairlearn.metrics, name)

