"""UTKFace: faces labelled with age, gender and race in their file names."""

from __future__ import annotations

import os
import warnings
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._image_folder import IMAGE_EXTENSIONS, _check_image_size, read_images

__all__ = ["UTKFACE_GENDERS", "UTKFACE_RACES", "load_utkface"]

#: Gender names, indexed by the file name's gender field.
UTKFACE_GENDERS = ("male", "female")
#: Race names, indexed by the file name's race field.
UTKFACE_RACES = ("White", "Black", "Asian", "Indian", "Others")

_DESCR = """UTKFace (Zhang, Song and Qi, 2017)
----------------------------------
Over 20,000 face images with age (0-116), gender (0 male, 1 female) and race
(0 White, 1 Black, 2 Asian, 3 Indian, 4 Others) annotations, encoded in each
file name as [age]_[gender]_[race]_[date&time].jpg. Non-commercial research use.
"""


def _parse_name(name: str):
    """``(age, gender, race)`` from a UTKFace file name, or ``None`` if it does not parse.

    The name's stem (up to the first dot, so ``.jpg.chip.jpg`` works) must be
    four ``_``-separated fields: a non-negative integer age, gender 0 or 1,
    race 0-4, and a non-empty date&time field.
    """
    fields = name.split(".", 1)[0].split("_")
    if len(fields) != 4 or not all(f.isdigit() for f in fields[:3]) or not fields[3]:
        return None
    age, gender, race = (int(f) for f in fields[:3])
    if gender >= len(UTKFACE_GENDERS) or race >= len(UTKFACE_RACES):
        return None
    return age, gender, race


@validate_params(
    {
        "path": [str, os.PathLike],
        "target": [StrOptions({"age", "gender", "race"})],
        "image_size": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
    },
    prefer_skip_nested_validation=True,
)
def load_utkface(path, target="age", image_size=None):
    """Load UTKFace images and the labels encoded in their file names.

    Files are named ``[age]_[gender]_[race]_[date&time].jpg`` (the aligned,
    cropped release adds ``.chip.jpg``): age an integer, gender 0 (male) or
    1 (female), race 0 (White), 1 (Black), 2 (Asian), 3 (Indian) or 4
    (Others). Image files (by extension) anywhere under ``path`` are read, in
    sorted order. A few files of the public release have a missing or
    malformed field; they are not loaded, and a :class:`UserWarning` says
    how many and names some, and ``malformed`` lists them all.

    Parameters
    ----------
    path : str or path-like
        Folder with the images (sub-folders such as ``part1/`` are searched).
    target : {"age", "gender", "race"}, default="age"
        Which annotation is ``target``. All three are returned anyway.
    image_size : int or (height, width), default=None
        Resize every image (bilinear). ``None`` keeps the files' sizes, which
        must all be equal (200x200 in the aligned release).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` uint8 ``(n, H, W, 3)``; ``target``; ``age``, ``gender``,
        ``race`` (int64 arrays); ``target_names`` (gender or race names,
        ``None`` for age); ``filenames`` (paths relative to ``path`` of the
        loaded images); ``malformed`` (list of the paths that did not parse)
        and ``DESCR``.

    Examples
    --------
    >>> import tempfile, warnings
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from synaug_learn.datasets import load_utkface
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ["25_1_2_20170116174525125.jpg.chip.jpg", "61_0_0_20170109150557335.jpg",
    ...              "61_1_20170109142408075.jpg.chip.jpg"]:  # the last lacks its race
    ...     Image.new("RGB", (4, 4)).save(root / name, format="JPEG")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     faces = load_utkface(root, target="race")
    >>> faces.data.shape, faces.target.tolist(), faces.age.tolist(), faces.gender.tolist()
    ((2, 4, 4, 3), [2, 0], [25, 61], [1, 0])
    >>> faces.malformed
    ['61_1_20170109142408075.jpg.chip.jpg']
    >>> caught[0].category.__name__, str(caught[0].message)[:22]
    ('UserWarning', '1 UTKFace file name(s)')
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"path={str(path)!r} is not a folder.")
    _check_image_size(image_size)
    candidates = sorted(
        f
        for f in root.rglob("*")
        if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in IMAGE_EXTENSIONS
    )
    files, labels, malformed = [], [], []
    for file in candidates:
        parsed = _parse_name(file.name)
        if parsed is None:
            malformed.append(str(file.relative_to(root)))
        else:
            files.append(file)
            labels.append(parsed)
    if malformed:
        warnings.warn(
            f"{len(malformed)} UTKFace file name(s) did not parse as "
            f"[age]_[gender]_[race]_[date&time].jpg and were not loaded, e.g. "
            f"{malformed[:3]}; see the 'malformed' entry of the result.",
            UserWarning,
            stacklevel=2,
        )
    if not files:
        raise ValueError(f"path={str(path)!r} holds no UTKFace image with a well-formed name.")
    age, gender, race = (np.asarray(col, dtype=np.int64) for col in zip(*labels))
    X = read_images(files, root, image_size=image_size, color_mode="rgb")
    annotations = {"age": age, "gender": gender, "race": race}
    names = {"age": None, "gender": np.asarray(UTKFACE_GENDERS), "race": np.asarray(UTKFACE_RACES)}
    return Bunch(
        data=X,
        target=annotations[target],
        age=age,
        gender=gender,
        race=race,
        target_names=names[target],
        filenames=[str(f.relative_to(root)) for f in files],
        malformed=malformed,
        DESCR=_DESCR,
    )
