"""``synaug demo``: SynAug against SMOTE and long-tail baselines on a long-tailed split, in minutes.

Fits the recipes of :mod:`synaug_learn.recipes` on a long-tailed Fashion-MNIST
(or digits) split, prints the table and the synthetic-data report of the
generator that has seen the classes elsewhere, and writes plots and ``results.json``.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np

__all__ = ["DEMO_METHODS", "run_demo"]

# Five rows, to keep ``make demo`` (install included) short on 2 CPU cores:
# plain CE, SMOTE, the long-tail benchmark's strongest plain generator-free peer (Balanced
# Softmax), the fill alone and the paper's whole recipe (fill + Mixup + head re-trained).
DEMO_METHODS = (
    "ce",
    "smote",
    "balanced_softmax",
    "synaug_pretrained",
    "synaug_pretrained_mixup_retrain",
)


# The sampling of the generator trained for digits and of the teacher (``sampler="teacher"``):
# the shipped generator's default, DPM-Solver++ at 10 steps with guidance, 20 network passes
# per image against DDIM-20's 40 (chosen on held-out rows by the generation-speed benchmark).
DEMO_SAMPLING = {"scheduler": "dpm++", "num_inference_steps": 10, "guidance_scale": 1.5,
                 "guidance_interval": None}

# The shipped generators behind ``sampler=``: the 2-step distilled student (2 network passes per
# image, no guidance pass) keeps the demo to minutes on 2 CPU cores; on the generation-speed
# benchmark its fill scored 0.722 balanced accuracy against guided DDIM-20's 0.729 (40 passes).
SAMPLERS = {"student": "fashion-mnist-small-student-2step", "teacher": "fashion-mnist-small"}


def _fast_sampling():
    """The demo's sampling parameters (a copy of ``DEMO_SAMPLING``)."""
    return dict(DEMO_SAMPLING)


def _check_sampler(dataset, sampler):
    """The sampler to use: ``None`` picks the student where one is shipped."""
    if sampler is None:
        return "student" if dataset == "fashion-mnist" else "teacher"
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler={sampler!r} is not one of {sorted(SAMPLERS)}")
    if sampler == "student" and dataset != "fashion-mnist":
        raise ValueError(f"sampler='student' needs dataset='fashion-mnist' (got "
                         f"dataset={dataset!r}): no student is shipped for {dataset}; use "
                         "sampler='teacher'")
    return sampler


def _describe_sampling(gen):
    from .generators._sampling import SCHEDULER_NAMES

    text = f"{SCHEDULER_NAMES[gen.scheduler]} {gen.num_inference_steps} steps"
    if str(gen.pretrained) == SAMPLERS["student"]:
        text = "distilled student, " + text
    if gen.guidance_scale == 1.0:
        return text + ", no guidance"
    where = "every step" if gen.guidance_interval is None else \
        "steps in {:g}..{:g} of the trajectory".format(*gen.guidance_interval)
    return text + f", guidance {gen.guidance_scale:g} on {where}"


def _demo_data(dataset, n_max, seed, sampler):
    """Long-tailed train rows, a test set, a generator that has seen the concepts elsewhere."""
    from .datasets import (
        FASHION_MNIST_CLASSES,
        load_digits_lt,
        load_fashion_mnist,
        make_long_tailed,
    )
    from .generators import ConditionalDiffusionGenerator

    if dataset == "fashion-mnist":
        X, y = load_fashion_mnist(subset="train")
        X_test, y_test = load_fashion_mnist(subset="test")
        # Rows >= 50000 are the shipped generator's pretraining pool: keep the split disjoint.
        X_lt, y_lt = make_long_tailed(X[:50_000], y[:50_000], imbalance_factor=100, n_max=n_max,
                                      random_state=seed)
        # the student samples with the 2 steps saved with it; the teacher as the demo says
        params = {} if sampler == "student" else _fast_sampling()
        generator = ConditionalDiffusionGenerator.from_pretrained(SAMPLERS[sampler], **params)
        names = list(FASHION_MNIST_CLASSES)
        origin = "shipped, pretrained on a disjoint pool"
        return X_lt, y_lt, X_test, y_test, generator, names, origin
    data = load_digits_lt(imbalance_factor=50, pool=True, random_state=seed)
    # Nothing is shipped for digits: pretrain on the disjoint pool now (about a minute).
    generator = ConditionalDiffusionGenerator(max_steps=800, max_minutes=1.5, **_fast_sampling(),
                                              random_state=seed, verbose=1)
    generator.fit(data.X_pool, data.y_pool)
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"synaug-digits-pool-{seed}"
    generator.save_pretrained(folder)  # its sampling settings go with it
    generator = ConditionalDiffusionGenerator.from_pretrained(folder)
    names = [str(n) for n in data.target_names]
    return (data.X_train, data.y_train, data.X_test, data.y_test, generator, names,
            "trained here on the disjoint pool")


