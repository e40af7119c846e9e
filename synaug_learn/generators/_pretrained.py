"""Saved generators: the shipped ones, their folders, their recorded hashes and class names.

What :meth:`ConditionalDiffusionGenerator.from_pretrained` and
``save_pretrained`` read and write besides the model itself: where a name or a
path points, the checked ``synaug_generator.json``, the SHA-256 of the weights,
and the class names recorded in ``training.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

__all__ = [
    "class_mapping_by_name",
    "describe_pretrained",
    "list_pretrained",
    "pretrained_hashes",
    "pretrained_path",
    "verify_pretrained",
]

CONFIG_NAME = "synaug_generator.json"
PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"


def list_pretrained():
    """List the generators shipped with the package (usable as ``pretrained=``).

    Returns
    -------
    names : list of str
        Sorted names of the saved generators in the package's ``pretrained``
        folder; each can be passed to
        :meth:`ConditionalDiffusionGenerator.from_pretrained`.

    Examples
    --------
    >>> from synaug_learn.generators import list_pretrained
    >>> isinstance(list_pretrained(), list)
    True
    >>> list_pretrained()  # doctest: +SKIP
    ['fashion-mnist-small']
    """
    if not PRETRAINED_DIR.is_dir():
        return []
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / CONFIG_NAME).is_file())


def _is_path(pretrained):
    """Whether ``pretrained`` names a folder (not a shipped model): see ``pretrained_path``."""
    if isinstance(pretrained, os.PathLike):
        return True
    text = str(pretrained)
    seps = [os.sep] + ([os.altsep] if os.altsep else [])
    return (any(sep in text for sep in seps) or text.startswith((".", "~"))
            or Path(text).expanduser().is_dir())


def pretrained_path(pretrained):
    """The folder that :meth:`ConditionalDiffusionGenerator.from_pretrained` reads.

    A path -- a ``Path``, or a string holding a path separator, starting with
    ``.`` or ``~``, or naming an existing folder -- always means that folder,
    never a shipped model; a bare name means a shipped model. Use it to read
    the files saved beside a generator, e.g. its ``training.json`` or the
    ``pool_rows.json`` that lists the rows it was pretrained on.

    Parameters
    ----------
    pretrained : str or path-like
        A shipped generator's name (see :func:`list_pretrained`) or a folder
        written by :meth:`ConditionalDiffusionGenerator.save_pretrained`.

    Returns
    -------
    folder : pathlib.Path
        The folder holding the generator's ``synaug_generator.json``.

    Raises
    ------
    ValueError
        When ``pretrained`` is neither a shipped name nor such a folder.

    Examples
    --------
    >>> from synaug_learn.generators import pretrained_path
    >>> folder = pretrained_path("fashion-mnist-small")
    >>> (folder / "synaug_generator.json").is_file()
    True
    """
    shipped = ", ".join(repr(n) for n in list_pretrained()) or "none"
    if _is_path(pretrained):
        folder = Path(pretrained).expanduser()
        if (folder / CONFIG_NAME).is_file():
            return folder
        problem = ("holds no " + CONFIG_NAME if folder.is_dir() else "does not exist")
        raise ValueError(
            f"pretrained={str(pretrained)!r} is a path, so it means the folder "
            f"{str(folder.resolve())!r}, which {problem} (a folder written by save_pretrained "
            f"holds one). The shipped generators, named without a path, are: {shipped}."
        )
    folder = PRETRAINED_DIR / str(pretrained)
    if (folder / CONFIG_NAME).is_file():
        return folder
    raise ValueError(
        f"pretrained={str(pretrained)!r} is not a shipped generator (those are: {shipped}), "
        f"and no folder {str(Path(str(pretrained)).resolve())!r} exists. Pass a folder "
        "written by save_pretrained as a path (e.g. './my-generator')."
    )


# The keys of synaug_generator.json that loading needs, with their types.
REQUIRED_KEYS = {"strata": list, "image_size": int, "channels": int, "height": int, "width": int}


def read_config(folder):
    """The checked contents of ``folder/synaug_generator.json``; ValueError naming the file."""
    path = Path(folder) / CONFIG_NAME
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno}); re-save the generator with "
                         "save_pretrained.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} cannot be read: {exc}.") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path} must hold a JSON object; got {type(meta).__name__}.")
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise ValueError(f"{path} lacks the key(s) {missing!r} that loading needs; re-save the "
                         "generator with save_pretrained.")
    for key, kind in REQUIRED_KEYS.items():
        value = meta[key]
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value < 1):
            raise ValueError(f"{path}: {key!r} must be a{' positive' if kind is int else ''} "
                             f"{kind.__name__}; got {value!r}.")
    bad = [s for s in meta["strata"] if not (isinstance(s, list) and len(s) == 2)]
    if bad or not meta["strata"]:
        raise ValueError(f"{path}: 'strata' must be a non-empty list of [label, group] pairs; "
                         f"got {(bad or meta['strata'])[:3]!r}.")
    return meta


def _sha256(file):
    h = hashlib.sha256()
    with open(file, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _hashed_files(path):
    """The files whose SHA-256 a saved generator records: weights and the UNet's config."""
    path = Path(path)
    files = sorted(path.rglob("*.safetensors")) + [path / "unet" / "config.json"]
    return [f.relative_to(path).as_posix() for f in files if f.is_file()]


