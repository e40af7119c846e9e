"""SynAug against SMOTE and the long-tail baselines on Fashion-MNIST-LT, one run, same network.

The setting mirrors the paper honestly on a CPU: the long-tailed training set
(IF=100, exponential) is drawn from Fashion-MNIST training rows below 50000;
the "pretrained" generator is the one shipped with the package
(``fashion-mnist-small``), trained on a balanced pool of training rows at or
after 50000 — disjoint from the long-tailed split and from the test set, the
stand-in for a generator that has seen the concepts elsewhere. The
``indomain`` generator has the same architecture but is trained here, per
seed, on the long-tailed rows only, for a fixed number of optimiser steps
(``--indomain-steps``; a wall-clock budget would make the result depend on
how busy the machine is). Every method trains the same network for
the same number of optimiser steps (``synaug_learn.recipes``); the test set is the real one.

Two protocols:

- without ``--validation`` (the committed results of 2026-11-24, kept so that
  ``make check-long-tail`` can re-run them): every setting is fixed in
  advance, the strongest generator-free peer is the one with the best *test*
  score, and the in-domain generator trains 440 steps;
- ``--validation 0.2``: 20 % of each class's long-tailed rows (rounded down,
  at least one where a class has two or more; a class with a single row keeps
  it for training and has no validation row) are carved off per seed, the
  same rows for every method. Every choice is made on validation balanced
  accuracy -- the SynAug row reported as "SynAug"
  (``config.selected_on_validation``), the strongest generator-free peer,
  the τ of post-hoc logit adjustment and of Balanced Softmax after a fill, the
  fine-tuning of ``pool_pretrain`` -- and the test set is scored once per
  method and seed, for the chosen setting only. The in-domain generator trains
  as many steps as the shipped one (4176), so that "in-domain vs pretrained"
  compares data, not compute. Three more rows answer "why not just use the
  data the generator saw?": ``real_fill_pool``, ``pool_pretrain`` and
  ``logit_adjustment_posthoc`` (see ``EXTRA_METHODS``).
- ``--validation 0.2 --heldout-validation 100``: the same carve (the methods fit on
  the same rows), but every choice is made on 100 real training rows per class from
  outside the long-tailed split, every pool and the test set (a balanced validation
  set, as ImageNet-LT's). The carve leaves 1-2 rows in each tail class, too few to
  rank variants a few points apart; the carve's score is kept beside, with the row it
  would have chosen (``config.selected_on_carve``).

A run can be split and resumed: ``--parts DIR`` stores each (seed, method)
result as ``DIR/NAME/seedS/METHOD.json`` and skips those already there;
``--seed-list``, ``--methods`` and ``--exclude`` choose a piece; ``--cache-dir DIR`` keeps
generated rows and in-domain generators between pieces; ``--merge`` writes
``NAME.{md,json}`` from the parts and runs nothing.

    python benchmarks/long_tail.py                 # the committed protocol, ~1 h on 2 CPU cores
    python benchmarks/long_tail.py --validation 0.2   # the validated protocol
    python benchmarks/long_tail.py --quick         # a few minutes, smoke run
    python benchmarks/long_tail.py --like benchmarks/results/long_tail.json  # its settings
    python benchmarks/long_tail.py --full --device cuda   # the paper's scale, on a GPU

The validated run in pieces of at most ~40 minutes on one CPU core (estimates from the
committed run's times on 2 loaded cores at 1 torch thread: a net ~24 s per 350 steps, a
fill ~9 images/s, the in-domain generator ~0.45 s a step -- 1.4 s a step on a slower
machine on 2026-12-03, which makes a seed of the in-domain rows ~1 h 50 min;
``make bench-long-tail`` runs them in two lanes)::

    LT="python benchmarks/long_tail.py --validation 0.2 --threads 1 \\
        --parts benchmarks/results/long_tail_parts --cache-dir benchmarks/.work/long_tail"
    # 'indomain' stands for the in-domain generator's rows (ALIASES)
    $LT --seed-list 0 --methods indomain      # ~36-110 min (most of it the 4176-step generator)
    $LT --seed-list 1 --methods indomain      # ~36-110 min
    $LT --seed-list 2 --methods indomain      # ~36-110 min
    $LT --seed-list 0 1 --exclude indomain    # ~31 min
    $LT --seed-list 2 --exclude indomain      # ~16 min
    $LT --merge                           # results/long_tail.{md,json}
    # the training budget (key rows; the fills come from the cache above; measured on 2
    # loaded cores: 1,000 steps ~5 min a net, 78 min for 3 seeds with the fills made anew)
    $LT --train-steps 1000 --name long_tail_budget_1000 --methods key   # ~60 min
    $LT --train-steps 3000 --name long_tail_budget_3000 --methods key --seed-list 0  # ~55 min
    $LT --train-steps 3000 --name long_tail_budget_3000 --methods key --seed-list 1  # ~55 min
    $LT --train-steps 3000 --name long_tail_budget_3000 --methods key --seed-list 2  # ~55 min
    $LT --name long_tail_budget_1000 --merge; $LT --name long_tail_budget_3000 --merge
    # the domain-shifted generator (issue 15): its fills and remedies, ~30 min a seed; the
    # generator-free rows are the ones above (same split and settings), not trained twice
    $LT --domain-shift --methods shifted
    $LT --domain-shift --merge --reuse long_tail   # results/long_tail_domain_shift.{md,json}
    # another pretrained generator (a folder, e.g. scripts/pretrain_generator.py --resume)
    # or sampler (--scheduler dpm++, the shipped generators' default): its SynAug rows, the
    # rows that use no generator taken from long_tail's parts ('pretrained' stands for the
    # rows that use the --pretrained generator: the synaug_pretrained* rows and synthetic_only)
    $LT --pretrained DIR --name long_tail_NAME --methods pretrained  # ~17 min a seed
    $LT --pretrained DIR --name long_tail_NAME --merge --reuse long_tail
    # e.g. the shipped generator's own sampler (results/long_tail_dpmpp.{md,json}):
    $LT --scheduler dpm++ --name long_tail_dpmpp --methods pretrained indomain
    $LT --scheduler dpm++ --name long_tail_dpmpp --merge --reuse long_tail
    # ... and its training budget, each next to real_fill at the same budget (~1 h on two lanes;
    # a 3,000-step net takes ~8-13 min on one loaded core)
    $LT --scheduler dpm++ --train-steps 1000 --name long_tail_dpmpp_budget_1000 \
        --methods key real_fill --exclude balanced_softmax
    $LT --scheduler dpm++ --train-steps 3000 --name long_tail_dpmpp_budget_3000 \
        --methods key real_fill --exclude balanced_softmax
    $LT --scheduler dpm++ --train-steps 1000 --name long_tail_dpmpp_budget_1000 --merge \
        --reuse long_tail_budget_1000    # and likewise 3000
    # choices on a balanced held-out validation set, on fresh seeds (~23 min a seed on one
    # of two lanes)
    $LT --scheduler dpm++ --heldout-validation 100 --name long_tail_dpmpp_heldout \\
        --seed-list 3 4 5 --exclude indomain
    $LT --scheduler dpm++ --heldout-validation 100 --name long_tail_dpmpp_heldout --merge
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import json
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn.base import clone

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _heldout import HELDOUT_SALT, held_out_rows, rows_below_pool  # noqa: E402
from _results import (  # noqa: E402
    RESULTS,
    command,
    git_revision,
    machine,
    merge_records,
    paired_difference,
    summarize,
    utc_now,
    versions,
    write_results,
)

from synaug_learn import LogitAdjustedClassifier  # noqa: E402
from synaug_learn.datasets import (  # noqa: E402
    FASHION_MNIST_POOL_START,
    fashion_mnist_pool,
    load_fashion_mnist_lt,
    stylize_images,
)
from synaug_learn.generators import ConditionalDiffusionGenerator, pretrained_path  # noqa: E402
from synaug_learn.generators._sampling import SCHEDULER_NAMES as SAMPLER_NAMES  # noqa: E402
from synaug_learn.recipes import METHODS, REGENERATE_REAL, evaluate, make_recipe  # noqa: E402

#: Rows this benchmark adds to the package's recipes (built here from the public API).
EXTRA_METHODS = {
    "logit_adjustment_posthoc":
        "post-hoc logit adjustment (Menon et al. 2021): the cross-entropy net's "
        "log-probabilities minus tau * log(training prior), tau chosen on validation "
        "(LogitAdjustedClassifier)",
    "real_fill_pool":
        "the long-tailed rows plus the generator's whole pool of real images "
        "(900 per class, what the shipped generator was trained on)",
    "pool_pretrain":
        "the same net pre-trained on the generator's whole pool (900 real images per class), "
        "then fine-tuned on the long-tailed rows (loss and learning rate chosen on validation)",
}
DESCRIPTIONS = {**METHODS, **EXTRA_METHODS}
# Candidates for "the strongest peer": recipes that use no generator and no extra real data.
GENERATOR_FREE = ["ce", "ros", "smote", "class_weighted_ce", "balanced_softmax", "crt",
                  "ce_retrain", "ros_mixup", "balanced_softmax_mixup",
                  "logit_adjustment_posthoc"]
#: Rows no generator setting changes (the pool they use is fixed, not the generator's): a run
#: that differs from another only in its generators takes them from that run's parts.
REUSABLE = GENERATOR_FREE + ["real_fill", "real_fill_mixup_retrain_resampled", "real_fill_pool",
                             "pool_pretrain", "oracle"]
#: The committed protocol's ``crt`` was the paper's subsample re-training, now ``ce_retrain``.
LEGACY_RECIPES = {"crt": "ce_retrain"}
# The rows of the committed protocol (no validation split), in table order.
LEGACY_ORDER = [
    "ce", "ros", "smote", "class_weighted_ce", "balanced_softmax", "crt", "ros_mixup",
    "balanced_softmax_mixup", "synaug_indomain", "synaug_indomain_mixup",
    "synaug_indomain_mixup_retrain", "synaug_pretrained", "synaug_pretrained_mixup",
    "synaug_pretrained_mixup_retrain", "synaug_pretrained_mixup_retrain_resampled",
    "synaug_pretrained_balanced_softmax_mixup", "synthetic_only", "real_fill", "oracle",
]
ORDER = (LEGACY_ORDER[:6] + ["ce_retrain"] + LEGACY_ORDER[6:8] + ["logit_adjustment_posthoc"]
         + LEGACY_ORDER[8:15] + ["synaug_pretrained_mixup_crt", "synaug_pretrained_adabn",
                                 "synaug_pretrained_domain_mixup",
                                 "synaug_pretrained_domain_mixup_retrain_resampled",
                                 "synaug_pretrained_two_stage", "synaug_pretrained_regen",
                                 "synaug_pretrained_regen_mixup_retrain_resampled"]
         + LEGACY_ORDER[15:-1] + ["real_fill_mixup_retrain_resampled", "real_fill_pool",
                                  "pool_pretrain", "oracle"])
#: ``--domain-shift`` (issue 15): the generator-free peers, the shifted generator's fill with
#: each remedy, its training images used directly, and the in-distribution ceiling.
SHIFTED_GENERATOR = "fashion-mnist-small-shifted"
SHIFT_ORDER = GENERATOR_FREE + [m for m in METHODS if m.startswith("synaug_shifted")] + [
    "real_fill_styled", "real_fill_styled_domain_mixup_retrain", "real_fill"]
#: The rows of the training-budget sweep (issue 15, item 4).
KEY_ROWS = ["balanced_softmax", "synaug_pretrained", "synaug_pretrained_mixup",
            "synaug_pretrained_mixup_retrain"]
#: SynAug rows with the shipped generator: the one with the best validation score is "SynAug".
SYNAUG_PREFIX = "synaug_pretrained"
SHIFT_PREFIX = "synaug_shifted"
#: Names that stand for several rows in --methods and --exclude.
ALIASES = {
    "key": KEY_ROWS,  # the training-budget sweep's rows
    "pretrained": [m for m in ORDER if m.startswith(SYNAUG_PREFIX)] + ["synthetic_only"],
    "indomain": [m for m in ORDER if m.startswith("synaug_indomain")],
    "shifted": [m for m in SHIFT_ORDER if m not in REUSABLE],  # the shifted generator's rows
}
METRICS = ("balanced_accuracy", "many", "medium", "few")
VALIDATION = "validation_balanced_accuracy"
#: With ``--heldout-validation``: the score every choice is made on (the carve's is kept beside).
HELDOUT = "heldout_validation_balanced_accuracy"
# Settings chosen on validation, default (the committed protocol's value) first: a tie
# goes to the earlier candidate, and without a validation split only the first is run.
POSTHOC_TAUS = (1.0, 0.0, 0.25, 0.5, 0.75, 1.25, 1.5, 1.75, 2.0)
FILL_TAUS = (0.5, 0.25, 1.0)
#: ``regenerate_real`` of the ``_regen`` rows, chosen on validation (the recipe's own first).
REGEN_STRENGTHS = (REGENERATE_REAL, 0.25, 0.1)
POOL_FINE_TUNE = (("cross_entropy", 0.05), ("cross_entropy", 0.005),
                  ("balanced_softmax", 0.05), ("balanced_softmax", 0.005))
POOL_PER_CLASS = 900  # the shipped generator's pool (its training.json)
SPLIT_SALT = 15  # the validation carve's random stream: [SPLIT_SALT, seed]


def shipped_info(name="fashion-mnist-small"):
    """A saved generator's training record (its ``training.json``): a shipped name or a folder."""
    return json.loads((pretrained_path(name) / "training.json").read_text())


