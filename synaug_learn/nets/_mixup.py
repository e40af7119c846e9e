"""Mixup / CutMix training for skorch, and the image classifier SYNAuG trains.

:class:`MixupMixin` adds Mixup (Zhang et al., 2018) and CutMix (Yun et al.,
2019) to any skorch net: it mixes each training batch in ``train_step`` and
computes ``lam * loss(y_a) + (1 - lam) * loss(y_b)`` in ``get_loss``, so it
works with any criterion and composes with other mixins that override
``train_step_single`` (e.g. ``skorch.hf.AccelerateMixin``).

:class:`MixupNetClassifier` is the product classifier built on it: it takes
images the way samplers emit them (uint8 or float; flat rows, ``(n, H, W)``,
NHWC or NCHW), any label values, and picks the module, loss, optimizer and
learning-rate schedule of the long-tailed literature by default.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.metadata_routing import _routing_enabled
from skorch import NeuralNetClassifier
from skorch.callbacks import EpochScoring, LRScheduler
from skorch.dataset import unpack_data
from skorch.utils import is_dataset, to_numpy, to_tensor
from torch import nn
from torch.nn import functional as F

from ..utils import ImageFormat
from ._losses import BalancedSoftmaxLoss, ClassWeightedCrossEntropy, GroupDROLoss
from ._modules import accepted_kwargs, is_flat_module, resolve_module

__all__ = ["MixedBatch", "MixedTarget", "MixupMixin", "MixupNetClassifier", "mix_batch"]

#: Key under which per-row groups travel next to the images in a batch dict.
GROUPS_KEY = "groups"


# --------------------------------------------------------------------------- mixing


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
              random_state=None):
    """Mix one batch with Mixup or CutMix.

    Random draws, in this order, all from one ``numpy.random.RandomState``:

    1. if ``0 < mix_prob < 1``: ``u = rng.rand()``; the batch is mixed only if
       ``u < mix_prob`` (``mix_prob=0`` never mixes and draws nothing);
    2. if both alphas are > 0: CutMix if ``rng.rand() < switch_prob``, else Mixup;
    3. ``lam = rng.beta(alpha, alpha)`` for the chosen method;
    4. ``perm = rng.permutation(n)``: row ``i`` is mixed with row ``perm[i]``;
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
    perm = torch.as_tensor(rng.permutation(n), device=x.device)
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