def pretrained_hashes(path):
    """SHA-256 of a saved generator's weights and UNet config, keyed by relative path.

    What :meth:`ConditionalDiffusionGenerator.save_pretrained` records in the
    folder's json (``"sha256"``) and ``from_pretrained`` checks; a script that
    writes a model folder by other means (a distilled student) records it too.

    Parameters
    ----------
    path : str or Path
        The model folder.

    Returns
    -------
    dict
        ``{relative path: hex digest}`` of the ``*.safetensors`` files and
        ``unet/config.json``.

    Examples
    --------
    >>> from synaug_learn.generators import pretrained_hashes
    >>> from synaug_learn.generators._pretrained import PRETRAINED_DIR
    >>> sorted(pretrained_hashes(PRETRAINED_DIR / "fashion-mnist-small"))[-1]
    'unet/diffusion_pytorch_model.safetensors'
    """
    return {rel: _sha256(Path(path) / rel) for rel in _hashed_files(path)}


def save_unet(unet, path):
    """Save a diffusers ``unet`` to ``path/unet`` (safetensors) without the folder it came from.

    diffusers records the folder a model was loaded from in its config as ``_name_or_path``:
    a path of the machine that saved it, which a saved generator (shipped, shared, hashed)
    should not carry. A model that was not loaded from a folder is saved as diffusers writes
    it.
    """
    folder = Path(path) / "unet"
    unet.save_pretrained(folder, safe_serialization=True)
    config_file = folder / "config.json"
    config = json.loads(config_file.read_text())
    if "_name_or_path" in config:
        del config["_name_or_path"]
        config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def verify_pretrained(path, meta=None):
    """Check a saved generator's files against the SHA-256 recorded in its json.

    A folder that records none (written before synaug-learn recorded them)
    loads with a ``UserWarning``; a file whose hash differs, or that is
    missing, raises a ``ValueError`` naming it.
    """
    path = Path(path)
    if meta is None:
        meta = read_config(path)
    recorded = meta.get("sha256")
    if not recorded:
        warnings.warn(
            f"the generator at {str(path)!r} records no SHA-256 of its weights (saved by an "
            "older synaug-learn), so damaged or replaced files cannot be detected; save it "
            "again with save_pretrained to record them.", UserWarning, stacklevel=3)
        return
    for rel, expected in sorted(recorded.items()):
        file = path / rel
        if not file.is_file():
            raise ValueError(f"weights file {str(file)!r} listed in {path / CONFIG_NAME} is "
                             "missing.")
        if _sha256(file) != expected:
            raise ValueError(
                f"weights file {str(file)!r} does not match the SHA-256 recorded in "
                f"{path / CONFIG_NAME}: it is damaged or was replaced. Restore it or save "
                "the generator again.")


