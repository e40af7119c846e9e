"""ImageToImageGenerator (SDEdit) on the tiny random Stable Diffusion pipeline (see conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from synaug_learn.generators._diffusers import _DiffusersPipelineGenerator
from synaug_learn.generators._image_to_image import ImageToImageGenerator

pytest.importorskip("torch")

RNG = np.random.RandomState(0)
X_RGB = RNG.randint(0, 256, (6, 12, 20, 3), dtype=np.uint8)
X_GREY = RNG.randint(0, 256, (6, 28, 28), dtype=np.uint8)
Y = np.array([0, 0, 0, 0, 1, 1])
GROUPS = np.array(["a", "b", "a", "b", "a", "a"])


def make(path, **params):
    params = {"local_files_only": True, "num_inference_steps": 4, "strength": 0.5, **params}
    return ImageToImageGenerator(path, **params)


class PipeSpy:
    def __init__(self, pipe):
        self.pipe = pipe
        self.calls = []

    def __getattr__(self, name):
        return getattr(self.pipe, name)

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        return self.pipe(**kwargs)


def test_shares_the_pipeline_base_and_loads_img2img(tiny_sd_path):
    gen = make(tiny_sd_path).fit(X_GREY, Y)
    assert isinstance(gen, _DiffusersPipelineGenerator)
    assert type(gen._get_pipeline()).__name__ == "StableDiffusionImg2ImgPipeline"
    assert gen.get_params()["strength"] == 0.5


def test_sources_chosen_by_seed_and_passed_as_rgb_at_generation_size(tiny_sd_path):
    gen = make(tiny_sd_path, class_names=["cat", "dog"], batch_size=8).fit(X_GREY, Y)
    assert gen.n_sources_ == {(0, None): 4, (1, None): 2}
    seeds = [10, 11, 12, 13]
    indices = gen.source_indices_for((0, None), seeds)
    assert set(indices) <= {0, 1, 2, 3} and len(set(indices)) > 1
    spy = PipeSpy(gen._get_pipeline())
    gen._pipe = spy
    out = gen.generate_seeded((0, None), seeds)
    call = spy.calls[0]
    assert call["strength"] == 0.5 and call["prompt"] == ["a photo of a cat"] * 4
    images = call["image"]
    assert all(isinstance(im, Image.Image) and im.mode == "RGB" for im in images)
    assert {im.size for im in images} == {(16, 16)}  # the pipeline's default size
    # the same source gives the same (grey, replicated) PIL image
    grey = [np.asarray(im) for im in images]
    assert all((g[..., 0] == g[..., 1]).all() for g in grey)
    assert out.shape == (4, 28, 28) and out.dtype == np.uint8


def test_reproducible_and_independent_of_batch_mates(tiny_sd_path):
    gen = make(tiny_sd_path, batch_size=4, image_size=16).fit(X_RGB, Y)
    both = gen.generate_seeded((1, None), [7, 8])
    alone = gen.generate_seeded((1, None), [8])
    assert both.shape == (2, 12, 20, 3)
    assert np.abs(both[1].astype(int) - alone[0]).max() <= 1
    X1, y1, g1 = gen.generate({(0, None): 2}, random_state=3)
    X2, _, _ = gen.generate({(0, None): 2}, random_state=3)
    np.testing.assert_array_equal(X1, X2)


def test_the_pipeline_edits_exactly_the_chosen_source_rows(tiny_sd_path):
    X = RNG.randint(0, 256, (6, 16, 16, 3), dtype=np.uint8)  # already at generation size
    gen = make(tiny_sd_path).fit(X, Y)
    spy = PipeSpy(gen._get_pipeline())
    gen._pipe = spy
    seeds = [1, 2, 3, 4]
    gen.generate_seeded((0, None), seeds)
    sent = np.stack([np.asarray(im) for im in spy.calls[0]["image"]])
    np.testing.assert_array_equal(sent, X[gen.source_indices_for((0, None), seeds)])


def test_stratum_without_real_images_and_bad_strength(tiny_sd_path):
    gen = make(tiny_sd_path).fit(X_GREY, Y, groups=GROUPS)
    with pytest.raises(ValueError, match=r"no real image of it"):
        gen.generate({(1, "b"): 1}, random_state=0)
    with pytest.raises(ValueError, match="strength"):
        make(tiny_sd_path, strength=0.0).fit(X_GREY, Y)
    with pytest.raises(ValueError, match="num_inference_steps \\* strength"):
        make(tiny_sd_path, num_inference_steps=2, strength=0.3).fit(X_GREY, Y)


def test_fingerprint_keeps_the_source_rows(tiny_sd_path):
    """Image-to-image edits the real rows, so other rows mean other samples."""
    other_rows = np.random.RandomState(9).randint(0, 256, X_GREY.shape, dtype=np.uint8)
    assert (make(tiny_sd_path).fit(X_GREY, Y).fingerprint()
            != make(tiny_sd_path).fit(other_rows, Y).fingerprint())
