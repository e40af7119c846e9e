"""ConditionalDiffusionGenerator: shapes, seeds, save/load, pretrained checks, fine-tuning."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from synaug_learn.generators import ConditionalDiffusionGenerator
from synaug_learn.utils import derive_seed

TINY = dict(block_out_channels=(16, 32), max_steps=3, num_inference_steps=2, random_state=0)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X.reshape(-1, 8, 8), y


@pytest.fixture(scope="module")
def saved(tmp_path_factory, digits):
    X, y = digits
    gen = ConditionalDiffusionGenerator(**TINY).fit(X[:200], y[:200])
    path = tmp_path_factory.mktemp("gen") / "digits"
    gen.save_pretrained(path)
    return gen, path


@pytest.mark.parametrize(
    "shape, dtype",
    [((8, 8), np.uint8), ((64,), np.float64), ((8, 8, 3), np.uint8), ((3, 8, 8), np.float32),
     ((20, 20), np.uint8)],
)
def test_output_keeps_layout_and_dtype(shape, dtype):
    rng = np.random.RandomState(0)
    X = (rng.rand(30, *shape) * 200).astype(dtype)
    y = np.repeat([3, 7], 15)
    gen = ConditionalDiffusionGenerator(**TINY).fit(X, y)
    X_new, y_new, groups_new = gen.generate({(7, None): 4, (3, None): 2}, random_state=1)
    assert X_new.shape == (6, *shape)
    assert X_new.dtype == dtype
    assert y_new.tolist() == [7] * 4 + [3] * 2
    assert groups_new is None
    if dtype != np.uint8:  # floats are mapped back into the data's own range
        assert X_new.min() >= X.min() - 1e-4 and X_new.max() <= X.max() + 1e-4


def test_unet_size_pads_or_upsamples():
    y = np.repeat([0, 1], 5)
    small = ConditionalDiffusionGenerator(**TINY).fit(np.zeros((10, 8, 8), np.uint8), y)
    odd = ConditionalDiffusionGenerator(**TINY).fit(np.zeros((10, 28, 28), np.uint8), y)
    assert small.unet_size_ == 16  # upsampled to the minimum side
    assert odd.unet_size_ == 28  # 28 is a multiple of 2 for two levels
    three = ConditionalDiffusionGenerator(**{**TINY, "block_out_channels": (8, 16, 16)})
    assert three.fit(np.zeros((10, 28, 28), np.uint8), y).unet_size_ == 28
    four = ConditionalDiffusionGenerator(**{**TINY, "block_out_channels": (8, 8, 16, 16)})
    assert four.fit(np.zeros((10, 28, 28), np.uint8), y).unet_size_ == 32


def test_rows_are_reproducible_and_independent_of_batch(saved):
    gen, _ = saved
    X1, _, _ = gen.generate({(4, None): 6}, random_state=5)
    X2, _, _ = gen.generate({(4, None): 6}, random_state=5)
    X3, _, _ = gen.generate({(4, None): 6}, random_state=6)
    np.testing.assert_array_equal(X1, X2)
    assert not np.allclose(X1, X3)
    base = derive_seed(5)
    seeds = [derive_seed(base, (4, None), i) for i in range(6)]
    alone = gen.generate_seeded((4, None), seeds[3:5])
    np.testing.assert_allclose(alone, X1[3:5], atol=1e-3)


def test_save_load_roundtrip_and_clone_keeps_source(saved, digits):
    gen, path = saved
    X, y = digits
    loaded = ConditionalDiffusionGenerator.from_pretrained(path, num_inference_steps=2)
    cloned = clone(loaded)
    assert cloned.get_params()["pretrained"] == path
    cloned.fit(X[200:260], y[200:260])  # other rows of the same classes: only checked
    assert cloned.n_train_steps_ == 0
    assert cloned.total_train_steps_ == gen.n_train_steps_
    a, _, _ = gen.generate({(2, None): 5}, random_state=0)
    b, _, _ = cloned.generate({(2, None): 5}, random_state=0)
    np.testing.assert_array_equal(a, b)
    assert (path / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    # re-saved, a generator loaded from a folder does not record that folder (diffusers'
    # _name_or_path, a path of this machine) and its recorded hashes still verify
    again = path.parent / "again"
    cloned.save_pretrained(again)
    assert "_name_or_path" not in json.loads((again / "unet" / "config.json").read_text())
    ConditionalDiffusionGenerator.from_pretrained(again).fit(X[200:260], y[200:260])


def test_pretrained_shape_mismatch_is_a_clear_error(saved):
    _, path = saved
    gen = ConditionalDiffusionGenerator(pretrained=path)
    with pytest.raises(ValueError, match=r"generates 1x8x8 .* data holds 1x10x10"):
        gen.fit(np.zeros((4, 10, 10), np.uint8), np.array([0, 0, 1, 1]))


def test_pretrained_unknown_class_needs_mapping_or_fine_tuning(saved, digits):
    _, path = saved
    X, y = digits
    Xs, ys = X[:40], np.where(y[:40] == 9, 42, y[:40])  # label 42 is unknown to the model
    with pytest.raises(ValueError, match="does not"):
        ConditionalDiffusionGenerator(pretrained=path).fit(Xs, ys)
    mapped = ConditionalDiffusionGenerator(pretrained=path, class_mapping={42: 9}).fit(Xs, ys)
    assert mapped.n_train_steps_ == 0
    assert mapped._model_index((42, None)) == mapped.model_strata_.index((9, None))
    grown = ConditionalDiffusionGenerator(pretrained=path, fine_tune=2, num_inference_steps=2)
    grown.fit(Xs, ys)
    assert grown.n_train_steps_ == 2
    assert (42, None) in grown.model_strata_
    assert grown.unet_.class_embedding.num_embeddings == len(grown.model_strata_) + 1
    X_new, y_new, _ = grown.generate({(42, None): 2}, random_state=0)
    assert X_new.shape == (2, 8, 8) and y_new.tolist() == [42, 42]


def test_fine_tuning_is_off_by_default_and_skips_small_strata(saved, digits):
    gen, path = saved
    X, y = digits
    kept = ConditionalDiffusionGenerator(pretrained=path).fit(X[:100], y[:100])
    assert kept._state_hash() == gen._state_hash()
    tuned = ConditionalDiffusionGenerator(pretrained=path, fine_tune=2).fit(X[:100], y[:100])
    assert tuned._state_hash() != gen._state_hash()
    with pytest.warns(UserWarning, match="fine_tune=2 skipped"):
        frozen = ConditionalDiffusionGenerator(
            pretrained=path, fine_tune=2, fine_tune_min_count=10_000
        ).fit(X[:100], y[:100])
    assert frozen._state_hash() == gen._state_hash()


def test_budgets():
    X, y = np.zeros((100, 8, 8), np.uint8), np.repeat([0, 1], 50)
    by_epochs = ConditionalDiffusionGenerator(**{**TINY, "max_steps": None, "max_epochs": 1.0,
                                                 "batch_size": 32})
    assert by_epochs.fit(X, y).n_train_steps_ == 4  # ceil(100 / 32)
    smaller = ConditionalDiffusionGenerator(**{**TINY, "max_steps": 2, "max_epochs": 5.0})
    assert smaller.fit(X, y).n_train_steps_ == 2
    timed = ConditionalDiffusionGenerator(**{**TINY, "max_steps": 10_000, "max_minutes": 1e-4})
    assert 1 <= timed.fit(X, y).n_train_steps_ < 10_000
    with pytest.raises(ValueError, match="all None"):
        ConditionalDiffusionGenerator(**{**TINY, "max_steps": None}).fit(X, y)


def test_bad_parameters_name_themselves(tmp_path):
    y = np.array([0, 0, 1, 1])
    with pytest.raises(ValueError, match="pretrained='nowhere'"):
        ConditionalDiffusionGenerator.from_pretrained("nowhere")
    with pytest.raises(ValueError, match="class_mapping"):
        ConditionalDiffusionGenerator(class_mapping={0: 1}, **TINY).fit(np.zeros((4, 8, 8)), y)
    with pytest.raises(ValueError, match="not a square image; pass image_shape"):
        ConditionalDiffusionGenerator(**TINY).fit(np.zeros((4, 10)), y)
    with pytest.raises(ValueError, match="guidance_scale"):
        ConditionalDiffusionGenerator(guidance_scale=-1).fit(np.zeros((4, 8, 8)), y)
    gen = ConditionalDiffusionGenerator(**TINY).fit(np.zeros((4, 8, 8)), y)
    with pytest.raises(ValueError, match="label 5"):
        gen.generate({(5, None): 1})


@pytest.mark.slow
def test_samples_are_recognised_as_their_class(digits):
    """A few minutes of training gives digits a real-data classifier recognises."""
    X, y = digits
    gen = ConditionalDiffusionGenerator(max_steps=1500, num_inference_steps=20,
                                        guidance_scale=2.0, random_state=0).fit(X, y)
    X_new, y_new, _ = gen.generate({(c, None): 30 for c in range(10)}, random_state=0)
    clf = LogisticRegression(max_iter=2000).fit(X.reshape(len(X), -1), y)
    assert (clf.predict(X_new.reshape(len(X_new), -1)) == y_new).mean() >= 0.8


def test_class_mapping_by_name_reads_the_pretrained_class_names(saved):
    from synaug_learn.generators import class_mapping_by_name

    assert class_mapping_by_name("fashion-mnist-small", ["ankle BOOT", "T-shirt/top"]) == {
        0: 9, 1: 0}
    with pytest.raises(ValueError, match=r"class_names \['zebra'\] are not known"):
        class_mapping_by_name("fashion-mnist-small", ["bag", "zebra"])
    assert class_mapping_by_name(saved[1], ["0", "1"]) is None  # no class names recorded
    with pytest.raises(ValueError, match="pretrained='nope'"):
        class_mapping_by_name("nope", ["a"])


def test_the_shipped_generator_loads_and_generates():
    from synaug_learn.generators import list_pretrained

    assert "fashion-mnist-small" in list_pretrained()
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(20, 28, 28)).astype(np.uint8)  # only shape and classes matter
    y = np.repeat([3, 9], 10)
    gen = ConditionalDiffusionGenerator.from_pretrained("fashion-mnist-small",
                                                        num_inference_steps=2).fit(X, y)
    assert gen.n_train_steps_ == 0 and gen.total_train_steps_ > 1000
    X_new, y_new, _ = gen.generate({(9, None): 2}, random_state=0)
    assert X_new.shape == (2, 28, 28) and X_new.dtype == np.uint8 and y_new.tolist() == [9, 9]
    with pytest.raises(ValueError, match="generates 1x28x28"):
        gen.fit(rng.randint(0, 256, size=(4, 32, 32, 3)).astype(np.uint8), [0, 0, 1, 1])


def test_fine_tuning_reports_novelty_and_warns_on_copying(saved, digits, monkeypatch):
    from synaug_learn import _report

    _, path = saved
    X, y = digits
    tuned = ConditionalDiffusionGenerator(pretrained=path, fine_tune=1,
                                          num_inference_steps=2).fit(X[:60], y[:60])
    assert set(tuned.novelty_after_fine_tuning_) == {(c, None) for c in np.unique(y[:60])}
    assert all(v >= 0 for v in tuned.novelty_after_fine_tuning_.values())

    def copying(*args, **kwargs):  # a report that finds copies
        report = _report.SyntheticReport(
            [{"label": 3, "group": None, "n_generated": 16, "novelty": 0.05, "copying": True}],
            copy_threshold=0.3)
        return report

    monkeypatch.setattr(_report, "synthetic_report", copying)
    with pytest.warns(UserWarning, match=r"fine_tune=1 made the generator copy .*\(3, None\)"):
        ConditionalDiffusionGenerator(pretrained=path, fine_tune=1,
                                      num_inference_steps=2).fit(X[:60], y[:60])
    off = ConditionalDiffusionGenerator(pretrained=path, fine_tune=1, check_novelty=False)
    assert not hasattr(off.fit(X[:60], y[:60]), "novelty_after_fine_tuning_")


def test_same_random_state_same_model_whatever_the_global_torch_state(digits):
    import torch

    X, y = digits
    torch.manual_seed(1)
    a = ConditionalDiffusionGenerator(**TINY).fit(X[:100], y[:100])
    torch.manual_seed(2)
    state = torch.random.get_rng_state()
    b = ConditionalDiffusionGenerator(**TINY).fit(X[:100], y[:100])
    assert torch.equal(torch.random.get_rng_state(), state)  # global state untouched
    assert a.fingerprint() == b.fingerprint()
    c = ConditionalDiffusionGenerator(**{**TINY, "random_state": 1}).fit(X[:100], y[:100])
    assert c.fingerprint() != a.fingerprint()


def test_pretrained_fingerprint_ignores_rows_it_did_not_train_on(saved, digits):
    """Cross-validation folds share bank rows when the model does not learn from them."""
    _, path = saved
    X, y = digits
    fold_a = ConditionalDiffusionGenerator(pretrained=path).fit(X[:300], y[:300])
    fold_b = ConditionalDiffusionGenerator(pretrained=path).fit(X[300:600], y[300:600])
    assert fold_a.fingerprint() == fold_b.fingerprint()
    tuned = ConditionalDiffusionGenerator(pretrained=path, fine_tune=1, check_novelty=False)
    assert tuned.fit(X[:300], y[:300]).fingerprint() != fold_a.fingerprint()
    floats = ConditionalDiffusionGenerator(pretrained=path).fit(X[:300] / 16.0, y[:300])
    assert floats.fingerprint() != fold_a.fingerprint()  # another value range, other rows


def test_small_images_round_trip_exactly_through_the_unet_size(digits):
    """Up- and down-sizing must not blur: a copied training image has to stay a copy."""
    import torch

    X, y = digits
    gen = ConditionalDiffusionGenerator(**TINY).fit(X[:20], y[:20])
    x = gen.image_format_.to_nchw(X[:20])
    back = gen._from_unet(torch.from_numpy(gen._to_unet(x))).numpy()
    np.testing.assert_allclose(gen.image_format_.from_nchw(back), X[:20], atol=1e-4)


@pytest.mark.parametrize("shape", [(14, 14, 3), (12, 10), (9, 15)])
def test_sizes_without_an_integer_factor_round_trip_exactly(shape):
    """14x14 goes 14 -> 16 -> 14: the way back must undo the nearest upsampling, not shift
    the image by half a pixel and blur it (area pooling did; generated 14x14 group images
    were told from real ones by that alone)."""
    X = np.random.RandomState(0).randint(0, 256, size=(6,) + shape).astype(np.uint8)
    gen = ConditionalDiffusionGenerator(**TINY).fit(X, np.repeat([0, 1], 3))
    assert gen.unet_size_ == 16
    np.testing.assert_array_equal(gen.resize_round_trip(X), X)


def _copy(path, tmp_path):
    import shutil

    return Path(shutil.copytree(path, tmp_path / "copy"))


def _flip_a_bit(path):
    """Flip one bit of one weight of the model folder ``path``; returns the weights file."""
    weights = path / "unet" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    return weights


def test_save_pretrained_records_the_sha256_of_every_weights_file(saved):
    import hashlib
    import json

    _, path = saved
    recorded = json.loads((path / "synaug_generator.json").read_text())["sha256"]
    assert set(recorded) == {"unet/diffusion_pytorch_model.safetensors", "unet/config.json"}
    for rel, digest in recorded.items():
        assert hashlib.sha256((path / rel).read_bytes()).hexdigest() == digest


def test_weights_replaced_by_a_script_verify_once_their_hashes_are_recorded(saved, tmp_path):
    import json

    from synaug_learn.generators import pretrained_hashes

    path = _copy(saved[1], tmp_path)
    meta = json.loads((path / "synaug_generator.json").read_text())
    assert pretrained_hashes(path) == meta["sha256"]  # what save_pretrained records
    _flip_a_bit(path)  # new weights, as a distillation script writes them
    with pytest.raises(ValueError, match="does not match the SHA-256"):
        ConditionalDiffusionGenerator.from_pretrained(path)
    meta["sha256"] = pretrained_hashes(path)
    (path / "synaug_generator.json").write_text(json.dumps(meta))
    ConditionalDiffusionGenerator.from_pretrained(path)  # verifies


def test_byte_flipped_weights_are_refused_naming_the_file(saved, digits, tmp_path):
    X, y = digits
    path = _copy(saved[1], tmp_path)
    weights = _flip_a_bit(path)
    with pytest.raises(ValueError, match=r"diffusion_pytorch_model\.safetensors.*does not match "
                                         "the SHA-256"):
        ConditionalDiffusionGenerator.from_pretrained(path)
    gen = ConditionalDiffusionGenerator(pretrained=path)  # the check also runs where it loads
    with pytest.raises(ValueError, match=r"weights file .*diffusion_pytorch_model\.safetensors"):
        gen.fit(X[:50], y[:50])
    weights.unlink()
    with pytest.raises(ValueError, match="diffusion_pytorch_model.safetensors.* is missing"):
        ConditionalDiffusionGenerator.from_pretrained(path)


def test_a_folder_without_hashes_loads_with_a_warning(saved, digits, tmp_path):
    import json

    X, y = digits
    path = _copy(saved[1], tmp_path)
    meta = json.loads((path / "synaug_generator.json").read_text())
    del meta["sha256"]  # as written by older versions
    (path / "synaug_generator.json").write_text(json.dumps(meta))
    gen = ConditionalDiffusionGenerator.from_pretrained(path)
    with pytest.warns(UserWarning, match="records no SHA-256 of its weights"):
        gen.fit(X[:50], y[:50])
    X_new, _, _ = gen.generate({(1, None): 2}, random_state=0)
    np.testing.assert_array_equal(X_new, saved[0].generate({(1, None): 2}, random_state=0)[0])


def test_the_shipped_generator_records_its_hashes():
    import json
    import warnings

    from synaug_learn.generators._pretrained import PRETRAINED_DIR, describe_pretrained

    meta = json.loads((PRETRAINED_DIR / "fashion-mnist-small" / "synaug_generator.json")
                      .read_text())
    assert {"unet/diffusion_pytorch_model.safetensors", "unet/config.json",
            "class_means.safetensors"} <= set(meta["sha256"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        card = describe_pretrained("fashion-mnist-small")  # checks the hashes, no warning
    assert card["class_means"].shape == (10, 1, 28, 28)


def test_restoring_a_saved_fit_keeps_params_fingerprint_and_rows(saved, digits, tmp_path):
    gen, path = saved
    X, y = digits
    restored = clone(gen)._fit_from_saved(path, X[:200], y[:200])
    assert restored.get_params() == gen.get_params() and restored.pretrained is None
    assert restored.fingerprint() == gen.fingerprint()
    assert restored.n_train_steps_ == gen.n_train_steps_ == 3
    np.testing.assert_array_equal(restored.generate({(4, None): 3}, random_state=2)[0],
                                  gen.generate({(4, None): 3}, random_state=2)[0])


# --------------------------------------------------------------- lookup, config, class_mapping
def test_a_path_never_means_the_shipped_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("./fashion-mnist-small", "~/no-such-folder/fashion-mnist-small",
                 str(tmp_path / "fashion-mnist-small")):
        with pytest.raises(ValueError, match=r"is a path, so it means the folder .* does not "
                                             r"exist.*shipped generators.*'fashion-mnist-small'"):
            ConditionalDiffusionGenerator.from_pretrained(name)
    (tmp_path / "fashion-mnist-small").mkdir()  # an existing folder of that name wins
    with pytest.raises(ValueError, match="holds no synaug_generator.json"):
        ConditionalDiffusionGenerator.from_pretrained("fashion-mnist-small")
    monkeypatch.chdir(tmp_path.parent)
    gen = ConditionalDiffusionGenerator.from_pretrained("fashion-mnist-small")
    assert gen.pretrained == "fashion-mnist-small"  # a bare name: the shipped model
    with pytest.raises(ValueError, match=r"'nope' is not a shipped generator \(those are: "
                                         r"[^)]*'fashion-mnist-small'.*no folder"):
        ConditionalDiffusionGenerator.from_pretrained("nope")


def test_pretrained_path_is_the_folder_from_pretrained_reads(saved, tmp_path, monkeypatch):
    from synaug_learn.generators import pretrained_path

    shipped = pretrained_path("fashion-mnist-small")
    assert shipped.name == "fashion-mnist-small" and (shipped / "training.json").is_file()
    assert pretrained_path(saved[1]) == saved[1] and pretrained_path(str(saved[1])) == saved[1]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"pretrained='\./fashion-mnist-small' is a path"):
        pretrained_path("./fashion-mnist-small")  # never the shipped model


@pytest.mark.parametrize("edit, match", [
    (lambda text: text[:-5], "is not valid JSON"),
    (lambda text: text.replace('"channels"', '"chanels"'), r"lacks the key\(s\) \['channels'\]"),
    (lambda text: text.replace('"height": 8', '"height": "8"'), "'height' must be a positive int"),
    (lambda text: "[1, 2]", "must hold a JSON object"),
])
def test_malformed_config_fails_at_from_pretrained_naming_the_file(saved, tmp_path, edit, match):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(saved[1], folder)
    config = folder / "synaug_generator.json"
    config.write_text(edit(config.read_text()))
    with pytest.raises(ValueError, match=match) as info:
        ConditionalDiffusionGenerator.from_pretrained(folder)
    assert str(config) in str(info.value)
    with pytest.raises(ValueError, match=match):  # and the same at fit with pretrained=
        ConditionalDiffusionGenerator(pretrained=folder).fit(np.zeros((4, 8, 8)), [0, 0, 1, 1])


def test_class_mapping_is_checked_before_loading(saved, digits):
    _, path = saved
    X, y = digits
    Xs, ys = X[:60], y[:60] % 3
    with pytest.raises(ValueError, match=r"several of your labels .*labels \[0, 1, 2\] -> 0"
                                         r".*merge_classes=True"):
        ConditionalDiffusionGenerator(pretrained=path, class_mapping={0: 0, 1: 0, 2: 0}).fit(
            Xs, ys)
    with pytest.raises(ValueError, match=r"labels \[0, 1\] -> 1"):  # 1 keeps its own label 1
        ConditionalDiffusionGenerator(pretrained=path, class_mapping={0: 1}).fit(Xs, ys)
    with pytest.raises(ValueError, match=r"maps to \[99\], which .* its labels are \[0, 1, 2"):
        ConditionalDiffusionGenerator(pretrained=path, class_mapping={2: 99}).fit(Xs, ys)
    with pytest.raises(ValueError, match=r"names labels \[7\] that are not in y; the labels "
                                         r"of y are \[0, 1, 2\]"):
        ConditionalDiffusionGenerator(pretrained=path, class_mapping={7: 1}).fit(Xs, ys)
    with pytest.raises(ValueError, match=r"maps to \[99\]"):  # caught at construction too
        ConditionalDiffusionGenerator.from_pretrained(path, class_mapping={2: 99})
    with pytest.raises(ValueError, match="several of your labels"):
        ConditionalDiffusionGenerator.from_pretrained(path, class_mapping={0: 0, 1: 0})
    merged = ConditionalDiffusionGenerator(pretrained=path, class_mapping={0: 0, 1: 0, 2: 0},
                                           merge_classes=True).fit(Xs, ys)
    assert {merged._model_index((c, None)) for c in (0, 1, 2)} == {merged._model_index((0, None))}
    swapped = ConditionalDiffusionGenerator(pretrained=path, class_mapping={0: 1, 1: 0}).fit(
        Xs, ys)  # a permutation is one-to-one
    assert swapped._model_index((0, None)) == swapped.model_strata_.index((1, None))


@pytest.mark.parametrize("name", ["fashion-mnist-small", "fashion-mnist-small-student",
                                  "fashion-mnist-small-student-2step",
                                  "fashion-mnist-small-shifted",
                                  "fashion-mnist-colour-factorized",
                                  "fashion-mnist-washout-factorized"])
def test_every_shipped_generator_is_listed_verified_and_documented(name):
    from synaug_learn.generators import list_pretrained
    from synaug_learn.generators._pretrained import PRETRAINED_DIR, verify_pretrained

    assert name in list_pretrained()
    folder = PRETRAINED_DIR / name
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a folder without recorded SHA-256 would warn
        verify_pretrained(folder)
    card = (folder / "README.md").read_text()
    assert "TBD" not in card.split("## Measured")[0]  # the model card's facts are filled in
    gen = ConditionalDiffusionGenerator.from_pretrained(name)
    assert gen.get_params()["pretrained"] == name
    assert gen.can_compose() == name.endswith("-factorized")


@pytest.fixture(scope="module")
def shipped_samples():
    """The shipped generator and 12 of its own images of two classes (stand-ins for real rows)."""
    gen = ConditionalDiffusionGenerator.from_pretrained("fashion-mnist-small",
                                                        num_inference_steps=10)
    X0 = np.zeros((4, 28, 28), np.uint8)
    gen.fit(X0, [3, 3, 9, 9])  # a pretrained generator only reads the format and classes
    X, y, _ = gen.generate({(3, None): 6, (9, None): 6}, random_state=0)
    return gen, X, y


def test_edit_keeps_more_of_the_image_the_lower_the_strength(shipped_samples):
    gen, X, y = shipped_samples
    change = {}
    for strength in (0.1, 0.5, 1.0):
        X_edit = gen.edit(X, y, strength=strength, random_state=0)
        assert X_edit.shape == X.shape and X_edit.dtype == X.dtype
        change[strength] = np.abs(X_edit.astype(float) - X).mean()
    print("mean absolute change (0-255) by strength:", change)
    assert 0 < change[0.1] < change[0.5] < change[1.0]
    assert change[0.1] < 0.5 * change[1.0]


@pytest.mark.parametrize("scheduler", ["dpm++", "sde-dpm++"])
def test_edit_rows_are_reproducible_and_independent_of_the_others(shipped_samples, scheduler):
    gen, X, y = shipped_samples
    gen = clone(gen).set_params(scheduler=scheduler).fit(np.zeros((4, 28, 28), np.uint8),
                                                         [3, 3, 9, 9])
    X_edit = gen.edit(X, y, strength=0.5, random_state=0)
    np.testing.assert_array_equal(gen.edit(X, y, strength=0.5, random_state=0), X_edit)
    # row i's noise depends on (random_state, i) alone, not on its batch or the other strata
    np.testing.assert_array_equal(gen.edit(X[:4], y[:4], strength=0.5, random_state=0),
                                  X_edit[:4])
    assert not np.array_equal(gen.edit(X, y, strength=0.5, random_state=1), X_edit)


@pytest.mark.parametrize("kwargs, match", [
    ({"strength": 0}, r"strength must be a float in \(0, 1\]; got 0"),
    ({"strength": 1.5}, r"strength must be a float in \(0, 1\]; got 1.5"),
    ({"y": [3, 4]}, "4"),
    ({"X": np.zeros((2, 14, 14), np.uint8)}, r"X must hold images of shape \(28, 28\)"),
])
def test_edit_bad_input_names_the_argument(shipped_samples, kwargs, match):
    gen, X, y = shipped_samples
    args = {"X": X[:2], "y": y[:2], "strength": 0.5, **kwargs}
    with pytest.raises(ValueError, match=match):
        gen.edit(args.pop("X"), args.pop("y"), **args)
