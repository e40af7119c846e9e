"""Sampling loops of the class-conditional diffusion generator (its seeded noise is shared
with the tabular one).

One place for what decides the cost of a generated image: the solver
(``"ddim"``, DPM-Solver++ as ``"dpm++"``, its stochastic SDE form as
``"sde-dpm++"``, UniPC as ``"unipc"``, all from diffusers), the steps at
which classifier-free guidance is applied (a second network pass per guided
step; Kynkäänniemi et al. 2024 apply it on a limited interval of noise levels
only), and how many images are denoised at once.
"""

from __future__ import annotations

from ..utils import derive_seed

__all__ = [
    "SCHEDULERS",
    "SCHEDULER_NAMES",
    "STOCHASTIC_SCHEDULERS",
    "TIMESTEP_SPACINGS",
    "check_guidance_interval",
    "denoise",
    "edit_start",
    "guided_steps",
    "make_scheduler",
    "passes_per_image",
    "resolve_batch_size",
    "seeded_noise",
    "solver_step",
    "step_generators",
]

SCHEDULERS = ("ddim", "dpm++", "sde-dpm++", "unipc")
SCHEDULER_NAMES = {"ddim": "DDIM", "dpm++": "DPM-Solver++", "sde-dpm++": "SDE-DPM-Solver++",
                   "unipc": "UniPC"}  # for messages
# Solvers that draw fresh noise at every step (seeded per row by step_generators).
STOCHASTIC_SCHEDULERS = ("sde-dpm++",)
TIMESTEP_SPACINGS = ("leading", "linspace", "trailing")
# Images denoised at once with generation_batch_size="auto". On CPU a small batch keeps the
# activations in cache: guided batches of 16-32 ran 1.4-2.1x faster per image than 256.
AUTO_BATCH_SIZE = {"cpu": 32, "other": 256}


def make_scheduler(name, num_train_timesteps=1000, timestep_spacing=None,
                   prediction_type="epsilon"):
    """A fresh diffusers scheduler for the solver ``name``, as the generators sample with it.

    What ``ConditionalDiffusionGenerator(scheduler=name)`` builds for each batch;
    public so that code which trains or samples a compatible network (e.g.
    ``scripts/distill_generator.py``) uses the very same solver settings.

    Parameters
    ----------
    name : {"ddim", "dpm++", "sde-dpm++", "unipc"}
        ``"ddim"`` is deterministic DDIM (eta 0, no clipping: clipping
        collapses samples at guidance > 2); ``"dpm++"`` the second-order
        multistep DPM-Solver++ (``algorithm_type="dpmsolver++"``, first order
        on the last step, final sigma zero) and ``"unipc"`` the UniPC multistep
        solver (``bh2``), the two that need few steps for guided sampling.
        ``"sde-dpm++"`` is the same DPM-Solver++ on the reverse SDE
        (``algorithm_type="sde-dpmsolver++"``): it adds fresh noise at every
        step (see :func:`step_generators`) and needs more steps than the ODE
        solvers; at 40 guided steps it gave the shipped Fashion-MNIST
        generator's best fill measured.
    num_train_timesteps : int, default=1000
        Length of the training noise schedule.
    timestep_spacing : {"leading", "linspace", "trailing"} or None, default=None
        Overrides the scheduler's own default spacing of the sampling steps.
    prediction_type : {"epsilon", "v_prediction"}, default="epsilon"
        What the network predicts (``"v_prediction"`` for the few-step
        students of ``scripts/distill_generator.py``).

    Returns
    -------
    scheduler : diffusers scheduler
        A new instance: the multistep solvers keep past predictions, so use
        one per batch.

    Raises
    ------
    ValueError
        If ``name`` or ``timestep_spacing`` is not one of the options.

    Examples
    --------
    >>> from synaug_learn.generators import make_scheduler
    >>> scheduler = make_scheduler("dpm++", timestep_spacing="trailing")
    >>> type(scheduler).__name__, scheduler.config.timestep_spacing
    ('DPMSolverMultistepScheduler', 'trailing')
    >>> make_scheduler("euler")
    Traceback (most recent call last):
    ...
    ValueError: scheduler='euler' is not one of ['ddim', 'dpm++', 'sde-dpm++', 'unipc'].
    """
    if name == "ddim":
        from diffusers import DDIMScheduler as cls

        options = {"clip_sample": False}
    elif name in ("dpm++", "sde-dpm++"):
        from diffusers import DPMSolverMultistepScheduler as cls

        options = {"algorithm_type": "dpmsolver++" if name == "dpm++" else "sde-dpmsolver++",
                   "solver_order": 2, "lower_order_final": True, "final_sigmas_type": "zero"}
    elif name == "unipc":
        from diffusers import UniPCMultistepScheduler as cls

        options = {"solver_order": 2, "solver_type": "bh2", "lower_order_final": True}
    else:
        raise ValueError(f"scheduler={name!r} is not one of {list(SCHEDULERS)}.")
    if timestep_spacing is not None:
        if timestep_spacing not in TIMESTEP_SPACINGS:
            raise ValueError(f"timestep_spacing={timestep_spacing!r} is not one of "
                             f"{list(TIMESTEP_SPACINGS)}.")
        options["timestep_spacing"] = timestep_spacing
    return cls(num_train_timesteps=num_train_timesteps, prediction_type=prediction_type,
               **options)


