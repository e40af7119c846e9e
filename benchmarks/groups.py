"""Group imbalance: does filling the rare (class, group) cells with generated images help?

Two tasks, each a binary image classification whose training set ties a
nuisance or sensitive attribute ``a`` to the label, evaluated on a test set
where ``a`` is independent of the label. The groups are the (class, ``a``)
cells; the cells where the shortcut fails are rare in training.

* ``spurious_colour`` (Waterbirds-like): Fashion-MNIST "Pullover" (label 0)
  vs "Coat" (label 1), a visually hard pair, background tinted by
  :func:`synaug_learn.datasets.make_spurious_colour`: each class has its own
  colour with probability ``--correlation`` (0.95) in training and 0.5 in
  the test set (colour independent of class). ``a`` = the colour.
* ``fairness``: Fashion-MNIST "T-shirt/top" (label 0) vs "Shirt" (label 1),
  with a synthetic sensitive attribute ``a`` ("washed-out capture"): an image
  with ``a = 1`` is shown as ``96 + 0.625 * pixel`` (grey background, low
  contrast), one with ``a = 0`` unchanged. In training
  ``P(a = label) = --fair-correlation`` (0.9), so ``a = 1`` is mostly seen
  on shirts and ``a = 0`` on T-shirts; in the test set ``a`` is a fair coin
  for every image. Equalized odds is measured with respect to ``a``. With
  ``--utkface PATH`` this task uses UTKFace instead: label = gender,
  ``a`` = race "White" vs the others, its natural correlation in training,
  and a test set balanced over the four cells.

The data are fixed (``--data-seed``); the seeds change the classifier's
initialisation and batch order, the generated rows and the re-training
subsample. Images are resized to ``--image-size`` (14 by default: 28x28
made the generator too slow to train on 2 CPU cores within the run's budget).

Rows (method names of BENCHMARKS.md): every row trains the same
``MixupNetClassifier("small_cnn")`` with Mixup *off* (plain cross-entropy),
the same epochs, batch size and learning rate.

* ``erm``: the training set as it is.
* ``group_dro``: ``loss="group_dro"`` (online Group DRO, default step size),
  groups = the (class, a) cells.
* ``dfr``: ``RetrainClassifier(net, balance="group")``: ERM, then the linear
  head re-fitted on a cell-balanced subsample of the *training* rows (the
  "DFR on the training set" variant; no held-out set is used).
* ``ros_group``: every cell randomly over-sampled (duplicated) to the largest
  cell, then ERM: the generator-free peer of the fill.
* ``synaug_group``: ``SynAugSampler`` (``sampling_strategy="auto"`` with
  groups: every cell filled to the largest), then the net on the filled set
  (``sampler.fit_resample(X, y, groups=a)`` then ``net.fit``: what an
  imbalanced-learn ``Pipeline`` does, by hand to keep the generated rows). The
  generator is an in-domain ``ConditionalDiffusionGenerator`` conditioned on
  the cells, trained *once per task* on that task's training set (budget
  ``--gen-steps``, optionally capped by ``--gen-minutes``), saved and handed to the
  sampler as ``pretrained=`` so that the seeds differ only in the generated
  rows. Its cost is reported as ``generator_train_s``.
* ``synaug_group_dfr``: ``Pipeline([sampler, net])`` (groups routed to the
  sampler with metadata routing) wrapped in
  ``RetrainClassifier(balance="group")`` (head re-fitted on cell-balanced
  *real* rows, the SYNAuG recipe); the generated rows are reused from the
  on-disk bank.
* ``synaug_group_jitter``: the fill made by ``JitterGenerator``
  (interpolation between two real rows of the cell plus Gaussian noise): a
  cheap, SMOTE-like generator, for comparison.

For the SynAug rows the sampler's ``report_`` gives ``novelty`` per filled
cell (nearest-neighbour distance of the generated images to the cell's
training images over that of the training images among themselves: about 0
= copies, about 1 = as new as real data); the results give its mean over the
*minority* cells (fewer than half the rows of the largest cell). The
report's fidelity judge is fitted on the training rows, which carry the
shortcut, so for these cells it mostly measures agreement with the shortcut;
the fill is therefore also judged by two small CNNs (the same classifier)
trained on ``--n-per-class`` *other* real training images per class in which
``a`` is independent of the label: the share of generated minority-cell
images they give the intended label and the intended ``a`` (with their
accuracy on the real test images of those cells as the reference), and by
how well the same CNN learns to tell the generated minority-cell images
from real ones of those cells (``minority_synthetic_detectability``, 0.5 =
indistinguishable).

Run ``python benchmarks/groups.py`` (3 seeds: about 22 minutes of CPU time with
one torch thread -- two generators of ~5-6 min, then ~3.5 min per seed for both
tasks; the committed 5-seed run took 77 minutes of wall-clock time on 2 cores
shared with higher-priority jobs);
writes ``benchmarks/results/groups.{md,json}``. One results file holds both
tasks: every row carries a ``task`` key and ``config["tasks"]`` describes them.
Metric entries hold ``mean``, ``std`` and the per-seed ``values``; rows other
than ``erm`` also hold ``delta_<metric>_vs_erm`` (paired over seeds, with
``n_better``). The "What it shows" section is computed from the numbers; a
hand-written reading can be added as ``"notes"`` in the json, then
``python benchmarks/groups.py --render`` rewrites the markdown.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from _results import (
    RESULTS,
    command,
    git_revision,
    machine,
    machine_lines,
    paired_difference,
    summarize,
    utc_now,
    versions,
    write_results,
)

NAME = "groups"
METHODS = ("erm", "group_dro", "dfr", "ros_group", "synaug_group", "synaug_group_dfr",
           "synaug_group_jitter")
SYNAUG_METHODS = ("synaug_group", "synaug_group_dfr", "synaug_group_jitter")
# metric -> higher is better
METRICS = {
    "worst_group_accuracy": True,
    "mean_accuracy": True,
    "equalized_odds_difference": False,
    "balanced_accuracy": True,
}
FASHION = {"T-shirt/top": 0, "Pullover": 2, "Coat": 4, "Shirt": 6}

# ----------------------------------------------------------------------------- data


def _resize(X, size):
    """uint8 (n, H, W) -> uint8 (n, size, size), antialiased bilinear."""
    if X.shape[1] == size and X.shape[2] == size:
        return X
    x = torch.from_numpy(X.astype(np.float32))[:, None]
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear",
                                        antialias=True, align_corners=False)
    return np.clip(np.rint(x[:, 0].numpy()), 0, 255).astype(np.uint8)


def _grey_pair(dataset, classes, n_per_class, n_test_per_class, size, rng):
    """Two classes of grey uint8 images, relabelled 0 / 1: train and test subsets.

    Also returns ``pool(n, rng)``, which draws ``n`` more images per class from the
    training images *not* in the training subset (resized, relabelled).
    """
    if dataset == "fashion_mnist":
        from synaug_learn.datasets import load_fashion_mnist

        X_tr, y_tr = load_fashion_mnist("train")
        X_te, y_te = load_fashion_mnist("test")
        codes = [FASHION[c] for c in classes]
    else:  # scikit-learn digits: 8x8 in [0, 16]
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        d = load_digits()
        X = np.clip(d.images * 16, 0, 255).astype(np.uint8)
        X_tr, X_te, y_tr, y_te = train_test_split(X, d.target, test_size=0.4,
                                                  stratify=d.target, random_state=0)
        codes = list(classes)

    def take(X, y, n, rng, exclude=()):
        idx = np.concatenate([
            rng.choice(members, size=min(n, len(members)), replace=False)
            for members in (np.setdiff1d(np.flatnonzero(y == code), exclude) for code in codes)
        ])
        labels = np.array([codes.index(v) for v in y[idx].tolist()], dtype=np.int64)
        return _resize(X[idx], size), labels, idx

    X_train, y_train, train_idx = take(X_tr, y_tr, n_per_class, rng)
    X_test, y_test, _ = take(X_te, y_te, n_test_per_class, rng)

    def pool(n, pool_rng):
        return take(X_tr, y_tr, n, pool_rng, exclude=train_idx)[:2]

    return X_train, y_train, X_test, y_test, pool


def make_spurious_task(args, rng):
    from synaug_learn.datasets import make_spurious_colour

    classes = ("Pullover", "Coat") if args.dataset == "fashion_mnist" else (3, 8)
    X_tr, y_tr, X_te, y_te, pool = _grey_pair(args.dataset, classes, args.n_per_class,
                                              args.n_test_per_class, args.image_size, rng)
    X_tr, y_tr, a_tr = make_spurious_colour(X_tr, y_tr, correlation=args.correlation,
                                            random_state=rng)
    X_te, y_te, a_te = make_spurious_colour(X_te, y_te, correlation=0.5, random_state=rng)
    # judge data: other training images, colour independent of class (own RNG: the task's
    # training and test sets do not depend on it)
    judge_rng = np.random.RandomState(args.data_seed + 1)
    X_j, y_j = pool(args.n_per_class, judge_rng)
    X_j, y_j, a_j = make_spurious_colour(X_j, y_j, correlation=0.5, random_state=judge_rng)
    description = (
        f"{args.dataset} {classes[0]!r} (0) vs {classes[1]!r} (1), {args.image_size}x"
        f"{args.image_size} RGB, background tinted by make_spurious_colour; a = colour; "
        f"train P(colour = class's own) = {args.correlation}, test 0.5"
    )
    return dict(X_train=X_tr, y_train=y_tr, a_train=a_tr, X_test=X_te, y_test=y_te,
                a_test=a_te, description=description, classes=list(map(str, classes)),
                judge=(X_j, y_j, a_j))


def washed_out(X):
    """The synthetic sensitive attribute's look: grey background, low contrast."""
    return np.rint(96 + 0.625 * X.astype(np.float64)).astype(np.uint8)


