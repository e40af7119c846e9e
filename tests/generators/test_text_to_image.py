"""TextToImageGenerator on a tiny random Stable Diffusion pipeline (see conftest.py)."""

from __future__ import annotations

import pickle
import shutil

import numpy as np
import pytest
from sklearn.base import clone

from synaug_learn.generators._text_to_image import TextToImageGenerator
from synaug_learn.utils import derive_seed

torch = pytest.importorskip("torch")

RNG = np.random.RandomState(0)
X_GREY = RNG.randint(0, 256, (6, 28, 28), dtype=np.uint8)
Y = np.array([0, 0, 0, 0, 1, 1])
GROUPS = np.array(["land", "water", "land", "water", "land", "land"])


def make(path, **params):
    params = {"local_files_only": True, "num_inference_steps": 2, **params}
    return TextToImageGenerator(path, **params)


class PipeSpy:
    """Wraps a loaded pipeline: records every call, optionally rewrites it with ``hook``."""

    def __init__(self, pipe, hook=None):
        self.pipe = pipe
        self.hook = hook
        self.calls = []

    def __getattr__(self, name):
        return getattr(self.pipe, name)

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        if self.hook is not None:
            return self.hook(self.pipe, kwargs)
        return self.pipe(**kwargs)


def spy_on(gen, hook=None):
    spy = PipeSpy(gen._get_pipeline(), hook)
    gen._pipe = spy
    return spy


def seeds_of(kwargs):
    return [g.initial_seed() for g in kwargs["generator"]]


# ---------------------------------------------------------------- fit, params, prompts


def test_fit_is_cheap_and_params_clone(tiny_sd_path):
    gen = make(tiny_sd_path, class_names=["cat", "dog"]).fit(X_GREY, Y)
    assert getattr(gen, "_pipe", None) is None  # nothing loaded by fit
    assert gen.image_format_.height == 28 and gen.image_format_.channels == 1
    gen.fingerprint()  # hashing the model folder does not load it either
    assert getattr(gen, "_pipe", None) is None
    cloned = clone(gen)
    assert cloned.get_params() == gen.get_params()


def test_prompts_per_class_and_group_reach_the_pipeline(tiny_sd_path):
    templates = ("a photo of a {group} {name}", "a drawing of a {name} on {group}")
    gen = make(
        tiny_sd_path,
        class_names={0: "cat", 1: "dog"},
        group_names=["grass", "sea"],  # aligned with the sorted groups: land, water
        prompt_templates=templates,
        negative_prompt="blurry",
    ).fit(X_GREY, Y, groups=GROUPS)
    assert gen.prompts_for((1, "water")) == ["a photo of a sea dog", "a drawing of a dog on sea"]
    spy = spy_on(gen)
    seeds = list(range(100, 108))
    gen.generate_seeded((1, "water"), seeds)
    prompts = [p for call in spy.calls for p in call["prompt"]]
    assert prompts == gen.prompts_for((1, "water"), seeds)
    assert set(prompts) == set(gen.prompts_for((1, "water")))  # both templates used
    assert [s for call in spy.calls for s in seeds_of(call)] == seeds
    assert all(call["negative_prompt"] == ["blurry"] * len(call["prompt"]) for call in spy.calls)


def test_default_names_and_group_appended_without_group_field(tiny_sd_path):
    gen = make(tiny_sd_path).fit(X_GREY, Y, groups=GROUPS)
    assert gen.prompts_for((0, "land")) == ["a photo of a 0, land"]
    gen = make(tiny_sd_path, class_names=["T-shirt", "trouser"]).fit(X_GREY, Y)
    assert gen.prompts_for((1, None), seeds=[1, 2]) == ["a photo of a trouser"] * 2


