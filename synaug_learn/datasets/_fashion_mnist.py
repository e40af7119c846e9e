"""Fashion-MNIST from its original idx files (Debian's ``dataset-fashion-mnist``)."""

from __future__ import annotations

import gzip
import os
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._long_tailed import make_long_tailed, train_pool_split

__all__ = ["FASHION_MNIST_CLASSES", "load_fashion_mnist", "load_fashion_mnist_lt"]

#: Where Debian's ``dataset-fashion-mnist`` package installs the files.
DEFAULT_FASHION_MNIST_HOME = "/usr/share/datasets/fashion-mnist"

#: Training rows >= this index are the shipped generator's pretraining pool.
FASHION_MNIST_POOL_START = 50_000

#: The 10 Fashion-MNIST class names, indexed by label.
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension

_DESCR = """Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017)
------------------------------------------------
70,000 greyscale 28x28 images of Zalando articles in 10 balanced classes:
60,000 for training (6,000 per class) and 10,000 for testing (1,000 per class).
Pixels are uint8 in [0, 255], 0 is the background. License: MIT.
"""


def _find_file(data_home: Path, name: str) -> Path:
    for candidate in (data_home / f"{name}.gz", data_home / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"Fashion-MNIST file {name}.gz not found in {str(data_home)!r}. Install it with "
        "`sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu, installs to "
        f"{DEFAULT_FASHION_MNIST_HOME}) or pass data_home= the folder that holds the "
        "idx files from https://github.com/zalandoresearch/fashion-mnist."
    )


