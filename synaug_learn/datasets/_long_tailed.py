"""Make a dataset long-tailed (CIFAR-LT convention) and split off a disjoint pool."""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ..utils import check_xy

__all__ = ["long_tailed_counts", "make_long_tailed", "train_pool_split"]


@validate_params(
    {
        "n_classes": [Interval(Integral, 2, None, closed="left")],
        "imbalance_factor": [Interval(Real, 1, None, closed="left")],
        "n_max": [Interval(Integral, 1, None, closed="left")],
        "profile": [StrOptions({"exponential", "step"})],
    },
    prefer_skip_nested_validation=True,
)
def long_tailed_counts(n_classes, imbalance_factor, n_max, profile="exponential"):
    """Number of rows per class position in a long-tailed dataset.

    Parameters
    ----------
    n_classes : int
        Number of classes ``C`` (at least 2).
    imbalance_factor : float
        Ratio between the largest and the smallest class, ``>= 1``.
    n_max : int
        Number of rows of the head class (position 0).
    profile : {"exponential", "step"}, default="exponential"
        ``"exponential"``: position ``i`` gets
        ``floor(n_max * imbalance_factor ** (-i / (C - 1)))`` (Cao et al.,
        2019, the CIFAR-10/100-LT convention). ``"step"``: the first
        ``C // 2`` positions get ``n_max``, the remaining ``C - C // 2`` get
        ``floor(n_max / imbalance_factor)`` (so with an odd ``C`` the extra
        class is a tail class).

    Returns
    -------
    counts : ndarray of shape (n_classes,), dtype=int64
        Rows per class position, head first.

    Examples
    --------
    >>> from synaug_learn.datasets import long_tailed_counts
    >>> long_tailed_counts(10, 100, 5000).tolist()  # CIFAR-10-LT, IF=100
    [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    >>> long_tailed_counts(5, 10, 100, profile="step").tolist()
    [100, 100, 10, 10, 10]
    """
    C = int(n_classes)
    if profile == "exponential":
        counts = [math.floor(n_max * imbalance_factor ** (-i / (C - 1))) for i in range(C)]
    else:
        n_head = C // 2
        counts = [n_max] * n_head + [math.floor(n_max / imbalance_factor)] * (C - n_head)
    return np.asarray(counts, dtype=np.int64)


