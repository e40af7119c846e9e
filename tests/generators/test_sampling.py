"""Sampling of ConditionalDiffusionGenerator: solvers, guidance interval, batch size."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from synaug_learn.generators import ConditionalDiffusionGenerator
from synaug_learn.generators._sampling import (
    denoise,
    guided_steps,
    make_scheduler,
    passes_per_image,
    resolve_batch_size,
    seeded_noise,
    step_generators,
)

TINY = dict(block_out_channels=(16, 32), max_steps=3, num_inference_steps=3, random_state=0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 255, size=(30, 8, 8)).astype(np.uint8)
    return X, np.repeat([0, 1, 2], 10)


@pytest.fixture(scope="module")
def fitted(data):
    return ConditionalDiffusionGenerator(**TINY).fit(*data)


def _generate(gen, n=5, seed=0, label=1, **params):
    gen = gen.set_params(**params) if params else gen
    return gen.generate({(label, None): n}, random_state=seed)[0]


@pytest.mark.parametrize("scheduler", ["ddim", "dpm++", "sde-dpm++", "unipc"])
def test_each_solver_generates_reproducibly_whatever_the_batch(fitted, scheduler):
    gen = clone(fitted).set_params(scheduler=scheduler)
    gen.__dict__.update({k: v for k, v in fitted.__dict__.items() if k.endswith("_")
                         or k.startswith("_")})
    a = _generate(gen, generation_batch_size=2)
    b = _generate(gen, generation_batch_size=16)
    assert a.shape == (5, 8, 8) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)  # row i does not depend on its batch-mates
    assert not np.array_equal(a, _generate(gen, seed=1))


def test_multistep_solvers_converge_in_fewer_steps_than_ddim():
    """On the shipped model, 8 steps of DPM-Solver++ / UniPC land nearer the ODE's solution
    (DPM-Solver++ at 25 steps) than 8 DDIM steps do."""
    X = np.zeros((10, 28, 28), np.uint8)
    gen = ConditionalDiffusionGenerator.from_pretrained(
        "fashion-mnist-small", guidance_scale=1.0, num_inference_steps=8).fit(X, np.arange(10))
    ref = _generate(gen, n=2, label=7, scheduler="dpm++", num_inference_steps=25).astype(float)
    err = {name: np.abs(_generate(gen, n=2, label=7, scheduler=name, num_inference_steps=8)
                        .astype(float) - ref).mean() for name in ("ddim", "dpm++", "unipc")}
    assert err["dpm++"] < 0.7 * err["ddim"], err
    assert err["unipc"] < 0.7 * err["ddim"], err
    assert err["dpm++"] != err["unipc"]


def _denoise(gen, x, label, scheduler="dpm++", steps=3, **kwargs):
    """:func:`denoise` with ``gen``'s network from a copy of ``x``, guidance 1.5."""
    return denoise(gen.unet_, x.clone(), label, gen._null_index(), make_scheduler(scheduler),
                   steps, 1.5, **kwargs)


@pytest.mark.parametrize("scheduler, stochastic", [("dpm++", False), ("sde-dpm++", True)])
def test_only_the_sde_solver_draws_noise_at_each_step(fitted, scheduler, stochastic):
    """The same starting noise, other step-noise streams: the SDE solver ends elsewhere, the
    ODE solver (which ignores the generators) in the same place; same streams, same images."""
    x = seeded_noise((1, 16, 16), [0, 1])

    def run(stream_seeds):
        return _denoise(fitted, x, 1, scheduler,
                        generator=[torch.Generator().manual_seed(s) for s in stream_seeds])

    a = run([5, 6])
    assert torch.equal(a, run([5, 6]))
    assert torch.equal(a, run([7, 8])) is not stochastic
    # the library's own streams: one per row from the row's seed, none for an ODE solver
    assert (step_generators(scheduler, [0, 1]) is None) is not stochastic


