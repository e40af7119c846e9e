"""SynAugSampler(generator=None): the generator is chosen by the data, and says what it costs."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

import synaug_learn._default as default
from synaug_learn import SynAugSampler
from synaug_learn.generators import ConditionalDiffusionGenerator
from synaug_learn.generators._pretrained import describe_pretrained

FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"]


def choose(X, y, n_new=40, verbose="auto", groups=None):
    """The sampler's choice and the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gen, level = SynAugSampler(verbose=verbose)._check_generator_param(
            np.asarray(X), np.asarray(y), n_new, groups)
    return gen, level, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


@pytest.fixture(scope="module")
def fashion_like():
    """Images near the shipped model's class means (Fashion-MNIST-like), 20 per class."""
    means = describe_pretrained("fashion-mnist-small")["class_means"][:, 0]  # (10, 28, 28)
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(10), 20)
    X = np.clip(means[y] * 255 + rng.normal(0, 30, size=(len(y), 28, 28)), 0, 255)
    return X.astype(np.uint8), y


def test_digits_get_an_in_domain_model_with_a_budget_that_scales_and_one_warning():
    X, y = load_digits(return_X_y=True)  # 2-D rows of 64 features: 8x8 grey images
    gen, level, said = choose(X, y)
    assert isinstance(gen, ConditionalDiffusionGenerator) and gen.pretrained is None
    assert gen.max_steps == 281 == -(-5 * 1797 // 32) and gen.max_minutes == 30
    assert gen.block_out_channels == (16, 32) and level == 1 and gen.verbose == 1
    assert len(said) == 1
    assert "281 steps" in said[0] and "minutes on a 2-core CPU" in said[0]
    assert "mostly copies" in said[0] and "report_" in said[0]
    assert choose(X, y, verbose=0)[0].verbose == 0  # verbose=0 silences the progress bar
    assert default.in_domain_steps(100) == 100  # at least 100 steps
    assert default.in_domain_steps(1_000_000) == 2000  # the stated cap


def test_images_a_shipped_generator_covers_get_it(fashion_like):
    X, y = fashion_like
    gen, _, said = choose(X, y)
    assert gen.pretrained == "fashion-mnist-small" and gen.class_mapping is None
    assert said == []  # 40 images: nothing long to announce
    gen, _, _ = choose(X, np.array(FASHION_NAMES)[y])  # class names instead of indices
    assert gen.pretrained == "fashion-mnist-small"
    assert gen.class_mapping == {name: i for i, name in enumerate(FASHION_NAMES)}
    gen, _, said = choose(X, y, n_new=5000)
    assert gen.pretrained == "fashion-mnist-small" and "about" in said[0]


def test_when_in_doubt_the_shipped_generator_is_not_used(fashion_like):
    X, y = fashion_like
    wrong_labels = (y + 1) % 10  # same images, labels that disagree with the model's classes
    assert choose(X, wrong_labels)[0].pretrained is None
    assert choose(X[:, :20, :20], y)[0].pretrained is None  # another image size
    assert choose(X, np.where(y == 9, 10, y))[0].pretrained is None  # label 10 is unknown
    assert choose(X, np.array(["cat", "dog"] * 100))[0].pretrained is None
    # (class, group) cells are not the shipped model's strata
    assert choose(X, y, groups=np.array(["a", "b"] * 100))[0].pretrained is None
    # Digits resized to 28x28 and labelled 0-9 are not Fashion-MNIST classes 0-9.
    import torch

    digits = load_digits()
    x = torch.nn.functional.interpolate(torch.tensor(digits.images[:300, None] / 16 * 255),
                                        size=(28, 28), mode="bilinear")[:, 0].numpy()
    assert choose(x.astype(np.uint8), digits.target[:300])[0].pretrained is None


def test_tables_get_the_tabular_generator_silently():
    X = np.random.RandomState(0).rand(30, 5)
    gen, level, warned = choose(X, [0] * 20 + [1] * 10)
    assert type(gen).__name__ == "TabularDiffusionGenerator"
    assert (level, warned) == (0, [])


def test_default_end_to_end_small_budget(monkeypatch, capsys):
    """The whole default path on 40 tiny images, with the budget constants made tiny."""
    monkeypatch.setattr(default, "IN_DOMAIN_MIN_STEPS", 2)
    monkeypatch.setattr(default, "IN_DOMAIN_EPOCHS", 0.01)
    monkeypatch.setitem(default.IN_DOMAIN_PARAMS, "num_inference_steps", 2)
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(40, 8, 8)).astype(np.uint8)
    y = np.array([0] * 30 + [1] * 10)
    sampler = SynAugSampler(report=False, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        X_res, y_res = sampler.fit_resample(X, y)
    said = [str(w.message) for w in caught if "generator=None" in str(w.message)]
    assert len(said) == 1 and "2 steps" in said[0]
    assert X_res.shape == (60, 8, 8) and sampler.generator_.n_train_steps_ == 2
    assert "training generator" not in capsys.readouterr().err  # about 1 s: no bar
    sampler.set_params(verbose=1).fit_resample(X, y)
    assert "training generator" in capsys.readouterr().err
