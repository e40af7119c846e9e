"""ConditionalDiffusionGenerator: a small class-conditional diffusion model (diffusers UNet)."""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseGenerator, ImageFormat, _jsonable
from ._sampling import (
    SCHEDULERS,
    TIMESTEP_SPACINGS,
    check_guidance_interval,
    denoise,
    make_scheduler,
    resolve_batch_size,
)

__all__ = ["ConditionalDiffusionGenerator", "list_pretrained"]

CONFIG_NAME = "synaug_generator.json"
FORMAT_VERSION = 1
PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"
MIN_SIDE = 16  # below this the UNet has too little room; small images are upsampled
# The parameters that only shape sampling: save_pretrained writes them to the folder's
# "sampling" block and from_pretrained makes them the loaded generator's defaults.
SAMPLING_PARAMS = ("scheduler", "num_inference_steps", "guidance_scale", "guidance_interval",
                   "timestep_spacing")


def list_pretrained():
    """List the generators shipped with the package (usable as ``pretrained=``).

    Returns
    -------
    names : list of str
        Sorted names of the saved generators in the package's ``pretrained``
        folder; each can be passed to
        :meth:`ConditionalDiffusionGenerator.from_pretrained`.

    Examples
    --------
    >>> from synaug_learn.generators import list_pretrained
    >>> isinstance(list_pretrained(), list)
    True
    >>> list_pretrained()  # doctest: +SKIP
    ['fashion-mnist-small']
    """
    if not PRETRAINED_DIR.is_dir():
        return []
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / CONFIG_NAME).is_file())


