"""The style transform behind the domain-shifted generator (``stylize_images``)."""

import numpy as np
import pytest

from synaug_learn.datasets import IMAGE_STYLES, stylize_images


def _images(n=6, seed=0):
    rng = np.random.RandomState(seed)
    X = np.zeros((n, 28, 28), dtype=np.uint8)
    X[:, 6:22, 8:20] = rng.randint(80, 256, size=(n, 16, 12))
    return X


@pytest.mark.parametrize("style", sorted(IMAGE_STYLES))
def test_shape_dtype_range_and_determinism(style):
    X = _images()
    S = stylize_images(X, style)
    assert S.shape == X.shape and S.dtype == np.uint8
    assert S.min() >= 0 and S.max() <= 255
    assert np.array_equal(S, stylize_images(X.copy(), style))  # no randomness
    assert not np.array_equal(S, X)  # the style changes the pixels
    # one image alone is styled as it is in a batch (no batch statistics)
    assert np.array_equal(stylize_images(X[2], style), S[2])
    assert not np.shares_memory(S, X)


def test_texture_is_the_documented_formula():
    X = _images()
    x = X.astype(np.float64) / 255
    rows, cols = np.mgrid[0:28, 0:28]
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (rows + cols) / 6)
    expected = np.rint(np.clip(0.6 * x + 0.2 * stripes, 0, 1) * 255).astype(np.uint8)
    assert np.array_equal(stylize_images(X, "texture"), expected)
    assert stylize_images(X).tolist() == expected.tolist()  # the default style


def test_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="style='cartoon'"):
        stylize_images(_images(), "cartoon")
    with pytest.raises(ValueError, match="uint8"):
        stylize_images(_images().astype(np.float32), "texture")
    with pytest.raises(ValueError, match="shape"):
        stylize_images(np.zeros((2, 28, 28, 1), dtype=np.uint8), "texture")