def shipped_steps(name="fashion-mnist-small"):
    """Optimiser steps the shipped generator was trained for."""
    return int(shipped_info(name)["steps"])


def validation_split(y, fraction, seed):
    """Class-stratified ``(train, validation)`` row indices of the long-tailed rows.

    Each class gives ``floor(fraction * n)`` of its ``n`` rows to validation,
    at least one when ``n >= 2`` and never all; a class with a single row
    keeps it for training and has no validation row (validation balanced
    accuracy is then the mean recall over the classes that have one). The
    rows are drawn from ``RandomState([SPLIT_SALT, seed])``, class by class in
    sorted label order, so the split depends on ``seed`` and ``y`` only.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1); got {fraction!r}.")
    y = np.asarray(y)
    rng = np.random.RandomState([SPLIT_SALT, int(seed)])
    val = [np.zeros(0, dtype=int)]
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        n_val = 0 if len(rows) < 2 else min(len(rows) - 1,
                                            max(1, int(np.floor(fraction * len(rows)))))
        val.append(np.sort(rng.permutation(rows)[:n_val]))
    val = np.sort(np.concatenate(val))
    return np.setdiff1d(np.arange(len(y)), val), val


class SeedData(NamedTuple):
    """One seed's split: the rows methods fit on, validation, test, pools and counts."""

    seed: int
    X_fit: np.ndarray
    y_fit: np.ndarray
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    X_test: np.ndarray
    y_test: np.ndarray
    counts: dict  # rows per class the methods fit on (the prior, the fill target)
    shot_counts: dict  # long-tailed rows per class before the carve (many/medium/few)
    pools: dict
    heldout: tuple | None = None  # balanced real rows outside the split and every pool

    def info(self):
        val = (Counter(self.y_val.tolist()) if self.y_val is not None else {})
        return {"class_counts": list(self.shot_counts.values()),
                "fit_counts": list(self.counts.values()),
                "validation_counts": [int(val.get(c, 0)) for c in self.counts]}


