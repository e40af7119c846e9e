"""TextToImageGenerator: SYNAuG's generator, a pretrained diffusers text-to-image pipeline."""

from __future__ import annotations

from ._diffusers import _DiffusersPipelineGenerator

__all__ = ["TextToImageGenerator"]


class TextToImageGenerator(_DiffusersPipelineGenerator):
    """Generate images of a class (and group) from a pretrained text-to-image diffusion model.

    This is SYNAuG's generator: each missing sample of class ``c`` (and group
    ``g``) is drawn from a pretrained text-to-image pipeline prompted with the
    class name, e.g. ``"a photo of a {name}"``, so the samples bring knowledge
    from web-scale pretraining rather than copying the few real rows of a tail
    class. Any diffusers text-to-image pipeline loads through
    ``diffusers.AutoPipelineForText2Image`` (Stable Diffusion 1.x/2.x, SDXL,
    SD3, Flux, ...), from a local folder or a hub id; remote code is never
    trusted and only safetensors weights are read.

    ``fit`` only records the data's format, classes and groups (cheap); the
    pipeline is loaded on the first generation, once per instance, and is
    never pickled or cloned. Each image has its own seed and its own
    ``torch.Generator``, so any row can be regenerated alone and does not
    depend on the other images in its batch. Outputs are resized (keeping the
    aspect ratio, then centre-cropped) to the fitted height and width,
    converted to grey for 1-channel data, and returned in the fitted layout and
    dtype.

    Parameters
    ----------
    model : str or path-like
        A folder saved with ``pipeline.save_pretrained`` or a Hugging Face hub
        id (e.g. ``"stabilityai/stable-diffusion-2-1-base"``). Part of the
        params, so ``clone`` and grid searches keep it.
    class_names : dict, list or None, default=None
        Names used in prompts: ``{label: name}``, or a list aligned with the
        sorted classes. ``None`` uses ``str(label)``.
    group_names : dict, list or None, default=None
        Names of the groups (same forms, aligned with the sorted groups).
    prompt_templates : str or sequence of str, default=("a photo of a {name}",)
        Templates with a ``{name}`` field and optionally a ``{group}`` field.
        Several templates diversify the samples; which one a row uses is
        chosen from the row's seed. When the data has groups and a template
        has no ``{group}`` field, ``", {group}"`` is appended to its prompt.
    negative_prompt : str or None, default=None
        Passed to the pipeline for every image.
    num_inference_steps : int, default=25
        Denoising steps per image.
    guidance_scale : float, default=7.5
        Classifier-free guidance scale.
    batch_size : int, default=8
        Images per pipeline call. Halved automatically (down to 1) when the
        accelerator runs out of memory.
    dtype : {"auto", "float32", "float16", "bfloat16"}, default="auto"
        Weights' dtype; ``"auto"`` is float16 on CUDA and float32 elsewhere.
    device : str, default="auto"
        ``"auto"`` (CUDA, else MPS, else CPU) or a torch device string.
    image_size : int, (int, int) or None, default=None
        ``(height, width)`` to generate at (multiples of 8); ``None`` uses the
        pipeline's default (``sample_size * vae_scale_factor``, e.g. 512 for
        Stable Diffusion 1.5). Images are then resized to the fitted size.
    local_files_only : bool, default=False
        Never contact the hub (the model must be a folder or already cached).
    max_retries : int, default=3
        How many times an image the safety checker blanked (or an all-black /
        NaN image) is redrawn with a new seed derived from ``(seed, attempt)``
        before a ``RuntimeError`` is raised.
    verbose : int, default=0
        0: silent; 1: a progress bar per stratum; 2: also the pipeline's
        per-step bars.
    image_shape : tuple or None, default=None
        ``(H, W)`` or ``(H, W, C)`` of each row when ``X`` is 2-D and not a
        square grey image.

    Attributes
    ----------
    classes_ : ndarray
        Labels seen in ``fit``.
    strata_ : list of tuple
        ``(label, group_or_None)`` cells seen in ``fit``.
    image_format_ : ImageFormat
        Shape, layout, channels and value range of the fitted images.
    class_names_ : dict
        Label -> name used in prompts.
    group_names_ : dict
        Group -> name used in prompts (empty without groups).
    prompt_templates_ : tuple of str
        The validated templates.

    See Also
    --------
    ImageToImageGenerator : Edits real images of the stratum instead (SDEdit).

    Notes
    -----
    A row's prompt is ``prompts_for(stratum, [seed])[0]``. The initial noise
    is drawn on the CPU from the row's seed, so the same seed starts from the
    same noise on any device; images still differ slightly between float16 on
    a GPU and float32 on a CPU.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.generators import TextToImageGenerator
    >>> gen = TextToImageGenerator(
    ...     "stabilityai/stable-diffusion-2-1-base",
    ...     class_names={0: "cat", 1: "dog"},
    ...     prompt_templates=("a photo of a {name}", "a close-up photo of a {name}"),
    ... )
    >>> gen.get_params()["guidance_scale"]
    7.5
    >>> X = np.zeros((4, 32, 32, 3), dtype=np.uint8)
    >>> y = np.array([0, 0, 1, 1])
    >>> gen = gen.fit(X, y)  # cheap: records the format and the classes
    >>> gen.prompts_for((1, None))
    ['a photo of a dog', 'a close-up photo of a dog']
    >>> X_new, y_new, _ = gen.generate({(1, None): 8}, random_state=0)  # doctest: +SKIP
    >>> X_new.shape, X_new.dtype  # doctest: +SKIP
    ((8, 32, 32, 3), dtype('uint8'))
    """

    _auto_pipeline = "AutoPipelineForText2Image"
