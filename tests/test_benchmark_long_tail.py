"""Fast tests of benchmarks/long_tail.py's pure helpers: the validation carve, parts, merging.

No network is trained here; the benchmark itself is smoke-run by hand (``--quick``).
"""

import json
from argparse import Namespace

import numpy as np
import pytest


@pytest.fixture
def lt(load_benchmark):
    return load_benchmark("long_tail")


COUNTS = [300, 179, 107, 64, 38, 23, 13, 8, 5, 3, 2, 1]


def _labels():
    return np.repeat(np.arange(len(COUNTS)), COUNTS)[np.random.RandomState(0).permutation(
        sum(COUNTS))]


def test_validation_split_sizes(lt):
    y = _labels()
    fit, val = lt.validation_split(y, 0.2, seed=0)
    sizes = np.bincount(y[val], minlength=len(COUNTS)).tolist()
    # floor(20 %), at least one where a class has two rows or more, none for a 1-row class
    assert sizes == [60, 35, 21, 12, 7, 4, 2, 1, 1, 1, 1, 0]
    assert np.bincount(y[fit], minlength=len(COUNTS)).min() == 1  # every class keeps a row


def test_validation_split_disjoint_and_complete(lt):
    y = _labels()
    fit, val = lt.validation_split(y, 0.2, seed=3)
    assert np.intersect1d(fit, val).size == 0
    assert np.array_equal(np.sort(np.concatenate([fit, val])), np.arange(len(y)))


def test_validation_split_is_seed_determined(lt):
    y = _labels()
    a = lt.validation_split(y, 0.2, seed=1)
    b = lt.validation_split(y.copy(), 0.2, seed=1)
    c = lt.validation_split(y, 0.2, seed=2)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_validation_split_rejects_bad_fraction(lt, fraction):
    with pytest.raises(ValueError, match="fraction"):
        lt.validation_split(np.array([0, 0, 1, 1]), fraction, seed=0)


def _record(seed, method, val, test, choice=None):
    rec = {"seed": seed, "method": method, "wall_s": 1.0,
           "metrics": {"balanced_accuracy": test, "many": test, "medium": test, "few": test,
                       "validation_balanced_accuracy": val},
           "seed_info": {"class_counts": [3, 2], "fit_counts": [2, 1],
                         "validation_counts": [1, 1], "indomain_generator": None}}
    if choice:
        rec.update(choice=choice, candidates=[{"choice": choice,
                                               "validation_balanced_accuracy": val}])
    return rec


def test_merge_chooses_on_validation_not_test(lt, tmp_path):
    cfg = lt.protocol_config(_args(tmp_path, validation=0.2))
    records = []
    for seed in (0, 1):
        records += [
            # best on test, worst on validation: must not be chosen
            _record(seed, "synaug_pretrained", 0.5, 0.9),
            _record(seed, "synaug_pretrained_mixup", 0.7, 0.6),
            _record(seed, "balanced_softmax", 0.4, 0.8),
            _record(seed, "logit_adjustment_posthoc", 0.6, 0.5, {"tau": 1.25}),
            _record(seed, "synaug_pretrained_mixup_retrain", 0.65, 0.7),
            _record(seed, "synaug_pretrained_mixup_retrain_resampled", 0.55, 0.8),
        ]
    records.append(_record(0, "pool_pretrain", 0.9, 0.9))  # seed 1 missing
    result = lt.merge(records, cfg, {"name": "t", "command": "c", "git": "abc",
                                     "machine": {"cpu_cores": 2}})
    config = result["config"]
    assert config["selected_on_validation"] == "synaug_pretrained_mixup"
    assert config["peer"] == "logit_adjustment_posthoc"
    assert config["validation_choices"]["per_seed"]["logit_adjustment_posthoc"] == [
        {"tau": 1.25}, {"tau": 1.25}]
    assert config["validation_choices"]["retrain_rows"]["chosen"] == "original"
    assert result["incomplete"] == ["pool_pretrain"]
    assert result["seeds"] == [0, 1] and result["versions"]["git"] == "abc"
    rows = {r["method"]: r for r in result["rows"]}
    assert rows["synaug_pretrained_mixup"]["metrics"]["validation_balanced_accuracy"][
        "mean"] == pytest.approx(0.7)
    assert "(SynAug)" in lt.markdown(result)


