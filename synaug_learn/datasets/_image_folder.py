"""Images on disk, one sub-folder per class (the torchvision/Keras ``ImageFolder`` layout).

:func:`load_image_folder` reads such a folder; :func:`write_image_folder` writes one
(e.g. a balanced copy with generated images, and a manifest of them).
"""

from __future__ import annotations

import os
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = ["class_folder_name", "load_image_folder", "write_image_folder"]

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


# Characters a folder name cannot hold on some system (or that would make a sub-folder).
_UNSAFE = set('/\\:*?"<>|%') | {chr(i) for i in range(32)}


def class_folder_name(name):
    """The folder name of class ``name``: unsafe characters percent-encoded.

    ``/ \\ : * ? " < > | %`` and control characters become ``%XX`` (their
    UTF-8 bytes, as in URLs), and a leading ``.`` (a hidden folder, which
    :func:`load_image_folder` skips) becomes ``%2E``; every other name is
    kept. :func:`write_image_folder` records the mapping in its manifest, so
    :func:`load_image_folder` gives back the class names.

    Parameters
    ----------
    name : str
        A class name.

    Returns
    -------
    folder : str
        The name of the class's folder.

    Examples
    --------
    >>> from synaug_learn.datasets import class_folder_name
    >>> class_folder_name("T-shirt/top"), class_folder_name("Sneaker")
    ('T-shirt%2Ftop', 'Sneaker')
    """
    name = str(name)
    if name in ("", ".", ".."):
        return "%2E" * len(name) or "%00"
    out = "".join("".join(f"%{b:02X}" for b in c.encode()) if c in _UNSAFE else c for c in name)
    return "%2E" + out[1:] if out.startswith(".") else out


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
        (the sub-folder names, or the class names a ``manifest.json`` written
        by :func:`write_image_folder` records for them) and ``filenames`` (paths relative to
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
    names = _class_names_from_manifest(root)
    return Bunch(
        data=X,
        target=y,
        target_names=np.asarray([names.get(d.name, d.name) for d in class_dirs]),
        filenames=np.asarray([str(f.relative_to(root)) for f in files]),
    )


def _class_names_from_manifest(root):
    """``{folder: class name}`` from a ``manifest.json`` written by :func:`write_image_folder`."""
    import json

    manifest = Path(root) / "manifest.json"
    if not manifest.is_file():
        return {}
    try:
        folders = json.loads(manifest.read_text()).get("class_folders", {})
    except (ValueError, AttributeError) as exc:
        raise ValueError(f"{manifest} is not a valid JSON object ({exc}).") from None
    return {str(k): str(v) for k, v in folders.items()} if isinstance(folders, dict) else {}


def write_image_folder(path, X, y, *, class_names=None, filenames=None, synthetic_mask=None,
                       metadata=None):
    """Write images as one sub-folder per class, and a ``manifest.json`` of the synthetic ones.

    The layout :func:`load_image_folder` reads (and torchvision's / Keras'
    ``ImageFolder``): ``path/<class name>/<file>.png``. A real row keeps the
    base name of its entry in ``filenames`` (``"<k>.png"`` without them); a
    synthetic row (``synthetic_mask``) is ``synthetic_<k>.png``, ``k``
    counting per class from 0, in row order. ``manifest.json`` holds
    ``metadata``, under ``"class_folders"`` the class name of each folder
    (a class name unsafe as a folder name, such as ``"T-shirt/top"``, is
    escaped by :func:`class_folder_name`; :func:`load_image_folder` maps the
    folders back to the names), and under ``"files"`` every synthetic file
    with its class and ``k``, so that generated images can always be told
    from real ones.

    Parameters
    ----------
    path : path-like
        Output folder; created, and it must not hold anything yet.
    X : ndarray of shape (n, H, W) or (n, H, W, C), dtype uint8
        The images (grey, grey with one channel, RGB or RGBA).
    y : array-like of shape (n,)
        Labels of the rows.
    class_names : sequence of str, default=None
        Folder name of each label, indexed by label (as ``target_names`` of
        :func:`load_image_folder`); ``None``: ``str(label)``.
    filenames : sequence of str, default=None
        File of each real row (e.g. ``filenames`` of :func:`load_image_folder`);
        only the base name is used.
    synthetic_mask : array-like of bool of shape (n,), default=None
        Which rows are generated (e.g. a fitted sampler's ``synthetic_mask_``);
        ``None``: none.
    metadata : dict, default=None
        JSON-serialisable entries written into the manifest before ``"files"``.

    Returns
    -------
    manifest : dict
        What ``manifest.json`` holds: ``metadata``, ``"class_folders"`` and ``"files"``, a list of
        ``{"file": "<class>/synthetic_<k>.png", "class": <class>, "row": k}``.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from synaug_learn.datasets import load_image_folder, write_image_folder
    >>> X = np.zeros((3, 4, 4), dtype=np.uint8)
    >>> out = os.path.join(tempfile.mkdtemp(), "balanced")
    >>> manifest = write_image_folder(out, X, [0, 1, 1], class_names=["cat", "dog"],
    ...                               synthetic_mask=[False, False, True])
    >>> manifest["files"]
    [{'file': 'dog/synthetic_00000.png', 'class': 'dog', 'row': 0}]
    >>> sorted(os.listdir(os.path.join(out, "dog")))
    ['0.png', 'synthetic_00000.png']
    >>> load_image_folder(out, color_mode="grayscale")[0].shape
    (3, 4, 4)
    """
    import json

    from PIL import Image

    X, y, mask = _check_folder_rows(X, y, filenames, synthetic_mask)
    path = check_empty_folder(path)
    path.mkdir(parents=True, exist_ok=True)
    counts, files, folders = {}, [], {}
    for i, (img, label) in enumerate(zip(X, y.tolist())):
        name = str(label) if class_names is None else str(class_names[label])
        folder = class_folder_name(name)
        if folders.setdefault(folder, name) != name:
            raise ValueError(f"class_names {folders[folder]!r} and {name!r} would share the "
                             f"folder {folder!r}.")
        k = counts.get((name, bool(mask[i])), 0)
        counts[(name, bool(mask[i]))] = k + 1
        if mask[i]:
            fname = f"synthetic_{k:05d}.png"
            files.append({"file": f"{folder}/{fname}", "class": name, "row": k})
        else:
            fname = f"{k}.png" if filenames is None else Path(str(filenames[i])).name
        (path / folder).mkdir(exist_ok=True)
        Image.fromarray(img.squeeze(-1) if img.ndim == 3 and img.shape[-1] == 1 else img).save(
            path / folder / fname)
    manifest = {**(metadata or {}), "class_folders": folders, "files": files}
    (path / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def check_empty_folder(path, param_name="path"):
    """``Path(path)``, or a ValueError naming ``param_name`` when it exists and is not empty."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ValueError(f"{param_name}={str(path)!r} exists and is not empty.")
    return path


def _check_folder_rows(X, y, filenames, synthetic_mask):
    """Validate :func:`write_image_folder`'s arrays; return ``(X, y, mask)``."""
    X, y = np.asarray(X), np.asarray(y)
    channels_ok = X.ndim == 3 or (X.ndim == 4 and X.shape[-1] in (1, 3, 4))
    if X.dtype != np.uint8 or not channels_ok:
        raise ValueError(
            "X must be uint8 images of shape (n, H, W) or (n, H, W, C) with C in (1, 3, 4); "
            f"got shape {X.shape} and dtype {X.dtype}."
        )
    n = len(X)
    mask = np.zeros(n, bool) if synthetic_mask is None else np.asarray(synthetic_mask, bool)
    for name, value in (("y", y), ("synthetic_mask", mask),
                        ("filenames", None if filenames is None else np.asarray(filenames))):
        if value is not None and value.shape != (n,):
            raise ValueError(
                f"{name} must have one entry per image ({n}); got shape {value.shape}."
            )
    return X, y, mask