@pytest.mark.parametrize(
    "params, match",
    [
        ({"class_names": ["only-one"]}, "class_names"),
        ({"class_names": {0: "cat"}}, "class_names has no name for"),
        ({"prompt_templates": ("a photo",)}, "prompt_templates"),
        ({"prompt_templates": ("a {name} {colour}",)}, "prompt_templates"),
        ({"image_size": 30}, "image_size"),
        ({"image_size": (16, 20)}, "image_size"),
        ({"device": "gpu0"}, "device"),
        ({"dtype": "float8"}, "dtype"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_retries": -1}, "max_retries"),
    ],
)
def test_bad_params_are_named_at_fit(tiny_sd_path, params, match):
    with pytest.raises(ValueError, match=match):
        make(tiny_sd_path, **params).fit(X_GREY, Y)


def test_missing_folder_is_named():
    with pytest.raises(ValueError, match="model='./no-such-folder'"):
        TextToImageGenerator("./no-such-folder").fit(X_GREY, Y)


# ------------------------------------------------------------------- seeds


def test_seeds_reproducible_and_independent_of_batch_mates(tiny_sd_path):
    X = RNG.uniform(0, 1, (6, 16, 16, 3)).astype(np.float32)  # float output: tight tolerance
    gen = make(tiny_sd_path, batch_size=4).fit(X, Y)
    both = gen.generate_seeded((0, None), [11, 22, 33])
    again = gen.generate_seeded((0, None), [11, 22, 33])
    alone = gen.generate_seeded((0, None), [22])
    np.testing.assert_array_equal(both, again)
    np.testing.assert_allclose(both[1], alone[0], atol=1e-4)
    assert np.abs(both[0] - both[1]).max() > 1e-2  # different seeds, different images
    X1, y1, g1 = gen.generate({(1, None): 2, (0, None): 1}, random_state=0)
    X2, _, _ = gen.generate({(1, None): 2, (0, None): 1}, random_state=0)
    np.testing.assert_array_equal(X1, X2)
    assert y1.tolist() == [1, 1, 0] and g1 is None


# --------------------------------------------------------------- formats


@pytest.mark.parametrize(
    "X",
    [
        RNG.randint(0, 256, (6, 28, 28), dtype=np.uint8),  # grey (n, H, W) uint8
        RNG.uniform(-1, 3, (6, 20, 12, 3)).astype(np.float32),  # float NHWC, not square
        RNG.uniform(0, 1, (6, 3, 12, 12)).astype(np.float64),  # float NCHW
        RNG.randint(0, 256, (6, 8, 8, 4), dtype=np.uint8),  # RGBA
        RNG.uniform(0, 16, (6, 64)),  # flat 8x8 grey (digits)
    ],
    ids=["uint8-grey", "float-nhwc", "float-nchw", "rgba", "flat"],
)
def test_output_in_fitted_shape_and_dtype(tiny_sd_path, X):
    gen = make(tiny_sd_path).fit(X, Y)
    X_new, y_new, _ = gen.generate({(1, None): 3}, random_state=1)
    assert X_new.shape == (3, *X.shape[1:]) and X_new.dtype == X.dtype
    assert X_new.min() >= X.min() and X_new.max() <= X.max()
    assert y_new.tolist() == [1, 1, 1]
    if X.ndim == 4 and X.shape[-1] == 4:
        assert (X_new[..., 3] == 255).all()  # opaque alpha


def test_image_size_is_passed_to_the_pipeline(tiny_sd_path):
    gen = make(tiny_sd_path, image_size=(24, 32)).fit(X_GREY, Y)
    spy = spy_on(gen)
    out = gen.generate_seeded((0, None), [1])
    assert (spy.calls[0]["height"], spy.calls[0]["width"]) == (24, 32)
    assert out.shape == (1, 28, 28)
    gen = make(tiny_sd_path).fit(X_GREY, Y)
    spy = spy_on(gen)
    gen.generate_seeded((0, None), [1])
    assert "height" not in spy.calls[0]  # the pipeline's default size (16 here)


# ------------------------------------------------------ blanks and out-of-memory


def blank_for(bad_seeds, flag=True):
    """A hook that blanks (zeros, and flags as NSFW when ``flag``) the images of ``bad_seeds``."""

    def hook(pipe, kwargs):
        out = pipe(**kwargs)
        seeds = seeds_of(kwargs)
        for i, seed in enumerate(seeds):
            if seed in bad_seeds:
                out.images[i] = 0.0
        out.nsfw_content_detected = [bool(flag and s in bad_seeds) for s in seeds] if flag else None
        return out

    return hook


@pytest.mark.parametrize("flag", [True, False], ids=["nsfw-flag", "all-black"])
def test_blank_images_are_regenerated_from_derived_seeds(tiny_sd_path, flag):
    gen = make(tiny_sd_path, batch_size=4).fit(X_GREY, Y)
    seeds = [5, 6, 7]
    reference = gen.generate_seeded((1, None), seeds)
    retry_seed = derive_seed(6, "retry", 1)
    expected = gen.generate_seeded((1, None), [retry_seed])
    spy = spy_on(gen, blank_for({6}, flag=flag))
    out = gen.generate_seeded((1, None), seeds)
    assert [seeds_of(c) for c in spy.calls] == [seeds, [retry_seed]]
    assert [c["prompt"] for c in spy.calls][1] == gen.prompts_for((1, None), [6])  # same prompt
    np.testing.assert_array_equal(out[[0, 2]], reference[[0, 2]])
    assert np.abs(out[1].astype(int) - expected[0]).max() <= 1
    assert out[1].max() > 0


def test_bounded_retries_then_clear_error(tiny_sd_path):
    gen = make(tiny_sd_path, max_retries=2).fit(X_GREY, Y)
    spy = spy_on(gen, lambda pipe, kw: blank_for(set(seeds_of(kw)))(pipe, kw))
    with pytest.raises(RuntimeError, match="still blank after max_retries=2"):
        gen.generate_seeded((0, None), [1, 2])
    assert len(spy.calls) == 3  # the first try and two retries


def oom_above(limit, exc_type):
    def hook(pipe, kwargs):
        if len(kwargs["prompt"]) > limit:
            raise exc_type("CUDA out of memory. Tried to allocate 20.00 GiB")
        return pipe(**kwargs)

    return hook


@pytest.mark.parametrize("exc_type", [torch.cuda.OutOfMemoryError, RuntimeError])
def test_out_of_memory_halves_the_batch(tiny_sd_path, exc_type):
    gen = make(tiny_sd_path, batch_size=8).fit(X_GREY, Y)
    seeds = [1, 2, 3, 4, 5]
    reference = gen.generate_seeded((0, None), seeds)
    spy = spy_on(gen, oom_above(2, exc_type))
    with pytest.warns(RuntimeWarning, match="out of memory"):
        out = gen.generate_seeded((0, None), seeds)
    assert [len(c["prompt"]) for c in spy.calls] == [5, 4, 2, 2, 1]
    assert np.abs(out.astype(int) - reference).max() <= 1
    gen.generate_seeded((0, None), [1, 2])  # the reduced batch size is remembered
    assert [len(c["prompt"]) for c in spy.calls[-1:]] == [2]


def test_out_of_memory_at_batch_one_and_other_errors_are_raised(tiny_sd_path):
    gen = make(tiny_sd_path, batch_size=2).fit(X_GREY, Y)
    spy_on(gen, oom_above(0, torch.cuda.OutOfMemoryError))
    with pytest.warns(RuntimeWarning), pytest.raises(torch.cuda.OutOfMemoryError):
        gen.generate_seeded((0, None), [1, 2])
    spy = spy_on(gen, oom_above(0, ValueError))
    with pytest.raises(ValueError, match="out of memory"):
        gen.generate_seeded((0, None), [1])
    assert len(spy.calls) == 1  # not retried


# ------------------------------------------------------- pickling, fingerprint


def test_pipeline_is_not_pickled_and_reloads(tiny_sd_path):
    gen = make(tiny_sd_path).fit(X_GREY, Y)
    before = gen.generate_seeded((0, None), [3])
    assert gen._pipe is not None
    restored = pickle.loads(pickle.dumps(gen))
    assert getattr(restored, "_pipe", None) is None
    np.testing.assert_array_equal(restored.generate_seeded((0, None), [3]), before)


def test_fingerprint_tracks_model_files_and_prompts(tiny_sd_path, tmp_path):
    fp = make(tiny_sd_path).fit(X_GREY, Y).fingerprint()
    assert make(tiny_sd_path).fit(X_GREY, Y).fingerprint() == fp
    assert make(tiny_sd_path, prompt_templates="a {name}").fit(X_GREY, Y).fingerprint() != fp
    copy = tmp_path / "pipe"
    shutil.copytree(tiny_sd_path, copy)
    fp_copy = make(str(copy)).fit(X_GREY, Y).fingerprint()
    config = copy / "scheduler" / "scheduler_config.json"
    config.write_text(config.read_text().replace('"steps_offset": 1', '"steps_offset": 0'))
    assert make(str(copy)).fit(X_GREY, Y).fingerprint() != fp_copy


def test_fingerprint_depends_on_format_and_labels_not_on_the_rows(tiny_sd_path):
    """Text-to-image output does not depend on the training rows: folds share bank rows."""
    other_rows = RNG.randint(0, 256, X_GREY.shape, dtype=np.uint8)
    fp = make(tiny_sd_path).fit(X_GREY, Y).fingerprint()
    assert make(tiny_sd_path).fit(other_rows, Y).fingerprint() == fp
    assert make(tiny_sd_path).fit(X_GREY, Y + 1).fingerprint() != fp  # other labels
    assert make(tiny_sd_path).fit(X_GREY[:, :14, :14], Y).fingerprint() != fp  # other shape
