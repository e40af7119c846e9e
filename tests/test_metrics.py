"""Tests for synaug_learn.metrics against hand-computed values on tiny arrays."""

import doctest
import math

import numpy as np
import pytest
from fairlearn import metrics as fl
from sklearn.metrics import balanced_accuracy_score

import synaug_learn.metrics
from synaug_learn.metrics import (
    demographic_parity_difference,
    equalized_odds_difference,
    group_accuracy,
    mean_group_accuracy,
    per_class_accuracy,
    shot_accuracy,
    worst_group_accuracy,
)


def test_per_class_accuracy():
    y_true = ["a", "a", "a", "a", "b", "b", "c"]
    y_pred = ["a", "a", "b", "c", "b", "a", "a"]
    assert per_class_accuracy(y_true, y_pred) == {"a": 0.5, "b": 0.5, "c": 0.0}
    out = per_class_accuracy(y_true, y_pred, labels=["c", "z"])
    assert list(out) == ["c", "z"]
    assert out["c"] == 0.0 and math.isnan(out["z"])
    keys = list(per_class_accuracy(np.array([3, 1]), np.array([3, 3])))
    assert keys == [1, 3] and all(type(k) is int for k in keys)


def test_per_class_accuracy_errors():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        per_class_accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="empty"):
        per_class_accuracy([], [])


def test_shot_accuracy_buckets_and_boundaries():
    # Class: training count -> bucket (many > 100, few < 20, medium otherwise).
    counts = {0: 101, 1: 100, 2: 20, 3: 19, 4: 500}
    y_true = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    y_pred = [0, 1, 1, 1, 0, 0, 3, 0, 4, 4]
    # per class: 0 -> 0.5, 1 -> 1, 2 -> 0, 3 -> 0.5, 4 -> 1
    scores = shot_accuracy(y_true, y_pred, counts)
    assert scores == {"many": 0.75, "medium": 0.5, "few": 0.5, "overall": 0.6}
    assert scores["overall"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    # Other thresholds move the classes between buckets.
    # many=19, few=18: classes 0, 1, 2, 4 are many-shot, class 3 (19) medium, none few.
    scores = shot_accuracy(y_true, y_pred, counts, many=19, few=18)
    assert scores["many"] == 0.625 and scores["medium"] == 0.5
    assert math.isnan(scores["few"])


def test_shot_accuracy_from_training_labels():
    y_train = np.repeat([0, 1, 2], [150, 50, 5])
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 1, 0, 2, 0])
    assert shot_accuracy(y_true, y_pred, y_train) == {
        "many": 1.0,
        "medium": 0.5,
        "few": 0.5,
        "overall": pytest.approx(2 / 3),
    }
    # A class absent from the training counts has 0 images: few-shot.
    scores = shot_accuracy(y_true, y_pred, {0: 150, 1: 50})
    assert scores["few"] == 0.5


def test_shot_accuracy_validates_thresholds():
    with pytest.raises(ValueError, match="many must be greater than few; got many=20, few=20"):
        shot_accuracy([0], [0], {0: 1}, many=20, few=20)
    with pytest.raises(ValueError, match="few"):
        shot_accuracy([0], [0], {0: 1}, few=-1)
    with pytest.raises(ValueError, match="train_counts"):
        shot_accuracy([0], [0], 5)


def test_group_accuracies():
    y_true = [0, 0, 1, 1, 0, 1, 1]
    y_pred = [0, 1, 1, 1, 0, 0, 0]
    groups = [0, 0, 0, 0, 1, 1, 2]
    assert group_accuracy(y_true, y_pred, groups) == {0: 0.75, 1: 0.5, 2: 0.0}
    assert worst_group_accuracy(y_true, y_pred, groups) == 0.0
    assert mean_group_accuracy(y_true, y_pred, groups) == pytest.approx(1.25 / 3)
    # 2-D groups: (class, colour) cells as tuples.
    cells = np.column_stack([y_true, [5, 6, 5, 5, 5, 6, 6]])
    acc = group_accuracy(y_true, y_pred, cells)
    assert acc == {(0, 5): 1.0, (0, 6): 0.0, (1, 5): 1.0, (1, 6): 0.0}
    assert mean_group_accuracy(y_true, y_pred, cells) == 0.5


