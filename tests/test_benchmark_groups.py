"""benchmarks/groups.py: the pure helpers (unseen-cell split, validation split, JTT's up-sampling)
and a tiny run that writes results of the right shape, resumes and merges."""

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

FASHION_HOME = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def groups_module(load_benchmark):
    return load_benchmark("groups")


@pytest.fixture
def data_module(groups_module):
    import _groups_data

    return _groups_data


def _dataset_args():
    has_fashion = (FASHION_HOME / "train-images-idx3-ubyte.gz").is_file()
    return [] if has_fashion else ["--dataset", "digits"]


def _toy_task(rng):
    y = np.r_[np.zeros(60, int), np.ones(60, int)]
    a = np.r_[np.zeros(54, int), np.ones(6, int), np.zeros(4, int), np.ones(56, int)]
    X = rng.randint(0, 255, (120, 8, 8)).astype(np.uint8)
    return {"X_train": X, "y_train": y, "a_train": a, "X_test": X[:10], "y_test": y[:10],
            "a_test": a[:10], "description": "toy"}


def test_drop_cells_removes_exactly_the_minority_training_rows(data_module):
    task = _toy_task(np.random.RandomState(0))
    cells = data_module.minority_cells(task["y_train"], task["a_train"])
    assert cells == [(0, 1), (1, 0)]
    unseen = data_module.drop_cells(task, cells)
    counts = data_module.cell_counts(unseen["y_train"], unseen["a_train"])
    assert counts == {(0, 0): 54, (0, 1): 0, (1, 0): 0, (1, 1): 56}
    assert unseen["empty_cells"] == [(0, 1), (1, 0)]
    # the kept rows are the original rows, unchanged and in order; the test set is untouched
    keep = ~data_module.in_cells(task["y_train"], task["a_train"], cells)
    np.testing.assert_array_equal(unseen["X_train"], task["X_train"][keep])
    assert unseen["X_test"] is task["X_test"]


def test_validation_split_is_stratified_by_cell_and_fixed(data_module):
    task = _toy_task(np.random.RandomState(0))
    y, a = task["y_train"], task["a_train"]
    fit_idx, val_idx = data_module.validation_split(y, a, 0.25, seed=0)
    assert len(np.intersect1d(fit_idx, val_idx)) == 0 and len(fit_idx) + len(val_idx) == len(y)
    val = data_module.cell_counts(y[val_idx], a[val_idx])
    assert val == {(0, 0): 14, (0, 1): 1, (1, 0): 1, (1, 1): 14}  # a quarter of each cell
    again = data_module.validation_split(y, a, 0.25, seed=0)
    np.testing.assert_array_equal(again[1], val_idx)


def test_jtt_indices_upsample_errors(data_module):
    errors = np.array([False, True, False, True, True])
    idx = data_module.jtt_indices(errors, upweight=4)
    assert len(idx) == 5 + 3 * 3
    np.testing.assert_array_equal(np.bincount(idx), [1, 4, 1, 4, 4])
    np.testing.assert_array_equal(data_module.jtt_indices(errors, 1), np.arange(5))
    with pytest.raises(ValueError):
        data_module.jtt_indices(errors, 0)


def test_seed_and_method_options(groups_module):
    assert groups_module.parse_seeds("3") == [0, 1, 2]
    assert groups_module.parse_seeds("3:5") == [3, 4]
    assert groups_module.parse_seeds("0,4") == [0, 4]
    assert groups_module.resolve_methods(["synaug_factorized_*", "erm"]) == [
        "erm", "synaug_factorized_fill", "synaug_factorized_share",
        "synaug_factorized_two_stage", "synaug_factorized_mixup", "synaug_factorized_dfr",
        "synaug_factorized_regen", "synaug_factorized_regen_dfr",
        "synaug_factorized_regen_share", "synaug_factorized_regen_share_dfr",
        "synaug_factorized_regen_exact", "synaug_factorized_regen_exact_dfr",
        "synaug_factorized_regen_adabn", "synaug_factorized_regen_adabn_dfr",
        "synaug_factorized_regen_exact_adabn_dfr"]
    with pytest.raises(SystemExit):
        groups_module.resolve_methods(["synaug_nope"])


