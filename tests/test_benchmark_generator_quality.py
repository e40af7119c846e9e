"""Smoke tests of benchmarks/generator_quality.py on tiny budgets (a few seconds)."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "generator_quality.py"


@pytest.fixture(scope="module")
def gq():
    spec = importlib.util.spec_from_file_location("generator_quality", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_args(gq, tmp_path, *extra):
    return gq.parse_args([
        "--out", str(tmp_path), "--max-steps", "3", "--blocks", "16", "32",
        "--n-per-class", "2", "--clf-epochs-digits", "1", "--steps", "2",
        "--speed-batch", "4", "--speed-repeats", "1", "--speed-sweep", "2", "4",
        "--fashion-n-per-class", "1", "--clf-epochs-fashion", "1", "--fashion-clf-rows", "300",
        *extra,
    ])


class FakeClassifier:
    """Predicts class 0 for everything."""

    def predict(self, X):
        return np.zeros(len(X), dtype=int)


def test_evaluate_samples_keys_and_shapes(gq):
    rng = np.random.RandomState(0)
    X_tr = rng.randint(0, 17, (30, 8, 8)).astype(float)
    y_tr = np.repeat([0, 1, 2], 10)
    X_ho = rng.randint(0, 17, (15, 8, 8)).astype(float)
    y_ho = np.repeat([0, 1, 2], 5)
    X_syn = np.concatenate([X_tr[:4], rng.randint(0, 17, (8, 8, 8)).astype(float)])
    y_syn = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    ev = gq.evaluate_samples(X_syn, y_syn, classifier=FakeClassifier(),
                             references={"a": (X_tr, y_tr), "b": (X_tr[::2], y_tr[::2])},
                             X_heldout=X_ho, y_heldout=y_ho)
    pc = ev["per_class"]
    expected = {"fidelity"} | {f"{m}_vs_{r}" for m in ("novelty", "diversity",
                                                         "nn_dist_generated", "nn_dist_heldout")
                               for r in ("a", "b")}
    assert set(pc) == expected
    assert pc["fidelity"] == {0: 1.0, 1: 0.0, 2: 0.0}
    assert set(pc["novelty_vs_a"]) == {0, 1, 2}
    assert pc["novelty_vs_a"][0] == 0.0 and 0 in ev["copying"]["a"]  # exact copies
    assert not np.isfinite(pc["novelty_vs_b"][2]) or pc["novelty_vs_b"][2] >= 0
    summary = gq.summarise(pc["novelty_vs_a"], few=[2])
    assert set(summary) == {"mean", "few", "min", "per_class"}
    assert set(summary["per_class"]) == {"0", "1", "2"}


def test_digits_end_to_end_writes_benchmarks_shape(gq, tmp_path):
    args = tiny_args(gq, tmp_path, "--datasets", "digits")
    gq.set_threads(1)
    part = gq.run_digits(args, log=lambda msg: None)
    methods = [r["method"] for r in part["rows"]]
    assert methods == ["synaug_indomain", "synaug_pretrained", "control_copies_resized",
                       "real_test_images"]
    pre = part["rows"][1]["metrics"]
    for key in ("fidelity", "novelty_vs_trained_rows", "novelty_vs_long_tailed",
                "diversity_vs_long_tailed", "images_per_s_guided", "efficiency_unguided"):
        assert "mean" in pre[key], key
    assert len(pre["fidelity"]["per_class"]) == 10
    assert "unit" in pre["images_per_s_guided"] and pre["images_per_s_guided"]["mean"] > 0

    result = gq.build_result({"digits_lt50": part}, command="python x.py", seed=0)
    json_path, md_path = gq.write_results(result, gq.markdown, tmp_path)
    data = json.loads(json_path.read_text())
    assert {"benchmark", "command", "date", "machine", "versions", "config", "seeds",
            "rows"} <= set(data)
    assert data["benchmark"] == "generator_quality"
    assert {"cpu_cores", "gpu"} <= set(data["machine"])
    assert {"synaug_learn", "torch", "diffusers"} <= set(data["versions"])
    assert data["seeds"] == [0]
    for row in data["rows"]:
        assert isinstance(row["method"], str) and row["dataset"] == "digits_lt50"
        for value in row["metrics"].values():
            assert "mean" in value
    md = md_path.read_text()
    assert "| class | n LT |" in md and "### What it shows" in md

    # A later run of another dataset keeps these rows.
    other = {"rows": [{"method": "m", "dataset": "other", "metrics": {"x": {"mean": 1.0}}}],
             "config": {}}
    merged = gq.build_result({"other": other}, command="c", seed=0, previous=data)
    assert [r["dataset"] for r in merged["rows"]].count("digits_lt50") == 4
    assert set(merged["config"]["datasets"]) == {"digits_lt50", "other"}


def test_model_card_from_a_tiny_generator(gq, tmp_path):
    from synaug_learn.datasets import load_fashion_mnist
    from synaug_learn.generators import ConditionalDiffusionGenerator

    try:
        load_fashion_mnist(subset="test")
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST files not installed")
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, (20, 28, 28)).astype(np.uint8)
    y = np.arange(20) % 10
    folder = tmp_path / "tiny-fashion"
    gen = ConditionalDiffusionGenerator(block_out_channels=(16, 32), max_steps=2,
                                        random_state=0).fit(X, y)
    gen.save_pretrained(folder)
    (folder / "training.json").write_text(json.dumps({"n_images": 9000, "steps": 2}))
    args = tiny_args(gq, tmp_path, "--model-card", str(folder))
    gq.set_threads(1)
    part = gq.run_fashion(args, folder, log=lambda msg: None)
    assert part["config"]["pool"]["matches_training_data_sha256"] is False
    result = gq.build_result({"fashion_mnist": part}, command="c", seed=0)
    card = gq.model_card(result, folder)
    assert "## Intended use" in card and "## Limitations" in card and "| 9 | Ankle boot |" in card
    assert "fashion_mnist" in gq.markdown(result) or "Fashion-MNIST" in gq.markdown(result)