def test_denoise_takes_a_label_per_row_and_shows_each_step(fitted):
    """A batch of two classes equals each class denoised alone; on_step sees the batch at
    every timestep, before the step from it (the start: the noise itself)."""
    x = seeded_noise((1, 16, 16), [0, 1])
    seen = []
    both = _denoise(fitted, x, torch.tensor([1, 2]),
                    on_step=lambda t, x_t: seen.append((int(t), x_t.clone())))
    alone = [_denoise(fitted, x[i: i + 1], label) for i, label in enumerate([1, 2])]
    torch.testing.assert_close(both, torch.cat(alone), rtol=0, atol=1e-3)  # batch-size float noise
    other_label = _denoise(fitted, x[:1], 2)
    assert (alone[0] - other_label).abs().max() > 100 * 1e-3  # the label, not float noise
    sched = make_scheduler("dpm++")
    sched.set_timesteps(3)
    assert [t for t, _ in seen] == sched.timesteps.tolist()
    assert torch.equal(seen[0][1], x)


def test_the_sde_solver_spreads_the_samples_of_one_starting_noise():
    """On the shipped model, 8 rows from one starting noise: DPM-Solver++ gives one image 8
    times; its SDE form 8 images about as far apart as rows from 8 different starting noises
    (measured 0.98 of it): at 10 steps the step noise, not the start, decides the image."""
    gen = ConditionalDiffusionGenerator.from_pretrained(
        "fashion-mnist-small", scheduler="sde-dpm++", num_inference_steps=10)
    gen.fit(np.zeros((10, 28, 28), np.uint8), np.arange(10))
    side = gen.unet_size_
    x = seeded_noise((1, side, side), [0] * 8 + list(range(1, 9)))
    out = {}
    for name in ("dpm++", "sde-dpm++"):
        streams = [torch.Generator().manual_seed(s) for s in range(16)]
        out[name] = _denoise(gen, x, 7, name, steps=10, generator=streams).flatten(1)
    same_start = torch.pdist(out["sde-dpm++"][:8]).mean()
    other_start = torch.pdist(out["sde-dpm++"][8:]).mean()
    assert torch.pdist(out["dpm++"][:8]).max() == 0
    assert same_start > 0.8 * other_start


def test_guidance_interval_decides_which_steps_pay_a_second_pass(fitted, monkeypatch):
    gen = clone(fitted)
    gen.__dict__.update({k: v for k, v in fitted.__dict__.items() if k.endswith("_")
                         or k.startswith("_")})
    rows = []
    forward = type(gen.unet_).forward

    def counting(self, sample, *args, **kwargs):
        rows.append(len(sample))
        return forward(self, sample, *args, **kwargs)

    monkeypatch.setattr(type(gen.unet_), "forward", counting)
    settings = {"all": dict(guidance_interval=None),
                "middle": dict(guidance_interval=(0.2, 0.6)),
                "none": dict(guidance_interval=(0.999, 1.0), timestep_spacing="trailing")}
    seen, images = {}, {}
    for name, params in settings.items():
        rows.clear()
        images[name] = _generate(gen, n=4, scheduler="dpm++", num_inference_steps=4,
                                 guidance_scale=2.0, **params)
        seen[name] = sum(rows) / 4
        expected = passes_per_image("dpm++", 4, guidance_scale=2.0,
                                    guidance_interval=params["guidance_interval"],
                                    timestep_spacing=params.get("timestep_spacing"))
        assert seen[name] == expected
    assert seen == {"all": 8, "middle": 6, "none": 4}
    unguided = _generate(gen, n=4, guidance_scale=1.0, guidance_interval=None)
    np.testing.assert_array_equal(images["none"], unguided)  # no guided step = no guidance
    assert not np.array_equal(images["middle"], images["all"])


def test_guided_steps_and_passes():
    assert guided_steps([999, 749, 499, 249], 1000, 1.5) == [True] * 4
    assert guided_steps([999, 749, 499, 249], 1000, 1.5, (0.2, 0.6)) == [False, True, True, False]
    assert passes_per_image("ddim", 20) == 40
    assert passes_per_image("ddim", 10, guidance_scale=1.0) == 10
    # DDIM's leading spacing: 950, 900, ..., 0 -> positions 0.05 .. 1.0
    assert passes_per_image("ddim", 20, guidance_interval=(0.0, 0.5)) == 20 + 10


