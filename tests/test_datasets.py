"""Tests for synaug_learn.datasets: file formats are written in their real layout and read back."""

import doctest
import gzip
import importlib
import io
import json
import math
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from synaug_learn.datasets import (
    FASHION_MNIST_CLASSES,
    load_cifar100,
    load_cifar100_lt,
    load_digits_lt,
    load_fashion_mnist,
    load_fashion_mnist_lt,
    load_image_folder,
    load_utkface,
    long_tailed_counts,
    make_long_tailed,
    make_spurious_colour,
    read_idx,
    train_pool_split,
    write_image_folder,
)

FMNIST_HOME = Path("/usr/share/datasets/fashion-mnist")
needs_fmnist = pytest.mark.skipif(
    not (FMNIST_HOME / "train-images-idx3-ubyte.gz").is_file(),
    reason="Debian's dataset-fashion-mnist is not installed",
)


def _indexed_data(counts, shape=(2, 3)):
    """X whose row i is filled with i (so rows can be traced), y with `counts[c]` rows of c."""
    y = np.repeat(np.arange(len(counts)), counts)
    X = np.broadcast_to(
        np.arange(len(y), dtype=float).reshape(-1, *[1] * len(shape)), (len(y), *shape)
    ).copy()
    return X, y


# --------------------------------------------------------------------------- long-tailed


@pytest.mark.parametrize(
    "n_classes, n_max, imbalance_factor, total",
    [  # published training-set sizes of CIFAR-10-LT and CIFAR-100-LT (Cao et al., 2019)
        (10, 5000, 100, 12406),
        (10, 5000, 50, 13996),
        (10, 5000, 10, 20431),
        (100, 500, 100, 10847),
        (100, 500, 50, 12608),
        (100, 500, 10, 19573),
    ],
)
def test_long_tailed_counts_match_published_cifar_lt_sizes(
    n_classes, n_max, imbalance_factor, total
):
    counts = long_tailed_counts(n_classes, imbalance_factor, n_max)
    assert counts.sum() == total
    assert counts[0] == n_max
    assert counts[-1] == n_max // imbalance_factor
    assert np.all(np.diff(counts) <= 0)


def test_make_long_tailed_exponential_counts_and_rows():
    # 16 ** (-i / 4) = 2 ** -i: the counts halve at each step.
    X, y = _indexed_data([200, 210, 220, 230, 240], shape=(3, 4, 4))
    X_lt, y_lt, idx = make_long_tailed(X, y, 16, random_state=0, return_indices=True)
    assert np.bincount(y_lt).tolist() == [200, 100, 50, 25, 12]
    assert X_lt.shape == (387, 3, 4, 4)
    assert np.all(np.diff(idx) > 0)  # sorted, no duplicates
    np.testing.assert_array_equal(X_lt[:, 0, 0, 0], idx)  # row i of X was filled with i
    np.testing.assert_array_equal(y_lt, y[idx])


def test_make_long_tailed_step_profile():
    X, y = _indexed_data([50] * 5)
    _, y_lt = make_long_tailed(X, y, 4, profile="step", n_max=40, random_state=0)
    assert np.bincount(y_lt).tolist() == [40, 40, 10, 10, 10]
    X, y = _indexed_data([50] * 4)
    _, y_lt = make_long_tailed(X, y, 3, profile="step", random_state=0)
    assert np.bincount(y_lt).tolist() == [50, 50, 16, 16]


def test_make_long_tailed_imbalance_factor_one_is_balanced_and_works_on_2d():
    X = np.arange(40).reshape(20, 2)
    y = np.array(["b", "a"] * 10)
    X_lt, y_lt = make_long_tailed(X, y, 1, n_max=7, random_state=0)
    assert X_lt.shape == (14, 2)
    assert (y_lt == "a").sum() == 7 and (y_lt == "b").sum() == 7


