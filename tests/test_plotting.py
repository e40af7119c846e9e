import doctest

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

import synaug_learn.plotting as plotting  # noqa: E402
from synaug_learn.plotting import (  # noqa: E402
    plot_class_distribution,
    plot_per_class_accuracy,
    plot_samples,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_public_api_and_doctests():
    assert set(plotting.__all__) == {
        "plot_class_distribution", "plot_samples", "plot_per_class_accuracy"}
    result = doctest.testmod(plotting)
    assert result.attempted > 0 and result.failed == 0


def test_class_distribution_before_only(tmp_path):
    y = np.array([0] * 50 + [1] * 5 + [2] * 1)
    ax = plot_class_distribution(y, class_names=["zero", "one", "two"], log=True)
    assert [p.get_height() for p in ax.patches] == [50, 5, 1]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["zero", "one", "two"]
    assert ax.get_yscale() == "log"
    ax.figure.savefig(tmp_path / "dist.png")
    assert is_png(tmp_path / "dist.png")


def test_class_distribution_before_after_stacks_the_synthetic_share():
    y_before = np.array([0] * 50 + [1] * 5 + [2] * 1)
    y_after = np.concatenate([y_before, [1] * 45, [2] * 24])
    fig, ax = plt.subplots()
    out = plot_class_distribution(y_before, y_after, ax=ax, class_names={2: "tail"})
    assert out is ax
    heights = [p.get_height() for p in ax.patches]
    bottoms = [p.get_y() for p in ax.patches]
    assert heights == [50, 5, 1, 0, 45, 24]  # original bars, then added bars stacked on them
    assert bottoms[3:] == [50, 5, 1]
    assert [t.get_text() for t in ax.texts] == ["90%", "96%"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "tail"]
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {
        "original", "added (synthetic)"}


def test_class_names_errors():
    with pytest.raises(ValueError, match="class_names has 2 names"):
        plot_class_distribution([0, 1, 5], class_names=["a", "b"])
    with pytest.raises(TypeError, match="class_names must be"):
        plot_class_distribution([0, 1], class_names="ab")
    with pytest.raises(ValueError, match="y_before must be 1-D"):
        plot_class_distribution(np.zeros((2, 2)))


@pytest.mark.parametrize("layout", ["hw", "nhwc1", "nhwc3", "nchw", "flat", "float"])
def test_samples_grid_handles_layouts(layout, tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(30, 8, 8, 3), dtype=np.uint8)
    y = np.repeat([0, 1, 2], 10)
    X = {"hw": imgs[..., 0], "nhwc1": imgs[..., :1], "nhwc3": imgs,
         "nchw": imgs.transpose(0, 3, 1, 2), "flat": imgs[..., 0].reshape(30, 64),
         "float": imgs[..., 0] / 255.0}[layout]
    ax = plot_samples(X, y, n_per_class=4)
    (image,) = ax.images
    canvas = image.get_array()
    assert canvas.shape == (3 * 9 + 1, 4 * 9 + 1, 4)
    # Cell (row 1, col 2) is the third image of class 1 (row 12), scaled to [0, 1].
    cell = canvas[1 + 9:1 + 9 + 8, 1 + 2 * 9:1 + 2 * 9 + 8]
    expected = imgs[12].astype(np.float32) / 255.0
    if layout == "nhwc3" or layout == "nchw":
        np.testing.assert_allclose(cell[..., :3], expected, atol=1e-6)
    else:
        np.testing.assert_allclose(cell[..., 0], expected[..., 0], atol=1e-2)
        np.testing.assert_allclose(cell[..., 1], cell[..., 0])
    n_images = int(canvas[1::9, 1::9, 3].sum())
    assert n_images == 12
    ax.figure.savefig(tmp_path / "grid.png")
    assert is_png(tmp_path / "grid.png")


def test_samples_grid_with_short_classes_and_synthetic_mask():
    X = np.zeros((13, 6, 6), dtype=np.uint8)
    y = np.array([0] * 8 + [1] * 2 + [1] * 3)
    mask = np.array([False] * 10 + [True] * 3)
    ax = plot_samples(X, y, n_per_class=4, synthetic_mask=mask, class_names=["a", "b"])
    canvas = ax.images[0].get_array()
    occupied = canvas[1::7, 1::7, 3]
    assert occupied.tolist() == [[1, 1, 1, 1], [1, 1, 1, 1]]
    frames = [p for p in ax.patches if isinstance(p, Rectangle)]
    # class 1: 2 real + 2 of its 3 synthetic images, the synthetic ones framed, placed last
    assert len(frames) == 2
    assert sorted(p.get_x() for p in frames) == [1 + 2 * 7 - 0.5, 1 + 3 * 7 - 0.5]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    ax2 = plot_samples(X[:9], y[:9], n_per_class=4)
    assert ax2.images[0].get_array()[1::7, 1::7, 3].tolist() == [[1, 1, 1, 1], [1, 0, 0, 0]]
    assert not [p for p in ax2.patches if isinstance(p, Rectangle)]


def test_samples_random_state_changes_the_choice():
    X = np.arange(40 * 4, dtype=np.uint8).reshape(40, 2, 2)
    y = np.zeros(40, dtype=int)
    first = plot_samples(X, y, n_per_class=3).images[0].get_array()
    again = plot_samples(X, y, n_per_class=3, random_state=0).images[0].get_array()
    same = plot_samples(X, y, n_per_class=3, random_state=0).images[0].get_array()
    np.testing.assert_array_equal(again, same)
    assert not np.array_equal(first, again)


def test_samples_errors():
    with pytest.raises(ValueError, match="not a square image; pass image_shape"):
        plot_samples(np.zeros((4, 10)), [0, 0, 1, 1])
    ax = plot_samples(np.zeros((4, 10)), [0, 0, 1, 1], image_shape=(2, 5))
    assert ax.images[0].get_array().shape == (2 * 3 + 1, 8 * 6 + 1, 4)
    with pytest.raises(ValueError, match="y must have one label per image"):
        plot_samples(np.zeros((4, 8, 8)), [0, 1])
    with pytest.raises(ValueError, match="synthetic_mask must be a boolean array"):
        plot_samples(np.zeros((4, 8, 8)), [0, 0, 1, 1], synthetic_mask=[0, 1, 0, 1])
    with pytest.raises(ValueError, match="n_per_class must be an int >= 1; got 0"):
        plot_samples(np.zeros((4, 8, 8)), [0, 0, 1, 1], n_per_class=0)


def test_per_class_accuracy(tmp_path):
    results = {"CE": {0: 0.9, 1: 0.5, 2: 0.2},
               "SynAuG": {0: 0.95, 1: 0.8, 2: 0.7},
               "partial": {2: 0.4}}
    ax = plot_per_class_accuracy(results, class_names=["t-shirt", "trouser", "bag"])
    assert len(ax.patches) == 7
    heights = sorted(round(p.get_height(), 2) for p in ax.patches)
    assert heights == [0.2, 0.4, 0.5, 0.7, 0.8, 0.9, 0.95]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["CE (mean 0.533)", "SynAuG (mean 0.817)", "partial (mean 0.400)"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["t-shirt", "trouser", "bag"]
    ax.figure.savefig(tmp_path / "acc.png")
    assert is_png(tmp_path / "acc.png")


def test_per_class_accuracy_legend_covers_no_bar(tmp_path):
    """Seven methods over ten classes, as in the demo: the legend sits beside the bars."""
    rng = np.random.RandomState(0)
    results = {f"method_number_{m}": dict(enumerate(rng.rand(10))) for m in range(7)}
    fig, ax = plt.subplots(figsize=(12, 4))
    plot_per_class_accuracy(results, ax=ax)
    fig.tight_layout()
    fig.savefig(tmp_path / "acc.png")
    legend = ax.get_legend().get_window_extent()
    bars = [p.get_window_extent() for p in ax.patches]
    assert len(bars) == 70
    assert not any(legend.overlaps(b) for b in bars)
    assert legend.x0 >= ax.get_window_extent().x1  # right of the axes
    assert legend.x1 <= fig.bbox.x1 + 1  # and still inside the saved figure


def test_per_class_accuracy_errors():
    with pytest.raises(TypeError, match="results must be a non-empty dict"):
        plot_per_class_accuracy([0.5])
    with pytest.raises(TypeError, match=r"results\['CE'\] must be a dict"):
        plot_per_class_accuracy({"CE": [0.5]})
    with pytest.raises(TypeError, match=r"results\['CE'\]\[1\] must be a number"):
        plot_per_class_accuracy({"CE": {1: "high"}})
