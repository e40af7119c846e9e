"""Input checks shared by the package: each raises an error naming the parameter and the value."""

from __future__ import annotations

import numbers

import numpy as np
from scipy.sparse import issparse
from sklearn.utils.validation import check_consistent_length, check_is_fitted

__all__ = ["check_column", "check_count", "check_device", "check_groups", "check_images",
           "check_is_fitted", "check_strata", "check_xy"]


def check_images(X, param_name="X"):
    """Check ``X`` as dense numeric rows or images: 2-D, (n, H, W), (n, H, W, C) or (n, C, H, W).

    Parameters
    ----------
    X : array-like
        The samples.
    param_name : str, default="X"
        Name of ``X`` in error messages.

    Returns
    -------
    X : ndarray
        ``X`` as an array (object arrays of numbers become float64).

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.utils import check_images
    >>> check_images(np.zeros((2, 8, 8), dtype=np.uint8)).shape
    (2, 8, 8)
    >>> check_images(np.zeros(3))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: X must be 2-D (n, features), 3-D (n, H, W) or 4-D ...; got 1-D with shape (3,).
    """
    name = param_name
    if issparse(X):
        raise TypeError(f"{name} is a sparse matrix; dense arrays are needed ({name}.toarray()).")
    try:
        X = np.asarray(X)
    except ValueError as exc:  # numpy refuses ragged nested sequences
        raise ValueError(f"{name} must be a rectangular array; it looks ragged ({exc}).") from None
    if X.dtype == object:
        if any(isinstance(v, complex) for v in X.ravel()[:1000].tolist()):
            X = X.astype(np.complex128)  # refused below, with the complex message
        else:
            try:  # numbers stored as objects are fine; ragged rows and strings are not
                X = X.astype(np.float64)
            except ValueError:  # a TypeError (dicts, lists) stays numpy's own
                bad = next((v for v in X.ravel().tolist() if not _is_number(v)), None)
                raise ValueError(
                    f"{name} must be a rectangular numeric array; got dtype=object holding "
                    f"{bad!r} ({type(bad).__name__}). Encode categorical columns as numbers "
                    "first (e.g. sklearn's OrdinalEncoder)."
                ) from None
    if np.iscomplexobj(X):
        # imbalanced-learn's samplers refuse it too ("Complex data not supported"); casting
        # would silently drop the imaginary part.
        raise ValueError(
            f"{name} is complex (dtype={X.dtype}): Complex data not supported, real numbers "
            f"are needed. Pass {name}.real, "
            f"np.abs({name}) or the two parts as separate features."
        )
    if X.ndim not in (2, 3, 4):
        raise ValueError(
            f"{name} must be 2-D (n, features), 3-D (n, H, W) or 4-D (n, H, W, C) / "
            f"(n, C, H, W); got {X.ndim}-D with shape {X.shape}."
        )
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise TypeError(f"{name} must hold numbers; got dtype={X.dtype}.")
    for n, what in ((X.shape[0], "sample"), (np.prod(X.shape[1:]), "feature")):
        if n == 0:
            raise ValueError(
                f"{name} has 0 {what}(s) (shape={X.shape}) while a minimum of 1 is required."
            )
    if np.issubdtype(X.dtype, np.floating) and not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinity; remove or impute those values first.")
    return X


def _is_number(value):
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def check_column(values, n, param_name, other="X"):
    """Check that ``values`` is 1-D with one entry per row of ``other`` (``n`` rows).

    Parameters
    ----------
    values : array-like
        E.g. labels or groups.
    n : int
        Number of rows of ``other``.
    param_name : str
        Name of ``values`` in the error message.
    other : str, default="X"
        Name of the array ``values`` goes with.

    Returns
    -------
    values : ndarray of shape (n,)

    Examples
    --------
    >>> from synaug_learn.utils import check_column
    >>> check_column([0, 1], 2, "y").tolist()
    [0, 1]
    >>> check_column([0, 1], 3, "y_syn", "X_syn")
    Traceback (most recent call last):
    ...
    ValueError: y_syn must be 1-D with one entry per row of X_syn (3); got shape (2,).
    """
    values = np.asarray(values)
    if values.ndim != 1 or len(values) != n:
        raise ValueError(
            f"{param_name} must be 1-D with one entry per row of {other} ({n}); "
            f"got shape {values.shape}."
        )
    return values


