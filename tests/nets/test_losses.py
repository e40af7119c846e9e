"""The balancing losses, alone and as MixupNetClassifier(loss=...)."""

import numpy as np
import pytest
import torch
from sklearn.utils.class_weight import compute_class_weight

from synaug_learn.nets import (
    BalancedSoftmaxLoss,
    ClassWeightedCrossEntropy,
    GroupDROLoss,
    MixedTarget,
    MixupNetClassifier,
    balanced_class_weights,
)


def test_balanced_weights_are_sklearns():
    y = np.repeat([0, 1, 2], [30, 10, 5])
    want = compute_class_weight("balanced", classes=np.arange(3), y=y)
    np.testing.assert_allclose(balanced_class_weights([30, 10, 5]), want)
    loss = ClassWeightedCrossEntropy([30, 10, 5])
    logits, target = torch.randn(7, 3, generator=torch.Generator().manual_seed(0)), \
        torch.tensor([0, 1, 2, 2, 1, 0, 2])
    w = torch.tensor(want, dtype=torch.float32)
    ref = torch.nn.functional.cross_entropy(logits, target, weight=w)
    assert float(loss(logits, target)) == pytest.approx(float(ref))


@pytest.mark.parametrize("tau", [0.0, 0.5, 1.0])
def test_balanced_softmax_adds_tau_log_prior(tau):
    counts = np.array([80.0, 15.0, 5.0])
    logits = torch.randn(5, 3, generator=torch.Generator().manual_seed(1))
    target = torch.tensor([0, 1, 2, 2, 0])
    adjusted = logits + tau * torch.log(torch.tensor(counts / counts.sum(), dtype=torch.float32))
    ref = torch.nn.functional.cross_entropy(adjusted, target)
    assert float(BalancedSoftmaxLoss(counts, tau=tau)(logits, target)) == pytest.approx(float(ref))


def test_group_dro_update_matches_hand_computation():
    loss = GroupDROLoss(n_groups=3, eta=0.5)
    logits = torch.randn(6, 2, generator=torch.Generator().manual_seed(2))
    y = torch.tensor([0, 1, 0, 1, 1, 0])
    g = torch.tensor([0, 0, 1, 1, 1, 0])  # group 2 absent from the batch
    per_row = torch.nn.functional.cross_entropy(logits, y, reduction="none")
    group_loss = torch.stack([per_row[g == k].mean() if (g == k).any() else torch.tensor(0.0)
                              for k in range(3)])
    q = torch.full((3,), 1 / 3) * torch.exp(0.5 * group_loss)
    q = q / q.sum()
    out = loss(logits, y, g)
    torch.testing.assert_close(loss.q, q)
    assert float(out) == pytest.approx(float((q * group_loss).sum()), rel=1e-6)
    # evaluation mode uses q without updating it
    loss.eval()
    loss(logits, y, g)
    torch.testing.assert_close(loss.q, q)


def test_group_dro_sample_weights_mix_two_label_sets():
    loss = GroupDROLoss(n_groups=2, eta=0.0)
    logits = torch.randn(4, 3, generator=torch.Generator().manual_seed(3))
    y_a, y_b = torch.tensor([0, 1, 2, 0]), torch.tensor([2, 0, 1, 1])
    g_a, g_b = torch.tensor([0, 0, 1, 1]), torch.tensor([1, 1, 0, 0])
    lam = 0.25
    w = torch.cat([torch.full((4,), lam), torch.full((4,), 1 - lam)])
    out = loss(torch.cat([logits, logits]), torch.cat([y_a, y_b]), torch.cat([g_a, g_b]),
               sample_weight=w)
    ce = torch.nn.functional.cross_entropy
    la, lb = ce(logits, y_a, reduction="none"), ce(logits, y_b, reduction="none")
    per_group = []
    for k in range(2):
        num = lam * la[g_a == k].sum() + (1 - lam) * lb[g_b == k].sum()
        den = lam * (g_a == k).sum() + (1 - lam) * (g_b == k).sum()
        per_group.append(num / den)
    assert float(out) == pytest.approx(float(0.5 * sum(per_group)), rel=1e-6)