def _oracle_pool(X_used, seed):
    """Training rows below the pool start that are not in ``X_used`` (the long-tailed split,
    and the held-out validation rows when there are some), shuffled."""
    X, y, free = rows_below_pool(X_used)
    order = np.random.RandomState(seed).permutation(FASHION_MNIST_POOL_START)
    outside = order[free[order]]
    return X[outside], y[outside]


def seed_data(seed, args, methods):
    """Load one seed's long-tailed split, carve the validation rows, build the pools."""
    data = load_fashion_mnist_lt(args.imbalance_factor, n_max=args.n_max,
                                 pool_per_class=args.n_max,
                                 pool_start=FASHION_MNIST_POOL_START, random_state=seed)
    # Flat rows for every method: imblearn's ROS and SMOTE take 2-D input only; the net and
    # the generator read 784-feature rows as 28x28 images.
    flat = {k: data[k].reshape(len(data[k]), -1) for k in ("X_train", "X_test", "X_pool")}
    X_lt, y_lt = flat["X_train"], data.y_train
    heldout = held_out_rows(X_lt, args.heldout_validation, seed) \
        if args.heldout_validation else None
    # The oracle's balanced real rows come from outside the split, the pool and the held-out rows.
    used = X_lt if heldout is None else np.concatenate([X_lt, heldout[0]])
    pools = {"real_fill": (flat["X_pool"], data.y_pool), "oracle": _oracle_pool(used, seed)}
    if {"real_fill_pool", "pool_pretrain"} & set(methods):
        X_pool, y_pool = fashion_mnist_pool(POOL_PER_CLASS)
        pools["pool"] = (X_pool.reshape(len(X_pool), -1), y_pool)
    if any(m.startswith("real_fill_styled") for m in methods):
        # What the shifted generator was trained on: the pool in its style.
        X_pool, y_pool = fashion_mnist_pool(POOL_PER_CLASS)
        styled = stylize_images(X_pool, shipped_info(SHIFTED_GENERATOR)["style"])
        pools["real_fill_styled"] = (styled.reshape(len(styled), -1), y_pool)
    if args.validation:
        fit, val = validation_split(y_lt, args.validation, seed)
        X_fit, y_fit, X_val, y_val = X_lt[fit], y_lt[fit], X_lt[val], y_lt[val]
    else:
        X_fit, y_fit, X_val, y_val = X_lt, y_lt, None, None
    shots = dict(sorted(Counter(y_lt.tolist()).items()))
    return SeedData(seed, X_fit, y_fit, X_val, y_val, flat["X_test"], data.y_test,
                    dict(sorted(Counter(y_fit.tolist()).items())), shots, pools, heldout)


def _sampling(args):
    """Every generator's sampling parameters, named (``--scheduler``, DDIM by default since the
    committed results used it), whatever a shipped model's default becomes."""
    return {"scheduler": args.scheduler, "num_inference_steps": args.steps,
            "guidance_scale": args.guidance}


def _indomain_generator(sd, args, cache, log):
    """Train (or load from ``cache``) the in-domain generator of one seed's fit rows."""
    sampling = _sampling(args)
    key = hashlib.sha256(sd.X_fit.tobytes() + sd.y_fit.tobytes()).hexdigest()[:12]
    folder = Path(cache) / f"indomain_seed{sd.seed}_steps{args.indomain_steps}_{key}"
    info_file = folder / "benchmark_training.json"
    if not info_file.is_file():
        t0 = time.time()
        indomain = ConditionalDiffusionGenerator(
            max_steps=args.indomain_steps, max_minutes=args.indomain_minutes,
            random_state=sd.seed, device=args.device, **sampling).fit(sd.X_fit, sd.y_fit)
        indomain.save_pretrained(folder)
        info = {"steps": int(indomain.n_train_steps_), "train_s": round(time.time() - t0, 1)}
        info_file.write_text(json.dumps(info))
        log(f"  seed {sd.seed}: in-domain generator trained {info['steps']} steps "
            f"in {info['train_s']:.0f} s")
    info = json.loads(info_file.read_text())
    # Loading the saved model keeps its training out of every recipe's fit.
    return ConditionalDiffusionGenerator.from_pretrained(folder, device=args.device,
                                                         **sampling), info


def generators_for(sd, methods, args, cache, log):
    """The generators ``methods`` need, and the in-domain one's training record (or None)."""
    sampling = _sampling(args)
    shipped = {"pretrained": args.pretrained, "shifted": SHIFTED_GENERATOR}
    needed = {kind for kind in shipped if any(kind in m for m in methods)}
    if "synthetic_only" in methods:
        needed.add("pretrained")
    generators = {kind: ConditionalDiffusionGenerator.from_pretrained(
        shipped[kind], device=args.device, **sampling) for kind in needed}
    info = None
    if any("indomain" in m for m in methods):
        generators["indomain"], info = _indomain_generator(sd, args, cache, log)
    return generators, info


def _grid(values, args):
    """Every candidate with a validation split; only the default (the first) without."""
    return values if args.validation else values[:1]


def _recipe_args(sd, generators, args, bank):
    return {"class_counts": sd.counts, "n_target": max(sd.counts.values()),
            "generators": generators, "pools": sd.pools,
            "net_params": {"device": args.device}, "train_steps": args.train_steps,
            "cache_dir": bank, "random_state": sd.seed}


def _append_rows(X, y, *, X_extra, y_extra):
    """A FunctionSampler function: the rows, then ``X_extra`` (the pool) after them."""
    return (np.concatenate([X, X_extra.astype(X.dtype)]),
            np.concatenate([y, y_extra.astype(y.dtype)]))


def _real_fill_pool(sd, common):
    """Cross-entropy on the long-tailed rows plus the whole pool, the same step budget."""
    from imblearn import FunctionSampler
    from imblearn.pipeline import Pipeline

    X_pool, y_pool = sd.pools["pool"]
    pool_counts = Counter(y_pool.tolist())
    # make_recipe sets the epochs from the rows the net sees: here rows + pool.
    net = make_recipe("ce", **{**common, "class_counts": {
        c: n + pool_counts[c] for c, n in sd.counts.items()}})
    return Pipeline([("sampler", FunctionSampler(
        func=_append_rows, validate=False, kw_args={"X_extra": X_pool, "y_extra": y_pool})),
        ("clf", net)])


