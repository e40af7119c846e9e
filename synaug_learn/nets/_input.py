"""The input adapter: the user's rows (any image layout, or flat) -> what the module takes."""

from __future__ import annotations

import numpy as np
import torch
from skorch.utils import to_numpy

from ..utils import ImageFormat

__all__ = ["InputAdapter", "as_array", "check_y"]


class InputAdapter:
    """Fixed-at-fit conversion of the user's rows to what the module takes.

    ``kind="image"``: :class:`ImageFormat` to float NCHW in [-1, 1].
    ``kind="flat"``: rows flattened; uint8 scaled to [-1, 1], floats
    standardised per feature with the training mean and standard deviation.
    """

    def __init__(self, X, kind, image_shape=None):
        X = as_array(X)
        self.kind = kind
        self.sample_shape = tuple(X.shape[1:])
        self.dtype = X.dtype
        self.format = None
        if kind == "image":
            if X.ndim == 2 and image_shape is None:
                d = X.shape[1]
                side = int(round(np.sqrt(d)))
                if side * side != d:
                    raise ValueError(
                        f"X is 2-D with {d} features, which is not a square grey image; pass "
                        "image_shape=(H, W) or (H, W, C), or module='mlp' for tabular rows."
                    )
            if X.ndim == 2 and image_shape is not None:
                shape = tuple(int(s) for s in image_shape)
                if len(shape) not in (2, 3) or int(np.prod(shape)) != X.shape[1]:
                    raise ValueError(
                        f"image_shape={image_shape!r} does not match X's {X.shape[1]} features."
                    )
            if X.ndim not in (2, 3, 4):
                raise ValueError(
                    "X must be 2-D (n, features), 3-D (n, H, W) or 4-D (n, H, W, C) / "
                    f"(n, C, H, W); got shape {X.shape}."
                )
            self.format = ImageFormat.from_array(X, image_shape=image_shape, param_name="X")
            self.in_shape = (self.format.channels, self.format.height, self.format.width)
        else:
            flat = X.reshape(len(X), -1)
            if X.dtype == np.uint8:
                self.mean, self.scale = 127.5, 127.5
            else:
                flat = flat.astype(np.float64)
                self.mean = flat.mean(0)
                std = flat.std(0)
                self.scale = np.where(std > 0, std, 1.0)
            self.in_shape = (flat.shape[1],)

    def transform(self, X):
        X = as_array(X)
        if tuple(X.shape[1:]) != self.sample_shape:
            raise ValueError(
                f"X has rows of shape {tuple(X.shape[1:])}, but the net was fitted on rows "
                f"of shape {self.sample_shape}."
            )
        if self.kind == "image":
            return np.ascontiguousarray(self.format.to_nchw(X), dtype=np.float32)
        flat = X.reshape(len(X), -1).astype(np.float64)
        return ((flat - self.mean) / self.scale).astype(np.float32)


def as_array(X):
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    X = np.asarray(X)
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise ValueError(f"X must hold numbers; got an array of dtype {X.dtype}.")
    if np.iscomplexobj(X):
        raise ValueError(f"X is complex (dtype={X.dtype}): Complex data not supported.")
    if X.ndim < 2:
        raise ValueError(f"X must have one row per sample (at least 2-D); got shape {X.shape}.")
    if np.issubdtype(X.dtype, np.floating) and not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X.reshape(len(X), -1)))
        raise ValueError(
            f"X contains NaN or infinity ({len(bad)} value(s), first in row {bad[0][0]}); the "
            "net cannot predict or train on them. Remove or impute those values first."
        )
    return X


def check_y(y, n_rows):
    if y is None:
        raise ValueError("y is required: MixupNetClassifier.fit(X, y).")
    y = np.asarray(to_numpy(y) if isinstance(y, torch.Tensor) else y)
    if y.ndim != 1:
        y = y.ravel() if y.ndim == 2 and 1 in y.shape else y
    if y.ndim != 1 or len(y) != n_rows:
        raise ValueError(f"y must have one label per row of X ({n_rows}); got shape {y.shape}.")
    return y