def test_trailing_spacing_starts_from_pure_noise():
    sched = make_scheduler("ddim", timestep_spacing="trailing")
    sched.set_timesteps(4)
    assert sched.timesteps.tolist() == [999, 749, 499, 249]
    leading = make_scheduler("ddim")
    leading.set_timesteps(4)
    assert leading.timesteps.tolist() == [750, 500, 250, 0]


def test_auto_batch_size_suits_the_device():
    assert resolve_batch_size("auto", "cpu") == 32
    assert resolve_batch_size("auto", "cuda:0") == 256
    assert resolve_batch_size(7, "cuda") == 7
    assert ConditionalDiffusionGenerator().generation_batch_size == "auto"


@pytest.mark.parametrize("params, match", [
    ({"scheduler": "euler"}, "scheduler"),
    ({"guidance_interval": (0.6, 0.2)}, r"guidance_interval=\(0.6, 0.2\)"),
    ({"guidance_interval": (0.2, 1.5)}, "guidance_interval"),
    ({"guidance_interval": "middle"}, "guidance_interval"),
    ({"timestep_spacing": "even"}, "timestep_spacing"),
    ({"generation_batch_size": "big"}, "generation_batch_size"),
    ({"generation_batch_size": 0}, "generation_batch_size"),
])
def test_bad_sampling_parameters_name_themselves(data, fitted, params, match):
    with pytest.raises(ValueError, match=match):
        ConditionalDiffusionGenerator(**{**TINY, **params}).fit(*data)
    gen = clone(fitted).set_params(**params)  # set after fit: checked before sampling
    gen.__dict__.update({k: v for k, v in fitted.__dict__.items() if k.endswith("_")
                         or k.startswith("_")})
    with pytest.raises(ValueError, match=match):
        _generate(gen)


def test_sampling_settings_survive_save_load_and_clone(data, tmp_path):
    gen = ConditionalDiffusionGenerator(**TINY, scheduler="unipc", guidance_interval=(0.2, 0.8),
                                        timestep_spacing="trailing").fit(*data)
    gen.save_pretrained(tmp_path / "g")
    loaded = ConditionalDiffusionGenerator.from_pretrained(tmp_path / "g")
    params = loaded.get_params()
    assert (params["scheduler"], params["guidance_interval"], params["timestep_spacing"],
            params["num_inference_steps"]) == ("unipc", (0.2, 0.8), "trailing", 3)
    cloned = clone(loaded).fit(*data)
    assert cloned.get_params()["scheduler"] == "unipc"
    np.testing.assert_array_equal(_generate(cloned), _generate(gen))
    other = ConditionalDiffusionGenerator.from_pretrained(tmp_path / "g", scheduler="ddim")
    assert other.scheduler == "ddim"  # explicit parameters override the saved defaults
    assert not np.array_equal(_generate(other.fit(*data)), _generate(gen))


def test_the_shipped_generator_defaults_to_the_recommended_sampler():
    """fashion-mnist-small samples with the setting benchmarks/generation_speed.py recommends
    (DPM-Solver++, 10 guided steps: 20 passes per image); parameters still override it."""
    gen = ConditionalDiffusionGenerator.from_pretrained("fashion-mnist-small")
    assert (gen.scheduler, gen.num_inference_steps, gen.guidance_scale,
            gen.guidance_interval) == ("dpm++", 10, 1.5, None)
    ddim = ConditionalDiffusionGenerator.from_pretrained("fashion-mnist-small", scheduler="ddim",
                                                         num_inference_steps=20)
    assert (ddim.scheduler, ddim.num_inference_steps, ddim.guidance_scale) == ("ddim", 20, 1.5)
    rows = []
    gen.fit(np.zeros((10, 28, 28), np.uint8), np.arange(10))
    hook = gen.unet_.register_forward_hook(lambda m, a, o: rows.append(len(a[0])))
    _generate(gen, n=2, label=3)
    hook.remove()
    assert sum(rows) == 2 * 10 * 2  # 10 steps, a guided pair of rows per image