def test_make_long_tailed_random_state():
    X, y = _indexed_data([100] * 4)
    a = make_long_tailed(X, y, 10, random_state=3, return_indices=True)[2]
    b = make_long_tailed(X, y, 10, random_state=3, return_indices=True)[2]
    c = make_long_tailed(X, y, 10, random_state=4, return_indices=True)[2]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_make_long_tailed_class_order():
    X, y = _indexed_data([100] * 4)
    _, y_lt = make_long_tailed(X, y, 10, class_order=[2, 0, 3, 1], random_state=0)
    # positions 0..3 get 100, 46, 21, 10 (10 ** (-1/3) = 0.464..., 10 ** (-2/3) = 0.215...)
    assert np.bincount(y_lt).tolist() == [46, 10, 100, 21]

    heads = set()
    for seed in range(6):
        _, y_lt = make_long_tailed(X, y, 10, class_order="shuffle", random_state=seed)
        counts = np.bincount(y_lt, minlength=4)
        assert sorted(counts.tolist()) == [10, 21, 46, 100]
        heads.add(int(np.argmax(counts)))
    assert len(heads) > 1  # the head class moves with the seed


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"imbalance_factor": 0.5}, "imbalance_factor"),
        ({"imbalance_factor": 10, "profile": "linear"}, "profile"),
        ({"imbalance_factor": 10, "n_max": 101}, "n_max=101 asks for 101 rows of class 0"),
        ({"imbalance_factor": 10, "n_max": 0}, "n_max"),
        ({"imbalance_factor": 200}, "imbalance_factor=200 with n_max=100 leaves"),
        ({"imbalance_factor": 10, "class_order": [0, 1, 1]}, "class_order"),
        ({"imbalance_factor": 10, "class_order": [0, 1, 5]}, "class_order"),
        ({"imbalance_factor": 10, "class_order": "random"}, "class_order"),
    ],
)
def test_make_long_tailed_errors(kwargs, match):
    X, y = _indexed_data([100, 100, 100])
    with pytest.raises(ValueError, match=match):
        make_long_tailed(X, y, **kwargs)


def test_make_long_tailed_needs_two_classes_and_matching_lengths():
    with pytest.raises(ValueError, match="at least 2 classes"):
        make_long_tailed(np.zeros((5, 2)), np.zeros(5), 10)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        make_long_tailed(np.zeros((5, 2)), np.array([0, 1, 0, 1]), 10)
    with pytest.raises(ValueError, match="y must be 1-D"):
        make_long_tailed(np.zeros((4, 2)), np.zeros((4, 2)), 10)


def test_train_pool_split():
    X, y = _indexed_data([10, 12, 15])
    X_rest, y_rest, X_pool, y_pool = train_pool_split(X, y, 4, random_state=0)
    assert np.bincount(y_pool).tolist() == [4, 4, 4]
    assert np.bincount(y_rest).tolist() == [6, 8, 11]
    pool_ids, rest_ids = X_pool[:, 0, 0], X_rest[:, 0, 0]
    assert not set(pool_ids) & set(rest_ids)
    assert sorted([*pool_ids, *rest_ids]) == list(range(37))
    np.testing.assert_array_equal(y[pool_ids.astype(int)], y_pool)

    empty = train_pool_split(X, y, 0)
    assert len(empty[2]) == 0 and len(empty[0]) == 37
    with pytest.raises(ValueError, match="pool_per_class=11 but class 0 has only 10 rows"):
        train_pool_split(X, y, 11)
    with pytest.raises(ValueError, match="pool_per_class"):
        train_pool_split(X, y, -1)


# --------------------------------------------------------------------------- digits


def test_load_digits_lt_reproduces_findings_split():
    # FINDINGS.md sections 1-2: IF=50 gives head 104, tails 4, 3, 2 and a 791-image pool.
    data = load_digits_lt(imbalance_factor=50, pool=True, random_state=0)
    assert np.bincount(data.y_train).tolist() == [104, 67, 43, 28, 18, 11, 7, 4, 3, 2]
    assert data.X_train.shape == (287, 8, 8) and data.X_train.dtype == np.float64
    assert data.X_pool.shape == (791, 8, 8)
    assert data.X_test.shape == (719, 8, 8)
    assert data.X_train.min() == 0 and data.X_train.max() == 16
    # Long-tailed subset + pool + test = all of the digits, class by class.
    counts = np.bincount(data.y_train) + np.bincount(data.y_pool) + np.bincount(data.y_test)
    np.testing.assert_array_equal(counts, np.bincount(load_digits().target))
    assert data.target_names.tolist() == list(range(10))

    plain = load_digits_lt(imbalance_factor=50, random_state=0)
    assert plain.X_pool is None and plain.y_pool is None
    np.testing.assert_array_equal(plain.X_train, data.X_train)