def make_fairness_task(args, rng):
    if args.utkface:
        return _utkface_task(args, rng)
    classes = ("T-shirt/top", "Shirt") if args.dataset == "fashion_mnist" else (1, 7)
    X_tr, y_tr, X_te, y_te, pool = _grey_pair(args.dataset, classes, args.n_per_class,
                                              args.n_test_per_class, args.image_size, rng)
    same = rng.random_sample(len(y_tr)) < args.fair_correlation
    a_tr = np.where(same, y_tr, 1 - y_tr).astype(np.int64)
    a_te = (rng.random_sample(len(y_te)) < 0.5).astype(np.int64)
    X_tr = np.where(a_tr[:, None, None] == 1, washed_out(X_tr), X_tr)
    X_te = np.where(a_te[:, None, None] == 1, washed_out(X_te), X_te)
    judge_rng = np.random.RandomState(args.data_seed + 1)  # see make_spurious_task
    X_j, y_j = pool(args.n_per_class, judge_rng)
    a_j = (judge_rng.random_sample(len(y_j)) < 0.5).astype(np.int64)
    X_j = np.where(a_j[:, None, None] == 1, washed_out(X_j), X_j)
    description = (
        f"{args.dataset} {classes[0]!r} (0) vs {classes[1]!r} (1), {args.image_size}x"
        f"{args.image_size} grey; synthetic sensitive attribute a ('washed-out capture': "
        f"pixel -> 96 + 0.625 * pixel when a = 1); train P(a = label) = "
        f"{args.fair_correlation}, test P(a = 1) = 0.5 independent of the label"
    )
    return dict(X_train=X_tr, y_train=y_tr, a_train=a_tr, X_test=X_te, y_test=y_te,
                a_test=a_te, description=description, classes=list(map(str, classes)),
                judge=(X_j, y_j, a_j))


