"""The row-sharded generation behind the Ray backend, and the Ray backend itself."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from synaug_learn.generators import JitterGenerator
from synaug_learn.generators._ray import (
    generate_rows,
    generate_seeded_with_ray,
    generate_with_ray,
    plan_rows,
)
from synaug_learn.generators._text_to_image import TextToImageGenerator

RNG = np.random.RandomState(0)
X = RNG.randint(0, 256, (8, 12, 12), dtype=np.uint8)
Y = np.array([0, 0, 0, 1, 1, 1, 2, 2])
GROUPS = np.array(["a", "b", "a", "a", "b", "b", "a", "b"])
REQUEST = {(2, "a"): 3, (0, "b"): 0, (1, "b"): 2, (0, "a"): 1}


def test_plan_rows_and_shards_reproduce_generate():
    gen = JitterGenerator().fit(X, Y, groups=GROUPS)
    X_ref, _, _ = gen.generate(REQUEST, random_state=7)
    rows = plan_rows(gen, REQUEST, random_state=7)
    assert [i for i, _, _ in rows] == list(range(6))
    assert [s for _, s, _ in rows] == [(2, "a")] * 3 + [(1, "b")] * 2 + [(0, "a")]
    shuffled = [rows[i] for i in (5, 0, 3, 1, 4, 2)]
    out = np.empty_like(X_ref)
    for shard in (shuffled[:2], shuffled[2:3], shuffled[3:]):  # any split, any order
        out[[i for i, _, _ in shard]] = generate_rows(gen, shard)
    np.testing.assert_array_equal(out, X_ref)
    columns = {"index": [0, 1], "stratum": [(2, "a"), (2, "a")], "seed": [r[2] for r in rows[:2]]}
    np.testing.assert_array_equal(generate_rows(gen, columns), X_ref[:2])


def test_generate_rows_on_a_text_to_image_generator(tiny_sd_path):
    gen = TextToImageGenerator(tiny_sd_path, local_files_only=True, num_inference_steps=2)
    gen.fit(X, Y, groups=GROUPS)
    X_ref, _, _ = gen.generate(REQUEST, random_state=1)
    rows = plan_rows(gen, REQUEST, random_state=1)
    out = np.concatenate([generate_rows(gen, rows[3:]), generate_rows(gen, rows[:3])])
    assert np.abs(out[3:].astype(int) - X_ref[:3]).max() <= 1
    assert np.abs(out[:3].astype(int) - X_ref[3:]).max() <= 1


def test_arguments_are_checked_before_any_work():
    gen = JitterGenerator()
    with pytest.raises(NotFittedError):
        generate_with_ray(gen, {(0, None): 1})
    gen.fit(X, Y)
    with pytest.raises(ValueError, match="concurrency"):
        generate_with_ray(gen, {(0, None): 1}, concurrency=0)
    with pytest.raises(ValueError, match="batch_size"):
        generate_seeded_with_ray(gen, [((0, None), [1])], batch_size=0)
    with pytest.raises(ValueError, match="num_gpus_per_worker"):
        generate_with_ray(gen, {(0, None): 1}, num_gpus_per_worker=-1)
    with pytest.raises(ValueError, match="label 5"):
        generate_with_ray(gen, {(5, None): 1})
    with pytest.raises(ValueError, match=">= 0"):
        generate_with_ray(gen, {(0, None): -1})
    # nothing to generate: no Ray needed, and the same empty result as generate()
    X_new, y_new, g_new = generate_with_ray(gen, {(0, None): 0})
    assert X_new.shape == (0, 12, 12) and y_new.shape == (0,) and g_new is None
    assert generate_seeded_with_ray(gen, []) == []


@pytest.mark.ray
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Ray Data's own config deprecations
def test_ray_backend_matches_the_local_path(tiny_sd_path):
    ray = pytest.importorskip("ray")
    from ray.data import DataContext

    gen = TextToImageGenerator(
        tiny_sd_path, local_files_only=True, num_inference_steps=2, batch_size=2,
        group_names={"a": "grass", "b": "sea"},
    ).fit(X, Y, groups=GROUPS)
    X_ref, y_ref, g_ref = gen.generate(REQUEST, random_state=3)
    jobs = [((1, "a"), [5, 6, 7]), ((0, "b"), [8])]
    ctx = DataContext.get_current()
    progress = ctx.enable_progress_bars
    ctx.enable_progress_bars = False
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        X_new, y_new, g_new = generate_with_ray(gen, REQUEST, random_state=3, concurrency=2)
        parts = generate_seeded_with_ray(gen, jobs, concurrency=1, batch_size=4)
    finally:
        ray.shutdown()
        ctx.enable_progress_bars = progress
    assert X_new.dtype == X_ref.dtype and X_new.shape == X_ref.shape
    assert np.abs(X_new.astype(int) - X_ref).max() <= 1
    np.testing.assert_array_equal(y_new, y_ref)
    np.testing.assert_array_equal(g_new, g_ref)
    for (stratum, seeds), part in zip(jobs, parts):
        assert np.abs(part.astype(int) - gen.generate_seeded(stratum, seeds)).max() <= 1
