"""benchmarks/groups_guidance.py: the choice of guidance on the judges, and its results file."""

import pytest


@pytest.fixture
def gg(load_benchmark):
    return load_benchmark("groups_guidance")


def _row(name, label, attribute, cpu):
    return {"method": name, "params": {},
            "metrics": {"minority_label_fidelity": {"mean": label, "std": 0.0},
                        "minority_attribute_fidelity": {"mean": attribute, "std": 0.0},
                        "cpu_s_per_image": {"mean": cpu, "std": 0.0}},
            "per_cell": {"y0_a1": {"label": label, "attribute": attribute}}}


def test_choose_needs_both_factors_then_takes_the_best_label(gg):
    rows = [_row("joint_1.5", 0.68, 1.0, 0.06), _row("joint_5", 0.80, 0.99, 0.06),
            _row("composable_5_1.5", 0.95, 0.10, 0.09),  # the class wins, the colour is lost
            _row("composable_3_3", 0.80, 0.97, 0.09)]    # a tie on label: the cheaper one
    assert gg.choose(rows, 0.95) == "joint_5"
    assert gg.choose(rows, 0.995) == "joint_1.5"
    assert gg.choose(rows, 1.01) is None
    assert gg.setting_name("composable", (5.0, 1.5)) == "composable_5_1.5"
    assert gg.setting_name("joint", 3.0) == "joint_3"


def test_markdown_marks_the_chosen_setting(gg):
    result = {"command": "python x", "date": "d", "git_revision": "abc",
              "machine": {"cpu_cores": 2, "torch_threads": 1, "gpu": None,
                          "load_average_1m_at_end": 1.0}, "versions": {"torch": "2"},
              "config": {"task": "spurious_colour_unseen", "pretrained_generator": "g",
                         "per_cell": 200, "empty_cells": [[0, 1]], "min_attribute": 0.95,
                         "chosen": "joint_5",
                         "judges": {"n_images": 2000, "label_accuracy_test_minority_cells": 0.87,
                                    "attribute_accuracy_test_minority_cells": 1.0}},
              "rows": [_row("joint_1.5", 0.68, 1.0, 0.06), _row("joint_5", 0.8, 0.99, 0.057)]}
    text = gg.markdown(result)
    assert "| **`joint_5`** | 0.800 | 0.990 | y0_a1: 0.80, 0.99 | 57 |" in text
    assert "| `joint_1.5` | 0.680 |" in text