def test_load_digits_lt_step_and_errors():
    data = load_digits_lt(imbalance_factor=4, profile="step", random_state=1)
    counts = np.bincount(data.y_train)
    assert len(set(counts[:5])) == 1 and len(set(counts[5:])) == 1
    assert counts[5] == counts[0] // 4
    with pytest.raises(ValueError, match="imbalance_factor"):
        load_digits_lt(imbalance_factor=0)
    with pytest.raises(ValueError, match="test_size"):
        load_digits_lt(test_size=1.5)


# --------------------------------------------------------------------------- Fashion-MNIST


def _write_idx(path, array, magic=None, compress=True):
    array = np.asarray(array, dtype=np.uint8)
    magic = 0x0800 | array.ndim if magic is None else magic
    header = struct.pack(">i", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def _write_fake_fmnist(folder, n_train=6, n_test=4, compress=True):
    rng = np.random.RandomState(0)
    out = {}
    for prefix, n in [("train", n_train), ("t10k", n_test)]:
        X = rng.randint(0, 256, size=(n, 28, 28))
        y = np.arange(n) % 10
        suffix = ".gz" if compress else ""
        _write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", X, compress=compress)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", y, compress=compress)
        out[prefix] = (X, y)
    return out


@pytest.mark.parametrize("compress", [True, False])
def test_load_fashion_mnist_reads_idx_files(tmp_path, compress):
    written = _write_fake_fmnist(tmp_path, compress=compress)
    X, y = load_fashion_mnist("train", data_home=tmp_path)
    assert X.dtype == np.uint8 and X.shape == (6, 28, 28)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(X, written["train"][0])
    np.testing.assert_array_equal(y, written["train"][1])
    bunch = load_fashion_mnist("test", data_home=str(tmp_path), return_X_y=False)
    np.testing.assert_array_equal(bunch.data, written["t10k"][0])
    np.testing.assert_array_equal(bunch.target, [0, 1, 2, 3])
    assert bunch.target_names[bunch.target].tolist() == [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
    ]
    assert "Fashion-MNIST" in bunch.DESCR


def test_read_idx_other_shapes(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a.gz", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz", expected_magic=2051), array)


def test_load_fashion_mnist_wrong_magic_names_the_file(tmp_path):
    _write_fake_fmnist(tmp_path)
    labels = tmp_path / "train-labels-idx1-ubyte.gz"
    _write_idx(labels, np.zeros((6, 28, 28)))  # an images file (2051) where labels belong
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz.*magic number 2051"):
        load_fashion_mnist(data_home=tmp_path)


def test_load_fashion_mnist_corrupt_files(tmp_path):
    _write_fake_fmnist(tmp_path)
    images = tmp_path / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(images.read_bytes())
    images.write_bytes(gzip.compress(raw[:-10]))
    with pytest.raises(ValueError, match=r"declares shape \(6, 28, 28\).*holds 4694 bytes"):
        load_fashion_mnist(data_home=tmp_path)
    images.write_bytes(b"not a gzip file at all")
    with pytest.raises(ValueError, match="could not read idx file"):
        load_fashion_mnist(data_home=tmp_path)
    _write_idx(images, np.zeros((5, 28, 28)))  # 5 images, 6 labels
    with pytest.raises(ValueError, match="holds 5 images but .* holds 6 labels"):
        load_fashion_mnist(data_home=tmp_path)


def test_load_fashion_mnist_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(data_home=tmp_path)
    with pytest.raises(ValueError, match="subset"):
        load_fashion_mnist(subset="validation", data_home=tmp_path)


@needs_fmnist
def test_real_fashion_mnist_long_tailed_if100():
    X, y = load_fashion_mnist("train")
    assert X.shape == (60000, 28, 28) and X.dtype == np.uint8
    assert np.bincount(y).tolist() == [6000] * 10
    assert len(FASHION_MNIST_CLASSES) == 10
    X_lt, y_lt = make_long_tailed(X, y, imbalance_factor=100, random_state=0)
    expected = [math.floor(6000 * 100 ** (-i / 9)) for i in range(10)]
    assert np.bincount(y_lt).tolist() == expected
    assert expected[0] == 6000 and expected[-1] == 60
    assert X_lt.shape == (sum(expected), 28, 28)


