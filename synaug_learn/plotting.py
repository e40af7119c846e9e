"""Plots for imbalanced image data: class counts before/after, sample grids, per-class accuracy.

Every function draws on a given matplotlib ``Axes`` (or a new figure) and
returns the ``Axes``; ``matplotlib.pyplot`` is imported only when a function
is called.
"""

from __future__ import annotations

import numbers

import numpy as np

from .utils import ImageFormat, check_count

__all__ = ["plot_class_distribution", "plot_per_class_accuracy", "plot_samples"]

_REAL_COLOUR = "tab:blue"
_SYN_COLOUR = "tab:orange"


def _new_axes(ax, figsize):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _class_names(classes, class_names):
    """Display names for ``classes`` from None, a dict or a sequence."""
    classes = list(classes)
    if class_names is None:
        return [str(c) for c in classes]
    if isinstance(class_names, dict):
        return [str(class_names.get(c, c)) for c in classes]
    if isinstance(class_names, str) or not hasattr(class_names, "__len__"):
        raise TypeError(
            f"class_names must be None, a dict or a sequence of names; got {class_names!r}."
        )
    names = list(class_names)
    integral = all(isinstance(c, numbers.Integral) and not isinstance(c, bool) for c in classes)
    if integral and all(0 <= c < len(names) for c in classes):
        return [str(names[c]) for c in classes]  # indexed by label: names of all classes
    if len(names) == len(classes):
        return [str(n) for n in names]  # one name per class present, in sorted order
    raise ValueError(
        f"class_names has {len(names)} names, which fits neither the labels {classes!r} "
        f"(as indices) nor their number ({len(classes)})."
    )


def _labels(y, name):
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D labels; got shape {y.shape}.")
    return y


def plot_class_distribution(y_before, y_after=None, ax=None, class_names=None, log=False):
    """Bar chart of the rows per class, before and (stacked on top) after resampling.

    With ``y_after``, each class has one bar of its original rows and, stacked
    on it, one bar of the rows added (``count_after - count_before``, the
    synthetic share for an over-sampler), labelled with their percentage.
    Classes whose count went down are drawn at their new count.

    Parameters
    ----------
    y_before : array-like of shape (n,)
        Labels of the original data.
    y_after : array-like of shape (m,), default=None
        Labels after resampling (e.g. ``fit_resample``'s ``y``).
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when ``None``.
    class_names : dict or sequence, default=None
        ``{label: name}``, or names indexed by integer label (or one per
        class present, in sorted order).
    log : bool, default=False
        Logarithmic count axis (long-tailed data).

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from synaug_learn.plotting import plot_class_distribution
    >>> ax = plot_class_distribution([0, 0, 0, 1], [0, 0, 0, 1, 1, 1])
    >>> [int(p.get_height()) for p in ax.patches]
    [3, 1, 0, 2]
    """
    y_before = _labels(y_before, "y_before")
    y_after = None if y_after is None else _labels(y_after, "y_after")
    classes = np.unique(y_before if y_after is None else np.concatenate([y_before, y_after]))
    names = _class_names(classes.tolist(), class_names)
    before = np.array([np.sum(y_before == c) for c in classes])
    ax = _new_axes(ax, (max(5.0, 0.5 * len(classes) + 2), 3.5))
    x = np.arange(len(classes))
    if y_after is None:
        ax.bar(x, before, color=_REAL_COLOUR, label="rows")
    else:
        after = np.array([np.sum(y_after == c) for c in classes])
        real = np.minimum(before, after)
        added = np.maximum(after - before, 0)
        ax.bar(x, real, color=_REAL_COLOUR, label="original")
        bars = ax.bar(x, added, bottom=real, color=_SYN_COLOUR, label="added (synthetic)")
        for bar, a, total in zip(bars, added, after):
            if a > 0:
                ax.annotate(f"{100 * a / total:.0f}%", (bar.get_x() + bar.get_width() / 2,
                                                       total), ha="center", va="bottom",
                            fontsize="x-small")
        ax.legend(fontsize="small")
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=45 if max(len(n) for n in names) > 3 else 0,
                       ha="right" if max(len(n) for n in names) > 3 else "center")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("class")
    ax.set_ylabel("rows")
    return ax


