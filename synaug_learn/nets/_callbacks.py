"""Callbacks and scoring of :class:`~synaug_learn.nets.MixupNetClassifier` (side concerns)."""

from __future__ import annotations

import numpy as np
import torch
from skorch.callbacks import LRScheduler
from skorch.utils import to_numpy

__all__ = ["CosineAnnealing", "accuracy_on_encoded"]


def accuracy_on_encoded(net, X, y):
    """Accuracy for skorch's EpochScoring, whose ``y`` holds the encoded labels."""
    return float(np.mean(net.predict_proba(X).argmax(1) == to_numpy(y)))


class CosineAnnealing(LRScheduler):
    """``CosineAnnealingLR`` over the net's ``max_epochs`` (unless ``T_max`` is given)."""

    def __init__(self, T_max=None, eta_min=0.0, **kwargs):
        super().__init__(
            policy=torch.optim.lr_scheduler.CosineAnnealingLR, T_max=T_max, eta_min=eta_min,
            **kwargs,
        )

    def _get_scheduler(self, net, policy, **scheduler_kwargs):
        if scheduler_kwargs.get("T_max") is None:
            scheduler_kwargs["T_max"] = max(1, int(net.max_epochs))
        return super()._get_scheduler(net, policy, **scheduler_kwargs)
