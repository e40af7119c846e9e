"""The generator ``SynAugSampler(generator=None)`` uses, chosen by the data, and its cost.

The rule (also in the sampler's docstring):

1. **Images a shipped generator covers** -> that generator
   (:func:`~synaug_learn.generators.list_pretrained`). "Covers" means all of:
   the same image size and channels; every label names one of its classes
   (string labels by class name, case-insensitively; integer labels by index);
   and the images look like its training images: a nearest-class-mean
   classifier built from the class means stored with the model agrees with
   the labels (balanced accuracy at least ``DOMAIN_AGREEMENT``). The last test
   keeps, e.g., MNIST digits labelled 0-9 away from a Fashion-MNIST model
   whose classes are also 0-9. When in doubt, the shipped model is not used.
2. **Other images** -> an in-domain
   :class:`~synaug_learn.generators.ConditionalDiffusionGenerator` trained on
   the data, with a small UNet and a budget that scales with the data:
   ``IN_DOMAIN_EPOCHS`` passes over the rows, at least ``IN_DOMAIN_MIN_STEPS``
   and at most ``IN_DOMAIN_MAX_STEPS`` steps, and never more than
   ``IN_DOMAIN_MAX_MINUTES`` minutes.
3. **Tables** (2-D input whose rows are not square images of at least 8x8)
   -> no default generator yet: a ``ValueError`` that names the remedy.

Either image choice comes with one warning that states the expected time
(when it is more than a few seconds, or always for the in-domain model, whose
other caveat is that it mostly copies the rare classes' few images).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .utils import ImageFormat

__all__ = ["default_generator"]

DOMAIN_AGREEMENT = 0.4  # Fashion-MNIST rows vs the shipped model: 0.67; digits 28x28: 0.12
MIN_IMAGE_SIDE = 8  # a 2-D row of d = s * s features, s >= 8, is taken as an s x s grey image
IN_DOMAIN_EPOCHS = 5
IN_DOMAIN_MIN_STEPS = 100
IN_DOMAIN_MAX_STEPS = 2000
IN_DOMAIN_MAX_MINUTES = 30.0
IN_DOMAIN_PARAMS = {"block_out_channels": (16, 32), "batch_size": 32, "scheduler": "dpm++",
                    "num_inference_steps": 10}
# Seconds measured on a busy 2-core CPU (torch 2.13, 1 thread), for a 16x16 UNet input:
# one training step of the in-domain model (batch 32) and one generated image (10 solver
# steps, guided); both scale with the number of pixels.
STEP_SECONDS = 0.4
IMAGE_SECONDS = 0.07
# One image of the shipped (32, 64, 64) UNet at 28x28 with 20 guided DDIM steps.
SHIPPED_IMAGE_SECONDS = 0.9
QUIET_SECONDS = 5.0  # below this no progress bar appears with verbose="auto"


def _is_image(X):
    if X.ndim in (3, 4):
        return True
    side = math.isqrt(X.shape[1])
    return side * side == X.shape[1] and side >= MIN_IMAGE_SIDE


def _shipped_mapping(card, labels):
    """``class_mapping`` that maps every label to one of the model's classes, else ``None``."""
    n = len(card["strata"])
    if all(isinstance(v, str) for v in labels):
        names = {str(c).lower(): i for i, c in enumerate(card["class_names"] or [])}
        if all(v.lower() in names for v in labels):
            return {v: names[v.lower()] for v in labels}
        return None
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in labels):
        if all(0 <= int(v) < n for v in labels):
            return {}
    return None


def _agreement(X, y_model, fmt, means, seed=0, max_rows=2000):
    """Balanced accuracy of the nearest stored class mean on the user's rows."""
    from sklearn.metrics import balanced_accuracy_score

    rng = np.random.RandomState(seed)
    rows = rng.permutation(len(X))[:max_rows]
    x = ((fmt.to_nchw(X[rows]) + 1.0) / 2.0).reshape(len(rows), -1).astype(np.float64)
    m = np.asarray(means, dtype=np.float64).reshape(len(means), -1)
    dist = (m ** 2).sum(1)[None] - 2.0 * x @ m.T
    return float(balanced_accuracy_score(y_model[rows], dist.argmin(1)))


