"""Methods of the group benchmark (``groups.py``): baselines, JTT, the SynAug rows, the fill checks.

Every method is fitted on the task's training rows (``X_train``: the training
set less the validation split) and returns a fitted model plus a dict of
details; ``evaluate`` scores it on the validation split and, once, on the test
set. Public API of ``synaug_learn`` only.
"""

from __future__ import annotations

import functools
import json
import time
import warnings
from pathlib import Path

import numpy as np
from _groups_data import cell_counts, in_cells, jtt_indices, render_attribute

# The pretrained generator's pool used directly, the answer to "why not just use the data?":
POOL_BASELINES = ("pool_dfr", "pool_retrain")
BASELINES = ("erm", "group_dro", "dfr", "ros_group", "jtt", *POOL_BASELINES)
GENERATORS = ("joint", "factorized", "pretrained", "jitter")
VARIANTS = ("fill", "share", "two_stage", "mixup", "dfr", "regen", "regen_dfr", "regen_share",
            "regen_share_dfr", "regen_exact", "regen_exact_dfr", "regen_adabn", "regen_adabn_dfr",
            "regen_exact_adabn_dfr")
# The fill a variant reads: the plain fill, the synthetic share, the plain fill with its real
# rows redrawn by the generator (SynAugSampler(regenerate_real=REGEN_STRENGTH)), both, or both
# with the share made exact in every cell by redrawn copies of the real rows (share_mode="exact").
FILL_KINDS = {"share": "share", "regen": "regen", "regen_dfr": "regen",
              "regen_share": "regen_share", "regen_share_dfr": "regen_share",
              "regen_exact": "regen_exact", "regen_exact_dfr": "regen_exact",
              "regen_adabn": "regen", "regen_adabn_dfr": "regen",
              "regen_exact_adabn_dfr": "regen_exact"}
# variants whose net's BatchNorm statistics are re-estimated on the real rows after training
# (SyntheticAwareClassifier(adapt_batchnorm=True), AdaBN) contain this:
ADABN = "adabn"
REGEN_STRENGTH = 0.5
# baselines whose definition needs rows of every (class, a) cell of the grid
_CELL_BALANCED_HEAD = ("the head is re-fitted on a cell-balanced subsample of the real rows, "
                       "and a cell without rows cannot be balanced")
NEEDS_EVERY_CELL = {
    "group_dro": "its worst-group objective has no loss for a cell without rows",
    "dfr": _CELL_BALANCED_HEAD,
    "ros_group": "a cell without rows cannot be over-sampled",
    "pool_dfr": _CELL_BALANCED_HEAD,
}


def parse_synaug(method):
    """``"synaug_factorized_two_stage"`` -> ``("factorized", "two_stage")``."""
    rest = method.removeprefix("synaug_")
    for gen in GENERATORS:
        if rest.startswith(gen + "_") and rest[len(gen) + 1:] in VARIANTS:
            return gen, rest[len(gen) + 1:]
    raise ValueError(f"not a SynAug method: {method!r}")


def fill_kind(method):
    """The fill a SynAug row reads: ``"fill"`` or a value of ``FILL_KINDS``."""
    return FILL_KINDS.get(parse_synaug(method)[1], "fill")


def synaug_methods(generators=GENERATORS, variants=VARIANTS):
    return [f"synaug_{g}_{v}" for g in generators for v in variants]


def make_net(args, seed, **params):
    from synaug_learn import MixupNetClassifier

    params = {"mixup_alpha": 0.0, "max_epochs": args.epochs, **params}
    return MixupNetClassifier("small_cnn", batch_size=args.batch_size, lr=args.lr,
                              random_state=seed, **params)


def scores(y, a, y_pred):
    """Worst / mean group accuracy, equalized odds w.r.t. ``a``, balanced and per-cell accuracy
    (over the cells present in ``y, a``)."""
    from sklearn.metrics import balanced_accuracy_score

    from synaug_learn.metrics import (
        equalized_odds_difference,
        group_accuracy,
        mean_group_accuracy,
        worst_group_accuracy,
    )

    cells = np.column_stack([y, a])
    out = {
        "worst_group_accuracy": float(worst_group_accuracy(y, y_pred, cells)),
        "mean_accuracy": float(mean_group_accuracy(y, y_pred, cells)),
        "equalized_odds_difference": float(equalized_odds_difference(y, y_pred, a)),
        "balanced_accuracy": float(balanced_accuracy_score(y, y_pred)),
    }
    for (label, group), acc in group_accuracy(y, y_pred, cells).items():
        out[f"accuracy_y{label}_a{group}"] = float(acc)
    return out