def _seed_from(random_state, stream):
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

    def __init__(self, *args, mixup_alpha=1.0, cutmix_alpha=0.0, mix_prob=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.mixup_alpha = mixup_alpha
        self.cutmix_alpha = cutmix_alpha
        self.mix_prob = mix_prob

    # -- randomness -------------------------------------------------------------------

    def _reset_batch_rngs(self):
        seed = getattr(self, "random_state", None)
        self.mix_rng_ = np.random.RandomState(_seed_from(seed, 1))
        self.augment_rng_ = np.random.RandomState(_seed_from(seed, 2))

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


# --------------------------------------------------------------------------- input


class _InputAdapter:
    """Fixed-at-fit conversion of the user's rows to what the module takes.

    ``kind="image"``: :class:`ImageFormat` to float NCHW in [-1, 1].
    ``kind="flat"``: rows flattened; uint8 scaled to [-1, 1], floats
    standardised per feature with the training mean and standard deviation.
    """

    def __init__(self, X, kind, image_shape=None):
        X = _as_array(X)
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
        X = _as_array(X)
        if tuple(X.shape[1:]) != self.sample_shape:
            raise ValueError(
                f"X has rows of shape {tuple(X.shape[1:])}, but the net was fitted on rows "
                f"of shape {self.sample_shape}."
            )
        if self.kind == "image":
            return np.ascontiguousarray(self.format.to_nchw(X), dtype=np.float32)
        flat = X.reshape(len(X), -1).astype(np.float64)
        return ((flat - self.mean) / self.scale).astype(np.float32)


def _as_array(X):
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    X = np.asarray(X)
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise ValueError(f"X must hold numbers; got an array of dtype {X.dtype}.")
    if X.ndim < 2:
        raise ValueError(f"X must have one row per sample (at least 2-D); got shape {X.shape}.")
    return X


def _accuracy_on_encoded(net, X, y):
    """Accuracy for skorch's EpochScoring, whose ``y`` holds the encoded labels."""
    return float(np.mean(net.predict_proba(X).argmax(1) == to_numpy(y)))


class _CosineAnnealing(LRScheduler):
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


# --------------------------------------------------------------------------- classifier

_LOSSES = ("cross_entropy", "class_weighted", "balanced_softmax", "group_dro")


class MixupNetClassifier(MixupMixin, NeuralNetClassifier):
    """Image classifier trained with Mixup / CutMix, the SYNAuG recipe, as a skorch net.

    It accepts what imbalanced-learn samplers emit -- uint8 or float; flat
    rows (square ones are grey images, others need ``image_shape``),
    ``(n, H, W)``, NHWC or NCHW -- and any label values (strings too):
    ``classes_`` and ``predict`` use the user's labels. The input scaling is
    fixed at fit from the training data (uint8: 0..255; floats: their min and
    max) to [-1, 1] in float NCHW. Every other skorch parameter
    (``module__*``, ``optimizer__*``, ``callbacks``, ``iterator_train__*``,
    ...) works as in :class:`skorch.NeuralNetClassifier`.

    Parameters
    ----------
    module : str, torch.nn.Module subclass or instance, default="small_cnn"
        ``"small_cnn"``, ``"resnet32"`` or ``"mlp"`` (flat rows: tabular
        data), or your own module. ``in_channels`` (``in_features`` for the
        MLP) and ``num_classes`` are set from the data when the module's
        constructor accepts them and you did not set them (``module__...``).
        Custom image modules receive float NCHW in [-1, 1]. For classifier
        re-training the module should expose ``features(x)`` and a linear
        ``head`` (as the named ones do).
    mixup_alpha : float, default=1.0
        Mixup's Beta(alpha, alpha); 0 disables it. On by default, as in SYNAuG
        (Mixup is what makes a resampled or filled set generalise).
    cutmix_alpha : float, default=0.0
        CutMix's Beta(alpha, alpha); 0 disables it. With both alphas > 0 each
        batch uses one of them at random.
    mix_prob : float, default=1.0
        Probability that a training batch is mixed; 0 gives plain training.
    loss : {"cross_entropy", "class_weighted", "balanced_softmax", "group_dro"}, \
default="cross_entropy"
        The criterion (ignored when ``criterion`` is given): plain
        cross-entropy; cross-entropy with "balanced" class weights; Balanced
        Softmax / logit adjustment with strength ``loss_tau``; or online Group
        DRO, which needs ``fit(X, y, groups=...)`` (its step size is
        ``criterion__eta``, default 0.01).
    loss_tau : float, default=1.0
        Strength of the logit adjustment of ``loss="balanced_softmax"``.
    class_counts : dict or None, default=None
        ``{label: count}`` used by the class-weighted and Balanced Softmax
        losses instead of the counts in the training data. After a sampler
        filled the deficits the net only sees uniform counts; pass the
        original long-tailed counts here (``loss_tau=0.5`` composes with a
        filled set, see FINDINGS.md section 2).
    augment : {"none", "flip_crop"}, default="none"
        ``"flip_crop"``: random horizontal flip and a random crop after
        padding by ``max(1, H // 8)`` pixels (4 for 32x32), on training
        batches only.
    image_shape : tuple or None, default=None
        ``(H, W)`` or ``(H, W, C)`` of 2-D input whose rows are not square grey
        images.
    lr_schedule : {"cosine"} or None, default="cosine"
        Cosine annealing of the learning rate over ``max_epochs`` (the
        ``lr_scheduler`` callback); ``None`` keeps ``lr`` constant.
    random_state : int, RandomState or None, default=None
        Seeds module initialisation, shuffling, mixing and augmentation, so
        that two fits with the same int give the same weights. torch's global
        generator is restored after ``fit``.
    criterion : torch criterion or None, default=None
        Overrides ``loss`` when given.
    optimizer : torch optimizer class, default=torch.optim.SGD
        With ``optimizer__momentum=0.9`` and ``optimizer__weight_decay=5e-4``
        unless you pass other values.
    lr : float, default=0.05
    max_epochs : int, default=30
    batch_size : int, default=128
    train_split : callable or None, default=None
        No internal validation split by default (imbalanced-learn pipelines
        pass all rows); e.g. ``skorch.dataset.ValidSplit(5, stratified=True)``
        enables one.
    device : str, default="cpu"
        ``"cuda"`` to train on a GPU.
    verbose : int, default=0
    **kwargs
        Any other :class:`skorch.NeuralNetClassifier` parameter.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The user's labels, sorted.
    class_counts_ : ndarray of shape (n_classes,)
        Counts the balancing losses use (``class_counts`` or the training counts).
    groups_ : ndarray or None
        The distinct groups seen in fit (only when the criterion needs groups).
    input_shape_ : tuple
        Per-sample shape of the fitted input.
    module_, criterion_, optimizer_, history_
        As in skorch.

    Notes
    -----
    **Groups.** ``fit(X, y, groups=...)`` stores the groups next to the images
    (the dataset's ``X`` becomes ``{"X": images, "groups": codes}``), so every
    batch carries the groups of its rows to ``get_loss``; the module never
    sees them and ``predict`` does not need them. With scikit-learn's metadata
    routing enabled, request them with ``net.set_fit_request(groups=True)``.
    imbalanced-learn's Pipeline passes only ``(X, y)`` from a sampler to the
    next step, so Group DRO cannot follow a sampler that changes the rows.

    **Custom scoring callbacks** see the encoded targets ``0 .. n_classes - 1``
    (use ``net.classes_[y]`` to map them back).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from synaug_learn.nets import MixupNetClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> net = MixupNetClassifier(max_epochs=1, random_state=0).fit(X[:200], y[:200])
    >>> net.predict(X[:5]).shape
    (5,)
    >>> net.classes_.tolist() == list(range(10))
    True
    """

    # ``groups`` is only for Group DRO: with metadata routing on, it is not routed to the net
    # unless requested with ``set_fit_request(groups=True)``.
    __metadata_request__fit = {"groups": False}
    __metadata_request__partial_fit = {"groups": False}

    _parameter_constraints = {
        "mixup_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "cutmix_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "mix_prob": [Interval(numbers.Real, 0, 1, closed="both")],
        "loss": [StrOptions(set(_LOSSES))],
        "loss_tau": [Interval(numbers.Real, 0, None, closed="left")],
        "class_counts": [dict, None],
        "augment": [StrOptions({"none", "flip_crop"})],
        "image_shape": [tuple, list, None],
        "lr_schedule": [StrOptions({"cosine"}), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        module="small_cnn",
        *,
        mixup_alpha=1.0,
        cutmix_alpha=0.0,
        mix_prob=1.0,
        loss="cross_entropy",
        loss_tau=1.0,
        class_counts=None,
        augment="none",
        image_shape=None,
        lr_schedule="cosine",
        random_state=None,
        criterion=None,
        optimizer=torch.optim.SGD,
        lr=0.05,
        max_epochs=30,
        batch_size=128,
        train_split=None,
        device="cpu",
        verbose=0,
        **kwargs,
    ):
        kwargs.setdefault("optimizer__momentum", 0.9)
        kwargs.setdefault("optimizer__weight_decay", 5e-4)
        kwargs.setdefault("iterator_train__shuffle", True)
        super().__init__(
            module,
            mixup_alpha=mixup_alpha,
            cutmix_alpha=cutmix_alpha,
            mix_prob=mix_prob,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            device=device,
            verbose=verbose,
            **kwargs,
        )
        self.loss = loss
        self.loss_tau = loss_tau
        self.class_counts = class_counts
        self.augment = augment
        self.image_shape = image_shape
        self.lr_schedule = lr_schedule
        self.random_state = random_state

    # -- defaults -----------------------------------------------------------------------

    @property
    def _default_callbacks(self):
        callbacks = []
        for name, cb in super()._default_callbacks:
            if name == "valid_acc":
                cb = EpochScoring(_accuracy_on_encoded, name="valid_acc", lower_is_better=False)
            if name == "print_log" and getattr(self, "lr_schedule", None) == "cosine":
                callbacks.append(("lr_scheduler", _CosineAnnealing()))
            callbacks.append((name, cb))
        return callbacks

    # -- validation -----------------------------------------------------------------------

    def _check_params(self):
        params = {k: getattr(self, k) for k in self._parameter_constraints}
        validate_parameter_constraints(
            self._parameter_constraints, params, caller_name=type(self).__name__
        )
        resolve_module(self.module)
        if self.class_counts is not None:
            bad = {k: v for k, v in self.class_counts.items()
                   if not (isinstance(v, numbers.Real) and v > 0)}
            if bad:
                raise ValueError(
                    f"class_counts must map labels to positive counts; got {bad!r}."
                )

    def _needs_groups(self):
        if self.criterion is None:
            return self.loss == "group_dro"
        return bool(getattr(self.criterion, "requires_groups", False))

    # -- fit-time setup -------------------------------------------------------------------

    def _setup(self, X, y, groups):
        """Fix the input conversion, labels, class counts and groups from the training data."""
        flat = is_flat_module(resolve_module(self.module))
        if flat and self.cutmix_alpha > 0:
            raise ValueError(
                f"cutmix_alpha={self.cutmix_alpha!r} needs image input; module="
                f"{_describe(self.module)} takes flat rows (set cutmix_alpha=0)."
            )
        if flat and self.augment != "none":
            raise ValueError(
                f"augment={self.augment!r} needs image input; module="
                f"{_describe(self.module)} takes flat rows."
            )
        X = _as_array(X)
        adapter = _InputAdapter(X, "flat" if flat else "image", self.image_shape)
        y = _check_y(y, len(X))
        le = LabelEncoder().fit(y if self.classes is None else np.asarray(self.classes))
        unseen = np.setdiff1d(np.unique(y), le.classes_)
        if unseen.size:
            raise ValueError(f"y holds labels {unseen.tolist()!r} that are not in classes.")
        counts = np.bincount(le.transform(y), minlength=len(le.classes_)).astype(np.float64)
        if self.class_counts is not None:
            missing = [c for c in le.classes_.tolist() if c not in self.class_counts]
            if missing:
                raise ValueError(
                    f"class_counts has no count for the labels {missing!r}; "
                    f"got class_counts={self.class_counts!r}."
                )
            counts = np.array([float(self.class_counts[c]) for c in le.classes_.tolist()])
        self.input_adapter_ = adapter
        self.input_shape_ = adapter.sample_shape
        self.label_encoder_ = le
        self.class_counts_ = np.maximum(counts, 1.0)
        self.groups_ = None
        self.group_encoder_ = None
        if self._needs_groups():
            if groups is None:
                hint = (" (with metadata routing enabled, request them: "
                        "net.set_fit_request(groups=True))" if _routing_enabled() else "")
                raise ValueError(
                    f"loss={self.loss!r} needs the group of every row: pass "
                    f"fit(X, y, groups=...){hint}."
                )
            groups = np.asarray(groups)
            if groups.shape != (len(y),):
                raise ValueError(
                    f"groups must have one entry per row of X ({len(y)}); got shape "
                    f"{groups.shape}. (imbalanced-learn's Pipeline does not pass groups of "
                    "resampled rows to the next step.)"
                )
            self.group_encoder_ = LabelEncoder().fit(groups)
            self.groups_ = self.group_encoder_.classes_

    def _with_groups(self, X, groups):
        if groups is None or self.group_encoder_ is None:
            return X
        groups = np.asarray(groups)
        if groups.shape != (len(X),):
            raise ValueError(
                f"groups must have one entry per row of X ({len(X)}); got shape {groups.shape}."
            )
        return {"X": X, GROUPS_KEY: self.group_encoder_.transform(groups).astype(np.int64)}

    @contextlib.contextmanager
    def _seeded(self):
        if self.random_state is None:
            yield
            return
        devices = []
        if str(self.device).startswith("cuda") and torch.cuda.is_available():
            index = torch.device(self.device).index
            devices = [torch.cuda.current_device() if index is None else index]
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(_seed_from(self.random_state, 0))
            yield

    def fit(self, X, y, groups=None, **fit_params):
        """Fit the net on ``X`` (images or rows), labels ``y`` and, for Group DRO, ``groups``.

        Parameters
        ----------
        X : array-like
            Flat rows, ``(n, H, W)``, NHWC or NCHW; uint8 or float.
        y : array-like of shape (n,)
            Labels of any type.
        groups : array-like of shape (n,) or None
            Group of each row; needed by ``loss="group_dro"``, ignored otherwise.
        **fit_params
            Passed to skorch's ``fit``.

        Returns
        -------
        self
        """
        self._check_params()
        if not (self.warm_start and self.initialized_):
            self._setup(X, y, groups)
        X_in = self._with_groups(X, groups)
        with self._seeded():
            return super().fit(X_in, y, **fit_params)

    def partial_fit(self, X, y=None, classes=None, groups=None, **fit_params):
        """Continue training (see skorch); the first call fixes the input format and labels."""
        if not hasattr(self, "input_adapter_"):
            self._check_params()
            self._setup(X, y, groups)
        if groups is not None:
            X = self._with_groups(X, groups)
        if not self.initialized_:
            self.initialize()
        if not getattr(self, "module_checked_", True):
            self._check_module_output(X)
        return super().partial_fit(X, y, classes=classes, **fit_params)

    def _check_module_output(self, X):
        """Run the module on two rows so that a mismatch is a clear error, not a torch one."""
        sample = X["X"] if isinstance(X, Mapping) else X
        if is_dataset(sample):
            self.module_checked_ = True
            return
        x = torch.from_numpy(self.input_adapter_.transform(_as_array(sample)[:2]))
        self._set_training(False)
        try:
            with torch.no_grad():
                out = self.infer(x)
        except (RuntimeError, ValueError, TypeError, IndexError) as exc:
            raise ValueError(
                f"module={_describe(self.module)} cannot process the fitted input: rows "
                f"converted to shape {tuple(x.shape)} (float, [-1, 1]) raised "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        out = out[0] if isinstance(out, tuple) else out
        n_classes = len(self.classes_)
        if out.dim() != 2 or out.shape[1] != n_classes:
            raise ValueError(
                f"module={_describe(self.module)} returns shape {tuple(out.shape)} for "
                f"{tuple(x.shape)} input, but y has {n_classes} classes: its output must be "
                f"(n, {n_classes}) (set module__num_classes)."
            )
        self.module_checked_ = True

    # -- skorch override points -----------------------------------------------------------

    def initialize_module(self):
        kwargs = self.get_params_for("module")
        module = resolve_module(self.module)
        if isinstance(module, nn.Module):
            module = type(module)(**kwargs) if kwargs else module
        else:
            adapter = getattr(self, "input_adapter_", None)
            data_kwargs = {}
            if adapter is not None:
                if adapter.kind == "flat":
                    data_kwargs["in_features"] = adapter.in_shape[0]
                else:
                    data_kwargs["in_channels"] = adapter.in_shape[0]
                data_kwargs["num_classes"] = len(self.label_encoder_.classes_)
            module = module(**{**accepted_kwargs(module, data_kwargs), **kwargs})
        self.module_ = module
        self.module_checked_ = False
        return self

    def initialize_criterion(self):
        if self.criterion is not None:
            return super().initialize_criterion()
        if not hasattr(self, "class_counts_"):
            raise ValueError(
                f"loss={self.loss!r} is built from the training data: call fit first, or "
                "pass criterion=..."
            )
        kwargs = self.get_params_for("criterion")
        if self.loss == "cross_entropy":
            criterion = nn.CrossEntropyLoss(**kwargs)
        elif self.loss == "class_weighted":
            criterion = ClassWeightedCrossEntropy(self.class_counts_, **kwargs)
        elif self.loss == "balanced_softmax":
            criterion = BalancedSoftmaxLoss(self.class_counts_, tau=self.loss_tau, **kwargs)
        else:
            n_groups = 1 if self.groups_ is None else len(self.groups_)
            criterion = GroupDROLoss(n_groups, **kwargs)
        self.criterion_ = criterion
        return self

    def get_dataset(self, X, y=None):
        if is_dataset(X) or not hasattr(self, "input_adapter_"):
            return super().get_dataset(X, y)
        if isinstance(X, Mapping):
            X = {
                "X": torch.from_numpy(self.input_adapter_.transform(X["X"])),
                GROUPS_KEY: torch.as_tensor(np.asarray(X[GROUPS_KEY]), dtype=torch.int64),
            }
        else:
            X = torch.from_numpy(self.input_adapter_.transform(X))
        if y is not None:
            y = torch.as_tensor(self._encode(y), dtype=torch.int64)
        return super().get_dataset(X, y)

    def _encode(self, y):
        y = np.asarray(to_numpy(y) if isinstance(y, torch.Tensor) else y)
        try:
            return self.label_encoder_.transform(y.ravel())
        except ValueError as exc:
            raise ValueError(
                f"y holds labels the net was not fitted on (classes_="
                f"{self.label_encoder_.classes_.tolist()!r}): {exc}"
            ) from exc

    def infer(self, x, **fit_params):
        if isinstance(x, Mapping) and GROUPS_KEY in x:
            x = x["X"]
        return super().infer(x, **fit_params)

    def augment_batch(self, x):
        if self.augment == "flip_crop":
            return flip_crop(x, random_state=self.augment_rng_)
        return x

    # -- labels ---------------------------------------------------------------------------

    @property
    def classes_(self):
        encoder = self.__dict__.get("label_encoder_")
        if encoder is not None:
            return encoder.classes_
        return super().classes_

    def predict(self, X):
        """Predict the user's labels for ``X``."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def _describe(module):
    """A one-line description of a ``module`` parameter for error messages."""
    if isinstance(module, str):
        return repr(module)
    if isinstance(module, nn.Module):
        return f"{type(module).__name__}(...) instance"
    return getattr(module, "__name__", repr(module))


def _check_y(y, n_rows):
    if y is None:
        raise ValueError("y is required: MixupNetClassifier.fit(X, y).")
    y = np.asarray(to_numpy(y) if isinstance(y, torch.Tensor) else y)
    if y.ndim != 1:
        y = y.ravel() if y.ndim == 2 and 1 in y.shape else y
    if y.ndim != 1 or len(y) != n_rows:
        raise ValueError(f"y must have one label per row of X ({n_rows}); got shape {y.shape}.")
    return y