def _fit_methods(methods, X_lt, y_lt, X_test, y_test, counts, pretrained, *, train_steps,
                 bank, seed, many, few):
    """Fit and score every recipe; ``(results, fitted)`` keyed by method."""
    from tqdm.auto import tqdm

    from .recipes import evaluate, make_recipe

    n_target = max(counts.values())
    results, fitted = {}, {}
    for method in tqdm(methods, desc="methods", unit="method"):
        t0 = time.time()
        est = make_recipe(method, class_counts=counts, n_target=n_target,
                          generators={"pretrained": pretrained},
                          train_steps=train_steps, cache_dir=bank, random_state=seed)
        est.fit(X_lt, y_lt)
        results[method] = {**evaluate(est, X_test, y_test, counts, many=many, few=few),
                           "wall_s": round(time.time() - t0, 1)}
        fitted[method] = est
    return results, fitted


def _print_table(results, *, many, few, train_steps):
    print(f"\n{'method':44s} {'bal.acc':>8s} {'many':>6s} {'medium':>6s} {'few':>6s} {'s':>6s}")
    for method, r in results.items():
        print(f"{method:44s} {r['balanced_accuracy']:8.3f} {r['many']:6.3f} {r['medium']:6.3f} "
              f"{r['few']:6.3f} {r['wall_s']:6.1f}")
    print(f"(many > {many}, few < {few} training images; the same network and {train_steps} "
          "optimiser steps for every method)")


def _report(X_lt, y_lt, X_test, y_test, counts, pretrained, *, few, seed):
    """The pretrained generator's synthetic-data report on the rarest classes, printed."""
    from .metrics import synthetic_report

    tail = [c for c, n in counts.items() if n < few] or [min(counts, key=counts.get)]
    X_syn, y_syn, _ = pretrained.fit(X_lt, y_lt).generate({(c, None): 16 for c in tail},
                                                          random_state=seed)
    held = np.isin(y_test, tail)
    report = synthetic_report(X_lt, y_lt, X_syn, y_syn, X_heldout=X_test[held],
                              y_heldout=y_test[held], random_state=seed)
    rows = [r for r in report.rows if r["n_generated"]]
    print(f"\nSynthetic-data report of the generator on the rarest classes {tail} (novelty ~0 "
          f"= copies of the training rows, ~1 = as new as unseen real images):\n"
          f"{report.to_markdown()}\nmean fidelity "
          f"{np.nanmean([r['fidelity'] for r in rows]):.2f}, mean novelty "
          f"{np.nanmean([r['novelty'] for r in rows]):.2f} (fidelity is judged by a classifier "
          "fitted on these long-tailed rows, so it is weak on the rarest classes). A generator "
          "trained on these few rows instead copies them: measured on long-tailed digits, "
          "novelty 0.07-0.12 for the classes with 2-4 training images.")
    return report