def _pool_pretrain(sd, common, args):
    """Yield ``(choice, fitted net)``: pre-trained on the pool, fine-tuned on the fit rows."""
    X_pool, y_pool = sd.pools["pool"]
    pool_counts = dict(Counter(y_pool.tolist()))
    pre = make_recipe("ce", **{**common, "class_counts": pool_counts,
                               "train_steps": args.pool_pretrain_steps})
    pre.fit(X_pool, y_pool)
    for loss, lr in _grid(POOL_FINE_TUNE, args):
        recipe = "ce" if loss == "cross_entropy" else loss
        net = make_recipe(recipe, **common)
        # skorch takes a module instance in the constructor only: the same net, pre-trained.
        net = type(net)(**{**net.get_params(deep=False), "module": copy.deepcopy(pre.module_),
                           "lr": lr})
        yield {"loss": loss, "lr": lr}, net.fit(sd.X_fit, sd.y_fit)


def fit_candidates(method, sd, generators, args, bank):
    """Yield ``(choice, fitted estimator)`` for each setting of ``method``, default first."""
    common = _recipe_args(sd, generators, args, bank)
    if method == "logit_adjustment_posthoc":
        # tau only enters predict: one fit, then every tau on the same net.
        est = LogitAdjustedClassifier(make_recipe("ce", **common)).fit(sd.X_fit, sd.y_fit)
        for tau in _grid(POSTHOC_TAUS, args):
            yield {"tau": tau}, copy.copy(est).set_params(tau=tau)
    elif method == "pool_pretrain":
        yield from _pool_pretrain(sd, common, args)
    elif method == "real_fill_pool":
        yield {}, _real_fill_pool(sd, common).fit(sd.X_fit, sd.y_fit)
    elif method == "synaug_pretrained_balanced_softmax_mixup":
        for tau in _grid(FILL_TAUS, args):  # the recipe is a Pipeline(sampler, clf)
            est = make_recipe(method, **common).set_params(clf__loss_tau=tau)
            yield {"loss_tau": tau}, est.fit(sd.X_fit, sd.y_fit)
    elif "_regen" in method:
        est = make_recipe(method, **common)
        key = next(k for k in est.get_params() if k.endswith("regenerate_real"))
        for strength in _grid(REGEN_STRENGTHS, args):
            yield ({"regenerate_real": strength},
                   clone(est).set_params(**{key: strength}).fit(sd.X_fit, sd.y_fit))
    else:
        recipe = method if args.validation else LEGACY_RECIPES.get(method, method)
        yield {}, make_recipe(recipe, **common).fit(sd.X_fit, sd.y_fit)


def choice_key(heldout_validation):
    """The validation score a run's choices are made on, given its ``--heldout-validation``."""
    return HELDOUT if heldout_validation else VALIDATION


def validation_scores(est, sd):
    """Balanced accuracy on the seed's validation rows (the classes that have some) and, where
    the run has them, on its held-out validation rows; ``{}`` without a validation split."""
    from sklearn.metrics import balanced_accuracy_score

    sets = {VALIDATION: (sd.X_val, sd.y_val), HELDOUT: sd.heldout or (None, None)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a prediction of a class without validation rows
        return {k: float(balanced_accuracy_score(y, est.predict(X)))
                for k, (X, y) in sets.items() if X is not None}


def confusion(est, sd):
    """The test confusion matrix, rows = true class, in the order of ``sd.counts``."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(sd.y_test, est.predict(sd.X_test), labels=list(sd.counts)).tolist()


def run_method(method, sd, generators, args, bank):
    """Fit every candidate of ``method``, keep the best on validation, score it on test once."""
    t0, best, tried, key = time.time(), None, [], choice_key(args.heldout_validation)
    for choice, est in fit_candidates(method, sd, generators, args, bank):
        scores = validation_scores(est, sd)
        tried.append({"choice": choice, **scores})
        if best is None or (key in scores and scores[key] > best[1][key]):
            best = (choice, scores, est)
    choice, scores, est = best
    metrics = evaluate(est, sd.X_test, sd.y_test, sd.shot_counts)
    per_class = metrics.pop("per_class")
    metrics.update(scores)
    record = {"seed": sd.seed, "method": method, "metrics": metrics,
              "wall_s": time.time() - t0, "per_class": per_class,
              "confusion": confusion(est, sd)}
    if len(tried) > 1:
        record.update(choice=choice, candidates=tried)
    return record


# -- runs, parts and merging ------------------------------------------------------------------

def protocol_config(args):
    """What determines the numbers; parts of one results file must agree on all of it."""
    cfg = {"dataset": "fashion_mnist_lt", "imbalance_factor": args.imbalance_factor,
           "n_max": args.n_max, "train_steps": args.train_steps, "batch_size": 128,
           "module": "small_cnn", "inference_steps": args.steps,
           "guidance_scale": args.guidance, "indomain_steps": args.indomain_steps,
           "indomain_minutes": args.indomain_minutes,
           "pretrained_generator": args.pretrained, "device": args.device}
    if args.scheduler != "ddim":  # absent from the DDIM runs' results, which stay as they are
        cfg["scheduler"] = args.scheduler
    if args.heldout_validation:  # absent from the runs without it
        cfg.update(heldout_validation=args.heldout_validation, heldout_rule=(
            "per class this many Fashion-MNIST training rows below the pool start, outside the "
            f"long-tailed split; RandomState({HELDOUT_SALT} + seed); the oracle's rows exclude "
            "them"))
    if args.domain_shift:
        cfg.update(domain_shift=True, shifted_generator=SHIFTED_GENERATOR,
                   shifted_generator_style=shipped_info(SHIFTED_GENERATOR)["style"],
                   shifted_generator_steps=shipped_steps(SHIFTED_GENERATOR))
    if args.validation:  # absent from the committed protocol's results, which stay as they are
        cfg.update(validation=args.validation, validation_rule=(
            "per class floor(fraction * n) rows, at least 1 where n >= 2, never all; "
            f"RandomState([{SPLIT_SALT}, seed])"),
            posthoc_taus=list(POSTHOC_TAUS), fill_taus=list(FILL_TAUS),
            pool_per_class=POOL_PER_CLASS, pool_pretrain_steps=args.pool_pretrain_steps,
            pool_fine_tune=[list(c) for c in POOL_FINE_TUNE],
            shipped_generator_steps=shipped_steps(args.pretrained))
    return cfg


def order(cfg):
    """The rows of a protocol, in table order."""
    return SHIFT_ORDER if cfg.get("domain_shift") else ORDER


def _part_path(parts, name, seed, method):
    return Path(parts) / name / f"seed{seed}" / f"{method}.json"


def load_part(path, cfg):
    """A stored (seed, method) result, or None; an error when its configuration differs."""
    if not path.is_file():
        return None
    part = json.loads(path.read_text())
    if part["config"] != cfg:
        diff = {k: (part["config"].get(k), cfg.get(k)) for k in set(part["config"]) | set(cfg)
                if part["config"].get(k) != cfg.get(k)}
        raise SystemExit(f"{path} was run with another configuration (stored, now): {diff}; "
                         "use another --parts folder or --name.")
    return part


@contextlib.contextmanager
def _cache(args):
    if args.cache_dir:
        Path(args.cache_dir).mkdir(parents=True, exist_ok=True)
        yield str(args.cache_dir)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            yield tmp


def run_seed(seed, methods, args, provenance, log):
    """Run ``methods`` on one seed (skipping stored parts); returns the seed's records."""
    cfg, records, todo = protocol_config(args), [], []
    for method in methods:
        part = load_part(_part_path(args.parts, args.name, seed, method), cfg) \
            if args.parts else None
        (records.append(part) if part else todo.append(method))
    if not todo:
        return records
    sd = seed_data(seed, args, todo)
    with _cache(args) as cache:
        generators, indomain = generators_for(sd, todo, args, cache, log)
        for method in todo:
            record = run_method(method, sd, generators, args, str(Path(cache) / "bank"))
            record["seed_info"] = {**sd.info(), "indomain_generator": indomain}
            m = record["metrics"]
            val = "".join(f" {label} {m[k]:.3f}" for label, k in
                          (("val", VALIDATION), ("held-out val", HELDOUT)) if k in m)
            log(f"  seed {seed}: {method:44s}{val} bal.acc {m['balanced_accuracy']:.3f} "
                f"few {m['few']:.3f} ({record['wall_s']:.0f} s)"
                + (f" chose {record['choice']}" if "choice" in record else ""))
            if args.parts:
                path = _part_path(args.parts, args.name, seed, method)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps({**record, "config": cfg, **provenance,
                                            "machine": machine(), "date": utc_now()},
                                           indent=1) + "\n")
            records.append(record)
    return records


