"""ImageToImageGenerator: new samples edited from real images of the stratum (SDEdit)."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval

from ..utils import check_is_fitted, derive_seed, row_strata
from ._diffusers import _DiffusersPipelineGenerator, _resize_cover

__all__ = ["ImageToImageGenerator"]


class ImageToImageGenerator(_DiffusersPipelineGenerator):
    """Generate images of a stratum by editing its real images with a pretrained diffusion model.

    Each new row takes one real image of its ``(label, group)`` stratum (chosen
    from the row's seed), noises it to ``strength`` and denoises it with a
    pretrained image-to-image pipeline prompted with the class (and group)
    name (SDEdit). The samples stay close to the data's own domain — style,
    viewpoint, sensor — while the pretrained model's knowledge of the concept
    varies the content (the DA-Fusion idea). ``strength`` trades one for the
    other: near 0 returns the source image, 1 ignores it (text-to-image).

    Any diffusers image-to-image pipeline loads through
    ``diffusers.AutoPipelineForImage2Image``; a folder or hub id saved for
    text-to-image (e.g. Stable Diffusion) loads as its image-to-image variant.
    Remote code is never trusted and only safetensors weights are read.
    Everything else — lazy loading, prompts, one seed per image, batching with
    out-of-memory back-off, regeneration of blanked images, conversion to the
    fitted format — is shared with :class:`TextToImageGenerator`.

    Parameters
    ----------
    model : str or path-like
        A folder saved with ``pipeline.save_pretrained`` or a hub id.
    class_names : dict, list or None, default=None
        Names used in prompts: ``{label: name}`` or a list aligned with the
        sorted classes; ``None`` uses ``str(label)``.
    group_names : dict, list or None, default=None
        Names of the groups (same forms).
    prompt_templates : str or sequence of str, default=("a photo of a {name}",)
        Templates with ``{name}`` and optionally ``{group}``; the row's seed
        picks one.
    negative_prompt : str or None, default=None
        Passed to the pipeline for every image.
    num_inference_steps : int, default=25
        Denoising steps of the full schedule; about
        ``num_inference_steps * strength`` of them run.
    guidance_scale : float, default=7.5
        Classifier-free guidance scale.
    batch_size : int, default=8
        Images per pipeline call (halved on out-of-memory errors).
    dtype : {"auto", "float32", "float16", "bfloat16"}, default="auto"
        Weights' dtype; ``"auto"`` is float16 on CUDA and float32 elsewhere.
    device : str, default="auto"
        ``"auto"`` (CUDA, else MPS, else CPU) or a torch device string.
    image_size : int, (int, int) or None, default=None
        Size the source images are resized to (keeping the aspect ratio, then
        centre-cropped) before editing; ``None`` uses the pipeline's default
        generation size.
    local_files_only : bool, default=False
        Never contact the hub.
    max_retries : int, default=3
        Redraws of a blanked image (new seed derived from ``(seed, attempt)``,
        same source image) before a ``RuntimeError``.
    verbose : int, default=0
        0: silent; 1: a progress bar per stratum; 2: also the pipeline's bars.
    image_shape : tuple or None, default=None
        ``(H, W)`` or ``(H, W, C)`` of each row when ``X`` is 2-D and not a
        square grey image.
    strength : float, default=0.5
        How far each source image is noised before denoising, in (0, 1].

    Attributes
    ----------
    classes_ : ndarray
        Labels seen in ``fit``.
    strata_ : list of tuple
        ``(label, group_or_None)`` cells seen in ``fit``.
    image_format_ : ImageFormat
        Shape, layout, channels and value range of the fitted images.
    n_sources_ : dict
        Number of real images kept per stratum.
    class_names_, group_names_, prompt_templates_ : dict, dict, tuple
        As for :class:`TextToImageGenerator`.

    See Also
    --------
    TextToImageGenerator : Draws from the prompt alone.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.generators import ImageToImageGenerator
    >>> X = np.random.RandomState(0).randint(0, 256, (6, 28, 28), dtype=np.uint8)
    >>> y = np.array([0, 0, 0, 0, 1, 1])
    >>> gen = ImageToImageGenerator(
    ...     "stable-diffusion-v1-5/stable-diffusion-v1-5", strength=0.4,
    ...     class_names=["T-shirt", "trouser"], prompt_templates="a photo of a {name}",
    ... ).fit(X, y)
    >>> gen.n_sources_
    {(0, None): 4, (1, None): 2}
    >>> gen.source_indices_for((1, None), seeds=[11, 12, 13])  # rows of X each edit
    [4, 5, 4]
    >>> X_new, y_new, _ = gen.generate({(1, None): 4}, random_state=0)  # doctest: +SKIP
    >>> X_new.shape, X_new.dtype  # doctest: +SKIP
    ((4, 28, 28), dtype('uint8'))
    """

    _auto_pipeline = "AutoPipelineForImage2Image"

    _parameter_constraints: dict = {
        **_DiffusersPipelineGenerator._parameter_constraints,
        "strength": [Interval(numbers.Real, 0, 1, closed="right")],
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
        strength=0.5,
    ):
        super().__init__(
            model,
            class_names=class_names,
            group_names=group_names,
            prompt_templates=prompt_templates,
            negative_prompt=negative_prompt,
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
            batch_size=batch_size,
            dtype=dtype,
            device=device,
            image_size=image_size,
            local_files_only=local_files_only,
            max_retries=max_retries,
            verbose=verbose,
            image_shape=image_shape,
        )
        self.strength = strength

    def _fit_sources(self, X, y, groups):
        if int(self.num_inference_steps * self.strength) < 1:
            raise ValueError(
                f"num_inference_steps * strength must be >= 1 so that at least one denoising "
                f"step runs; got num_inference_steps={self.num_inference_steps}, "
                f"strength={self.strength}."
            )
        keys = row_strata(y, groups)
        index = {}
        for i, key in enumerate(keys):
            index.setdefault(key, []).append(i)
        self._source_index = {k: np.asarray(v) for k, v in index.items()}
        self._sources = {k: X[v] for k, v in self._source_index.items()}
        self.n_sources_ = {k: len(v) for k, v in self._source_index.items()}

    def _stratum_sources(self, stratum):
        rows = self._source_index.get(tuple(stratum))
        if rows is None or not len(rows):
            raise ValueError(
                f"{type(self).__name__} cannot generate stratum {stratum!r}: fit saw no real "
                "image of it to edit. Use TextToImageGenerator for strata without images."
            )
        return rows

    def _source_positions(self, stratum, seeds):
        n = len(self._stratum_sources(stratum))
        return [derive_seed(int(s), "source") % n for s in seeds]

    def source_indices_for(self, stratum, seeds):
        """Row indices (into the ``X`` passed to ``fit``) of the images the seeds edit.

        Parameters
        ----------
        stratum : tuple
            ``(label, group_or_None)``.
        seeds : sequence of int
            Row seeds, as passed to :meth:`generate_seeded`.

        Returns
        -------
        indices : list of int
        """
        check_is_fitted(self, "image_format_")
        stratum = self._check_stratum(tuple(stratum))
        rows = self._stratum_sources(stratum)
        return [int(rows[p]) for p in self._source_positions(stratum, seeds)]

    def _row_inputs(self, stratum, seeds, pipe):
        self._stratum_sources(stratum)
        return [(tuple(stratum), p) for p in self._source_positions(stratum, seeds)]

    def _pipeline_kwargs(self, rows, pipe):
        import torch
        from PIL import Image

        size = self._generation_size(pipe)
        fmt = self.image_format_
        sources = np.stack([self._sources[stratum][p] for stratum, p in rows])
        x = torch.from_numpy(fmt.to_nchw(sources))  # float NCHW in [-1, 1]
        x = (x + 1.0) / 2.0
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        x = _resize_cover(x[:, :3], size).clamp(0.0, 1.0)
        arrays = (x.permute(0, 2, 3, 1).numpy() * 255.0).round().astype(np.uint8)
        images = [Image.fromarray(a) for a in arrays]
        return {"image": images, "strength": float(self.strength)}