def _resolve_pretrained(pretrained):
    """A shipped model's name or a folder path -> the folder; ValueError when neither."""
    candidates = [PRETRAINED_DIR / str(pretrained), Path(pretrained).expanduser()]
    for path in candidates:
        if (path / CONFIG_NAME).is_file():
            return path
    raise ValueError(
        f"pretrained={pretrained!r} is neither a folder holding {CONFIG_NAME} (written by "
        f"save_pretrained) nor a shipped generator ({', '.join(list_pretrained()) or 'none'})."
    )


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
    fine_tune : int, default=0
        With ``pretrained``, continue training for this many steps on the
        user's data (0 = off). Fine-tuning on a few tail images turns a useful
        generator back into a copier (measured: 300 steps cost 9.8
        points), so keep it short, with a low ``fine_tune_lr``, and check the
        novelty in the sampler's report.
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
        the pretrained model's; by default labels must match.
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
        classifier-free guidance possible.
    class_balanced : bool, default=True
        Draw training batches uniformly over strata (measured better on all
        10 seeds of a digits split), else uniformly over rows.
    guidance_scale : float, default=1.5
        Classifier-free guidance at sampling; 1 disables it (and halves the
        cost). More guidance gives more faithful but less diverse images.
    num_inference_steps : int, default=20
        Solver steps at sampling.
    scheduler : {"ddim", "dpm++", "unipc"}, default="ddim"
        The solver: deterministic DDIM, the multistep DPM-Solver++ (2nd
        order) or UniPC, both of which need fewer steps than DDIM for the
        same quality (diffusers' ``DPMSolverMultistepScheduler`` and
        ``UniPCMultistepScheduler``).
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
        of the pretrained model first).
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
        "guidance_scale": [Interval(numbers.Real, 0, None, closed="left")],
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
        ``"sampling"`` block: scheduler, steps, guidance) are the defaults
        that ``params`` override. The folder is checked now, so a typo fails
        here.
        """
        path = _resolve_pretrained(pretrained)
        saved = json.loads((path / CONFIG_NAME).read_text()).get("sampling", {})
        defaults = {k: (tuple(v) if isinstance(v, list) else v)
                    for k, v in saved.items() if k in SAMPLING_PARAMS}
        return cls(pretrained=pretrained, **{**defaults, **params})

    def save_pretrained(self, path):
        """Write the EMA weights (safetensors), scheduler and metadata to ``path``."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.unet_.save_pretrained(path / "unet", safe_serialization=True)
        meta = {
            "format_version": FORMAT_VERSION,
            "strata": [list(_jsonable(s)) for s in self.model_strata_],
            "image_size": self.unet_size_,
            "channels": self.image_format_.channels,
            "height": self.image_format_.height,
            "width": self.image_format_.width,
            "num_train_timesteps": self._num_train_timesteps,
            "prediction_type": self._prediction_type,
            "trained_steps": int(self.total_train_steps_),
            "training_data_sha256": self.data_hash_,
            "params": {k: _jsonable(v) if not isinstance(v, Path) else str(v)
                       for k, v in self.get_params(deep=False).items()},
            "sampling": {k: _jsonable(getattr(self, k)) for k in SAMPLING_PARAMS},
        }
        (path / CONFIG_NAME).write_text(json.dumps(meta, indent=2, default=str))
        return path

    # ------------------------------------------------------------------ fitting
    def _fit(self, X, y, groups):
        import torch

        self._validate_params()
        check_guidance_interval(self.guidance_interval)
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
        """Probe the fine-tuned strata; the report warns when their samples are near-copies."""
        from .._report import synthetic_report

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
                f"strata {worst} (novelty below {report.copy_threshold}; about 1 is as new as "
                "unseen real data). Use fewer steps, a lower fine_tune_lr, or raise "
                "fine_tune_min_count to keep the tail strata as pretrained.",
                UserWarning, stacklevel=3,
            )

    def _stratum_indices(self, y, groups):
        keys = list(zip(y.tolist(), groups.tolist() if groups is not None else [None] * len(y)))
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
            num_class_embeds=len(self.model_strata_) + 1,  # last index = "no condition"
        ).to(self.device)

    def _load_pretrained(self, strata_rows):
        import torch
        from diffusers import UNet2DModel

        path = _resolve_pretrained(self.pretrained)
        meta = json.loads((path / CONFIG_NAME).read_text())
        fmt = self.image_format_
        saved = (meta["channels"], meta["height"], meta["width"])
        if saved != (fmt.channels, fmt.height, fmt.width):
            raise ValueError(
                f"pretrained={str(self.pretrained)!r} generates {meta['channels']}x{meta['height']}"
                f"x{meta['width']} (channels x H x W) images but the data holds "
                f"{fmt.channels}x{fmt.height}x{fmt.width}."
            )
        pre_strata = [_stratum_from_json(s) for s in meta["strata"]]
        mapping = self.class_mapping or {}
        unknown = [lbl for lbl in mapping if lbl not in set(self.classes_.tolist())]
        if unknown:
            raise ValueError(f"class_mapping names labels not in y: {unknown!r}.")
        self._to_model = {s: (mapping.get(s[0], s[0]), s[1]) for s in self.strata_}
        known = set(map(tuple, pre_strata))
        new = [s for s in self.strata_ if self._to_model[s] not in known]
        if new and not self.fine_tune:
            raise ValueError(
                f"pretrained={str(self.pretrained)!r} knows strata {sorted(known, key=repr)!r}; "
                f"the data has {new!r}, which it does not. Map labels with class_mapping={{...}} "
                "or learn the new ones with fine_tune=<steps>."
            )
        unet = UNet2DModel.from_pretrained(path / "unet", use_safetensors=True)
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

    def _model_index(self, stratum):
        target = getattr(self, "_to_model", {}).get(stratum, stratum)
        return self.model_strata_.index(target)

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
        null = self.unet_.config.num_class_embeds - 1
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
        import torch.nn.functional as F

        fmt, side = self.image_format_, self.unet_size_
        if max(fmt.height, fmt.width) < MIN_SIDE:
            return F.interpolate(x, size=(fmt.height, fmt.width), mode="area")
        top, left = (side - fmt.height) // 2, (side - fmt.width) // 2
        return x[:, :, top: top + fmt.height, left: left + fmt.width]

    def _generate_stratum(self, stratum, seeds):
        import torch
        from tqdm.auto import tqdm

        self._check_fitted()
        self._validate_params()  # sampling parameters may have been set after fit
        interval = check_guidance_interval(self.guidance_interval)
        label = self._model_index(stratum)
        null = self.unet_.config.num_class_embeds - 1
        c, side = self.image_format_.channels, self.unet_size_
        batch = resolve_batch_size(self.generation_batch_size, self.device)
        out = []
        for start in tqdm(range(0, len(seeds), batch), disable=self.verbose < 2,
                          desc=f"sampling {stratum}"):
            chunk = seeds[start: start + batch]
            # One generator per row: a row's image does not depend on its batch-mates.
            x = torch.stack([
                torch.randn((c, side, side), generator=torch.Generator().manual_seed(s))
                for s in chunk
            ]).to(self.device)
            # A fresh scheduler per batch: the multistep solvers keep past predictions.
            scheduler = make_scheduler(self.scheduler, self._num_train_timesteps,
                                       self.timestep_spacing, self._prediction_type)
            x = denoise(self.unet_, x, label, null, scheduler, self.num_inference_steps,
                        self.guidance_scale, interval)
            out.append(self._from_unet(x.float().cpu()).numpy())
        return self.image_format_.from_nchw(np.concatenate(out))

    # ------------------------------------------------------------------ identity
    def _check_fitted(self):
        if not hasattr(self, "unet_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit first.")

    def _state_hash(self):
        if not hasattr(self, "unet_"):
            return None
        if getattr(self, "_weights_hash", None) is None:
            h = hashlib.sha256()
            for name, tensor in sorted(self.unet_.state_dict().items()):
                h.update(name.encode())
                h.update(tensor.detach().cpu().numpy().tobytes())
            self._weights_hash = h.hexdigest()
        return self._weights_hash

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