def describe_pretrained(pretrained):
    """Format, classes and stored class means of a saved generator (checked by its hashes).

    Returns a dict with ``channels``, ``height``, ``width``, ``strata``,
    ``class_names`` (or ``None``) and ``class_means`` (``(n_classes, C, H, W)``
    in [0, 1], from ``class_means.safetensors``, or ``None``).
    """
    path = pretrained_path(pretrained)
    meta = read_config(path)
    verify_pretrained(path, meta)
    info = path / "training.json"
    names = json.loads(info.read_text()).get("class_names") if info.is_file() else None
    means = None
    if (path / "class_means.safetensors").is_file():
        from safetensors.numpy import load_file

        means = load_file(path / "class_means.safetensors")["class_means"]
    return {"channels": meta["channels"], "height": meta["height"], "width": meta["width"],
            "strata": meta["strata"], "class_names": names, "class_means": means}


def class_mapping_by_name(pretrained, class_names):
    """Match your class names to those a pretrained generator was trained on.

    Reads the class names recorded with the pretrained model (its
    ``training.json``) and maps, case-insensitively, each of your labels --
    label ``i`` is ``class_names[i]`` -- to the model's label of that name
    (a folder name that cannot hold the name's ``/`` matches when escaped,
    ``T-shirt%2Ftop``, or with only its letters and digits, ``T-shirt_top``):
    the ``class_mapping`` parameter of :class:`ConditionalDiffusionGenerator`.

    Parameters
    ----------
    pretrained : str or path-like
        A shipped generator's name (:func:`list_pretrained`) or a folder
        written by ``save_pretrained``.
    class_names : sequence of str
        Your class names, indexed by your labels (e.g. ``target_names`` of
        :func:`~synaug_learn.datasets.load_image_folder`).

    Returns
    -------
    mapping : dict or None
        ``{your label: the model's label}``; ``None`` when the model recorded
        no class names (then your label ``i`` is taken to be its label ``i``).

    Raises
    ------
    ValueError
        When ``pretrained`` is not found, or a name is not among the model's.

    Examples
    --------
    >>> from synaug_learn.generators import class_mapping_by_name
    >>> class_mapping_by_name("fashion-mnist-small", ["bag", "Sneaker"])
    {0: 8, 1: 7}
    """
    info = pretrained_path(pretrained) / "training.json"
    if not info.is_file():
        return None
    try:
        known = json.loads(info.read_text()).get("class_names") or []
    except (json.JSONDecodeError, AttributeError) as exc:
        raise ValueError(f"{info} is not a valid JSON object ({exc}).") from None
    keys = [_name_keys(n) for n in known]
    mapping, unknown = {}, []
    for i, name in enumerate(class_names):
        for rank, key in enumerate(_name_keys(name)):  # the strictest match that is unique
            hits = {j for j, k in enumerate(keys) if k[rank] == key}
            if len(hits) == 1:
                mapping[i] = hits.pop()
                break
        else:
            unknown.append(name)
    if unknown:
        raise ValueError(
            f"class_names {unknown!r} are not known to pretrained={str(pretrained)!r}; its "
            f"classes are {known!r}."
        )
    return mapping


def _name_keys(name):
    """Keys a class name matches by, strictest first: the name case-folded; with folder
    escapes (``%2F``) decoded; letters and digits only (``T-shirt_top`` is ``T-shirt/top``)."""
    from urllib.parse import unquote

    folded = str(name).casefold()
    decoded = unquote(folded)
    return folded, decoded, "".join(c for c in decoded if c.isalnum())