def _plot(out, X_lt, y_lt, counts, names, pretrained, results, fitted, report, seed):
    """The demo's four figures, as PNG files in ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import plotting

    sampler = next(est.named_steps["sampler"] for est in fitted.values()
                   if hasattr(est, "named_steps")
                   and hasattr(est.named_steps["sampler"], "synthetic_mask_"))
    y_after = np.concatenate([y_lt, np.repeat(list(sampler.sampling_strategy_),
                                              list(sampler.sampling_strategy_.values()))])
    fig, ax = plt.subplots(figsize=(9, 4))
    plotting.plot_class_distribution(y_lt, y_after, ax=ax, class_names=names)
    fig.tight_layout()
    fig.savefig(out / "class_distribution.png", dpi=120)
    X_syn, y_syn, _ = pretrained.generate({(c, None): 8 for c in counts}, random_state=seed)
    X_both = np.concatenate([X_lt, X_syn])
    y_both = np.concatenate([y_lt, y_syn])
    mask = np.r_[np.zeros(len(X_lt), bool), np.ones(len(X_syn), bool)]
    fig, ax = plt.subplots(figsize=(10, 10))
    plotting.plot_samples(X_both, y_both, n_per_class=8, class_names=names, synthetic_mask=mask,
                          ax=ax, random_state=seed)
    fig.savefig(out / "synthetic_samples.png", dpi=120)
    fig, ax = plt.subplots(figsize=(12, 4))
    plotting.plot_per_class_accuracy({m: r["per_class"] for m, r in results.items()},
                                     class_names=names, ax=ax)
    fig.tight_layout()
    fig.savefig(out / "per_class_accuracy.png", dpi=120)
    fig, ax = plt.subplots(figsize=(6, 4))
    report.plot(ax=ax)
    fig.tight_layout()
    fig.savefig(out / "synthetic_report.png", dpi=120)
    plt.close("all")


def run_demo(dataset="fashion-mnist", out="synaug_output", n_max=200, train_steps=200, seed=0,
             methods=DEMO_METHODS, sampler=None):
    """Fit the demo's recipes on a long-tailed split, print the table and the report, plot.

    ``sampler`` is ``"student"`` (the shipped 2-step distilled generator, the default for
    Fashion-MNIST) or ``"teacher"`` (the shipped generator at DPM-Solver++ 10 guided steps, ten
    times the network passes; the only choice for digits, whose generator is trained here).
    Every method's network gets the same ``train_steps`` optimiser steps; at 250 instead of
    200 the rows scored 0.0-1.9 points more (seed 0), for a quarter more training time.
    Returns the results as a dict (also written to ``out/results.json``).
    """
    import matplotlib

    matplotlib.use("Agg")

    from .recipes import METHODS

    sampler = _check_sampler(dataset, sampler)
    start = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    X_lt, y_lt, X_test, y_test, pretrained, names, origin = _demo_data(dataset, n_max, seed,
                                                                       sampler)
    # Flat rows for every method: SMOTE takes 2-D input only; the net and the generators
    # read square rows as grey images.
    X_lt, X_test = X_lt.reshape(len(X_lt), -1), X_test.reshape(len(X_test), -1)
    sampling = _describe_sampling(pretrained)
    counts = dict(sorted(Counter(y_lt.tolist()).items()))
    print(f"\n{dataset} long-tailed training set: {len(y_lt)} images, IF="
          f"{max(counts.values()) / min(counts.values()):.0f}")
    print("  per class: " + ", ".join(f"{names[c]}={n}" for c, n in counts.items()))
    print(f"  test set: {len(y_test)} images; generator: {origin}; sampling: "
          f"{sampling}\n")
    few = 20 if n_max >= 100 else 5
    many = 100 if n_max >= 200 else max(10, n_max // 2)

    results, fitted = _fit_methods(methods, X_lt, y_lt, X_test, y_test, counts, pretrained,
                                   train_steps=train_steps, bank=str(out / "bank"), seed=seed,
                                   many=many, few=few)
    _print_table(results, many=many, few=few, train_steps=train_steps)
    report = _report(X_lt, y_lt, X_test, y_test, counts, pretrained, few=few, seed=seed)
    _plot(out, X_lt, y_lt, counts, names, pretrained, results, fitted, report, seed)

    summary = {
        "dataset": dataset, "n_max": n_max, "train_steps": train_steps, "seed": seed,
        "sampler": sampler, "sampling": sampling, "class_counts": counts,
        "methods": {m: {k: v for k, v in r.items() if k != "per_class"} | {
            "description": METHODS[m]} for m, r in results.items()},
        "report": report.rows,
        "wall_s": round(time.time() - start, 1),
    }
    (out / "results.json").write_text(json.dumps(summary, indent=2, default=str))
    minutes, seconds = divmod(int(round(summary["wall_s"])), 60)
    print(f"\nPlots and results.json written to {out}/. Total time: {minutes} min {seconds} s "
          f"(generation with {sampling}).")
    return summary
