"""The net told which rows are generated: real<->synthetic Mixup pairing and two-stage training."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from synaug_learn.nets import MixupNetClassifier, mix_batch, pair_rows


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 255, size=(48, 8, 8)).astype(np.uint8)
    y = np.repeat([0, 1, 2], 16)
    mask = np.zeros(48, dtype=bool)
    mask[::3] = True
    return X, y, mask


class Recorder(Callback):
    """Records the rows each training starts on and the mask of every training batch."""

    def initialize(self):
        self.trainings, self.masks = [], []
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.trainings.append((np.asarray(X["X"] if isinstance(X, dict) else X), np.asarray(y)))

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training and isinstance(batch[0], dict) and "synthetic" in batch[0]:
            self.masks.append(batch[0]["synthetic"].numpy().copy())


def test_pair_rows_real_synthetic_pairs_only_across_the_mask():
    rng = np.random.RandomState(0)
    for _ in range(20):
        mask = rng.rand(16) < 0.3
        if mask.all() or not mask.any():
            continue
        perm = pair_rows(16, rng, mask, "real_synthetic")
        assert np.all(mask[perm] != mask)
    # one kind only: rows are paired with themselves (not mixed)
    same = np.zeros(5, dtype=bool)
    np.testing.assert_array_equal(pair_rows(5, rng, same, "real_synthetic"), np.arange(5))


def test_pair_rows_errors():
    rng = np.random.RandomState(0)
    with pytest.raises(ValueError, match="sample_is_synthetic"):
        pair_rows(4, rng, None, "real_synthetic")
    with pytest.raises(ValueError, match="mixup_pairing='nearest'"):
        pair_rows(4, rng, None, "nearest")
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        pair_rows(4, rng, np.zeros(3, bool), "real_synthetic")


def test_mix_batch_random_pairing_is_unchanged():
    x, y = torch.arange(8.0).reshape(8, 1), torch.arange(8)
    a = mix_batch(x, y, random_state=3)
    b = mix_batch(x, y, random_state=3, synthetic=np.ones(8, bool), pairing="random")
    assert torch.equal(a.perm, b.perm) and torch.equal(a.x, b.x)


def test_mix_batch_real_synthetic_mixes_each_real_row_with_a_generated_one():
    mask = torch.tensor([0, 0, 0, 1, 1, 0, 1, 0], dtype=torch.bool)
    x, y = torch.arange(8.0).reshape(8, 1), torch.arange(8)
    out = mix_batch(x, y, random_state=0, synthetic=mask, pairing="real_synthetic")
    perm = out.perm.numpy()
    assert np.all(mask.numpy()[perm] != mask.numpy())
    assert torch.allclose(out.x, out.lam * x + (1 - out.lam) * x[out.perm])


def test_mask_reaches_every_training_batch_of_the_net(data):
    X, y, mask = data
    rec = Recorder()
    net = MixupNetClassifier(max_epochs=1, batch_size=16, mixup_pairing="real_synthetic",
                             callbacks=[("rec", rec)], iterator_train__shuffle=False,
                             random_state=0)
    net.fit(X, y, sample_is_synthetic=mask)
    assert len(rec.masks) == 3
    np.testing.assert_array_equal(np.concatenate(rec.masks), mask)
    assert net.predict(X[:4]).shape == (4,)


def test_two_stage_second_stage_sees_only_real_rows(data):
    X, y, mask = data
    rec = Recorder()
    net = MixupNetClassifier(max_epochs=2, two_stage_epochs=3, two_stage_lr=0.01, batch_size=16,
                             callbacks=[("rec", rec)], random_state=0)
    net.fit(X, y, sample_is_synthetic=mask)
    (X1, y1), (X2, y2) = rec.trainings
    assert len(X1) == 48 and len(X2) == int((~mask).sum())
    np.testing.assert_array_equal(X2, X[~mask])
    np.testing.assert_array_equal(y2, y[~mask])
    assert len(net.history) == 5  # 2 epochs on all rows, then 3 on the real ones
    assert net.optimizer_.param_groups[0]["lr"] == pytest.approx(0.01)  # constant in stage 2


def test_two_stage_is_off_by_default_and_deterministic(data):
    X, y, mask = data
    a = MixupNetClassifier(max_epochs=1, two_stage_epochs=1, random_state=0)
    b = MixupNetClassifier(max_epochs=1, two_stage_epochs=1, random_state=0)
    pa = a.fit(X, y, sample_is_synthetic=mask).predict_proba(X)
    pb = b.fit(X, y, sample_is_synthetic=mask).predict_proba(X)
    np.testing.assert_array_equal(pa, pb)
    plain = MixupNetClassifier(max_epochs=1, random_state=0).fit(X, y)
    masked = MixupNetClassifier(max_epochs=1, random_state=0).fit(X, y, sample_is_synthetic=mask)
    np.testing.assert_array_equal(plain.predict_proba(X), masked.predict_proba(X))


@pytest.mark.parametrize("params, mask, match", [
    ({"two_stage_epochs": 1}, None, "two_stage_epochs=1 needs to know which rows"),
    ({"mixup_pairing": "real_synthetic"}, None, "mixup_pairing='real_synthetic' needs"),
    ({"two_stage_epochs": 1}, np.ones(48, bool), "marks every row as generated"),
    ({}, np.ones(5, bool), "one entry per row of X"),
    ({}, np.ones(48, int), "must be a boolean array"),
    ({"mixup_pairing": "nearest"}, None, "mixup_pairing"),
    ({"two_stage_epochs": -1}, None, "two_stage_epochs"),
])
def test_errors_name_the_parameter(data, params, mask, match):
    X, y, _ = data
    with pytest.raises(ValueError, match=match):
        MixupNetClassifier(max_epochs=1, **params).fit(X, y, sample_is_synthetic=mask)


def _shifted(X):
    """Another look of the same digits: contrast 0.4, brightness +140 (uint8)."""
    return (X * 0.4 + 140).astype(np.uint8)


def test_adapt_batchnorm_brings_a_net_to_shifted_images():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X.reshape(-1, 8, 8) * 15).astype(np.uint8)
    net = MixupNetClassifier(max_epochs=5, batch_size=128, random_state=0).fit(X[:1000], y[:1000])
    weights = [p.detach().clone() for p in net.module_.parameters()]
    shifted_acc = (net.predict(_shifted(X[1000:])) == y[1000:]).mean()
    assert (net.predict(X[1000:]) == y[1000:]).mean() > 0.85 and shifted_acc < 0.3
    assert net.adapt_batchnorm(_shifted(X[:1000])) is net  # unlabelled rows of the new look
    assert (net.predict(_shifted(X[1000:])) == y[1000:]).mean() > 0.85
    # only the statistics changed; the first norm now holds the new look's batch statistics
    assert all(torch.equal(a, b) for a, b in zip(weights, net.module_.parameters()))
    norms = [m for m in net.module_.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(m.momentum == 0.1 for m in norms) and not net.module_.training
    conv = next(m for m in net.module_.modules() if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        out = conv(torch.from_numpy(net.input_adapter_.transform(_shifted(X[:1000]))))
    # cumulative average over batches of 128 (the last one smaller), as AdaBN defines it
    means = [out[i:i + 128].mean((0, 2, 3)) for i in range(0, 1000, 128)]
    torch.testing.assert_close(norms[0].running_mean, torch.stack(means).mean(0))


def test_adapt_batchnorm_needs_a_fitted_net_with_batchnorm(data):
    X, y, _ = data
    with pytest.raises(Exception, match="not initialized|not fitted"):
        MixupNetClassifier().adapt_batchnorm(X)
    net = MixupNetClassifier("mlp", max_epochs=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="module='mlp' has no BatchNorm layer"):
        net.adapt_batchnorm(X)
