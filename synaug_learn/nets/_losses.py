"""Imbalance-aware losses, usable as a skorch ``criterion``.

All three are cross-entropy on logits (they subclass
``torch.nn.CrossEntropyLoss``, so skorch's ``predict_nonlinearity="auto"``
applies a softmax to the module's output in ``predict_proba``):

* :class:`ClassWeightedCrossEntropy` -- each class weighted by
  ``n / (n_classes * count)``, scikit-learn's ``class_weight="balanced"``.
* :class:`BalancedSoftmaxLoss` -- Balanced Softmax / logit adjustment (Ren et
  al., 2020; Menon et al., 2021): the loss sees ``logits + tau * log(prior)``,
  prediction uses the plain logits.
* :class:`GroupDROLoss` -- online Group DRO (Sagawa et al., 2020): a weight
  per group, updated by exponentiated gradient ascent on the group losses;
  needs the group of every training row.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "BalancedSoftmaxLoss",
    "ClassWeightedCrossEntropy",
    "GroupDROLoss",
    "balanced_class_weights",
]


def _check_counts(class_counts, param_name="class_counts"):
    counts = np.asarray(class_counts, dtype=np.float64).ravel()
    if counts.size == 0 or not np.all(np.isfinite(counts)) or np.any(counts <= 0):
        raise ValueError(
            f"{param_name} must hold one positive count per class; got {class_counts!r}."
        )
    return counts


def balanced_class_weights(class_counts):
    """``n / (n_classes * count)`` per class, as scikit-learn's ``class_weight="balanced"``.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training rows per class; all positive.

    Returns
    -------
    weights : ndarray of shape (n_classes,)
        One weight per class; rarer classes weigh more.

    Examples
    --------
    >>> from synaug_learn.nets import balanced_class_weights
    >>> balanced_class_weights([30, 10]).tolist()
    [0.6666666666666666, 2.0]
    """
    counts = _check_counts(class_counts)
    return counts.sum() / (counts.size * counts)


class ClassWeightedCrossEntropy(nn.CrossEntropyLoss):
    """Cross-entropy with "balanced" class weights computed from class counts.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training rows per class (in the order of the encoded labels).
    **kwargs
        Passed to ``torch.nn.CrossEntropyLoss`` (e.g. ``label_smoothing``).

    Examples
    --------
    >>> import torch
    >>> from synaug_learn.nets import ClassWeightedCrossEntropy
    >>> loss = ClassWeightedCrossEntropy([30, 10])
    >>> loss.weight.tolist()
    [0.6666666865348816, 2.0]
    >>> float(loss(torch.zeros(2, 2), torch.tensor([0, 1])))  # doctest: +ELLIPSIS
    0.693...
    """

    def __init__(self, class_counts, **kwargs):
        weight = torch.as_tensor(balanced_class_weights(class_counts), dtype=torch.float32)
        super().__init__(weight=weight, **kwargs)


class BalancedSoftmaxLoss(nn.CrossEntropyLoss):
    """Balanced Softmax / logit-adjusted cross-entropy.

    The loss is ``CE(logits + tau * log(prior), y)`` with ``prior`` the
    training class frequencies; the network's own logits (used to predict)
    then estimate the *balanced* posterior. ``tau=1`` is Balanced Softmax; a
    smaller ``tau`` corrects less (``tau=0.5`` composes with a sampler that
    already filled the deficits: measured on long-tailed digits after a fill
    from a pretrained generator, ``tau=1`` over-corrected by 6.5 points and
    ``tau=0.5`` tied).

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training rows per class (in the order of the encoded labels).
    tau : float, default=1.0
        Strength of the adjustment.
    **kwargs
        Passed to ``torch.nn.CrossEntropyLoss``.

    Examples
    --------
    >>> import torch
    >>> from synaug_learn.nets import BalancedSoftmaxLoss
    >>> loss = BalancedSoftmaxLoss([90, 10], tau=1.0)
    >>> logits = torch.zeros(1, 2)
    >>> round(float(loss(logits, torch.tensor([1]))), 4)  # -log(0.1)
    2.3026
    """

    def __init__(self, class_counts, tau=1.0, **kwargs):
        super().__init__(**kwargs)
        counts = _check_counts(class_counts)
        if not np.isfinite(tau) or tau < 0:
            raise ValueError(f"tau must be a float >= 0; got tau={tau!r}.")
        self.tau = float(tau)
        self.register_buffer(
            "log_prior", torch.as_tensor(np.log(counts / counts.sum()), dtype=torch.float32)
        )

    def forward(self, input, target):  # noqa: A002 - torch's argument names
        adjusted = input + self.tau * self.log_prior.to(input.dtype)
        return super().forward(adjusted, target)


class GroupDROLoss(nn.CrossEntropyLoss):
    """Online Group DRO (Sagawa et al., 2020, Algorithm 1).

    Keeps a distribution ``q`` over groups. For each training batch it
    computes the mean loss ``L_g`` of every group present, updates
    ``q_g <- q_g * exp(eta * L_g)`` (renormalised) and returns
    ``sum_g q_g * L_g``, which puts the gradient on the worst groups. ``q`` is
    only updated in training mode; in evaluation mode the loss uses the
    current ``q``.

    Parameters
    ----------
    n_groups : int
        Number of groups (groups are encoded ``0 .. n_groups - 1``).
    eta : float, default=0.01
        Step size of the exponentiated-gradient update of ``q``.
    **kwargs
        Passed to ``torch.nn.CrossEntropyLoss`` (``reduction`` is ignored:
        per-row losses are reduced per group).

    Notes
    -----
    The forward signature is ``loss(logits, y, groups, sample_weight=None)``;
    ``sample_weight`` lets Mixup/CutMix weigh the two label sets of a mixed
    batch (each row counts ``lam`` for its own group and label and ``1 - lam``
    for its partner's). The attribute ``requires_groups = True`` tells
    :class:`~synaug_learn.nets.MixupNetClassifier` to pass the groups.

    Examples
    --------
    >>> import torch
    >>> from synaug_learn.nets import GroupDROLoss
    >>> loss = GroupDROLoss(n_groups=2, eta=1.0)
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    >>> y, g = torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1])
    >>> _ = loss(logits, y, g)
    >>> bool(loss.q[1] > loss.q[0])  # group 1 has the larger loss
    True
    """

    requires_groups = True

    def __init__(self, n_groups, eta=0.01, **kwargs):
        kwargs.pop("reduction", None)
        super().__init__(reduction="none", **kwargs)
        if int(n_groups) < 1:
            raise ValueError(f"n_groups must be >= 1; got n_groups={n_groups!r}.")
        if not np.isfinite(eta) or eta < 0:
            raise ValueError(f"eta must be a float >= 0; got eta={eta!r}.")
        self.n_groups, self.eta = int(n_groups), float(eta)
        self.register_buffer("q", torch.full((self.n_groups,), 1.0 / self.n_groups))

    def forward(self, input, target, groups, sample_weight=None):  # noqa: A002
        per_row = super().forward(input, target)
        groups = torch.as_tensor(groups, device=per_row.device).long()
        if sample_weight is None:
            sample_weight = torch.ones_like(per_row)
        sample_weight = torch.as_tensor(sample_weight, device=per_row.device, dtype=per_row.dtype)
        onehot = F.one_hot(groups, self.n_groups).to(per_row.dtype) * sample_weight[:, None]
        mass = onehot.sum(0)
        group_loss = (onehot * per_row[:, None]).sum(0) / mass.clamp(min=1e-12)
        if self.training:
            with torch.no_grad():
                q = self.q * torch.exp(self.eta * group_loss.detach())
                self.q.copy_(q / q.sum())
        return (self.q * group_loss).sum()