def evaluate(model, task):
    """Scores on the validation split and on the test set (the one use of the test set)."""
    return {"val": scores(task["y_val"], task["a_val"], model.predict(task["X_val"])),
            "test": scores(task["y_test"], task["a_test"], model.predict(task["X_test"]))}


def uses_pretrained(method):
    """Whether ``method`` reads the pretrained generator or its pool (its results are keyed by
    them)."""
    return method in POOL_BASELINES or (method.startswith("synaug_")
                                        and parse_synaug(method)[0] == "pretrained")


def _cells_text(cells):
    return ", ".join(f"({c}, {g})" for c, g in cells)


def cannot_run_reason(method, task, args):
    """Why ``method`` cannot run on ``task`` (a sentence), or ``None`` when it can."""
    from synaug_learn.generators import pretrained_path

    empty = task["empty_cells"]
    if method in NEEDS_EVERY_CELL and empty:
        return f"cannot run: empty cell {_cells_text(empty)}: {NEEDS_EVERY_CELL[method]}"
    if uses_pretrained(method) and not args.pretrained_generator:
        return "skipped: no --pretrained-generator PATH given"
    if method in POOL_BASELINES and not all(
            (pretrained_path(args.pretrained_generator) / name).is_file() for name in POOL_FILES):
        return "skipped: the pretrained generator lists no pool (pool_rows.json, training.json)"
    if method.startswith("synaug_") and empty:
        return composability_error(parse_synaug(method)[0], task, args)
    return None


def composability_error(gen, task, args):
    """The sampler's own error for filling the empty cells with a generator that cannot compose
    (raised while planning, before any training), as ``"cannot run: ..."``; None if it can."""
    from synaug_learn import SynAugSampler
    from synaug_learn.generators import (
        ConditionalDiffusionGenerator,
        JitterGenerator,
        generator_can_compose,
    )

    if gen == "pretrained":
        generator = ConditionalDiffusionGenerator.from_pretrained(str(args.pretrained_generator))
    elif gen == "jitter":
        generator = JitterGenerator()
    else:
        generator = ConditionalDiffusionGenerator(conditioning=gen)
    if generator_can_compose(generator):
        return None
    sampler = SynAugSampler(generator=generator, fill_grid=True, report=False, random_state=0)
    try:
        sampler.fit_resample(task["X_train"], task["y_train"], groups=task["a_train"])
    except ValueError as exc:
        return f"cannot run: empty cell {_cells_text(task['empty_cells'])}: {exc}"
    return None


# What ``scripts/pretrain_attribute_generator.py`` writes beside a generator: its pool's rows,
# labels and attribute values, and how it was made (the attribute, the image shape, the hash of
# its training data); the pool baselines need both.
POOL_FILES = ("pool_rows.json", "training.json")


def pretrained_file(args, name):
    """A JSON file of the pretrained generator's folder (one of ``POOL_FILES``), as a dict;
    None when it is not there."""
    from synaug_learn.generators import pretrained_path

    path = pretrained_path(args.pretrained_generator) / name
    return json.loads(path.read_text()) if path.is_file() else None


def pretrained_pool_overlap(task, args):
    """How many of the images the task draws (training, hence validation, and judge rows) are
    also in the pretrained generator's pool, as its ``pool_rows.json`` lists it; None when that
    is unknown."""
    src = task.get("source_rows")
    if not args.pretrained_generator or src is None or src["dataset"] != "fashion_mnist":
        return None
    listed = pretrained_file(args, "pool_rows.json")
    if listed is None:
        return None
    used = np.concatenate([src["train"], src.get("judge", np.zeros(0, np.int64))])
    return int(np.isin(used, np.asarray(listed["rows"])).sum())


