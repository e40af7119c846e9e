"""A Waterbirds-like spurious-correlation task made from grey images."""

from __future__ import annotations

import colorsys
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_consistent_length

from ..utils import check_xy

__all__ = ["make_spurious_colour"]


def _default_palette(n_colours: int) -> np.ndarray:
    """``n_colours`` evenly spaced hues at full saturation and value 0.75, uint8 RGB."""
    hsv = [colorsys.hsv_to_rgb(k / n_colours, 1.0, 0.75) for k in range(n_colours)]
    return np.rint(255 * np.asarray(hsv)).astype(np.uint8)


def _check_images(X, y):
    """``(X, y)`` as arrays: grey images of shape (n, H, W) of a real dtype, 1-D labels."""
    X = np.asarray(X)
    if X.ndim == 4 and X.shape[-1] == 1:
        X = X[..., 0]
    if X.ndim != 3:
        raise ValueError(
            f"X must hold grey images of shape (n_samples, H, W); got shape {X.shape}."
        )
    if X.dtype == np.bool_ or not (
        np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating)
    ):
        raise TypeError(f"X must be uint8 or a real numeric dtype; got dtype {X.dtype}.")
    return check_xy(X, y)


def _check_palette(palette, n_colours, n_classes):
    """``(palette, n_colours)``: the checked uint8 palette (or None) and the number of colours."""
    if palette is not None:
        palette = np.asarray(palette)
        if (
            palette.ndim != 2
            or palette.shape[1] != 3
            or len(palette) < 2
            or not np.all((palette >= 0) & (palette <= 255))
        ):
            raise ValueError(
                "palette must be an (n_colours, 3) array of RGB values in [0, 255] with "
                f"n_colours >= 2; got {palette.tolist()}."
            )
        if n_colours is not None and n_colours != len(palette):
            raise ValueError(
                f"n_colours={n_colours} differs from the {len(palette)} colours of palette."
            )
        n_colours = len(palette)
        palette = np.rint(palette).astype(np.uint8)
    elif n_colours is None:
        n_colours = max(n_classes, 2)
    return palette, n_colours


def _check_groups(groups, y, n_colours):
    """``groups`` as an array, checked to be 1-D integer colour indices in [0, n_colours)."""
    groups = np.asarray(groups)
    check_consistent_length(y, groups)
    if groups.ndim != 1 or not (
        np.issubdtype(groups.dtype, np.integer)
        and (groups.size == 0 or (groups.min() >= 0 and groups.max() < n_colours))
    ):
        raise ValueError(
            f"groups must be 1-D integer colour indices in [0, {n_colours}) "
            f"(n_colours={n_colours}); got {np.unique(groups).tolist()!r}."
        )
    return groups


def _intensity(X):
    """``(v, grey)``: pixel intensities in [0, 1] and the grey uint8 foreground values."""
    if X.dtype == np.uint8:
        v = X / 255.0
        grey = X
    else:
        Xf = X.astype(np.float64)
        if not np.isfinite(Xf).all():
            raise ValueError("X contains NaN or infinite values.")
        lo, hi = (Xf.min(), Xf.max()) if Xf.size else (0.0, 0.0)
        v = (Xf - lo) / (hi - lo) if hi > lo else np.zeros_like(Xf)
        grey = np.rint(255 * v).astype(np.uint8)
    return v, grey