def _utkface_task(args, rng):
    from synaug_learn.datasets import load_utkface

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few malformed file names in the public release
        faces = load_utkface(args.utkface, target="gender", image_size=args.utkface_size)
    X, y, a = faces.data, faces.target, (faces.race != 0).astype(np.int64)
    cells = 2 * y + a
    test_idx = []
    n_test = max(1, int(min(np.bincount(cells, minlength=4)) * 0.3))
    for c in range(4):  # a test set balanced over the four (gender, race) cells
        test_idx.append(rng.choice(np.flatnonzero(cells == c), size=n_test, replace=False))
    test_idx = np.concatenate(test_idx)
    train = np.ones(len(y), bool)
    train[test_idx] = False
    train_idx = np.flatnonzero(train)
    if args.n_per_class:
        keep = [rng.choice(np.flatnonzero(y[train_idx] == k),
                           size=min(args.n_per_class, int((y[train_idx] == k).sum())),
                           replace=False) for k in (0, 1)]
        train_idx = train_idx[np.sort(np.concatenate(keep))]
    description = (
        f"UTKFace from {args.utkface}: label = gender (0 male, 1 female), a = race "
        f"(0 White, 1 other), {args.utkface_size}x{args.utkface_size} RGB; train keeps the "
        f"natural correlation, test has {n_test} images per (gender, a) cell"
    )
    return dict(X_train=X[train_idx], y_train=y[train_idx], a_train=a[train_idx],
                X_test=X[test_idx], y_test=y[test_idx], a_test=a[test_idx],
                description=description, classes=["male", "female"])


# ----------------------------------------------------------------------------- methods


def make_net(args, seed, **params):
    from synaug_learn import MixupNetClassifier

    return MixupNetClassifier("small_cnn", mixup_alpha=0.0, max_epochs=args.epochs,
                              batch_size=args.batch_size, lr=args.lr, random_state=seed,
                              **params)


def train_generator(task, args, folder):
    """Train the in-domain cell-conditional diffusion model once; save it to ``folder``."""
    from synaug_learn.generators import ConditionalDiffusionGenerator

    gen = ConditionalDiffusionGenerator(
        block_out_channels=tuple(args.gen_channels), max_steps=args.gen_steps,
        max_minutes=args.gen_minutes, batch_size=args.gen_batch_size,
        random_state=args.data_seed,
    )
    t0 = time.perf_counter()
    gen.fit(task["X_train"], task["y_train"], groups=task["a_train"])
    train_s = time.perf_counter() - t0
    gen.save_pretrained(folder)
    return {"generator_train_s": round(train_s, 1), "generator_steps": int(gen.n_train_steps_)}


def _sampler(generator, seed, cache_dir=None):
    from synaug_learn import SynAugSampler

    sampler = SynAugSampler(sampling_strategy="auto", generator=generator, cache_dir=cache_dir,
                            random_state=seed)
    return sampler.set_fit_resample_request(groups=True)


