"""The ``synaug`` command: ``synaug demo`` and ``synaug balance``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

__all__ = ["main", "run_balance", "run_demo"]

DEMO_METHODS = (
    "ce",
    "smote",
    "balanced_softmax_mixup",
    "synaug_pretrained",
    "synaug_pretrained_mixup",
    "synaug_pretrained_mixup_retrain",
    "synaug_pretrained_balanced_softmax_mixup",
)


# The demo's sampler: DPM-Solver++ at 8 steps with guidance, 16 network passes per image
# against DDIM-20's 40 (benchmarks/results/generation_speed.md measures both).
DEMO_SAMPLING = {"scheduler": "dpm++", "num_inference_steps": 8, "guidance_scale": 1.5,
                 "guidance_interval": None}


def _fast_sampling():
    """The demo's sampling parameters (a copy of :data:`DEMO_SAMPLING`)."""
    return dict(DEMO_SAMPLING)


def _describe_sampling(gen):
    names = {"ddim": "DDIM", "dpm++": "DPM-Solver++", "unipc": "UniPC"}
    text = f"{names[gen.scheduler]} {gen.num_inference_steps} steps"
    if gen.guidance_scale == 1.0:
        return text + ", no guidance"
    where = "every step" if gen.guidance_interval is None else \
        "steps in {:g}..{:g} of the trajectory".format(*gen.guidance_interval)
    return text + f", guidance {gen.guidance_scale:g} on {where}"


def _demo_data(dataset, n_max, seed):
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
        generator = ConditionalDiffusionGenerator.from_pretrained("fashion-mnist-small",
                                                                  **_fast_sampling())
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


