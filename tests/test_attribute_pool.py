"""scripts/pretrain_attribute_generator.py: the attribute pool's invariants (issue 14, item 3).

The pool must hold no row of the task's minority cells, the attribute must be split evenly
over the other cells of each class, and its rows must be disjoint from every row the group
benchmark's tasks draw."""

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
FASHION_HOME = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def script(load_script):
    return load_script("pretrain_attribute_generator")  # it imports benchmarks' task makers


def test_pool_rows_leave_the_excluded_cells_empty_and_balance_the_rest(script):
    y = np.arange(3000) % 10  # 300 rows per code
    exclude = np.arange(1000, 1400)
    rows, labels, groups, codes = script.attribute_pool_rows(
        y, task_codes=[2, 4], excluded_cells=[(0, 1), (1, 0)], per_class=21, start=1000,
        exclude_rows=exclude, seed=0)
    assert codes[:2] == [2, 4] and sorted(codes) == list(range(10))
    assert np.array_equal(y[rows], np.asarray(codes)[labels])  # labels line up with codes
    assert rows.min() >= 1000 and not np.isin(rows, exclude).any()
    assert len(np.unique(rows)) == len(rows)
    counts = np.zeros((10, 2), int)
    np.add.at(counts, (labels, groups), 1)
    assert counts[0].tolist() == [21, 0] and counts[1].tolist() == [0, 21]
    assert np.abs(counts[2:, 0] - counts[2:, 1]).max() <= 1  # an even split elsewhere
    assert (counts.sum(1) == 21).all()
    again = script.attribute_pool_rows(y, [2, 4], [(0, 1), (1, 0)], 21, 1000, exclude, 0)
    assert all(np.array_equal(a, b) for a, b in zip(again[:3], (rows, labels, groups)))
    with pytest.raises(ValueError, match="only"):
        script.attribute_pool_rows(y, [2, 4], [], 300, 1000, exclude, 0)


