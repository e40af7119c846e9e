"""CIFAR-100 from the standard python-pickle archive, and CIFAR-100-LT on top."""

from __future__ import annotations

import io
import os
import pickle
import tarfile
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._long_tailed import make_long_tailed

__all__ = ["load_cifar100", "load_cifar100_lt"]

_ARCHIVE = "cifar-100-python.tar.gz"
_FOLDER = "cifar-100-python"

_DESCR = """CIFAR-100 (Krizhevsky, 2009)
----------------------------
60,000 colour 32x32 images in 100 fine classes grouped into 20 coarse
superclasses: 50,000 for training (500 per fine class) and 10,000 for testing
(100 per fine class). Images are uint8 (n, 32, 32, 3), RGB.
"""


# What the CIFAR-100 pickles hold (dicts, lists, bytes, ints and uint8 arrays) and nothing else:
# a pickle that names any other callable is refused instead of run.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """An unpickler that builds only plain containers and numpy arrays."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"it names {module}.{name}, which a CIFAR-100 archive never holds; refused"
        )


def _load_pickle_bytes(raw: bytes, where: str) -> dict:
    try:
        obj = _ArraysOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as exc:  # pickle raises many kinds of errors on bad input
        raise ValueError(f"{where} is not a CIFAR-100 python pickle: {exc}") from exc
    if not isinstance(obj, dict):
        raise ValueError(f"{where} is not a CIFAR-100 python pickle (no dict inside).")
    return obj


