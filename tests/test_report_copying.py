"""The copying check cannot be fooled: near-copies are found per sample, in a space that
ignores pixel noise and one-pixel shifts, and honest samples (real unseen images) pass."""

import warnings
from pathlib import Path

import numpy as np
import pytest

from synaug_learn._report import synthetic_report

FASHION_HOME = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(
    not (FASHION_HOME / "train-images-idx3-ubyte.gz").is_file(),
    reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")

#: Long-tailed training counts per class (class 9 has one training image).
COUNTS = (200, 100, 60, 40, 25, 15, 8, 4, 2, 1)
M = 40  # generated rows per class


@pytest.fixture(scope="module")
def fashion():
    from synaug_learn.datasets import load_fashion_mnist

    X, y = load_fashion_mnist(subset="train")
    X_test, y_test = load_fashion_mnist(subset="test")
    rng = np.random.default_rng(0)
    train, held = [], []
    for c, n in enumerate(COUNTS):
        idx = rng.permutation(np.flatnonzero(y[:50_000] == c))
        train.append(idx[:n])
        held.append(idx[n:n + max(5, n // 4)])
    train, held = np.concatenate(train), np.concatenate(held)
    honest = np.concatenate([np.flatnonzero(y_test == c)[:M] for c in range(10)])
    return X[train], y[train], X[held], y[held], X_test[honest], y_test[honest]


def copies_of(X_tr, y_tr, rng):
    """M exact copies of each class's training images (drawn with replacement)."""
    idx = np.concatenate([rng.choice(np.flatnonzero(y_tr == c), M) for c in range(10)])
    return X_tr[idx].copy(), y_tr[idx]


def adversaries(X_tr, y_tr, X_honest, y_honest, seed=0):
    rng = np.random.default_rng(seed)
    X_copy, y_copy = copies_of(X_tr, y_tr, rng)
    noise = rng.normal(0, 0.15 * 255, X_copy.shape)
    X_noise = np.clip(X_copy + noise, 0, 255).astype(np.uint8)
    X_shift = np.zeros_like(X_copy)  # one pixel to the right, background coming in
    X_shift[:, :, 1:] = X_copy[:, :, :-1]
    X_mix = X_honest.copy()  # 30 % of each class's honest samples replaced by exact copies
    for c in range(10):
        rows = np.flatnonzero(y_honest == c)
        k = int(round(0.3 * len(rows)))
        X_mix[rows[:k]] = X_copy[y_copy == c][:k]
    return {"exact copies": (X_copy, y_copy), "copies + noise 0.15": (X_noise, y_copy),
            "one-pixel shifts": (X_shift, y_copy), "30% copies mixed in": (X_mix, y_honest)}


def report_of(X_tr, y_tr, X_syn, y_syn, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return synthetic_report(X_tr, y_tr, X_syn, y_syn, random_state=0, **kw)


def shares(report):
    return {r["label"]: round(r["near_copy_share"], 2) for r in report.rows}


@needs_fashion
@pytest.mark.parametrize("reference", ["heldout", "loo"])
def test_every_kind_of_copy_is_flagged_in_every_class(fashion, reference):
    X_tr, y_tr, X_ho, y_ho, X_honest, y_honest = fashion
    held = {"X_heldout": X_ho, "y_heldout": y_ho} if reference == "heldout" else {}
    for name, (X_syn, y_syn) in adversaries(X_tr, y_tr, X_honest, y_honest).items():
        report = report_of(X_tr, y_tr, X_syn, y_syn, **held)
        assert sorted(report.copying_) == [(c, None) for c in range(10)], (name, shares(report))
        for r in report.rows:
            assert r["near_copy_share"] >= (0.25 if name.startswith("30%") else 0.35), (name, r)
    single = [r for r in report.rows if r["n_real"] == 1]
    assert single and single[0]["reference"] == ("heldout" if held else "pooled")


@needs_fashion
@pytest.mark.parametrize("reference", ["heldout", "loo"])
def test_honest_samples_are_not_flagged(fashion, reference):
    X_tr, y_tr, X_ho, y_ho, X_honest, y_honest = fashion
    held = {"X_heldout": X_ho, "y_heldout": y_ho} if reference == "heldout" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no copying, no low-fidelity warning
        report = synthetic_report(X_tr, y_tr, X_honest, y_honest, random_state=0, **held)
    assert report.copying_ == [] and report.low_fidelity_ == []
    for r in report.rows:
        assert r["near_copy_share"] <= 0.15, r
        assert r["novelty"] > 0.6, r  # above 1 where a tiny class takes the cautious scale


def test_a_class_with_one_training_image_is_judged():
    rng = np.random.default_rng(0)
    X_tr = rng.integers(0, 256, size=(31, 16, 16)).astype(np.uint8)
    y_tr = np.array([0] * 10 + [1] * 20 + [2])
    copies = np.repeat(X_tr[-1:], 12, axis=0)
    report = report_of(X_tr, y_tr, copies, [2] * 12)
    (row,) = [r for r in report.rows if r["label"] == 2]
    assert row["reference"] == "pooled" and row["near_copy_share"] == 1.0
    assert report.copying_ == [(2, None)]
    new = rng.integers(0, 256, size=(12, 16, 16)).astype(np.uint8)
    report = report_of(X_tr, y_tr, new, [2] * 12)
    (row,) = [r for r in report.rows if r["label"] == 2]
    assert np.isfinite(row["novelty"]) and row["near_copy_share"] == 0.0
    assert report.copying_ == []


@needs_fashion
def test_low_fidelity_is_flagged_relative_to_real_rows(fashion):
    """Noise and another class's images are recognised far less often than real rows."""
    X_tr, y_tr, X_ho, y_ho, X_honest, y_honest = fashion
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, size=(M, 28, 28)).astype(np.uint8)
    wrong = X_honest[y_honest == 1][:M]  # trousers presented as class 0
    X_syn = np.concatenate([noise, wrong, X_honest[y_honest == 2]])
    y_syn = np.array([3] * M + [0] * M + [2] * M)
    with pytest.warns(UserWarning, match=r"recognised as their class far less often"):
        report = synthetic_report(X_tr, y_tr, X_syn, y_syn, X_heldout=X_ho, y_heldout=y_ho,
                                  random_state=0)
    rows = {r["label"]: r for r in report.rows}
    assert sorted(report.low_fidelity_) == [(0, None), (3, None)]
    assert rows[0]["fidelity"] < 0.1 and rows[0]["fidelity_reference"] > 0.8
    assert rows[3]["fidelity"] < 0.3 * rows[3]["fidelity_reference"]
    assert not rows[2]["low_fidelity"]
    assert "| yes" in str(report).splitlines()[2]  # class 0's line, last column


@needs_fashion
@pytest.mark.slow
def test_shipped_generator_samples_are_not_flagged():
    """fashion-mnist-small was pretrained on a disjoint pool: its fill is not a copy."""
    from collections import Counter

    from synaug_learn import SynAugSampler
    from synaug_learn.datasets import load_fashion_mnist, make_long_tailed
    from synaug_learn.generators import ConditionalDiffusionGenerator

    X, y = load_fashion_mnist(subset="train")
    X_lt, y_lt = make_long_tailed(X[:50_000], y[:50_000], imbalance_factor=100, n_max=200,
                                  random_state=0)
    counts = Counter(y_lt.tolist())
    tail = sorted(counts, key=counts.get)[:5]
    sampler = SynAugSampler(
        generator=ConditionalDiffusionGenerator.from_pretrained("fashion-mnist-small"),
        sampling_strategy={c: counts[c] + 30 for c in tail}, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # neither copying nor low fidelity
        sampler.fit_resample(X_lt, y_lt)
    report = sampler.report_
    print(report)
    assert report.copying_ == []
    for r in report.rows:
        if r["n_generated"]:
            assert r["near_copy_share"] <= 0.15 and r["novelty"] > 0.6, r