def fit_predict(method, task, args, seed, gen_folder, bank):
    """Fit ``method`` on the task's training set.

    Returns the test predictions, the fitted sampler (SynAug rows, else ``None``) and the
    generated rows ``(X, y, a)`` (``synaug_group`` and ``synaug_group_jitter``, else ``None``).
    """
    import sklearn
    from imblearn.over_sampling import RandomOverSampler
    from imblearn.pipeline import Pipeline

    from synaug_learn import RetrainClassifier
    from synaug_learn.generators import ConditionalDiffusionGenerator, JitterGenerator

    X, y, a = task["X_train"], task["y_train"], task["a_train"]
    cells = 2 * y + a
    sampler = fill = None
    if method == "erm":
        model = make_net(args, seed).fit(X, y)
    elif method == "group_dro":
        model = make_net(args, seed, loss="group_dro").fit(X, y, groups=cells)
    elif method == "dfr":
        model = RetrainClassifier(make_net(args, seed), balance="group", random_state=seed)
        model.fit(X, y, groups=a)
    elif method == "ros_group":
        idx, _ = RandomOverSampler(random_state=seed).fit_resample(
            np.arange(len(y))[:, None], cells)
        idx = idx[:, 0]
        model = make_net(args, seed).fit(X[idx], y[idx])
    else:
        if method == "synaug_group_jitter":
            generator, cache = JitterGenerator(), None
        else:
            generator = ConditionalDiffusionGenerator(
                pretrained=str(gen_folder), num_inference_steps=args.gen_sampling_steps,
                guidance_scale=args.guidance_scale,
            )
            cache = str(bank)
        with sklearn.config_context(enable_metadata_routing=True):
            sampler = _sampler(generator, seed, cache)
            if method == "synaug_group_dfr":
                pipe = Pipeline([("synaug", sampler), ("clf", make_net(args, seed))])
                model = RetrainClassifier(pipe, balance="group", random_state=seed)
                model.fit(X, y, groups=a)
                sampler = model.estimator_.named_steps["synaug"]
            else:  # what Pipeline([sampler, net]) does, by hand to keep the generated rows
                X_res, y_res = sampler.fit_resample(X, y, groups=a)
                model = make_net(args, seed).fit(X_res, y_res)
                new = sampler.synthetic_mask_
                fill = (X_res[new], y_res[new], sampler.groups_resampled_[new])
    return model.predict(task["X_test"]), sampler, fill


def minority_cells(y, a):
    """(label, a) cells with fewer than half the rows of the largest cell."""
    counts = {(c, g): int(((y == c) & (a == g)).sum()) for c in (0, 1) for g in (0, 1)}
    largest = max(counts.values())
    return [cell for cell, n in counts.items() if n < 0.5 * largest]


def train_judges(task, args):
    """Classifiers of the label and of ``a`` trained on extra real images where ``a`` is
    independent of the label: they judge generated images without the shortcut."""
    X_j, y_j, a_j = task["judge"]
    judge_y = make_net(args, args.data_seed).fit(X_j, y_j)
    judge_a = make_net(args, args.data_seed).fit(X_j, a_j)
    cells = minority_cells(task["y_train"], task["a_train"])
    in_cells = np.zeros(len(y_j), bool)
    for c, g in cells:
        in_cells |= (y_j == c) & (a_j == g)
    X_ref = X_j[in_cells]  # real images of the minority cells, none in the training set
    y, a = task["y_test"], task["a_test"]
    rows = np.zeros(len(y), bool)
    for c, g in cells:
        rows |= (y == c) & (a == g)
    info = {
        "n_images": int(len(y_j)),
        "label_accuracy_test_minority_cells": float(
            np.mean(judge_y.predict(task["X_test"][rows]) == y[rows])),
        "attribute_accuracy_test_minority_cells": float(
            np.mean(judge_a.predict(task["X_test"][rows]) == a[rows])),
    }
    return (judge_y, judge_a, cells, X_ref), info


def fill_quality(judges, fill, args, seed):
    """Share of the generated minority-cell images the judges give the intended label / a,
    and how well the same small CNN tells them from real images of those cells."""
    if judges is None or fill is None:
        return {}
    judge_y, judge_a, cells, X_ref = judges
    X_new, y_new, g_new = fill
    rows = np.zeros(len(y_new), bool)
    for c, g in cells:
        rows |= (y_new == c) & (g_new == g)
    if not rows.any():
        return {}
    out = {
        "minority_label_fidelity_unbiased_judge": float(
            np.mean(judge_y.predict(X_new[rows]) == y_new[rows])),
        "minority_attribute_fidelity_unbiased_judge": float(
            np.mean(judge_a.predict(X_new[rows]) == g_new[rows].astype(np.int64))),
    }
    # real (0) vs generated (1), as many of each, half to train a detector, half to test it
    rng = np.random.RandomState(seed)
    n = min(len(X_ref), int(rows.sum()))
    if n >= 4:
        X_gen = X_new[rows][rng.choice(int(rows.sum()), n, replace=False)]
        X_real = X_ref[rng.choice(len(X_ref), n, replace=False)]
        X_d = np.concatenate([X_real, X_gen])
        t_d = np.r_[np.zeros(n, np.int64), np.ones(n, np.int64)]
        order = rng.permutation(2 * n)
        fit, test = order[: n], order[n:]
        detector = make_net(args, seed).fit(X_d[fit], t_d[fit])
        out["minority_synthetic_detectability"] = float(
            np.mean(detector.predict(X_d[test]) == t_d[test]))
    return out