def read_parts(parts, name):
    """Every stored record of results ``name``; they must share one configuration."""
    records = [json.loads(p.read_text())
               for p in sorted((Path(parts) / name).glob("seed*/*.json"))]
    if not records:
        raise SystemExit(f"no parts under {Path(parts) / name}")
    configs = {json.dumps(r["config"], sort_keys=True) for r in records}
    if len(configs) > 1:
        raise SystemExit(f"the parts under {Path(parts) / name} disagree on the configuration")
    return records


def _row(method, recs):
    """One results row from the per-seed records of a method (seeds in order)."""
    names = METRICS + tuple(k for k in (VALIDATION, HELDOUT) if k in recs[0]["metrics"])
    row = {"method": method, "description": DESCRIPTIONS[method], "metrics": {
        k: summarize([r["metrics"][k] for r in recs]) for k in names},
        "wall_s": float(np.mean([r["wall_s"] for r in recs]))}
    if any("reused_from" in r for r in recs):
        row["reused_from"] = recs[0]["reused_from"]
    if any("choice" in r for r in recs):
        row["choices_per_seed"] = [r.get("choice") for r in recs]
        row["candidates_per_seed"] = [r.get("candidates") for r in recs]
    return row


def _indomain_by_seed(records):
    """``{seed: {"steps", "train_s"}}`` of the seeds whose records used an in-domain generator."""
    return {r["seed"]: r["seed_info"]["indomain_generator"] for r in records
            if (r.get("seed_info") or {}).get("indomain_generator")}


def _indomain_steps(records, seeds):
    by_seed = _indomain_by_seed(records)
    return [by_seed[s]["steps"] if s in by_seed else None for s in seeds]


def _indomain_train_s(records):
    return sum(info.get("train_s", 0.0) for info in _indomain_by_seed(records).values())


def merge(records, cfg, provenance):
    """The results dict (BENCHMARKS.md shape) of per-(seed, method) records (the later of two
    records of one seed and method wins)."""
    records = merge_records([records], key=lambda r: (r["seed"], r["method"]))
    seeds = sorted({r["seed"] for r in records})
    by = {(r["seed"], r["method"]): r for r in records}
    methods = [m for m in order(cfg) if any(k[1] == m for k in by)]
    complete = [m for m in methods if all((s, m) in by for s in seeds)]
    rows = [_row(m, [by[s, m] for s in seeds]) for m in complete]
    info0 = by[seeds[0], complete[0]].get("seed_info", {}) if complete else {}
    config = {**cfg, "indomain_train_steps_per_seed": _indomain_steps(records, seeds),
              "class_counts_seed0": info0.get("class_counts")}
    if cfg.get("validation"):
        config.update(fit_counts_seed0=info0.get("fit_counts"),
                      validation_counts_seed0=info0.get("validation_counts"))
    # From parts: the methods' times plus each seed's in-domain generator training.
    config["wall_s_total"] = provenance.pop("wall_s_total", None) or round(
        sum(r["wall_s"] for r in records) + _indomain_train_s(records), 1)
    result = {"benchmark": provenance["name"], "command": provenance["command"],
              "date": utc_now(), "machine": provenance.get("machine") or machine(),
              "versions": {**(provenance.get("versions") or versions()),
                           "git": provenance["git"]},
              "config": config, "seeds": seeds, "rows": rows}
    if len(complete) < len(methods):
        result["incomplete"] = [m for m in methods if m not in complete]
    for key in ("part_commands", "part_git_revisions"):
        if key in provenance:
            result[key] = provenance[key]
    return finalize(result)


# The generators' settings: no generator-free row depends on them (nor on the in-domain
# generator's budget, which follows the pretrained generator's by default).
GENERATOR_KEYS = ("domain_shift", "shifted_generator", "shifted_generator_style",
                  "shifted_generator_steps", "pretrained_generator", "shipped_generator_steps",
                  "indomain_steps", "indomain_minutes", "scheduler", "inference_steps",
                  "guidance_scale")


def _without_generators(cfg):
    return {k: v for k, v in cfg.items() if k not in GENERATOR_KEYS}


def reused_parts(parts, name, records):
    """The records of run ``name`` that no generator changes (:data:`REUSABLE`) and that
    ``records`` lack, marked as reused.

    A row without a generator computes the same thing in runs that differ only in
    their generators (same split, seed and settings) -- the domain-shift run, or a
    run with another pretrained generator -- so such a run takes it from the other
    run's parts instead of training it twice; the configurations must agree on
    everything but :data:`GENERATOR_KEYS`.
    """
    cfg = _without_generators(records[0]["config"])
    have = {(r["seed"], r["method"]) for r in records}
    out = []
    for r in read_parts(parts, name):
        if r["method"] not in REUSABLE or (r["seed"], r["method"]) in have:
            continue
        if _without_generators(r["config"]) != cfg:
            raise SystemExit(f"--reuse {name}: its configuration differs from this run's")
        out.append({**r, "config": records[0]["config"], "reused_from": name})
    return out


def merge_parts(args, argv):
    """Merge the parts of ``args.name`` under ``args.parts`` into NAME.{md,json}."""
    records = read_parts(args.parts, args.name)
    if args.reuse:
        records += reused_parts(args.parts, args.reuse, records)
    revisions = sorted({r.get("git") or "unknown" for r in records})
    provenance = {"name": args.name, "command": command(argv),
                  "git": revisions[0] if len(revisions) == 1 else ",".join(revisions),
                  "machine": records[-1].get("machine"), "versions": records[-1].get("versions"),
                  "part_commands": sorted({r.get("command") for r in records if r.get("command")}),
                  "part_git_revisions": revisions}
    return merge(records, records[0]["config"], provenance)


# -- choices, markdown --------------------------------------------------------------------------

def _best(rows, candidates, key):
    """The candidate row with the best mean ``key`` (the first one on a tie), or None."""
    present = [m for m in candidates if m in rows and key in rows[m]["metrics"]]
    if not present:
        return None
    return max(present, key=lambda m: rows[m]["metrics"][key]["mean"])