def test_merge_without_validation_keeps_the_committed_peer_rule(lt, tmp_path):
    records = [_record(0, "balanced_softmax", None, 0.8), _record(0, "ce", None, 0.6)]
    for r in records:
        del r["metrics"]["validation_balanced_accuracy"]
    result = lt.merge(records, lt.protocol_config(_args(tmp_path)),
                      {"name": "t", "command": "c", "git": "a"})
    assert result["config"]["peer"] == "balanced_softmax"  # best test score, as committed
    assert "selected_on_validation" not in result["config"]
    assert "val bal. acc" not in lt.markdown(result)


def test_domain_shift_merge_chooses_among_shifted_rows(lt, tmp_path):
    cfg = lt.protocol_config(_args(tmp_path, validation=0.2, domain_shift=True))
    assert cfg["shifted_generator"] == "fashion-mnist-small-shifted"
    assert cfg["shifted_generator_style"] == "texture"
    records = []
    for seed, bump in ((0, 0.0), (1, 0.02)):
        records += [
            _record(seed, "crt", 0.6, 0.62 + bump),
            _record(seed, "balanced_softmax", 0.55, 0.70),  # best on test only
            _record(seed, "synaug_shifted", 0.5, 0.55),
            _record(seed, "synaug_shifted_domain_mixup_retrain", 0.7, 0.66 + bump),
            _record(seed, "real_fill_styled", 0.8, 0.9),  # not a SynAug row, not a peer
        ]
    result = lt.merge(records, cfg, {"name": "long_tail_domain_shift", "command": "c",
                                     "git": "abc"})
    config = result["config"]
    assert config["selected_on_validation"] == "synaug_shifted_domain_mixup_retrain"
    assert config["peer"] == "crt"
    rows = {r["method"]: r for r in result["rows"]}
    assert list(rows) == ["balanced_softmax", "crt", "synaug_shifted",
                          "synaug_shifted_domain_mixup_retrain", "real_fill_styled"]
    gain = rows["synaug_shifted_domain_mixup_retrain"]["paired_vs_plain_fill"]
    assert gain["mean"] == pytest.approx(0.12) and gain["n_better"] == 2
    assert "paired_vs_plain_fill" not in rows["synaug_shifted"]
    assert rows["synaug_shifted_domain_mixup_retrain"]["paired_vs_peer"]["mean"] == \
        pytest.approx(0.04)
    text = lt.markdown(result)
    assert "Δ vs plain fill" in text and "a generator from another domain" in text


def test_merge_records_its_goals_met_and_missed(lt, tmp_path):
    records = []
    for seed, bump in ((0, 0.0), (1, 0.02)):
        records += [
            _record(seed, "balanced_softmax", 0.5, 0.60),
            _record(seed, "crt", 0.6, 0.58),  # the peer on validation
            _record(seed, "synaug_shifted", 0.5, 0.66 + bump),
            _record(seed, "synaug_shifted_mixup_crt", 0.7, 0.68 + bump),  # chosen: +0.10
            _record(seed, "synaug_shifted_two_stage", 0.6, 0.75)]
    shift = lt.merge(records, lt.protocol_config(_args(tmp_path, validation=0.2,
                                                       domain_shift=True)),
                     {"name": "long_tail_domain_shift", "command": "c", "git": "a"})
    got = [(g["row"], g["against"], round(g["difference"]["mean"], 3), g["met"])
           for g in shift["goals"]]
    assert got == [("synaug_shifted_mixup_crt", "crt", 0.11, True),
                   ("synaug_shifted_mixup_crt", "balanced_softmax", 0.09, True),
                   # the remedy is chosen on validation, not the better-on-test two-stage row
                   ("synaug_shifted_mixup_crt", "synaug_shifted", 0.02, False)]
    assert "**not met** (short by 0.010)" in lt.markdown(shift)
    plain = [_record(s, m, v, t) for s in (0, 1) for m, v, t in (
        ("balanced_softmax", 0.5, 0.6), ("synaug_pretrained", 0.6, 0.79),
        ("real_fill", 0.7, 0.80))]
    result = lt.merge(plain, lt.protocol_config(_args(tmp_path, validation=0.2)),
                      {"name": "long_tail", "command": "c", "git": "a"})
    (goal,) = result["goals"]
    assert (goal["against"], goal["met"]) == ("real_fill", True)  # -0.01 >= -0.015


