"""MixupNetClassifier as a scikit-learn estimator: inputs, labels, defaults, reproducibility."""

import doctest

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from skorch.dataset import ValidSplit

from synaug_learn.nets import MixupNetClassifier


def _weights(net):
    return {k: v.clone() for k, v in net.module_.state_dict().items()}


def test_layouts_give_identical_training(digits):
    X, y = digits
    imgs = X.reshape(-1, 8, 8)
    layouts = {
        "flat": X,
        "hw": imgs,
        "nhwc": imgs[..., None],
        "nchw": imgs[:, None],
        "float32": X.astype(np.float32),
    }
    ref = None
    for name, data in layouts.items():
        net = MixupNetClassifier(max_epochs=1, random_state=0).fit(data, y)
        pred = net.predict(data[:50])
        if ref is None:
            ref, ref_w = pred, _weights(net)
            continue
        np.testing.assert_array_equal(pred, ref, err_msg=name)
        for k, v in _weights(net).items():
            torch.testing.assert_close(v, ref_w[k], msg=f"{name}: {k}")


def test_uint8_input_is_scaled_by_255(digits):
    X, y = digits
    x8 = np.round(X * 255 / 16).astype(np.uint8)
    net = MixupNetClassifier(max_epochs=1, random_state=0).fit(x8, y)
    ds = net.get_dataset(x8[:3])
    expected = x8[:3].reshape(3, 1, 8, 8) / 255.0 * 2 - 1
    np.testing.assert_allclose(ds.X.numpy(), expected, rtol=1e-6, atol=1e-6)
    fl = MixupNetClassifier(max_epochs=1, random_state=0).fit(X * 3.0 + 5.0, y)
    x = fl.get_dataset(X[:3] * 3.0 + 5.0).X.numpy()
    lo, hi = 5.0, X.max() * 3.0 + 5.0
    np.testing.assert_allclose(x, ((X[:3] * 3 + 5 - lo) / (hi - lo) * 2 - 1).reshape(3, 1, 8, 8),
                               rtol=1e-5, atol=1e-6)


def test_string_and_uint8_labels_round_trip(digits, digits_test):
    X, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    net = MixupNetClassifier(max_epochs=8, mixup_alpha=0.0, random_state=0).fit(X, names[y])
    assert net.classes_.tolist() == sorted(names.tolist())
    Xt, yt = digits_test
    pred = net.predict(Xt)
    assert pred.dtype.kind == "U" and set(pred) <= set(names)
    assert net.score(Xt, names[yt]) > 0.8
    y8 = (y * 10 + 3).astype(np.uint8)
    net8 = MixupNetClassifier(max_epochs=1, random_state=0).fit(X, y8)
    assert net8.classes_.dtype == np.uint8 and net8.classes_.tolist() == list(range(3, 94, 10))
    assert set(net8.predict(X[:20]).tolist()) <= set(range(3, 94, 10))


def test_predict_with_wrong_shape_names_X(digits):
    X, y = digits
    net = MixupNetClassifier(max_epochs=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"X has rows of shape \(8, 8\).*\(64,\)"):
        net.predict(X.reshape(-1, 8, 8))


def test_reproducible_and_leaves_global_rng_alone(digits):
    X, y = digits
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = MixupNetClassifier(max_epochs=1, cutmix_alpha=1.0, augment="flip_crop",
                           random_state=3).fit(X, y)
    assert torch.equal(torch.get_rng_state(), state)
    b = MixupNetClassifier(max_epochs=1, cutmix_alpha=1.0, augment="flip_crop",
                           random_state=3).fit(X, y)
    c = MixupNetClassifier(max_epochs=1, cutmix_alpha=1.0, augment="flip_crop",
                           random_state=4).fit(X, y)
    for k, v in _weights(a).items():
        torch.testing.assert_close(v, _weights(b)[k])
    assert not torch.allclose(_weights(a)["head.weight"], _weights(c)["head.weight"])


def test_defaults_and_cosine_schedule(digits):
    X, y = digits
    net = MixupNetClassifier(max_epochs=4, random_state=0).fit(X, y)
    assert net.mixup_alpha == 1.0 and net.train_split is None and net.verbose == 0
    assert isinstance(net.optimizer_, torch.optim.SGD)
    group = net.optimizer_.param_groups[0]
    assert group["momentum"] == 0.9 and group["weight_decay"] == 5e-4
    lrs = net.history[:, "event_lr"]
    want = [0.05 * (1 + np.cos(np.pi * e / 4)) / 2 for e in range(4)]
    np.testing.assert_allclose(lrs, want, rtol=1e-6)
    const = MixupNetClassifier(max_epochs=2, lr_schedule=None, random_state=0).fit(X, y)
    assert const.optimizer_.param_groups[0]["lr"] == 0.05


def test_validation_split_reports_accuracy_on_user_labels(digits):
    X, y = digits
    labels = np.array(list("abcdefghij"))[y]
    net = MixupNetClassifier(max_epochs=3, train_split=ValidSplit(4, stratified=True),
                             random_state=0).fit(X, labels)
    assert 0.3 < net.history[-1, "valid_acc"] <= 1.0


def test_clone_set_params_and_grid_search(digits):
    X, y = digits
    net = MixupNetClassifier(max_epochs=1, module__width=8, random_state=0)
    params = net.get_params()
    assert params["module__width"] == 8 and params["optimizer__momentum"] == 0.9
    twin = clone(net)
    assert twin.get_params()["module__width"] == 8 and twin.mixup_alpha == 1.0
    twin.set_params(mixup_alpha=0.2, optimizer__momentum=0.5)
    assert twin.mixup_alpha == 0.2 and net.mixup_alpha == 1.0
    twin.fit(X, y)
    assert twin.optimizer_.param_groups[0]["momentum"] == 0.5
    search = GridSearchCV(net, {"mixup_alpha": [0.0, 1.0]}, cv=2).fit(X, y)
    assert search.best_params_["mixup_alpha"] in (0.0, 1.0)
    assert search.predict(X[:3]).shape == (3,)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda(digits):
    X, y = digits
    net = MixupNetClassifier(max_epochs=1, device="cuda", cutmix_alpha=1.0,
                             augment="flip_crop", random_state=0).fit(X, y)
    assert next(net.module_.parameters()).is_cuda
    assert net.predict(X[:5]).shape == (5,)


def test_docstring_examples():
    from synaug_learn.nets import _augment, _classifier, _losses, _mixing, _modules

    for mod in (_augment, _classifier, _mixing, _modules, _losses):
        result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, mod.__name__


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_predict_on_nan_or_inf_is_a_clear_error(digits, bad):
    X, y = digits
    net = MixupNetClassifier(max_epochs=1, random_state=0).fit(X, y)
    X_bad = X[:5].astype(np.float64)
    X_bad[3, 7] = bad
    for method in (net.predict, net.predict_proba):
        with pytest.raises(ValueError, match=r"X contains NaN or infinity \(1 value\(s\), "
                                             r"first in row 3\)"):
            method(X_bad)
    with pytest.raises(ValueError, match="NaN or infinity"):
        MixupNetClassifier(max_epochs=1).fit(X_bad, y[:5])