def score(task, y_pred):
    from sklearn.metrics import balanced_accuracy_score

    from synaug_learn.metrics import (
        equalized_odds_difference,
        group_accuracy,
        mean_group_accuracy,
        worst_group_accuracy,
    )

    y, a = task["y_test"], task["a_test"]
    cells = np.column_stack([y, a])
    out = {
        "worst_group_accuracy": worst_group_accuracy(y, y_pred, cells),
        "mean_accuracy": mean_group_accuracy(y, y_pred, cells),
        "equalized_odds_difference": equalized_odds_difference(y, y_pred, a),
        "balanced_accuracy": balanced_accuracy_score(y, y_pred),
    }
    for (label, group), acc in group_accuracy(y, y_pred, cells).items():
        out[f"accuracy_y{label}_a{group}"] = acc
    return out


def report_summary(sampler):
    """Mean novelty / fidelity / diversity of the filled minority cells, and per-cell rows."""
    rows = sampler.report_.rows if sampler is not None and sampler.report_ is not None else []
    if not rows:
        return {}, []
    largest = max(r["n_real"] for r in rows)
    minority = [r for r in rows if r["n_generated"] > 0 and r["n_real"] < 0.5 * largest]
    out = {}
    for name in ("novelty", "fidelity", "diversity"):
        vals = [r[name] for r in minority if np.isfinite(r[name])]
        out[f"minority_{name}"] = float(np.mean(vals)) if vals else float("nan")
    cells = [{k: (v if not isinstance(v, np.generic) else v.item())
              for k, v in r.items() if k in ("label", "group", "n_real", "n_generated",
                                              "fidelity", "novelty", "diversity", "copying")}
             for r in rows]
    return out, cells


# ----------------------------------------------------------------------------- main


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=3, help="classifier / generation seeds 0..N-1")
    p.add_argument("--quick", action="store_true",
                   help="a tiny configuration (seconds): for smoke tests, not for results")
    p.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--render", action="store_true",
                   help="only rewrite OUT/groups.md from OUT/groups.json (e.g. after adding "
                        "hand-written 'notes' to the json); runs nothing")
    p.add_argument("--tasks", nargs="+", default=["spurious_colour", "fairness"],
                   choices=["spurious_colour", "fairness"])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--dataset", default="fashion_mnist", choices=["fashion_mnist", "digits"])
    p.add_argument("--utkface", default=None, help="UTKFace folder for the fairness task")
    p.add_argument("--utkface-size", type=int, default=32)
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--image-size", type=int, default=14)
    p.add_argument("--n-per-class", type=int, default=1000, help="training images per class")
    p.add_argument("--n-test-per-class", type=int, default=1000)
    p.add_argument("--correlation", type=float, default=0.95,
                   help="spurious task: train P(background colour = the class's own)")
    p.add_argument("--fair-correlation", type=float, default=0.9,
                   help="fairness task: train P(a = label)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--gen-channels", type=int, nargs="+", default=[32, 64, 64])
    p.add_argument("--gen-steps", type=int, default=2000)
    p.add_argument("--gen-minutes", type=float, default=None,
                   help="optional wall-clock cap on each generator's training; off by default "
                        "because a cap that binds makes the result depend on how busy the "
                        "machine is (the steps done are reported)")
    p.add_argument("--gen-batch-size", type=int, default=64)
    p.add_argument("--gen-sampling-steps", type=int, default=10, help="DDIM steps")
    p.add_argument("--guidance-scale", type=float, default=1.5)
    return p


QUICK = dict(n_per_class=60, n_test_per_class=20, epochs=1, image_size=8, gen_steps=2,
             gen_channels=[8, 16], gen_sampling_steps=2, gen_batch_size=16)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(None if argv is None else [str(a) for a in argv])
    if args.render:
        import json

        result = json.loads((args.out / f"{NAME}.json").read_text())
        (args.out / f"{NAME}.md").write_text(markdown(result))
        return result
    if args.quick:
        for key, value in QUICK.items():
            if getattr(args, key) == parser.get_default(key):
                setattr(args, key, value)
    threads_before = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return _run(args, argv)
    finally:
        torch.set_num_threads(threads_before)  # main() may run inside another process (tests)