def _resolve_class_order(classes, class_order, rng):
    if class_order is None:
        return classes
    if isinstance(class_order, str):  # "shuffle" (validated by validate_params)
        return classes[rng.permutation(len(classes))]
    order = np.asarray(class_order)
    if (
        order.ndim != 1
        or len(order) != len(classes)
        or len(np.unique(order)) != len(order)
        or not np.all(np.isin(order, classes))
    ):
        raise ValueError(
            "class_order must be None, 'shuffle' or a permutation of the labels in y "
            f"{classes.tolist()}; got {order.tolist()}."
        )
    return order


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "imbalance_factor": [Interval(Real, 1, None, closed="left")],
        "profile": [StrOptions({"exponential", "step"})],
        "n_max": [Interval(Integral, 1, None, closed="left"), None],
        "class_order": [StrOptions({"shuffle"}), "array-like", None],
        "random_state": ["random_state"],
        "return_indices": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_long_tailed(
    X,
    y,
    imbalance_factor,
    profile="exponential",
    n_max=None,
    class_order=None,
    random_state=None,
    return_indices=False,
):
    """Subsample a dataset so that its class sizes follow a long-tailed profile.

    This follows the CIFAR-10/100-LT convention (Cao et al., 2019, "LDAM"):
    the classes are put in order (by default the sorted labels, so label
    ``classes[0]`` is the head) and the class at position ``i`` keeps
    ``n_i = floor(n_max * imbalance_factor ** (-i / (C - 1)))`` rows, chosen at
    random without replacement within the class. See
    :func:`long_tailed_counts` for the ``"step"`` profile.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Samples of any dimension (tabular rows, ``(n, H, W)`` or
        ``(n, H, W, C)`` images, ...). Only the first axis is indexed.
    y : array-like of shape (n_samples,)
        Class labels (at least 2 classes).
    imbalance_factor : float
        Ratio ``n_max / n_min`` between the largest and the smallest class;
        ``>= 1`` (1 gives a balanced subsample of ``n_max`` rows per class).
    profile : {"exponential", "step"}, default="exponential"
        Shape of the class-size curve.
    n_max : int, default=None
        Rows kept for the head class. ``None`` uses the smallest class count
        of the input, so that every class can supply what it needs.
    class_order : "shuffle" or array-like of labels, default=None
        Which class is at which position. ``None``: sorted labels.
        ``"shuffle"``: a random permutation drawn from ``random_state``. An
        array: an explicit permutation of the labels, head first.
    random_state : int, RandomState instance or None, default=None
        Controls the class shuffle and the rows picked within each class.
    return_indices : bool, default=False
        Also return the indices of the kept rows.

    Returns
    -------
    X_lt : ndarray of shape (n_kept, ...)
        ``X[indices]``.
    y_lt : ndarray of shape (n_kept,)
        ``y[indices]``.
    indices : ndarray of shape (n_kept,), dtype=int64
        Only when ``return_indices=True``. Sorted, so the kept rows keep
        their original relative order.

    Raises
    ------
    ValueError
        If a class has fewer rows than its position requires (lower
        ``n_max``), or if the profile leaves a class with no row at all
        (raise ``n_max`` or lower ``imbalance_factor``).

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.datasets import make_long_tailed
    >>> X = np.zeros((300, 4, 4))
    >>> y = np.repeat([0, 1, 2], 100)
    >>> X_lt, y_lt = make_long_tailed(X, y, imbalance_factor=10, random_state=0)
    >>> X_lt.shape
    (141, 4, 4)
    >>> np.bincount(y_lt).tolist()  # 100, floor(100 / sqrt(10)), 100 / 10
    [100, 31, 10]
    >>> _, y_lt = make_long_tailed(X, y, 10, profile="step", n_max=50, class_order=[2, 0, 1])
    >>> np.bincount(y_lt).tolist()
    [5, 5, 50]
    """
    X, y = check_xy(X, y)
    rng = check_random_state(random_state)
    classes, class_counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"y must contain at least 2 classes; got {classes.tolist()}.")
    order = _resolve_class_order(classes, class_order, rng)
    count_of = dict(zip(classes.tolist(), class_counts.tolist()))
    if n_max is None:
        n_max = int(class_counts.min())
    targets = long_tailed_counts(len(classes), imbalance_factor, n_max, profile)
    if targets.min() < 1:
        raise ValueError(
            f"imbalance_factor={imbalance_factor} with n_max={n_max} leaves the tail class "
            f"{order.tolist()[-1]!r} with 0 rows; use n_max >= imbalance_factor."
        )
    for label, n in zip(order.tolist(), targets.tolist()):
        if count_of[label] < n:
            raise ValueError(
                f"n_max={n_max} asks for {n} rows of class {label!r}, which has only "
                f"{count_of[label]}; lower n_max (None uses the smallest class count)."
            )
    picked = []
    for label, n in zip(order.tolist(), targets.tolist()):
        rows = np.flatnonzero(y == label)
        picked.append(rng.choice(rows, size=n, replace=False))
    indices = np.sort(np.concatenate(picked)).astype(np.int64)
    if return_indices:
        return X[indices], y[indices], indices
    return X[indices], y[indices]


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "pool_per_class": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def train_pool_split(X, y, pool_per_class, random_state=None):
    """Split off a balanced pool of ``pool_per_class`` rows per class.

    The pool is disjoint from the rest. Use it to pretrain a generator on
    data the long-tailed training split never sees (the "external
    knowledge" that makes synthetic fill useful: on long-tailed digits a
    generator trained on such a pool beat one trained on the long-tailed
    rows by 11 points of balanced accuracy),
    then make the rest long-tailed with :func:`make_long_tailed`.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Samples of any dimension.
    y : array-like of shape (n_samples,)
        Class labels.
    pool_per_class : int
        Rows per class put in the pool (0 gives an empty pool).
    random_state : int, RandomState instance or None, default=None
        Controls which rows go to the pool.

    Returns
    -------
    X_rest : ndarray of shape (n_samples - n_pool, ...)
    y_rest : ndarray of shape (n_samples - n_pool,)
        The rows not in the pool, in their original order.
    X_pool : ndarray of shape (n_pool, ...)
    y_pool : ndarray of shape (n_pool,)
        ``pool_per_class`` rows of every class, in their original order.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.datasets import train_pool_split
    >>> X = np.arange(12).reshape(6, 2)
    >>> y = np.array([0, 0, 0, 1, 1, 1])
    >>> X_rest, y_rest, X_pool, y_pool = train_pool_split(X, y, 1, random_state=0)
    >>> y_rest.tolist(), y_pool.tolist()
    ([0, 0, 1, 1], [0, 1])
    """
    X, y = check_xy(X, y)
    rng = check_random_state(random_state)
    classes, counts = np.unique(y, return_counts=True)
    too_few = counts < pool_per_class
    if too_few.any():
        label, count = classes[too_few].tolist()[0], counts[too_few].tolist()[0]
        raise ValueError(
            f"pool_per_class={pool_per_class} but class {label!r} has only {count} rows."
        )
    in_pool = np.zeros(len(y), dtype=bool)
    for label in classes:
        rows = np.flatnonzero(y == label)
        in_pool[rng.choice(rows, size=pool_per_class, replace=False)] = True
    return X[~in_pool], y[~in_pool], X[in_pool], y[in_pool]
