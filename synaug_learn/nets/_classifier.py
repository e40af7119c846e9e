"""MixupNetClassifier: the image classifier SYNAuG trains, as a skorch net.

It takes images the way samplers emit them (uint8 or float; flat rows,
``(n, H, W)``, NHWC or NCHW), any label values, and picks the module, loss,
optimizer and learning-rate schedule of the long-tailed literature by default.
It extends skorch through its override points: ``train_step`` /
``get_loss`` (the mixing, from :class:`~synaug_learn.nets.MixupMixin`),
``get_dataset`` (the input adapter), ``initialize_module`` /
``initialize_criterion`` (module and loss from the data) and callbacks (the
learning-rate schedule).
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Mapping

import numpy as np
import torch
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.metadata_routing import _routing_enabled
from skorch import NeuralNetClassifier
from skorch.callbacks import EpochScoring
from skorch.utils import check_is_fitted, is_dataset, to_numpy
from torch import nn

from ._augment import flip_crop
from ._callbacks import CosineAnnealing, accuracy_on_encoded
from ._input import InputAdapter, as_array, check_y
from ._losses import BalancedSoftmaxLoss, ClassWeightedCrossEntropy, GroupDROLoss
from ._mixing import GROUPS_KEY, PAIRINGS, SYNTHETIC_KEY, MixupMixin, seed_from
from ._modules import accepted_kwargs, get_head, is_flat_module, resolve_module

__all__ = ["MixupNetClassifier"]

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
        re-training (:class:`~synaug_learn.RetrainClassifier`) a custom module
        names its final ``torch.nn.Linear`` in the class attribute
        ``head_name`` (the named modules have ``head_name = "head"``; see
        :func:`~synaug_learn.nets.get_head`).
    mixup_alpha : float, default=1.0
        Mixup's Beta(alpha, alpha); 0 disables it. On by default, as in SYNAuG
        (Mixup is what makes a resampled or filled set generalise).
    cutmix_alpha : float, default=0.0
        CutMix's Beta(alpha, alpha); 0 disables it. With both alphas > 0 each
        batch uses one of them at random.
    mix_prob : float, default=1.0
        Probability that a training batch is mixed; 0 gives plain training.
    mixup_pairing : {"random", "real_synthetic"}, default="random"
        ``"real_synthetic"``: Mixup / CutMix pair each real row with a
        generated one of the same batch (the domain Mixup of SYNAuG, which
        bridges the gap between real and generated images); needs
        ``fit(..., sample_is_synthetic=mask)``.
    two_stage_epochs : int, default=0
        When > 0, after the ``max_epochs`` on all rows, fine-tune for this
        many epochs on the real rows only (``sample_is_synthetic`` False),
        as "From Fake to Real" (Qraitem et al., 2023) trains on synthetic,
        then real data. Needs ``fit(..., sample_is_synthetic=mask)``.
    two_stage_lr : float or None, default=None
        Constant learning rate of the second stage; ``None`` = ``lr / 10``.
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
        filled set; ``loss_tau=1`` over-corrected by 6.5 points on long-tailed
        digits after a fill from a pretrained generator).
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
    head_ : torch.nn.Linear
        The fitted module's final linear layer, the one its ``head_name``
        names (what :class:`~synaug_learn.RetrainClassifier` refits).
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

    **Generated rows.** ``fit(X, y, sample_is_synthetic=mask)`` tells the
    net which rows were generated (:class:`~synaug_learn.SyntheticAwareClassifier`
    passes a sampler's ``synthetic_mask_`` this way); the mask travels with
    the images (dataset key ``"synthetic"``) so that each batch knows its
    generated rows. Only ``mixup_pairing`` and ``two_stage_epochs`` use it.

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
        "mixup_pairing": [StrOptions(set(PAIRINGS))],
        "two_stage_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "two_stage_lr": [Interval(numbers.Real, 0, None, closed="neither"), None],
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
        mixup_pairing="random",
        two_stage_epochs=0,
        two_stage_lr=None,
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
            mixup_pairing=mixup_pairing,
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
        self.two_stage_epochs = two_stage_epochs
        self.two_stage_lr = two_stage_lr
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
                cb = EpochScoring(accuracy_on_encoded, name="valid_acc", lower_is_better=False)
            if name == "print_log" and getattr(self, "lr_schedule", None) == "cosine":
                callbacks.append(("lr_scheduler", CosineAnnealing()))
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
        X = as_array(X)
        adapter = InputAdapter(X, "flat" if flat else "image", self.image_shape)
        y = check_y(y, len(X))
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

    def _with_groups(self, X, groups, synthetic=None):
        """``X``, or a dict of it with the rows' group codes and/or synthetic mask."""
        out = {}
        if groups is not None and self.group_encoder_ is not None:
            groups = np.asarray(groups)
            if groups.shape != (len(X),):
                raise ValueError(
                    f"groups must have one entry per row of X ({len(X)}); got shape "
                    f"{groups.shape}."
                )
            out[GROUPS_KEY] = self.group_encoder_.transform(groups).astype(np.int64)
        if synthetic is not None and self.mixup_pairing == "real_synthetic":
            out[SYNTHETIC_KEY] = synthetic
        return {"X": X, **out} if out else X

    def _check_synthetic(self, sample_is_synthetic, n):
        """The mask as a bool array of shape (n,), or None; error when an option needs it."""
        needs = [name for name, on in (("mixup_pairing='real_synthetic'",
                                        self.mixup_pairing == "real_synthetic"),
                                       (f"two_stage_epochs={self.two_stage_epochs}",
                                        self.two_stage_epochs > 0)) if on]
        if sample_is_synthetic is None:
            if needs:
                raise ValueError(
                    f"{' and '.join(needs)} needs to know which rows are generated: pass "
                    "fit(X, y, sample_is_synthetic=mask), or wrap the sampler and the net in "
                    "SyntheticAwareClassifier(sampler, net), which does."
                )
            return None
        mask = np.asarray(sample_is_synthetic)
        if mask.shape != (n,) or mask.dtype != bool:
            raise ValueError(
                f"sample_is_synthetic must be a boolean array with one entry per row of X "
                f"({n}); got dtype {mask.dtype} and shape {mask.shape}."
            )
        if self.two_stage_epochs > 0 and mask.all():
            raise ValueError(
                f"two_stage_epochs={self.two_stage_epochs} fine-tunes on the real rows, but "
                "sample_is_synthetic marks every row as generated."
            )
        return mask

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
            torch.manual_seed(seed_from(self.random_state, 0))
            yield

    def fit(self, X, y, groups=None, sample_is_synthetic=None, **fit_params):
        """Fit the net on ``X`` (images or rows), labels ``y`` and, for Group DRO, ``groups``.

        Parameters
        ----------
        X : array-like
            Flat rows, ``(n, H, W)``, NHWC or NCHW; uint8 or float.
        y : array-like of shape (n,)
            Labels of any type.
        groups : array-like of shape (n,) or None
            Group of each row; needed by ``loss="group_dro"``, ignored otherwise.
        sample_is_synthetic : array-like of bool, shape (n,), or None
            Which rows were generated; needed by ``mixup_pairing="real_synthetic"``
            and ``two_stage_epochs``, ignored otherwise.
        **fit_params
            Passed to skorch's ``fit``.

        Returns
        -------
        self
        """
        self._check_params()
        mask = self._check_synthetic(sample_is_synthetic, len(X))
        if not (self.warm_start and self.initialized_):
            self._setup(X, y, groups)
        X_in = self._with_groups(X, groups, mask)
        with self._seeded():
            super().fit(X_in, y, **fit_params)
            if self.two_stage_epochs > 0:
                self._fine_tune_on_real(X, y, groups, ~mask)
        return self

    def _fine_tune_on_real(self, X, y, groups, real):
        """Second stage: ``two_stage_epochs`` epochs on the real rows, constant learning rate.

        The learning-rate schedule of the first stage is paused (its callback
        is taken out of ``callbacks_`` for this stage and put back after).
        """
        idx = np.flatnonzero(real)
        X_real = as_array(X)[idx]
        y_real = np.asarray(y)[idx]
        g_real = None if groups is None else np.asarray(groups)[idx]
        lr = self.lr / 10.0 if self.two_stage_lr is None else self.two_stage_lr
        for group in self.optimizer_.param_groups:
            group["lr"] = lr
        callbacks = self.callbacks_
        self.callbacks_ = [(n, cb) for n, cb in callbacks if n != "lr_scheduler"]
        try:
            X_in = self._with_groups(X_real, g_real, np.zeros(len(idx), dtype=bool))
            NeuralNetClassifier.partial_fit(self, X_in, y_real, epochs=self.two_stage_epochs)
        finally:
            self.callbacks_ = callbacks

    def adapt_batchnorm(self, X):
        """Re-estimate the fitted module's BatchNorm statistics on ``X`` (AdaBN).

        The running means and variances of every BatchNorm layer are reset and
        recomputed as the average over ``X``'s batches, the weights left as
        they are (Li et al., 2016, "Revisiting Batch Normalization For
        Practical Domain Adaptation"). A net trained on generated images
        meets real ones at test time; with the statistics of real rows its
        features are normalised as the real images need. ``X`` needs no labels.

        Parameters
        ----------
        X : array-like
            Rows in the format the net was fitted on, e.g. the real rows.

        Returns
        -------
        self
        """
        check_is_fitted(self, ["module_"])
        norms = [m for m in self.module_.modules()
                 if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not norms:
            raise ValueError(
                f"module={_describe(self.module)} has no BatchNorm layer: adapt_batchnorm has "
                "no statistics to re-estimate."
            )
        momenta = [m.momentum for m in norms]
        self.module_.eval()  # dropout and the rest as at inference; only the norms learn
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the batches
            m.train()
        try:
            with torch.no_grad():
                for Xi, _ in self.get_iterator(self.get_dataset(as_array(X)), training=False):
                    self.infer(Xi)  # skorch moves the batch to the device
        finally:
            for m, momentum in zip(norms, momenta):
                m.momentum = momentum
            self.module_.eval()
        return self

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
        x = torch.from_numpy(self.input_adapter_.transform(as_array(sample)[:2]))
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
        if isinstance(X, Mapping):  # images plus per-row group codes and/or synthetic mask
            X = {
                "X": torch.from_numpy(self.input_adapter_.transform(X["X"])),
                **{k: torch.as_tensor(np.asarray(X[k]),
                                      dtype=torch.int64 if k == GROUPS_KEY else torch.bool)
                   for k in (GROUPS_KEY, SYNTHETIC_KEY) if k in X},
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
        if isinstance(x, Mapping) and "X" in x:
            x = x["X"]
        return super().infer(x, **fit_params)

    def augment_batch(self, x):
        if self.augment == "flip_crop":
            return flip_crop(x, random_state=self.augment_rng_)
        return x

    @property
    def head_(self):
        """The fitted module's final ``torch.nn.Linear``, named by its ``head_name``."""
        check_is_fitted(self, ["module_"])
        return get_head(self.module_, param_name="module")[1]

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