def test_domain_shift_needs_validation_and_names_its_results(lt):
    with pytest.raises(SystemExit, match="--domain-shift needs --validation"):
        lt.resolve_args(lt.parse_args(["--domain-shift"])[1])
    args = lt.resolve_args(lt.parse_args(["--domain-shift", "--validation", "0.2"])[1])
    assert args.name == "long_tail_domain_shift"
    assert "synaug_shifted_two_stage" in args.methods and "crt" in args.methods
    assert not any("pretrained" in m or "indomain" in m for m in args.methods)


def test_method_aliases_stand_for_their_rows_in_methods_and_exclude(lt):
    def methods(*argv):
        return lt.resolve_args(lt.parse_args(["--validation", "0.2", *argv])[1]).methods

    pretrained = methods("--methods", "pretrained")
    assert pretrained[0] == "synaug_pretrained" and pretrained[-1] == "synthetic_only"
    assert len(pretrained) == 13 and "synaug_pretrained_two_stage" in pretrained
    assert "synaug_pretrained_regen_mixup_retrain_resampled" in pretrained
    assert methods("--methods", "indomain") == [
        "synaug_indomain", "synaug_indomain_mixup", "synaug_indomain_mixup_retrain"]
    assert methods("--methods", "key") == lt.KEY_ROWS
    everything = methods()
    rest = methods("--exclude", "indomain", "pretrained")
    assert set(rest) == set(everything) - set(pretrained) - set(methods("--methods", "indomain"))
    assert "real_fill" in rest and not any(m.startswith("synaug") for m in rest)
    assert methods("--methods", "pretrained", "--exclude", "synthetic_only") == pretrained[:-1]


def test_committed_protocol_keeps_its_crt_recipe(lt, tmp_path, monkeypatch):
    built = []
    monkeypatch.setattr(lt, "make_recipe", lambda name, **kw: built.append(name) or _Fit())
    sd = Namespace(counts={0: 3}, pools={}, seed=0, X_fit=None, y_fit=None)
    for validation in (None, 0.2):
        list(lt.fit_candidates("crt", sd, {}, _args(tmp_path, validation=validation), "b"))
    assert built == ["ce_retrain", "crt"]  # the committed crt row was the subsample refit


class _Fit:
    def fit(self, X, y):
        return self


def _args(tmp_path, **kw):
    base = dict(imbalance_factor=100, n_max=300, train_steps=350, steps=10, guidance=1.5,
                indomain_steps=440, indomain_minutes=None, device="cpu", validation=None,
                pool_pretrain_steps=1000, parts=tmp_path, name="long_tail", domain_shift=False,
                reuse=None, pretrained="fashion-mnist-small", scheduler="ddim",
                heldout_validation=None)
    return Namespace(**{**base, **kw})


def _saved_generator(tmp_path, steps):
    """A folder that reads as a saved generator trained ``steps`` steps (no weights)."""
    folder = tmp_path / "longer"
    folder.mkdir()
    (folder / "training.json").write_text(json.dumps({"steps": steps}))
    (folder / "synaug_generator.json").write_text("{}")  # what marks a saved generator
    return folder


