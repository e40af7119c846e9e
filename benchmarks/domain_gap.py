"""How far a style (and a generator trained on it) sits from real Fashion-MNIST.

A small CNN (``small_cnn`` via ``MixupNetClassifier``, Mixup off, SGD lr 0.05,
cosine, batch 128 -- the long-tail benchmark's network) is trained on real,
class-balanced Fashion-MNIST training rows with index < 50000 (so never on the
generators' pool, rows 50000+), one classifier per seed. Each classifier then
labels:

- ``real_test``: the real test set (10,000 images);
- ``styled_test_<style>``: the same test images through
  :func:`synaug_learn.datasets.stylize_images` (every style in
  :data:`~synaug_learn.datasets.IMAGE_STYLES` unless ``--styles`` says);
- with ``--generator PATH``: ``generated``, ``--n-per-class`` images of every
  class from that generator (one draw, ``random_state=0``, its saved sampling
  defaults unless overridden), scored against their intended labels.

The **gap** of a row is ``accuracy(real_test) - accuracy(row)``, per seed
(paired). The goal for a domain-shifted generator is a gap of at least 0.15 on
its samples while a person still reads them; the style was chosen on
``styled_test_*`` rows in the 0.25-0.40 range (``--grid`` writes a PNG of a
few images per class and style, and of the generated images, to look at).

    python benchmarks/domain_gap.py                    # styles only, ~3 min (1 thread)
    python benchmarks/domain_gap.py --generator synaug_learn/pretrained/fashion-mnist-small-shifted
    python benchmarks/domain_gap.py --quick            # smoke run (into --out)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import (  # noqa: E402
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

from synaug_learn.datasets import (  # noqa: E402
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_POOL_START,
    IMAGE_STYLES,
    load_fashion_mnist,
    stylize_images,
)

CHOICE = (
    "The style of `fashion-mnist-small-shifted` is `texture`: its gap on styled *real* test "
    "images lies in the 0.25-0.40 range aimed at (the generator's samples lose a little more), "
    "and in the image grid the garments stay easy to read. `blur` is in the range too but "
    "erases the details a person needs to tell a shirt from a pullover or a coat; `sketch` "
    "and `negative` are far stronger (gap > 0.6). The texture's strength (contrast 0.6, "
    "stripe amplitude 0.2, period 6) was tuned by hand on seed-0 classifiers among a dozen "
    "variants (stripes on the background only, other contrasts and amplitudes, period 4, "
    "blur + gamma, blur + stripes, outlines: gaps 0.06-0.65), also under a stronger judge "
    "(1000 rows per class, 700 steps, real test accuracy 0.853): there this style kept a gap "
    "of 0.33, while the milder 0.7 x + 0.15 s fell from 0.29 to 0.20 "
    "(`domain_gap_stronger_judge.md`). The seeds above re-measure the chosen settings."
)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def balanced_rows(y, per_class, seed, stop=FASHION_MNIST_POOL_START):
    """``per_class`` random training rows of every class among rows ``< stop``."""
    perm = np.random.RandomState(seed).permutation(stop)
    return np.sort(np.concatenate([perm[y[perm] == c][:per_class] for c in np.unique(y)]))


def train_classifier(X, y, *, steps, seed, batch_size=128):
    from synaug_learn.nets import MixupNetClassifier

    epochs = max(1, round(steps * batch_size / len(y)))
    clf = MixupNetClassifier("small_cnn", mixup_alpha=0.0, max_epochs=epochs,
                             batch_size=batch_size, lr=0.05, random_state=seed)
    return clf.fit(X, y), epochs


def recall(clf, X, y):
    pred = np.asarray(clf.predict(X))
    return float(np.mean(pred == y)), [float(np.mean(pred[y == c] == c)) for c in range(10)]


def generate(folder, n_per_class, overrides, X_fit, y_fit, seed=0):
    from synaug_learn.generators import ConditionalDiffusionGenerator

    gen = ConditionalDiffusionGenerator.from_pretrained(folder, **overrides).fit(X_fit, y_fit)
    start = time.time()
    X, y, _ = gen.generate({(c, None): n_per_class for c in range(10)}, random_state=seed)
    sampling = {k: getattr(gen, k) for k in ("scheduler", "num_inference_steps",
                                              "guidance_scale")}
    return np.asarray(X), np.asarray(y), time.time() - start, sampling


def write_grid(path, rows, per_class=2):
    """One row of ``per_class`` images per class for each ``(name, X, y)`` in ``rows``."""
    from PIL import Image

    strips = []
    for _, X, y in rows:
        idx = np.concatenate([np.flatnonzero(y == c)[:per_class] for c in range(10)])
        strips.append(np.concatenate(list(X[idx]), axis=1))
    grid = np.concatenate(strips, axis=0)
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(path)


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--train-per-class", type=int, default=500,
                   help="real training rows per class (< 50000) for each classifier")
    p.add_argument("--train-steps", type=int, default=400, help="optimiser steps, batch 128")
    p.add_argument("--styles", nargs="+", default=list(IMAGE_STYLES), choices=list(IMAGE_STYLES))
    p.add_argument("--generator", type=Path, default=None,
                   help="a saved generator folder: also score its samples")
    p.add_argument("--n-per-class", type=int, default=100)
    p.add_argument("--scheduler", default=None)
    p.add_argument("--num-inference-steps", type=int, default=None)
    p.add_argument("--guidance-scale", type=float, default=None)
    p.add_argument("--test-rows", type=int, default=None, help="use a stratified subset")
    p.add_argument("--grid", action="store_true", help="write NAME.png next to the results")
    p.add_argument("--name", default="domain_gap")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--render", action="store_true",
                   help="re-write NAME.md from the existing NAME.json")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1 seed, 60 rows per class, 30 steps, 500 test rows")
    return p


def generated_rows(args, X, y):
    """``(X_gen, y_gen, info)``: ``--n-per-class`` samples of ``--generator`` per class."""
    overrides = {k: v for k, v in {"scheduler": args.scheduler,
                                   "num_inference_steps": args.num_inference_steps,
                                   "guidance_scale": args.guidance_scale}.items()
                 if v is not None}
    fit_rows = balanced_rows(y, 2, 0)
    X_gen, y_gen, wall, sampling = generate(args.generator, args.n_per_class, overrides,
                                            X[fit_rows], y[fit_rows])
    training_json = args.generator / "training.json"
    training = json.loads(training_json.read_text()) if training_json.is_file() else {}
    info = {"path": str(args.generator), "style": training.get("style"),
            "steps": training.get("steps"), "n_per_class": args.n_per_class,
            "random_state": 0, "sampling": sampling, "generation_wall_s": round(wall, 1)}
    log(f"generated {len(y_gen)} images from {args.generator} in {wall:.0f} s "
        f"({sampling}); style {info['style']!r}")
    return X_gen, y_gen, info


def score_seeds(args, X, y, evaluated):
    """Per seed, a classifier trained on real rows scores every evaluated set:
    ``(scores, per_class, walls, epochs)``, lists by seed under each set's name."""
    scores = {name: [] for name in evaluated}
    per_class = {name: [] for name in evaluated}
    walls, epochs = [], None
    for seed in args.seeds:
        start = time.time()
        rows = balanced_rows(y, args.train_per_class, seed)
        clf, epochs = train_classifier(X[rows], y[rows], steps=args.train_steps, seed=seed)
        for name, (Xe, ye) in evaluated.items():
            acc, rec = recall(clf, Xe, ye)
            scores[name].append(acc)
            per_class[name].append(rec)
        walls.append(time.time() - start)
        log(f"seed {seed}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in scores.items()))
    return scores, per_class, walls, epochs


def result_rows(args, evaluated, scores, per_class, walls):
    """One results row per evaluated set, its gap to the real test set paired over seeds."""
    rows = []
    for name in evaluated:
        metrics = {"accuracy": summarize(scores[name])}
        if name != "real_test":
            gap = paired_difference(scores["real_test"], scores[name])
            metrics["gap_vs_real_test"] = {**gap, "unit": "accuracy(real_test) - accuracy(row)"}
        metrics["per_class_recall"] = {
            "mean": float(np.mean(per_class[name])),
            "per_class": {FASHION_MNIST_CLASSES[c]: float(np.mean([r[c] for r in per_class[name]]))
                          for c in range(10)}}
        style = name.removeprefix("styled_test_") if name.startswith("styled_") else None
        rows.append({"method": name, "metrics": metrics,
                     "description": (IMAGE_STYLES[style] if style else
                                     "real test images" if name == "real_test" else
                                     f"samples of {args.generator}"),
                     "n_images": int(len(evaluated[name][1])),
                     "wall_s": round(float(np.mean(walls)), 1)})
    return rows


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.render:
        result = json.loads((args.out / f"{args.name}.json").read_text())
        (args.out / f"{args.name}.md").write_text(render(result))
        return result
    if args.quick:
        args.seeds, args.train_per_class, args.train_steps = args.seeds[:1], 60, 30
        args.test_rows = args.test_rows or 500
        args.n_per_class = min(args.n_per_class, 4)
    import torch

    torch.set_num_threads(args.threads)
    revision = git_revision()
    start_all = time.time()
    X, y = load_fashion_mnist("train")
    X_test, y_test = load_fashion_mnist("test")
    if args.test_rows:
        keep = balanced_rows(y_test, args.test_rows // 10, 0, stop=len(y_test))
        X_test, y_test = X_test[keep], y_test[keep]
    evaluated = {"real_test": (X_test, y_test)}
    for style in args.styles:
        evaluated[f"styled_test_{style}"] = (stylize_images(X_test, style), y_test)
    gen_info = None
    if args.generator is not None:
        X_gen, y_gen, gen_info = generated_rows(args, X, y)
        evaluated["generated"] = (X_gen, y_gen)
    scores, per_class, walls, epochs = score_seeds(args, X, y, evaluated)

    result = {
        "benchmark": args.name,
        "command": command(argv),
        "date": utc_now(),
        "git_revision": revision,
        "machine": machine(),
        "versions": versions(("diffusers", "scikit-learn")),
        "config": {"dataset": "fashion_mnist", "classifier": "small_cnn via MixupNetClassifier "
                   "(mixup_alpha=0, SGD lr 0.05, cosine, batch 128)",
                   "train_rows": f"{args.train_per_class} per class, random (seed) among "
                                 f"training rows < {FASHION_MNIST_POOL_START}",
                   "train_steps": args.train_steps, "epochs": epochs,
                   "test_rows": int(len(y_test)), "styles": args.styles,
                   "generator": gen_info, "quick": args.quick, "choice": CHOICE,
                   "wall_s_total": round(time.time() - start_all, 1)},
        "seeds": args.seeds,
        "rows": result_rows(args, evaluated, scores, per_class, walls),
    }
    if args.grid:
        args.out.mkdir(parents=True, exist_ok=True)
        write_grid(args.out / f"{args.name}.png",
                   [(n, Xe, ye) for n, (Xe, ye) in evaluated.items()])
        result["config"]["grid"] = f"{args.name}.png: rows " + ", ".join(evaluated)
    write_results(result, render, out=args.out)
    log(f"wrote {args.out / args.name}.json and .md")
    return result


def _f(v):
    return f"{v:.3f}"


def render(result):
    cfg = result["config"]
    lines = [
        "# Domain gap: how often a CNN trained on real images recognises other images",
        "",
        f"`{result['command']}` — {result['date']}, git {result['git_revision']}",
        "",
        f"Classifier: {cfg['classifier']}, {cfg['train_steps']} optimiser steps "
        f"({cfg['epochs']} epochs) on {cfg['train_rows']}; one classifier per seed "
        f"({', '.join(map(str, result['seeds']))}); {cfg['test_rows']} real test images. "
        "Gap = accuracy on the real test images − accuracy on the row's images, per seed.",
        "",
        "| row | what | accuracy | gap vs real test (per seed) |",
        "|---|---|---|---|",
    ]
    for row in result["rows"]:
        m = row["metrics"]
        acc = f"{_f(m['accuracy']['mean'])} ± {_f(m['accuracy']['std'])}"
        gap = m.get("gap_vs_real_test")
        gap_s = (f"**{_f(gap['mean'])}** ({', '.join(_f(v) for v in gap['values'])})"
                 if gap else "—")
        lines.append(f"| `{row['method']}` | {row['description']} | {acc} | {gap_s} |")
    gen = cfg.get("generator")
    if gen:
        lines += ["", f"Generator: `{gen['path']}` (style {gen['style']!r}, "
                  f"{gen['steps']} training steps), {gen['n_per_class']} images per class, "
                  f"random_state 0, sampling {gen['sampling']}, "
                  f"{gen['generation_wall_s']} s to generate. The goal for a domain-shifted "
                  "generator is a gap of at least 0.15 on its samples."]
    lines += ["", "Per-class recall (mean over seeds):", "",
              "| row | " + " | ".join(FASHION_MNIST_CLASSES) + " |",
              "|---|" + "---|" * 10]
    for row in result["rows"]:
        pc = row["metrics"]["per_class_recall"]["per_class"]
        lines.append(f"| `{row['method']}` | " + " | ".join(_f(pc[c]) for c in
                                                            FASHION_MNIST_CLASSES) + " |")
    if cfg.get("grid"):
        lines += ["", f"Images: `{cfg['grid']}` (two per class, one row each)."]
    if cfg.get("choice") and not gen:
        lines += ["", "**Choice.** " + cfg["choice"]]
    lines += ["", *machine_lines(result, "timings depend on the load"), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