def check_groups(groups, n, param_name="groups"):
    """``None``, or ``groups`` as a 1-D array with one entry per row (``n`` rows).

    Parameters
    ----------
    groups : array-like or None
        Group of each row.
    n : int
        Number of rows.
    param_name : str, default="groups"
        Name of ``groups`` in the error message.

    Returns
    -------
    groups : ndarray of shape (n,) or None

    Examples
    --------
    >>> from synaug_learn.utils import check_groups
    >>> check_groups(["a", "b"], 2).tolist()
    ['a', 'b']
    >>> check_groups(None, 2) is None
    True
    >>> check_groups(["a", None, float("nan")], 3)
    Traceback (most recent call last):
    ...
    ValueError: groups must name a group for every row; rows [1, 2] hold None or NaN \
(first: None). Give those rows a group of their own (e.g. "unknown") or drop them.
    """
    if groups is None:
        return None
    groups = np.asarray(groups)
    if groups.ndim != 1 or len(groups) != n:
        raise ValueError(
            f"{param_name} must be 1-D with one entry per row: got shape {groups.shape} "
            f"for {n} rows."
        )
    missing = np.flatnonzero(_is_missing(groups))
    if len(missing):
        shown = missing[:10].tolist()
        raise ValueError(
            f"{param_name} must name a group for every row; rows {shown}"
            f"{' ...' if len(missing) > 10 else ''} hold None or NaN (first: "
            f"{groups[missing[0]]!r}). Give those rows a group of their own (e.g. \"unknown\") "
            "or drop them."
        )
    return groups


def _is_missing(values):
    """Boolean mask of ``None`` / NaN (float NaN, ``pd.NA``, ``NaT``) entries of a 1-D array."""
    if values.dtype.kind in "fc":
        return np.isnan(values)
    if values.dtype.kind == "M" or values.dtype.kind == "m":
        return np.isnat(values)
    if values.dtype != object:
        return np.zeros(len(values), dtype=bool)

    def missing(v):
        if v is None:
            return True
        try:
            return bool(v != v)  # NaN and NaT differ from themselves
        except (TypeError, ValueError):  # pd.NA: its comparison is ambiguous
            return True

    return np.fromiter((missing(v) for v in values), dtype=bool, count=len(values))


def check_device(device, param_name="device"):
    """Check that the torch ``device`` exists on this machine; return it as a string.

    Parameters
    ----------
    device : str
        A torch device such as ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"``.
    param_name : str, default="device"
        Name of the parameter in the error message.

    Returns
    -------
    device : str

    Raises
    ------
    ValueError
        If ``device`` is not a torch device string, or names an accelerator
        this machine does not have.

    Examples
    --------
    >>> from synaug_learn.utils import check_device
    >>> check_device("cpu")
    'cpu'
    >>> check_device("gpu")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: device='gpu' is not a torch device; use e.g. 'cpu', 'cuda', 'cuda:1' or 'mps'...
    """
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(
            f"{param_name}={device!r} is not a torch device; use e.g. 'cpu', 'cuda', 'cuda:1' "
            f"or 'mps' ({exc})."
        ) from None
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise ValueError(
                f"{param_name}={device!r} but CUDA is not available here (torch "
                f"{torch.__version__}); use {param_name}='cpu'."
            )
        if dev.index is not None and dev.index >= n:
            raise ValueError(
                f"{param_name}={device!r} but this machine has {n} CUDA device(s) "
                f"(cuda:0 .. cuda:{n - 1})."
            )
    elif dev.type == "mps" and not (
            getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"{param_name}={device!r} but MPS is not available here; "
                         f"use {param_name}='cpu'.")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{param_name}={device!r}: only 'cpu', 'cuda' and 'mps' devices are "
                         "supported.")
    return str(device)