@pytest.mark.parametrize("loss, cls", [("class_weighted", ClassWeightedCrossEntropy),
                                       ("balanced_softmax", BalancedSoftmaxLoss),
                                       ("cross_entropy", torch.nn.CrossEntropyLoss)])
def test_net_builds_the_loss_from_training_counts(digits, loss, cls):
    X, y = digits
    keep = np.concatenate([np.flatnonzero(y == c)[: 40 - 3 * c] for c in range(10)])
    net = MixupNetClassifier(max_epochs=1, loss=loss, random_state=0).fit(X[keep], y[keep])
    assert type(net.criterion_) is cls
    np.testing.assert_array_equal(net.class_counts_, 40 - 3 * np.arange(10))
    if loss == "balanced_softmax":
        prior = (40 - 3 * np.arange(10)) / (40 - 3 * np.arange(10)).sum()
        np.testing.assert_allclose(net.criterion_.log_prior.numpy(), np.log(prior), rtol=1e-6)
    proba = net.predict_proba(X[:4])
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)  # softmax applied


def test_class_counts_override_with_string_labels(digits):
    X, y = digits
    labels = np.array([f"d{k}" for k in range(10)])[y]
    counts = {f"d{k}": 100 - 9 * k for k in range(10)}
    net = MixupNetClassifier(max_epochs=1, loss="balanced_softmax", loss_tau=0.5,
                             class_counts=counts, random_state=0).fit(X, labels)
    np.testing.assert_array_equal(net.class_counts_, [counts[c] for c in net.classes_])
    assert net.criterion_.tau == 0.5
    with pytest.raises(ValueError, match="class_counts"):
        MixupNetClassifier(max_epochs=1, loss="class_weighted",
                           class_counts={"d0": 5}).fit(X, labels)
    with pytest.raises(ValueError, match="class_counts"):
        MixupNetClassifier(max_epochs=1, loss="class_weighted",
                           class_counts={**counts, "d1": 0}).fit(X, labels)


def test_group_dro_needs_groups_and_predicts_without_them(digits):
    X, y = digits
    with pytest.raises(ValueError, match="groups"):
        MixupNetClassifier(max_epochs=1, loss="group_dro").fit(X, y)
    with pytest.raises(ValueError, match="groups"):
        MixupNetClassifier(max_epochs=1, loss="group_dro").fit(X, y, groups=np.zeros(3))
    # group "hard" holds noisy-labelled rows: its loss stays high and Group DRO up-weights it
    rng = np.random.RandomState(0)
    groups = np.where(np.arange(len(y)) % 4 == 0, "hard", "easy")
    y_noisy = np.where(groups == "hard", rng.randint(0, 10, len(y)), y)
    net = MixupNetClassifier(max_epochs=3, loss="group_dro", criterion__eta=1.0,
                             random_state=0).fit(X, y_noisy, groups=groups)
    assert net.groups_.tolist() == ["easy", "hard"]
    assert float(net.criterion_.q[1]) > 0.9
    assert net.predict(X[:5]).shape == (5,)


class _SpyDRO(MixupNetClassifier):
    def get_loss(self, y_pred, y_true, X=None, training=False):
        self.mixed_ = getattr(self, "mixed_", 0) + isinstance(y_true, MixedTarget)
        return super().get_loss(y_pred, y_true, X=X, training=training)


def test_group_dro_with_mixup_trains(digits):
    X, y = digits
    groups = np.arange(len(y)) % 3
    net = _SpyDRO(max_epochs=1, loss="group_dro", mixup_alpha=1.0, random_state=0)
    net.fit(X, y, groups=groups)
    assert net.mixed_ == 4
    assert np.isfinite(net.history[-1, "train_loss"])
    np.testing.assert_allclose(float(net.criterion_.q.sum()), 1.0, rtol=1e-6)