def _to_display(X, name, image_shape=None):
    """Images as float (n, H, W, C) in [0, 1] with C in {1, 3, 4}."""
    X = np.asarray(X)
    if X.ndim == 2 and image_shape is None and round(np.sqrt(X.shape[1])) ** 2 != X.shape[1]:
        raise ValueError(
            f"{name} is 2-D with {X.shape[1]} features, which is not a square image; pass "
            "image_shape=(H, W) or (H, W, C)."
        )
    fmt = ImageFormat.from_array(X, image_shape=image_shape, param_name=name)
    x = (fmt.to_nchw(X) + 1.0) / 2.0
    return np.clip(x.transpose(0, 2, 3, 1), 0.0, 1.0)


def plot_samples(X, y, n_per_class=8, class_names=None, synthetic_mask=None, ax=None,
                 random_state=None, image_shape=None):
    """A grid of images: one row per class, ``n_per_class`` images each.

    With ``synthetic_mask``, each row shows real images first and then
    synthetic ones (half each when both are available), the synthetic ones
    framed in orange.

    Parameters
    ----------
    X : array-like
        Images as (n, H, W), (n, H, W, C), (n, C, H, W) or 2-D rows that are
        square grey images (e.g. digits' 64 = 8x8); uint8 or float.
    y : array-like of shape (n,)
        Labels.
    n_per_class : int, default=8
        Images per class (fewer when a class has fewer).
    class_names : dict or sequence, default=None
        As in :func:`plot_class_distribution`.
    synthetic_mask : array-like of bool of shape (n,), default=None
        Which rows are synthetic (e.g. ``SynAugSampler.synthetic_mask_``).
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when ``None``. The grid is one image.
    random_state : int, RandomState or None, default=None
        ``None`` shows the first rows of each class; otherwise a random choice.
    image_shape : tuple, default=None
        ``(H, W)`` or ``(H, W, C)`` of 2-D rows that are not square grey images.

    Returns
    -------
    ax : matplotlib Axes
        ``ax.images[0]`` holds the grid (RGBA; empty cells are transparent).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from synaug_learn.plotting import plot_samples
    >>> X = np.zeros((6, 8, 8), dtype=np.uint8)
    >>> ax = plot_samples(X, [0, 0, 0, 1, 1, 1], n_per_class=2)
    >>> ax.images[0].get_array().shape
    (19, 19, 4)
    """
    from matplotlib.patches import Rectangle
    from sklearn.utils import check_random_state

    y = _labels(y, "y")
    X = np.asarray(X)
    if X.ndim not in (2, 3, 4) or len(X) == 0:
        raise ValueError(
            f"X must hold at least one image as 2-D rows, (n, H, W), (n, H, W, C) or "
            f"(n, C, H, W); got shape {X.shape}."
        )
    if len(X) != len(y):
        raise ValueError(f"y must have one label per image of X ({len(X)}); got {len(y)}.")
    check_count(n_per_class, "n_per_class", 1, allow_none=False)
    if synthetic_mask is None:
        mask = np.zeros(len(y), dtype=bool)
    else:
        mask = np.asarray(synthetic_mask)
        if mask.shape != (len(y),) or mask.dtype != bool:
            raise ValueError(
                f"synthetic_mask must be a boolean array of shape ({len(y)},); got dtype "
                f"{mask.dtype} and shape {mask.shape}."
            )
    classes = np.unique(y)
    names = _class_names(classes.tolist(), class_names)
    rng = None if random_state is None else check_random_state(random_state)

    def pick(idx, k):
        if k <= 0:
            return idx[:0]
        if rng is None or len(idx) <= k:
            return idx[:k]
        return np.sort(rng.choice(idx, size=k, replace=False))

    chosen = []
    for c in classes:
        real = np.flatnonzero((y == c) & ~mask)
        syn = np.flatnonzero((y == c) & mask)
        k_syn = min(len(syn), max(n_per_class - len(real), n_per_class // 2 if len(syn) else 0))
        k_real = min(len(real), n_per_class - k_syn)
        chosen.append([(i, False) for i in pick(real, k_real)] +
                      [(i, True) for i in pick(syn, k_syn)])

    shown = np.array(sorted({i for row in chosen for i, _ in row}), dtype=int)
    images = _to_display(X[shown], "X", image_shape)
    pos = {int(i): p for p, i in enumerate(shown)}
    h, w = images.shape[1:3]
    pad = 1
    n_rows, n_cols = len(classes), n_per_class
    canvas = np.zeros((n_rows * (h + pad) + pad, n_cols * (w + pad) + pad, 4), dtype=np.float32)
    frames = []
    for r, row in enumerate(chosen):
        for col, (i, is_syn) in enumerate(row):
            img = images[pos[int(i)]]
            if img.shape[-1] == 1:
                img = np.repeat(img, 3, axis=-1)
            top, left = pad + r * (h + pad), pad + col * (w + pad)
            canvas[top:top + h, left:left + w, :3] = img[..., :3]
            canvas[top:top + h, left:left + w, 3] = 1.0
            if is_syn:
                frames.append((left, top))

    ax = _new_axes(ax, (max(3.0, 0.6 * n_cols + 1.5), max(2.0, 0.6 * n_rows + 0.5)))
    ax.imshow(canvas, interpolation="nearest")
    for left, top in frames:
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), w, h, fill=False,
                               edgecolor=_SYN_COLOUR, linewidth=1.5))
    ax.set_yticks([pad + r * (h + pad) + (h - 1) / 2 for r in range(n_rows)])
    ax.set_yticklabels(names)
    ax.set_xticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if frames:
        ax.set_title("orange frame: synthetic", fontsize="small")
    return ax