@needs_fmnist
def test_real_fashion_mnist_lt_loader_with_pool():
    data = load_fashion_mnist_lt(imbalance_factor=100, pool_per_class=1000, random_state=0)
    # n_max = 6000 - 1000: the CIFAR-10-LT sizes.
    cifar10_lt_if100 = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    assert np.bincount(data.y_train).tolist() == cifar10_lt_if100
    assert data.X_pool.shape == (10000, 28, 28)
    assert np.bincount(data.y_pool).tolist() == [1000] * 10
    assert data.X_test.shape == (10000, 28, 28)
    assert np.bincount(data.y_test).tolist() == [1000] * 10
    assert data.target_names[0] == "T-shirt/top"


def test_fashion_mnist_lt_on_fake_files(tmp_path):
    _write_fake_fmnist(tmp_path, n_train=60, n_test=10)  # 6 rows of each class
    data = load_fashion_mnist_lt(imbalance_factor=4, pool_per_class=2, data_home=tmp_path)
    assert np.bincount(data.y_pool).tolist() == [2] * 10
    # n_max = 6 - 2 = 4; counts floor(4 * 4 ** (-i / 9)).
    assert np.bincount(data.y_train).tolist() == [4, 3, 2, 2, 2, 1, 1, 1, 1, 1]
    pool_rows = {r.tobytes() for r in data.X_pool}
    assert not pool_rows & {r.tobytes() for r in data.X_train}
    no_pool = load_fashion_mnist_lt(imbalance_factor=2, n_max=3, data_home=tmp_path)
    assert no_pool.X_pool is None and no_pool.y_pool is None
    assert len(no_pool.y_test) == 10


# --------------------------------------------------------------------------- CIFAR-100


def _fake_cifar_batch(n, seed):
    rng = np.random.RandomState(seed)
    return {
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
        b"batch_label": b"training batch 1 of 1",
        b"fine_labels": [int(v) for v in rng.randint(0, 100, n)],
        b"coarse_labels": [int(v) for v in rng.randint(0, 20, n)],
        b"data": rng.randint(0, 256, size=(n, 3072)).astype(np.uint8),
    }


_META = {
    b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
    b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)],
}


