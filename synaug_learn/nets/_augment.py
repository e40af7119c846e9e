"""Batch augmentation of NCHW image batches (training batches only)."""

from __future__ import annotations

import torch
from sklearn.utils import check_random_state
from torch.nn import functional as F

__all__ = ["flip_crop"]


def flip_crop(x, random_state=None, pad=None, fill=-1.0):
    """Random horizontal flip and padded random crop of an NCHW batch.

    ``pad`` defaults to ``max(1, H // 8)`` (4 for 32x32 images); the padding
    value ``fill=-1`` is black in the [-1, 1] scale the net trains on.
    """
    rng = check_random_state(random_state)
    n, _, h, w = x.shape
    pad = max(1, h // 8) if pad is None else int(pad)
    flip = torch.as_tensor(rng.rand(n) < 0.5, device=x.device)
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    padded = F.pad(x, (pad, pad, pad, pad), value=fill).permute(0, 2, 3, 1)
    oy = torch.as_tensor(rng.randint(0, 2 * pad + 1, n), device=x.device)
    ox = torch.as_tensor(rng.randint(0, 2 * pad + 1, n), device=x.device)
    rows = oy[:, None] + torch.arange(h, device=x.device)
    cols = ox[:, None] + torch.arange(w, device=x.device)
    idx = torch.arange(n, device=x.device)[:, None, None]
    out = padded[idx, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()
