"""Smoke tests of benchmarks/groups.py: a tiny configuration writes results of the right shape."""

import json
from pathlib import Path

import numpy as np
import pytest

FASHION_HOME = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def groups_module(load_benchmark):
    return load_benchmark("groups")


def _dataset_args():
    has_fashion = (FASHION_HOME / "train-images-idx3-ubyte.gz").is_file()
    return [] if has_fashion else ["--dataset", "digits"]


def _check_shape(result, out, methods, tasks):
    on_disk = json.loads((out / "groups.json").read_text())
    assert on_disk == json.loads(json.dumps(result))
    for key in ("benchmark", "command", "date", "machine", "versions", "config", "seeds", "rows"):
        assert key in on_disk, key
    assert on_disk["benchmark"] == "groups"
    assert {"cpu_cores", "gpu"} <= set(on_disk["machine"])
    assert {"synaug_learn", "torch", "diffusers"} <= set(on_disk["versions"])
    assert set(on_disk["config"]["tasks"]) == set(tasks)
    assert on_disk["seeds"] == [0]
    assert len(on_disk["rows"]) == len(methods) * len(tasks)
    for row in on_disk["rows"]:
        assert row["task"] in tasks and row["method"] in methods
        assert isinstance(row["wall_s"], float)
        metrics = row["metrics"]
        for name in ("worst_group_accuracy", "mean_accuracy", "equalized_odds_difference",
                     "balanced_accuracy"):
            assert {"mean", "std"} <= set(metrics[name])
            assert 0.0 <= metrics[name]["mean"] <= 1.0
        if row["method"] != "erm":
            delta = metrics["delta_worst_group_accuracy_vs_erm"]
            assert {"mean", "std", "n_better", "n_seeds"} <= set(delta)
        if row["method"].startswith("synaug_group"):
            assert np.isfinite(metrics["minority_novelty"]["mean"])
    md = (out / "groups.md").read_text()
    assert "| method | worst-group acc" in md
    assert "## What it shows" in md
    for task in tasks:
        assert f"## Task `{task}`" in md


def test_groups_quick_writes_results(groups_module, tmp_path):
    # about 10 s of CPU time (no timing assert: the machine is shared)
    result = groups_module.main(
        ["--quick", "--seeds", "1", "--out", tmp_path, *_dataset_args()])
    _check_shape(result, tmp_path, groups_module.METHODS, ["spurious_colour", "fairness"])
    spurious = [r for r in result["rows"] if r["task"] == "spurious_colour"]
    assert any(r.get("synthetic_report_seed0") for r in spurious)
    cells = result["config"]["tasks"]["spurious_colour"]["train_cells"]
    # the correlated cells dominate the training set
    assert cells["y0_a0"] > cells["y0_a1"] and cells["y1_a1"] > cells["y1_a0"]

    # --render rewrites the markdown from the json, with hand-written notes
    path = tmp_path / "groups.json"
    saved = json.loads(path.read_text())
    saved["notes"] = "A hand-written reading of the numbers."
    path.write_text(json.dumps(saved))
    groups_module.main(["--render", "--out", tmp_path])
    assert "A hand-written reading of the numbers." in (tmp_path / "groups.md").read_text()


def test_groups_utkface_folder(groups_module, tmp_path):
    from PIL import Image

    rng = np.random.RandomState(0)
    faces = tmp_path / "utk"
    faces.mkdir()
    for i in range(96):
        gender, white = i % 2, (i // 2) % 3 == 0  # race correlated with nothing; 1/3 White
        race = 0 if white else 1 + i % 4
        pixels = rng.randint(0, 255, (12, 12, 3)).astype(np.uint8)
        Image.fromarray(pixels).save(faces / f"{20 + i % 50}_{gender}_{race}_2017{i:08d}.jpg")
    methods = ["erm", "dfr", "synaug_group_jitter"]
    result = groups_module.main([
        "--quick", "--seeds", "1", "--tasks", "fairness", "--utkface", faces,
        "--utkface-size", 8, "--methods", *methods, "--out", tmp_path / "out",
    ])
    _check_shape(result, tmp_path / "out", methods, ["fairness"])
    assert result["config"]["dataset"] == "utkface"
    assert "UTKFace" in result["config"]["tasks"]["fairness"]["description"]
