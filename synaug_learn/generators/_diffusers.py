"""What the generators built on pretrained diffusers pipelines share.

``_DiffusersPipelineGenerator`` is the base of
:class:`~synaug_learn.generators.TextToImageGenerator` and
:class:`~synaug_learn.generators.ImageToImageGenerator`. It holds everything
they share: lazy loading of one pipeline per instance (never pickled or
cloned), prompts built from class and group names, one ``torch.Generator`` per
image (so an image never depends on its batch-mates), batching with CUDA
out-of-memory back-off, detection and seeded regeneration of images the safety
checker blanked, and conversion of the pipeline's RGB output to the user's
fitted shape, channels and dtype.
"""

from __future__ import annotations

import hashlib
import numbers
import os
import string
import warnings
from contextlib import contextmanager, nullcontext

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ..utils import ImageFormat, check_device, check_is_fitted, derive_seed
from ._base import BaseGenerator

__all__ = []

_DTYPES = {"float32", "float16", "bfloat16"}
# Files hashed whole to identify a pipeline folder; weight files are sampled (see _state_hash).
_CONFIG_SUFFIXES = (".json", ".txt", ".model", ".yaml", ".yml")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf")
_WEIGHT_SAMPLE_BYTES = 1 << 20
# An image whose brightest pixel rounds to 0 in uint8 is blank (what safety checkers return).
_BLANK_MAX = 0.5 / 255.0


def _is_out_of_memory(exc) -> bool:
    """Whether ``exc`` is an accelerator out-of-memory error (CUDA, or any 'out of memory')."""
    import torch

    oom_type = getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


@contextmanager
def _quiet_loading(verbose):
    """Turn off diffusers', transformers' and huggingface_hub's progress bars while loading."""
    if verbose:
        yield
        return
    restore = []
    try:
        from diffusers.utils import logging as diffusers_logging

        if diffusers_logging.is_progress_bar_enabled():
            diffusers_logging.disable_progress_bar()
            restore.append(diffusers_logging.enable_progress_bar)
    except ImportError:  # pragma: no cover - diffusers is a core dependency
        pass
    try:
        from transformers.utils import logging as transformers_logging

        if transformers_logging.is_progress_bar_enabled():
            transformers_logging.disable_progress_bar()
            restore.append(transformers_logging.enable_progress_bar)
    except ImportError:  # pragma: no cover - transformers is in the `text` extra
        pass
    try:
        import huggingface_hub.utils as hub_utils

        if not hub_utils.are_progress_bars_disabled():
            hub_utils.disable_progress_bars()
            restore.append(hub_utils.enable_progress_bars)
    except ImportError:  # pragma: no cover
        pass
    try:
        yield
    finally:
        for enable in restore:
            enable()


def _dtype_keyword():
    """``dtype`` on diffusers versions that deprecated ``torch_dtype``, else ``torch_dtype``."""
    try:
        from diffusers.utils import deprecation_utils
    except ImportError:  # pragma: no cover
        return "torch_dtype"
    return "dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype"


def _resize_cover(x, size):
    """Resize float NCHW ``x`` to cover ``size = (H, W)`` keeping its aspect, then centre-crop.

    Uses bicubic interpolation with antialiasing (so downsizing 512 -> 28 does
    not alias); output values are clamped to the input's range.
    """
    import torch
    import torch.nn.functional as F

    height, width = int(size[0]), int(size[1])
    h, w = x.shape[-2:]
    if (h, w) != (height, width):
        scale = max(height / h, width / w)
        new_h, new_w = max(height, round(h * scale)), max(width, round(w * scale))
        low, high = x.amin(), x.amax()
        x = F.interpolate(
            x, size=(new_h, new_w), mode="bicubic", align_corners=False, antialias=True
        )
        x = torch.clamp(x, low, high)
        top, left = (new_h - height) // 2, (new_w - width) // 2
        x = x[..., top : top + height, left : left + width]
    return x


