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

    python benchmarks/long_tail.py                 # ~1 h on 2 CPU cores
    python benchmarks/long_tail.py --quick         # a few minutes, smoke run
    python benchmarks/long_tail.py --full --device cuda   # the paper's scale, on a GPU
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import (  # noqa: E402
    command,
    git_revision,
    machine,
    paired_difference,
    summarize,
    utc_now,
    versions,
    write_results,
)

from synaug_learn.datasets import (  # noqa: E402
    FASHION_MNIST_POOL_START,
    load_fashion_mnist,
    load_fashion_mnist_lt,
)
from synaug_learn.generators import ConditionalDiffusionGenerator  # noqa: E402
from synaug_learn.recipes import METHODS, evaluate, make_recipe  # noqa: E402

# Candidates for "the strongest peer": recipes that use no generator and no extra real data.
GENERATOR_FREE = ["ce", "ros", "smote", "class_weighted_ce", "balanced_softmax", "crt",
                  "ros_mixup", "balanced_softmax_mixup"]
ORDER = [
    "ce", "ros", "smote", "class_weighted_ce", "balanced_softmax", "crt", "ros_mixup",
    "balanced_softmax_mixup", "synaug_indomain", "synaug_indomain_mixup",
    "synaug_indomain_mixup_retrain", "synaug_pretrained", "synaug_pretrained_mixup",
    "synaug_pretrained_mixup_retrain", "synaug_pretrained_mixup_retrain_resampled",
    "synaug_pretrained_balanced_softmax_mixup", "synthetic_only", "real_fill", "oracle",
]
METRICS = ("balanced_accuracy", "many", "medium", "few")


def run_seed(seed, args, log):
    """All methods on one seed's long-tailed split; returns {method: metrics}."""
    data = load_fashion_mnist_lt(args.imbalance_factor, n_max=args.n_max,
                                 pool_per_class=args.n_max,
                                 pool_start=FASHION_MNIST_POOL_START, random_state=seed)
    # Flat rows for every method: imblearn's ROS and SMOTE take 2-D input only; the net and
    # the generator read 784-feature rows as 28x28 images.
    flat = {k: data[k].reshape(len(data[k]), -1) for k in ("X_train", "X_test", "X_pool")}
    X_lt, y_lt, X_test = flat["X_train"], data.y_train, flat["X_test"]
    counts = dict(sorted(Counter(y_lt.tolist()).items()))
    # The oracle's balanced real rows come from outside both the split and the pool.
    X_all, y_all = load_fashion_mnist("train")
    rng = np.random.RandomState(seed)
    lt_bytes = {r.tobytes() for r in X_lt}
    outside = np.array([i for i in rng.permutation(FASHION_MNIST_POOL_START)
                        if X_all[i].tobytes() not in lt_bytes])
    pools = {"real_fill": (flat["X_pool"], data.y_pool),
             "oracle": (X_all[outside].reshape(len(outside), -1), y_all[outside])}
    sampling = {"num_inference_steps": args.steps, "guidance_scale": args.guidance}
    generators = {"pretrained": ConditionalDiffusionGenerator.from_pretrained(
        "fashion-mnist-small", device=args.device, **sampling)}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        methods = [m for m in ORDER if m in args.methods]
        if any("indomain" in m for m in methods):
            t0 = time.time()
            indomain = ConditionalDiffusionGenerator(
                max_steps=args.indomain_steps, max_minutes=args.indomain_minutes,
                random_state=seed,
                device=args.device, **sampling).fit(X_lt, y_lt)
            indomain.save_pretrained(Path(tmp) / "indomain")
            # Loading the saved model keeps its training out of every recipe's fit.
            generators["indomain"] = ConditionalDiffusionGenerator.from_pretrained(
                Path(tmp) / "indomain", device=args.device, **sampling)
            results["_indomain_steps"] = int(indomain.n_train_steps_)
            log(f"  seed {seed}: in-domain generator trained {indomain.n_train_steps_} steps "
                f"in {time.time() - t0:.0f} s")
        for method in methods:
            t0 = time.time()
            est = make_recipe(method, class_counts=counts, n_target=max(counts.values()),
                              generators=generators, pools=pools,
                              net_params={"device": args.device}, train_steps=args.train_steps,
                              cache_dir=str(Path(tmp) / "bank"), random_state=seed)
            est.fit(X_lt, y_lt)
            metrics = evaluate(est, X_test, data.y_test, counts)
            metrics.pop("per_class")
            results[method] = {**metrics, "wall_s": time.time() - t0}
            log(f"  seed {seed}: {method:44s} bal.acc {metrics['balanced_accuracy']:.3f} "
                f"few {metrics['few']:.3f} ({results[method]['wall_s']:.0f} s)")
    return results, counts


def finalize(result):
    """Pick the strongest generator-free recipe and add paired differences against it."""
    rows = {r["method"]: r for r in result["rows"]}
    candidates = [m for m in GENERATOR_FREE if m in rows]
    if not candidates:
        return result
    peer = max(candidates, key=lambda m: rows[m]["metrics"]["balanced_accuracy"]["mean"])
    result["config"]["peer"] = peer
    base = rows[peer]["metrics"]["balanced_accuracy"]["values"]
    for method, row in rows.items():
        row.pop("paired_vs_peer", None)
        if method != peer:
            row["paired_vs_peer"] = paired_difference(
                row["metrics"]["balanced_accuracy"]["values"], base)
    return result


def _indomain_budget(cfg):
    # Runs before the step budget had a wall-clock budget only.
    if cfg.get("indomain_steps") is None:
        return f"{cfg['indomain_minutes']} CPU-minutes"
    cap = cfg.get("indomain_minutes")
    return f"{cfg['indomain_steps']} steps" + (f" (capped at {cap} minutes)" if cap else "")