def test_fill_kinds_and_the_cell_matched_detector_rows(groups_module):
    from _groups_methods import cell_matched, fill_kind, make_sampler

    assert [fill_kind(f"synaug_pretrained_{v}") for v in (
        "fill", "dfr", "share", "regen", "regen_dfr", "regen_share", "regen_share_dfr",
        "regen_exact_dfr", "regen_adabn", "regen_exact_adabn_dfr")] == [
        "fill", "fill", "share", "regen", "regen", "regen_share", "regen_share", "regen_exact",
        "regen", "regen_exact"]
    args = argparse.Namespace(synthetic_share=0.5)
    samplers = {kind: make_sampler(None, 0, "bank", kind, args).get_params()
                for kind in ("fill", "share", "regen_share", "regen_exact")}
    assert [(p["synthetic_share"], p["share_mode"], p["regenerate_real"])
            for p in samplers.values()] == [
        (None, "at_least", None), (0.5, "at_least", None), (0.5, "at_least", 0.5),
        (0.5, "exact", 0.5)]
    # cells (y, g): (0, 0) 50 real; (0, 1) 5 real + 45 generated; (1, 0) 4 real + 46 generated
    y = np.r_[np.zeros(100, int), np.ones(50, int)]
    g = np.r_[np.zeros(50, int), np.ones(50, int), np.zeros(50, int)]
    mask = np.r_[np.zeros(55, bool), np.ones(45, bool), np.zeros(4, bool), np.ones(46, bool)]
    real, gen = cell_matched(y, g, mask, seed=0, cap=1000)
    assert not mask[real].any() and mask[gen].all()
    for rows in (real, gen):  # as many real as generated rows of each cell, none repeated
        assert len(set(rows.tolist())) == len(rows) == 9
        assert sorted(zip(y[rows].tolist(), g[rows].tolist())) == [(0, 1)] * 5 + [(1, 0)] * 4
    real, gen = cell_matched(y, g, mask, seed=0, cap=6)  # capped, in proportion
    assert len(real) == len(gen) <= 6
    assert sorted(zip(y[gen].tolist(), g[gen].tolist())) == sorted(
        zip(y[real].tolist(), g[real].tolist()))


METHODS = ["erm", "group_dro", "jtt", "synaug_joint_fill", "synaug_factorized_share",
           "synaug_pretrained_fill"]
TASKS = ["spurious_colour", "spurious_colour_unseen"]


def _check_shape(result, out):
    on_disk = json.loads((out / "groups.json").read_text())
    assert on_disk == json.loads(json.dumps(result))
    for key in ("benchmark", "command", "date", "machine", "versions", "config", "seeds", "rows"):
        assert key in on_disk, key
    assert set(on_disk["config"]["tasks"]) == set(TASKS)
    assert len(on_disk["rows"]) == len(METHODS) * len(TASKS)
    rows = {(r["task"], r["method"]): r for r in on_disk["rows"]}
    for (_task, method), row in rows.items():
        if row["status"] != "ok":
            assert row["reason"].startswith(("cannot run", "skipped")), row["reason"]
            continue
        names = ["worst_group_accuracy", "val_worst_group_accuracy", "mean_accuracy"]
        if method.startswith("synaug"):
            names += ["detector_overall", "generation_wall_s"]
        for name in names:  # one value a seed, summarised as the mean
            metric = row["metrics"][name]
            assert len(metric["values"]) == len(on_disk["seeds"]), (method, name)
            assert metric["mean"] == pytest.approx(np.mean(metric["values"]))
        # the worst group's accuracy is never above the mean of the group accuracies
        assert row["metrics"]["worst_group_accuracy"]["mean"] <= row["metrics"][
            "mean_accuracy"]["mean"] + 1e-12
    # where a method cannot run it says why, in the table too
    assert rows[("spurious_colour_unseen", "group_dro")]["reason"].startswith(
        "cannot run: empty cell (0, 1), (1, 0)")
    assert "can_compose" in rows[("spurious_colour_unseen", "synaug_joint_fill")]["reason"]
    assert rows[("spurious_colour_unseen", "synaug_factorized_share")]["status"] == "ok"
    assert rows[("spurious_colour", "synaug_pretrained_fill")]["status"] == "skipped"
    assert on_disk["config"]["tasks"]["spurious_colour_unseen"]["train_cells"]["y0_a1"] == 0
    assert on_disk["config"]["tasks"]["spurious_colour_unseen"]["test_cells"]["y0_a1"] > 0
    assert on_disk["config"]["selected_on_validation"]["spurious_colour"].startswith("synaug")
    # the unseen task's validation has no rows of the empty cells: ranked on the full task's
    assert "task with every cell" in on_disk["config"]["selected_by"]["spurious_colour_unseen"]
    assert "task with every cell" not in on_disk["config"]["selected_by"]["spurious_colour"]
    md = (out / "groups.md").read_text()
    assert "cannot run: empty cell (0, 1), (1, 0)" in md and "## What it shows" in md