def _read_members(root: Path, names: tuple[str, ...]) -> tuple[dict[str, bytes], str]:
    """Raw bytes of the archive members ``names`` and a description of where they came from."""
    if root.is_file():
        archive = root
    elif all((root / n).is_file() for n in names):
        return {n: (root / n).read_bytes() for n in names}, str(root)
    elif all((root / _FOLDER / n).is_file() for n in names):
        return {n: (root / _FOLDER / n).read_bytes() for n in names}, str(root / _FOLDER)
    elif (root / _ARCHIVE).is_file():
        archive = root / _ARCHIVE
    else:
        raise FileNotFoundError(
            f"CIFAR-100 not found at {str(root)!r}: expected the extracted folder "
            f"{_FOLDER!r} (with files train, test, meta), a folder holding it, or the "
            f"{_ARCHIVE!r} archive from https://www.cs.toronto.edu/~kriz/cifar.html."
        )
    wanted = {f"{_FOLDER}/{n}": n for n in names} | {n: n for n in names}
    out = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:  # one sequential pass: no seeking back in the gzip stream
                name = wanted.get(member.name.removeprefix("./"))
                if name is not None and member.isfile() and name not in out:
                    out[name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ValueError(f"could not read the tar archive {str(archive)!r}: {exc}") from exc
    missing = [n for n in names if n not in out]
    if missing:
        raise FileNotFoundError(
            f"{str(archive)!r} has no member {_FOLDER}/{missing[0]}; is it the CIFAR-100 "
            "python archive?"
        )
    return out, str(archive)


def _decode_names(names) -> list[str]:
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


def _parse(raw: dict, where: str, subset: str, label_type: str) -> Bunch:
    """Turn the raw ``subset`` and ``meta`` pickles into a Bunch (see load_cifar100)."""
    batch = _load_pickle_bytes(raw[subset], f"{where} [{subset}]")
    meta = _load_pickle_bytes(raw["meta"], f"{where} [meta]")
    required = (b"data", b"fine_labels", b"coarse_labels")
    missing = [k.decode() for k in required if k not in batch]
    if missing:
        raise ValueError(f"{where} [{subset}] lacks the keys {missing}.")
    missing = [k for k in (b"fine_label_names", b"coarse_label_names") if k not in meta]
    if missing:
        raise ValueError(f"{where} [meta] lacks the keys {[k.decode() for k in missing]}.")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    fine = np.asarray(batch[b"fine_labels"], dtype=np.int64)
    coarse = np.asarray(batch[b"coarse_labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or not len(data) == len(fine) == len(coarse):
        raise ValueError(
            f"{where} [{subset}]: expected data of shape (n, 3072) and n labels; got data "
            f"{data.shape}, {len(fine)} fine and {len(coarse)} coarse labels."
        )
    X = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    fine_names = _decode_names(meta[b"fine_label_names"])
    coarse_names = _decode_names(meta[b"coarse_label_names"])
    y = fine if label_type == "fine" else coarse
    return Bunch(
        data=X,
        target=y,
        target_names=np.asarray(fine_names if label_type == "fine" else coarse_names),
        fine_target=fine,
        coarse_target=coarse,
        fine_names=np.asarray(fine_names),
        coarse_names=np.asarray(coarse_names),
        DESCR=_DESCR,
    )


@validate_params(
    {
        "root": [str, os.PathLike],
        "subset": [StrOptions({"train", "test"})],
        "label_type": [StrOptions({"fine", "coarse"})],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_cifar100(root, subset="train", label_type="fine", return_X_y=True):
    """Load CIFAR-100 from the standard python-pickle archive.

    The files are Python pickles: they are read with an unpickler that builds only
    containers and numpy arrays, and refuses a file that names anything else.

    Parameters
    ----------
    root : str or path-like
        One of: the extracted ``cifar-100-python`` folder (holding ``train``,
        ``test`` and ``meta``); a folder that holds it; the
        ``cifar-100-python.tar.gz`` archive itself (read in memory, nothing is
        extracted to disk); or a folder that holds that archive.
    subset : {"train", "test"}, default="train"
        The 50,000 training or the 10,000 test images.
    label_type : {"fine", "coarse"}, default="fine"
        The 100 fine classes or the 20 coarse superclasses.
    return_X_y : bool, default=True
        Return ``(X, y)``; otherwise a :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    X : ndarray of shape (n, 32, 32, 3), dtype=uint8
        RGB images (the pickles store them channel-planar; they are
        transposed to channels-last).
    y : ndarray of shape (n,), dtype=int64
        Fine or coarse labels.
    data : :class:`~sklearn.utils.Bunch`
        When ``return_X_y=False``: ``data``, ``target``, ``target_names``
        (names of the chosen label type), ``fine_target``, ``coarse_target``,
        ``fine_names``, ``coarse_names`` and ``DESCR``.

    Examples
    --------
    >>> from synaug_learn.datasets import load_cifar100
    >>> X, y = load_cifar100("data/cifar-100-python.tar.gz")  # doctest: +SKIP
    >>> X.shape, X.dtype  # doctest: +SKIP
    ((50000, 32, 32, 3), dtype('uint8'))
    """
    raw, where = _read_members(Path(root), (subset, "meta"))
    data = _parse(raw, where, subset, label_type)
    return (data.data, data.target) if return_X_y else data


@validate_params(
    {
        "root": [str, os.PathLike],
        "imbalance_factor": [Interval(Real, 1, None, closed="left")],
        "n_max": [Interval(Integral, 1, None, closed="left")],
        "profile": [StrOptions({"exponential", "step"})],
        "label_type": [StrOptions({"fine", "coarse"})],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def load_cifar100_lt(
    root,
    imbalance_factor=100,
    n_max=500,
    profile="exponential",
    label_type="fine",
    random_state=0,
):
    """CIFAR-100-LT: a long-tailed CIFAR-100 training set and the balanced test set.

    The training set keeps ``floor(n_max * imbalance_factor ** (-i / 99))``
    images of fine class ``i`` (Cao et al., 2019): 10,847 images for
    ``imbalance_factor=100``, 12,608 for 50 and 19,573 for 10.

    Parameters
    ----------
    root : str or path-like
        See :func:`load_cifar100`.
    imbalance_factor : float, default=100
        Ratio between the largest and the smallest training class.
    n_max : int, default=500
        Head class size (500, every training image of class 0, is the
        CIFAR-100-LT convention).
    profile : {"exponential", "step"}, default="exponential"
        Shape of the class-size curve, see :func:`long_tailed_counts`.
    label_type : {"fine", "coarse"}, default="fine"
        Labels to make long-tailed and return.
    random_state : int, RandomState instance or None, default=0
        Controls which images are kept.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train``, ``y_train`` (long-tailed), ``X_test``, ``y_test``
        (official test set) and ``target_names``.

    Examples
    --------
    >>> from synaug_learn.datasets import load_cifar100_lt
    >>> data = load_cifar100_lt("data/cifar-100-python.tar.gz")  # doctest: +SKIP
    >>> len(data.y_train)  # doctest: +SKIP
    10847
    """
    raw, where = _read_members(Path(root), ("train", "test", "meta"))
    train = _parse(raw, where, "train", label_type)
    test = _parse(raw, where, "test", label_type)
    X_train, y_train = make_long_tailed(
        train.data,
        train.target,
        imbalance_factor,
        profile=profile,
        n_max=n_max,
        random_state=check_random_state(random_state),
    )
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=test.data,
        y_test=test.target,
        target_names=train.target_names,
    )
