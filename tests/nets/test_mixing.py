"""Mixup / CutMix: the mixed batches, the mixed loss, and training with mixing off."""

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import LRScheduler

from synaug_learn.nets import (
    BalancedSoftmaxLoss,
    MixedTarget,
    MixupNetClassifier,
    SmallCNN,
    mix_batch,
)
from synaug_learn.nets._augment import flip_crop


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 3, 6, 6, generator=g)
    y = torch.arange(8) % 4
    return x, y


def test_mixup_matches_hand_computation(batch):
    x, y = batch
    out = mix_batch(x, y, mixup_alpha=0.4, random_state=3)
    rng = np.random.RandomState(3)
    lam = rng.beta(0.4, 0.4)
    perm = rng.permutation(8)
    assert out.method == "mixup"
    assert out.lam == pytest.approx(lam)
    np.testing.assert_array_equal(out.perm.numpy(), perm)
    expected = lam * x.numpy() + (1 - lam) * x.numpy()[perm]
    np.testing.assert_allclose(out.x.numpy(), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(out.y_a.numpy(), y.numpy())
    np.testing.assert_array_equal(out.y_b.numpy(), y.numpy()[perm])


def test_cutmix_matches_hand_computation_and_lam_is_box_area(batch):
    x, y = batch
    out = mix_batch(x, y, mixup_alpha=0.0, cutmix_alpha=1.0, random_state=5)
    rng = np.random.RandomState(5)
    lam = rng.beta(1.0, 1.0)
    perm = rng.permutation(8)
    cut = np.sqrt(1 - lam)
    ch, cw = int(6 * cut), int(6 * cut)
    cy, cx = rng.randint(6), rng.randint(6)
    y1, y2 = np.clip(cy - ch // 2, 0, 6), np.clip(cy + ch // 2, 0, 6)
    x1, x2 = np.clip(cx - cw // 2, 0, 6), np.clip(cx + cw // 2, 0, 6)
    assert out.method == "cutmix"
    assert out.box == (y1, y2, x1, x2)
    assert (y2 - y1) * (x2 - x1) > 0  # this seed pastes a real box
    expected = x.numpy().copy()
    expected[:, :, y1:y2, x1:x2] = x.numpy()[perm][:, :, y1:y2, x1:x2]
    np.testing.assert_array_equal(out.x.numpy(), expected)
    assert out.lam == pytest.approx(1 - (y2 - y1) * (x2 - x1) / 36)
    assert out.lam != pytest.approx(lam)  # adjusted to the true box area
    np.testing.assert_array_equal(out.y_b.numpy(), y.numpy()[perm])


def test_both_alphas_choose_one_method_per_batch(batch):
    x, y = batch
    methods = [
        mix_batch(x, y, mixup_alpha=1.0, cutmix_alpha=1.0, random_state=s).method
        for s in range(200)
    ]
    expected = ["cutmix" if np.random.RandomState(s).rand() < 0.5 else "mixup"
                for s in range(200)]
    assert methods == expected
    assert 70 < methods.count("cutmix") < 130


def test_mix_prob(batch):
    x, y = batch
    off = mix_batch(x, y, mixup_alpha=1.0, mix_prob=0.0, random_state=0)
    assert off.method == "none" and off.lam == 1.0 and off.perm is None and off.x is x
    rng = np.random.RandomState(0)
    methods = [mix_batch(x, y, mix_prob=0.3, random_state=rng).method for _ in range(400)]
    assert 0.22 < np.mean([m != "none" for m in methods]) < 0.38


def test_mixed_loss_is_lam_weighted_sum_of_criterion():
    torch.manual_seed(0)
    logits = torch.randn(6, 4)
    y_a, perm = torch.tensor([0, 1, 2, 3, 0, 1]), torch.tensor([5, 4, 3, 2, 1, 0])
    target = MixedTarget(y_a, y_a[perm], 0.3, perm)
    for criterion in (torch.nn.CrossEntropyLoss(), BalancedSoftmaxLoss([5, 4, 2, 1], tau=0.5)):
        net = MixupNetClassifier(SmallCNN, module__num_classes=4, criterion=criterion)
        net.initialize()
        got = net.get_loss(logits, target, X=torch.zeros(6, 1), training=True)
        want = 0.3 * criterion(logits, y_a) + 0.7 * criterion(logits, y_a[perm])
        assert float(got) == pytest.approx(float(want), rel=1e-6)


def _plain_skorch(X, y, seed):
    """The same training as MixupNetClassifier, written with plain skorch on converted input."""
    lo, hi = float(X.min()), float(X.max())
    x = ((X.reshape(-1, 1, 8, 8) - lo) / (hi - lo) * 2 - 1).astype(np.float32)
    net = NeuralNetClassifier(
        SmallCNN, module__in_channels=1, module__num_classes=10,
        criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.SGD, lr=0.05,
        optimizer__momentum=0.9, optimizer__weight_decay=5e-4, max_epochs=2,
        batch_size=64, train_split=None, verbose=0, iterator_train__shuffle=True,
        callbacks=[("lr", LRScheduler(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=2))],
    )
    from synaug_learn.nets._mixing import seed_from

    with torch.random.fork_rng():
        torch.manual_seed(seed_from(seed, 0))
        net.fit(torch.from_numpy(x), torch.from_numpy(y.astype(np.int64)))
    return net.module_.state_dict()


@pytest.mark.parametrize("params", [{"mix_prob": 0.0}, {"mixup_alpha": 0.0}])
def test_mixing_off_is_plain_cross_entropy_training(digits, params):
    X, y = digits
    net = MixupNetClassifier(max_epochs=2, batch_size=64, random_state=7, **params).fit(X, y)
    plain = _plain_skorch(X, y, 7)
    for k, v in net.module_.state_dict().items():
        torch.testing.assert_close(v, plain[k], rtol=1e-5, atol=1e-6, msg=k)
    mixed = MixupNetClassifier(max_epochs=2, batch_size=64, random_state=7).fit(X, y)
    w = mixed.module_.state_dict()["head.weight"]
    assert not torch.allclose(w, plain["head.weight"], atol=1e-3)


class _SpyNet(MixupNetClassifier):
    def get_loss(self, y_pred, y_true, X=None, training=False):
        self.seen_.append((training, y_true.lam if isinstance(y_true, MixedTarget) else None))
        return super().get_loss(y_pred, y_true, X=X, training=training)


def test_training_batches_are_mixed_validation_batches_are_not(digits):
    from skorch.dataset import ValidSplit

    X, y = digits
    net = _SpyNet(max_epochs=1, batch_size=100, random_state=0, train_split=ValidSplit(4))
    net.seen_ = []
    net.fit(X, y)
    train = [lam for training, lam in net.seen_ if training]
    valid = [lam for training, lam in net.seen_ if not training]
    assert len(train) == 3 and all(lam is not None and 0 < lam < 1 for lam in train)
    assert valid and all(lam is None for lam in valid)
    _, valid_set = ValidSplit(4)(X, y)  # validation is scored against the plain labels
    rows = np.asarray(valid_set.indices)
    assert net.history[-1, "valid_acc"] == pytest.approx(np.mean(net.predict(X[rows]) == y[rows]))


def test_composes_with_accelerate_mixin(digits):
    accelerate = pytest.importorskip("accelerate")
    from skorch.hf import AccelerateMixin

    class AccNet(AccelerateMixin, _SpyNet):
        pass

    X, y = digits
    net = AccNet(accelerator=accelerate.Accelerator(cpu=True), max_epochs=1, batch_size=200,
                 random_state=0)
    net.seen_ = []
    net.fit(X, y)
    assert [lam is not None for _, lam in net.seen_] == [True, True]
    assert net.predict(X[:3]).shape == (3,)


def test_flip_crop_matches_hand_computation():
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).reshape(2, 1, 8, 8)
    out = flip_crop(x, random_state=0, pad=2, fill=-1.0)
    rng = np.random.RandomState(0)
    flip = rng.rand(2) < 0.5
    oy, ox = rng.randint(0, 5, 2), rng.randint(0, 5, 2)
    for i in range(2):
        img = x[i, 0].numpy()[:, ::-1] if flip[i] else x[i, 0].numpy()
        padded = np.pad(img, 2, constant_values=-1.0)
        np.testing.assert_array_equal(out[i, 0].numpy(), padded[oy[i]:oy[i] + 8, ox[i]:ox[i] + 8])


@pytest.mark.parametrize(
    "params, name",
    [({"mixup_alpha": -1.0}, "mixup_alpha"), ({"cutmix_alpha": -0.5}, "cutmix_alpha"),
     ({"mix_prob": 1.5}, "mix_prob"), ({"mix_prob": -0.1}, "mix_prob"),
     ({"loss": "focal"}, "loss"), ({"augment": "rotate"}, "augment")],
)
def test_bad_mixing_params_name_the_parameter(digits, params, name):
    X, y = digits
    value = repr(next(iter(params.values())))
    with pytest.raises(ValueError, match=name) as info:
        MixupNetClassifier(max_epochs=1, **params).fit(X, y)
    assert value.strip("'") in str(info.value)


def test_mixin_on_a_plain_skorch_classifier(digits):
    from sklearn.base import clone

    from synaug_learn.nets import MixupMixin

    class Net(MixupMixin, NeuralNetClassifier):
        def get_loss(self, y_pred, y_true, X=None, training=False):
            self.lams_.append(y_true.lam if isinstance(y_true, MixedTarget) else None)
            return super().get_loss(y_pred, y_true, X=X, training=training)

    X, y = digits
    x = torch.as_tensor(X.reshape(-1, 1, 8, 8) / 8.0 - 1.0, dtype=torch.float32)
    net = Net(SmallCNN, module__num_classes=10, criterion=torch.nn.CrossEntropyLoss,
              mixup_alpha=0.5, cutmix_alpha=0.5, train_split=None, max_epochs=1,
              batch_size=100, verbose=0)
    twin = clone(net)
    assert twin.mixup_alpha == 0.5 and twin.cutmix_alpha == 0.5 and twin.mix_prob == 1.0
    twin.lams_ = []
    twin.fit(x, torch.as_tensor(y))
    assert len(twin.lams_) == 4 and all(lam is not None and 0 <= lam <= 1 for lam in twin.lams_)
