"""The synaug command: balance an image folder; the demo's plumbing on tiny data."""

import json
import re

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
    monkeypatch.setattr(_demo, "_demo_data", lambda dataset, n_max, seed, sampler: (
        X[keep], y[keep], X[test], y[test], pretrained, [str(c) for c in range(10)], "tiny"))
    summary = cli.run_demo("digits", out=tmp_path, n_max=30, train_steps=3, seed=0,
                           methods=("ce", "synaug_pretrained_mixup"))
    printed = capsys.readouterr().out
    assert "synaug_pretrained_mixup" in printed and "mean novelty" in printed
    assert "sampling: DDIM 2 steps, guidance 1.5 on every step" in printed
    assert "Total time: 0 min" in printed or "Total time: 1 min" in printed
    assert "FINDINGS" not in printed and "shared/" not in printed
    for name in ("class_distribution.png", "synthetic_samples.png", "per_class_accuracy.png",
                 "synthetic_report.png", "results.json"):
        assert (tmp_path / name).stat().st_size > 0
    assert set(summary["methods"]) == {"ce", "synaug_pretrained_mixup"}
    for method, row in summary["methods"].items():  # the table prints what results.json holds
        assert f"{method:44s} {row['balanced_accuracy']:8.3f}" in printed
    saved = json.loads((tmp_path / "results.json").read_text())
    assert {m: r["balanced_accuracy"] for m, r in saved["methods"].items()} == {
        m: r["balanced_accuracy"] for m, r in summary["methods"].items()}
    # no class has fewer than 5 rows here: the report covers the rarest one, with 16 images
    assert {r["label"] for r in summary["report"] if r["n_generated"]} == {5}
    assert {r["n_generated"] for r in summary["report"] if r["n_generated"]} == {16}


def test_the_demo_samples_with_the_shipped_student_unless_told_otherwise(capsys):
    assert _demo._check_sampler("fashion-mnist", None) == "student"
    assert _demo._check_sampler("digits", None) == "teacher"
    assert _demo._check_sampler("fashion-mnist", "teacher") == "teacher"
    student = ConditionalDiffusionGenerator.from_pretrained(_demo.SAMPLERS["student"])
    assert _demo._describe_sampling(student) == "distilled student, DDIM 2 steps, no guidance"
    teacher = ConditionalDiffusionGenerator.from_pretrained(_demo.SAMPLERS["teacher"],
                                                            **_demo.DEMO_SAMPLING)
    assert _demo._describe_sampling(teacher) == (
        "DPM-Solver++ 10 steps, guidance 1.5 on every step")
    with pytest.raises(ValueError, match="sampler='fast' is not one of"):
        _demo._check_sampler("fashion-mnist", "fast")
    # No student is shipped for digits: the error comes before any work.
    with pytest.raises(SystemExit) as info:
        cli.main(["demo", "--dataset", "digits", "--sampler", "student", "--out", "/nonexistent/x"])
    assert info.value.code == 2
    assert "sampler='student' needs dataset='fashion-mnist'" in capsys.readouterr().err


def test_main_parses_and_rejects_bad_commands(capsys):
    with pytest.raises(SystemExit):
        cli.main(["nope"])
    with pytest.raises(SystemExit):
        cli.main(["demo", "--dataset", "cifar"])
    assert "invalid choice" in capsys.readouterr().err


def _grey_folder(root, X, y, counts=((0, 6), (1, 2)), mode="L"):
    for label, n in counts:
        (root / str(label)).mkdir(parents=True)
        for i, img in enumerate(X[y == label][:n]):
            Image.fromarray(img).convert(mode).save(root / str(label) / f"img{i}.png")
    return root


def test_every_option_has_help_and_the_description_is_plain_text():
    parser, subparsers = cli._parser()
    assert "`" not in parser.description
    for sub in subparsers.values():
        assert "`" not in (sub.description or "")
        for action in sub._actions:
            assert action.help, f"{sub.prog} {action.option_strings or action.dest} has no help"
    options = {o for a in subparsers["balance"]._actions for o in a.option_strings}
    assert {"--cache-dir", "--steps", "--train-steps", "--train-minutes"} <= options