def _run(args, argv):
    seeds = list(range(args.seeds))
    started, revision = time.time(), git_revision()  # the code that runs, not the code at the end
    work = Path(tempfile.mkdtemp(prefix="synaug_groups_"))
    rows, tasks_config = [], {}
    try:
        for task_name in args.tasks:
            rng = np.random.RandomState(args.data_seed)
            task = (make_spurious_task if task_name == "spurious_colour"
                    else make_fairness_task)(args, rng)
            counts = {f"y{y}_a{a}": int(((task["y_train"] == y) & (task["a_train"] == a)).sum())
                      for y in (0, 1) for a in (0, 1)}
            test_counts = {f"y{y}_a{a}": int(((task["y_test"] == y) & (task["a_test"] == a)).sum())
                           for y in (0, 1) for a in (0, 1)}
            print(f"[{task_name}] {task['description']}\n  train cells {counts}, "
                  f"test cells {test_counts}", flush=True)
            gen_info = {}
            gen_folder = work / task_name / "generator"
            if any(m in ("synaug_group", "synaug_group_dfr") for m in args.methods):
                gen_info = train_generator(task, args, gen_folder)
                print(f"  generator: {gen_info}", flush=True)
            judges = None
            tasks_config[task_name] = {
                "description": task["description"],
                "image_shape": list(task["X_train"].shape[1:]),
                "train_cells": counts,
                "test_cells": test_counts,
                **gen_info,
            }
            if "judge" in task and any(m in ("synaug_group", "synaug_group_jitter")
                                       for m in args.methods):
                judges, judge_info = train_judges(task, args)
                tasks_config[task_name]["judges"] = judge_info
                print(f"  judges: {judge_info}", flush=True)
            per_method = {}
            for seed in seeds:
                for method in args.methods:
                    t0, c0 = time.perf_counter(), time.process_time()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # copying / small-strata warnings:
                        # the report and the numbers below say the same
                        y_pred, sampler, fill = fit_predict(
                            method, task, args, seed, gen_folder, work / task_name / "bank")
                    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                    scores = score(task, y_pred)
                    rep, cells = report_summary(sampler)
                    rep.update(fill_quality(judges, fill, args, seed))
                    entry = per_method.setdefault(method, {"scores": [], "wall": [], "cpu": [],
                                                           "report": [], "cells": None})
                    entry["scores"].append(scores)
                    entry["wall"].append(wall)
                    entry["cpu"].append(cpu)
                    entry["report"].append(rep)
                    if seed == seeds[0] and cells:
                        entry["cells"] = cells
                    extra = "".join(f" {k.replace('minority_', '')} {v:.2f}"
                                    for k, v in rep.items()
                                    if k in ("minority_novelty",
                                             "minority_label_fidelity_unbiased_judge",
                                             "minority_attribute_fidelity_unbiased_judge",
                                             "minority_synthetic_detectability"))
                    print(f"  seed {seed} {method:20s} worst {scores['worst_group_accuracy']:.3f}"
                          f" mean {scores['mean_accuracy']:.3f}"
                          f" eod {scores['equalized_odds_difference']:.3f}"
                          f" bal {scores['balanced_accuracy']:.3f}  {wall:6.1f}s{extra}",
                          flush=True)
            rows.extend(make_rows(task_name, per_method, gen_info))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result = {
        "benchmark": NAME,
        "command": command(argv),
        "date": utc_now(),
        "machine": machine(),
        "versions": {**versions(("diffusers", "scikit-learn", "imbalanced-learn", "fairlearn")),
                     "git": revision},
        "config": make_config(args, tasks_config),
        "seeds": seeds,
        "rows": rows,
        "total_wall_s": round(time.time() - started, 1),
    }
    _, md_path = write_results(result, markdown, args.out)
    print(md_path.read_text())
    return result


def make_rows(task_name, per_method, gen_info):
    rows = []
    base = per_method.get("erm")
    for method, entry in per_method.items():
        names = list(entry["scores"][0])
        metrics = {name: summarize([s[name] for s in entry["scores"]]) for name in names}
        if base is not None and method != "erm":
            for name, higher in METRICS.items():
                metrics[f"delta_{name}_vs_erm"] = paired_difference(
                    [s[name] for s in entry["scores"]], [s[name] for s in base["scores"]],
                    higher_is_better=higher)
        metrics["cpu_s"] = summarize(entry["cpu"], unit="s of process CPU time per seed "
                                     "(fit + predict); robust to other jobs on the machine")
        reports = [r for r in entry["report"] if r]
        if reports:
            for key in reports[0]:
                metrics[key] = summarize([r[key] for r in reports])
            metrics["minority_novelty"]["unit"] = (
                "nearest-neighbour distance of generated images to the cell's training images "
                "over the leave-one-out distance among those images; ~0 copies, ~1 as new as "
                "real data"
            )
        row = {"task": task_name, "method": method, "metrics": metrics,
               "wall_s": round(float(np.mean(entry["wall"])), 2)}
        if method in ("synaug_group", "synaug_group_dfr") and gen_info:
            metrics["generator_train_s"] = {"mean": gen_info["generator_train_s"], "std": 0.0,
                                            "unit": "s, once per task, shared by the seeds"}
        if entry["cells"]:
            row["synthetic_report_seed0"] = entry["cells"]
        rows.append(row)
    return rows


def make_config(args, tasks_config):
    return {
        "tasks": tasks_config,
        "dataset": "utkface" if args.utkface else args.dataset,
        "data_seed": args.data_seed,
        "n_per_class": args.n_per_class,
        "n_test_per_class": args.n_test_per_class,
        "classifier": (f"MixupNetClassifier('small_cnn', mixup_alpha=0), {args.epochs} epochs, "
                       f"batch {args.batch_size}, SGD lr {args.lr} momentum 0.9 wd 5e-4, cosine"),
        "epochs": args.epochs,
        "generator": (f"ConditionalDiffusionGenerator(block_out_channels="
                      f"{tuple(args.gen_channels)}), conditioned on (class, a) cells, "
                      f"class-balanced batches of {args.gen_batch_size}, max_steps="
                      f"{args.gen_steps}, max_minutes={args.gen_minutes}; sampling DDIM-"
                      f"{args.gen_sampling_steps}, guidance {args.guidance_scale}; trained "
                      "once per task"),
        "fill": "SynAugSampler(sampling_strategy='auto') with groups: every (class, a) cell "
                "filled to the largest",
        "dfr": "RetrainClassifier(balance='group', rows='original'): head re-fitted on a "
               "cell-balanced subsample of the training rows (smallest cell's size)",
        "metrics": "on the test set; groups = (label, a) cells; equalized odds w.r.t. a; "
                   "wall_s = mean seconds per seed (fit + predict; for SynAug rows including "
                   "generation, excluding the once-per-task generator training)",
        "methods": list(args.methods),
        "quick": bool(args.quick),
        "device": "cpu",
    }