def finalize(result):
    """Choose the peer (and, with validation, "SynAug"); add paired differences vs the peer.

    Without a validation split the peer is the generator-free recipe with the best test
    score (the committed protocol); with one, both choices use validation scores only (the
    held-out rows' where the run has them; the carve's choice is then recorded beside, as
    ``selected_on_carve``).
    """
    cfg = result["config"]
    rows = {r["method"]: r for r in result["rows"]}
    key = (choice_key(cfg.get("heldout_validation")) if cfg.get("validation")
           else "balanced_accuracy")
    peer = cfg["peer"] = _best(rows, GENERATOR_FREE, key)
    if cfg.get("validation"):
        prefix = SHIFT_PREFIX if cfg.get("domain_shift") else SYNAUG_PREFIX
        synaug = [m for m in rows if m.startswith(prefix)]
        cfg["selected_on_validation"] = _best(rows, synaug, key)
        if key == HELDOUT:
            cfg["selected_on_carve"] = _best(rows, synaug, VALIDATION)
        cfg["validation_choices"] = {
            "score": key,
            "peer": {m: rows[m]["metrics"][key]["mean"]
                     for m in GENERATOR_FREE if m in rows},
            "synaug": {m: rows[m]["metrics"][key]["mean"] for m in synaug},
            "per_seed": {m: r["choices_per_seed"] for m, r in rows.items()
                         if "choices_per_seed" in r}}
        retrain = {"original": "synaug_pretrained_mixup_retrain",
                   "resampled": "synaug_pretrained_mixup_retrain_resampled"}
        if all(m in rows for m in retrain.values()):  # RetrainClassifier(rows=...)
            scores = {k: rows[m]["metrics"][key]["mean"] for k, m in retrain.items()}
            cfg["validation_choices"]["retrain_rows"] = {
                **scores, "chosen": max(scores, key=scores.get)}
    _pair(rows, peer, "paired_vs_peer")
    if cfg.get("domain_shift"):  # what the remedies add to the plain fill
        _pair(rows, SHIFT_PREFIX, "paired_vs_plain_fill")
    if cfg.get("selected_on_validation"):
        result["goals"] = goals(rows, cfg)
    return result


def _goal_checks(rows, cfg):
    """(goal, row, against, threshold) of the protocol's targets (issue 15's "Done when")."""
    chosen = cfg["selected_on_validation"]
    if not cfg.get("domain_shift"):
        return [("SynAug (chosen on validation) within 0.015 of `real_fill` (the same number "
                 "of rows, real)", chosen, "real_fill", -0.015)]
    remedies = [m for m in rows if m.startswith(SHIFT_PREFIX + "_")]
    return [
        ("SynAug (chosen on validation) beats the generator-free peer chosen on validation "
         "by >= 0.05", chosen, cfg["peer"], 0.05),
        ("SynAug (chosen on validation) beats the best generator-free row on test (a "
         "stricter peer, for the record) by >= 0.05", chosen,
         _best(rows, GENERATOR_FREE, "balanced_accuracy"), 0.05),
        ("the remedies (the best remedy row on validation) add >= 0.03 to the plain fill",
         _best(rows, remedies, choice_key(cfg.get("heldout_validation"))), SHIFT_PREFIX, 0.03)]


def goals(rows, cfg):
    """Each target as the paired test difference ``row - against``, its threshold and
    whether the mean reaches it; targets whose rows did not run are left out."""
    out = []
    for text, row, against, threshold in _goal_checks(rows, cfg):
        if row in rows and against in rows:
            d = paired_difference(rows[row]["metrics"]["balanced_accuracy"]["values"],
                                  rows[against]["metrics"]["balanced_accuracy"]["values"])
            out.append({"goal": text, "row": row, "against": against,
                        "threshold": threshold, "difference": d,
                        "met": bool(d["mean"] >= threshold)})
    return out


def _goal_lines(result):
    if not result.get("goals"):
        return []
    lines = ["", "Goals (paired test differences, mean ± std over seeds, seeds better):", ""]
    for g in result["goals"]:
        verdict = "met" if g["met"] else (
            f"**not met** (short by {g['threshold'] - g['difference']['mean']:.3f})")
        lines.append(f"- {g['goal']}: `{g['row']}` − `{g['against']}` = "
                     f"{_delta(g['difference'])}: {verdict}.")
    return lines


def _pair(rows, base, key):
    """Add each row's paired test difference against row ``base`` (when it ran) as ``key``."""
    if base not in rows:
        return
    values = rows[base]["metrics"]["balanced_accuracy"]["values"]
    for method, row in rows.items():
        row.pop(key, None)
        if method != base:
            row[key] = paired_difference(row["metrics"]["balanced_accuracy"]["values"], values)


def _indomain_budget(cfg):
    # Runs before the step budget had a wall-clock budget only.
    if cfg.get("indomain_steps") is None:
        return f"{cfg['indomain_minutes']} CPU-minutes"
    cap = cfg.get("indomain_minutes")
    return f"{cfg['indomain_steps']} steps" + (f" (capped at {cap} minutes)" if cap else "")


def _header(result):
    cfg = result["config"]
    text = (
        f"IF={cfg['imbalance_factor']}, n_max={cfg['n_max']} (training counts "
        f"{cfg['class_counts_seed0']}), {cfg['train_steps']} optimiser steps (batch 128) of "
        f"`{cfg['module']}` for every method, "
        f"{SAMPLER_NAMES[cfg.get('scheduler', 'ddim')]}-{cfg['inference_steps']} with guidance "
        f"{cfg['guidance_scale']}; "
        + (f"the in-domain generator trained {_indomain_budget(cfg)} per seed "
           f"({cfg['indomain_train_steps_per_seed']} steps), "
           if any(cfg["indomain_train_steps_per_seed"]) else "no in-domain generator, ")
        + (f"the domain-shifted generator `{cfg['shifted_generator']}` (pretrained "
           f"{cfg['shifted_generator_steps']} steps on the generator pool rendered in the "
           f"'{cfg['shifted_generator_style']}' style; Δ vs plain fill is the paired "
           "difference against `synaug_shifted`); " if cfg.get("domain_shift") else
           f"the pretrained one (`{cfg.get('pretrained_generator', 'fashion-mnist-small')}`) "
           f"{cfg.get('shipped_generator_steps', 4176)} steps; ")
        + f"{len(result['seeds'])} seeds {result['seeds']}, real test set (10,000 images). "
        "Many > 100, few < 20 training images. Mean ± std over seeds; "
        + (f"Δ is the paired difference in test balanced accuracy against `{cfg['peer']}`, "
           "the strongest generator-free recipe of this run (mean ± std, seeds better)"
           if cfg.get("peer") else "no generator-free recipe ran, so there is no Δ"))
    if not cfg.get("validation"):
        return text + "."
    return text + (", chosen on validation" if cfg.get("peer") else "") + (
        f". **Validation**: {cfg['validation']:.0%} of each class's "
        "long-tailed rows (rounded down, at least one where a class has two or more; a class "
        "with one row keeps it for training), drawn per seed and the same for every method "
        f"(seed {result['seeds'][0]}: fit {cfg['fit_counts_seed0']}, "
        f"validation {cfg['validation_counts_seed0']}); "
        "the methods train on the rest, fills go up to its largest class, the shot groups "
        "use the counts before the carve. Every choice below is made on "
        + (f"**held-out validation** balanced accuracy (\"held-out val\": {n} real training "
           f"rows per class, {10 * n} in all, outside the long-tailed split, every pool and the "
           "test set, the same for every method; ImageNet-LT's balanced validation set is the "
           "model; the carve's score (\"val\") is kept beside, and "
           f"`{cfg.get('selected_on_carve')}` is what it would have chosen)"
           if (n := cfg.get("heldout_validation")) else
           "validation balanced accuracy (\"val\")")
        + "; the test set is scored once per method and seed, for the chosen "
        f"setting. **SynAug (chosen on validation): `{cfg['selected_on_validation']}`**.")