def check_guidance_interval(interval, param_name="guidance_interval"):
    """``None`` or ``(lo, hi)`` with ``0 <= lo < hi <= 1``; returns it as a tuple or None."""
    if interval is None:
        return None
    try:
        lo, hi = (float(v) for v in interval)
    except (TypeError, ValueError):
        raise ValueError(
            f"{param_name} must be None or a pair (lo, hi) of fractions of the sampling "
            f"trajectory; got {interval!r}."
        ) from None
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(
            f"{param_name}={tuple(interval)!r} must satisfy 0 <= lo < hi <= 1 (0 = pure noise, "
            "1 = the clean image)."
        )
    return (lo, hi)


def guided_steps(timesteps, num_train_timesteps, guidance_scale, interval=None):
    """Which steps get classifier-free guidance (a second network pass).

    A step at timestep ``t`` sits at ``1 - t / num_train_timesteps`` of the
    trajectory (0 = pure noise, 1 = the clean image); it is guided when
    ``guidance_scale != 1`` and that position lies in ``interval`` (inclusive;
    ``None`` = every step).

    Examples
    --------
    >>> from synaug_learn.generators._sampling import guided_steps
    >>> guided_steps([999, 749, 499, 249], 1000, 1.5, interval=(0.2, 0.6))
    [False, True, True, False]
    >>> guided_steps([999, 749], 1000, 1.0)
    [False, False]
    """
    if guidance_scale == 1.0:
        return [False] * len(timesteps)
    if interval is None:
        return [True] * len(timesteps)
    lo, hi = interval
    return [lo <= 1.0 - float(t) / num_train_timesteps <= hi for t in timesteps]


def passes_per_image(scheduler, num_inference_steps, num_train_timesteps=1000,
                     guidance_scale=1.5, guidance_interval=None, timestep_spacing=None):
    """Network passes (one per image per step, two on a guided step) of a sampling setting.

    Examples
    --------
    >>> from synaug_learn.generators._sampling import passes_per_image
    >>> passes_per_image("ddim", 20, guidance_scale=1.5)
    40
    >>> passes_per_image("dpm++", 10, guidance_scale=1.0)
    10
    """
    sched = make_scheduler(scheduler, num_train_timesteps, timestep_spacing)
    sched.set_timesteps(num_inference_steps)
    guided = guided_steps(sched.timesteps.tolist(), num_train_timesteps, guidance_scale,
                          check_guidance_interval(guidance_interval))
    return len(guided) + sum(guided)


def resolve_batch_size(generation_batch_size, device):
    """An int batch size; ``"auto"`` is small on CPU (32) and 256 on an accelerator."""
    if generation_batch_size != "auto":
        return int(generation_batch_size)
    kind = "cpu" if str(device).split(":")[0] == "cpu" else "other"
    return AUTO_BATCH_SIZE[kind]


