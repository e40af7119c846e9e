"""Factorised (class + group) conditioning of the diffusion UNet, and composed guidance.

With ``conditioning="factorized"`` the UNet is conditioned on a *class*
embedding plus a *group* embedding (summed, then added to the timestep
embedding as diffusers' own class embedding is), each with its own "no
condition" row. Training drops the class and the group independently, so one
network learns ``p(x | class, group)``, ``p(x | class)``, ``p(x | group)`` and
``p(x)``; a ``(class, group)`` cell with no training rows can then be drawn
when its class and its group each occur (composition).

The pair ``(class index, group index)`` travels through the UNet's
``class_labels`` as one integer, ``class * (n_groups + 1) + group``, so the
diffusers model, its schedulers and the sampling loops stay unchanged.

Guidance rules for a cell ``(c, g)``:

``"joint"``
    ``eps(0, 0) + w * (eps(c, g) - eps(0, 0))``: both factors fed together,
    guided against the unconditional prediction (one extra pass per step).
``"composable"``
    ``eps(0) + w_c * (eps(c) - eps(0)) + w_g * (eps(g) - eps(0))`` (Liu et al.,
    2022, "Compositional visual generation with composable diffusion
    models"): two extra passes per step; ``guidance_scale`` may be a pair
    ``(w_class, w_group)``.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from ._sampling import guided_steps, solver_step

__all__ = [
    "FACTORIZED_RULES",
    "FactorizedEmbedding",
    "check_guidance_scale",
    "denoise_composable",
]

FACTORIZED_RULES = ("joint", "composable")


class FactorizedEmbedding(nn.Module):
    """Class embedding + group embedding, indexed by ``class * (n_groups + 1) + group``.

    Row ``n_classes`` of the class table and row ``n_groups`` of the group
    table are the "no condition" rows. Used as a diffusers ``UNet2DModel``'s
    ``class_embedding``.

    Parameters
    ----------
    n_classes, n_groups : int
        Known classes and groups (the null rows are added).
    dim : int
        Embedding width (the UNet's timestep-embedding width).

    Examples
    --------
    >>> import torch
    >>> from synaug_learn.generators._factorized import FactorizedEmbedding
    >>> emb = FactorizedEmbedding(2, 3, dim=4)
    >>> index = emb.index(1, 2)
    >>> out = emb(torch.tensor([index]))
    >>> bool(torch.allclose(out, emb.classes.weight[1] + emb.groups.weight[2]))
    True
    >>> emb.null_index == emb.index(2, 3)
    True
    """

    def __init__(self, n_classes, n_groups, dim):
        super().__init__()
        self.n_classes, self.n_groups = int(n_classes), int(n_groups)
        self.classes = nn.Embedding(self.n_classes + 1, dim)
        self.groups = nn.Embedding(self.n_groups + 1, dim)

    def index(self, class_index, group_index):
        """The ``class_labels`` value of the pair (``n_classes`` / ``n_groups`` = dropped)."""
        return int(class_index) * (self.n_groups + 1) + int(group_index)

    @property
    def null_index(self):
        """The ``class_labels`` value with both factors dropped."""
        return self.index(self.n_classes, self.n_groups)

    def split(self, labels):
        """``class_labels`` -> (class indices, group indices)."""
        return labels // (self.n_groups + 1), labels % (self.n_groups + 1)

    def drop(self, labels, p, generator):
        """Drop the class and the group of each label independently with probability ``p``."""
        c, g = self.split(labels)
        drop_c = torch.rand(len(labels), generator=generator) < p
        drop_g = torch.rand(len(labels), generator=generator) < p
        c = torch.where(drop_c.to(c.device), torch.full_like(c, self.n_classes), c)
        g = torch.where(drop_g.to(g.device), torch.full_like(g, self.n_groups), g)
        return c * (self.n_groups + 1) + g

    def forward(self, labels):
        c, g = self.split(labels.long())
        return self.classes(c) + self.groups(g)


def check_guidance_scale(guidance_scale, rule="joint", param_name="guidance_scale"):
    """One weight ``w >= 0``, or with ``rule="composable"`` a pair; returns a tuple of floats.

    Examples
    --------
    >>> from synaug_learn.generators._factorized import check_guidance_scale
    >>> check_guidance_scale(2.0), check_guidance_scale((3, 1), rule="composable")
    ((2.0,), (3.0, 1.0))
    """
    values = guidance_scale if isinstance(guidance_scale, (tuple, list)) else (guidance_scale,)
    ok = len(values) in (1, 2) and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and v >= 0 for v in values)
    if not ok:
        raise ValueError(f"{param_name} must be a number >= 0 or a pair (w_class, w_group) of "
                         f"them; got {guidance_scale!r}.")
    if len(values) == 2 and rule != "composable":
        raise ValueError(
            f"{param_name}={tuple(guidance_scale)!r} gives one weight per factor, which only "
            "the composable rule uses (conditioning='factorized', "
            "guidance_rule='composable'); pass one number.")
    return tuple(float(v) for v in values)


def denoise_composable(unet, x, cell, class_only, group_only, null_label, scheduler,
                       num_inference_steps, weights, guidance_interval=None, start=0,
                       generator=None):
    """Reverse process with the composable rule ``eps(0) + w_c d_c + w_g d_g``.

    ``cell``, ``class_only``, ``group_only`` and ``null_label`` are the
    ``class_labels`` of ``(c, g)``, ``(c, 0)``, ``(0, g)`` and ``(0, 0)``.
    Guided steps (see :func:`~synaug_learn.generators._sampling.guided_steps`)
    cost three network passes; the others one pass of ``eps(c, g)``. ``start``
    skips the schedule's first steps and ``generator`` draws a stochastic solver's step noise,
    as in :func:`~synaug_learn.generators._sampling.denoise`.
    """
    w_c, w_g = weights if len(weights) == 2 else (weights[0], weights[0])
    num_train = scheduler.config.num_train_timesteps
    scheduler.set_timesteps(num_inference_steps)
    timesteps = scheduler.timesteps[start:]
    # (1, 1) is still a composition, not "no guidance": every step in the interval is guided.
    guided = guided_steps(timesteps.tolist(), num_train, 0.0, guidance_interval)
    n = len(x)

    def full(label):
        return torch.full((n,), label, dtype=torch.long, device=x.device)

    three = torch.cat([full(class_only), full(group_only), full(null_label)])
    with torch.inference_mode():
        for t, guide in zip(timesteps, guided):
            if guide:
                eps_c, eps_g, eps_u = unet(torch.cat([x, x, x]), t,
                                           class_labels=three).sample.chunk(3)
                eps = eps_u + w_c * (eps_c - eps_u) + w_g * (eps_g - eps_u)
            else:
                eps = unet(x, t, class_labels=full(cell)).sample
            x = solver_step(scheduler, eps, t, x, generator)
    return x