def check_strata(n_per_stratum, classes=None, has_groups=False):
    """Check a request ``{(label, group_or_None): n}``; return it as a list of pairs.

    Parameters
    ----------
    n_per_stratum : dict
        Rows asked for per stratum; ``n`` an int >= 0.
    classes : array-like or None, default=None
        The labels a generator was fitted on; ``None`` accepts any label.
    has_groups : bool, default=False
        Whether every stratum must name a group.

    Returns
    -------
    request : list of (tuple, int)

    Examples
    --------
    >>> from synaug_learn.utils import check_strata
    >>> check_strata({(1, None): 2}, classes=[0, 1])
    [((1, None), 2)]
    >>> check_strata({(5, None): 2}, classes=[0, 1])
    Traceback (most recent call last):
    ...
    ValueError: n_per_stratum names label 5, which the generator was not fitted on \
(classes_=[0, 1]).
    """
    if not isinstance(n_per_stratum, dict):
        raise TypeError(
            f"n_per_stratum must be a dict {{(label, group_or_None): n}}; "
            f"got {type(n_per_stratum).__name__}."
        )
    known = None if classes is None else set(np.asarray(classes).tolist())
    request = []
    for stratum, n in n_per_stratum.items():
        if not isinstance(stratum, tuple) or len(stratum) != 2:
            raise ValueError(
                f"n_per_stratum keys must be (label, group_or_None) tuples; got {stratum!r}."
            )
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise ValueError(f"n_per_stratum[{stratum!r}] must be an int >= 0; got {n!r}.")
        if n < 0:
            raise ValueError(f"n_per_stratum[{stratum!r}] must be an int >= 0 (a number of rows, "
                             f"which must be >= 0; got {n!r}).")
        label, group = stratum
        if known is not None and label not in known:
            raise ValueError(
                f"n_per_stratum names label {label!r}, which the generator was not fitted "
                f"on (classes_={sorted(known, key=repr)!r})."
            )
        if has_groups and group is None:
            raise ValueError(
                f"the generator was fitted with groups, so n_per_stratum key {stratum!r} "
                "needs a group."
            )
        request.append((stratum, int(n)))
    return request


def check_count(value, param_name, low, allow_none=True):
    """An int ``>= low`` (or ``None`` when allowed), else a ``ValueError`` naming it.

    Parameters
    ----------
    value : object
        The value to check.
    param_name : str
        Name of the parameter in the error message.
    low : int
        Smallest allowed value.
    allow_none : bool, default=True
        Whether ``None`` is accepted.

    Returns
    -------
    value : int or None

    Examples
    --------
    >>> from synaug_learn.utils import check_count
    >>> check_count(3, "batch_size", 1)
    3
    >>> check_count(0, "batch_size", 1, allow_none=False)
    Traceback (most recent call last):
    ...
    ValueError: batch_size must be an int >= 1; got 0.
    """
    if value is None and allow_none:
        return None
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
        raise ValueError(f"{param_name} must be an int >= {low}{' or None' if allow_none else ''}; "
                         f"got {value!r}.")
    return int(value)


def check_xy(X, y):
    """Check ``X`` (any dimension, one row per sample) and 1-D labels ``y`` of the same length.

    Parameters
    ----------
    X : array-like
        The samples, one row per sample.
    y : array-like of shape (n_samples,)
        The labels.

    Returns
    -------
    X, y : ndarray
        The inputs as arrays.

    Examples
    --------
    >>> from synaug_learn.utils import check_xy
    >>> X, y = check_xy([[1, 2], [3, 4]], [0, 1])
    >>> X.shape, y.tolist()
    ((2, 2), [0, 1])
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 0:
        raise ValueError(f"X must be an array with one row per sample; got a scalar {X!r}.")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D; got an array of shape {y.shape}.")
    check_consistent_length(X, y)
    return X, y