# ----------------------------------------------------------------------------- markdown


def _pm(metric, digits=3):
    return f"{metric['mean']:.{digits}f} ± {metric['std']:.{digits}f}"


def _delta(metric):
    return f"{metric['mean']:+.3f} ± {metric['std']:.3f} ({metric['n_better']}/{metric['n_seeds']})"


def _paired(rows, a, b, name):
    """Paired difference of metric ``name`` between methods ``a`` and ``b`` (None if absent)."""
    ra = next((r for r in rows if r["method"] == a), None)
    rb = next((r for r in rows if r["method"] == b), None)
    if ra is None or rb is None:
        return None
    return paired_difference(ra["metrics"][name]["values"], rb["metrics"][name]["values"],
                             higher_is_better=METRICS[name])


def what_it_shows(result):
    """Sentences computed from the numbers (the same whatever the run): no hand-written claims."""
    out = []
    for task_name in result["config"]["tasks"]:
        rows = [r for r in result["rows"] if r["task"] == task_name]
        by = {r["method"]: r["metrics"] for r in rows}
        best = max(rows, key=lambda r: r["metrics"]["worst_group_accuracy"]["mean"])
        fair = min(rows, key=lambda r: r["metrics"]["equalized_odds_difference"]["mean"])
        text = [f"**{task_name}**: best worst-group accuracy `{best['method']}` "
                f"({best['metrics']['worst_group_accuracy']['mean']:.3f}); lowest equalized-odds "
                f"difference `{fair['method']}` "
                f"({fair['metrics']['equalized_odds_difference']['mean']:.3f})."]
        if "erm" in by:
            e = by["erm"]
            text.append(
                f"ERM's worst group is {e['worst_group_accuracy']['mean']:.3f} against a mean "
                f"group accuracy of {e['mean_accuracy']['mean']:.3f} (the shortcut's cost).")
        for a, b in (("synaug_group", "erm"), ("synaug_group", "ros_group"),
                     ("synaug_group", "synaug_group_jitter"), ("synaug_group_dfr", "dfr"),
                     ("synaug_group_dfr", "synaug_group")):
            d = _paired(rows, a, b, "worst_group_accuracy")
            if d is not None:
                text.append(f"`{a}` vs `{b}`: worst group {d['mean']:+.3f} ± {d['std']:.3f}, "
                            f"better on {d['n_better']}/{d['n_seeds']} seeds.")
        if "synaug_group" in by and "minority_novelty" in by["synaug_group"]:
            sg = by["synaug_group"]
            nov = sg["minority_novelty"]["mean"]
            fid = sg["minority_fidelity"]["mean"]
            verdict = ("near-copies of the few real images" if nov < 0.3 else
                       "close to the real images, partly copies" if nov < 0.7 else
                       "about as new as real images" if nov < 1.5 else
                       "farther from the real images than they are from each other: "
                       "noise-like unless fidelity is high")
            text.append(f"The diffusion fill of the minority cells has novelty {nov:.2f} "
                        f"({verdict}); the report's fidelity is {fid:.2f}, but its judge is "
                        "fitted on the training rows, which carry the shortcut.")
            if "minority_label_fidelity_unbiased_judge" in sg:
                judges = result["config"]["tasks"][task_name].get("judges", {})
                label_fid = sg["minority_label_fidelity_unbiased_judge"]["mean"]
                attr_fid = sg["minority_attribute_fidelity_unbiased_judge"]["mean"]
                real_acc = judges.get("label_accuracy_test_minority_cells", float("nan"))
                text.append(
                    "Judges trained without the shortcut give the generated minority images "
                    f"the intended label {label_fid:.2f} of the time (real test images of "
                    f"those cells: {real_acc:.2f}) and the intended a {attr_fid:.2f}.")
            if "minority_synthetic_detectability" in sg:
                text.append(
                    "A small CNN tells them from real images of those cells with accuracy "
                    f"{sg['minority_synthetic_detectability']['mean']:.2f} (0.5 = "
                    "indistinguishable).")
        out.append(" ".join(text))
    return "\n\n".join(out)