def _choice_lines(result):
    cfg = result["config"]
    vc = cfg.get("validation_choices")
    if not vc:
        return []
    fmt = ", ".join
    score = "held-out validation" if vc.get("score") == HELDOUT else "validation"
    lines = ["", f"Choices made on validation (mean {score} balanced accuracy over seeds):", "",
             f"- SynAug row: `{cfg['selected_on_validation']}` among "
             + fmt(f"`{m}` {v:.3f}" for m, v in vc["synaug"].items()) + ".",
             f"- Strongest generator-free peer: `{cfg['peer']}` among "
             + fmt(f"`{m}` {v:.3f}" for m, v in vc["peer"].items()) + "."]
    if not vc["synaug"]:
        lines[3] = "- SynAug row: none ran."
    if "retrain_rows" in vc:
        r = vc["retrain_rows"]
        lines.append(f"- `RetrainClassifier(rows=...)` after fill + Mixup: `{r['chosen']}` "
                     f"(original {r['original']:.3f}, resampled {r['resampled']:.3f}).")
    for method, choices in vc["per_seed"].items():
        lines.append(f"- `{method}`, per seed: " + "; ".join(
            fmt(f"{k}={v}" for k, v in c.items()) for c in choices) + ".")
    return lines


def _delta(d):
    return f"{d['mean']:+.3f} ± {d['std']:.3f} ({d['n_better']}/{d['n_seeds']})" if d else "—"