@pytest.fixture(scope="module")
def guided_teacher():
    """The shipped generator at the sampler its students copy (guided DPM-Solver++, 16 steps),
    and its images of class 5 from the noises of seed 0."""
    teacher = ConditionalDiffusionGenerator.from_pretrained(
        "fashion-mnist-small", scheduler="dpm++", timestep_spacing="trailing",
        num_inference_steps=16, guidance_scale=1.5).fit(np.zeros((10, 28, 28), np.uint8),
                                                        np.arange(10))
    return teacher, _generate(teacher, n=3, label=5).astype(float)


def _next_to_the_teacher(student, guided_teacher, k):
    """Network passes of the student for 3 images in ``k`` steps, and the mean pixel distance
    to the guided teacher's images (same noises) of the student's and of the teacher's own
    guided DDIM in ``k`` steps."""
    teacher, target = guided_teacher
    rows = []
    hook = student.unet_.register_forward_hook(lambda m, a, o: rows.append(len(a[0])))
    mine = _generate(student, n=3, label=5, num_inference_steps=k).astype(float)
    hook.remove()
    own = {key: teacher.get_params()[key] for key in ("scheduler", "num_inference_steps")}
    ddim = _generate(teacher, n=3, label=5, scheduler="ddim", num_inference_steps=k)
    teacher.set_params(**own)  # the fixture is shared: back to the sampler the students copy
    return sum(rows), np.abs(mine - target).mean(), np.abs(ddim.astype(float) - target).mean()


def test_the_shipped_student_samples_in_few_single_pass_steps(guided_teacher):
    """The distilled student loads by name, costs one pass per step and, at 4, 2 and 1 steps,
    lands nearer its guided teacher's images (same noises) than the teacher's own guided
    DDIM does in as many steps."""
    X, y = np.zeros((10, 28, 28), np.uint8), np.arange(10)
    student = ConditionalDiffusionGenerator.from_pretrained("fashion-mnist-small-student")
    assert (student.scheduler, student.timestep_spacing, student.num_inference_steps,
            student.guidance_scale) == ("ddim", "trailing", 4, 1.0)
    student.fit(X, y)
    for k in (4, 2, 1):
        passes, mine, ddim = _next_to_the_teacher(student, guided_teacher, k)
        assert passes == 3 * k  # one pass per image per step
        assert mine < 0.9 * ddim
    with pytest.raises(ValueError, match="distilled student"):
        ConditionalDiffusionGenerator.from_pretrained(
            "fashion-mnist-small-student", fine_tune=5).fit(X, y)
    # off its grid: refused at fit, and at generation after set_params
    with pytest.raises(ValueError, match=r"in \[1, 2, 4\] steps; num_inference_steps=3"):
        ConditionalDiffusionGenerator.from_pretrained(
            "fashion-mnist-small-student", num_inference_steps=3).fit(X, y)
    with pytest.raises(ValueError, match="num_inference_steps=8 is off its grid"):
        _generate(student, n=1, label=0, num_inference_steps=8)


def test_the_shipped_two_step_student_samples_in_two_single_pass_steps(guided_teacher):
    """The 2-step student (the generation-speed benchmark's recommended student setting) costs
    two passes per image, lands nearer its guided 16-step teacher's images than the teacher's
    own guided DDIM in 2 steps, and refuses other step counts."""
    X, y = np.zeros((10, 28, 28), np.uint8), np.arange(10)
    student = ConditionalDiffusionGenerator.from_pretrained(
        "fashion-mnist-small-student-2step").fit(X, y)
    assert (student.scheduler, student.num_inference_steps, student.guidance_scale) == (
        "ddim", 2, 1.0)
    passes, mine, ddim = _next_to_the_teacher(student, guided_teacher, 2)
    assert passes == 3 * 2
    assert mine < 0.9 * ddim
    with pytest.raises(ValueError, match=r"distilled to sample in \[2\] steps"):
        _generate(student, n=1, label=0, num_inference_steps=4)
