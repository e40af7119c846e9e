"""Images on disk, one sub-folder per class (the torchvision/Keras ``ImageFolder`` layout)."""

from __future__ import annotations

import os
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = ["load_image_folder"]

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")


def _check_image_size(image_size):
    """``None``, an int (square) or ``(height, width)`` -> ``None`` or ``(height, width)``."""
    if image_size is None:
        return None
    if isinstance(image_size, Integral) and not isinstance(image_size, bool):
        size = (int(image_size), int(image_size))
    elif (
        isinstance(image_size, tuple | list)
        and len(image_size) == 2
        and all(isinstance(s, Integral) and not isinstance(s, bool) for s in image_size)
    ):
        size = (int(image_size[0]), int(image_size[1]))
    else:
        raise TypeError(
            f"image_size must be None, an int or a (height, width) pair of ints; "
            f"got {image_size!r}."
        )
    if min(size) < 1:
        raise ValueError(f"image_size must be positive; got {image_size!r}.")
    return size


def _is_image_file(path: Path) -> bool:
    return (
        path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_EXTENSIONS
    )


def read_images(files, root, image_size=None, color_mode="rgb"):
    """Read image files into one uint8 array.

    Parameters
    ----------
    files : list of path-like
        Image files, read in this order with PIL.
    root : path-like
        Folder the error messages show paths relative to.
    image_size : int or (height, width), default=None
        Resize every image (bilinear). ``None``: keep the sizes, which must
        then all be equal.
    color_mode : {"rgb", "grayscale"}, default="rgb"
        Convert to RGB (``(n, H, W, 3)``) or to 8-bit grey (``(n, H, W)``).

    Returns
    -------
    X : ndarray of dtype uint8
    """
    from PIL import Image

    size = _check_image_size(image_size)
    mode = "RGB" if color_mode == "rgb" else "L"
    root = Path(root)
    images, first = [], None
    for file in files:
        file = Path(file)
        try:
            with Image.open(file) as img:
                img = img.convert(mode)
                if size is not None and img.size != (size[1], size[0]):
                    img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
                array = np.asarray(img, dtype=np.uint8)
        except OSError as exc:  # PIL.UnidentifiedImageError is an OSError
            raise ValueError(f"could not read image {str(file)!r}: {exc}") from exc
        if first is None:
            first = (file, array.shape[:2])
        elif array.shape[:2] != first[1]:
            raise ValueError(
                "images have different sizes: "
                f"{str(first[0].relative_to(root))!r} is {first[1][0]}x{first[1][1]} (HxW) but "
                f"{str(file.relative_to(root))!r} is {array.shape[0]}x{array.shape[1]}; "
                "pass image_size=(height, width) to resize them all."
            )
        images.append(array)
    if not images:
        shape = (0, *(size or (0, 0))) + ((3,) if mode == "RGB" else ())
        return np.zeros(shape, dtype=np.uint8)
    return np.stack(images)


@validate_params(
    {
        "path": [str, os.PathLike],
        "image_size": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "color_mode": [StrOptions({"rgb", "grayscale"})],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_image_folder(path, image_size=None, color_mode="rgb", return_X_y=True):
    """Load images stored as one sub-folder per class.

    ``path/<class name>/<image file>``: the sorted sub-folder names are the
    classes, labelled ``0 .. C-1`` in that order. Files with an image
    extension (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``, ``.gif``, ``.tif``,
    ``.tiff``, ``.webp``, any case) directly inside a class folder are read in
    sorted order; hidden files and other files are ignored.

    Parameters
    ----------
    path : str or path-like
        The root folder.
    image_size : int or (height, width), default=None
        Resize every image to this size (bilinear). ``None`` keeps the
        files' sizes, which must then all be equal.
    color_mode : {"rgb", "grayscale"}, default="rgb"
        ``"rgb"`` gives ``(n, H, W, 3)``, ``"grayscale"`` gives ``(n, H, W)``.
    return_X_y : bool, default=True
        Return ``(X, y)``; otherwise a :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    X : ndarray of shape (n, H, W, 3) or (n, H, W), dtype=uint8
    y : ndarray of shape (n,), dtype=int64
    data : :class:`~sklearn.utils.Bunch`
        When ``return_X_y=False``: ``data``, ``target``, ``target_names``
        (the sub-folder names) and ``filenames`` (paths relative to
        ``path``).

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a folder.
    ValueError
        If it has no class sub-folder, a class folder holds no image, a file
        cannot be read, or the images differ in size and ``image_size`` is
        ``None``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from PIL import Image
    >>> from synaug_learn.datasets import load_image_folder
    >>> root = Path(tempfile.mkdtemp())
    >>> for name, n in [("cat", 2), ("dog", 1)]:
    ...     (root / name).mkdir()
    ...     for i in range(n):
    ...         Image.new("RGB", (6, 4), (i, 0, 0)).save(root / name / f"{i}.png")
    >>> X, y = load_image_folder(root)
    >>> X.shape, X.dtype, y.tolist()
    ((3, 4, 6, 3), dtype('uint8'), [0, 0, 1])
    >>> load_image_folder(root, image_size=8, color_mode="grayscale")[0].shape
    (3, 8, 8)
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"path={str(path)!r} is not a folder.")
    _check_image_size(image_size)
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        raise ValueError(
            f"path={str(path)!r} has no class sub-folder; expected path/<class name>/<image>."
        )
    files, target = [], []
    for label, class_dir in enumerate(class_dirs):
        class_files = sorted(f for f in class_dir.iterdir() if _is_image_file(f))
        if not class_files:
            raise ValueError(
                f"class folder {str(class_dir)!r} holds no image file "
                f"(extensions {', '.join(IMAGE_EXTENSIONS)})."
            )
        files.extend(class_files)
        target.extend([label] * len(class_files))
    X = read_images(files, root, image_size=image_size, color_mode=color_mode)
    y = np.asarray(target, dtype=np.int64)
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        target_names=np.asarray([d.name for d in class_dirs]),
        filenames=np.asarray([str(f.relative_to(root)) for f in files]),
    )