def markdown(result):
    cfg = result["config"]
    val = bool(cfg.get("validation"))
    shift = bool(cfg.get("domain_shift"))
    scores = ((VALIDATION,) if val else ()) + ((HELDOUT,) if cfg.get("heldout_validation") else ())
    head = ["method"] + (["val bal. acc"] if val else []) + (
        ["held-out val"] if HELDOUT in scores else []) + [
        "balanced acc", "many", "medium", "few", "Δ vs peer"] + (
        ["Δ vs plain fill"] if shift else []) + ["wall s"]
    title = "Fashion-MNIST-LT" + (", a generator from another domain" if shift else "") + (
        "" if val else " (no validation split)")
    lines = [f"# Long-tail benchmark: {title}", "", _header(result), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in result["rows"]:
        m = row["metrics"]
        keys = scores + METRICS
        cells = [f"{m[k]['mean']:.3f} ± {m[k]['std']:.3f}" for k in keys]
        deltas = [_delta(row.get("paired_vs_peer"))] + (
            [_delta(row.get("paired_vs_plain_fill"))] if shift else [])
        name = f"`{row['method']}`"
        if row["method"] == cfg.get("selected_on_validation"):
            name = f"**{name} (SynAug)**"
        lines.append(f"| {name} | " + " | ".join(cells + deltas) + f" | {row['wall_s']:.0f} |")
    lines += _choice_lines(result) + _goal_lines(result)
    methods = {row["method"] for row in result["rows"]}
    legacy = [] if val else [m for m in LEGACY_RECIPES if m in methods]
    if legacy:
        lines += ["", "In this protocol " + ", ".join(
            f"`{m}` is the recipe the validated protocol calls `{LEGACY_RECIPES[m]}`"
            for m in legacy) + "."]
    reused = {row["method"]: row["reused_from"] for row in result["rows"] if "reused_from" in row}
    if reused:
        lines += ["", "Rows without a generator, computed once for both long-tail runs (the same "
                  "split, seeds and settings) and taken from the parts of "
                  + ", ".join(f"`{m}` (`{src}`)" for m, src in reused.items()) + "."]
    if result.get("incomplete"):
        lines += ["", "Left out (not run on every seed): "
                  + ", ".join(f"`{m}`" for m in result["incomplete"]) + "."]
    lines += ["", f"Command: `{result['command']}`; machine: {result['machine']}; "
              f"date {result['date']}; git {result['versions'].get('git')} at start.", ""]
    if result.get("notes"):  # hand-written, kept by --from-json
        lines += ["## Notes", "", result["notes"], ""]
    return "\n".join(lines)


# -- command line ---------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--seeds", type=int, default=3, help="seeds 0 .. N-1")
    add("--seed-list", type=int, nargs="+", default=None,
        help="run these seeds only (a piece of a split run); overrides --seeds")
    add("--n-max", type=int, default=300)
    add("--imbalance-factor", type=float, default=100)
    add("--train-steps", type=int, nargs="+", default=None,
        help="optimiser steps of every method (epochs follow from its rows; default 350); "
             "several values run one after the other, each into NAME_budget_STEPS")
    add("--steps", type=int, default=10, help="sampling steps when generating")
    add("--scheduler", choices=sorted(SAMPLER_NAMES), default="ddim",
        help="the generators' sampler (the committed runs used DDIM; the shipped generators' "
             "default is dpm++)")
    add("--guidance", type=float, default=1.5)
    add("--pretrained", default="fashion-mnist-small",
        help="the pretrained generator of the synaug_pretrained rows: a shipped name or a "
             "folder written by save_pretrained (with a training.json); the in-domain "
             "generator's default steps follow its training")
    add("--indomain-steps", type=int, default=None,
        help="in-domain generator training steps per seed; default 440 (about 4 CPU-minutes) "
             "without --validation, with it the --pretrained generator's (the shipped one: 4176)")
    add("--indomain-minutes", type=float, default=None,
        help="optional wall-clock cap on the in-domain generator's training")
    add("--validation", type=float, default=None,
        help="carve this fraction of each class's long-tailed rows as a validation split and "
             "make every choice on it (the validated protocol; e.g. 0.2)")
    add("--heldout-validation", type=int, default=None, metavar="N",
        help="make every choice on N real training rows per class from outside the "
             "long-tailed split and every pool (a balanced validation set, as ImageNet-LT's); "
             "the carve's score is kept beside; needs --validation")
    add("--domain-shift", action="store_true",
        help=f"the domain-shifted benchmark: SynAug with {SHIFTED_GENERATOR} (pretrained on the "
             "pool in another style) and its remedies against the generator-free peers; "
             "needs --validation; results long_tail_domain_shift")
    add("--pool-pretrain-steps", type=int, default=1000,
        help="optimiser steps of pool_pretrain's pre-training on the pool")
    add("--methods", nargs="*", default=None, choices=sorted(DESCRIPTIONS) + sorted(ALIASES),
        help="default: every row of the protocol; 'key' stands for the budget sweep's rows, "
             "'pretrained' for the rows that use the --pretrained generator, 'indomain' for "
             "the in-domain generator's, 'shifted' for the domain-shift run's rows that use "
             "its generator or its data")
    add("--exclude", nargs="*", default=[], choices=sorted(DESCRIPTIONS) + sorted(ALIASES),
        help="leave these methods (or aliases) out (e.g. indomain, run as another piece)")
    add("--device", default="cpu")
    add("--threads", type=int, default=2)
    add("--quick", action="store_true", help="1 seed, tiny sizes: a smoke run")
    add("--full", action="store_true",
        help="the paper's scale (n_max=6000 is not possible here: rows < 50000 "
             "hold ~4950 per class, so n_max=4500), 6000 steps, DDIM-25: a GPU run")
    add("--like", type=Path, default=None,
        help="take the settings, seeds, methods and name of this results json "
             "(a re-run of committed results); --seed-list and --methods pick a piece of it")
    add("--parts", type=Path, default=None,
        help="store each (seed, method) result under PARTS/NAME/ and skip those stored")
    add("--cache-dir", type=Path, default=None,
        help="keep generated rows and in-domain generators here (default: a temporary folder)")
    add("--merge", action="store_true",
        help="write NAME.{md,json} from the parts under --parts; runs nothing")
    add("--reuse", default=None, metavar="NAME",
        help="with --merge: take the rows that use no generator (REUSABLE) a run lacks from "
             "the parts of run NAME (the domain-shift run reuses long_tail's; the "
             "configurations must agree)")
    add("--plan", action="store_true",
        help="print the resolved settings, seeds, methods and stored parts; run nothing")
    add("--name", default="long_tail")
    add("--out", type=Path, default=None)
    add("--from-json", type=Path, default=None,
        help="re-render the markdown (and peer comparison) of a results json, e.g. after "
             "adding hand-written \"notes\" to it")
    return parser, parser.parse_args(argv)


def apply_like(args, path):
    """Set ``args`` from a results json: its configuration, seeds, rows and name."""
    result = json.loads(Path(path).read_text())
    cfg = result["config"]
    args.name = result["benchmark"]
    # An explicit --seed-list / --methods picks a piece of the re-run.
    if args.seed_list is None:
        args.seed_list = list(result["seeds"])
    if args.methods is None:
        args.methods = [r["method"] for r in result["rows"]]
    args.imbalance_factor, args.n_max = cfg["imbalance_factor"], cfg["n_max"]
    args.train_steps = [cfg["train_steps"]]
    args.steps, args.guidance = cfg["inference_steps"], cfg["guidance_scale"]
    args.scheduler = cfg.get("scheduler", "ddim")
    args.pretrained = cfg.get("pretrained_generator", args.pretrained)
    args.indomain_steps, args.indomain_minutes = cfg["indomain_steps"], cfg["indomain_minutes"]
    args.validation = cfg.get("validation")
    args.heldout_validation = cfg.get("heldout_validation")
    args.domain_shift = bool(cfg.get("domain_shift"))
    args.pool_pretrain_steps = cfg.get("pool_pretrain_steps", args.pool_pretrain_steps)
    args.device = cfg.get("device", args.device)
    return args


def resolve_args(args):
    """Fill the defaults that depend on other options (--quick, --full, --validation)."""
    if args.like:
        apply_like(args, args.like)
    if args.quick:
        args.seeds, args.n_max, args.indomain_steps = 1, 100, 30
        args.train_steps = args.train_steps or [20]
        args.pool_pretrain_steps = 20
        args.imbalance_factor = 20  # keeps >= 5 rows in the tail, which SMOTE needs
        args.name = args.name if args.name != "long_tail" else "long_tail_quick"
    if args.full:
        args.n_max, args.steps = 4500, 25
        args.train_steps = args.train_steps or [6000]
        args.indomain_steps = max(args.indomain_steps or 0, 4000)  # ~ the shipped budget
        args.name = args.name if args.name != "long_tail" else "long_tail_full"
    args.train_steps = args.train_steps or [350]
    if args.indomain_steps is None:
        args.indomain_steps = shipped_steps(args.pretrained) if args.validation else 440
    if args.heldout_validation is not None and args.heldout_validation < 1:
        raise SystemExit(f"--heldout-validation must be >= 1; got {args.heldout_validation}")
    if args.heldout_validation and not args.validation:
        raise SystemExit("--heldout-validation needs --validation (the carve keeps the rows "
                         "the methods fit on the same as without it)")
    if args.domain_shift and not args.validation:
        raise SystemExit("--domain-shift needs --validation (its choices are made on it)")
    if args.domain_shift and args.name == "long_tail":
        args.name = "long_tail_domain_shift"
    rows = order({"domain_shift": args.domain_shift})
    default = rows if args.validation else LEGACY_ORDER
    methods, exclude = (expand(names) for names in (args.methods or default, args.exclude))
    args.methods = [m for m in rows if m in methods and m not in exclude]
    args.seed_list = args.seed_list if args.seed_list is not None else list(range(args.seeds))
    return args


def expand(names):
    """The rows that ``names`` (rows or ``ALIASES``) stand for."""
    return {m for name in names for m in ALIASES.get(name, [name])}


def print_plan(args):
    """Print what a run with these options would do (per budget), and what is stored."""
    for steps in args.train_steps:
        a = copy.copy(args)
        a.train_steps = steps
        a.name = args.name if len(args.train_steps) == 1 else f"{args.name}_budget_{steps}"
        print(json.dumps({"name": a.name, "seeds": a.seed_list, "methods": a.methods,
                          "config": protocol_config(a)}, indent=1))
        for seed in a.seed_list if a.parts else []:
            stored = [m for m in a.methods if _part_path(a.parts, a.name, seed, m).is_file()]
            print(f"seed {seed}: {len(stored)} of {len(a.methods)} methods stored")
    return None


def run_budget(args, argv, log, start):
    """Run (or merge) one training budget into ``args.name``; returns the result or None."""
    revision = git_revision()  # the code that runs, not the code at the end
    provenance = {"name": args.name, "command": command(argv), "git": revision}
    if args.merge:
        result = merge_parts(args, argv)
    else:
        part_info = {"command": command(argv), "git": revision, "versions": versions()}
        records = [r for seed in args.seed_list
                   for r in run_seed(seed, args.methods, args, part_info, log)]
        if args.parts:
            log(f"parts of {args.name} stored under {args.parts / args.name}; "
                "--merge writes the results")
            return None
        provenance["wall_s_total"] = round(time.time() - start, 1)
        result = merge(records, protocol_config(args), provenance)
    paths = write_results(result, markdown, out=args.out or RESULTS)
    log(f"wrote {paths}")
    return result


def main(argv=None):
    parser, args = parse_args(argv)
    if args.from_json:
        result = finalize(json.loads(args.from_json.read_text()))
        return write_results(result, markdown(result), out=args.out or args.from_json.parent,
                             name=args.from_json.stem)
    args = resolve_args(args)
    if args.merge and not args.parts:
        parser.error("--merge needs --parts")
    if args.plan:
        return print_plan(args)

    import torch

    torch.set_num_threads(args.threads)
    start = time.time()

    def log(msg):
        print(f"[{time.time() - start:6.0f} s] {msg}", flush=True)

    budgets, name, result = list(args.train_steps), args.name, None
    for steps in budgets:
        args.train_steps = steps
        args.name = name if len(budgets) == 1 else f"{name}_budget_{steps}"
        result = run_budget(args, argv, log, start)
    return result


if __name__ == "__main__":
    main()
