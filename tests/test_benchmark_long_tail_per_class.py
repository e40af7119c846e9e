"""Fast tests of benchmarks/long_tail_per_class.py: rows, paired differences, reproduction flag,
markdown. No network is trained here."""

import numpy as np
import pytest


@pytest.fixture
def pc(load_benchmark):
    return load_benchmark("long_tail_per_class")


NAMES = ["T-shirt/top", "Trouser", "Bag"]


def _record(recalls, confusion, ba):
    return {"per_class": dict(enumerate(recalls)), "confusion": confusion,
            "metrics": {"balanced_accuracy": ba}, "fit_counts": [40, 10, 2], "wall_s": 1.0}


def _records():
    eye = (np.eye(3) * 10).astype(int).tolist()
    bag_as_shirt = [[10, 0, 0], [0, 10, 0], [6, 1, 3]]
    return {"synaug": [_record([1.0, 1.0, 0.3], bag_as_shirt, 0.7),
                       _record([1.0, 0.8, 0.5], bag_as_shirt, 0.7666666666666667)],
            "real_fill": [_record([1.0, 1.0, 0.9], eye, 0.9666666666666667),
                          _record([0.9, 1.0, 0.7], eye, 0.8666666666666667)]}


def _result(pc, stored):
    rows = pc.summarize_rows(_records(), stored, NAMES)
    return {"rows": rows, "paired": pc.paired_by_class(rows), "seeds": [3, 4],
            "config": {"run": "long_tail_x", "class_names": NAMES}, "command": "python x",
            "machine": {}, "date": "d", "git": "abc"}


def test_rows_hold_per_class_recall_and_the_paired_difference(pc):
    stored = {"synaug": [0.7, 0.7666666666666667], "real_fill": [0.9666666666666667,
                                                                  0.8666666666666667]}
    result = _result(pc, stored)
    synaug = result["rows"][0]
    assert synaug["metrics"]["recall_2"]["mean"] == pytest.approx(0.4)
    assert synaug["metrics"]["recall_2"]["class_name"] == "Bag"
    assert synaug["confusion_mean"][2] == [6.0, 1.0, 3.0]
    bag = result["paired"][2]  # synaug - real_fill: -0.6 and -0.2
    assert bag["mean"] == pytest.approx(-0.4) and bag["std"] == pytest.approx(0.2)
    assert (bag["n_better"], bag["n_seeds"]) == (0, 2)
    assert result["paired"][0]["n_better"] == 1  # 1.0 vs 0.9 on the second seed
    assert all(r["reproduces_stored"] for r in result["rows"])


def test_a_refit_that_differs_from_the_stored_run_is_flagged(pc):
    stored = {"synaug": [0.7, 0.77], "real_fill": [0.9666666666666667, 0.8666666666666667]}
    rows = _result(pc, stored)["rows"]
    assert [r["reproduces_stored"] for r in rows] == [False, True]
    assert "2 of 4 re-fits reproduce" in pc.markdown(_result(pc, stored))


def test_markdown_lists_what_the_worst_class_is_taken_for(pc):
    stored = {"synaug": [0.7, 0.7666666666666667], "real_fill": [0.9666666666666667,
                                                                  0.8666666666666667]}
    text = pc.markdown(_result(pc, stored))
    assert "| Bag | 2 | 0.400 ± 0.100 | 0.800 ± 0.100 | -0.400 ± 0.200 (0/2) |" in text
    assert "- **Bag** (2 fit rows): `synaug` T-shirt/top 6.0, Trouser 1.0" in text
    assert "4 of 4 re-fits reproduce" in text


def test_a_row_the_run_lacks_is_refused_before_any_work(pc):
    with pytest.raises(SystemExit, match="'oracle' is not a row of 'long_tail_x'"):
        pc.stored_values({"benchmark": "long_tail_x", "rows": [{"method": "ce"}]}, "oracle")