def test_groups_quick_runs_resumes_and_merges(groups_module, tmp_path):
    # about 15 s of CPU time (no timing assert: the machine is shared)
    common = ["--quick", "--tasks", *TASKS, "--methods", *METHODS, "--work", tmp_path / "w",
              *_dataset_args()]
    parts = [groups_module.main([*common, "--seeds", s, "--out", tmp_path / s.replace(":", "")])
             for s in ("0:1", "1:2")]
    _check_shape(parts[0], tmp_path / "01")
    merged = groups_module.main(["--merge", tmp_path / "01" / "groups.json",
                                 tmp_path / "12" / "groups.json", "--out", tmp_path / "m"])
    assert merged["seeds"] == [0, 1]
    assert merged["git"] == [parts[0]["versions"]["git"]] == [parts[1]["versions"]["git"]]
    # a run of both seeds reuses every stored result: the same rows as the merged pieces
    whole = groups_module.main([*common, "--seeds", "2", "--out", tmp_path / "all"])
    assert whole["rows"] == merged["rows"]
    # the judges were trained in the first piece only; the resumed run still reports them
    assert whole["config"]["tasks"]["spurious_colour"]["judges"] == merged["config"]["tasks"][
        "spurious_colour"]["judges"]
    assert whole["config"]["selected_on_validation"] == merged["config"][
        "selected_on_validation"]

    path = tmp_path / "all" / "groups.json"
    saved = json.loads(path.read_text())
    saved["notes"] = "A hand-written reading of the numbers."
    path.write_text(json.dumps(saved))
    saved["config"].pop("selected_within_detector_goal")  # as a file written before it was
    path.write_text(json.dumps(saved))
    rendered = groups_module.main(["--render", "--out", tmp_path / "all"])
    assert "A hand-written reading of the numbers." in (tmp_path / "all" / "groups.md").read_text()
    # the render computes the rows and choices anew from the stored records
    assert rendered["rows"] == whole["rows"]
    assert json.loads(path.read_text())["config"]["selected_within_detector_goal"] == whole[
        "config"]["selected_within_detector_goal"]
    # a results file renamed after its run (its "benchmark" is still "groups") is rewritten
    # under its own name, not over the run's
    path.rename(tmp_path / "all" / "groups_probe.json")
    (tmp_path / "all" / "groups.md").unlink()
    groups_module.main(["--render", "--name", "groups_probe", "--out", tmp_path / "all"])
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["groups_probe.json",
                                                                    "groups_probe.md"]


def _row(method, val, detectors=None):
    metrics = {"val_worst_group_accuracy": {"mean": val, "std": 0.0},
               "val_mean_accuracy": {"mean": 0.5, "std": 0.0}}
    for key, value in zip(("detector_overall", "detector_overall_cnn"), detectors or ()):
        metrics[key] = {"mean": value}
    return {"method": method, "status": "ok", "metrics": metrics}


