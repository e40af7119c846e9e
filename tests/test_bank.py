import doctest
import io
import json
import zipfile

import numpy as np
import pytest

import synaug_learn._bank as bank_module
from synaug_learn._bank import SyntheticBank
from synaug_learn._fill import fill
from synaug_learn.generators import BaseGenerator, JitterGenerator
from synaug_learn.utils import derive_seed, stratum_key


class CountingJitter(JitterGenerator):
    """JitterGenerator that records its generate_seeded calls and can fail on one of them."""

    def generate_seeded(self, stratum, seeds):
        calls = self.__dict__.setdefault("calls", [])
        calls.append((tuple(stratum), list(seeds)))
        fail_at = self.__dict__.get("fail_at")
        if fail_at is not None and len(calls) == fail_at:
            raise KeyboardInterrupt
        return super().generate_seeded(stratum, seeds)


PLAIN_CALLS = []  # outside the generators, so that calling them does not change their state


class PlainGenerator:
    """A third-party generator: only fit/generate, rows drawn one after another from one stream."""

    def fit(self, X, y, groups=None):
        self.classes_ = np.unique(y)
        self.has_groups_ = False
        return self

    def generate(self, n_per_stratum, random_state=None):
        rng = np.random.default_rng(random_state)
        X, y = [], []
        for (label, _), n in n_per_stratum.items():
            PLAIN_CALLS.append(n)
            X.append(rng.standard_normal((n, 3)) + label)
            y.append(np.full(n, label))
        return np.concatenate(X), np.concatenate(y), None

    def fingerprint(self):
        return "plain-v1"


class NoFingerprint(PlainGenerator):
    fingerprint = None


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(40, 4, 4), dtype=np.uint8)
    y = np.array([0] * 24 + [1] * 10 + [2] * 6)
    groups = np.array(["a", "b"] * 20)
    return X, y, groups


@pytest.fixture
def gen(data):
    X, y, _ = data
    return CountingJitter().fit(X, y)


def shard_files(root):
    return sorted(p for p in root.rglob("shard_*.npz"))