def markdown(result):
    c = result["config"]
    lines = [
        "# Group imbalance: ERM, Group DRO, DFR and SynAug cell filling",
        "",
        f"`{result['command']}` — {result['date']}, total {result['total_wall_s'] / 60:.1f} min",
        "",
        *machine_lines(result, "shared machine: times are indicative"),
        "",
        f"Classifier (every row): {c['classifier']}. Generator: {c['generator']}. "
        f"Fill: {c['fill']}. DFR: {c['dfr']}. Seeds {result['seeds']} (data fixed, "
        f"data seed {c['data_seed']}). Metrics {c['metrics']}.",
        "",
    ]
    for task_name, tc in c["tasks"].items():
        rows = [r for r in result["rows"] if r["task"] == task_name]
        lines += [
            f"## Task `{task_name}`",
            "",
            f"{tc['description']}. Training cells (y, a): {tc['train_cells']}; "
            f"test cells: {tc['test_cells']}.",
        ]
        if "generator_steps" in tc:
            lines.append(f"Generator: {tc['generator_steps']} training steps in "
                         f"{tc['generator_train_s']:.0f} s.")
        lines += [
            "",
            "| method | worst-group acc | mean group acc | equalized odds diff (↓) "
            "| balanced acc | minority-cell novelty | wall s / seed | CPU s / seed |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            mt = r["metrics"]
            nov = _pm(mt["minority_novelty"], 2) if "minority_novelty" in mt else "—"
            lines.append(
                f"| `{r['method']}` | {_pm(mt['worst_group_accuracy'])} "
                f"| {_pm(mt['mean_accuracy'])} | {_pm(mt['equalized_odds_difference'])} "
                f"| {_pm(mt['balanced_accuracy'])} | {nov} | {r['wall_s']:.0f} "
                f"| {mt['cpu_s']['mean']:.0f} |"
            )
        paired = [r for r in rows if "delta_worst_group_accuracy_vs_erm" in r["metrics"]]
        if paired:
            lines += [
                "",
                "Paired differences vs `erm` (same seed), mean ± std (seeds better than `erm`; "
                "for equalized odds, lower is better):",
                "",
                "| method | Δ worst-group | Δ mean group | Δ equalized odds | Δ balanced |",
                "|---|---|---|---|---|",
            ]
        for r in paired:
            mt = r["metrics"]
            lines.append(
                f"| `{r['method']}` | {_delta(mt['delta_worst_group_accuracy_vs_erm'])} "
                f"| {_delta(mt['delta_mean_accuracy_vs_erm'])} "
                f"| {_delta(mt['delta_equalized_odds_difference_vs_erm'])} "
                f"| {_delta(mt['delta_balanced_accuracy_vs_erm'])} |"
            )
        judged = [r for r in rows
                  if "minority_label_fidelity_unbiased_judge" in r["metrics"]]
        if judged and "judges" in tc:
            j = tc["judges"]
            lines += [
                "",
                "Quality of the fill in the minority cells, judged by two small CNNs (same "
                f"classifier) trained on {j['n_images']} *other* real training images in which "
                "a is independent of the label, so they do not share the shortcut (the "
                "report's own fidelity judge is trained on the shortcut-laden training rows):",
                "",
                "| minority-cell images | judged as the intended label | judged as the "
                "intended a | novelty | real-vs-generated detector accuracy |",
                "|---|---|---|---|---|",
                f"| real test images (the judges' accuracy) "
                f"| {j['label_accuracy_test_minority_cells']:.3f} "
                f"| {j['attribute_accuracy_test_minority_cells']:.3f} | — | — |",
            ]
            for r in judged:
                mt = r["metrics"]
                det = mt.get("minority_synthetic_detectability")
                lines.append(
                    f"| generated by `{r['method']}` "
                    f"| {_pm(mt['minority_label_fidelity_unbiased_judge'])} "
                    f"| {_pm(mt['minority_attribute_fidelity_unbiased_judge'])} "
                    f"| {_pm(mt['minority_novelty'], 2)} | {_pm(det) if det else '—'} |")
            lines += [
                "",
                "The detector is the same small CNN trained to tell generated minority-cell "
                "images from as many real images of those cells (judge pool), tested on a "
                "held-out half: 0.5 = indistinguishable; near 1 = the net can tell generated "
                "rows apart, i.e. the fill adds a 'generated' feature that is itself "
                "confounded with the minority cells.",
            ]
        cells = next((r for r in rows if r.get("synthetic_report_seed0")
                      and r["method"] == "synaug_group"), None)
        if cells:
            lines += [
                "",
                "Synthetic-data report of the diffusion fill (`synaug_group`, seed "
                f"{result['seeds'][0]}; the sampler's `report_`):",
                "",
                "| cell (y, a) | real | generated | fidelity | novelty | diversity |",
                "|---|---|---|---|---|---|",
            ]
            for cell in cells["synthetic_report_seed0"]:
                def f(v):
                    return "—" if v is None or not np.isfinite(v) else f"{v:.2f}"
                lines.append(
                    f"| ({cell['label']}, {cell['group']}) | {cell['n_real']} "
                    f"| {cell['n_generated']} | {f(cell['fidelity'])} | {f(cell['novelty'])} "
                    f"| {f(cell['diversity'])} |"
                )
        lines.append("")
    lines += [
        "## What it shows",
        "",
        "Computed from the numbers above (Δ are paired over seeds):",
        "",
        what_it_shows(result),
        "",
        *([result["notes"], ""] if result.get("notes") else []),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