def test_choice_within_the_detector_goal(groups_module):
    import _groups_report as report

    rows = [_row("erm", 0.90), _row("synaug_pretrained_dfr", 0.74, (0.80, 0.96)),
            _row("synaug_pretrained_regen_exact_dfr", 0.72, (0.52, 0.55)),
            _row("synaug_pretrained_regen_exact", 0.07, (0.52, 0.55))]
    assert report.choose(rows)[2]["method"] == "synaug_pretrained_dfr"
    assert report.choose_within_detector_goal(rows, {})["method"] == (
        "synaug_pretrained_regen_exact_dfr")
    # the higher of the two detectors counts
    rows[2]["metrics"]["detector_overall_cnn"]["mean"] = 0.61
    assert report.choose_within_detector_goal(rows, {})["method"] == (
        "synaug_pretrained_regen_exact")
    # redrawn from the first step (regenerate_real=1.0), every row of a regen fill is generated
    assert report.choose_within_detector_goal(rows, {"regen_strength": 1.0})["method"] == (
        "synaug_pretrained_regen_exact_dfr")
    assert not report.all_generated("synaug_pretrained_dfr", {"regen_strength": 1.0})
    assert not report.all_generated("synaug_pretrained_regen_dfr", {"regen_strength": 0.7})
    assert report.choose_within_detector_goal(rows[:2], {}) is None


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
    methods = ["erm", "dfr", "synaug_jitter_fill"]
    result = groups_module.main([
        "--quick", "--seeds", "1", "--tasks", "fairness", "--utkface", faces,
        "--utkface-size", 8, "--methods", *methods, "--out", tmp_path / "out",
        "--work", tmp_path / "w",
    ])
    assert [r["method"] for r in result["rows"]] == methods
    assert all(r["status"] == "ok" for r in result["rows"]), result["rows"]
    assert "UTKFace" in result["config"]["tasks"]["fairness"]["description"]


def test_pretrained_guidance_keys_its_own_rows_and_merges_only_alike(groups_module, tmp_path):
    import _groups_methods

    args = groups_module.build_parser().parse_args(["--pretrained-generator", "gen"])
    assert _groups_methods.pretrained_guidance(args) == {}
    plain = groups_module.part_name(args, "fill__pretrained__fill__seed0", True)
    args.pretrained_guidance_rule, args.pretrained_guidance_scale = "composable", [3.0, 1.5]
    assert _groups_methods.pretrained_guidance(args) == {"guidance_rule": "composable",
                                                         "guidance_scale": (3.0, 1.5)}
    guided = groups_module.part_name(args, "fill__pretrained__fill__seed0", True)
    assert guided != plain and guided.startswith("fill__pretrained__fill__seed0@")
    assert groups_module.part_name(args, "erm__seed0", False) == "erm__seed0"
    # the shared settings (and so the work folder of the baselines) do not change
    settings = groups_module.settings(args)
    assert groups_module.without_pretrained(settings) == groups_module.without_pretrained(
        groups_module.settings(groups_module.build_parser().parse_args([])))
    # pieces of one task sampled with different guidance are not merged
    base = {"config": {"settings": settings, "tasks": {"spurious_colour": {}}}, "runs": [],
            "fills": [], "total_wall_s": 1.0}
    other = json.loads(json.dumps(base))
    other["config"]["settings"]["pretrained_guidance_scale"] = [5.0]
    for name, r in (("a", base), ("b", other)):
        (tmp_path / f"{name}.json").write_text(json.dumps(r))
    with pytest.raises(SystemExit, match=r"different pretrained generators .*spurious_colour"):
        groups_module.merge([tmp_path / "a.json", tmp_path / "b.json"], tmp_path, [])