def _pick_shipped(X, y, fmt):
    """``(name, class_mapping)`` of a shipped generator that covers the data, else ``None``."""
    from .generators import list_pretrained
    from .generators._pretrained import describe_pretrained

    labels = np.unique(y).tolist()
    for name in list_pretrained():
        card = describe_pretrained(name)
        if (card["channels"], card["height"], card["width"]) != (
                fmt.channels, fmt.height, fmt.width) or card["class_means"] is None:
            continue
        mapping = _shipped_mapping(card, labels)
        if mapping is None:
            continue
        y_model = np.array([mapping.get(v, v) for v in y.tolist()], dtype=np.int64)
        if _agreement(X, y_model, fmt, card["class_means"]) >= DOMAIN_AGREEMENT:
            return name, (mapping or None)
    return None


def _minutes(seconds):
    return f"{seconds / 60:.1f} minutes" if seconds >= 90 else f"{seconds:.0f} s"


def in_domain_steps(n_rows):
    """Training steps of the default in-domain generator for ``n_rows`` rows."""
    steps = math.ceil(IN_DOMAIN_EPOCHS * n_rows / IN_DOMAIN_PARAMS["batch_size"])
    return int(min(IN_DOMAIN_MAX_STEPS, max(IN_DOMAIN_MIN_STEPS, steps)))


def default_generator(X, y, n_new, verbose="auto", groups=None, table=False):
    """The generator for ``SynAugSampler(generator=None)``, its verbosity, and a warning.

    Parameters
    ----------
    X : ndarray
        The checked input of ``fit_resample``.
    y : ndarray
        Its labels.
    n_new : int
        Rows that will be generated.
    verbose : int or "auto"
        The sampler's ``verbose``; ``"auto"`` shows progress bars when the
        expected cost is above a few seconds.
    groups : ndarray or None
        With groups, strata are ``(class, group)`` cells, which the shipped
        generators (trained on classes) do not know: the in-domain model is used.
    table : bool, default=False
        The input came as a DataFrame: a table whatever its number of columns.

    Returns
    -------
    generator : unfitted generator
    verbose : int
        The verbosity the sampler should use for the generator and the bank.
    """
    if table or (X.ndim == 2 and not _is_image(X)):
        from .generators import TabularDiffusionGenerator

        # Tables: a small MLP diffusion model, seconds on a CPU (its budget scales with the rows).
        level = 0 if verbose == "auto" else int(verbose)
        return TabularDiffusionGenerator(verbose=level), level
    from .generators import ConditionalDiffusionGenerator

    fmt = ImageFormat.from_array(X)
    scale = (max(fmt.height, fmt.width, 16) / 16) ** 2
    picked = None if groups is not None else _pick_shipped(X, y, fmt)
    if picked is not None:
        name, mapping = picked
        seconds = n_new * SHIPPED_IMAGE_SECONDS * scale / (28 / 16) ** 2
        level = _verbosity(verbose, seconds)
        gen = ConditionalDiffusionGenerator.from_pretrained(name, class_mapping=mapping,
                                                            verbose=level)
        if seconds > 60:
            warnings.warn(
                f"SynAugSampler(generator=None) uses the shipped generator {name!r}, which "
                f"covers these images; generating {n_new} images takes about "
                f"{_minutes(seconds)} on a 2-core CPU (a GPU: device='cuda').",
                UserWarning, stacklevel=4)
        return gen, level
    steps = in_domain_steps(len(y))
    seconds = (steps * STEP_SECONDS + n_new * IMAGE_SECONDS) * scale
    level = _verbosity(verbose, seconds)
    gen = ConditionalDiffusionGenerator(max_steps=steps, max_minutes=IN_DOMAIN_MAX_MINUTES,
                                        verbose=level, **IN_DOMAIN_PARAMS)
    warnings.warn(
        f"SynAugSampler(generator=None): no shipped generator covers these "
        f"{fmt.height}x{fmt.width}x{fmt.channels} images and labels, so a small diffusion "
        f"model is trained on them: {steps} steps ({IN_DOMAIN_EPOCHS:g} passes over "
        f"{len(y)} rows; at least {IN_DOMAIN_MIN_STEPS}, at most {IN_DOMAIN_MAX_STEPS} steps "
        f"or {IN_DOMAIN_MAX_MINUTES:g} minutes), then {n_new} images, about "
        f"{_minutes(seconds)} on a 2-core CPU. An "
        "in-domain generator mostly copies the rare classes' few images: check the "
        "sampler's report_ (novelty) and prefer a pretrained generator.",
        UserWarning, stacklevel=4)
    return gen, level


def _verbosity(verbose, seconds):
    if verbose == "auto":
        return int(seconds > QUIET_SECONDS)
    return int(verbose)
