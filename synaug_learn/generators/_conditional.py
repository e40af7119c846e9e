"""ConditionalDiffusionGenerator: a small class-conditional diffusion model (diffusers UNet)."""

from __future__ import annotations

import json
import math
import numbers
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ..utils import ImageFormat, check_device, check_is_fitted, derive_seed, jsonable, row_strata
from ._base import BaseGenerator, novelty_report
from ._pretrained import (
    CONFIG_NAME,
    pretrained_hashes,
    pretrained_path,
    read_config,
    save_unet,
    verify_pretrained,
)
from ._sampling import (
    SCHEDULERS,
    TIMESTEP_SPACINGS,
    check_guidance_interval,
    denoise,
    edit_start,
    make_scheduler,
    resolve_batch_size,
    seeded_noise,
    step_generators,
)

__all__ = ["ConditionalDiffusionGenerator"]

FORMAT_VERSION = 1
MIN_SIDE = 16  # below this the UNet has too little room; small images are upsampled


def _nearest_inverse(n, side):
    """``(side, n)`` matrix averaging the copies of each of ``n`` pixels in torch's nearest
    upsampling to ``side`` (source of output pixel ``d``: ``floor(d * n / side)``)."""
    import torch

    source = torch.clamp((torch.arange(side) * (n / side)).floor().long(), max=n - 1)
    weights = torch.zeros(side, n)
    weights[torch.arange(side), source] = 1.0
    return weights / weights.sum(0, keepdim=True)


# The parameters that only shape sampling: save_pretrained writes them to the folder's
# "sampling" block and from_pretrained makes them the loaded generator's defaults.
SAMPLING_PARAMS = ("scheduler", "num_inference_steps", "guidance_scale", "guidance_interval",
                   "timestep_spacing", "guidance_rule")
CONDITIONINGS = ("joint", "factorized")


def _check_class_mapping(mapping, classes, model_labels, pretrained, fine_tune, merge_classes):
    """Check ``class_mapping`` against the data's labels and the pretrained model's."""
    if mapping is None:
        return
    labels = list(classes)
    where = f"pretrained={str(pretrained)!r}"
    unknown = [k for k in mapping if k not in set(labels)]
    if unknown:
        raise ValueError(f"class_mapping={mapping!r} names labels {unknown!r} that are not in "
                         f"y; the labels of y are {labels!r}.")
    model_set = set(model_labels)
    targets = [v for v in mapping.values() if v not in model_set]
    if targets and not fine_tune:
        raise ValueError(
            f"class_mapping={mapping!r} maps to {targets!r}, which {where} does not know; its "
            f"labels are {sorted(model_set, key=repr)!r} (or learn new labels with "
            "fine_tune=<steps>, leaving them unmapped)."
        )
    by_target = {}
    for label in labels:
        by_target.setdefault(mapping.get(label, label), []).append(label)
    shared = {t: ls for t, ls in by_target.items() if len(ls) > 1}
    if shared and not merge_classes:
        described = "; ".join(f"labels {ls!r} -> {t!r}" for t, ls in shared.items())
        raise ValueError(
            f"class_mapping={mapping!r} sends several of your labels to one label of {where} "
            f"({described}; unmapped labels keep their own), so those classes would be "
            "generated alike. Map each label to its own, or pass merge_classes=True if that "
            "is what you mean."
        )


def _label_from_json(value):
    return tuple(value) if isinstance(value, list) else value


def _stratum_from_json(value):
    label, group = value
    return (label, group)