def test_merge_keeps_one_pretrained_generator_per_task(groups_module):
    """Each attribute has its own pretrained generator: pieces of other tasks may name others,
    and the merged file records which one each task used (older pieces name it in their
    settings only)."""
    settings = groups_module.settings(groups_module.build_parser().parse_args([]))
    # a later option at the value earlier pieces used implicitly leaves their settings as they
    # were (so they still merge); another value is recorded
    assert "regen_strength" not in settings
    assert groups_module.settings(groups_module.build_parser().parse_args(
        ["--regen-strength", "1.0"]))["regen_strength"] == 1.0

    def piece(tasks, generator, per_task):
        s = {**settings, "pretrained_generator": generator}
        tc = {t: ({"pretrained": {**dict.fromkeys(groups_module.PRETRAINED_KEYS),
                                  "pretrained_generator": generator}} if per_task else {})
              for t in tasks}
        return {"config": {"settings": s, "tasks": tc}}

    colour = piece(["spurious_colour", "spurious_colour_unseen"], "colour", per_task=False)
    washout = piece(["fairness_unseen"], "washout", per_task=True)
    plain = piece(["fairness", "fairness_unseen"], None, per_task=False)
    got = groups_module.pretrained_by_task([colour, washout, plain])
    assert {t: u["pretrained_generator"] for t, u in got.items()} == {
        "spurious_colour": "colour", "spurious_colour_unseen": "colour",
        "fairness_unseen": "washout"}
    with pytest.raises(SystemExit, match="fairness_unseen"):
        groups_module.pretrained_by_task([washout, piece(["fairness_unseen"], "other", True)])


def _result(settings, rows, task="spurious_colour"):
    for r in rows:
        r.update(task=task, seeds=[0, 1, 2, 3, 4])
        r["metrics"]["worst_group_accuracy"] = {"mean": 0.7, "std": 0.0}
    return {"config": {"settings": settings, "tasks": {task: {}},
                       "reference": {task: {"method": "group_dro"}}},
            "seeds": [0, 1, 2, 3, 4], "rows": rows}


def test_select_ranks_the_recipes_of_several_files_together(groups_module, tmp_path):
    settings = groups_module.settings(groups_module.build_parser().parse_args([]))
    plain = _result(settings, [_row("erm", 0.9), _row("synaug_pretrained_dfr", 0.74, (0.8, 0.96)),
                               _row("synaug_pretrained_regen_exact_dfr", 0.74, (0.6, 0.61))])
    strong = _result({**settings, "regen_strength": 0.7},
                     [_row("synaug_pretrained_regen_exact_dfr", 0.72, (0.52, 0.55)),
                      _row("synaug_pretrained_regen_exact", 0.73, (0.52, 0.55))])
    strong["rows"][1]["seeds"] = [0, 1, 2]  # fewer seeds: left out
    again = json.loads(json.dumps(plain))  # a later file that read the same runs back
    paths = []
    for name, r in (("plain", plain), ("strong", strong), ("again", again)):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(r))
    result = groups_module.main(["--select", *paths, "--out", tmp_path, "--name", "sel"])
    c = result["config"]
    # one row per recipe and run, ranked together: the same method at another strength is
    # another recipe, the same runs read back by a later file are not; ties on worst-group go
    # to validation mean accuracy (equal here: the first)
    assert [(r["source"], r["method"]) for r in result["rows"]] == [
        ("plain", "synaug_pretrained_dfr"), ("plain", "synaug_pretrained_regen_exact_dfr"),
        ("strong", "synaug_pretrained_regen_exact_dfr")]
    assert c["selected_on_validation"]["spurious_colour"] == {
        "source": "plain", "method": "synaug_pretrained_dfr"}
    assert c["selected_within_detector_goal"]["spurious_colour"] == {
        "source": "strong", "method": "synaug_pretrained_regen_exact_dfr"}
    assert result["rows"][2]["settings"] == "regenerate_real=0.7"
    md = (tmp_path / "sel.md").read_text()
    assert "detector 0.550 (goal <= 0.60: met)" in md
    # files of other data or training settings are not ranked together
    plain["config"]["settings"]["epochs"] += 1
    paths[0].write_text(json.dumps(plain))
    with pytest.raises(SystemExit, match="other data or training settings"):
        groups_module.main(["--select", *paths, "--out", tmp_path, "--name", "sel"])
