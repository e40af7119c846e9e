"""The named recipes shared by the demo and the long-tail benchmark."""

from collections import Counter

import numpy as np
import pytest
from sklearn.datasets import load_digits

from synaug_learn import MixupNetClassifier, RetrainClassifier, SyntheticAwareClassifier
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
    gens = {k: JitterGenerator() for k in ("indomain", "pretrained", "shifted")}
    pools = {k: (np.zeros((1, 4)), np.zeros(1))
             for k in ("real_fill", "oracle", "real_fill_styled")}
    for method in METHODS:
        est = make_recipe(method, class_counts=counts, n_target=40, generators=gens, pools=pools)
        assert hasattr(est, "fit") and hasattr(est, "predict")
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


def test_remedy_suffixes_build_what_they_name():
    counts = {0: 40, 1: 10, 2: 4}
    gens = {"shifted": JitterGenerator(), "pretrained": JitterGenerator()}

    def build(method):
        return make_recipe(method, class_counts=counts, n_target=40, generators=gens,
                           pools={k: (np.zeros((40, 4)), np.zeros(40))
                                  for k in ("real_fill_styled", "real_fill")},
                           train_steps=60)

    # Kang et al.'s cRT (all real rows, class-balanced sampling) vs the paper's subsample.
    assert build("crt").method == "crt" and build("ce_retrain").method == "subsample"
    plain = build("synaug_shifted")
    assert plain.named_steps["clf"].mixup_alpha == 0.0
    est = build("synaug_shifted_domain_mixup_crt")
    assert isinstance(est, RetrainClassifier) and est.method == "crt"
    aware = est.estimator
    assert isinstance(aware, SyntheticAwareClassifier)
    assert (aware.classifier.mixup_pairing, aware.classifier.mixup_alpha) == (
        "real_synthetic", 1.0)
    two = build("synaug_shifted_two_stage")
    # a quarter of the 60 steps, in epochs of the 54 real rows of batch 128
    assert two.classifier.two_stage_epochs == round(15 * 128 / 54)
    assert two.classifier.mixup_alpha == 0.0 and two.classifier.mixup_pairing == "random"
    retrain = build("synaug_shifted_mixup_retrain")
    assert (retrain.method, retrain.rows) == ("subsample", "original")
    assert retrain.estimator.named_steps["clf"].mixup_pairing == "random"
    adabn = build("synaug_shifted_mixup_adabn_crt")
    assert adabn.method == "crt" and adabn.estimator.adapt_batchnorm
    assert adabn.estimator.classifier.mixup_alpha == 1.0
    assert not build("synaug_shifted_domain_mixup_crt").estimator.adapt_batchnorm
    # the same suffixes on the in-distribution generator's rows
    pre_adabn = build("synaug_pretrained_adabn")
    assert pre_adabn.adapt_batchnorm and pre_adabn.classifier.mixup_alpha == 0.0
    pre_crt = build("synaug_pretrained_mixup_crt")
    assert pre_crt.method == "crt" and pre_crt.estimator.named_steps["clf"].mixup_alpha == 1.0
    styled = build("real_fill_styled_domain_mixup_retrain")
    assert isinstance(styled.estimator, SyntheticAwareClassifier)
    pre_dm = build("synaug_pretrained_domain_mixup_retrain_resampled")
    assert (pre_dm.method, pre_dm.rows) == ("subsample", "resampled")
    assert pre_dm.estimator.classifier.mixup_pairing == "real_synthetic"
    # SynAug's chosen recipe on the real fill: the same remedies, a pool's rows
    real = build("real_fill_mixup_retrain_resampled")
    assert (real.method, real.rows) == ("subsample", "resampled")
    assert real.estimator.named_steps["clf"].mixup_alpha == 1.0
    assert real.estimator.named_steps["sampler"].kw_args["n_target"] == 40
    # _regen: the same fill with every real row redrawn by the generator first
    assert build("synaug_pretrained").named_steps["sampler"].regenerate_real is None
    regen = build("synaug_pretrained_regen")
    assert regen.named_steps["sampler"].regenerate_real == 0.5
    assert regen.named_steps["clf"].mixup_alpha == 0.0
    regen_rr = build("synaug_pretrained_regen_mixup_retrain_resampled")
    assert (regen_rr.method, regen_rr.rows) == ("subsample", "resampled")
    assert regen_rr.estimator.named_steps["sampler"].regenerate_real == 0.5
    assert regen_rr.estimator.named_steps["clf"].mixup_alpha == 1.0
    plain_real = build("real_fill")
    assert plain_real.named_steps["clf"].mixup_alpha == 0.0
    with pytest.raises(ValueError, match="unknown remedy '_jitter'"):
        make_recipe.__globals__["_remedies"]("_mixup_jitter")


def test_domain_mixup_two_stage_recipe_fits_digits(digits_lt):
    X, y, X_test, y_test = digits_lt
    counts = dict(Counter(y.tolist()))
    est = make_recipe("synaug_shifted_domain_mixup_two_stage", class_counts=counts,
                      n_target=max(counts.values()), generators={"shifted": JitterGenerator()},
                      net_params={"module": "small_cnn"}, train_steps=120, random_state=0)
    est.fit(X.reshape(len(X), -1), y)
    assert est.n_synthetic_ == 10 * max(counts.values()) - len(y)
    scores = evaluate(est, X_test.reshape(len(X_test), -1), y_test, counts)
    assert scores["balanced_accuracy"] > 0.6


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