class ConditionalDiffusionGenerator(BaseGenerator):
    """Class- (and group-) conditional diffusion model trained or loaded offline.

    A diffusers ``UNet2DModel`` conditioned on the stratum (class, or
    ``(class, group)`` cell) through a learnt embedding, trained with the
    DDPM noise-prediction loss on class-balanced batches (so tail classes are
    learnt), classifier-free guidance (the condition is dropped with
    probability ``class_dropout``), EMA weights, and sampled with DDIM or a
    multistep solver (DPM-Solver++, UniPC), guided on all steps or on an
    interval of them.
    Images are padded (or, below 16 pixels, upsampled) to a UNet-friendly
    size and brought back to the data's shape, channels and dtype.

    Where its value comes from: a model trained only on a long-tailed dataset
    mostly *copies* the few tail images (see ``SynAugSampler.report_``); a
    model pretrained on a larger pool that has seen the concepts elsewhere
    brings new information. Pass ``pretrained=`` (a folder written by
    :meth:`save_pretrained`, or the name of a generator shipped with the
    package, see :func:`list_pretrained`) and ``fit`` only checks classes
    and image shape. Because the source lives in a parameter, ``clone`` and
    ``GridSearchCV`` keep it.

    Parameters
    ----------
    pretrained : str or path-like, default=None
        Load weights and architecture from here instead of training from
        scratch. Architecture parameters are then taken from the saved model.
        A path (anything with a path separator, starting with ``.`` or ``~``,
        or an existing folder) means a folder; a bare name a shipped model.
    fine_tune : int, default=0
        With ``pretrained``, continue training for this many steps on the
        user's data (0 = off). Fine-tuning on a few tail images turns a useful
        generator back into a copier (measured on long-tailed digits: 300 steps
        on the tail rows cost 9.8 points of balanced accuracy), so keep it
        short, with a low ``fine_tune_lr``, and check the novelty in the
        sampler's report.
    fine_tune_lr : float, default=1e-4
        Learning rate while fine-tuning.
    fine_tune_min_count : int, default=0
        While fine-tuning, strata with fewer real rows than this are left out
        of the batches (their embeddings stay as pretrained), so the model
        cannot memorise the few tail images. Strata new to the pretrained
        model are always trained.
    check_novelty : bool, default=True
        After fine-tuning, generate 16 probe samples per fine-tuned stratum
        and warn when their novelty against that stratum's training rows
        (see :func:`~synaug_learn.metrics.synthetic_report`) falls below 0.3,
        i.e. when fine-tuning turned the generator into a copier.
    class_mapping : dict, default=None
        ``{user_label: pretrained_label}`` when the data's labels differ from
        the pretrained model's; by default labels must match. Checked when
        fitting, before loading the weights: every key must be a label of
        ``y``, every value a label of the pretrained model (unless
        ``fine_tune`` learns new ones), and no two labels may share a model
        label unless ``merge_classes=True``.
    merge_classes : bool, default=False
        Allow ``class_mapping`` to send several of your labels to one label
        of the pretrained model (e.g. ``{0: 0, 1: 0}``); they are then
        generated alike. Off by default, since that is almost always a
        mistake that gives no error otherwise.
    image_shape : tuple, default=None
        ``(H, W)`` or ``(H, W, C)`` for 2-D input whose rows are not square
        grey images.
    block_out_channels : tuple of int, default=(32, 64, 64)
        UNet channels per resolution level (ignored with ``pretrained``).
    layers_per_block : int, default=1
        ResNet layers per UNet block (ignored with ``pretrained``).
    max_steps : int, default=2000
        Training budget in optimiser steps.
    max_epochs : float, default=None
        Training budget in passes over the data (the smaller budget wins).
    max_minutes : float, default=None
        Training budget in wall-clock minutes (the smaller budget wins).
    batch_size : int, default=64
        Training batch size.
    learning_rate : float, default=1e-3
        AdamW learning rate when training from scratch.
    ema_decay : float, default=0.999
        Decay of the exponential moving average of the weights used to sample.
    class_dropout : float, default=0.1
        Probability of dropping the condition during training, which makes
        classifier-free guidance possible. With ``conditioning="factorized"``
        the class and the group are each dropped with this probability,
        independently.
    class_balanced : bool, default=True
        Draw training batches uniformly over strata (measured better on all
        10 classifier seeds on long-tailed digits, by 1.2 to 2 points), else
        uniformly over rows.
    conditioning : {"joint", "factorized"}, default="joint"
        ``"joint"``: one learnt embedding per stratum (class, or
        ``(class, group)`` cell). ``"factorized"`` (needs ``groups``): a class
        embedding plus a group embedding, summed in the UNet, each dropped
        independently with ``class_dropout`` while training, so the model
        learns ``p(x | class)``, ``p(x | group)`` and ``p(x)`` and can draw a
        ``(class, group)`` cell that has no training rows when its class and
        its group each occur (:meth:`can_compose` is then true).
    guidance_rule : {"joint", "composable"}, default="joint"
        How a factorised model guides a cell ``(c, g)``: ``"joint"`` feeds
        both factors together, ``eps(0,0) + w (eps(c,g) - eps(0,0))``;
        ``"composable"`` composes the separate scores,
        ``eps(0) + w_c (eps(c) - eps(0)) + w_g (eps(g) - eps(0))`` (three
        passes per guided step). A first probe found that the composable rule
        trades the factors off when a class was only seen in one group, and
        the joint rule partly works. Ignored with ``conditioning="joint"``.
    guidance_scale : float or (float, float), default=1.5
        Classifier-free guidance at sampling; 1 disables it (and halves the
        cost). More guidance gives more faithful but less diverse images.
        With ``guidance_rule="composable"`` a pair ``(w_class, w_group)``
        weighs the two factors.
    num_inference_steps : int, default=20
        Solver steps at sampling. A distilled student accepts only the step
        counts it was distilled for (its ``synaug_generator.json`` lists
        them); others raise a ``ValueError``.
    scheduler : {"ddim", "dpm++", "sde-dpm++", "unipc"}, default="ddim"
        The solver: deterministic DDIM, the multistep DPM-Solver++ (2nd
        order) or UniPC, both of which need fewer steps than DDIM for the
        same quality (diffusers' ``DPMSolverMultistepScheduler`` and
        ``UniPCMultistepScheduler``), or ``"sde-dpm++"``, DPM-Solver++ on the
        reverse SDE, which adds fresh noise at each step (seeded per row, so
        generation stays reproducible) and needs more steps: at 40 guided
        steps (80 passes) it gave the shipped Fashion-MNIST generator's best
        fill measured, 2 points of balanced accuracy above its default.
    guidance_interval : tuple of float, default=None
        ``(lo, hi)``: apply guidance only on the steps between these
        fractions of the trajectory (0 = pure noise, 1 = the clean image,
        by the diffusion time ``1 - t / 1000``); the other steps cost one
        network pass instead of two. ``None`` guides every step.
        Guidance at high noise mostly costs diversity and at low noise does
        little (Kynkäänniemi et al., 2024).
    timestep_spacing : {"leading", "linspace", "trailing"}, default=None
        How the solver places its steps; ``None`` keeps the scheduler's own
        default. Few-step students are sampled with ``"trailing"``.
    generation_batch_size : int or "auto", default="auto"
        Images denoised at once. ``"auto"``: 32 on CPU (a small batch keeps
        activations in cache, measured 1.4-2.1x as fast per image as 256
        for guided sampling) and 256 on an accelerator.
    device : str, default="cpu"
        Torch device, e.g. ``"cuda"``.
    random_state : int, RandomState or None, default=None
        Seeds training; sampling is seeded per row by ``generate``.
    verbose : int, default=0
        Progress bars when > 0.

    Attributes
    ----------
    classes_ : ndarray
        Labels of the fitted data.
    strata_ : list of tuple
        ``(label, group_or_None)`` cells of the fitted data.
    image_format_ : ImageFormat
        How the data stores images.
    model_strata_ : list of tuple
        The strata the network's embedding knows, in embedding order (those
        of the pretrained model first); with ``conditioning="factorized"``
        the strata it was trained on.
    model_classes_, model_groups_ : list
        With ``conditioning="factorized"``: the classes and groups of the
        class and group embeddings; any pair of them can be generated.
    n_train_steps_ : int
        Steps trained in this ``fit`` (0 for a pretrained model without
        fine-tuning).

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.generators import ConditionalDiffusionGenerator
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randint(0, 255, size=(40, 8, 8)).astype(np.uint8)
    >>> y = np.repeat([0, 1], 20)
    >>> gen = ConditionalDiffusionGenerator(block_out_channels=(16, 32), max_steps=5,
    ...                                     num_inference_steps=2, random_state=0)
    >>> gen = gen.fit(X, y)
    >>> X_new, y_new, _ = gen.generate({(1, None): 3}, random_state=0)
    >>> X_new.shape, X_new.dtype, y_new.tolist()
    ((3, 8, 8), dtype('uint8'), [1, 1, 1])
    """

    _parameter_constraints: dict = {
        "pretrained": [str, Path, None],
        "fine_tune": [Interval(numbers.Integral, 0, None, closed="left")],
        "fine_tune_lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "fine_tune_min_count": [Interval(numbers.Integral, 0, None, closed="left")],
        "check_novelty": ["boolean"],
        "class_mapping": [dict, None],
        "merge_classes": ["boolean"],
        "image_shape": [tuple, list, None],
        "block_out_channels": [tuple, list],
        "layers_per_block": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_steps": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "max_epochs": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "max_minutes": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "ema_decay": [Interval(numbers.Real, 0, 1, closed="left")],
        "class_dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "class_balanced": ["boolean"],
        "conditioning": [StrOptions(set(CONDITIONINGS))],
        "guidance_rule": [StrOptions({"joint", "composable"})],
        "guidance_scale": [Interval(numbers.Real, 0, None, closed="left"), tuple, list],
        "num_inference_steps": [Interval(numbers.Integral, 1, None, closed="left")],
        "scheduler": [StrOptions(set(SCHEDULERS))],
        "guidance_interval": [tuple, list, None],
        "timestep_spacing": [StrOptions(set(TIMESTEP_SPACINGS)), None],
        "generation_batch_size": [Interval(numbers.Integral, 1, None, closed="left"),
                                  StrOptions({"auto"})],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        pretrained=None,
        *,
        fine_tune=0,
        fine_tune_lr=1e-4,
        fine_tune_min_count=0,
        check_novelty=True,
        class_mapping=None,
        merge_classes=False,
        image_shape=None,
        block_out_channels=(32, 64, 64),
        layers_per_block=1,
        max_steps=2000,
        max_epochs=None,
        max_minutes=None,
        batch_size=64,
        learning_rate=1e-3,
        ema_decay=0.999,
        class_dropout=0.1,
        class_balanced=True,
        conditioning="joint",
        guidance_rule="joint",
        guidance_scale=1.5,
        num_inference_steps=20,
        scheduler="ddim",
        guidance_interval=None,
        timestep_spacing=None,
        generation_batch_size="auto",
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.pretrained = pretrained
        self.fine_tune = fine_tune
        self.fine_tune_lr = fine_tune_lr
        self.fine_tune_min_count = fine_tune_min_count
        self.check_novelty = check_novelty
        self.class_mapping = class_mapping
        self.merge_classes = merge_classes
        self.image_shape = image_shape
        self.block_out_channels = block_out_channels
        self.layers_per_block = layers_per_block
        self.max_steps = max_steps
        self.max_epochs = max_epochs
        self.max_minutes = max_minutes
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.ema_decay = ema_decay
        self.class_dropout = class_dropout
        self.class_balanced = class_balanced
        self.conditioning = conditioning
        self.guidance_rule = guidance_rule
        self.guidance_scale = guidance_scale
        self.num_inference_steps = num_inference_steps
        self.scheduler = scheduler
        self.guidance_interval = guidance_interval
        self.timestep_spacing = timestep_spacing
        self.generation_batch_size = generation_batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, pretrained, **params):
        """A generator that loads ``pretrained`` (a folder or a shipped name) when fitted.

        The source is kept in the ``pretrained`` parameter, so ``clone`` and
        searches keep it. ``params`` set the other parameters (sampling,
        fine-tuning). The sampling parameters saved with the model (its
        ``"sampling"`` block: scheduler, steps, guidance) and its
        ``conditioning`` are the defaults that ``params`` override. The folder
        and its ``synaug_generator.json`` are checked now, so a typo or a
        damaged file fails here, naming it.
        A path -- a ``Path``, or a string holding a path separator, starting
        with ``.`` or ``~``, or naming an existing folder -- always means that
        folder; a bare name (``"fashion-mnist-small"``) means a shipped model
        (:func:`list_pretrained`). So ``"./fashion-mnist-small"`` never loads
        the shipped one.
        """
        path = pretrained_path(pretrained)
        meta = read_config(path)
        if meta.get("sha256"):  # damaged weights fail here; unrecorded ones warn at fit
            verify_pretrained(path, meta)
        saved = meta.get("sampling") or {}
        if not isinstance(saved, dict):
            raise ValueError(f"{path / CONFIG_NAME}: 'sampling' must be an object; got "
                             f"{saved!r}.")
        defaults = {k: (tuple(v) if isinstance(v, list) else v)
                    for k, v in saved.items() if k in SAMPLING_PARAMS}
        defaults["conditioning"] = meta.get("conditioning", "joint")
        mapping = params.get("class_mapping")
        if isinstance(mapping, dict):  # what can be checked before the data is known
            _check_class_mapping(mapping, list(mapping), [s[0] for s in meta["strata"]],
                                 pretrained, params.get("fine_tune", 0),
                                 params.get("merge_classes", False))
        return cls(pretrained=pretrained, **{**defaults, **params})

    def save_pretrained(self, path):
        """Write the EMA weights (safetensors), scheduler and metadata to ``path``."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_unet(self.unet_, path)
        hashes = pretrained_hashes(path)
        meta = {
            "format_version": FORMAT_VERSION,
            "strata": [list(jsonable(s)) for s in self.model_strata_],
            "image_size": self.unet_size_,
            "channels": self.image_format_.channels,
            "height": self.image_format_.height,
            "width": self.image_format_.width,
            "num_train_timesteps": self._num_train_timesteps,
            "prediction_type": self._prediction_type,
            "conditioning": self.conditioning,
            **({"classes": [jsonable(c) for c in self.model_classes_],
                "groups": [jsonable(g) for g in self.model_groups_]}
               if self.conditioning == "factorized" else {}),
            "trained_steps": int(self.total_train_steps_),
            "n_train_steps": int(self.n_train_steps_),  # of the fit that made these weights
            "training_data_sha256": self.data_hash_,
            "params": {k: jsonable(v) if not isinstance(v, Path) else str(v)
                       for k, v in self.get_params(deep=False).items()},
            "sampling": {k: jsonable(getattr(self, k)) for k in SAMPLING_PARAMS},
            "sha256": hashes,  # checked by from_pretrained and when loading
        }
        (path / CONFIG_NAME).write_text(json.dumps(meta, indent=2, default=str))
        return path

    def _fit_from_saved(self, path, X, y, groups=None):
        """Fit by loading what :meth:`save_pretrained` wrote for this generator and data.

        The parameters stay this generator's own, so its fingerprint (and the
        bank rows keyed by it) is that of the fit that saved the folder. Used
        by the bank's fitted-generator cache; the files are checked against
        their recorded SHA-256 (a ``ValueError`` names a damaged one).
        """
        params = self.get_params(deep=False)
        meta = json.loads((Path(path) / CONFIG_NAME).read_text())
        self.set_params(pretrained=str(path), fine_tune=0)
        try:
            self.fit(X, y, groups)
        finally:
            self.set_params(pretrained=params["pretrained"], fine_tune=params["fine_tune"])
        self.n_train_steps_ = int(meta["n_train_steps"])
        self.total_train_steps_ = int(meta["trained_steps"])
        self._pretrained_steps = self.total_train_steps_ - self.n_train_steps_
        self._weights_hash = None
        return self

    # ------------------------------------------------------------------ fitting
    def _fit(self, X, y, groups):
        import torch

        self._validate_params()
        check_device(self.device)  # before any work: "cuda" without CUDA fails here
        check_guidance_interval(self.guidance_interval)
        self._check_guidance_scale()
        self._student_steps = None  # set again when a distilled student is loaded
        if self.conditioning == "factorized" and groups is None:
            raise ValueError(
                "conditioning='factorized' composes a class and a group embedding: pass "
                "fit(X, y, groups=...); got groups=None."
            )
        if self.class_mapping is not None and self.pretrained is None:
            raise ValueError("class_mapping is only used with pretrained=...; got pretrained=None.")
        self.image_format_ = ImageFormat.from_array(X, self.image_shape, param_name="X")
        strata_rows = self._stratum_indices(y, groups)
        seed = int(check_random_state(self.random_state).randint(2**31))
        # Weights are initialised and trained from random_state alone, without touching
        # (or depending on) torch's global generator: same random_state, same model.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if self.pretrained is not None:
                self._load_pretrained(strata_rows)
                steps, lr = self.fine_tune, self.fine_tune_lr
                trainable = [
                    s for s in self.strata_
                    if len(strata_rows[s]) >= self.fine_tune_min_count or s in self._new_strata
                ]
            else:
                self._build_unet()
                steps, lr = self._budget_steps(len(y)), self.learning_rate
                trainable = list(self.strata_)
            self.n_train_steps_ = 0
            if steps and not trainable:
                warnings.warn(
                    f"fine_tune={steps} skipped: no stratum has fine_tune_min_count="
                    f"{self.fine_tune_min_count} rows, so the pretrained weights are kept.",
                    UserWarning, stacklevel=3,
                )
            elif steps:
                x0 = torch.from_numpy(self._to_unet(self.image_format_.to_nchw(X)))
                self._train(x0, strata_rows, trainable, steps, lr, seed)
        self.total_train_steps_ = self._pretrained_steps + self.n_train_steps_
        self.unet_.eval()
        self._weights_hash = None
        if self.pretrained is not None and self.n_train_steps_ and self.check_novelty:
            self._warn_if_copying(X, y, groups, trainable)
        return self

    def _warn_if_copying(self, X, y, groups, strata):
        """Probe the fine-tuned strata; the report warns when their samples are near-copies.

        The report lives on the caller side of the package; it reaches the
        generator as the callback that :func:`~synaug_learn.generators._base.novelty_report`
        returns (generators never import it).
        """
        synthetic_report = novelty_report()
        probe = {s: 16 for s in strata}
        X_syn, y_syn, g_syn = self.generate(probe, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # re-worded below for fine-tuning
            report = synthetic_report(X, y, X_syn, y_syn, groups_train=groups,
                                      groups_syn=g_syn, random_state=0)
        self.novelty_after_fine_tuning_ = {
            (r["label"], r.get("group")): r["novelty"] for r in report.rows if r["n_generated"]
        }
        if report.copying_:
            worst = {s: round(self.novelty_after_fine_tuning_[s], 2) for s in report.copying_}
            warnings.warn(
                f"fine_tune={self.fine_tune} made the generator copy its training rows for "
                f"strata {worst} (novelty below {report.copy_threshold} or more than "
                f"{getattr(report, 'max_copy_share', 0.2)} of the samples near-copies; a novelty "
                "of about 1 is as new as unseen real data). Use fewer steps, a lower "
                "fine_tune_lr, or raise fine_tune_min_count to keep the tail strata as "
                "pretrained.",
                UserWarning, stacklevel=3,
            )

    def _stratum_indices(self, y, groups):
        keys = row_strata(y, groups)
        rows = {s: [] for s in self.strata_}
        for i, k in enumerate(keys):
            rows[k].append(i)
        return {s: np.asarray(v) for s, v in rows.items()}

    def _budget_steps(self, n_rows):
        budgets = [b for b in (self.max_steps,) if b is not None]
        if self.max_epochs is not None:
            budgets.append(max(1, math.ceil(self.max_epochs * n_rows / self.batch_size)))
        if not budgets and self.max_minutes is None:
            raise ValueError("max_steps, max_epochs and max_minutes are all None: set a budget.")
        return min(budgets) if budgets else 10**9

    def _unet_side(self, n_levels):
        fmt = self.image_format_
        multiple = 2 ** (n_levels - 1)
        side = max(fmt.height, fmt.width, MIN_SIDE)
        return int(math.ceil(side / multiple) * multiple)

    def _build_unet(self):
        from diffusers import UNet2DModel

        levels = len(self.block_out_channels)
        self.unet_size_ = self._unet_side(levels)
        self.model_strata_ = list(self.strata_)
        self._new_strata = set()
        self._pretrained_steps = 0
        self._num_train_timesteps = 1000
        self._prediction_type = "epsilon"
        # Attention only at the coarsest level: it is what CPU time can afford.
        down = ["DownBlock2D"] * (levels - 1) + ["AttnDownBlock2D"]
        up = ["AttnUpBlock2D"] + ["UpBlock2D"] * (levels - 1)
        groups = min(8, min(self.block_out_channels))
        factorized = self.conditioning == "factorized"
        self.unet_ = UNet2DModel(
            sample_size=self.unet_size_,
            in_channels=self.image_format_.channels,
            out_channels=self.image_format_.channels,
            block_out_channels=tuple(self.block_out_channels),
            layers_per_block=self.layers_per_block,
            down_block_types=tuple(down),
            up_block_types=tuple(up),
            norm_num_groups=groups,
            attention_head_dim=8,
            # last index = "no condition"; the factorised embedding is attached below
            num_class_embeds=None if factorized else len(self.model_strata_) + 1,
        )
        if factorized:
            self._attach_factorized(sorted(set(self.classes_.tolist()), key=repr),
                                    sorted({g for _, g in self.strata_}, key=repr))
        self.unet_.to(self.device)

    def _attach_factorized(self, classes, groups):
        """Give ``unet_`` a class + group embedding over ``classes`` x ``groups``."""
        from ._factorized import FactorizedEmbedding

        self.model_classes_, self.model_groups_ = list(classes), list(groups)
        dim = self.unet_.time_embedding.linear_2.out_features
        self.unet_.class_embedding = FactorizedEmbedding(len(classes), len(groups), dim)

    def _load_pretrained(self, strata_rows):
        import torch
        from diffusers import UNet2DModel

        path = pretrained_path(self.pretrained)
        meta = read_config(path)
        verify_pretrained(path, meta)
        fmt = self.image_format_
        saved = (meta["channels"], meta["height"], meta["width"])
        if saved != (fmt.channels, fmt.height, fmt.width):
            raise ValueError(
                f"pretrained={str(self.pretrained)!r} generates {meta['channels']}x{meta['height']}"
                f"x{meta['width']} (channels x H x W) images but the data holds "
                f"{fmt.channels}x{fmt.height}x{fmt.width}."
                + (" If the images are grey, read them as grey (load_image_folder(..., "
                   "color_mode='grayscale'); the synaug command's --grayscale)."
                   if meta["channels"] == 1 and fmt.channels == 3 else "")
            )
        pre_strata = [_stratum_from_json(s) for s in meta["strata"]]
        _check_class_mapping(self.class_mapping, self.classes_.tolist(),
                             [s[0] for s in pre_strata], self.pretrained, self.fine_tune,
                             self.merge_classes)
        mapping = self.class_mapping or {}
        self._to_model = {s: (mapping.get(s[0], s[0]), s[1]) for s in self.strata_}
        saved_conditioning = meta.get("conditioning", "joint")
        if saved_conditioning != self.conditioning:
            raise ValueError(
                f"pretrained={str(self.pretrained)!r} was trained with conditioning="
                f"{saved_conditioning!r} but conditioning={self.conditioning!r}; pass "
                f"conditioning={saved_conditioning!r} (from_pretrained does this)."
            )
        if self.conditioning == "factorized":
            self._load_factorized(path, meta, pre_strata)
            return
        known = set(map(tuple, pre_strata))
        new = [s for s in self.strata_ if self._to_model[s] not in known]
        if new and not self.fine_tune:
            raise ValueError(
                f"pretrained={str(self.pretrained)!r} knows strata {sorted(known, key=repr)!r}; "
                f"the data has {new!r}, which it does not. Map labels with class_mapping={{...}} "
                "or learn the new ones with fine_tune=<steps>."
            )
        # low_cpu_mem_usage=False: these networks are small, and without accelerate (not a
        # requirement) diffusers would otherwise warn on every load
        unet = UNet2DModel.from_pretrained(path / "unet", use_safetensors=True,
                                           low_cpu_mem_usage=False)
        if new:  # grow the embedding table: new strata before the "no condition" row
            old = unet.class_embedding.weight.data
            table = torch.nn.Embedding(len(pre_strata) + len(new) + 1, old.shape[1])
            with torch.no_grad():
                table.weight[: len(pre_strata)] = old[:-1]
                table.weight[len(pre_strata): -1] = old[:-1].mean(0)
                table.weight[-1] = old[-1]
            unet.class_embedding = table
            unet.register_to_config(num_class_embeds=table.num_embeddings)
        self.unet_ = unet.to(self.device)
        self.unet_size_ = int(meta["image_size"])
        self.model_strata_ = pre_strata + [self._to_model[s] for s in new]
        self._new_strata = set(new)
        self._pretrained_steps = int(meta.get("trained_steps", 0))
        self._num_train_timesteps = int(meta.get("num_train_timesteps", 1000))
        # What the network predicts: the noise, or v for the distilled few-step students.
        self._prediction_type = meta.get("prediction_type", "epsilon")
        if self._prediction_type != "epsilon" and self.fine_tune:
            raise ValueError(
                f"pretrained={str(self.pretrained)!r} is a distilled student (it predicts "
                f"{self._prediction_type!r}); fine_tune={self.fine_tune} trains noise "
                "prediction. Fine-tune its teacher instead."
            )
        # A few-step student samples well only at the step counts it was distilled for.
        self._student_steps = (meta.get("distillation") or {}).get("student_steps")
        self._check_student_steps()

    def _load_factorized(self, path, meta, pre_strata):
        """Load a factorised model; a cell is known when its class and its group are."""
        from diffusers import UNet2DModel
        from safetensors.torch import load_file

        classes = [_label_from_json(c) for c in meta["classes"]]
        groups = [_label_from_json(g) for g in meta["groups"]]
        new = [s for s in self.strata_
               if self._to_model[s][0] not in classes or self._to_model[s][1] not in groups]
        if new:
            raise ValueError(
                f"pretrained={str(self.pretrained)!r} is factorised over classes {classes!r} "
                f"and groups {groups!r}; the data has strata {new!r} outside them (learning "
                "new classes or groups into a factorised model is not supported)."
            )
        self.unet_ = UNet2DModel.from_config(UNet2DModel.load_config(path / "unet"))
        self._attach_factorized(classes, groups)
        weights = load_file(str(path / "unet" / "diffusion_pytorch_model.safetensors"))
        self.unet_.load_state_dict(weights)
        self.unet_.to(self.device)
        self.unet_size_ = int(meta["image_size"])
        self.model_strata_ = pre_strata
        self._new_strata = set()
        self._pretrained_steps = int(meta.get("trained_steps", 0))
        self._num_train_timesteps = int(meta.get("num_train_timesteps", 1000))
        self._prediction_type = meta.get("prediction_type", "epsilon")

    @property
    def num_train_timesteps_(self):
        """Timesteps of the noise schedule the UNet was trained with (for a custom sampler)."""
        self._check_fitted()
        return self._num_train_timesteps

    def class_index(self, stratum):
        """The UNet's class-embedding index that samples ``stratum`` (after ``class_mapping``).

        Parameters
        ----------
        stratum : tuple
            ``(label, group)`` as in :meth:`generate`.

        Returns
        -------
        int
            What to pass as ``class_labels`` to ``unet_`` for this stratum.
        """
        self._check_fitted()
        return self._model_index(stratum)

    def can_compose(self):
        """Whether a ``(class, group)`` cell with no training rows can be generated.

        True with ``conditioning="factorized"``: such a cell is drawn from the
        class and group embeddings, learnt on the rows where each occurs. The
        answer depends on the parameters only, so a sampler can check it
        before fitting (see :mod:`synaug_learn.generators._base`).

        Returns
        -------
        bool

        Examples
        --------
        >>> from synaug_learn.generators import ConditionalDiffusionGenerator
        >>> ConditionalDiffusionGenerator(conditioning="factorized").can_compose()
        True
        >>> ConditionalDiffusionGenerator().can_compose()
        False
        """
        return self.conditioning == "factorized"

    def _model_index(self, stratum):
        target = getattr(self, "_to_model", {}).get(stratum, stratum)
        if self.conditioning == "factorized":
            label, group = target
            if label not in self.model_classes_ or group not in self.model_groups_:
                raise ValueError(
                    f"stratum {stratum!r} cannot be composed: the factorised model knows "
                    f"classes {self.model_classes_!r} and groups {self.model_groups_!r}."
                )
            return self.unet_.class_embedding.index(self.model_classes_.index(label),
                                                    self.model_groups_.index(group))
        if target not in self.model_strata_:
            raise ValueError(
                f"stratum {stratum!r} has no training rows and conditioning='joint' learns one "
                "embedding per stratum seen; use conditioning='factorized' to compose a cell "
                "from its class and its group."
            )
        return self.model_strata_.index(target)

    def _null_index(self):
        if self.conditioning == "factorized":
            return self.unet_.class_embedding.null_index
        return self.unet_.config.num_class_embeds - 1

    def _check_guidance_scale(self):
        """The guidance weights as a tuple (one, or a pair for the composable rule)."""
        from ._factorized import check_guidance_scale

        rule = self.guidance_rule if self.conditioning == "factorized" else "joint"
        return check_guidance_scale(self.guidance_scale, rule)

    def _train(self, x0, strata_rows, trainable, steps, lr, seed):
        import torch
        from diffusers import DDPMScheduler
        from diffusers.training_utils import EMAModel
        from tqdm.auto import tqdm

        gen = torch.Generator().manual_seed(seed + 1)
        rows = np.concatenate([strata_rows[s] for s in trainable])
        stratum_of_row = np.concatenate(
            [np.full(len(strata_rows[s]), self._model_index(s)) for s in trainable]
        )
        if self.class_balanced:  # each stratum equally likely, then a row within it
            counts = np.concatenate([np.full(len(strata_rows[s]), len(strata_rows[s]))
                                     for s in trainable])
            weights = torch.from_numpy(1.0 / counts)
        else:
            weights = torch.ones(len(rows), dtype=torch.float64)
        labels_all = torch.from_numpy(stratum_of_row).long()
        null = self._null_index()
        factorized = self.conditioning == "factorized"
        scheduler = DDPMScheduler(num_train_timesteps=self._num_train_timesteps)
        self.unet_.train()
        opt = torch.optim.AdamW(self.unet_.parameters(), lr=lr, weight_decay=1e-4)
        ema = EMAModel(self.unet_.parameters(), decay=self.ema_decay, use_ema_warmup=True)
        deadline = None if self.max_minutes is None else time.monotonic() + 60 * self.max_minutes
        bar = tqdm(total=steps if steps < 10**9 else None, disable=not self.verbose,
                   desc="training generator", unit="step")
        x0 = x0.to(self.device)
        for _ in range(steps):
            pick = torch.multinomial(weights, self.batch_size, replacement=True, generator=gen)
            x = x0[torch.from_numpy(rows)[pick]]
            labels = labels_all[pick]
            if factorized:  # class and group dropped independently
                labels = self.unet_.class_embedding.drop(labels, self.class_dropout, gen)
                labels = labels.to(self.device)
            else:
                drop = torch.rand(len(labels), generator=gen) < self.class_dropout
                labels = torch.where(drop, torch.full_like(labels, null), labels).to(self.device)
            noise = torch.randn(x.shape, generator=gen).to(self.device)
            t = torch.randint(0, self._num_train_timesteps, (len(x),), generator=gen)
            noisy = scheduler.add_noise(x, noise, t)
            pred = self.unet_(noisy, t.to(self.device), class_labels=labels).sample
            loss = torch.nn.functional.mse_loss(pred, noise)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.unet_.parameters(), 1.0)
            opt.step()
            ema.step(self.unet_.parameters())
            self.n_train_steps_ += 1
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
            if deadline is not None and time.monotonic() > deadline:
                break
        bar.close()
        ema.copy_to(self.unet_.parameters())

    # ------------------------------------------------------------------ sampling
    def _to_unet(self, x):
        """NCHW [-1, 1] at the data's size -> the UNet's square size (pad, or upsample)."""
        import torch
        import torch.nn.functional as F

        fmt, side = self.image_format_, self.unet_size_
        x = torch.as_tensor(x)
        if max(fmt.height, fmt.width) < MIN_SIDE:
            # nearest up, area down: an exact round trip for integer factors, so a copied
            # training image stays a copy and the report's novelty can see it
            return F.interpolate(x, size=(side, side), mode="nearest").numpy()
        pad_h, pad_w = side - fmt.height, side - fmt.width
        pads = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
        return F.pad(x, pads, mode="replicate").numpy() if any(pads) else x.numpy()

    def _from_unet(self, x):
        import torch

        fmt, side = self.image_format_, self.unet_size_
        if max(fmt.height, fmt.width) < MIN_SIDE:
            # the inverse of _to_unet's nearest upsampling: each pixel is the mean of its
            # copies (area pooling for integer factors; 14 -> 16 -> 14 stays exact too)
            rows, cols = (_nearest_inverse(n, side).to(x) for n in (fmt.height, fmt.width))
            return torch.einsum("nchw,hi,wj->ncij", x, rows, cols)
        top, left = (side - fmt.height) // 2, (side - fmt.width) // 2
        return x[:, :, top: top + fmt.height, left: left + fmt.width]

    def resize_round_trip(self, X):
        """``X`` resized to the model's working size and back, without diffusion.

        Images smaller than 16 pixels are upsampled for the UNet and what it
        samples is downsampled again; larger ones are padded and cropped. This
        is what a *perfect copy* of a training image looks like after that
        resize: the reference for judging whether generated images copy the
        training rows (the novelty of :func:`~synaug_learn.metrics.synthetic_report`).

        Parameters
        ----------
        X : array-like
            Images in the fitted layout.

        Returns
        -------
        X_round_trip : ndarray
            Same shape and dtype as ``X``.

        Examples
        --------
        >>> import numpy as np
        >>> from synaug_learn.generators import ConditionalDiffusionGenerator
        >>> X = np.random.RandomState(0).randint(0, 255, size=(8, 8, 8)).astype(np.uint8)
        >>> gen = ConditionalDiffusionGenerator(block_out_channels=(16, 32), max_steps=1,
        ...                                     random_state=0).fit(X, np.repeat([0, 1], 4))
        >>> bool(np.array_equal(gen.resize_round_trip(X), X))  # 8 -> 16 -> 8 is exact
        True
        """
        import torch

        self._check_fitted()
        fmt = self.image_format_
        x = torch.from_numpy(self._to_unet(fmt.to_nchw(X)))
        return fmt.from_nchw(self._from_unet(x).numpy()).astype(np.asarray(X).dtype, copy=False)

    def _generate_stratum(self, stratum, seeds):
        from tqdm.auto import tqdm

        self._check_fitted()
        self._validate_params()  # sampling parameters may have been set after fit
        interval = check_guidance_interval(self.guidance_interval)
        weights = self._check_guidance_scale()
        label = self._model_index(stratum)
        null = self._null_index()
        c, side = self.image_format_.channels, self.unet_size_
        batch = resolve_batch_size(self.generation_batch_size, self.device)
        out = []
        for start in tqdm(range(0, len(seeds), batch), disable=self.verbose < 2,
                          desc=f"sampling {stratum}"):
            chunk = seeds[start: start + batch]
            x = seeded_noise((c, side, side), chunk).to(self.device)
            x = self._denoise(x, label, null, weights, interval,
                              generator=step_generators(self.scheduler, chunk))
            out.append(self._from_unet(x.float().cpu()).numpy())
        return self.image_format_.from_nchw(np.concatenate(out))

    def _check_student_steps(self):
        grids = getattr(self, "_student_steps", None)
        if grids and self.num_inference_steps not in grids:
            raise ValueError(
                f"pretrained={str(self.pretrained)!r} is a student distilled to sample in "
                f"{grids} steps; num_inference_steps={self.num_inference_steps} is off its "
                "grid and gives degraded images. Pass one of those, or sample its teacher."
            )

    def _new_scheduler(self):
        # A fresh scheduler per batch: the multistep solvers keep past predictions.
        self._check_student_steps()  # set_params may have changed the steps since fit
        return make_scheduler(self.scheduler, self._num_train_timesteps,
                              self.timestep_spacing, self._prediction_type)

    def _denoise(self, x, label, null, weights, interval, scheduler=None, start=0,
                 generator=None):
        """The guided reverse process of class index ``label`` from ``timesteps[start]``
        (``generator``: the rows' step-noise generators of a stochastic solver)."""
        scheduler = scheduler or self._new_scheduler()
        if self.conditioning == "factorized" and self.guidance_rule == "composable":
            from ._factorized import denoise_composable

            emb = self.unet_.class_embedding
            c, g = divmod(int(label), emb.n_groups + 1)
            return denoise_composable(
                self.unet_, x, label, emb.index(c, emb.n_groups), emb.index(emb.n_classes, g),
                emb.null_index, scheduler, self.num_inference_steps, weights, interval, start,
                generator)
        return denoise(self.unet_, x, label, null, scheduler, self.num_inference_steps,
                       weights[0], interval, start, generator)

    def edit(self, X, y, groups=None, *, strength=0.3, random_state=None):
        """Redraw each image from a noised copy of itself, conditioned on its own stratum.

        SDEdit (Meng et al., ICLR 2022), as diffusers' image-to-image
        pipelines do it: each row is noised to the timestep about ``strength``
        of the way into the schedule and denoised from there with this
        generator's sampler and guidance, conditioned on its ``(label, group)``.
        Near 0 returns the image nearly unchanged; 1 is a fresh sample. The
        result keeps the image's content and takes the generator's look, which
        is what :class:`~synaug_learn.SynAugSampler`'s ``regenerate_real``
        uses so that "looks generated" tells nothing about a row's cell.

        Parameters
        ----------
        X : array-like
            Images in the fitted format (shape and layout).
        y : array-like of shape (n_samples,)
            Their labels; each ``(label, group)`` must be a stratum this
            generator can draw.
        groups : array-like of shape (n_samples,) or None, default=None
            Their groups, when the generator was fitted with groups.
        strength : float in (0, 1], default=0.3
            How far into the schedule each image is noised.
        random_state : int, RandomState or None, default=None
            Base seed; row ``i``'s noise is seeded from ``random_state`` and ``i``
            alone, so a row's edit does not depend on the other rows.

        Returns
        -------
        X_edit : ndarray
            Same shape and dtype as ``X``.

        Examples
        --------
        Redraw two images of the shipped Fashion-MNIST generator's class 0 (stand-ins
        for real rows) lightly and fully:

        >>> import numpy as np
        >>> from synaug_learn.generators import ConditionalDiffusionGenerator
        >>> gen = ConditionalDiffusionGenerator.from_pretrained("fashion-mnist-small")
        >>> gen = gen.fit(np.zeros((2, 28, 28), np.uint8), [0, 9])  # format and classes
        >>> X, y, _ = gen.generate({(0, None): 2}, random_state=0)
        >>> light = gen.edit(X, y, strength=0.2, random_state=0)
        >>> light.shape, light.dtype
        ((2, 28, 28), dtype('uint8'))
        >>> full = gen.edit(X, y, strength=1.0, random_state=0)
        >>> def change(X_edit):
        ...     return np.abs(X_edit.astype(int) - X).mean()
        >>> bool(change(light) < change(full))
        True
        """
        import torch

        self._check_fitted()
        self._validate_params()  # sampling parameters may have been set after fit
        X, y, groups = self._check_edit_input(X, y, groups, strength)
        fmt, weights = self.image_format_, self._check_guidance_scale()
        interval = check_guidance_interval(self.guidance_interval)
        x0 = self._to_unet(fmt.to_nchw(X))
        out = np.empty(x0.shape, dtype=np.float32)
        base, batch = derive_seed(random_state), resolve_batch_size(
            self.generation_batch_size, self.device)
        for stratum in dict.fromkeys(zip(y.tolist(), groups.tolist())):
            rows = np.flatnonzero((y == stratum[0]) & (groups == stratum[1]))
            label = self._model_index(self._check_stratum(stratum))
            for start in range(0, len(rows), batch):
                chunk = rows[start: start + batch]
                out[chunk] = self._edit_batch(x0[chunk], chunk, base, label, strength,
                                              weights, interval)
        return fmt.from_nchw(self._from_unet(torch.from_numpy(out)).numpy())

    def _edit_batch(self, x0, rows, base, label, strength, weights, interval):
        """One batch of :meth:`edit` in the UNet's layout, rows noised by their own seeds."""
        import torch

        scheduler = self._new_scheduler()
        start = edit_start(scheduler, self.num_inference_steps, strength)
        seeds = [derive_seed(base, "edit", int(i)) for i in rows]
        noise = seeded_noise(x0.shape[1:], seeds)
        t = scheduler.timesteps[start: start + 1]
        x = scheduler.add_noise(torch.from_numpy(x0), noise, t).to(self.device)
        x = self._denoise(x, label, self._null_index(), weights, interval, scheduler, start,
                          step_generators(self.scheduler, seeds))
        return x.float().cpu().numpy()

    def _check_edit_input(self, X, y, groups, strength):
        """``edit``'s arguments checked before any work: ``(X, y, groups)`` as arrays."""
        if not isinstance(strength, numbers.Real) or not 0 < strength <= 1:
            raise ValueError(f"strength must be a float in (0, 1]; got {strength!r}.")
        X, y = np.asarray(X), np.asarray(y)
        if X.shape[1:] != tuple(self.sample_shape_) or len(X) != len(y):
            raise ValueError(
                f"X must hold images of shape {tuple(self.sample_shape_)}, one per label in "
                f"y; got X of shape {X.shape} and {len(y)} labels.")
        if self.has_groups_ and groups is None:
            raise ValueError("this generator was fitted with groups: pass edit(X, y, groups=...).")
        groups = np.full(len(y), None, dtype=object) if groups is None else np.asarray(groups)
        for stratum in dict.fromkeys(zip(y.tolist(), groups.tolist())):
            self._model_index(self._check_stratum(stratum))
        return X, y, groups

    # ------------------------------------------------------------------ identity
    def _check_fitted(self):
        check_is_fitted(self, "unet_")

    def _state_hash(self):
        return self._module_hash("unet_")

    def _fit_trains(self):
        return self.pretrained is None or self.fine_tune > 0

    def _data_identity(self):
        if self.pretrained is not None and not getattr(self, "n_train_steps_", 0):
            # Not trained on the data: only its format and labels shape the output.
            mapping = sorted((repr(k), repr(v)) for k, v in getattr(self, "_to_model", {}).items())
            return self._format_identity(mapping)
        return super()._data_identity()

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_weights_hash", None)
        return state