@pytest.fixture
def cifar_files(tmp_path):
    batches = {"train": _fake_cifar_batch(12, 0), "test": _fake_cifar_batch(5, 1), "meta": _META}
    folder = tmp_path / "extracted" / "cifar-100-python"
    folder.mkdir(parents=True)
    archive = tmp_path / "archive" / "cifar-100-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        for name, obj in batches.items():
            raw = pickle.dumps(obj, protocol=2)
            (folder / name).write_bytes(raw)
            info = tarfile.TarInfo(f"cifar-100-python/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return batches, folder, archive


def test_load_cifar100_all_layouts_agree(cifar_files):
    batches, folder, archive = cifar_files
    planar = batches["train"][b"data"]
    for root in [folder, folder.parent, archive, archive.parent, str(archive)]:
        X, y = load_cifar100(root)
        assert X.shape == (12, 32, 32, 3) and X.dtype == np.uint8
        assert y.dtype == np.int64
        np.testing.assert_array_equal(y, batches["train"][b"fine_labels"])
        # channel-planar -> channels-last: X[i, r, c, ch] = data[i, ch * 1024 + r * 32 + c]
        assert X[3, 5, 7, 0] == planar[3, 0 * 1024 + 5 * 32 + 7]
        assert X[3, 5, 7, 2] == planar[3, 2 * 1024 + 5 * 32 + 7]
        np.testing.assert_array_equal(X[:, :, :, 1].reshape(12, -1), planar[:, 1024:2048])


def test_load_cifar100_coarse_bunch_and_test(cifar_files):
    batches, folder, archive = cifar_files
    bunch = load_cifar100(archive, subset="test", label_type="coarse", return_X_y=False)
    np.testing.assert_array_equal(bunch.target, batches["test"][b"coarse_labels"])
    np.testing.assert_array_equal(bunch.fine_target, batches["test"][b"fine_labels"])
    assert bunch.target_names.tolist() == [f"coarse{i}" for i in range(20)]
    assert bunch.fine_names[7] == "fine7"
    assert bunch.data.shape == (5, 32, 32, 3)


def test_load_cifar100_lt_on_fake_archive(tmp_path):
    # 3 rows of every fine class; long-tailed with n_max=3, IF=3.
    batch = _fake_cifar_batch(300, 0)
    batch[b"fine_labels"] = [i % 100 for i in range(300)]
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for name, obj in [("train", batch), ("test", _fake_cifar_batch(7, 1)), ("meta", _META)]:
        (folder / name).write_bytes(pickle.dumps(obj, protocol=2))
    data = load_cifar100_lt(tmp_path, imbalance_factor=3, n_max=3)
    expected = [math.floor(3 * 3 ** (-i / 99)) for i in range(100)]
    assert np.bincount(data.y_train, minlength=100).tolist() == expected
    assert data.X_train.shape == (sum(expected), 32, 32, 3)
    assert data.X_test.shape == (7, 32, 32, 3)
    assert data.target_names[99] == "fine99"
    with pytest.raises(ValueError, match="n_max=500 asks for 500 rows"):
        load_cifar100_lt(tmp_path)


def test_load_cifar100_errors(tmp_path, cifar_files):
    with pytest.raises(FileNotFoundError, match="cifar-100-python"):
        load_cifar100(tmp_path / "nowhere")
    bad = tmp_path / "bad" / "cifar-100-python"
    bad.mkdir(parents=True)
    for name in ("train", "test", "meta"):
        (bad / name).write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"\[train\] is not a CIFAR-100 python pickle"):
        load_cifar100(bad)
    with pytest.raises(ValueError, match="label_type"):
        load_cifar100(cifar_files[1], label_type="medium")


# --------------------------------------------------------------------------- image folders


