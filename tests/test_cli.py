"""The synaug command: balance an image folder; the demo's plumbing on tiny data."""

import json

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from synaug_learn import _demo, cli
from synaug_learn.generators import ConditionalDiffusionGenerator

TINY = dict(block_out_channels=(16, 32), max_steps=2, num_inference_steps=2, random_state=0)


@pytest.fixture(scope="module")
def digits_uint8():
    X, y = load_digits(return_X_y=True)
    return (X * 255 / 16).astype(np.uint8).reshape(-1, 8, 8), y


@pytest.fixture(scope="module")
def tiny_pretrained(tmp_path_factory, digits_uint8):
    X, y = digits_uint8
    path = tmp_path_factory.mktemp("gen") / "tiny"
    ConditionalDiffusionGenerator(**TINY).fit(X, y).save_pretrained(path)
    return path


def test_balance_writes_a_balanced_folder_and_a_manifest(tmp_path, tiny_pretrained, digits_uint8):
    X, y = digits_uint8
    src = tmp_path / "in"
    for label, n in ((0, 6), (1, 2)):
        (src / str(label)).mkdir(parents=True)
        for i, img in enumerate(X[y == label][:n]):
            Image.fromarray(img).save(src / str(label) / f"img{i}.png")
    out = tmp_path / "out"
    manifest = cli.run_balance(src, out, generator=str(tiny_pretrained), seed=3,
                               color_mode="grayscale")
    assert sorted(p.name for p in (out / "1").iterdir()) == [
        "img0.png", "img1.png", *[f"synthetic_{i:05d}.png" for i in range(4)]]
    assert len(list((out / "0").iterdir())) == 6
    saved = json.loads((out / "manifest.json").read_text())
    assert saved == manifest and len(saved["files"]) == 4 and saved["seed"] == 3
    assert saved["generator"] == "ConditionalDiffusionGenerator"
    assert np.asarray(Image.open(out / "1" / "synthetic_00000.png")).shape == (8, 8)
    with pytest.raises(ValueError, match="exists and is not empty"):
        cli.run_balance(src, out, generator=str(tiny_pretrained))
    with pytest.raises(ValueError, match="generator='nope'"):
        cli.run_balance(src, tmp_path / "other", generator="nope", color_mode="grayscale")


def test_demo_prints_the_table_and_writes_plots(tmp_path, monkeypatch, capsys, tiny_pretrained,
                                                digits_uint8):
    X, y = digits_uint8
    keep = np.concatenate([np.flatnonzero(y == c)[: (30 if c < 5 else 6)] for c in range(10)])
    test = np.setdiff1d(np.arange(len(y)), keep)[:300]
    pretrained = ConditionalDiffusionGenerator.from_pretrained(tiny_pretrained,
                                                               num_inference_steps=2)
    monkeypatch.setattr(_demo, "_demo_data", lambda dataset, n_max, seed: (
        X[keep], y[keep], X[test], y[test], pretrained, [str(c) for c in range(10)], "tiny"))
    summary = cli.run_demo("digits", out=tmp_path, n_max=30, train_steps=3, seed=0,
                           methods=("ce", "synaug_pretrained_mixup"), indomain_minutes=0.01)
    printed = capsys.readouterr().out
    assert "synaug_pretrained_mixup" in printed and "novelty" in printed
    assert "sampling: DDIM 2 steps, guidance 1.5 on every step" in printed
    assert "Total time: 0 min" in printed or "Total time: 1 min" in printed
    assert "FINDINGS" not in printed and "shared/" not in printed
    for name in ("class_distribution.png", "synthetic_samples.png", "per_class_accuracy.png",
                 "synthetic_report.png", "results.json"):
        assert (tmp_path / name).stat().st_size > 0
    assert set(summary["methods"]) == {"ce", "synaug_pretrained_mixup"}
    assert 0 <= summary["methods"]["ce"]["balanced_accuracy"] <= 1
    assert len(summary["reports"]) == 2


def test_main_parses_and_rejects_bad_commands(capsys):
    with pytest.raises(SystemExit):
        cli.main(["nope"])
    with pytest.raises(SystemExit):
        cli.main(["demo", "--dataset", "cifar"])
    assert "invalid choice" in capsys.readouterr().err