def pretrained_pool(args):
    """``(X, labels)``: the images the pretrained generator was trained on, rebuilt from its
    ``pool_rows.json`` (Fashion-MNIST training rows, their labels and attribute values) and
    drawn as the task draws its images; labels 0 and 1 are the task's classes. Rebuilt only
    when the two files change (read-only arrays): every seed's pool rows share one build."""
    from synaug_learn.generators import pretrained_path

    folder = pretrained_path(args.pretrained_generator)
    return _rebuilt_pool(str(folder), *((folder / name).read_text() for name in POOL_FILES))


@functools.lru_cache(maxsize=1)
def _rebuilt_pool(folder, listing, training):
    from synaug_learn.datasets import load_fashion_mnist
    from synaug_learn.utils import hash_array

    listed, training = json.loads(listing), json.loads(training)
    rows, labels = np.asarray(listed["rows"]), np.asarray(listed["labels"], dtype=np.int64)
    groups = np.asarray(listed["groups"], dtype=np.int64)
    X_grey, _ = load_fashion_mnist("train")
    X = render_attribute(training["attribute_pool"], X_grey[rows], labels, groups,
                         training["image_shape"][0])
    if hash_array(X, labels, groups) != training["training_data_sha256"]:
        raise ValueError(f"the pool rebuilt from {folder}/pool_rows.json is not the data its "
                         "generator was trained on (training_data_sha256)")
    X.setflags(write=False)
    labels.setflags(write=False)
    return X, labels


# ----------------------------------------------------------------------------- baselines


def fit_baseline(method, task, args, seed):
    """``erm``, ``group_dro``, ``dfr``, ``ros_group`` or ``jtt``: ``(fitted model, details)``."""
    from imblearn.over_sampling import RandomOverSampler

    from synaug_learn import RetrainClassifier

    X, y, a = task["X_train"], task["y_train"], task["a_train"]
    cells = 2 * y + a
    if method == "erm":
        return make_net(args, seed).fit(X, y), {}
    if method == "group_dro":
        return make_net(args, seed, loss="group_dro").fit(X, y, groups=cells), {}
    if method == "dfr":
        model = RetrainClassifier(make_net(args, seed), balance="group", random_state=seed)
        return model.fit(X, y, groups=a), {}
    if method == "ros_group":
        idx, _ = RandomOverSampler(random_state=seed).fit_resample(
            np.arange(len(y))[:, None], cells)
        return make_net(args, seed).fit(X[idx[:, 0]], y[idx[:, 0]]), {}
    if method == "jtt":
        return fit_jtt(task, args, seed)
    if method in POOL_BASELINES:
        return fit_pool_baseline(method, task, args, seed)
    raise ValueError(f"unknown method {method!r}")


def _with_rows(X, y, X_extra, y_extra):
    return np.concatenate([X, X_extra]), np.concatenate([y, y_extra])


def fit_pool_baseline(method, task, args, seed):
    """The pretrained generator's pool used as real data: the net trained on the task's rows
    plus every pool image (its other classes too, the attribute varying across them), then its
    head re-fitted on the task's real rows, balanced over (class, a) cells (``pool_dfr``, DFR's
    rule) or over classes (``pool_retrain``); only the task's classes can be predicted."""
    from imblearn import FunctionSampler
    from imblearn.pipeline import Pipeline

    from synaug_learn import RetrainClassifier

    X_pool, y_pool = pretrained_pool(args)
    if X_pool.shape[1:] != task["X_train"].shape[1:]:
        raise ValueError(f"the pool's images are {X_pool.shape[1:]}, the task's "
                         f"{task['X_train'].shape[1:]}")
    add = FunctionSampler(func=_with_rows, validate=False,
                          kw_args={"X_extra": X_pool, "y_extra": y_pool})
    by_cell = method == "pool_dfr"
    model = RetrainClassifier(Pipeline([("pool", add), ("net", make_net(args, seed))]),
                              balance="group" if by_cell else "class", random_state=seed)
    with warnings.catch_warnings():  # the groups balance the head only, never reach the net
        warnings.filterwarnings("ignore", message="groups are not passed into the pipeline")
        model.fit(task["X_train"], task["y_train"], groups=task["a_train"] if by_cell else None)
    return model, {"n_pool_rows": int(len(y_pool)), "n_retrain_rows": model.n_retrain_rows_}