@pytest.mark.parametrize("argv, match", [
    (["balance", "in", "out", "--fill-ratio", "0"], r"--fill-ratio: 0 is outside \(0.0, 1.0\]"),
    (["balance", "in", "out", "--fill-ratio", "2"], "--fill-ratio: 2 is outside"),
    (["balance", "in", "out", "--steps", "0"], "--steps: 0 is outside"),
    (["balance", "in", "out", "--train-minutes", "nan"], "'nan' is not a number"),
    (["balance", "no/such/folder", "out"], "path='no/such/folder' is not a folder"),
])
def test_user_errors_are_one_line_and_exit_status_2(argv, match, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("synaug balance: error: ")
    assert re.search(match, last)


def test_forgetting_grayscale_fails_fast_with_a_hint(tmp_path, tiny_pretrained, digits_uint8,
                                                      capsys):
    import time

    X, y = digits_uint8
    src = _grey_folder(tmp_path / "in", X, y, mode="RGB")  # grey images stored as RGB
    start = time.monotonic()
    with pytest.raises(SystemExit) as info:
        cli.main(["balance", str(src), str(tmp_path / "out"), "--generator",
                  str(tiny_pretrained)])
    assert info.value.code == 2 and time.monotonic() - start < 30  # no training started
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "generates 1x8x8" in err and "3x8x8" in err and "--grayscale" in err
    with pytest.raises(SystemExit):  # a bare name that is no shipped model: both are listed
        cli.main(["balance", str(src), str(tmp_path / "out2"), "--generator", "nope"])
    err = capsys.readouterr().err
    assert "'fashion-mnist-small'" in err and "no folder" in err and "'indomain'" in err


def test_balance_exposes_cache_dir_and_sampling_steps(tmp_path, tiny_pretrained, digits_uint8):
    X, y = digits_uint8
    src = _grey_folder(tmp_path / "in", X, y)
    bank = tmp_path / "bank"
    assert cli.main(["balance", str(src), str(tmp_path / "out"), "--generator",
                     str(tiny_pretrained), "--grayscale", "--steps", "1",
                     "--cache-dir", str(bank)]) == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["generator_params"]["num_inference_steps"] == "1"
    assert len(manifest["files"]) == 4 and any(bank.rglob("*"))


def test_class_names_unsafe_as_folder_names_round_trip(tmp_path):
    from synaug_learn.datasets import class_folder_name, load_image_folder, write_image_folder
    from synaug_learn.generators import class_mapping_by_name

    names = ["T-shirt/top", "a\\b:c", ".hidden", "Bag"]
    assert [class_folder_name(n) for n in names] == [
        "T-shirt%2Ftop", "a%5Cb%3Ac", "%2Ehidden", "Bag"]
    X = np.arange(8 * 16, dtype=np.uint8).reshape(8, 4, 4)
    y = np.repeat([0, 1, 2, 3], 2)
    manifest = write_image_folder(tmp_path / "out", X, y, class_names=names,
                                  synthetic_mask=[False, True] * 4)
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_dir()) == sorted(
        manifest["class_folders"])
    data = load_image_folder(tmp_path / "out", color_mode="grayscale", return_X_y=False)
    back = data.target_names[data.target]
    expected = np.asarray(names)[y]
    assert sorted(zip(back.tolist(), data.data.sum(axis=(1, 2)).tolist())) == sorted(
        zip(expected.tolist(), X.sum(axis=(1, 2)).tolist()))
    # a folder that could not be called "T-shirt/top" still matches the shipped model's class
    assert class_mapping_by_name("fashion-mnist-small", ["T-shirt%2Ftop", "bag"]) == {0: 0, 1: 8}
    assert class_mapping_by_name("fashion-mnist-small", ["t-shirt_top"]) == {0: 0}