def _save_png(path, colour, size=(5, 4)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def test_load_image_folder(tmp_path):
    _save_png(tmp_path / "zebra" / "b.png", (10, 20, 30))
    _save_png(tmp_path / "zebra" / "a.png", (40, 50, 60))
    _save_png(tmp_path / "ant" / "x.PNG", (70, 80, 90))
    (tmp_path / "ant" / "notes.txt").write_text("not an image")
    _save_png(tmp_path / "ant" / ".hidden.png", (0, 0, 0))
    X, y = load_image_folder(tmp_path)
    assert X.shape == (3, 4, 5, 3) and X.dtype == np.uint8
    assert y.tolist() == [0, 1, 1]  # "ant" < "zebra"; files sorted within a class
    assert X[:, 0, 0].tolist() == [[70, 80, 90], [40, 50, 60], [10, 20, 30]]

    bunch = load_image_folder(tmp_path, image_size=(6, 2), color_mode="grayscale", return_X_y=False)
    assert bunch.data.shape == (3, 6, 2)
    assert bunch.target_names.tolist() == ["ant", "zebra"]
    assert bunch.filenames.tolist() == ["ant/x.PNG", "zebra/a.png", "zebra/b.png"]
    # PIL's L = (299 R + 587 G + 114 B) / 1000
    assert bunch.data[2, 0, 0] == round((299 * 10 + 587 * 20 + 114 * 30) / 1000)
    assert load_image_folder(tmp_path, image_size=3)[0].shape == (3, 3, 3, 3)


def test_write_image_folder_round_trips_and_lists_the_synthetic_rows(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(5, 4, 6, 3)).astype(np.uint8)
    y = np.array([1, 0, 1, 1, 0])
    mask = np.array([False, False, True, True, False])
    manifest = write_image_folder(
        tmp_path / "out", X, y, class_names=["ant", "zebra"],
        filenames=["zebra/a.png", "ant/x.png", "", "", "ant/y.png"], synthetic_mask=mask,
        metadata={"seed": 3})
    assert manifest == {"seed": 3, "class_folders": {"zebra": "zebra", "ant": "ant"}, "files": [
        {"file": "zebra/synthetic_00000.png", "class": "zebra", "row": 0},
        {"file": "zebra/synthetic_00001.png", "class": "zebra", "row": 1}]}
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == manifest
    bunch = load_image_folder(tmp_path / "out", return_X_y=False)
    assert bunch.filenames.tolist() == ["ant/x.png", "ant/y.png", "zebra/a.png",
                                        "zebra/synthetic_00000.png", "zebra/synthetic_00001.png"]
    np.testing.assert_array_equal(bunch.data, X[[1, 4, 0, 2, 3]])  # PNG is lossless
    # grey images, with or without a channel axis; labels as folder names
    grey = X[:2, :, :, :1]
    write_image_folder(tmp_path / "grey", grey, [7, 7])
    back, labels = load_image_folder(tmp_path / "grey", color_mode="grayscale")
    assert sorted(p.name for p in (tmp_path / "grey" / "7").iterdir()) == ["0.png", "1.png"]
    np.testing.assert_array_equal(back, grey[..., 0])


def test_write_image_folder_errors(tmp_path):
    X = np.zeros((2, 4, 4), dtype=np.uint8)
    write_image_folder(tmp_path / "full", X, [0, 1])
    with pytest.raises(ValueError, match="path=.*full' exists and is not empty"):
        write_image_folder(tmp_path / "full", X, [0, 1])
    with pytest.raises(ValueError, match="X must be uint8 images"):
        write_image_folder(tmp_path / "a", X.astype(float), [0, 1])
    with pytest.raises(ValueError, match=r"synthetic_mask must have one entry per image \(2\)"):
        write_image_folder(tmp_path / "b", X, [0, 1], synthetic_mask=[True])
    with pytest.raises(ValueError, match=r"y must have one entry per image"):
        write_image_folder(tmp_path / "c", X, [0, 1, 1])
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_load_image_folder_errors(tmp_path):
    _save_png(tmp_path / "a" / "1.png", (0, 0, 0), size=(4, 4))
    _save_png(tmp_path / "b" / "2.png", (0, 0, 0), size=(4, 6))
    with pytest.raises(ValueError, match=r"'a/1.png' is 4x4 \(HxW\) but 'b/2.png' is 6x4"):
        load_image_folder(tmp_path)
    with pytest.raises(TypeError, match="image_size"):
        load_image_folder(tmp_path, image_size=(4, 4.5))
    with pytest.raises(ValueError, match="image_size"):
        load_image_folder(tmp_path, image_size=0)
    with pytest.raises(ValueError, match="color_mode"):
        load_image_folder(tmp_path, color_mode="cmyk")
    (tmp_path / "c").mkdir()
    with pytest.raises(ValueError, match="holds no image file"):
        load_image_folder(tmp_path, image_size=4)
    (tmp_path / "c" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="could not read image"):
        load_image_folder(tmp_path, image_size=4)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_image_folder(tmp_path / "missing")
    empty = tmp_path / "c" / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no class sub-folder"):
        load_image_folder(empty)


# --------------------------------------------------------------------------- UTKFace


def test_load_utkface(tmp_path):
    good = {
        "25_1_2_20170116174525125.jpg.chip.jpg": (25, 1, 2),
        "1_0_0_20161219140623097.jpg.chip.jpg": (1, 0, 0),
        "part2/80_0_4_20170103182208593.jpg": (80, 0, 4),
    }
    bad = [
        "61_1_20170109142408075.jpg.chip.jpg",  # race missing (a real case in the release)
        "39_2_1_20170116174525125.jpg",  # gender out of range
        "age_0_1_20170116174525125.jpg",  # age not a number
    ]
    for name in [*good, *bad]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.new("RGB", (8, 8), (200, 100, 0)).save(tmp_path / name, format="JPEG")
    (tmp_path / "README.txt").write_text("ignored")
    with pytest.warns(UserWarning, match=r"3 UTKFace file name\(s\) did not parse"):
        faces = load_utkface(tmp_path, target="gender")
    order = sorted(good)  # sorted relative paths
    assert faces.filenames == order
    assert faces.age.tolist() == [good[f][0] for f in order]
    assert faces.gender.tolist() == [good[f][1] for f in order]
    assert faces.race.tolist() == [good[f][2] for f in order]
    np.testing.assert_array_equal(faces.target, faces.gender)
    assert faces.target_names.tolist() == ["male", "female"]
    assert sorted(faces.malformed) == sorted(bad)
    assert faces.data.shape == (3, 8, 8, 3) and faces.data.dtype == np.uint8
    assert np.abs(faces.data[0, 4, 4].astype(int) - [200, 100, 0]).max() < 8  # JPEG is lossy

    with pytest.warns(UserWarning):
        faces = load_utkface(tmp_path, target="race", image_size=4)
    assert faces.data.shape == (3, 4, 4, 3)
    assert faces.target.tolist() == faces.race.tolist()
    assert faces.target_names[4] == "Others"


def test_load_utkface_errors(tmp_path):
    with pytest.raises(ValueError, match="target"):
        load_utkface(tmp_path, target="emotion")
    Image.new("RGB", (8, 8)).save(tmp_path / "61_1_2017.jpg")
    with pytest.warns(UserWarning, match="1 UTKFace"), pytest.raises(ValueError, match="no UTK"):
        load_utkface(tmp_path)


# --------------------------------------------------------------------------- spurious colour


def test_make_spurious_colour_pixels():
    X = np.zeros((4, 3, 3), dtype=np.uint8)
    X[:, 1, 1] = 255
    X[:, 0, 1] = 120
    X[:, 2, 2] = 20  # below 0.1 * 255 = 25.5: background
    y = np.array([7, 7, 9, 9])
    X_rgb, y_out, groups = make_spurious_colour(X, y, correlation=1.0, random_state=0)
    assert X_rgb.shape == (4, 3, 3, 3) and X_rgb.dtype == np.uint8
    np.testing.assert_array_equal(y_out, y)
    assert groups.tolist() == [0, 0, 1, 1]
    red, cyan = [191, 0, 0], [0, 191, 191]
    assert X_rgb[0, 1, 1].tolist() == [255, 255, 255]
    assert X_rgb[0, 0, 1].tolist() == [120, 120, 120]
    assert X_rgb[0, 2, 2].tolist() == red and X_rgb[0, 0, 0].tolist() == red
    assert X_rgb[3, 2, 2].tolist() == cyan
    # A float image with a different range gives the same picture.
    X_float = X.astype(float) / 255 * 16
    X_rgb_f, _, groups_f = make_spurious_colour(X_float, y, correlation=1.0, random_state=0)
    np.testing.assert_array_equal(X_rgb_f, X_rgb)
    # A higher threshold swallows the 120-grey pixel into the background.
    X_rgb_t, _, _ = make_spurious_colour(X, y, 2, 1.0, background_threshold=0.5)
    assert X_rgb_t[0, 0, 1].tolist() == red


def test_make_spurious_colour_palette_and_trailing_channel():
    X = np.zeros((2, 2, 2, 1))
    X[:, 0, 0, 0] = 1.0
    palette = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    X_rgb, _, groups = make_spurious_colour(X, [0, 1], palette=palette, correlation=1)
    assert groups.tolist() == [0, 1]
    assert X_rgb[1, 1, 1].tolist() == [4, 5, 6]
    assert X_rgb[1, 0, 0].tolist() == [255, 255, 255]


def test_make_spurious_colour_correlation_statistics():
    n = 20000
    X = np.zeros((n, 1, 1), dtype=np.uint8)
    y = np.arange(n) % 4
    _, _, groups = make_spurious_colour(X, y, n_colours=5, correlation=0.9, random_state=0)
    assert abs(np.mean(groups == y) - 0.9) < 0.01
    off = groups[groups != y]
    assert set(np.unique(off)) <= set(range(5))
    _, _, groups = make_spurious_colour(X, y, n_colours=5, correlation=0.0, random_state=1)
    assert not np.any(groups == y)
    # Class 0 never gets colour 0; the other 4 colours are equally likely.
    freq = np.bincount(groups[y == 0], minlength=5) / (n / 4)
    assert freq[0] == 0
    np.testing.assert_allclose(freq[1:], 0.25, atol=0.03)
    a = make_spurious_colour(X, y, correlation=0.5, random_state=3)[2]
    b = make_spurious_colour(X, y, correlation=0.5, random_state=3)[2]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "X, kwargs, error, match",
    [
        (np.zeros((2, 3)), {}, ValueError, r"shape \(n_samples, H, W\)"),
        (np.zeros((2, 3, 3), dtype=bool), {}, TypeError, "dtype bool"),
        (np.zeros((2, 3, 3)), {"n_colours": 1}, ValueError, "n_colours"),
        (np.zeros((2, 3, 3)), {"correlation": 1.5}, ValueError, "correlation"),
        (
            np.zeros((2, 3, 3)),
            {"palette": [[0, 0, 0], [1, 1, 1]], "n_colours": 3},
            ValueError,
            "n_colours=3 differs",
        ),
        (np.zeros((2, 3, 3)), {"palette": [[0, 0, 300], [1, 1, 1]]}, ValueError, "palette"),
        (np.full((2, 3, 3), np.nan), {}, ValueError, "NaN"),
    ],
)
def test_make_spurious_colour_errors(X, kwargs, error, match):
    with pytest.raises(error, match=match):
        make_spurious_colour(X, [0, 1], **kwargs)