def denoise(unet, x, label, null_label, scheduler, num_inference_steps, guidance_scale=1.5,
            guidance_interval=None, start=0, generator=None, on_step=None):
    """Run ``scheduler``'s reverse process from noise ``x`` for class index ``label``.

    ``label`` is one class index for the whole batch or a tensor of one per
    row.
    On guided steps (see :func:`guided_steps`) the conditional and the
    unconditional ("no condition" row ``null_label``) predictions come from
    one batched pass and are mixed as ``eps_u + s * (eps_c - eps_u)``; the
    other steps cost one conditional pass. ``start`` skips the first steps of
    the schedule: ``x`` is then a noised image at ``timesteps[start]`` (an
    edit, see :func:`edit_start`). ``generator`` (one ``torch.Generator`` per
    row, from :func:`step_generators`) draws a stochastic solver's step noise.
    ``on_step(t, x)``, when given, sees the batch at each timestep ``t``
    before the step from it (e.g. to record a teacher's trajectory, as
    ``scripts/distill_generator.py`` does). Returns the denoised batch.
    """
    import torch

    num_train = scheduler.config.num_train_timesteps
    scheduler.set_timesteps(num_inference_steps)
    timesteps = scheduler.timesteps[start:]
    guided = guided_steps(timesteps.tolist(), num_train, guidance_scale, guidance_interval)
    n = len(x)
    cond = torch.as_tensor(label, dtype=torch.long, device=x.device).expand(n)
    both = torch.cat([cond, torch.full_like(cond, null_label)])
    with torch.inference_mode():
        for t, guide in zip(timesteps, guided):
            if on_step is not None:
                on_step(t, x)
            if guide:
                eps_c, eps_u = unet(torch.cat([x, x]), t, class_labels=both).sample.chunk(2)
                eps = eps_u + guidance_scale * (eps_c - eps_u)
            else:
                eps = unet(x, t, class_labels=cond).sample
            x = solver_step(scheduler, eps, t, x, generator)
    return x


def solver_step(scheduler, eps, t, x, generator=None):
    """One ``scheduler.step``, given the rows' step-noise ``generator`` when there is one
    (:func:`step_generators` gives none for an ODE solver)."""
    if generator is None:
        return scheduler.step(eps, t, x).prev_sample
    return scheduler.step(eps, t, x, generator=generator).prev_sample


def step_generators(name, seeds):
    """Per-row ``torch.Generator`` s for the step noise of solver ``name`` if it is
    stochastic, else ``None``.

    Row ``i``'s generator is seeded from ``seeds[i]`` alone (a stream apart
    from its starting noise), so with ``"sde-dpm++"`` too a row's image does
    not depend on its batch-mates or the batch size.

    Examples
    --------
    >>> from synaug_learn.generators._sampling import step_generators
    >>> step_generators("dpm++", [3, 4]) is None
    True
    >>> len(step_generators("sde-dpm++", [3, 4]))
    2
    """
    import torch

    if name not in STOCHASTIC_SCHEDULERS:
        return None
    return [torch.Generator().manual_seed(derive_seed(int(s), "solver-noise")) for s in seeds]


def edit_start(scheduler, num_inference_steps, strength):
    """Index of the first of ``num_inference_steps`` timesteps an edit at ``strength`` runs.

    As diffusers' image-to-image pipelines (SDEdit): about ``strength`` of the
    schedule runs, from the timestep the image is noised to; at least one step.
    ``scheduler`` gets its timesteps set.
    """
    scheduler.set_timesteps(num_inference_steps)
    n = len(scheduler.timesteps)
    return min(n - 1, n - int(n * strength))


def seeded_noise(shape, seeds):
    """One standard-normal tensor of ``shape`` per seed, stacked: row ``i`` comes from its own
    ``torch.Generator`` seeded with ``seeds[i]``, so it does not depend on its batch-mates."""
    import torch

    return torch.stack([torch.randn(shape, generator=torch.Generator().manual_seed(int(s)))
                        for s in seeds])
