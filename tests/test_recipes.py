"""The named recipes shared by the demo and the long-tail benchmark."""

from collections import Counter

import numpy as np
import pytest
from sklearn.datasets import load_digits

from synaug_learn import MixupNetClassifier, RetrainClassifier
from synaug_learn.generators import JitterGenerator
from synaug_learn.recipes import METHODS, evaluate, make_recipe


@pytest.fixture(scope="module")
def digits_lt():
    X, y = load_digits(return_X_y=True)
    X = (X * 255 / 16).astype(np.uint8).reshape(-1, 8, 8)
    keep = np.concatenate([np.flatnonzero(y == c)[: int(40 * 10 ** (-c / 9))] for c in range(10)])
    rest = np.setdiff1d(np.arange(len(y)), keep)
    return X[keep], y[keep], X[rest], y[rest]


def test_every_method_builds_and_unknown_names_fail():
    counts = {0: 40, 1: 10, 2: 4}
    gens = {"indomain": JitterGenerator(), "pretrained": JitterGenerator()}
    pools = {"real_fill": (np.zeros((1, 4)), np.zeros(1)), "oracle": (np.zeros((1, 4)), [0])}
    for method in METHODS:
        est = make_recipe(method, class_counts=counts, n_target=40, generators=gens, pools=pools)
        assert hasattr(est, "fit") and hasattr(est, "predict")
    assert isinstance(make_recipe("crt", class_counts=counts, n_target=40), RetrainClassifier)
    bs = make_recipe("synaug_pretrained_balanced_softmax_mixup", class_counts=counts,
                     n_target=40, generators=gens)
    clf = bs.named_steps["clf"]
    assert isinstance(clf, MixupNetClassifier)
    assert (clf.loss, clf.loss_tau, clf.class_counts) == ("balanced_softmax", 0.5, counts)
    # The same optimiser steps for every recipe: fewer rows, more epochs.
    same_steps = {m: make_recipe(m, class_counts=counts, n_target=40, generators=gens,
                                 train_steps=30) for m in ("ce", "ros", "crt")}
    assert same_steps["ce"].max_epochs == round(30 * 128 / 54)
    assert same_steps["ros"].named_steps["clf"].max_epochs == round(30 * 128 / 120)
    assert same_steps["crt"].estimator.max_epochs == same_steps["ce"].max_epochs
    with pytest.raises(ValueError, match="method='nope'"):
        make_recipe("nope", class_counts=counts, n_target=40)
    with pytest.raises(ValueError, match=r"generators\['indomain'\]"):
        make_recipe("synaug_indomain", class_counts=counts, n_target=40)


def test_pool_and_synthetic_only_samplers_give_balanced_data(digits_lt):
    X, y, X_pool, y_pool = digits_lt
    counts = dict(Counter(y.tolist()))
    n_target = max(counts.values())
    real = make_recipe("real_fill", class_counts=counts, n_target=n_target,
                       pools={"real_fill": (X_pool, y_pool)})
    X_res, y_res = real.named_steps["sampler"].fit_resample(X, y)
    assert set(Counter(y_res.tolist()).values()) == {n_target}
    np.testing.assert_array_equal(X_res[: len(X)], X)
    pool_rows = {r.tobytes() for r in X_pool}
    assert all(r.tobytes() in pool_rows for r in X_res[len(X):])
    synth = make_recipe("synthetic_only", class_counts=counts, n_target=n_target,
                        generators={"pretrained": JitterGenerator()})
    X_syn, y_syn = synth.named_steps["sampler"].fit_resample(X, y)
    assert set(Counter(y_syn.tolist()).values()) == {n_target}
    real_rows = {r.tobytes() for r in X}
    assert sum(r.tobytes() in real_rows for r in X_syn) < len(X_syn) // 4


def test_evaluate_reports_shots(digits_lt):
    X, y, X_test, y_test = digits_lt
    counts = dict(Counter(y.tolist()))
    est = make_recipe("balanced_softmax", class_counts=counts, n_target=40,
                      net_params={"max_epochs": 3}).fit(X, y)
    metrics = evaluate(est, X_test, y_test, counts, many=20, few=8)
    assert set(metrics) == {"balanced_accuracy", "many", "medium", "few", "per_class"}
    assert 0.3 < metrics["balanced_accuracy"] <= 1.0
    per_class = list(metrics["per_class"].values())
    assert metrics["balanced_accuracy"] == pytest.approx(np.mean(per_class))