def test_another_pretrained_generator_is_recorded_and_sets_the_indomain_budget(lt, tmp_path):
    folder = _saved_generator(tmp_path, 10176)
    args = lt.resolve_args(lt.parse_args(["--validation", "0.2", "--pretrained",
                                          str(folder)])[1])
    assert args.indomain_steps == 10176
    cfg = lt.protocol_config(Namespace(**{**vars(args), "train_steps": 350}))
    assert (cfg["pretrained_generator"], cfg["shipped_generator_steps"]) == (str(folder), 10176)
    shipped = lt.resolve_args(lt.parse_args(["--validation", "0.2"])[1])
    assert shipped.indomain_steps == 4176 != args.indomain_steps


def test_stored_part_with_another_configuration_is_refused(lt, tmp_path):
    args = _args(tmp_path)
    path = lt._part_path(tmp_path, "long_tail", 0, "ce")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({**_record(0, "ce", None, 0.5),
                                "config": lt.protocol_config(args)}))
    assert lt.load_part(path, lt.protocol_config(args))["method"] == "ce"
    with pytest.raises(SystemExit, match="another configuration"):
        lt.load_part(path, lt.protocol_config(_args(tmp_path, train_steps=1000)))


def test_like_reads_the_committed_results(lt):
    from pathlib import Path

    committed = Path(lt.__file__).parent / "results" / "long_tail.json"
    parser, args = lt.parse_args(["--like", str(committed)])
    args = lt.resolve_args(args)
    result = json.loads(committed.read_text())
    assert args.seed_list == result["seeds"]
    assert args.methods == [r["method"] for r in result["rows"]]
    cfg = lt.protocol_config(Namespace(**{**vars(args), "train_steps": args.train_steps[0]}))
    assert {k: v for k, v in result["config"].items() if k in cfg} == cfg


def test_domain_shift_reuses_generator_free_parts(lt, tmp_path):
    base = lt.protocol_config(_args(tmp_path, validation=0.2))
    shift = lt.protocol_config(_args(tmp_path, validation=0.2, domain_shift=True))
    for name, cfg, methods in (("long_tail", base, ["crt", "synaug_pretrained", "real_fill"]),
                               ("long_tail_domain_shift", shift, ["synaug_shifted"])):
        for method in methods:
            path = lt._part_path(tmp_path, name, 0, method)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({**_record(0, method, 0.5, 0.6), "config": cfg}))
    args = _args(tmp_path, name="long_tail_domain_shift", reuse="long_tail", validation=0.2,
                 domain_shift=True)
    result = lt.merge_parts(args, ["--merge"])
    rows = {r["method"]: r for r in result["rows"]}
    assert list(rows) == ["crt", "synaug_shifted", "real_fill"]  # no synaug_pretrained
    assert rows["crt"]["reused_from"] == "long_tail" and "reused_from" not in rows[
        "synaug_shifted"]
    assert "taken from the parts of `crt` (`long_tail`)" in lt.markdown(result)
    # another configuration (here: the training budget) is refused
    path = lt._part_path(tmp_path, "long_tail", 1, "ce")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({**_record(1, "ce", 0.5, 0.6),
                                "config": {**base, "train_steps": 1000}}))
    with pytest.raises(SystemExit, match="disagree|differs"):
        lt.merge_parts(args, ["--merge"])


def test_run_with_another_pretrained_generator_reuses_generator_free_parts(lt, tmp_path):
    """Also with another sampler: no generator-free row depends on it."""
    longer = str(_saved_generator(tmp_path, 10176))
    base = lt.protocol_config(_args(tmp_path, validation=0.2))
    probe = dict(validation=0.2, pretrained=longer, indomain_steps=10176, scheduler="dpm++")
    other = lt.protocol_config(_args(tmp_path, name="probe", **probe))
    assert "scheduler" not in base and other["scheduler"] == "dpm++"
    for name, cfg, methods in (("long_tail", base, ["real_fill", "pool_pretrain",
                                                    "synaug_pretrained"]),
                               ("probe", other, ["synaug_pretrained"])):
        for method in methods:
            path = lt._part_path(tmp_path, name, 0, method)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({**_record(0, method, 0.5, 0.6), "config": cfg}))
    result = lt.merge_parts(_args(tmp_path, name="probe", reuse="long_tail", **probe),
                            ["--merge"])
    rows = {r["method"]: r for r in result["rows"]}
    assert set(rows) == {"synaug_pretrained", "real_fill", "pool_pretrain"}
    assert rows["real_fill"]["reused_from"] == rows["pool_pretrain"]["reused_from"] == "long_tail"
    assert result["config"]["pretrained_generator"] == longer
    assert "DPM-Solver++-10 with guidance 1.5" in lt._header(result)
    (tmp_path / "probe.json").write_text(json.dumps(result))
    args = lt.apply_like(lt.parse_args([])[1], tmp_path / "probe.json")
    assert (args.scheduler, args.pretrained) == ("dpm++", longer)