def test_group_accuracy_errors():
    with pytest.raises(ValueError, match="groups must have one entry"):
        group_accuracy([0, 1], [0, 1], [0, 1, 2])
    with pytest.raises(ValueError, match="groups must have one entry"):
        worst_group_accuracy([0, 1], [0, 1], np.zeros((2, 2, 2)))


# Binary: group a has TPR 2/3, FPR 1/3; group b has TPR 1/2, FPR 1/2; selection 1/2 vs 1/2.
Y_TRUE = np.array([1, 1, 1, 0, 0, 0, 1, 1, 0, 0])
Y_PRED = np.array([1, 1, 0, 1, 0, 0, 1, 0, 1, 0])
SENS = np.array(["a"] * 6 + ["b"] * 4)


def test_binary_fairness_equals_fairlearn():
    eo = equalized_odds_difference(Y_TRUE, Y_PRED, SENS)
    assert eo == fl.equalized_odds_difference(Y_TRUE, Y_PRED, sensitive_features=SENS)
    assert eo == pytest.approx(1 / 6)  # max(|2/3 - 1/2|, |1/3 - 1/2|)
    dp = demographic_parity_difference(Y_TRUE, Y_PRED, sensitive_features=SENS)
    assert dp == fl.demographic_parity_difference(Y_TRUE, Y_PRED, sensitive_features=SENS)
    assert dp == 0.0
    # {-1, 1} labels also go straight to fairlearn.
    assert equalized_odds_difference(2 * Y_TRUE - 1, 2 * Y_PRED - 1, SENS) == eo
    # method / agg are passed through.
    assert equalized_odds_difference(Y_TRUE, Y_PRED, SENS, agg="mean") == pytest.approx(1 / 6)
    assert equalized_odds_difference(
        Y_TRUE, Y_PRED, SENS, method="to_overall"
    ) == fl.equalized_odds_difference(Y_TRUE, Y_PRED, sensitive_features=SENS, method="to_overall")


def test_binary_string_labels_are_scored_one_vs_rest():
    names = np.array(["neg", "pos"])
    # fairlearn alone raises on string labels (equalized odds) or silently scores them
    # against pos_label=1 (demographic parity: 0); one-vs-rest gives the 0/1 value.
    eo = equalized_odds_difference(names[Y_TRUE], names[Y_PRED], SENS)
    assert eo == pytest.approx(1 / 6)
    y_pred = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])  # selection a: 4/6, b: 0
    assert demographic_parity_difference(names[Y_TRUE], names[y_pred], SENS) == pytest.approx(2 / 3)


def test_multiclass_fairness_one_vs_rest():
    y_true = [0, 1, 2, 0, 1, 2]
    y_pred = [0, 1, 2, 1, 1, 0]
    sens = ["a", "a", "a", "b", "b", "b"]
    # Selection rates a / b: class 0 1/3 vs 1/3, class 1 1/3 vs 2/3, class 2 1/3 vs 0.
    assert demographic_parity_difference(y_true, y_pred, sens) == pytest.approx(1 / 3)
    # (TPR gap, FPR gap): class 0 (1, 1/2), class 1 (0, 1/2), class 2 (1, 0).
    assert equalized_odds_difference(y_true, y_pred, sens) == 1.0
    assert equalized_odds_difference(y_true, y_pred, sens, agg="mean") == pytest.approx(0.75)


def test_fairness_errors():
    with pytest.raises(ValueError, match="sensitive_features must have one entry per sample"):
        equalized_odds_difference([0, 1], [0, 1], ["a"])
    with pytest.raises(ValueError, match="method"):
        demographic_parity_difference([0, 1], [0, 1], ["a", "b"], method="ratio")


def test_public_api_and_docstring_examples():
    assert set(synaug_learn.metrics.__all__) == {
        "demographic_parity_difference",
        "equalized_odds_difference",
        "group_accuracy",
        "mean_group_accuracy",
        "per_class_accuracy",
        "shot_accuracy",
        "SyntheticReport",
        "synthetic_report",
        "worst_group_accuracy",
    }
    result = doctest.testmod(synaug_learn.metrics)
    assert result.attempted > 0
    assert result.failed == 0
