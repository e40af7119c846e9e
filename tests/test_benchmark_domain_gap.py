"""benchmarks/domain_gap.py and scripts/pretrain_generator.py --style (the shifted generator)."""

import json

import numpy as np
import pytest


def _fashion_or_skip():
    from synaug_learn.datasets import load_fashion_mnist

    try:
        load_fashion_mnist(subset="test")
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST files not installed")


@pytest.fixture
def script(load_script):
    """scripts/pretrain_generator.py as a module (the Fashion-MNIST files are needed)."""
    _fashion_or_skip()
    return load_script("pretrain_generator")


@pytest.fixture
def dg(load_benchmark):
    return load_benchmark("domain_gap")


def test_balanced_rows_are_balanced_and_below_the_pool(dg):
    y = np.arange(60_000) % 10
    rows = dg.balanced_rows(y, 7, seed=0)
    assert np.bincount(y[rows]).tolist() == [7] * 10 and rows.max() < 50_000
    assert not np.array_equal(rows, dg.balanced_rows(y, 7, seed=1))


def test_generator_gap_end_to_end(dg, tmp_path):
    """A tiny styled generator through --generator: the rows, the paired gap and the card."""
    _fashion_or_skip()
    from synaug_learn.generators import ConditionalDiffusionGenerator

    rng = np.random.RandomState(0)
    folder = tmp_path / "tiny-shifted"
    ConditionalDiffusionGenerator(block_out_channels=(16, 32), max_steps=2, random_state=0).fit(
        rng.randint(0, 256, (20, 28, 28)).astype(np.uint8), np.arange(20) % 10,
    ).save_pretrained(folder)
    (folder / "training.json").write_text(json.dumps({"style": "texture", "steps": 2}))
    result = dg.main(["--quick", "--generator", str(folder), "--styles", "texture",
                      "--num-inference-steps", "2", "--n-per-class", "2", "--test-rows", "100",
                      "--out", str(tmp_path), "--grid"])
    rows = {r["method"]: r["metrics"] for r in result["rows"]}
    assert list(rows) == ["real_test", "styled_test_texture", "generated"]
    gap = rows["generated"]["gap_vs_real_test"]
    assert gap["mean"] == pytest.approx(rows["real_test"]["accuracy"]["mean"]
                                        - rows["generated"]["accuracy"]["mean"])
    assert result["config"]["generator"]["style"] == "texture"
    assert (tmp_path / "domain_gap.png").is_file()
    md = (tmp_path / "domain_gap.md").read_text()
    assert "`generated`" in md and "at least 0.15" in md


def test_pretrain_script_style_writes_a_verified_styled_model(script, tmp_path):
    from synaug_learn.datasets import fashion_mnist_pool, stylize_images
    from synaug_learn.generators import ConditionalDiffusionGenerator
    from synaug_learn.generators._pretrained import verify_pretrained
    from synaug_learn.utils import hash_array

    out = tmp_path / "shifted"
    script.main(["--style", "texture", "--steps", "2", "--per-class", "20", "--threads", "1",
                 "--out", str(out)])
    training = json.loads((out / "training.json").read_text())
    assert training["style"] == "texture" and training["steps"] == 2
    assert training["max_minutes"] is None  # a fixed step count, no time limit
    X, y = fashion_mnist_pool(20)
    meta = json.loads((out / "synaug_generator.json").read_text())
    assert meta["training_data_sha256"] == training["training_data_sha256"]
    assert meta["training_data_sha256"] == hash_array(stylize_images(X, "texture"), y, None)
    verify_pretrained(out)  # the weights' SHA-256 are recorded and match
    assert not (out / "class_means.safetensors").exists()  # never a default-sampler pick
    card = (out / "README.md").read_text()
    assert "## Measured domain gap" in card and "TBD" in card and "'texture'" in card
    gen = ConditionalDiffusionGenerator.from_pretrained(out, num_inference_steps=2).fit(X, y)
    X_new, y_new, _ = gen.generate({(0, None): 2}, random_state=0)
    assert X_new.shape == (2, 28, 28) and X_new.dtype == np.uint8


def test_pretrain_script_architecture_options_are_used_and_recorded(script, tmp_path):
    """--block-out-channels, --layers-per-block, --batch-size: a wider UNet, in training.json."""
    from synaug_learn.generators import ConditionalDiffusionGenerator

    out = tmp_path / "wide"
    script.main(["--block-out-channels", "8", "16", "--layers-per-block", "2", "--batch-size",
                 "4", "--steps", "2", "--per-class", "5", "--threads", "1", "--out", str(out)])
    training = json.loads((out / "training.json").read_text())
    assert (training["block_out_channels"], training["layers_per_block"],
            training["batch_size"], training["steps"]) == ([8, 16], 2, 4, 2)
    unet = json.loads((out / "unet" / "config.json").read_text())
    assert (unet["block_out_channels"], unet["layers_per_block"]) == ([8, 16], 2)
    gen = ConditionalDiffusionGenerator.from_pretrained(out, num_inference_steps=2)
    X_new, y_new, _ = gen.fit(np.zeros((4, 28, 28), np.uint8), np.array([0, 0, 1, 1])).generate(
        {(1, None): 3}, random_state=0)
    assert X_new.shape == (3, 28, 28) and y_new.tolist() == [1, 1, 1]