def test_from_json_rewrites_the_file_it_read(lt, tmp_path):
    """``long_tail_no_validation.json`` holds a run named ``long_tail``: re-rendering it
    writes its own markdown, not over the run's name."""
    from pathlib import Path

    committed = Path(lt.__file__).parent / "results" / "long_tail_no_validation.json"
    copy = tmp_path / committed.name
    copy.write_text(committed.read_text())
    assert json.loads(copy.read_text())["benchmark"] == "long_tail"
    lt.main(["--from-json", str(copy)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long_tail_no_validation.json",
                                                          "long_tail_no_validation.md"]
    md = (tmp_path / "long_tail_no_validation.md").read_text()
    assert md.startswith("# Long-tail benchmark") and "| `synaug_indomain` |" in md


# -- --heldout-validation: choices on balanced held-out rows, the carve's score beside ----------

def test_merge_with_heldout_validation_chooses_on_it_and_records_the_carves_choice(lt, tmp_path):
    cfg = lt.protocol_config(_args(tmp_path, validation=0.2, heldout_validation=100))
    assert cfg["heldout_validation"] == 100
    records = []
    for seed in (0, 1):
        for method, carve, heldout in [("synaug_pretrained", 0.9, 0.6),  # the carve's pick
                                       ("synaug_pretrained_mixup", 0.5, 0.8),
                                       ("ce", 0.2, 0.7), ("balanced_softmax", 0.8, 0.4)]:
            rec = _record(seed, method, carve, 0.5)
            rec["metrics"][lt.HELDOUT] = heldout
            records.append(rec)
    result = lt.merge(records, cfg, {"name": "t", "command": "c", "git": "a"})
    config = result["config"]
    assert config["selected_on_validation"] == "synaug_pretrained_mixup"
    assert config["selected_on_carve"] == "synaug_pretrained"
    assert config["peer"] == "ce"  # best held-out score, worst carve score
    assert config["validation_choices"]["score"] == lt.HELDOUT
    assert config["validation_choices"]["synaug"]["synaug_pretrained"] == pytest.approx(0.6)
    md = lt.markdown(result)
    assert "| val bal. acc | held-out val |" in md
    assert "| 0.900 ± 0.000 | 0.600 ± 0.000 |" in md  # synaug_pretrained: carve, held-out
    assert "`synaug_pretrained` is what it would have chosen" in md


class _Column:
    """An 'estimator' that predicts column ``j`` of its input."""

    def __init__(self, j):
        self.j = j

    def predict(self, X):
        return X[:, self.j]


def _seed_with_two_validations(lt):
    """Column 0 is right on the carve and wrong on the held-out rows, column 1 the reverse."""
    y = np.array([0, 1, 0, 1])
    right_wrong = np.stack([y, 1 - y], axis=1)
    return lt.SeedData(0, None, None, right_wrong, y, right_wrong, y, {0: 2, 1: 2},
                       {0: 2, 1: 2}, {}, heldout=(right_wrong[:, ::-1], y))


@pytest.mark.parametrize("heldout, chosen", [(None, 0), (100, 1)])
def test_run_method_chooses_on_heldout_rows_when_the_run_has_them(lt, tmp_path, monkeypatch,
                                                                   heldout, chosen):
    sd = _seed_with_two_validations(lt)
    monkeypatch.setattr(lt, "fit_candidates", lambda *a: iter(
        [({"j": 0}, _Column(0)), ({"j": 1}, _Column(1))]))
    monkeypatch.setattr(lt, "evaluate", lambda est, X, y, counts: {
        "balanced_accuracy": float(np.mean(est.predict(X) == y)), "per_class": []})
    args = _args(tmp_path, validation=0.2, heldout_validation=heldout)
    record = lt.run_method("logit_adjustment_posthoc", sd, {}, args, str(tmp_path))
    assert record["choice"] == {"j": chosen}
    assert record["metrics"]["balanced_accuracy"] == (1.0 if chosen == 0 else 0.0)
    carve, held = record["metrics"][lt.VALIDATION], record["metrics"][lt.HELDOUT]
    assert (carve, held) == ((1.0, 0.0) if chosen == 0 else (0.0, 1.0))
    assert [c[lt.HELDOUT] for c in record["candidates"]] == [0.0, 1.0]


@pytest.mark.parametrize("argv, message", [
    (["--heldout-validation", "100"], "needs --validation"),
    (["--validation", "0.2", "--heldout-validation", "0"], "must be >= 1; got 0")])
def test_heldout_validation_is_checked_before_any_work(lt, argv, message):
    with pytest.raises(SystemExit, match=message):
        lt.resolve_args(lt.parse_args(argv)[1])


def test_heldout_rows_are_balanced_outside_the_split_and_the_oracles_rows(lt):
    from synaug_learn.datasets import FASHION_MNIST_POOL_START, load_fashion_mnist

    try:
        X_all, _ = load_fashion_mnist("train")
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST files not installed")
    flat = X_all[:FASHION_MNIST_POOL_START].reshape(FASHION_MNIST_POOL_START, -1)
    X_lt = flat[:300]
    X_h, y_h = lt.held_out_rows(X_lt, 20, seed=3)
    assert np.bincount(y_h).tolist() == [20] * 10
    below_pool = {r.tobytes() for r in flat}
    held = {r.tobytes() for r in X_h}
    assert held <= below_pool and not held & {r.tobytes() for r in X_lt}
    again, _ = lt.held_out_rows(X_lt, 20, seed=3)
    assert np.array_equal(X_h, again)
    assert not np.array_equal(X_h, lt.held_out_rows(X_lt, 20, seed=4)[0])
    X_oracle, _ = lt._oracle_pool(np.concatenate([X_lt, X_h]), seed=3)
    assert not held & {r.tobytes() for r in X_oracle}
    assert len(X_oracle) == FASHION_MNIST_POOL_START - 300 - 200


class _Resampler:
    """Stands for SynAugSampler in a recipe: its regenerate_real is all that is read."""

    def __init__(self, regenerate_real=None):
        self.regenerate_real = regenerate_real

    def get_params(self, deep=True):
        return {"regenerate_real": self.regenerate_real}

    def set_params(self, **params):
        self.regenerate_real = params.get("regenerate_real", self.regenerate_real)
        return self

    def fit_resample(self, X, y):
        return X, y


@pytest.mark.parametrize("validation, strengths", [(0.2, [0.5, 0.25, 0.1]), (None, [0.5])])
def test_regen_rows_choose_the_redraw_strength_on_validation(lt, tmp_path, monkeypatch,
                                                            validation, strengths):
    from imblearn.pipeline import Pipeline
    from sklearn.dummy import DummyClassifier

    monkeypatch.setattr(lt, "make_recipe", lambda method, **kw: Pipeline(
        [("sampler", _Resampler(0.5)), ("clf", DummyClassifier())]))
    sd = lt.SeedData(0, np.zeros((4, 2)), np.array([0, 1, 0, 1]), None, None, None, None,
                     {0: 2, 1: 2}, {0: 2, 1: 2}, {})
    args = _args(tmp_path, validation=validation)
    fitted = list(lt.fit_candidates("synaug_pretrained_regen", sd, {}, args, str(tmp_path)))
    assert [c for c, _ in fitted] == [{"regenerate_real": s} for s in strengths]
    assert [e.named_steps["sampler"].regenerate_real for _, e in fitted] == strengths