@pytest.mark.skipif(not (FASHION_HOME / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Fashion-MNIST files not installed")
@pytest.mark.parametrize("pool", ["spurious_colour", "fairness"])
def test_pool_is_disjoint_from_the_benchmark_and_rendered_as_the_task(script, pool):
    X, labels, groups, built = script.build_pool(pool, per_class=20, seed=0, image_size=8)
    info, rows = built["info"], built["rows"]
    # every row the default groups tasks draw (training, validation, judge) is outside it
    exclude, tasks = script.benchmark_rows(script.benchmark_args())
    assert len(exclude) == 8000 and not np.isin(rows, exclude).any() and rows.min() >= 50_000
    task = tasks[pool]
    assert sorted(map(tuple, info["excluded_cells"])) == sorted(task["minority_cells"])
    for c, g in task["minority_cells"]:
        assert not ((labels == c) & (groups == g)).any()
    assert info["class_names"][:2] == task["classes"]
    # the task's format (its images are 14x14 at the default --image-size; 8x8 asked here)
    assert X.dtype == task["X_train"].dtype == np.uint8
    assert X.shape[1:] == (8, 8) + task["X_train"].shape[3:]
    other = labels >= 2
    assert groups[other].mean() == 0.5
    if pool == "spurious_colour":  # the task's two background colours
        for g, colour in ((0, (191, 0, 0)), (1, (0, 191, 191))):
            pixels = X[groups == g].reshape(-1, 3)
            coloured = pixels[(pixels[:, 0] != pixels[:, 1]) | (pixels[:, 1] != pixels[:, 2])]
            assert {tuple(p) for p in coloured.tolist()} == {colour}
    else:  # washed-out: nothing darker than 96
        assert X[groups == 1].min() >= 96 and X[groups == 0].min() < 96


def test_groups_benchmark_counts_task_rows_in_the_listed_pool(load_benchmark, tmp_path):
    import json
    from types import SimpleNamespace

    load_benchmark("groups")
    import _groups_methods

    task = {"source_rows": {"dataset": "fashion_mnist", "train": np.array([1, 5]),
                            "judge": np.array([9, 11])}}
    overlap = _groups_methods.pretrained_pool_overlap
    (tmp_path / "synaug_generator.json").write_text("{}")  # what makes a generator's folder
    assert overlap(task, SimpleNamespace(pretrained_generator=str(tmp_path))) is None  # unlisted
    (tmp_path / "pool_rows.json").write_text(json.dumps({"rows": [5, 7, 9]}))
    assert overlap(task, SimpleNamespace(pretrained_generator=str(tmp_path))) == 2
    assert overlap(task, SimpleNamespace(pretrained_generator=None)) is None


@pytest.mark.skipif(not (FASHION_HOME / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Fashion-MNIST files not installed")
def test_the_pool_baselines_train_on_the_generators_own_pool(load_benchmark, tmp_path):
    import json
    from types import SimpleNamespace

    groups = load_benchmark("groups")
    import _groups_data
    import _groups_methods

    from synaug_learn.utils import hash_array

    shipped = SimpleNamespace(
        pretrained_generator="synaug_learn/pretrained/fashion-mnist-colour-factorized")
    X, labels = _groups_methods.pretrained_pool(shipped)  # checked against its training hash
    assert X.shape == (6000, 14, 14, 3) and sorted(np.unique(labels)) == list(range(10))
    assert _groups_methods.pretrained_pool(shipped)[0] is X and not X.flags.writeable  # once
    # a small pool of the same kind, then one whose listing no longer matches its hash
    listed = json.loads((ROOT / shipped.pretrained_generator / "pool_rows.json").read_text())
    keep = np.concatenate([np.flatnonzero(np.asarray(listed["labels"]) == c)[:12]
                           for c in range(10)])
    small = {k: np.asarray(listed[k])[keep].tolist() for k in ("rows", "labels", "groups")}
    X_small = X[keep]
    (tmp_path / "synaug_generator.json").write_text("{}")  # what makes a generator's folder
    (tmp_path / "pool_rows.json").write_text(json.dumps(small))
    (tmp_path / "training.json").write_text(json.dumps({
        "attribute_pool": "spurious_colour", "image_shape": [14, 14, 3],
        "training_data_sha256": hash_array(X_small, labels[keep], np.asarray(small["groups"]))}))
    args = SimpleNamespace(pretrained_generator=str(tmp_path), epochs=1, batch_size=32, lr=0.05)
    task = _groups_data.make_task("spurious_colour", groups.build_parser().parse_args([]))
    some = np.random.RandomState(0).choice(len(task["y_train"]), 200, replace=False)
    task = {**task, **{k: task[k][some] for k in ("X_train", "y_train", "a_train")}}
    model, details = _groups_methods.fit_pool_baseline("pool_retrain", task, args, seed=0)
    assert details["n_pool_rows"] == 120
    net = model.estimator_.named_steps["net"]
    assert list(net.classes_) == list(range(10))  # trained on the pool's other classes too
    assert set(np.unique(model.predict(task["X_test"][:300]))) <= {0, 1}  # the task's only
    assert _groups_methods.cannot_run_reason("pool_dfr", {**task, "empty_cells": [(0, 1)]},
                                             args).startswith("cannot run: empty cell (0, 1)")
    assert _groups_methods.cannot_run_reason(
        "pool_retrain", task, SimpleNamespace(pretrained_generator=None)).startswith("skipped")
    small["rows"][0] += 1  # another image than the generator saw
    (tmp_path / "pool_rows.json").write_text(json.dumps(small))
    with pytest.raises(ValueError, match="not the data its generator was trained on"):
        _groups_methods.pretrained_pool(args)


@pytest.mark.skipif(not (FASHION_HOME / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Fashion-MNIST files not installed")
@pytest.mark.parametrize("name, shape", [("fashion-mnist-colour-factorized", (14, 14, 3)),
                                         ("fashion-mnist-washout-factorized", (14, 14))])
def test_each_shipped_attribute_pool_rebuilds_as_its_generator_saw_it(load_benchmark, name,
                                                                       shape):
    """The pool baselines rebuild the pool from ``pool_rows.json``; a rebuild that differs
    from the generator's training data (its SHA-256) raises, so this checks the data too."""
    from types import SimpleNamespace

    load_benchmark("groups")
    import _groups_methods

    listed = SimpleNamespace(pretrained_generator=f"synaug_learn/pretrained/{name}")
    X, labels = _groups_methods.pretrained_pool(listed)
    assert X.shape == (6000, *shape) and np.bincount(labels).tolist() == [600] * 10
    groups = np.asarray(
        _groups_methods.pretrained_file(listed, "pool_rows.json")["groups"])
    assert set(groups[labels == 0]) == {0} and set(groups[labels == 1]) == {1}  # no minority


@pytest.mark.parametrize("pool, folder", [("spurious_colour", "fashion-mnist-colour-factorized"),
                                          ("fairness", "fashion-mnist-washout-factorized")])
def test_print_out_names_the_shipped_folder_the_makefile_reads(script, capsys, pool, folder):
    """``make bench-groups`` asks the script for each task's generator folder."""
    script.main(["--attribute-pool", pool, "--print-out"])
    printed = capsys.readouterr().out.strip()
    assert printed == f"synaug_learn/pretrained/{folder}"
    assert (ROOT / printed / "synaug_generator.json").is_file()