def markdown(result):
    cfg = result["config"]
    lines = [
        "# Long-tail benchmark: Fashion-MNIST-LT",
        "",
        f"IF={cfg['imbalance_factor']}, n_max={cfg['n_max']} (training counts "
        f"{cfg['class_counts_seed0']}), {cfg['train_steps']} optimiser steps (batch 128) of "
        f"`{cfg['module']}` for every method, DDIM-{cfg['inference_steps']} with guidance "
        f"{cfg['guidance_scale']}; the in-domain generator trained "
        f"{_indomain_budget(cfg)} per seed "
        f"({cfg['indomain_train_steps_per_seed']} steps), the shipped one 4176 steps; "
        f"{len(result['seeds'])} seeds {result['seeds']}, real test set (10,000 images). "
        "Many > 100, few < 20 training images. Mean ± std over seeds; Δ is the paired "
        f"difference in balanced accuracy against `{cfg['peer']}`, the strongest generator-free "
        "recipe of this run (mean ± std, seeds better).",
        "",
        "| method | balanced acc | many | medium | few | Δ vs peer | wall s |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        m = row["metrics"]
        cells = [f"{m[k]['mean']:.3f} ± {m[k]['std']:.3f}" for k in METRICS]
        d = row.get("paired_vs_peer")
        delta = (f"{d['mean']:+.3f} ± {d['std']:.3f} ({d['n_better']}/{d['n_seeds']})"
                 if d else "—")
        lines.append(f"| `{row['method']}` | " + " | ".join(cells)
                     + f" | {delta} | {row['wall_s']:.0f} |")
    lines += ["", f"Command: `{result['command']}`; machine: {result['machine']}; "
              f"date {result['date']}.", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n-max", type=int, default=300)
    parser.add_argument("--imbalance-factor", type=float, default=100)
    parser.add_argument("--train-steps", type=int, default=350,
                        help="optimiser steps of every method (epochs follow from its rows)")
    parser.add_argument("--steps", type=int, default=10, help="DDIM steps when generating")
    parser.add_argument("--guidance", type=float, default=1.5)
    parser.add_argument("--indomain-steps", type=int, default=440,
                        help="in-domain generator training steps per seed (about 4 CPU-minutes)")
    parser.add_argument("--indomain-minutes", type=float, default=None,
                        help="optional wall-clock cap on the in-domain generator's training")
    parser.add_argument("--methods", nargs="*", default=ORDER, choices=sorted(METHODS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="1 seed, tiny sizes: a smoke run")
    parser.add_argument("--full", action="store_true",
                        help="the paper's scale (n_max=6000 is not possible here: rows < 50000 "
                             "hold ~4950 per class, so n_max=4500), 6000 steps, DDIM-25: a GPU run")
    parser.add_argument("--name", default="long_tail")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--from-json", type=Path, default=None,
                        help="re-render the markdown (and peer comparison) of a results json")
    args = parser.parse_args(argv)
    if args.from_json:
        import json

        result = finalize(json.loads(args.from_json.read_text()))
        return write_results(result, markdown(result), out=args.out or args.from_json.parent)
    if args.quick:
        args.seeds, args.n_max, args.train_steps, args.indomain_steps = 1, 100, 20, 30
        args.imbalance_factor = 20  # keeps >= 5 rows in the tail, which SMOTE needs
        args.name = args.name if args.name != "long_tail" else "long_tail_quick"
    if args.full:
        args.n_max, args.train_steps, args.steps = 4500, 6000, 25
        args.indomain_steps = max(args.indomain_steps, 4000)  # the shipped model's budget
        args.name = args.name if args.name != "long_tail" else "long_tail_full"

    import torch

    torch.set_num_threads(args.threads)
    start, revision = time.time(), git_revision()  # the code that runs, not the code at the end

    def log(msg):
        print(f"[{time.time() - start:6.0f} s] {msg}", flush=True)

    seeds = list(range(args.seeds))
    per_seed, counts0 = {}, None
    for seed in seeds:
        per_seed[seed], counts = run_seed(seed, args, log)
        counts0 = counts0 or counts
    indomain_steps = [per_seed[s].pop("_indomain_steps", None) for s in seeds]
    methods = [m for m in ORDER if m in per_seed[seeds[0]]]
    rows = []
    for method in methods:
        row = {"method": method, "description": METHODS[method], "metrics": {
            k: summarize([per_seed[s][method][k] for s in seeds]) for k in METRICS},
            "wall_s": float(np.mean([per_seed[s][method]["wall_s"] for s in seeds]))}
        rows.append(row)
    result = {
        "benchmark": args.name,
        "command": command(argv),
        "date": utc_now(),
        "machine": machine(),
        "versions": {**versions(), "git": revision},
        "config": {"dataset": "fashion_mnist_lt", "imbalance_factor": args.imbalance_factor,
                   "n_max": args.n_max, "train_steps": args.train_steps, "batch_size": 128,
                   "module": "small_cnn",
                   "inference_steps": args.steps, "guidance_scale": args.guidance,
                   "indomain_steps": args.indomain_steps,
                   "indomain_minutes": args.indomain_minutes,
                   "indomain_train_steps_per_seed": indomain_steps,
                   "pretrained_generator": "fashion-mnist-small",
                   "class_counts_seed0": list(counts0.values()), "device": args.device,
                   "wall_s_total": round(time.time() - start, 1)},
        "seeds": seeds,
        "rows": rows,
    }
    result = finalize(result)
    paths = write_results(result, markdown(result), **({"out": args.out} if args.out else {}))
    log(f"wrote {paths}")
    return result


if __name__ == "__main__":
    main()