def test_doctests():
    result = doctest.testmod(bank_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("on_disk", [False, True])
def test_fetch_equals_generate(gen, tmp_path, on_disk):
    request = {(2, None): 11, (0, None): 0, (1, None): 4}
    bank = SyntheticBank(tmp_path / "bank" if on_disk else None, shard_size=4)
    X_b, y_b, g_b = fill(bank, gen, request, random_state=7)
    X_g, y_g, g_g = gen.generate(request, random_state=7)
    np.testing.assert_array_equal(X_b, X_g)
    np.testing.assert_array_equal(y_b, y_g)
    assert X_b.dtype == np.uint8 and X_b.shape == (15, 4, 4)
    assert y_b.dtype == gen.classes_.dtype
    assert y_b.tolist() == [2] * 11 + [1] * 4
    assert g_b is None and g_g is None
    # One generate_seeded call per shard-sized batch: 11 rows -> 4 + 4 + 3, 4 rows -> 4.
    assert [len(seeds) for _, seeds in gen.calls[:4]] == [4, 4, 3, 4]


def test_fetch_with_groups_equals_generate(data, tmp_path):
    X, y, groups = data
    gen = JitterGenerator().fit(X, y, groups)
    request = {(1, "a"): 5, (2, "b"): 3}
    X_b, y_b, g_b = fill(SyntheticBank(tmp_path, shard_size=2), gen, request, random_state=3)
    X_g, y_g, g_g = gen.generate(request, random_state=3)
    np.testing.assert_array_equal(X_b, X_g)
    np.testing.assert_array_equal(y_b, y_g)
    assert g_b.tolist() == g_g.tolist() == ["a"] * 5 + ["b"] * 3


def test_memory_bank_writes_no_files(gen, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bank = SyntheticBank(shard_size=4)
    fill(bank, gen, {(1, None): 9}, random_state=0)
    fill(bank, gen, {(1, None): 9}, random_state=0)
    assert list(tmp_path.iterdir()) == []
    assert bank.last_stats_ == {"requested": 9, "generated": 0, "reused": 9}


def test_reuse_is_counted_and_only_missing_rows_are_generated(gen):
    bank = SyntheticBank(shard_size=4)
    X10, _, _ = fill(bank, gen, {(1, None): 10}, random_state=0)
    assert bank.last_stats_ == {"requested": 10, "generated": 10, "reused": 0}
    gen.calls.clear()
    X10b, _, _ = fill(bank, gen, {(1, None): 10}, random_state=0)
    X6, _, _ = fill(bank, gen, {(1, None): 6}, random_state=0)
    assert gen.calls == []
    assert bank.last_stats_ == {"requested": 6, "generated": 0, "reused": 6}
    np.testing.assert_array_equal(X10b, X10)
    np.testing.assert_array_equal(X6, X10[:6])
    X15, _, _ = fill(bank, gen, {(1, None): 15}, random_state=0)
    assert bank.last_stats_ == {"requested": 15, "generated": 5, "reused": 10}
    # The partial shard (rows 8, 9) is extended with rows 10, 11 only, then shard 3 is new.
    base = derive_seed(0)
    assert gen.calls == [
        ((1, None), [derive_seed(base, (1, None), i) for i in (10, 11)]),
        ((1, None), [derive_seed(base, (1, None), i) for i in (12, 13, 14)]),
    ]
    np.testing.assert_array_equal(X15[:10], X10)
    np.testing.assert_array_equal(X15, gen.generate({(1, None): 15}, random_state=0)[0])
    assert bank.stats_ == {"requested": 41, "generated": 15, "reused": 26}


def test_grid_over_fill_ratios_generates_rows_once(gen):
    deficits = {(1, None): 14, (2, None): 18}
    bank = SyntheticBank(shard_size=5)
    for ratio in (0.25, 0.5, 1.0):
        fill(bank, gen, {s: int(round(ratio * d)) for s, d in deficits.items()}, random_state=1)
    assert bank.stats_["generated"] == 14 + 18
    assert sum(len(seeds) for _, seeds in gen.calls) == 14 + 18


def test_on_disk_bank_persists_across_instances_and_layout(gen, tmp_path):
    root = tmp_path / "bank"
    X1, y1, _ = fill(SyntheticBank(root, shard_size=4), gen, {(2, None): 10}, random_state=5)
    bank2 = SyntheticBank(str(root), shard_size=4)
    X2, y2, _ = fill(bank2, gen, {(2, None): 10}, random_state=5)
    assert bank2.last_stats_ == {"requested": 10, "generated": 0, "reused": 10}
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    folder = root / gen.fingerprint() / str(derive_seed(5)) / stratum_key((2, None))
    assert sorted(p.name for p in folder.iterdir()) == [
        "shard_00000.npz", "shard_00001.npz", "shard_00002.npz"]
    assert json.loads((root / "bank.json").read_text())["shard_size"] == 4
    with np.load(folder / "shard_00002.npz") as npz:
        assert len(npz["X"]) == 2  # partial last shard: rows 8 and 9
        meta = json.loads(str(npz["meta"]))
    assert meta["fingerprint"] == gen.fingerprint() and meta["n_rows"] == 2
    with pytest.raises(ValueError, match="shard_size=8 does not match"):
        fill(SyntheticBank(root, shard_size=8), gen, {(2, None): 1}, random_state=5)


def test_interrupt_then_resume(gen, tmp_path):
    root = tmp_path / "bank"
    reference = fill(SyntheticBank(shard_size=4), gen, {(1, None): 10, (2, None): 6}, 2)
    gen.calls.clear()
    gen.fail_at = 3
    bank = SyntheticBank(root, shard_size=4)
    with pytest.raises(KeyboardInterrupt):
        fill(bank, gen, {(1, None): 10, (2, None): 6}, random_state=2)
    assert len(shard_files(root)) == 2  # the two completed batches of stratum 1
    assert bank.last_stats_["generated"] == 8
    gen.fail_at = None
    gen.calls.clear()
    bank2 = SyntheticBank(root, shard_size=4)
    X, y, _ = fill(bank2, gen, {(1, None): 10, (2, None): 6}, random_state=2)
    assert bank2.last_stats_ == {"requested": 16, "generated": 8, "reused": 8}
    assert sum(len(seeds) for _, seeds in gen.calls) == 8
    np.testing.assert_array_equal(X, reference[0])
    np.testing.assert_array_equal(y, reference[1])
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def test_interrupt_during_write_leaves_no_temp_file(gen, tmp_path, monkeypatch):
    root = tmp_path / "bank"
    bank = SyntheticBank(root, shard_size=4)
    fill(bank, gen, {(1, None): 4}, random_state=0)
    (shard,) = shard_files(root)
    before = shard.read_bytes()

    def broken_replace(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(bank_module.os, "replace", broken_replace)
    with pytest.raises(KeyboardInterrupt):
        fill(bank, gen, {(1, None): 6}, random_state=0)  # extends shard 0: a rewrite
    monkeypatch.undo()
    assert shard.read_bytes() == before
    assert [p.name for p in shard.parent.iterdir()] == ["shard_00000.npz"]


def _first_shard(root):
    return shard_files(root)[0]


@pytest.mark.parametrize("damage", ["truncate", "flip", "tamper"])
def test_corrupted_shard_is_detected_warned_and_regenerated(gen, tmp_path, damage):
    root = tmp_path / "bank"
    X_ref, _, _ = fill(SyntheticBank(root, shard_size=4), gen, {(1, None): 8}, random_state=0)
    shard = _first_shard(root)
    raw = shard.read_bytes()
    if damage == "truncate":
        shard.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        pos = raw.index(b"X.npy") + 200  # inside the stored array data
        shard.write_bytes(raw[:pos] + bytes([raw[pos] ^ 0xFF]) + raw[pos + 1:])
    else:  # a well-formed file whose rows do not match the stored checksum
        with np.load(io.BytesIO(raw)) as npz:
            parts = {k: npz[k] for k in npz.files}
        parts["X"] = parts["X"].copy()
        parts["X"][0, 0, 0] ^= 1
        buf = io.BytesIO()
        np.savez(buf, **parts)
        shard.write_bytes(buf.getvalue())
    bank = SyntheticBank(root, shard_size=4)
    with pytest.warns(UserWarning, match=f"{shard.name}.*(cannot be loaded|checksum)"):
        X, _, _ = fill(bank, gen, {(1, None): 8}, random_state=0)
    assert bank.last_stats_ == {"requested": 8, "generated": 4, "reused": 4}
    np.testing.assert_array_equal(X, X_ref)
    assert zipfile.is_zipfile(shard)
    # The repaired shard is trusted again.
    fill(bank, gen, {(1, None): 8}, random_state=0)
    assert bank.last_stats_["generated"] == 0


def test_shard_of_another_seed_is_rejected(gen, tmp_path):
    root = tmp_path / "bank"
    fill(SyntheticBank(root, shard_size=4), gen, {(1, None): 4}, random_state=0)
    fill(SyntheticBank(root, shard_size=4), gen, {(1, None): 4}, random_state=1)
    seed_dir = root / gen.fingerprint()
    shard = f"{stratum_key((1, None))}/shard_00000.npz"
    wrong = (seed_dir / str(derive_seed(0)) / shard).read_bytes()
    (seed_dir / str(derive_seed(1)) / shard).write_bytes(wrong)  # valid file, other base seed
    bank = SyntheticBank(root, shard_size=4)
    with pytest.warns(UserWarning, match="another generator, seed"):
        X, _, _ = fill(bank, gen, {(1, None): 4}, random_state=1)
    assert bank.last_stats_["generated"] == 4
    np.testing.assert_array_equal(X, gen.generate({(1, None): 4}, random_state=1)[0])


def test_fingerprint_change_gives_another_folder(data, tmp_path):
    X, y, _ = data
    root = tmp_path / "bank"
    g1 = JitterGenerator(noise_scale=0.1).fit(X, y)
    g2 = JitterGenerator(noise_scale=0.3).fit(X, y)
    bank = SyntheticBank(root, shard_size=4)
    X1, _, _ = fill(bank, g1, {(1, None): 4}, random_state=0)
    X2, _, _ = fill(bank, g2, {(1, None): 4}, random_state=0)
    assert bank.last_stats_["generated"] == 4
    folders = {p.name for p in root.iterdir() if p.is_dir() and p.name != "locks"}
    assert folders == {g1.fingerprint(), g2.fingerprint()}
    assert not np.array_equal(X1, X2)
    g3 = JitterGenerator(noise_scale=0.1).fit(X[:-1], y[:-1])  # other training data
    fill(bank, g3, {(1, None): 4}, random_state=0)
    assert bank.last_stats_["generated"] == 4


def test_determinism(gen):
    request = {(1, None): 7, (2, None): 3}
    X1, _, _ = fill(SyntheticBank(shard_size=3), gen, request, random_state=11)
    X2, _, _ = fill(SyntheticBank(shard_size=5), gen, request, random_state=11)
    X3, _, _ = fill(SyntheticBank(shard_size=3), gen, request, random_state=12)
    np.testing.assert_array_equal(X1, X2)
    assert not np.array_equal(X1, X3)


def test_generator_without_generate_seeded(tmp_path):
    gen = PlainGenerator().fit(np.zeros((6, 3)), np.array([0, 0, 0, 1, 1, 1]))
    root = tmp_path / "bank"
    bank = SyntheticBank(root, shard_size=4)
    X, y, g = fill(bank, gen, {(1, None): 6}, random_state=0)
    base = derive_seed(0)
    expected = np.concatenate([
        gen.generate({(1, None): 4}, derive_seed(base, (1, None), "shard", 0))[0],
        gen.generate({(1, None): 2}, derive_seed(base, (1, None), "shard", 1))[0],
    ])
    np.testing.assert_array_equal(X, expected)
    assert y.tolist() == [1] * 6 and g is None
    PLAIN_CALLS.clear()
    X7, _, _ = fill(bank, gen, {(1, None): 7}, random_state=0)
    assert PLAIN_CALLS == [3]  # the partial shard is regenerated whole
    assert bank.last_stats_ == {"requested": 7, "generated": 3, "reused": 4}
    np.testing.assert_array_equal(X7[:6], X)  # this generator's output is prefix-stable
    fill(bank, gen, {(1, None): 7}, random_state=0)
    assert bank.last_stats_["generated"] == 0


def test_generator_without_fingerprint_is_hashed(data):
    X, y, _ = data
    gen = NoFingerprint().fit(X, y)
    bank = SyntheticBank(shard_size=4)
    fill(bank, gen, {(0, None): 2}, random_state=0)
    fill(bank, gen, {(0, None): 2}, random_state=0)
    assert bank.last_stats_["reused"] == 2
    other = NoFingerprint().fit(X[:30], y[:30] + 1)  # other classes_: another state hash
    fill(bank, other, {(1, None): 2}, random_state=0)
    assert bank.last_stats_["generated"] == 2


def test_empty_request(gen, data):
    X, y, groups = data
    X_new, y_new, g_new = fill(SyntheticBank(), gen, {(1, None): 0}, random_state=0)
    assert X_new.shape == (0, 4, 4) and X_new.dtype == np.uint8
    assert y_new.shape == (0,) and g_new is None
    gen_g = JitterGenerator().fit(X, y, groups)
    _, _, g_new = fill(SyntheticBank(), gen_g, {}, random_state=0)
    assert g_new.shape == (0,)


def test_progress_bar(gen, capsys):
    fill(SyntheticBank(shard_size=4, verbose=1), gen, {(1, None): 5}, random_state=0)
    assert "generating" in capsys.readouterr().err
    fill(SyntheticBank(shard_size=4, verbose=0), gen, {(1, None): 5}, random_state=0)
    assert capsys.readouterr().err == ""


def test_check_path(tmp_path):
    folder = SyntheticBank.check_path(tmp_path / "a" / "b")
    assert folder.is_dir() and folder.is_absolute()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match=r"cache_dir=.*file.*cannot be used"):
        SyntheticBank.check_path(blocker / "bank")
    with pytest.raises(ValueError, match=r"memory=.*file"):
        SyntheticBank.check_path(blocker, param_name="memory")
    with pytest.raises(TypeError, match="cache_dir must be a str"):
        SyntheticBank.check_path(3)


def test_bad_input_raises_before_any_write(gen, tmp_path):
    root = tmp_path / "bank"
    bank = SyntheticBank(root)
    with pytest.raises(TypeError, match="random_state must be an int"):
        fill(bank, gen, {(1, None): 2}, random_state=None)
    with pytest.raises(ValueError, match=r"n_per_stratum\[\(1, None\)\] must be an int >= 0"):
        fill(bank, gen, {(1, None): -1}, random_state=0)
    with pytest.raises(ValueError, match="label 9"):
        fill(bank, gen, {(1, None): 2, (9, None): 2}, random_state=0)
    with pytest.raises(ValueError, match="must be .label, group_or_None. tuples"):
        fill(bank, gen, {1: 2}, random_state=0)
    with pytest.raises(TypeError, match="n_per_stratum must be a dict"):
        fill(bank, gen, [((1, None), 2)], random_state=0)
    with pytest.raises(TypeError, match="generator must implement"):
        fill(bank, object(), {(1, None): 2}, random_state=0)
    assert not root.exists()
    with pytest.raises(ValueError, match="shard_size must be an int >= 1; got 0"):
        SyntheticBank(shard_size=0)
    with pytest.raises(TypeError, match="path must be None"):
        SyntheticBank(path=5)
    with pytest.raises(ValueError, match="verbose must be"):
        SyntheticBank(verbose=-1)


def test_groups_request_needs_group(data):
    X, y, groups = data
    gen = JitterGenerator().fit(X, y, groups)
    with pytest.raises(ValueError, match="needs a group"):
        fill(SyntheticBank(), gen, {(1, None): 2}, random_state=0)


def test_bank_is_picklable(gen):
    import pickle

    bank = SyntheticBank(shard_size=4)
    fill(bank, gen, {(1, None): 5}, random_state=0)
    clone = pickle.loads(pickle.dumps(bank))
    fill(clone, gen, {(1, None): 5}, random_state=0)
    assert clone.last_stats_["generated"] == 0


class OnlyGenerate(JitterGenerator):
    """A BaseGenerator subclass whose own sampling lives in `generate` only."""

    _generate_stratum = BaseGenerator._generate_stratum

    def generate(self, n_per_stratum, random_state=None):
        rng = np.random.default_rng(random_state)
        (stratum, n), = n_per_stratum.items()
        X = rng.integers(0, 256, size=(n, *self.sample_shape_)).astype(self.dtype_)
        return X, np.full(n, stratum[0]), None


def test_base_generator_without_generate_stratum_uses_whole_shards(data):
    X, y, _ = data
    gen = OnlyGenerate().fit(X, y)
    bank = SyntheticBank(shard_size=4)
    X_new, y_new, _ = fill(bank, gen, {(2, None): 5}, random_state=0)
    base = derive_seed(0)
    np.testing.assert_array_equal(
        X_new[4:], gen.generate({(2, None): 1}, derive_seed(base, (2, None), "shard", 1))[0])
    assert y_new.tolist() == [2] * 5 and bank.last_stats_["generated"] == 5


def test_fill_doctests():
    import synaug_learn._fill as fill_module

    result = doctest.testmod(fill_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_ray_backend_sends_waves_of_shards_and_gives_the_local_rows(gen, monkeypatch):
    """The Ray path of the fill loop, with Ray's generate_seeded_with_ray replaced by its
    local equivalent (Ray itself is exercised by the tests marked `ray`)."""
    import synaug_learn.generators as generators

    waves = []

    def local_ray(generator, jobs, **options):
        waves.append((len(jobs), options))
        return [generator.generate_seeded(stratum, seeds) for stratum, seeds in jobs]

    monkeypatch.setattr(generators, "generate_seeded_with_ray", local_ray)
    request = {(1, None): 10, (0, None): 4}
    bank = SyntheticBank(shard_size=3)
    X_r, y_r, g_r = fill(bank, gen, request, 0, backend="ray", ray_wave=2,
                         ray_options={"concurrency": 2})
    X_l, y_l, _ = gen.generate(request, random_state=0)
    np.testing.assert_array_equal(X_r, X_l)
    np.testing.assert_array_equal(y_r, y_l)
    assert g_r is None
    assert waves == [(2, {"concurrency": 2})] * 3  # 4 + 2 shards, two at a time
    assert bank.last_stats_ == {"requested": 14, "generated": 14, "reused": 0}


def test_a_kill_loses_at_most_one_batch_even_inside_one_shard(gen, tmp_path):
    """A deficit smaller than one shard (100 rows, shards of 256) is stored batch by batch."""
    root = tmp_path / "bank"
    gen.fail_at = 3  # killed while generating the third batch of 32 rows
    with pytest.raises(KeyboardInterrupt):
        fill(SyntheticBank(root), gen, {(1, None): 100}, random_state=0, batch_size=32)
    (shard,) = shard_files(root)
    with np.load(shard) as npz:
        assert len(npz["X"]) == 64  # two whole batches kept; only the third is lost
    gen.fail_at = None
    gen.calls.clear()
    bank = SyntheticBank(root)
    X, _, _ = fill(bank, gen, {(1, None): 100}, random_state=0, batch_size=32)
    assert bank.last_stats_ == {"requested": 100, "generated": 36, "reused": 64}
    assert [len(seeds) for _, seeds in gen.calls] == [32, 4]
    np.testing.assert_array_equal(X, gen.generate({(1, None): 100}, random_state=0)[0])


def test_batch_size_is_checked(gen):
    with pytest.raises(ValueError, match="batch_size must be an int >= 1; got 0"):
        fill(SyntheticBank(), gen, {(1, None): 3}, random_state=0, batch_size=0)


class SlowLoggingJitter(JitterGenerator):
    """Appends every seed it generates to a file (shared by processes) and takes its time."""

    def __init__(self, log=None, noise_scale=0.1, interpolation=1.0):
        super().__init__(noise_scale=noise_scale, interpolation=interpolation)
        self.log = log

    def generate_seeded(self, stratum, seeds):
        import time

        with open(self.log, "a") as fh:
            fh.write("".join(f"{s}\n" for s in seeds))
        time.sleep(0.3)
        return super().generate_seeded(stratum, seeds)


def _fill_in_process(root, log, data, out):
    X, y, _ = data
    gen = SlowLoggingJitter(log=log).fit(X, y)
    X_new, _, _ = fill(SyntheticBank(root, shard_size=8), gen, {(1, None): 20, (2, None): 12},
                       random_state=0, batch_size=4)
    np.save(out, X_new)


def test_two_processes_on_one_bank_generate_every_row_once(data, tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    log = tmp_path / "seeds.log"
    procs = [ctx.Process(target=_fill_in_process,
                         args=(tmp_path / "bank", log, data, tmp_path / f"out{i}.npy"))
             for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    seeds = log.read_text().split()
    assert len(seeds) == 32 and len(set(seeds)) == 32  # each row generated by one process once
    np.testing.assert_array_equal(np.load(tmp_path / "out0.npy"), np.load(tmp_path / "out1.npy"))
    assert any((tmp_path / "bank" / "locks").glob("rows-*.lock"))
