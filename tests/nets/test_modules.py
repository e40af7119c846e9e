"""The modules: features + head, sizes from the data, and clear errors for mismatches."""

import numpy as np
import pytest
import torch
from torch import nn

from synaug_learn.nets import MLP, MixupNetClassifier, ResNet32, SmallCNN, get_head


@pytest.mark.parametrize(
    "module, x",
    [(SmallCNN(in_channels=3, num_classes=7), torch.randn(4, 3, 28, 28)),
     (SmallCNN(in_channels=1, num_classes=7), torch.randn(4, 1, 8, 8)),
     (ResNet32(in_channels=3, num_classes=7), torch.randn(2, 3, 32, 32)),
     (MLP(in_features=10, num_classes=7), torch.randn(4, 10))],
)
def test_forward_is_head_of_features(module, x):
    module.eval()
    feats = module.features(x)
    assert isinstance(module.head, nn.Linear)
    assert feats.shape == (x.shape[0], module.head.in_features)
    torch.testing.assert_close(module(x), module.head(feats))
    assert module(x).shape == (x.shape[0], 7)


def test_resnet32_is_the_cifar_architecture():
    net = ResNet32(num_classes=10)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) + 1 == 32  # 31 conv layers + the linear head
    assert [c.out_channels for c in convs[1::10]] == [16, 32, 64]
    assert 0.45e6 < sum(p.numel() for p in net.parameters()) < 0.48e6


def test_sizes_come_from_the_data(digits):
    X, y = digits
    rgb = np.repeat(X.reshape(-1, 8, 8, 1), 3, axis=-1)  # NHWC, 3 channels
    keep = y < 4
    net = MixupNetClassifier(max_epochs=1, random_state=0).fit(rgb[keep], y[keep])
    assert net.module_.body[0].in_channels == 3
    assert net.module_.head.out_features == 4
    mlp = MixupNetClassifier("mlp", max_epochs=1, random_state=0).fit(X, y)
    assert isinstance(mlp.module_, MLP) and mlp.module_.body[0].in_features == 64


def test_module_class_and_instance(digits):
    X, y = digits
    net = MixupNetClassifier(SmallCNN, module__width=8, max_epochs=1, random_state=0).fit(X, y)
    assert net.module_.head.in_features == 32 and net.module_.head.out_features == 10
    inst = SmallCNN(in_channels=1, num_classes=10, width=4)
    net = MixupNetClassifier(inst, max_epochs=1, random_state=0).fit(X, y)
    assert net.module_ is inst


def test_unknown_module_name():
    X, y = np.zeros((4, 64)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"module='resnet18' is not one of"):
        MixupNetClassifier("resnet18").fit(X, y)


def test_mismatched_module_is_a_clear_error_not_a_torch_one(digits):
    X, y = digits
    with pytest.raises(ValueError, match=r"module=SmallCNN.*cannot process"):
        MixupNetClassifier(SmallCNN(in_channels=3, num_classes=10), max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=r"returns shape \(2, 4\).*10 classes"):
        MixupNetClassifier(SmallCNN(in_channels=1, num_classes=4), max_epochs=1).fit(X, y)


def test_tabular_rows_need_mlp_or_image_shape():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 12)
    y = (X[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match="image_shape"):
        MixupNetClassifier(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="image_shape"):
        MixupNetClassifier(max_epochs=1, image_shape=(5, 5)).fit(X, y)
    net = MixupNetClassifier(max_epochs=1, image_shape=(3, 4), random_state=0).fit(X, y)
    assert net.module_.body[0].in_channels == 1
    mlp = MixupNetClassifier("mlp", max_epochs=30, lr=0.05, random_state=0).fit(X, y)
    assert mlp.score(X, y) > 0.9
    with pytest.raises(ValueError, match="cutmix_alpha"):
        MixupNetClassifier("mlp", cutmix_alpha=1.0).fit(X, y)


@pytest.mark.parametrize("module", [SmallCNN(), ResNet32(), MLP()])
def test_each_module_names_its_head(module):
    name, layer = get_head(module)
    assert name == type(module).head_name == "head"
    assert layer is module.head


def test_get_head_names_what_to_add():
    with pytest.raises(TypeError, match=r"Bare.*add the class attribute `head_name = "):
        get_head(type("Bare", (nn.Module,), {})())
    plain = nn.Sequential(nn.Linear(2, 2))
    plain.head_name = "0"  # set on an instance, e.g. a torchvision model
    assert get_head(plain)[1] is plain[0]