def read_idx(path, expected_magic=None):
    """Read an idx file (the MNIST format), gzip-compressed or not.

    The header is a big-endian int32 magic number ``0x0000TTDD`` (``TT`` the
    element type, ``0x08`` for unsigned bytes; ``DD`` the number of
    dimensions), followed by one big-endian uint32 per dimension, then the
    data, row-major.

    Parameters
    ----------
    path : str or path-like
        The file; read through gzip when its name ends with ``.gz``.
    expected_magic : int, default=None
        Raise if the magic number differs (2051 for image files, 2049 for
        label files). ``None`` accepts any unsigned-byte idx file.

    Returns
    -------
    array : ndarray of dtype uint8
        The data, in the shape the header declares.

    Examples
    --------
    >>> import gzip, os, struct, tempfile
    >>> from synaug_learn.datasets import read_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte.gz")
    >>> with gzip.open(path, "wb") as f:
    ...     _ = f.write(struct.pack(">iI", 2049, 3) + bytes([7, 0, 9]))
    >>> read_idx(path, expected_magic=2049)
    array([7, 0, 9], dtype=uint8)
    """
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:  # e.g. gzip.BadGzipFile, truncated stream
        raise ValueError(f"could not read idx file {str(path)!r}: {exc}") from exc
    if len(raw) < 4:
        raise ValueError(f"idx file {str(path)!r} is too short ({len(raw)} bytes) for a header.")
    magic = int.from_bytes(raw[:4], "big", signed=True)
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"idx file {str(path)!r} has magic number {magic}, expected {expected_magic}; "
            "is it an images file where a labels file belongs (or the reverse), or not an "
            "idx file at all?"
        )
    dtype_code, ndim = raw[2], raw[3]
    if raw[0] != 0 or raw[1] != 0 or dtype_code != 0x08 or ndim == 0:
        raise ValueError(
            f"idx file {str(path)!r} has magic number {magic}, which is not an unsigned-byte "
            "idx header."
        )
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(f"idx file {str(path)!r} is truncated inside its header.")
    shape = tuple(int.from_bytes(raw[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim))
    n_values = int(np.prod(shape))
    if len(raw) - header_size != n_values:
        raise ValueError(
            f"idx file {str(path)!r} declares shape {shape} ({n_values} bytes of data) but "
            f"holds {len(raw) - header_size} bytes."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape).copy()


@validate_params(
    {
        "subset": [StrOptions({"train", "test"})],
        "data_home": [str, os.PathLike, None],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_fashion_mnist(subset="train", data_home=None, return_X_y=True):
    """Load Fashion-MNIST from its idx files.

    Parameters
    ----------
    subset : {"train", "test"}, default="train"
        ``"train"``: the 60,000 training images (``train-*`` files);
        ``"test"``: the 10,000 test images (``t10k-*`` files).
    data_home : str or path-like, default=None
        Folder with ``train-images-idx3-ubyte.gz``,
        ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz`` and
        ``t10k-labels-idx1-ubyte.gz`` (uncompressed files without ``.gz``
        are read too). ``None`` uses ``/usr/share/datasets/fashion-mnist``,
        where Debian's ``dataset-fashion-mnist`` package installs them.
    return_X_y : bool, default=True
        Return ``(X, y)``; otherwise a :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    X : ndarray of shape (n, 28, 28), dtype=uint8
        Images, 0 = background.
    y : ndarray of shape (n,), dtype=int64
        Labels 0-9, see :data:`FASHION_MNIST_CLASSES`.
    data : :class:`~sklearn.utils.Bunch`
        When ``return_X_y=False``: ``data``, ``target``, ``target_names``
        (array of the 10 class names) and ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If the files are missing (the message says how to install them).
    ValueError
        If a file is not a valid idx file of the expected kind (wrong magic
        number, truncated data), or images and labels disagree in number.

    Examples
    --------
    >>> from synaug_learn.datasets import load_fashion_mnist
    >>> X, y = load_fashion_mnist(subset="test")  # doctest: +SKIP
    >>> X.shape, X.dtype, y[:3]  # doctest: +SKIP
    ((10000, 28, 28), dtype('uint8'), array([9, 2, 1]))
    """
    home = Path(DEFAULT_FASHION_MNIST_HOME if data_home is None else data_home)
    images_name, labels_name = _FILES[subset]
    images_path = _find_file(home, images_name)
    labels_path = _find_file(home, labels_name)
    X = read_idx(images_path, expected_magic=_IMAGES_MAGIC)
    y = read_idx(labels_path, expected_magic=_LABELS_MAGIC).astype(np.int64)
    if len(X) != len(y):
        raise ValueError(
            f"{str(images_path)!r} holds {len(X)} images but {str(labels_path)!r} holds "
            f"{len(y)} labels."
        )
    if return_X_y:
        return X, y
    return Bunch(data=X, target=y, target_names=np.asarray(FASHION_MNIST_CLASSES), DESCR=_DESCR)


def fashion_mnist_pool(per_class=900, start=None, data_home=None):
    """The first ``per_class`` training rows of each class at index ``>= start``.

    With the default ``start`` (:data:`FASHION_MNIST_POOL_START`, 50000) and
    ``per_class=900`` this is exactly the data the shipped generator
    ``"fashion-mnist-small"`` was pretrained on (``scripts/pretrain_generator.py``).

    Parameters
    ----------
    per_class : int, default=900
        Images per class.
    start : int, default=None
        First training row of the pool; ``None`` is
        :data:`FASHION_MNIST_POOL_START`.
    data_home : str or path-like, default=None
        See :func:`load_fashion_mnist`.

    Returns
    -------
    X_pool : ndarray of shape (10 * per_class, 28, 28), uint8
    y_pool : ndarray of shape (10 * per_class,), int64

    Examples
    --------
    >>> from synaug_learn.datasets import fashion_mnist_pool
    >>> X_pool, y_pool = fashion_mnist_pool(900)  # doctest: +SKIP
    >>> X_pool.shape  # doctest: +SKIP
    (9000, 28, 28)
    """
    start = FASHION_MNIST_POOL_START if start is None else int(start)
    X, y = load_fashion_mnist("train", data_home=data_home)
    rows = []
    for label in np.unique(y):
        found = start + np.flatnonzero(y[start:] == label)[:per_class]
        if len(found) < per_class:
            raise ValueError(
                f"per_class={per_class}: training rows >= {start} hold only {len(found)} "
                f"images of class {label}."
            )
        rows.append(found)
    rows = np.sort(np.concatenate(rows))
    return X[rows], y[rows]


@validate_params(
    {
        "imbalance_factor": [Interval(Real, 1, None, closed="left")],
        "n_max": [Interval(Integral, 1, None, closed="left"), None],
        "pool_per_class": [Interval(Integral, 0, None, closed="left")],
        "pool_start": [Interval(Integral, 1, None, closed="left"), None],
        "profile": [StrOptions({"exponential", "step"})],
        "data_home": [str, os.PathLike, None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def load_fashion_mnist_lt(
    imbalance_factor=100,
    n_max=None,
    pool_per_class=0,
    pool_start=None,
    profile="exponential",
    data_home=None,
    random_state=0,
):
    """Fashion-MNIST with a long-tailed training set, a disjoint pool and the real test set.

    With ``pool_start=FASHION_MNIST_POOL_START`` (50000) the split is the one
    the shipped generator ``"fashion-mnist-small"`` was pretrained for: the
    long-tailed set comes from training rows below 50000 and the pool is the
    first ``pool_per_class`` rows of each class at or after it
    (:func:`fashion_mnist_pool`, the generator's pretraining data with 900).

    The official training set is first split into a balanced pool of
    ``pool_per_class`` images per class (:func:`train_pool_split`) and the
    rest; the rest is made long-tailed (:func:`make_long_tailed`, head =
    label 0 "T-shirt/top", tail = label 9 "Ankle boot"). The pool never
    overlaps the long-tailed training set, so a generator pretrained on it
    brings knowledge the classifier's training data does not hold.

    Parameters
    ----------
    imbalance_factor : float, default=100
        Ratio between the largest and the smallest training class.
    n_max : int, default=None
        Head class size. ``None``: every image not in the pool, i.e.
        ``6000 - pool_per_class``.
    pool_per_class : int, default=0
        Pool images per class; 0 gives no pool (``X_pool = y_pool = None``).
    pool_start : int, default=None
        ``None`` draws the pool at random from the whole training set. An
        index splits the training set at that row instead: the pool comes
        from rows ``>= pool_start``, the long-tailed set from rows below.
    profile : {"exponential", "step"}, default="exponential"
        Shape of the class-size curve, see :func:`long_tailed_counts`.
    data_home : str or path-like, default=None
        See :func:`load_fashion_mnist`.
    random_state : int, RandomState instance or None, default=0
        Controls the pool and the long-tailed subsample.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train``, ``y_train`` (long-tailed), ``X_pool``, ``y_pool``
        (balanced pool or ``None``), ``X_test``, ``y_test`` (the official,
        balanced 10,000 test images) and ``target_names``. Images are uint8
        ``(n, 28, 28)``, labels int64.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.datasets import load_fashion_mnist_lt
    >>> data = load_fashion_mnist_lt(100, pool_per_class=1000)  # doctest: +SKIP
    >>> np.bincount(data.y_train).tolist()  # doctest: +SKIP
    [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    >>> data.X_pool.shape  # doctest: +SKIP
    (10000, 28, 28)
    """
    rng = check_random_state(random_state)
    X, y = load_fashion_mnist("train", data_home=data_home)
    X_test, y_test = load_fashion_mnist("test", data_home=data_home)
    X_pool = y_pool = None
    if pool_start is not None:
        if pool_per_class > 0:
            X_pool, y_pool = fashion_mnist_pool(pool_per_class, start=pool_start,
                                                data_home=data_home)
        X, y = X[:pool_start], y[:pool_start]
    elif pool_per_class > 0:
        X, y, X_pool, y_pool = train_pool_split(X, y, pool_per_class, random_state=rng)
    X_train, y_train = make_long_tailed(
        X, y, imbalance_factor, profile=profile, n_max=n_max, random_state=rng
    )
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_pool=X_pool,
        y_pool=y_pool,
        X_test=X_test,
        y_test=y_test,
        target_names=np.asarray(FASHION_MNIST_CLASSES),
    )