def plot_per_class_accuracy(results, class_names=None, ax=None):
    """Grouped bars of per-class accuracy, one bar per method within each class.

    Parameters
    ----------
    results : dict
        ``{method_name: {label: accuracy}}``; a method may miss some labels.
        The legend, to the right of the axes so that it covers no bar, shows
        each method's mean over its classes (balanced accuracy when every
        class is present).
    class_names : dict or sequence, default=None
        As in :func:`plot_class_distribution`.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when ``None``.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from synaug_learn.plotting import plot_per_class_accuracy
    >>> ax = plot_per_class_accuracy({"CE": {0: 0.9, 1: 0.5}, "SynAuG": {0: 0.9, 1: 0.8}})
    >>> len(ax.patches)
    4
    """
    if not isinstance(results, dict) or not results:
        raise TypeError(
            f"results must be a non-empty dict {{method_name: {{label: accuracy}}}}; "
            f"got {results!r}."
        )
    for method, accs in results.items():
        if not isinstance(accs, dict):
            raise TypeError(
                f"results[{method!r}] must be a dict {{label: accuracy}}; got {accs!r}."
            )
        for label, acc in accs.items():
            if isinstance(acc, bool) or not isinstance(acc, numbers.Real):
                raise TypeError(f"results[{method!r}][{label!r}] must be a number; got {acc!r}.")
    labels = {label for accs in results.values() for label in accs}
    try:
        labels = sorted(labels)
    except TypeError:  # mixed label types
        labels = sorted(labels, key=repr)
    names = _class_names(labels, class_names)
    ax = _new_axes(ax, (max(5.0, 0.6 * len(labels) * max(1, len(results)) / 2 + 2), 3.5))
    x = np.arange(len(labels))
    width = 0.8 / len(results)
    for j, (method, accs) in enumerate(results.items()):
        present = [k for k, label in enumerate(labels) if label in accs]
        heights = [float(accs[labels[k]]) for k in present]
        mean = float(np.mean(heights)) if heights else float("nan")
        ax.bar(x[present] + (j - (len(results) - 1) / 2) * width, heights, width,
               label=f"{method} (mean {mean:.3f})")
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=45 if max(len(n) for n in names) > 3 else 0,
                       ha="right" if max(len(n) for n in names) > 3 else "center")
    ax.set_xlabel("class")
    ax.set_ylabel("accuracy")
    # Outside the axes, on the right: inside, it covers the (short) tail classes' bars.
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return ax