def _draw_colours(class_index, n_colours, correlation, random_state):
    """Colour index per row: the class's own with probability ``correlation``, else another."""
    rng = check_random_state(random_state)
    n = len(class_index)
    own = rng.random_sample(n) < correlation
    other = rng.randint(n_colours - 1, size=n)
    other = other + (other >= class_index)  # uniform over the colours != the class's own
    return np.where(own, class_index, other)


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "n_colours": [Interval(Integral, 2, None, closed="left"), None],
        "correlation": [Interval(Real, 0, 1, closed="both")],
        "background_threshold": [Interval(Real, 0, 1, closed="right")],
        "palette": ["array-like", None],
        "random_state": ["random_state"],
        "groups": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def make_spurious_colour(
    X,
    y,
    n_colours=None,
    correlation=0.95,
    background_threshold=0.1,
    palette=None,
    random_state=None,
    groups=None,
):
    """Colour the background of grey images with a colour spuriously tied to the class.

    A Waterbirds-like task (Sagawa et al., 2020): each class has its own
    background colour, which a classifier can use as a shortcut on the
    training data; the groups (class, colour) where the shortcut fails are
    rare, so the worst-group accuracy shows whether a model relies on it.

    Precisely, with ``classes = np.unique(y)`` and ``c(i)`` the position of
    ``y[i]`` in ``classes``:

    1. **Colour index** ``groups[i]``: with probability ``correlation``,
       ``c(i)`` (the class's own colour); otherwise one of the other
       ``n_colours - 1`` colours, uniformly. ``correlation = 1 / n_colours``
       makes colour and class independent; 1 makes them identical.
       With ``groups`` given, that colour index is used instead (nothing is
       drawn).
    2. **Intensity** ``v`` in [0, 1] of every pixel: ``X / 255`` for uint8
       images; for any other numeric dtype (e.g. float digits in [0, 16]),
       ``(X - X.min()) / (X.max() - X.min())`` over the whole array
       (0 everywhere when ``X`` is constant).
    3. **Background** = pixels with ``v < background_threshold`` (the dark
       pixels; 0 is the background of MNIST-like images). Those pixels are
       set to the RGB colour ``palette[groups[i]]``; the other
       (foreground) pixels stay grey: ``R = G = B = X`` for uint8, else
       ``round(255 * v)``.

    Parameters
    ----------
    X : array-like of shape (n_samples, H, W) or (n_samples, H, W, 1)
        Grey images, uint8 or another real dtype (see above).
    y : array-like of shape (n_samples,)
        Class labels.
    n_colours : int, default=None
        Number of background colours, ``>= n_classes`` unless ``groups`` is
        given (colours beyond the classes' own appear only as "other"
        colours). ``None``: the number of classes, or ``len(palette)`` when a
        palette is given; it also sets the default palette, so pass it with
        ``groups`` to render the colours of a task with fewer classes.
    correlation : float, default=0.95
        Probability that a row gets its class's own colour.
    background_threshold : float, default=0.1
        Pixels with intensity ``v`` below this are background, in (0, 1].
    palette : array-like of shape (n_colours, 3), default=None
        RGB colours in [0, 255]. ``None``: ``n_colours`` evenly spaced hues,
        ``palette[k] = round(255 * hsv_to_rgb(k / n_colours, 1, 0.75))``
        (so colour 0 is a dark red).
    random_state : int, RandomState instance or None, default=None
        Controls the colour draws.
    groups : array-like of shape (n_samples,), default=None
        The colour index of each row (integers in ``[0, n_colours)``), to
        render chosen colours instead of drawing them: e.g. a pretraining pool
        where colour and class are independent except for cells left empty.
        ``correlation`` and ``random_state`` are then unused, and ``y`` may
        have more classes than colours. ``None``: drawn as above.

    Returns
    -------
    X_rgb : ndarray of shape (n_samples, H, W, 3), dtype=uint8
        The coloured images.
    y : ndarray of shape (n_samples,)
        The labels, unchanged.
    groups : ndarray of shape (n_samples,), dtype=int64
        The colour index of each row; use ``(y, groups)`` as the groups of
        :func:`synaug_learn.metrics.worst_group_accuracy`.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.datasets import make_spurious_colour
    >>> X = np.zeros((4, 2, 2), dtype=np.uint8)
    >>> X[:, 0, 0] = 200  # one bright foreground pixel per image
    >>> y = np.array([0, 0, 1, 1])
    >>> X_rgb, y_out, groups = make_spurious_colour(X, y, correlation=1.0, random_state=0)
    >>> X_rgb.shape, groups.tolist()
    ((4, 2, 2, 3), [0, 0, 1, 1])
    >>> X_rgb[0, 0, 0].tolist(), X_rgb[0, 1, 1].tolist(), X_rgb[2, 1, 1].tolist()
    ([200, 200, 200], [191, 0, 0], [0, 191, 191])

    Chosen colours (three classes, two colours):

    >>> _, _, groups = make_spurious_colour(np.zeros((3, 2, 2)), [0, 1, 2], n_colours=2,
    ...                                     groups=[1, 0, 1])
    >>> groups.tolist()
    [1, 0, 1]
    """
    X, y = _check_images(X, y)
    classes, class_index = np.unique(y, return_inverse=True)
    palette, n_colours = _check_palette(palette, n_colours, len(classes))
    if groups is not None:
        groups = _check_groups(groups, y, n_colours)
    elif n_colours < len(classes):
        raise ValueError(
            f"n_colours={n_colours} is smaller than the {len(classes)} classes of y; every "
            "class needs its own colour."
        )
    if palette is None:
        palette = _default_palette(n_colours)
    v, grey = _intensity(X)

    if groups is None:
        groups = _draw_colours(class_index, n_colours, correlation, random_state)
    groups = groups.astype(np.int64)

    background = (v < background_threshold)[..., None]
    X_rgb = np.where(background, palette[groups][:, None, None, :], grey[..., None])
    return X_rgb.astype(np.uint8), y, groups