def _default_generation_size(pipe):
    """The ``(H, W)`` a pipeline generates at by default (``sample_size * vae_scale_factor``)."""
    scale = int(getattr(pipe, "vae_scale_factor", 8) or 8)
    sample = getattr(pipe, "default_sample_size", None)
    if sample is None:
        for name in ("unet", "transformer", "prior"):
            config = getattr(getattr(pipe, name, None), "config", None)
            sample = getattr(config, "sample_size", None) if config is not None else None
            if sample is not None:
                break
    if sample is None:
        return (512, 512)
    if isinstance(sample, list | tuple):
        return (int(sample[0]) * scale, int(sample[1]) * scale)
    return (int(sample) * scale, int(sample) * scale)


class _DiffusersPipelineGenerator(BaseGenerator):
    """Shared base of the generators that wrap a pretrained diffusers pipeline.

    Subclasses set ``_auto_pipeline`` (the name of a diffusers ``AutoPipelineFor*``
    class) and may override ``_fit_sources`` (what ``fit`` keeps besides the
    format), ``_row_inputs`` (a light per-row descriptor, e.g. which source
    image a row edits) and ``_pipeline_kwargs`` (the keyword arguments of one
    pipeline call, built per batch from those descriptors).
    """

    _auto_pipeline = None

    _parameter_constraints: dict = {
        "model": [str, os.PathLike],
        "class_names": [dict, list, tuple, None],
        "group_names": [dict, list, tuple, None],
        "prompt_templates": [str, list, tuple],
        "negative_prompt": [str, None],
        "num_inference_steps": [Interval(numbers.Integral, 1, None, closed="left")],
        "guidance_scale": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "dtype": [StrOptions({"auto", *_DTYPES})],
        "device": [str],
        "image_size": [Interval(numbers.Integral, 8, None, closed="left"), tuple, list, None],
        "local_files_only": ["boolean"],
        "max_retries": [Interval(numbers.Integral, 0, None, closed="left")],
        "verbose": ["verbose"],
        "image_shape": [tuple, list, None],
    }

    def __init__(
        self,
        model,
        class_names=None,
        group_names=None,
        prompt_templates=("a photo of a {name}",),
        negative_prompt=None,
        num_inference_steps=25,
        guidance_scale=7.5,
        batch_size=8,
        dtype="auto",
        device="auto",
        image_size=None,
        local_files_only=False,
        max_retries=3,
        verbose=0,
        image_shape=None,
    ):
        self.model = model
        self.class_names = class_names
        self.group_names = group_names
        self.prompt_templates = prompt_templates
        self.negative_prompt = negative_prompt
        self.num_inference_steps = num_inference_steps
        self.guidance_scale = guidance_scale
        self.batch_size = batch_size
        self.dtype = dtype
        self.device = device
        self.image_size = image_size
        self.local_files_only = local_files_only
        self.max_retries = max_retries
        self.verbose = verbose
        self.image_shape = image_shape

    # ------------------------------------------------------------------ fit

    def _fit(self, X, y, groups):
        self._validate_params()
        self._check_model()
        self._torch_device()  # validates `device`
        self._check_image_size()
        fmt = ImageFormat.from_array(X, image_shape=self.image_shape)
        if fmt.channels not in (1, 3, 4):
            raise ValueError(
                f"{type(self).__name__} makes 1-, 3- or 4-channel images; X has "
                f"{fmt.channels} channels (image_shape={self.image_shape!r})."
            )
        self.image_format_ = fmt
        self.prompt_templates_ = self._check_templates()
        self.class_names_ = self._resolve_names(self.class_names, self.classes_, "class_names")
        if groups is not None:
            self.group_names_ = self._resolve_names(
                self.group_names, np.unique(groups), "group_names"
            )
        else:
            self.group_names_ = {}
        self._fit_sources(X, y, groups)

    def _fit_sources(self, X, y, groups):
        """Hook: what a subclass keeps from the training rows (nothing here)."""

    def _check_model(self):
        model = os.fspath(self.model)
        if not model:
            raise ValueError("model must be a diffusers pipeline folder or a hub id; got ''.")
        looks_like_path = model.startswith((".", "/", "~", "\\")) or os.path.isabs(model)
        if looks_like_path and not os.path.isdir(os.path.expanduser(model)):
            raise ValueError(
                f"model={self.model!r} looks like a path but is not a folder; pass a folder saved "
                "with pipeline.save_pretrained(...) or a hub id such as "
                "'stabilityai/stable-diffusion-2-1-base'."
            )

    def _check_image_size(self):
        size = self.image_size
        if size is None:
            return None
        if isinstance(size, numbers.Integral):
            size = (int(size), int(size))
        if (
            len(size) != 2
            or not all(isinstance(s, numbers.Integral) for s in size)
            or any(int(s) < 8 or int(s) % 8 for s in size)
        ):
            raise ValueError(
                "image_size must be None, an int or a (height, width) pair of multiples of 8 "
                f"(the VAE downsamples by 8); got {self.image_size!r}."
            )
        return (int(size[0]), int(size[1]))

    def _check_templates(self):
        templates = self.prompt_templates
        if isinstance(templates, str):
            templates = (templates,)
        templates = tuple(templates)
        if not templates:
            raise ValueError("prompt_templates must hold at least one template; got ().")
        for template in templates:
            if not isinstance(template, str):
                raise ValueError(
                    f"prompt_templates must be strings; got {template!r} in "
                    f"{self.prompt_templates!r}."
                )
            try:
                fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
            except ValueError as exc:
                raise ValueError(
                    f"prompt_templates holds a malformed template {template!r}: {exc}."
                ) from exc
            unknown = fields - {"name", "group"}
            if unknown or "name" not in fields:
                raise ValueError(
                    f"each of prompt_templates must contain '{{name}}' and may contain '{{group}}' "
                    f"(no other fields); got {template!r}."
                )
        return templates

    @staticmethod
    def _resolve_names(names, values, param_name):
        """Map every fitted value to a display name: ``None`` -> ``str(value)``."""
        values = list(np.asarray(values).tolist())
        if names is None:
            return {v: str(v) for v in values}
        if isinstance(names, dict):
            missing = [v for v in values if v not in names]
            if missing:
                raise ValueError(
                    f"{param_name} has no name for {missing!r}; it must map every fitted "
                    f"value ({values!r}) to a name."
                )
            return {v: str(names[v]) for v in values}
        names = list(names)
        if len(names) != len(values):
            raise ValueError(
                f"{param_name} is a list of {len(names)} names but the data has {len(values)} "
                f"distinct values {values!r}; pass one name per sorted value, or a dict."
            )
        return {v: str(n) for v, n in zip(values, names)}

    # -------------------------------------------------------------- prompts

    def _template_for(self, seed):
        templates = self.prompt_templates_
        return templates[derive_seed(int(seed), "prompt") % len(templates)]

    def _format_prompt(self, template, stratum):
        label, group = stratum
        name = self.class_names_.get(label, str(label))
        group_name = None if group is None else self.group_names_.get(group, str(group))
        prompt = template.format(name=name, group="" if group_name is None else group_name)
        if group_name is not None and "{group}" not in template:
            prompt = f"{prompt}, {group_name}"
        return " ".join(prompt.split())

    def _prompt(self, stratum, seed):
        return self._format_prompt(self._template_for(seed), stratum)

    def prompts_for(self, stratum, seeds=None):
        """The prompts used for a stratum.

        Parameters
        ----------
        stratum : tuple
            ``(label, group_or_None)``.
        seeds : sequence of int, default=None
            Row seeds (as passed to :meth:`generate_seeded`). ``None`` lists
            every distinct prompt of the stratum, one per template.

        Returns
        -------
        prompts : list of str
            One prompt per seed (which template a row uses is chosen from its
            seed), or the distinct prompts when ``seeds`` is ``None``.
        """
        check_is_fitted(self, "image_format_")
        stratum = self._check_stratum(tuple(stratum))
        if seeds is None:
            prompts = [self._format_prompt(t, stratum) for t in self.prompt_templates_]
            return list(dict.fromkeys(prompts))
        return [self._prompt(stratum, int(s)) for s in seeds]

    # ------------------------------------------------------------- pipeline

    def _torch_device(self):
        import torch

        if not isinstance(self.device, str):
            raise ValueError(
                f"device must be 'auto' or a torch device string; got {self.device!r}."
            )
        if self.device == "auto":
            if torch.cuda.is_available():
                return torch.device("cuda")
            mps = getattr(torch.backends, "mps", None)
            if mps is not None and mps.is_available():
                return torch.device("mps")
            return torch.device("cpu")
        return torch.device(check_device(self.device))  # exists here, or a ValueError

    def _torch_dtype(self, device):
        import torch

        if self.dtype == "auto":
            return torch.float16 if device.type == "cuda" else torch.float32
        return getattr(torch, self.dtype)

    def _load_pipeline(self):
        import diffusers

        device = self._torch_device()
        auto_class = getattr(diffusers, self._auto_pipeline)
        kwargs = {
            _dtype_keyword(): self._torch_dtype(device),
            "use_safetensors": True,
            "local_files_only": bool(self.local_files_only),
        }
        with _quiet_loading(self.verbose):
            try:
                pipe = auto_class.from_pretrained(os.fspath(self.model), **kwargs)
            except OSError as exc:
                raise OSError(
                    f"{type(self).__name__} could not load model={self.model!r} with "
                    f"{self._auto_pipeline} (local_files_only={self.local_files_only}, "
                    f"safetensors weights only): {exc}"
                ) from exc
        return pipe.to(device)

    def _get_pipeline(self):
        """The pipeline, loaded once per instance (and again only if its params changed)."""
        key = (os.fspath(self.model), self.dtype, self.device, bool(self.local_files_only))
        if getattr(self, "_pipe", None) is None or getattr(self, "_pipe_key", None) != key:
            self._pipe = self._load_pipeline()
            self._pipe_key = key
            self._oom_batch_size = None
        pipe = self._pipe
        if hasattr(pipe, "set_progress_bar_config"):
            pipe.set_progress_bar_config(disable=self.verbose < 2)
        return pipe

    def __getstate__(self):
        state = super().__getstate__()
        for key in ("_pipe", "_pipe_key", "_oom_batch_size"):
            state.pop(key, None)
        return state

    def _generation_size(self, pipe):
        """``(H, W)`` the pipeline generates at: ``image_size`` or the pipeline's default."""
        size = self._check_image_size()
        return size if size is not None else _default_generation_size(pipe)

    # ------------------------------------------------------------ generation

    def _row_inputs(self, stratum, seeds, pipe):
        """Hook: one light descriptor per seed (heavy inputs are built per batch)."""
        return [None for _ in seeds]

    def _pipeline_kwargs(self, rows, pipe):
        """Hook: keyword arguments for one pipeline call from the rows' extra inputs."""
        size = self._check_image_size()
        return {} if size is None else {"height": size[0], "width": size[1]}

    def _call_pipeline(self, pipe, prompts, seeds, rows):
        """Run the pipeline once; return float NHWC images in [0, 1] and blank flags."""
        import torch

        kwargs = {
            "prompt": list(prompts),
            "num_inference_steps": int(self.num_inference_steps),
            "guidance_scale": float(self.guidance_scale),
            # One CPU generator per image: the image depends on its own seed only (not on
            # its batch-mates), and the initial noise is the same on any device.
            "generator": [torch.Generator("cpu").manual_seed(int(s)) for s in seeds],
            "output_type": "np",
        }
        if self.negative_prompt is not None:
            kwargs["negative_prompt"] = [self.negative_prompt] * len(prompts)
        kwargs.update(self._pipeline_kwargs(rows, pipe))
        with torch.inference_mode():
            out = pipe(**kwargs)
        images = out.images if hasattr(out, "images") else out[0]
        if isinstance(images, list | tuple):
            images = np.stack([np.asarray(im, dtype=np.float32) / 255.0 for im in images])
        images = np.asarray(images, dtype=np.float32)
        if images.ndim == 3:
            images = images[..., None]
        nsfw = getattr(out, "nsfw_content_detected", None)
        blank = []
        for i, image in enumerate(images):
            flagged = bool(nsfw[i]) if nsfw is not None and nsfw[i] is not None else False
            finite = bool(np.isfinite(image).all())
            blank.append(flagged or not finite or float(np.max(image)) < _BLANK_MAX)
        return images, np.asarray(blank, dtype=bool)

    def _to_user_nchw(self, images):
        """Float NHWC RGB in [0, 1] -> float NCHW in [-1, 1] at the fitted size and channels."""
        import torch

        fmt = self.image_format_
        x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
        x = _resize_cover(x, (fmt.height, fmt.width)).clamp(0.0, 1.0)
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        rgb = x[:, :3]
        if fmt.channels == 1:
            weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            x = (rgb * weights).sum(dim=1, keepdim=True)
        elif fmt.channels == 4:
            x = torch.cat([rgb, torch.ones_like(rgb[:, :1])], dim=1)
        else:
            x = rgb
        return (x * 2.0 - 1.0).numpy()

    def _run_batches(self, pipe, prompts, seeds, rows, progress):
        """Generate in batches, halving the batch on out-of-memory errors (down to 1)."""
        n = len(seeds)
        fmt = self.image_format_
        out = np.empty((n, fmt.channels, fmt.height, fmt.width), dtype=np.float32)
        blank = np.zeros(n, dtype=bool)
        batch = int(self.batch_size)
        if getattr(self, "_oom_batch_size", None):
            batch = min(batch, self._oom_batch_size)
        start = 0
        while start < n:
            stop = min(start + batch, n)
            oom = False
            try:
                images, flags = self._call_pipeline(
                    pipe, prompts[start:stop], seeds[start:stop], rows[start:stop]
                )
            except Exception as exc:  # re-raised below unless out of memory
                if batch == 1 or not _is_out_of_memory(exc):
                    raise
                oom = True
            if oom:  # outside `except`, so the traceback no longer pins GPU tensors
                self._free_memory()
                batch = max(1, batch // 2)
                self._oom_batch_size = batch
                warnings.warn(
                    f"{type(self).__name__}: out of memory; continuing with batch size {batch}.",
                    RuntimeWarning,
                    stacklevel=4,
                )
                continue
            out[start:stop] = self._to_user_nchw(images)
            blank[start:stop] = flags
            progress.update(stop - start)
            start = stop
        return out, blank

    @staticmethod
    def _free_memory():
        import gc

        import torch

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _generate_stratum(self, stratum, seeds):
        check_is_fitted(self, "image_format_")
        pipe = self._get_pipeline()
        seeds = [int(s) for s in seeds]
        prompts = [self._prompt(stratum, s) for s in seeds]
        rows = self._row_inputs(stratum, seeds, pipe)
        fmt = self.image_format_
        result = np.empty((len(seeds), fmt.channels, fmt.height, fmt.width), dtype=np.float32)
        pending = np.arange(len(seeds))
        noise_seeds = list(seeds)
        progress = self._progress(len(seeds), stratum)
        with progress:
            for attempt in range(int(self.max_retries) + 1):
                images, blank = self._run_batches(
                    pipe,
                    [prompts[i] for i in pending],
                    [noise_seeds[i] for i in pending],
                    [rows[i] for i in pending],
                    progress,
                )
                result[pending[~blank]] = images[~blank]
                pending = pending[blank]
                if not len(pending) or attempt == self.max_retries:
                    break
                # A blanked image is redrawn from a seed derived from (row seed, attempt), so
                # the regenerated row is still a pure function of its own seed.
                for i in pending:
                    noise_seeds[i] = derive_seed(seeds[i], "retry", attempt + 1)
                progress.total = (progress.total or 0) + len(pending)
        if len(pending):
            shown = ", ".join(repr(prompts[i]) for i in pending[:3])
            raise RuntimeError(
                f"{type(self).__name__}: {len(pending)} image(s) of stratum {stratum!r} were "
                f"still blank after max_retries={self.max_retries} retries (the pipeline's safety "
                "checker flagged them, or it returned all-black/NaN images, e.g. a float16 VAE "
                f"overflow). Prompts: {shown}. Change the prompt or negative_prompt, raise "
                "max_retries, or try dtype='float32'."
            )
        return fmt.from_nchw(result)

    def _progress(self, total, stratum):
        if not self.verbose:
            return _NoProgress()
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=f"{type(self).__name__} {stratum!r}", unit="img")

    # ----------------------------------------------------------- fingerprint

    def _model_folder(self):
        """The folder holding the pipeline's files: the local folder, or the hub cache snapshot."""
        model = os.path.expanduser(os.fspath(self.model))
        if os.path.isdir(model):
            return model
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:  # pragma: no cover
            return None
        try:
            path = try_to_load_from_cache(model, "model_index.json")
        except Exception:  # noqa: BLE001 - an invalid repo id simply has no cache
            return None
        return os.path.dirname(path) if isinstance(path, str) else None

    def _data_identity(self):
        # Prompts, format and labels shape the output; the training rows do not
        # (ImageToImageGenerator, which draws from them, keeps the data hash).
        if type(self)._fit_sources is _DiffusersPipelineGenerator._fit_sources:
            return self._format_identity(getattr(self, "class_names_", None),
                                         getattr(self, "group_names_", None))
        return super()._data_identity()

    def _state_hash(self):
        """Hash of the model's identity: its id, config/tokenizer files and sampled weights.

        For a local folder (or a hub id already in the local cache, whose
        snapshot folder name is the commit hash) every config-like file is
        hashed whole and each weight file by its size and its first and last
        MiB. A hub id not in the cache is hashed by its id only.
        """
        h = hashlib.sha256(os.fspath(self.model).encode())
        folder = self._model_folder()
        if folder is None:
            return h.hexdigest()
        if not os.path.isdir(os.path.expanduser(os.fspath(self.model))):
            h.update(os.path.basename(os.path.normpath(folder)).encode())  # the commit hash
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(root, name)
                rel = os.path.relpath(path, folder).replace(os.sep, "/")
                lower = name.lower()
                if lower.endswith(_CONFIG_SUFFIXES):
                    h.update(rel.encode())
                    with open(path, "rb") as f:
                        h.update(hashlib.sha256(f.read()).digest())
                elif lower.endswith(_WEIGHT_SUFFIXES):
                    size = os.path.getsize(path)
                    h.update(f"{rel}:{size}".encode())
                    with open(path, "rb") as f:
                        h.update(f.read(_WEIGHT_SAMPLE_BYTES))
                        if size > 2 * _WEIGHT_SAMPLE_BYTES:
                            f.seek(size - _WEIGHT_SAMPLE_BYTES)
                            h.update(f.read())
                        elif size > _WEIGHT_SAMPLE_BYTES:
                            h.update(f.read())
        return h.hexdigest()


class _NoProgress(nullcontext):
    """A do-nothing stand-in for a tqdm bar when ``verbose=0``."""

    total = 0

    def update(self, n=1):
        return None
