"""Image layouts and the one map from images to feature rows (used by filter, report, plots)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ImageFormat", "feature_map"]


@dataclass(frozen=True)
class ImageFormat:
    """How a user's array stores images, and the conversions to and from NCHW float.

    Layouts: ``"flat"`` (n, d) with ``d = H*W*C``; ``"hw"`` (n, H, W);
    ``"hwc"`` (n, H, W, C); ``"chw"`` (n, C, H, W). Values are mapped from
    ``[low, high]`` (0..255 for uint8, the data's own min/max for floats) to
    ``[-1, 1]`` and back. Build one with :meth:`from_array`.

    Parameters
    ----------
    sample_shape : tuple
        Shape of one sample as stored.
    dtype : numpy.dtype
        The stored dtype.
    layout : {"flat", "hw", "hwc", "chw"}
        How the samples are stored.
    channels, height, width : int
        Channels and size of the images.
    low, high : float
        The value range that is mapped to ``[-1, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.utils import ImageFormat
    >>> X = np.zeros((5, 28, 28, 3), dtype=np.uint8)
    >>> fmt = ImageFormat.from_array(X)
    >>> fmt.layout, fmt.channels, fmt.height, fmt.width
    ('hwc', 3, 28, 28)
    >>> x = fmt.to_nchw(X)
    >>> x.shape, float(x.min())
    ((5, 3, 28, 28), -1.0)
    >>> fmt.from_nchw(x).shape == X.shape
    True
    """

    sample_shape: tuple
    dtype: np.dtype
    layout: str
    channels: int
    height: int
    width: int
    low: float
    high: float

    @classmethod
    def from_array(cls, X, image_shape=None, param_name="X"):
        """Infer the format of ``X``.

        ``image_shape`` (``(H, W)`` or ``(H, W, C)``) is needed for 2-D input
        unless each row is a square grey image (e.g. digits' 64 = 8x8).
        4-D input is channels-last when its last axis has 1, 3 or 4 entries,
        else channels-first when its second axis has.
        """
        X = np.asarray(X)
        if X.ndim == 2:
            d = X.shape[1]
            if image_shape is None:
                side = int(round(np.sqrt(d)))
                if side * side != d:
                    raise ValueError(
                        f"{param_name} is 2-D with {d} features, which is not a square image; "
                        "pass image_shape=(H, W) or (H, W, C) to the generator."
                    )
                image_shape = (side, side)
            image_shape = tuple(int(s) for s in image_shape)
            if len(image_shape) not in (2, 3) or int(np.prod(image_shape)) != d:
                raise ValueError(
                    f"image_shape={image_shape!r} does not match {param_name}'s {d} features."
                )
            h, w = image_shape[:2]
            c = image_shape[2] if len(image_shape) == 3 else 1
            layout = "flat"
        elif X.ndim == 3:
            layout, (h, w), c = "hw", X.shape[1:], 1
        elif X.ndim == 4:
            if X.shape[-1] in (1, 3, 4):
                layout, (h, w, c) = "hwc", X.shape[1:]
            elif X.shape[1] in (1, 3, 4):
                layout, (c, h, w) = "chw", X.shape[1:]
            else:
                raise ValueError(
                    f"{param_name} has shape {X.shape}: neither its last nor its second axis "
                    "holds 1, 3 or 4 channels."
                )
        else:
            raise ValueError(
                f"{param_name} must be 2-D (n, features), 3-D (n, H, W) or 4-D (n, H, W, C) / "
                f"(n, C, H, W); got {X.ndim}-D with shape {X.shape}."
            )
        if X.dtype == np.uint8:
            low, high = 0.0, 255.0
        else:
            low, high = float(np.min(X)), float(np.max(X))
            if high <= low:
                high = low + 1.0
        return cls(tuple(X.shape[1:]), X.dtype, layout, int(c), int(h), int(w), low, high)

    def to_nchw(self, X) -> np.ndarray:
        """Convert user-format images to float32 NCHW in [-1, 1]."""
        X = np.asarray(X)
        n = X.shape[0]
        if self.layout == "flat":
            x = X.reshape(n, self.height, self.width, self.channels).transpose(0, 3, 1, 2)
        elif self.layout == "hw":
            x = X[:, None]
        elif self.layout == "hwc":
            x = X.transpose(0, 3, 1, 2)
        else:
            x = X
        x = x.astype(np.float32)
        return (x - self.low) / (self.high - self.low) * 2.0 - 1.0

    def from_nchw(self, x) -> np.ndarray:
        """Convert float NCHW images in [-1, 1] back to the user's shape and dtype."""
        x = np.clip(np.asarray(x, dtype=np.float32), -1.0, 1.0)
        x = (x + 1.0) / 2.0 * (self.high - self.low) + self.low
        n = x.shape[0]
        if self.layout == "flat":
            x = x.transpose(0, 2, 3, 1).reshape(n, -1)
        elif self.layout == "hw":
            x = x[:, 0]
        elif self.layout == "hwc":
            x = x.transpose(0, 2, 3, 1)
        if np.issubdtype(self.dtype, np.integer):
            info = np.iinfo(self.dtype)
            x = np.clip(np.rint(x), info.min, info.max)
        return x.astype(self.dtype)


def feature_map(X_ref, *, value_range=(0.0, 1.0), param_name="X"):
    """The map ``X -> 2-D float32 feature rows`` (flattened pixels) fitted on ``X_ref``.

    Images (and 2-D rows that are square grey images) are read with
    :meth:`ImageFormat.from_array` of ``X_ref``, so every array mapped later is
    scaled with the reference's value range; other 2-D rows are min-max scaled
    with the reference's minimum and maximum. The output spans ``value_range``.
    This is the cheap feature space of the quality filter, the synthetic-data
    report and the sample plots.

    Parameters
    ----------
    X_ref : array-like of shape (n, ...)
        Reference rows: 2-D, (n, H, W), (n, H, W, C) or (n, C, H, W).
    value_range : tuple of float, default=(0.0, 1.0)
        What the reference's ``[low, high]`` maps to.
    param_name : str, default="X"
        Name of ``X_ref`` in error messages.

    Returns
    -------
    transform : callable
        ``transform(X) -> ndarray of shape (len(X), n_features)``, float32.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.utils import feature_map
    >>> X = np.array([[[0, 255], [255, 0]]], dtype=np.uint8)
    >>> feature_map(X)(X).tolist()
    [[0.0, 1.0, 1.0, 0.0]]
    >>> feature_map(X, value_range=(-1, 1))(X).tolist()
    [[-1.0, 1.0, 1.0, -1.0]]
    """
    X_ref = np.asarray(X_ref)
    low_out, high_out = (float(v) for v in value_range)
    try:
        fmt = ImageFormat.from_array(X_ref, param_name=param_name)
    except ValueError:
        if X_ref.ndim != 2:
            raise
        fmt = None  # 2-D rows that are not square images: min-max scaled as they are

    def rescale(unit):
        return unit if (low_out, high_out) == (0.0, 1.0) else unit * (high_out - low_out) + low_out

    if fmt is not None:
        def transform(X):
            x = fmt.to_nchw(X)
            if (low_out, high_out) != (-1.0, 1.0):
                x = rescale((x + 1.0) / 2.0)
            return x.reshape(len(x), -1)
        return transform
    low, high = float(np.min(X_ref)), float(np.max(X_ref))
    scale = high - low if high > low else 1.0

    def transform(X):
        return rescale((np.asarray(X, dtype=np.float32) - low) / scale).astype(np.float32)

    return transform
