"""Mixup / CutMix: mixing a batch, pairing its rows, and the skorch mixin that does it.

:func:`mix_batch` mixes one batch with Mixup (Zhang et al., 2018) or CutMix
(Yun et al., 2019) and says how its rows were paired. :class:`MixupMixin` adds
the mixing to any skorch net: it mixes each training batch in ``train_step``
and computes ``lam * loss(y_a) + (1 - lam) * loss(y_b)`` in ``get_loss``, so it
works with any criterion and composes with other mixins that override
``train_step_single`` (e.g. ``skorch.hf.AccelerateMixin``).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.utils import check_random_state
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

__all__ = [
    "GROUPS_KEY",
    "PAIRINGS",
    "SYNTHETIC_KEY",
    "MixedBatch",
    "MixedTarget",
    "MixupMixin",
    "mix_batch",
    "pair_rows",
    "seed_from",
]

#: Key under which per-row groups travel next to the images in a batch dict.
GROUPS_KEY = "groups"
#: Key under which the per-row "is generated" mask travels next to the images in a batch dict.
SYNTHETIC_KEY = "synthetic"
#: How Mixup pairs the rows of a batch: at random, or each real row with a generated one.
PAIRINGS = ("random", "real_synthetic")


def pair_rows(n, rng, synthetic=None, pairing="random"):
    """The partner of each of ``n`` rows: ``perm`` with row ``i`` mixed with row ``perm[i]``.

    ``pairing="random"``: ``rng.permutation(n)`` (Mixup's usual pairing).
    ``pairing="real_synthetic"`` (the domain Mixup of SYNAuG): each row gets
    a partner of the other kind -- a real row a generated one and vice versa
    -- drawn uniformly from the batch with ``u = rng.rand(n)``; a row whose
    other kind is absent from the batch is paired with itself (not mixed).

    Parameters
    ----------
    n : int
        Rows in the batch.
    rng : numpy.random.RandomState
        Source of the draws.
    synthetic : array-like of bool, shape (n,), or None
        Which rows are generated; needed by ``"real_synthetic"``.
    pairing : {"random", "real_synthetic"}, default="random"

    Returns
    -------
    perm : ndarray of int, shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.nets import pair_rows
    >>> mask = np.array([False, False, True, True, True])
    >>> perm = pair_rows(5, np.random.RandomState(0), mask, "real_synthetic")
    >>> bool(np.all(mask[perm] != mask))
    True
    """
    if pairing not in PAIRINGS:
        raise ValueError(f"mixup_pairing={pairing!r} is not one of {list(PAIRINGS)}.")
    if pairing == "random":
        return rng.permutation(n)
    if synthetic is None:
        raise ValueError(
            "mixup_pairing='real_synthetic' needs to know which rows are generated: "
            "fit(X, y, sample_is_synthetic=mask), e.g. through SyntheticAwareClassifier."
        )
    synthetic = np.asarray(synthetic, dtype=bool).reshape(-1)
    if synthetic.shape != (n,):
        raise ValueError(f"the synthetic mask has shape {synthetic.shape}; expected ({n},).")
    u = rng.rand(n)
    perm = np.arange(n)
    for kind in (False, True):
        rows = np.flatnonzero(synthetic == kind)
        others = np.flatnonzero(synthetic != kind)
        if len(others):
            perm[rows] = others[(u[rows] * len(others)).astype(int)]
    return perm


@dataclass
class MixedTarget:
    """Targets of a mixed batch: row ``i`` is ``lam * y_a[i] + (1 - lam) * y_b[i]``.

    ``perm`` is the permutation that paired the rows (``y_b = y_a[perm]``).

    Parameters
    ----------
    y_a : torch.Tensor
        Labels of the rows.
    y_b : torch.Tensor
        Labels of their partners, ``y_a[perm]``.
    lam : float
        Weight of ``y_a`` in the loss.
    perm : torch.Tensor
        The permutation that paired the rows.

    Examples
    --------
    >>> import torch
    >>> from synaug_learn.nets import MixedTarget, mix_batch
    >>> out = mix_batch(torch.zeros(4, 2), torch.tensor([0, 1, 2, 3]), random_state=0)
    >>> target = MixedTarget(out.y_a, out.y_b, out.lam, out.perm)
    >>> bool(torch.equal(target.y_b, target.y_a[target.perm]))
    True
    """

    y_a: torch.Tensor
    y_b: torch.Tensor
    lam: float
    perm: torch.Tensor


@dataclass
class MixedBatch:
    """What :func:`mix_batch` returns.

    ``method`` is ``"none"``, ``"mixup"`` or ``"cutmix"``; ``box`` is the
    pasted ``(y1, y2, x1, x2)`` rectangle for CutMix, else ``None``. When the
    batch is not mixed, ``x`` is the input, ``y_b`` is ``y_a``, ``lam`` is 1 and
    ``perm`` is ``None``.

    Parameters
    ----------
    x : torch.Tensor
        The mixed inputs.
    y_a, y_b : torch.Tensor
        Labels of the rows and of their partners.
    lam : float
        Weight of ``y_a`` in the loss (for CutMix, the unpasted fraction of
        the image).
    perm : torch.Tensor or None
        The permutation that paired the rows.
    box : tuple or None
        The pasted rectangle for CutMix.
    method : {"none", "mixup", "cutmix"}
        What was done to the batch.

    Examples
    --------
    >>> import torch
    >>> from synaug_learn.nets import mix_batch
    >>> out = mix_batch(torch.zeros(4, 1, 8, 8), torch.arange(4), mixup_alpha=0.0,
    ...                 cutmix_alpha=1.0, random_state=0)
    >>> out.method, out.box is not None, 0.0 <= out.lam <= 1.0
    ('cutmix', True, True)
    """

    x: torch.Tensor
    y_a: torch.Tensor
    y_b: torch.Tensor
    lam: float
    perm: torch.Tensor | None
    box: tuple | None
    method: str


def mix_batch(x, y, *, mixup_alpha=1.0, cutmix_alpha=0.0, mix_prob=1.0, switch_prob=0.5,
              random_state=None, synthetic=None, pairing="random"):
    """Mix one batch with Mixup or CutMix.

    Random draws, in this order, all from one ``numpy.random.RandomState``:

    1. if ``0 < mix_prob < 1``: ``u = rng.rand()``; the batch is mixed only if
       ``u < mix_prob`` (``mix_prob=0`` never mixes and draws nothing);
    2. if both alphas are > 0: CutMix if ``rng.rand() < switch_prob``, else Mixup;
    3. ``lam = rng.beta(alpha, alpha)`` for the chosen method;
    4. ``perm = pair_rows(n, rng, synthetic, pairing)``: row ``i`` is mixed
       with row ``perm[i]`` (``rng.permutation(n)`` for ``pairing="random"``);
    5. CutMix only: the box centre ``cy = rng.randint(H)``, ``cx = rng.randint(W)``;
       the box has sides ``int(H * sqrt(1 - lam))`` x ``int(W * sqrt(1 - lam))``,
       is clipped to the image, and ``lam`` is reset to the exact unpasted
       fraction ``1 - box_area / (H * W)``.

    Mixup returns ``lam * x + (1 - lam) * x[perm]``; CutMix returns ``x`` with
    the box pasted from ``x[perm]``. Either way the loss to use is
    ``lam * loss(out, y_a) + (1 - lam) * loss(out, y_b)`` with ``y_b = y[perm]``.

    Parameters
    ----------
    x : torch.Tensor of shape (n, C, H, W), or (n, d) for Mixup only
    y : torch.Tensor of shape (n,)
    mixup_alpha, cutmix_alpha : float, default=1.0, 0.0
        Beta(alpha, alpha) parameters; 0 disables the method.
    mix_prob : float, default=1.0
        Probability that the batch is mixed at all.
    switch_prob : float, default=0.5
        Probability of CutMix when both methods are enabled (as timm).
    random_state : int, RandomState or None
        Source of the draws above.
    synthetic : array-like of bool, shape (n,), or None
        Which rows are generated (needed by ``pairing="real_synthetic"``).
    pairing : {"random", "real_synthetic"}, default="random"
        How rows are paired, see :func:`pair_rows`.

    Returns
    -------
    MixedBatch

    Examples
    --------
    >>> import torch
    >>> from synaug_learn.nets import mix_batch
    >>> x = torch.arange(4.0).reshape(4, 1)
    >>> out = mix_batch(x, torch.tensor([0, 1, 2, 3]), mixup_alpha=1.0, random_state=0)
    >>> out.method
    'mixup'
    >>> bool(torch.allclose(out.x, out.lam * x + (1 - out.lam) * x[out.perm]))
    True
    """
    rng = check_random_state(random_state)
    for name, value in (("mixup_alpha", mixup_alpha), ("cutmix_alpha", cutmix_alpha)):
        if not (isinstance(value, numbers.Real) and np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a float >= 0; got {name}={value!r}.")
    if not (isinstance(mix_prob, numbers.Real) and 0 <= mix_prob <= 1):
        raise ValueError(f"mix_prob must be a float in [0, 1]; got mix_prob={mix_prob!r}.")
    unmixed = MixedBatch(x, y, y, 1.0, None, None, "none")
    if (mixup_alpha <= 0 and cutmix_alpha <= 0) or mix_prob <= 0:
        return unmixed
    if mix_prob < 1 and rng.rand() >= mix_prob:
        return unmixed
    if mixup_alpha > 0 and cutmix_alpha > 0:
        method = "cutmix" if rng.rand() < switch_prob else "mixup"
    else:
        method = "mixup" if mixup_alpha > 0 else "cutmix"
    if method == "cutmix" and x.dim() != 4:
        raise ValueError(
            f"cutmix_alpha={cutmix_alpha!r} needs image batches (n, C, H, W); got shape "
            f"{tuple(x.shape)}."
        )
    alpha = mixup_alpha if method == "mixup" else cutmix_alpha
    lam = float(rng.beta(alpha, alpha))
    n = x.shape[0]
    if synthetic is not None and isinstance(synthetic, torch.Tensor):
        synthetic = synthetic.detach().cpu().numpy()
    perm = torch.as_tensor(pair_rows(n, rng, synthetic, pairing), device=x.device)
    y_b = y[perm.to(y.device)] if isinstance(y, torch.Tensor) else np.asarray(y)[perm.cpu().numpy()]
    if method == "mixup":
        return MixedBatch(lam * x + (1.0 - lam) * x[perm], y, y_b, lam, perm, None, method)
    h, w = x.shape[-2:]
    cut = np.sqrt(1.0 - lam)
    cut_h, cut_w = int(h * cut), int(w * cut)
    cy, cx = rng.randint(h), rng.randint(w)
    y1, y2 = int(np.clip(cy - cut_h // 2, 0, h)), int(np.clip(cy + cut_h // 2, 0, h))
    x1, x2 = int(np.clip(cx - cut_w // 2, 0, w)), int(np.clip(cx + cut_w // 2, 0, w))
    mixed = x.clone()
    mixed[:, :, y1:y2, x1:x2] = x[perm][:, :, y1:y2, x1:x2]
    lam = 1.0 - (y2 - y1) * (x2 - x1) / float(h * w)
    return MixedBatch(mixed, y, y_b, lam, perm, (y1, y2, x1, x2), method)


def seed_from(random_state, stream):
    """An independent 32-bit seed for ``stream`` derived from ``random_state`` (None: fresh)."""
    if random_state is None:
        return None
    if isinstance(random_state, np.random.RandomState):
        random_state = int(random_state.randint(np.iinfo(np.int32).max))
    return int(np.random.SeedSequence([int(random_state), stream]).generate_state(1)[0])


class MixupMixin:
    """Mixup / CutMix for any skorch net.

    Put it before the skorch class: ``class MyNet(MixupMixin,
    NeuralNetClassifier)``. Each training batch is mixed in ``train_step``,
    which calls ``train_step_single`` on the mixed batch, so mixins that
    replace ``train_step_single`` (``skorch.hf.AccelerateMixin``) compose in
    either order, e.g. ``class MyNet(AccelerateMixin, MixupNetClassifier)``;
    and ``get_loss`` turns the mixed targets into
    ``lam * loss(y_a) + (1 - lam) * loss(y_b)`` with the net's own criterion.
    Validation and prediction batches are never mixed. See :func:`mix_batch`
    for the exact draws.

    Parameters
    ----------
    *args
        Passed to the skorch net (e.g. its ``module``).
    mixup_alpha : float, default=1.0
        Beta(alpha, alpha) of Mixup; 0 disables Mixup.
    cutmix_alpha : float, default=0.0
        Beta(alpha, alpha) of CutMix; 0 disables CutMix. When both alphas are
        positive each batch uses one of them, chosen at random (as timm).
    mix_prob : float, default=1.0
        Probability that a training batch is mixed; 0 disables mixing.
    mixup_pairing : {"random", "real_synthetic"}, default="random"
        How the rows of a batch are paired (:func:`pair_rows`):
        ``"real_synthetic"`` mixes each real row with a generated one (the
        batch needs the ``X`` dict key ``"synthetic"``).
    **kwargs
        Passed to the skorch net.

    Notes
    -----
    The draws come from a ``numpy.random.RandomState`` seeded from the net's
    ``random_state`` attribute (if any) at the start of each ``fit``; they
    never touch torch's global generator, so a net with mixing disabled trains
    exactly like the same net without the mixin.

    Criteria with ``requires_groups = True`` (e.g.
    :class:`~synaug_learn.nets.GroupDROLoss`) get the batch's groups from the
    ``X`` dict key ``"groups"``; on a mixed batch they are called once on
    both label sets with per-row weights ``lam`` and ``1 - lam``.

    Examples
    --------
    >>> import torch
    >>> from sklearn.datasets import load_digits
    >>> from skorch import NeuralNetClassifier
    >>> from synaug_learn.nets import MixupMixin, SmallCNN
    >>> class MixupNet(MixupMixin, NeuralNetClassifier):
    ...     pass
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X.reshape(-1, 1, 8, 8).astype("float32") / 16
    >>> net = MixupNet(SmallCNN, criterion=torch.nn.CrossEntropyLoss, mixup_alpha=0.4,
    ...                max_epochs=1, train_split=None, verbose=0)
    >>> net.fit(X[:200], y[:200]).predict(X[:3]).shape
    (3,)
    """

    def __init__(self, *args, mixup_alpha=1.0, cutmix_alpha=0.0, mix_prob=1.0,
                 mixup_pairing="random", **kwargs):
        super().__init__(*args, **kwargs)
        self.mixup_alpha = mixup_alpha
        self.cutmix_alpha = cutmix_alpha
        self.mix_prob = mix_prob
        self.mixup_pairing = mixup_pairing

    # -- randomness -------------------------------------------------------------------

    def _reset_batch_rngs(self):
        seed = getattr(self, "random_state", None)
        self.mix_rng_ = np.random.RandomState(seed_from(seed, 1))
        self.augment_rng_ = np.random.RandomState(seed_from(seed, 2))

    def fit(self, X, y=None, **fit_params):
        if not getattr(self, "warm_start", False) or not getattr(self, "initialized_", False):
            self._reset_batch_rngs()
        return super().fit(X, y, **fit_params)

    # -- training batches ---------------------------------------------------------------

    def augment_batch(self, x):
        """Augment a training batch of images (identity here; see MixupNetClassifier)."""
        return x

    def mix_training_batch(self, Xi, yi):
        """Return ``(Xi, yi)`` mixed, with ``yi`` a :class:`MixedTarget` when mixed."""
        if getattr(self, "mix_rng_", None) is None:
            self._reset_batch_rngs()
        is_dict = isinstance(Xi, Mapping)
        x = Xi["X"] if is_dict else Xi
        if self.device is not None:
            x = to_tensor(x, device=self.device)
            yi = to_tensor(yi, device=self.device)
        x = self.augment_batch(x)
        out = mix_batch(
            x,
            yi,
            mixup_alpha=self.mixup_alpha,
            cutmix_alpha=self.cutmix_alpha,
            mix_prob=self.mix_prob,
            random_state=self.mix_rng_,
            synthetic=Xi.get(SYNTHETIC_KEY) if is_dict else None,
            pairing=getattr(self, "mixup_pairing", "random"),
        )
        y_out = yi if out.perm is None else MixedTarget(out.y_a, out.y_b, out.lam, out.perm)
        if is_dict:
            Xi = dict(Xi)
            Xi["X"] = out.x
            return Xi, y_out
        return out.x, y_out

    def train_step(self, batch, **fit_params):
        Xi, yi = unpack_data(batch)
        Xi, yi = self.mix_training_batch(Xi, yi)
        return super().train_step((Xi, yi), **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        criterion = getattr(self.criterion_, "_orig_mod", self.criterion_)
        needs_groups = getattr(criterion, "requires_groups", False)
        groups = X.get(GROUPS_KEY) if isinstance(X, Mapping) else None
        if needs_groups and groups is None:
            raise ValueError(
                f"criterion {type(criterion).__name__} needs the group of every row: "
                "fit(X, y, groups=...)."
            )
        if not isinstance(y_true, MixedTarget):
            if needs_groups:
                y_true = to_tensor(y_true, device=y_pred.device)
                return self.criterion_(y_pred, y_true, to_tensor(groups, device=y_pred.device))
            return super().get_loss(y_pred, y_true, X=X, training=training)
        lam = y_true.lam
        if needs_groups:
            groups = to_tensor(groups, device=y_pred.device)
            perm = y_true.perm.to(groups.device)
            n = y_pred.shape[0]
            weights = torch.cat([
                torch.full((n,), lam, device=y_pred.device, dtype=y_pred.dtype),
                torch.full((n,), 1.0 - lam, device=y_pred.device, dtype=y_pred.dtype),
            ])
            return self.criterion_(
                torch.cat([y_pred, y_pred]),
                torch.cat([y_true.y_a, y_true.y_b]).to(y_pred.device),
                torch.cat([groups, groups[perm]]),
                sample_weight=weights,
            )
        loss_a = super().get_loss(y_pred, y_true.y_a, X=X, training=training)
        loss_b = super().get_loss(y_pred, y_true.y_b, X=X, training=training)
        return lam * loss_a + (1.0 - lam) * loss_b