def run_demo(dataset="fashion-mnist", out="synaug_output", n_max=200, train_steps=250, seed=0,
             methods=DEMO_METHODS, indomain_minutes=1.0):
    """Fit the demo's recipes on a long-tailed split, print the table and the report, plot.

    Returns the results as a dict (also written to ``out/results.json``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from tqdm.auto import tqdm

    from . import plotting
    from ._recipes import METHODS, evaluate, make_recipe
    from ._report import synthetic_report
    from .generators import ConditionalDiffusionGenerator

    start = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    X_lt, y_lt, X_test, y_test, pretrained, names, origin = _demo_data(dataset, n_max, seed)
    # Flat rows for every method: SMOTE takes 2-D input only; the net and the generators
    # read square rows as grey images.
    X_lt, X_test = X_lt.reshape(len(X_lt), -1), X_test.reshape(len(X_test), -1)
    counts = dict(sorted(Counter(y_lt.tolist()).items()))
    n_target = max(counts.values())
    print(f"\n{dataset} long-tailed training set: {len(y_lt)} images, IF="
          f"{max(counts.values()) / min(counts.values()):.0f}")
    print("  per class: " + ", ".join(f"{names[c]}={n}" for c, n in counts.items()))
    print(f"  test set: {len(y_test)} images; generator: {origin}; sampling: "
          f"{_describe_sampling(pretrained)}\n")
    few = 20 if n_max >= 100 else 5
    many = 100 if n_max >= 200 else max(10, n_max // 2)

    results, fitted = {}, {}
    bank = str(out / "bank")
    for method in tqdm(methods, desc="methods", unit="method"):
        t0 = time.time()
        est = make_recipe(method, class_counts=counts, n_target=n_target,
                          generators={"pretrained": pretrained},
                          train_steps=train_steps, cache_dir=bank, random_state=seed)
        est.fit(X_lt, y_lt)
        results[method] = {**evaluate(est, X_test, y_test, counts, many=many, few=few),
                           "wall_s": round(time.time() - t0, 1)}
        fitted[method] = est

    print(f"\n{'method':44s} {'bal.acc':>8s} {'many':>6s} {'medium':>6s} {'few':>6s} {'s':>6s}")
    for method, r in results.items():
        print(f"{method:44s} {r['balanced_accuracy']:8.3f} {r['many']:6.3f} {r['medium']:6.3f} "
              f"{r['few']:6.3f} {r['wall_s']:6.1f}")
    print(f"(many > {many}, few < {few} training images; the same network and {train_steps} "
          "optimiser steps for every method)")

    # Why the pretrained fill helps: compare it with a generator trained on the same few rows.
    tail = [c for c, n in counts.items() if n < few] or [min(counts, key=counts.get)]
    print(f"\nSynthetic-data report on the rarest classes {tail} (novelty ~0 = copies of the "
          "training rows, ~1 = as new as unseen real images):")
    reports = {}
    indomain = ConditionalDiffusionGenerator(
        max_minutes=indomain_minutes, max_steps=5000, **_fast_sampling(), random_state=seed,
        verbose=1).fit(X_lt, y_lt)
    fitted_pretrained = pretrained.fit(X_lt, y_lt)
    for label, gen in (("in-domain (trained on the long-tailed rows)", indomain),
                       ("pretrained (" + origin + ")", fitted_pretrained)):
        X_syn, y_syn, _ = gen.generate({(c, None): 32 for c in tail}, random_state=seed)
        held = np.isin(y_test, tail)
        rep = synthetic_report(X_lt, y_lt, X_syn, y_syn, X_heldout=X_test[held],
                               y_heldout=y_test[held], random_state=seed)
        reports[label] = rep
        print(f"\n{label}:\n{rep.to_markdown()}")
    for label, rep in reports.items():
        rows = [r for r in rep.rows if r["n_generated"]]
        print(f"{label.split(' (')[0]:>10s}: mean fidelity "
              f"{np.nanmean([r['fidelity'] for r in rows]):.2f}, mean novelty "
              f"{np.nanmean([r['novelty'] for r in rows]):.2f}")
    print(f"(fidelity is judged by a classifier fitted on these long-tailed rows, so it is weak "
          f"on the rarest classes. In {indomain_minutes:g} minute(s) the in-domain model has "
          "not learnt them yet; trained for long on so few images it copies them instead "
          "(measured on digits: novelty 0.07-0.12 for the classes with 2-4 training images). "
          "Either way it brings nothing new.)")

    # Plots.
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
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for ax, (label, rep) in zip(axes, reports.items()):
        rep.plot(ax=ax)
        ax.set_title(label.split(" (")[0])
    fig.tight_layout()
    fig.savefig(out / "synthetic_report.png", dpi=120)
    plt.close("all")

    summary = {
        "dataset": dataset, "n_max": n_max, "train_steps": train_steps, "seed": seed,
        "class_counts": counts,
        "methods": {m: {k: v for k, v in r.items() if k != "per_class"} | {
            "description": METHODS[m]} for m, r in results.items()},
        "reports": {label: rep.rows for label, rep in reports.items()},
        "wall_s": round(time.time() - start, 1),
    }
    (out / "results.json").write_text(json.dumps(summary, indent=2, default=str))
    minutes, seconds = divmod(int(round(summary["wall_s"])), 60)
    print(f"\nPlots and results.json written to {out}/. Total time: {minutes} min {seconds} s "
          f"(generation with {_describe_sampling(pretrained)}).")
    return summary


def _class_mapping_by_name(pretrained, folder_names):
    """``{folder label: pretrained label}`` from the class names in the model's training.json.

    Without names there, folder ``i`` (sorted) is taken to be the model's label ``i``.
    """
    from .generators._conditional import _resolve_pretrained

    info = _resolve_pretrained(pretrained) / "training.json"
    if not info.is_file():
        return None
    known = json.loads(info.read_text()).get("class_names") or []
    lookup = {n.lower(): i for i, n in enumerate(known)}
    unknown = [n for n in folder_names if n.lower() not in lookup]
    if unknown:
        raise ValueError(
            f"input_dir has class folders {unknown!r} that generator={str(pretrained)!r} does "
            f"not know; its classes are {known!r}."
        )
    return {i: lookup[n.lower()] for i, n in enumerate(folder_names)}


def run_balance(input_dir, output_dir, generator="fashion-mnist-small", fill_ratio=1.0,
                image_size=None, seed=0, max_minutes=5.0, color_mode="rgb"):
    """Read an image folder (one sub-folder per class), write a balanced one plus a manifest."""
    from PIL import Image

    from ._sampler import SynAugSampler
    from .datasets import load_image_folder
    from .generators import ConditionalDiffusionGenerator, list_pretrained

    output_dir = Path(output_dir)
    if output_dir.exists() and any(output_dir.iterdir()):
        raise ValueError(f"output_dir={str(output_dir)!r} exists and is not empty.")
    data = load_image_folder(input_dir, image_size=image_size, color_mode=color_mode,
                             return_X_y=False)
    if generator in list_pretrained() or Path(generator).is_dir():
        mapping = _class_mapping_by_name(generator, data.target_names)
        gen = ConditionalDiffusionGenerator.from_pretrained(
            generator, class_mapping=mapping, guidance_scale=1.5)
    elif generator == "indomain":
        gen = ConditionalDiffusionGenerator(max_minutes=max_minutes, random_state=seed, verbose=1)
    else:
        raise ValueError(
            f"generator={generator!r} is neither 'indomain', a shipped generator "
            f"({', '.join(list_pretrained())}) nor a folder written by save_pretrained."
        )
    sampler = SynAugSampler(generator=gen, fill_ratio=fill_ratio, random_state=seed, verbose=1)
    X_res, y_res = sampler.fit_resample(data.data, data.target)
    output_dir.mkdir(parents=True, exist_ok=True)
    manifest = {
        "input_dir": str(input_dir), "generator": type(gen).__name__,
        "generator_params": {k: repr(v) for k, v in gen.get_params().items()},
        "generator_fingerprint": sampler.generator_.fingerprint(), "seed": seed,
        "fill_ratio": fill_ratio, "files": [],
    }
    per_class = Counter()
    for i, (img, label) in enumerate(zip(X_res, y_res)):
        name = data.target_names[label]
        synthetic = bool(sampler.synthetic_mask_[i])
        folder = output_dir / name
        folder.mkdir(exist_ok=True)
        if synthetic:
            fname = f"synthetic_{per_class[label]:05d}.png"
            per_class[label] += 1
        else:
            fname = Path(data.filenames[i]).name
        arr = np.asarray(img)
        Image.fromarray(arr.squeeze() if arr.ndim == 3 and arr.shape[-1] == 1 else arr).save(
            folder / fname)
        if synthetic:
            manifest["files"].append({"file": f"{name}/{fname}", "class": name,
                                      "row": int(per_class[label] - 1)})
    (output_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    print(f"{len(y_res)} images ({int(sampler.synthetic_mask_.sum())} generated) written to "
          f"{output_dir}/")
    return manifest


def main(argv=None):
    """Entry point of the ``synaug`` command."""
    parser = argparse.ArgumentParser(prog="synaug", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="SynAug vs SMOTE and long-tail baselines, in minutes")
    demo.add_argument("--dataset", choices=["fashion-mnist", "digits"], default="fashion-mnist")
    demo.add_argument("--out", default="synaug_output")
    demo.add_argument("--n-max", type=int, default=200)
    demo.add_argument("--train-steps", type=int, default=250,
                      help="optimiser steps of every method's network")
    demo.add_argument("--seed", type=int, default=0)
    bal = sub.add_parser("balance", help="balance an image folder with generated images")
    bal.add_argument("input_dir")
    bal.add_argument("output_dir")
    bal.add_argument("--generator", default="fashion-mnist-small",
                     help="a shipped generator's name, a save_pretrained folder, or 'indomain'")
    bal.add_argument("--fill-ratio", type=float, default=1.0)
    bal.add_argument("--image-size", type=int, default=None)
    bal.add_argument("--grayscale", action="store_true")
    bal.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "demo":
        run_demo(args.dataset, args.out, n_max=args.n_max, train_steps=args.train_steps,
                 seed=args.seed)
    else:
        run_balance(args.input_dir, args.output_dir, generator=args.generator,
                    fill_ratio=args.fill_ratio, image_size=args.image_size, seed=args.seed,
                    color_mode="grayscale" if args.grayscale else "rgb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
