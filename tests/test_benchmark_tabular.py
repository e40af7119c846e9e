"""benchmarks/tabular.py: ranks, win/tie/loss, dataset selection and the results shape."""

import json

import numpy as np
import pytest


def _part(name, rng, better=0.0):
    """A fake per-dataset part: every sampler's fold scores, 'synaug_tabular' shifted."""
    samplers = ["none", "smote", "synaug_tabular"]
    scores = {}
    for s in samplers:
        shift = better if s == "synaug_tabular" else (0.05 if s == "smote" else 0.0)
        scores[s] = {c: {m: (0.6 + shift + 0.01 * rng.rand(10)).tolist()
                         for m in ("roc_auc", "g_mean", "f1_minority")}
                     for c in ("lr", "knn", "tree", "hgb")}
    return {"name": name, "n": 100, "n_features": 5, "n_minority": 20, "scores": scores,
            "seconds": dict.fromkeys(samplers, 1.0), "failures": dict.fromkeys(samplers, 0)}


def test_ranks_and_win_tie_loss(load_benchmark):
    bench = load_benchmark("tabular")
    rng = np.random.RandomState(0)
    parts = [_part(f"d{i}", rng, better=0.1) for i in range(8)]
    means = bench.per_dataset_means(parts)
    ranks = bench.mean_ranks(means, ("lr", "roc_auc"))
    assert ranks == {"none": 3.0, "smote": 2.0, "synaug_tabular": 1.0}
    v = bench.versus(means["synaug_tabular"][("lr", "roc_auc")], means["smote"][("lr", "roc_auc")])
    assert (v["win"], v["tie"], v["loss"]) == (8, 0, 0) and v["wilcoxon_p"] < 0.01
    assert v["mean_difference"] == pytest.approx(0.05, abs=0.01)


def test_results_shape_and_markdown(load_benchmark, tmp_path):
    bench = load_benchmark("tabular")
    rng = np.random.RandomState(0)
    parts = [_part(f"d{i}", rng) for i in range(6)]
    result = bench.build_result(parts, {"tiny": "4 minority rows"}, None, [])
    for key in ("benchmark", "command", "date", "machine", "versions", "config", "seeds", "rows"):
        assert key in result
    row = {r["method"]: r for r in result["rows"]}["synaug_tabular"]
    assert row["metrics"]["roc_auc/lr"]["vs_smote"]["loss"] == 6
    bench.write_results(result, bench.markdown, tmp_path)
    text = (tmp_path / "tabular.md").read_text()
    assert "Mean rank: roc_auc" in text and "tiny: 4 minority rows" in text
    assert json.loads((tmp_path / "tabular.json").read_text())["config"]["n_datasets"] == 6


def test_selection_leaves_out_small_minorities_and_counts(load_benchmark):
    bench = load_benchmark("tabular")
    rows = [("a", None, 100, 5, 20), ("b", None, 120, 5, 6), ("c", None, 150, 5, 30),
            ("d", None, 200, 5, 40)]
    chosen, left_out = bench.select(rows, {"broken": "loader fails"}, max_datasets=2)
    assert [name for name, _ in chosen] == ["a", "c"]
    assert "minority rows" in left_out["b"] and "beyond the 2" in left_out["d"]
    assert left_out["broken"] == "loader fails"