def fit_jtt(task, args, seed):
    """Just Train Twice (Liu et al., 2021): ERM for T epochs, its training errors up-sampled
    ``upweight`` times, ERM again; T and ``upweight`` chosen on validation worst-group accuracy
    (the group labels are used on the validation split only)."""
    X, y = task["X_train"], task["y_train"]
    best, tried = None, []
    for first_epochs in args.jtt_epochs:
        first = make_net(args, seed, max_epochs=first_epochs).fit(X, y)
        errors = first.predict(X) != y
        for upweight in args.jtt_upweights:
            idx = jtt_indices(errors, upweight)
            model = make_net(args, seed).fit(X[idx], y[idx])
            val = scores(task["y_val"], task["a_val"], model.predict(task["X_val"]))
            tried.append({"first_epochs": int(first_epochs), "upweight": int(upweight),
                          "n_errors": int(errors.sum()), "n_rows": int(len(idx)),
                          "val_worst_group_accuracy": val["worst_group_accuracy"]})
            if best is None or val["worst_group_accuracy"] > best[0]:
                best = (val["worst_group_accuracy"], model, tried[-1])
    return best[1], {"jtt_chosen": best[2], "jtt_tried": tried}


# ----------------------------------------------------------------------------- generators


def train_generator(task, args, conditioning, folder):
    """Train an in-domain cell-conditional diffusion model on the training rows, once per task;
    saved in ``folder`` and reused by a later run (its training info in ``train_info.json``)."""
    from synaug_learn.generators import ConditionalDiffusionGenerator

    folder = Path(folder)
    info_path = folder / "train_info.json"
    if info_path.is_file():
        return json.loads(info_path.read_text())
    gen = ConditionalDiffusionGenerator(
        block_out_channels=tuple(args.gen_channels), max_steps=args.gen_steps,
        max_minutes=args.gen_minutes, batch_size=args.gen_batch_size,
        conditioning=conditioning, random_state=args.data_seed,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    gen.fit(task["X_train"], task["y_train"], groups=task["a_train"])
    info = {"generator_train_s": round(time.perf_counter() - t0, 1),
            "generator_train_cpu_s": round(time.process_time() - c0, 1),
            "generator_steps": int(gen.n_train_steps_), "conditioning": conditioning}
    gen.save_pretrained(folder)
    info_path.write_text(json.dumps(info, indent=2))
    return info


def make_generator(gen, args, folders):
    """The generator of a SynAug row: the saved in-domain model, the given pretrained one, or
    the jitter baseline (unfitted; the sampler fits it, which only loads saved weights)."""
    from synaug_learn.generators import ConditionalDiffusionGenerator, JitterGenerator

    if gen == "jitter":
        return JitterGenerator()
    if gen == "pretrained":
        return ConditionalDiffusionGenerator.from_pretrained(str(args.pretrained_generator),
                                                             **pretrained_guidance(args))
    return ConditionalDiffusionGenerator.from_pretrained(
        str(folders[gen]), num_inference_steps=args.gen_sampling_steps,
        guidance_scale=args.guidance_scale, guidance_rule=args.guidance_rule)


def pretrained_guidance(args):
    """The sampling parameters given for the pretrained generator (none: its saved ones)."""
    out = {}
    if getattr(args, "pretrained_guidance_rule", None):
        out["guidance_rule"] = args.pretrained_guidance_rule
    scale = getattr(args, "pretrained_guidance_scale", None)
    if scale:
        out["guidance_scale"] = scale[0] if len(scale) == 1 else tuple(scale)
    return out


def make_sampler(generator, seed, bank, kind="fill", args=None, report=False):
    """The fill of ``kind``: every cell of the class x a grid (``fill_grid=True``, so empty
    cells too) up to the largest; ``share`` sets ``synthetic_share=args.synthetic_share``,
    ``regen`` redraws the real rows (``regenerate_real=args.regen_strength``), ``regen_share``
    does both, ``regen_exact`` too with ``share_mode="exact"``. Generated rows are stored in /
    read from ``bank``."""
    from synaug_learn import SynAugSampler

    shared = "share" in kind or "exact" in kind
    return SynAugSampler(sampling_strategy="auto", generator=generator, fill_grid=True,
                         synthetic_share=args.synthetic_share if shared else None,
                         share_mode="exact" if "exact" in kind else "at_least",
                         regenerate_real=(getattr(args, "regen_strength", REGEN_STRENGTH)
                                          if "regen" in kind else None),
                         cache_dir=str(bank), report=report, random_state=seed)


# ----------------------------------------------------------------------------- SynAug rows


def fit_synaug(method, task, args, seed, folders, bank):
    """A SynAug row: the fill (rows read back from ``bank``), then the net told which rows
    were generated (``SyntheticAwareClassifier``), as the variant says."""
    from synaug_learn import RetrainClassifier, SyntheticAwareClassifier

    gen, variant = parse_synaug(method)
    sampler = make_sampler(make_generator(gen, args, folders), seed, bank, fill_kind(method),
                           args, report=variant == "fill")
    net = {"two_stage": lambda: make_net(args, seed, two_stage_epochs=args.two_stage_epochs),
           "mixup": lambda: make_net(args, seed, mixup_alpha=args.mixup_alpha,
                                     mixup_pairing="real_synthetic")}.get(
        variant, lambda: make_net(args, seed))()
    model = SyntheticAwareClassifier(sampler, net, adapt_batchnorm=ADABN in variant)
    details = {}
    if variant.endswith("dfr"):
        # on an unseen-cell task the real rows lack the empty cells: balance the filled rows
        rows = "resampled" if task["empty_cells"] else "original"
        model = RetrainClassifier(model, balance="group", rows=rows, random_state=seed)
        details["dfr_rows"] = rows
    model.fit(task["X_train"], task["y_train"], groups=task["a_train"])
    fitted = model.estimator_.sampler if variant.endswith("dfr") else model.sampler
    details["n_generated"] = int(fitted.synthetic_mask_.sum())
    if fitted.report_ is not None:
        details.update(report_summary(fitted.report_, task))
    return model, details


def report_summary(report, task):
    """Mean novelty of the generated rows in the minority (or empty) cells, from ``report_``."""
    minority = task["minority_cells"]
    vals = [r["novelty"] for r in report.rows
            if (r["label"], r["group"]) in minority and r["n_generated"] > 0
            and r["novelty"] is not None and np.isfinite(r["novelty"])]
    return {"minority_novelty": float(np.mean(vals))} if vals else {}


def prepare_fill(gen, kind, task, args, seed, folders, bank, judges):
    """Generate one fill of ``kind`` into ``bank`` (timed) and judge it: the real-vs-generated
    detectors and, where the task has judges, the share of generated minority rows they label
    as meant."""
    sampler = make_sampler(make_generator(gen, args, folders), seed, bank, kind, args)
    X, y, a = task["X_train"], task["y_train"], task["a_train"]
    t0, c0 = time.perf_counter(), time.process_time()
    X_res, y_res = sampler.fit_resample(X, y, groups=a)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    mask, g_res = sampler.synthetic_mask_, sampler.groups_resampled_
    out = {"generation_wall_s": round(wall, 2), "generation_cpu_s": round(cpu, 2),
           "n_generated": {f"y{c}_a{g}": n for (c, g), n in
                           cell_counts(y_res[mask], g_res[mask]).items()},
           "detector": fill_detectors(X_res, y_res, g_res, mask, task, args, seed)}
    out.update(judge_fill(judges, X_res[mask], y_res[mask], g_res[mask]))
    return out


def detector_accuracy(X_real, X_gen, seed, cap, cnn=None, folds=5):
    """Cross-validated accuracy (``folds`` folds) of a detector telling ``X_real`` from
    ``X_gen`` (as many of each, at most ``cap``): a logistic regression on pixels, or the
    classifier ``cnn()`` makes (the small CNN of every row); None with fewer than 10 of either."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n = min(len(X_real), len(X_gen), cap)
    if n < 10:
        return None
    rng = np.random.RandomState(seed)
    X_d = np.concatenate([X_real[rng.choice(len(X_real), n, replace=False)],
                          X_gen[rng.choice(len(X_gen), n, replace=False)]])
    t_d = np.r_[np.zeros(n, np.int64), np.ones(n, np.int64)]
    if cnn is None:
        X_d = X_d.reshape(2 * n, -1).astype(np.float32) / 255.0
    accs = []
    for fit, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X_d, t_d):
        clf = cnn() if cnn else make_pipeline(StandardScaler(),
                                              LogisticRegression(C=0.1, max_iter=300))
        accs.append(np.mean(clf.fit(X_d[fit], t_d[fit]).predict(X_d[test]) == t_d[test]))
    return float(np.mean(accs))


def cell_matched(y_res, g_res, mask, seed, cap):
    """Indices of as many real as generated rows in every cell (the smaller count of the two,
    scaled down so that each side holds at most ``cap``): a detector on them cannot tell
    generated rows by the cells they sit in, only by their look."""
    rng = np.random.RandomState(seed)
    cells = [(y_res == c) & (g_res == g) for c, g in sorted(set(zip(y_res.tolist(),
                                                                      g_res.tolist())))]
    sizes = [min(np.sum(cell & ~mask), np.sum(cell & mask)) for cell in cells]
    scale = min(1.0, cap / max(sum(sizes), 1))
    real, gen = [], []
    for cell, size in zip(cells, sizes):
        r, q = np.flatnonzero(cell & ~mask), np.flatnonzero(cell & mask)
        k = int(size * scale)
        real.append(rng.choice(r, k, replace=False))
        gen.append(rng.choice(q, k, replace=False))
    return np.concatenate(real).astype(int), np.concatenate(gen).astype(int)


def fill_detectors(X_res, y_res, g_res, mask, task, args, seed):
    """Detector accuracy over the whole filled training set (does "generated" carry
    information a net could use? by logistic regression, and by the small CNN when
    ``--cnn-detector-folds`` > 0); cell-matched (``cell_matched``: the same number of real
    and generated rows in each cell, so only the look can tell them); and per cell (real rows
    of the cell vs its generated rows; a cell without real training rows against the judge
    pool's real rows of it, if any)."""
    cap = args.detector_max
    out = {"overall": detector_accuracy(X_res[~mask], X_res[mask], seed, cap), "cells": {},
           "reference": {}}
    real, gen = cell_matched(y_res, g_res, mask, seed, cap)
    out["matched"] = detector_accuracy(X_res[real], X_res[gen], seed, cap)
    if args.cnn_detector_folds:  # the stronger detector, on the whole filled set only (on
        # the ~100 cell-matched rows a side of a minority-cell fill the CNN does not train)
        out["overall_cnn"] = detector_accuracy(
            X_res[~mask], X_res[mask], seed, cap, cnn=functools.partial(make_net, args, seed),
            folds=args.cnn_detector_folds)
    pool = task.get("judge")
    for c in (0, 1):
        for g in (0, 1):
            cell = (y_res == c) & (g_res == g)
            real, ref = X_res[cell & ~mask], "training rows"
            if len(real) == 0 and pool is not None:
                real, ref = pool[0][in_cells(pool[1], pool[2], [(c, g)])], "judge pool"
            out["cells"][f"y{c}_a{g}"] = detector_accuracy(real, X_res[cell & mask], seed, cap)
            out["reference"][f"y{c}_a{g}"] = ref
    return out


def train_judges(task, args):
    """Small CNNs of the label and of ``a`` trained on extra real images where ``a`` is
    independent of the label: they judge generated images without the shortcut."""
    if "judge" not in task:
        return None, {}
    X_j, y_j, a_j = task["judge"]
    judge_y = make_net(args, args.data_seed).fit(X_j, y_j)
    judge_a = make_net(args, args.data_seed).fit(X_j, a_j)
    rows = in_cells(task["y_test"], task["a_test"], task["minority_cells"])
    info = {
        "n_images": int(len(y_j)),
        "label_accuracy_test_minority_cells": float(
            np.mean(judge_y.predict(task["X_test"][rows]) == task["y_test"][rows])),
        "attribute_accuracy_test_minority_cells": float(
            np.mean(judge_a.predict(task["X_test"][rows]) == task["a_test"][rows])),
    }
    return (judge_y, judge_a, task["minority_cells"]), info


def judge_fill(judges, X_new, y_new, g_new):
    """Share of the generated minority-cell rows the judges give the intended label and a."""
    if judges is None:
        return {}
    judge_y, judge_a, cells = judges
    rows = in_cells(y_new, g_new, cells)
    if not rows.any():
        return {}
    return {"minority_label_fidelity": float(np.mean(judge_y.predict(X_new[rows]) == y_new[rows])),
            "minority_attribute_fidelity": float(
                np.mean(judge_a.predict(X_new[rows]) == g_new[rows].astype(np.int64)))}
