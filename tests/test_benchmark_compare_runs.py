"""benchmarks/compare_runs.py: pairs two runs' rows and seeds and judges differences by noise."""

import copy
import json

import pytest


@pytest.fixture
def compare_runs(load_benchmark):
    return load_benchmark("compare_runs")


def _metric(values):
    mean = sum(values) / len(values)
    return {"mean": mean, "std": 0.0, "values": list(values)}


def _long_tail_run():
    rows = [
        {"method": "balanced_softmax", "wall_s": 1.0, "metrics": {
            "balanced_accuracy": _metric([0.60, 0.62, 0.64]), "few": _metric([0.4, 0.5, 0.6])}},
        {"method": "synaug_pretrained", "wall_s": 1.0, "metrics": {
            "balanced_accuracy": _metric([0.75, 0.76, 0.77]), "few": _metric([0.7, 0.7, 0.7])},
         "paired_vs_peer": {"mean": 0.14, "std": 0.0, "values": [0.15, 0.14, 0.13],
                            "n_better": 3, "n_seeds": 3}},
    ]
    return {"benchmark": "long_tail", "command": "python benchmarks/long_tail.py",
            "date": "2026-11-24T00:00:00Z", "machine": {"cpu_cores": 2, "gpu": None},
            "versions": {"synaug_learn": "0.1.0"},
            "config": {"peer": "balanced_softmax", "indomain_minutes": 4.0},
            "seeds": [0, 1, 2], "rows": rows}


def test_identical_runs_are_within_noise_with_zero_differences(compare_runs):
    run = _long_tail_run()
    result = compare_runs.compare(run, copy.deepcopy(run))
    assert result["benchmark"] == "reproducibility_long_tail"
    assert result["summary"]["n_compared"] == 4 and result["summary"]["n_within_noise"] == 4
    synaug = result["rows"][1]["metrics"]["balanced_accuracy"]
    assert synaug["delta"] == 0.0 and synaug["per_seed_delta"] == [0.0, 0.0, 0.0]
    assert result["rows"][1]["verdict"] == {"a": (0.14, 3, 3), "b": (0.14, 3, 3)}
    assert result["summary"]["peer"] == ["balanced_softmax", "balanced_softmax"]


def test_noise_is_two_standard_errors_of_the_seed_spread(compare_runs):
    # values 0.60/0.62/0.64: population std 0.01633 in both runs -> 2 * sqrt(2) * 0.01633 / sqrt(3)
    a = _metric([0.60, 0.62, 0.64])
    inside = compare_runs.compare_metric(a, _metric([0.62, 0.64, 0.66]), floor=0.0)
    assert inside["noise_2se"] == pytest.approx(0.02667, abs=1e-4)
    assert inside["delta"] == pytest.approx(0.02) and inside["within_noise"]
    outside = compare_runs.compare_metric(a, _metric([0.63, 0.65, 0.67]), floor=0.0)
    assert outside["delta"] == pytest.approx(0.03) and not outside["within_noise"]
    assert outside["max_abs_per_seed_delta"] == pytest.approx(0.03)


def test_floor_covers_rows_whose_seeds_agree(compare_runs):
    flat = _metric([0.7, 0.7, 0.7])
    small = compare_runs.compare_metric(flat, _metric([0.703, 0.703, 0.703]), floor=0.005)
    assert small["noise_2se"] == pytest.approx(0.0, abs=1e-12) and small["within_noise"]
    large = compare_runs.compare_metric(flat, _metric([0.71, 0.71, 0.71]), floor=0.005)
    assert not large["within_noise"]


def test_shifted_rerun_is_flagged_and_check_fails(compare_runs, tmp_path):
    run_a = _long_tail_run()
    run_b = copy.deepcopy(run_a)
    run_b["rows"][1]["metrics"]["balanced_accuracy"] = _metric([0.70, 0.71, 0.72])
    run_b["rows"].append({"method": "smote", "wall_s": 1.0, "metrics": {}})
    run_b["config"]["indomain_minutes"] = None
    paths = []
    for name, run in (("a", run_a), ("b", run_b)):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(run))
    out = tmp_path / "out"
    assert compare_runs.main([*map(str, paths), "--out", str(out), "--notes", "Why: a seed."]) == 0
    assert (out / "reproducibility_long_tail.md").read_text().endswith("\nWhy: a seed.\n")
    assert compare_runs.main([*map(str, paths), "--out", str(out), "--check"]) == 1
    result = json.loads((out / "reproducibility_long_tail.json").read_text())
    assert result["summary"]["n_within_noise"] == 3 and result["summary"]["n_compared"] == 4
    assert result["summary"]["only_in_b"] == ["`smote`"]
    assert result["config"]["config_differences"] == {"indomain_minutes": [4.0, None]}
    md = (out / "reproducibility_long_tail.md").read_text()
    assert "**3 of 4 compared metrics are within noise.**" in md
    assert "| `synaug_pretrained` | 0.760 → 0.710 | -0.050 (0.013) **✗** |" in md


def test_groups_rows_are_paired_by_task_and_method(compare_runs):
    def run():
        rows = [{"task": task, "method": "erm", "wall_s": 1.0,
                 "metrics": {"worst_group_accuracy": _metric([0.3 + k, 0.4 + k])}}
                for k, task in ((0.0, "spurious_colour"), (0.2, "fairness"))]
        return {**_long_tail_run(), "benchmark": "groups", "seeds": [0, 1], "rows": rows}

    result = compare_runs.compare(run(), run(), name="reproducibility_groups_again")
    assert result["benchmark"] == "reproducibility_groups_again"
    assert "`groups`, committed run (A)" in compare_runs.markdown(result)
    assert [(r["task"], r["method"]) for r in result["rows"]] == [
        ("spurious_colour", "erm"), ("fairness", "erm")]
    assert result["rows"][1]["metrics"]["worst_group_accuracy"]["a"] == pytest.approx(0.55)
    assert "fairness / `erm`" in compare_runs.markdown(result)


def test_config_differences_name_nested_keys(compare_runs):
    a = {"n_max": 300, "tasks": {"fairness": {"steps": 1583, "cells": [1, 2]}}, "quick": False}
    b = {"n_max": 300, "tasks": {"fairness": {"steps": 2000, "cells": [1, 2]}}, "new": 1}
    assert compare_runs.config_differences(a, b) == {
        "new": [None, 1], "quick": [False, None], "tasks.fairness.steps": [1583, 2000]}


def test_mismatched_runs_are_refused(compare_runs, tmp_path):
    run_a = _long_tail_run()
    with pytest.raises(ValueError, match=r"different seeds: \[0, 1, 2\] and \[0, 1\]"):
        compare_runs.compare(run_a, {**run_a, "seeds": [0, 1]})
    with pytest.raises(ValueError, match="run_b is benchmark 'groups'"):
        compare_runs.compare(run_a, {**run_a, "benchmark": "groups"})
    with pytest.raises(SystemExit):
        compare_runs.main([str(tmp_path / "missing.json"), str(tmp_path / "missing.json")])
    assert not (tmp_path / "reproducibility_long_tail.json").exists()
