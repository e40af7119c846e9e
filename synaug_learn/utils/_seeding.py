"""Seeds and hashes: what makes a generated row reproducible alone and a bank shard addressable."""

from __future__ import annotations

import hashlib
import json
import numbers

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["derive_seed", "hash_array", "jsonable", "stratum_key", "stratum_labels"]


def jsonable(value):
    """Turn numpy scalars, tuples and None into a stable JSON-able form.

    Parameters
    ----------
    value : object
        A scalar, numpy scalar, tuple or list (nested).

    Returns
    -------
    value : object
        Python scalars and lists in place of numpy scalars and tuples.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.utils import jsonable
    >>> jsonable((np.int64(3), None))
    [3, None]
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    return value


def derive_seed(random_state, *keys) -> int:
    """Derive a 32-bit seed from a base ``random_state`` and any hashable keys.

    The same base and keys always give the same seed, whatever else was
    generated before: this is what makes a bank shard reproducible alone.
    ``random_state`` may be ``None`` (a fresh random base), an int or a
    ``RandomState`` (one integer is drawn from it).

    Parameters
    ----------
    random_state : None, int or numpy.random.RandomState
        The base.
    *keys : object
        JSON-able keys (strata, row indices, tags).

    Returns
    -------
    seed : int
        A seed in ``[0, 2**32)``.

    Examples
    --------
    >>> from synaug_learn.utils import derive_seed
    >>> derive_seed(0, (1, None), 5) == derive_seed(0, (1, None), 5)
    True
    >>> derive_seed(0, (1, None), 5) == derive_seed(0, (1, None), 6)
    False
    """
    if random_state is None or isinstance(random_state, np.random.RandomState):
        base = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    elif isinstance(random_state, numbers.Integral):
        base = int(random_state)
    else:
        raise TypeError(
            f"random_state must be None, an int or a numpy RandomState; got {random_state!r}."
        )
    text = json.dumps([base, *[jsonable(k) for k in keys]], sort_keys=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def stratum_key(stratum) -> str:
    """A short, stable, filename-safe key for a ``(label, group)`` stratum.

    Parameters
    ----------
    stratum : tuple
        ``(label, group_or_None)``.

    Returns
    -------
    key : str
        16 hexadecimal characters.

    Examples
    --------
    >>> from synaug_learn.utils import stratum_key
    >>> len(stratum_key((1, None)))
    16
    """
    text = json.dumps(jsonable(tuple(stratum)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def hash_array(*arrays) -> str:
    """SHA-256 of arrays' dtype, shape and bytes (``None`` entries allowed).

    Parameters
    ----------
    *arrays : array-like or None
        The arrays, hashed in order.

    Returns
    -------
    digest : str
        The hexadecimal SHA-256.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.utils import hash_array
    >>> hash_array(np.zeros(3), None) == hash_array(np.zeros(3), None)
    True
    >>> hash_array(np.zeros(3)) == hash_array(np.zeros(3, dtype=np.float32))
    False
    """
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"none")
            continue
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        if a.dtype == object:
            h.update(json.dumps([jsonable(v) for v in a.ravel().tolist()]).encode())
        else:
            h.update(a.tobytes())
    return h.hexdigest()


def row_strata(y, groups=None):
    """The ``(label, group_or_None)`` stratum of each row, as a list of tuples.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Labels.
    groups : ndarray of shape (n_samples,) or None, default=None
        Group of each row; ``None`` gives ``None`` as every row's group.

    Returns
    -------
    strata : list of tuple
        ``(label, group_or_None)`` per row, in row order.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.utils import row_strata
    >>> row_strata(np.array([1, 0]))
    [(1, None), (0, None)]
    >>> row_strata(np.array([1, 0]), np.array(["a", "b"]))
    [(1, 'a'), (0, 'b')]
    """
    return list(zip(y.tolist(), groups.tolist() if groups is not None else [None] * len(y)))


def stratum_labels(request, y_dtype=None, with_groups=False):
    """Labels and groups of the rows of a request, stratum after stratum.

    Parameters
    ----------
    request : iterable of ((label, group_or_None), n)
        E.g. ``n_per_stratum.items()``.
    y_dtype : dtype or None, default=None
        Dtype of the labels (e.g. a generator's ``classes_.dtype``).
    with_groups : bool, default=False
        Return groups even when every group is ``None`` (an empty request
        then gives an empty object array); otherwise groups are returned only
        when some stratum names a group.

    Returns
    -------
    y : ndarray of shape (sum(n),)
    groups : ndarray of shape (sum(n),) or None

    Examples
    --------
    >>> from synaug_learn.utils import stratum_labels
    >>> y, groups = stratum_labels([((1, None), 2), ((0, None), 1)])
    >>> y.tolist(), groups
    ([1, 1, 0], None)
    >>> y, groups = stratum_labels([((1, "a"), 2)])
    >>> groups.tolist()
    ['a', 'a']
    """
    request = [(tuple(s), int(n)) for s, n in request]
    with_groups = with_groups or any(s[1] is not None for s, _ in request)
    y_parts, g_parts = [], []
    for (label, group), n in request:
        if n == 0:
            continue
        y_parts.append(np.full(n, label, dtype=y_dtype))
        g_parts.append(np.full(n, group, dtype=object if group is None else None))
    if not y_parts:
        y = np.empty((0,), dtype=np.float64 if y_dtype is None else y_dtype)
        return y, (np.empty((0,), dtype=object) if with_groups else None)
    return np.concatenate(y_parts), (np.concatenate(g_parts) if with_groups else None)