def test_make_spurious_colour_needs_a_colour_per_class():
    with pytest.raises(ValueError, match="n_colours=2 is smaller than the 3 classes"):
        make_spurious_colour(np.zeros((3, 2, 2)), [0, 1, 2], n_colours=2)


# --------------------------------------------------------------------------- docstrings


@pytest.mark.parametrize(
    "module",
    [
        "_long_tailed",
        "_digits",
        "_fashion_mnist",
        "_cifar",
        "_image_folder",
        "_utkface",
        "_spurious",
    ],
)
def test_docstring_examples_run(module):
    mod = importlib.import_module(f"synaug_learn.datasets.{module}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


@needs_fmnist
def test_fashion_mnist_split_matches_the_shipped_generator_pool():
    from synaug_learn.datasets import FASHION_MNIST_POOL_START, fashion_mnist_pool

    X, y = load_fashion_mnist("train")
    X_pool, y_pool = fashion_mnist_pool(900)
    expected = np.sort(np.concatenate(
        [FASHION_MNIST_POOL_START + np.flatnonzero(y[FASHION_MNIST_POOL_START:] == c)[:900]
         for c in range(10)]))
    np.testing.assert_array_equal(X_pool, X[expected])
    data = load_fashion_mnist_lt(100, n_max=300, pool_per_class=900,
                                 pool_start=FASHION_MNIST_POOL_START, random_state=0)
    np.testing.assert_array_equal(data.X_pool, X_pool)
    train_rows = {r.tobytes() for r in X[:FASHION_MNIST_POOL_START]}
    assert all(r.tobytes() in train_rows for r in data.X_train)
    assert np.bincount(data.y_train).tolist() == [int(300 * 100 ** (-i / 9)) for i in range(10)]
    with pytest.raises(ValueError, match="per_class=2000"):
        fashion_mnist_pool(2000)


class _RunsCode:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_cifar_loader_refuses_a_pickle_that_would_run_code(cifar_files, capsys):
    _, folder, _ = cifar_files
    (folder / "train").write_bytes(pickle.dumps({b"data": _RunsCode()}, protocol=2))
    with pytest.raises(ValueError, match=r"python pickle: it names .*print.*refused"):
        load_cifar100(folder.parent, subset="train")
    assert "must never run" not in capsys.readouterr().out


def test_make_spurious_colour_with_chosen_groups():
    X = np.zeros((4, 2, 2), dtype=np.uint8)
    X_rgb, _, groups = make_spurious_colour(X, [0, 1, 2, 3], n_colours=2, groups=[1, 1, 0, 1])
    assert groups.tolist() == [1, 1, 0, 1] and groups.dtype == np.int64
    assert X_rgb[2, 0, 0].tolist() == [191, 0, 0] and X_rgb[0, 0, 0].tolist() == [0, 191, 191]
    with pytest.raises(ValueError, match="groups must be"):
        make_spurious_colour(X, [0, 1, 2, 3], n_colours=2, groups=[0, 1, 2, 0])
    with pytest.raises(ValueError, match="every"):  # drawn colours still need one per class
        make_spurious_colour(X, [0, 1, 2, 3], n_colours=2)
