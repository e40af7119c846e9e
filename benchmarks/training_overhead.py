"""What MixupNetClassifier's skorch machinery and mixing cost per epoch, against a plain torch loop.

Same module (``SmallCNN``), data (Fashion-MNIST training images, 28x28 uint8),
batch size, optimizer (SGD, momentum 0.9, weight decay 5e-4, lr 0.05) and
cosine schedule for every row; the hand-written loop converts the images to a
float tensor once and slices shuffled batches from it, the fastest plain way.
Rows:

* ``torch_loop`` / ``torch_loop_mixup``: hand-written loops, without and with
  Mixup (alpha 1) -- the baselines.
* ``mixupnet_nomix``: ``MixupNetClassifier(mixup_alpha=0)``;
  ``mixupnet_mixup``: ``mixup_alpha=1`` (the default);
  ``mixupnet_cutmix_flipcrop``: ``cutmix_alpha=1`` and ``augment="flip_crop"``.

Each repeat trains every row for ``--epochs`` epochs, rows interleaved so that
load changes on a shared machine hit all rows alike; the first epoch of every
fit is a warm-up and is not counted. Epochs are timed in wall-clock and in
process CPU time; with one torch thread (the default) CPU time measures the
work done even when other jobs share the machine, so the ratios use it.
``ratio_vs_torch_loop`` divides a row's mean epoch CPU time by that of
``torch_loop``; ``ratio_vs_baseline`` by that of its own baseline
(``torch_loop_mixup`` for the mixing rows).

Run: ``python benchmarks/training_overhead.py`` (about two minutes on 2 CPU
cores); writes ``benchmarks/results/training_overhead.{md,json}``.
"""

from __future__ import annotations

import argparse
import gzip
import time
from pathlib import Path

import numpy as np
import torch
from _results import (
    RESULTS,
    command,
    machine,
    machine_lines,
    utc_now,
    versions,
    write_results,
)

NAME = "training_overhead"


def load_images(n, seed):
    """``n`` Fashion-MNIST training images (uint8, 28x28) and labels; random ones if absent."""
    try:
        from synaug_learn.datasets import load_fashion_mnist

        X, y = load_fashion_mnist(subset="train")
        source = "fashion_mnist"
    except Exception:  # the loader may not exist yet, or the files may be missing
        root = Path("/usr/share/datasets/fashion-mnist")
        try:
            with gzip.open(root / "train-images-idx3-ubyte.gz") as f:
                X = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
            with gzip.open(root / "train-labels-idx1-ubyte.gz") as f:
                y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
            source = "fashion_mnist"
        except OSError:
            rng = np.random.RandomState(seed)
            X = rng.randint(0, 256, (n, 28, 28), dtype=np.uint8)
            y = rng.randint(0, 10, n)
            source = "random_uint8"
    idx = np.random.RandomState(seed).choice(len(X), n, replace=False)
    return X[idx], y[idx], source


def torch_loop(X, y, *, epochs, batch_size, lr, seed, mixup_alpha=0.0):
    """The plain loop: convert once, shuffle, slice batches, optional Mixup."""
    from synaug_learn.nets import SmallCNN

    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    x = torch.from_numpy(X.astype(np.float32)[:, None] / 127.5 - 1.0)
    t = torch.from_numpy(y.astype(np.int64))
    model = SmallCNN(in_channels=1, num_classes=10)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loss_fn = torch.nn.CrossEntropyLoss()
    times = []
    for _ in range(epochs):
        start, cpu = time.perf_counter(), time.process_time()
        model.train()
        order = torch.randperm(len(x))
        for i in range(0, len(x), batch_size):
            b = order[i:i + batch_size]
            xb, yb = x[b], t[b]
            opt.zero_grad()
            if mixup_alpha > 0:
                lam = float(rng.beta(mixup_alpha, mixup_alpha))
                perm = torch.from_numpy(rng.permutation(len(b)))
                out = model(lam * xb + (1 - lam) * xb[perm])
                loss = lam * loss_fn(out, yb) + (1 - lam) * loss_fn(out, yb[perm])
            else:
                loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        sched.step()
        times.append((time.perf_counter() - start, time.process_time() - cpu))
    return times


def mixupnet(X, y, *, epochs, batch_size, lr, seed, **params):
    from skorch.callbacks import Callback

    from synaug_learn.nets import MixupNetClassifier

    class EpochClock(Callback):
        """Wall and process CPU time of each epoch, like skorch's EpochTimer."""

        def on_epoch_begin(self, net, **kwargs):
            self.start_ = (time.perf_counter(), time.process_time())

        def on_epoch_end(self, net, **kwargs):
            wall, cpu = self.start_
            net.history.record("clock", (time.perf_counter() - wall, time.process_time() - cpu))

    net = MixupNetClassifier(
        "small_cnn", max_epochs=epochs, batch_size=batch_size, lr=lr, random_state=seed,
        callbacks=[("clock", EpochClock())], **params,
    )
    net.fit(X, y)
    return [tuple(t) for t in net.history[:, "clock"]]


ROWS = {
    "torch_loop": (torch_loop, {}),
    "torch_loop_mixup": (torch_loop, {"mixup_alpha": 1.0}),
    "mixupnet_nomix": (mixupnet, {"mixup_alpha": 0.0}),
    "mixupnet_mixup": (mixupnet, {"mixup_alpha": 1.0}),
    "mixupnet_cutmix_flipcrop": (
        mixupnet, {"mixup_alpha": 0.0, "cutmix_alpha": 1.0, "augment": "flip_crop"}
    ),
}
BASELINE = {
    "torch_loop": "torch_loop",
    "torch_loop_mixup": "torch_loop",
    "mixupnet_nomix": "torch_loop",
    "mixupnet_mixup": "torch_loop_mixup",
    "mixupnet_cutmix_flipcrop": "torch_loop_mixup",
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-images", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=4, help="per fit; the first is warm-up")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: steadier timings on a shared machine; 0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    X, y, source = load_images(args.n_images, args.seed)
    lr = 0.05
    epoch_times = {name: [] for name in ROWS}  # (wall, cpu) per timed epoch
    wall = {name: 0.0 for name in ROWS}
    started = time.time()
    for rep in range(args.repeats):
        for name, (fn, params) in ROWS.items():
            t0 = time.perf_counter()
            times = fn(X, y, epochs=args.epochs, batch_size=args.batch_size, lr=lr,
                       seed=args.seed + rep, **params)
            wall[name] += time.perf_counter() - t0
            epoch_times[name].extend(times[1:])
            print(f"repeat {rep} {name:26s} wall/cpu s: "
                  + " ".join(f"{w:.2f}/{c:.2f}" for w, c in times), flush=True)

    wall_t = {name: np.array([t[0] for t in ts]) for name, ts in epoch_times.items()}
    cpu_t = {name: np.array([t[1] for t in ts]) for name, ts in epoch_times.items()}
    cpu_mean = {name: float(t.mean()) for name, t in cpu_t.items()}
    rows = []
    for name, times in epoch_times.items():
        base = BASELINE[name]
        w, c = wall_t[name], cpu_t[name]
        rows.append({
            "method": name,
            "metrics": {
                "epoch_s": {"mean": float(w.mean()), "std": float(w.std()),
                            "median": float(np.median(w)), "unit": "s (wall clock)"},
                "epoch_cpu_s": {"mean": float(c.mean()), "std": float(c.std()),
                                "median": float(np.median(c)), "unit": "s (process CPU time)"},
                "images_per_cpu_s": {"mean": args.n_images / cpu_mean[name],
                                     "unit": "images per CPU second"},
                "ratio_vs_torch_loop": {"mean": cpu_mean[name] / cpu_mean["torch_loop"],
                                        "unit": "ratio of mean epoch CPU time"},
                "ratio_vs_baseline": {"mean": cpu_mean[name] / cpu_mean[base],
                                      "unit": "ratio of mean epoch CPU time",
                                      "baseline": base},
            },
            "n_epochs_timed": len(times),
            "wall_s": round(wall[name], 2),
        })

    result = {
        "benchmark": NAME,
        "command": command(argv),
        "date": utc_now(),
        "machine": machine(),
        "versions": versions(),
        "config": {
            "dataset": source,
            "n_images": args.n_images,
            "image_shape": [28, 28],
            "module": "small_cnn",
            "batch_size": args.batch_size,
            "optimizer": "SGD(lr=0.05, momentum=0.9, weight_decay=5e-4), cosine over the fit",
            "epochs_per_fit": args.epochs,
            "warmup_epochs_dropped": 1,
            "repeats": args.repeats,
            "device": "cpu",
        },
        "seeds": [args.seed + r for r in range(args.repeats)],
        "rows": rows,
        "total_wall_s": round(time.time() - started, 1),
    }
    write_results(result, markdown(result), args.out)
    print(markdown(result))
    return result


def markdown(result):
    c = result["config"]
    lines = [
        "# Training overhead: MixupNetClassifier vs a hand-written torch loop",
        "",
        f"`{result['command']}` — {result['date']}",
        "",
        *machine_lines(result, "the machine is shared: absolute times are noisy, ratios less so"),
        "",
        f"Config: {c['n_images']} {c['dataset']} images 28x28 (uint8), `{c['module']}`, "
        f"batch {c['batch_size']}, {c['optimizer']}; {c['repeats']} fits of "
        f"{c['epochs_per_fit']} epochs per row, first epoch of each fit dropped, rows "
        f"interleaved; seeds {result['seeds']}.",
        "",
        "| method | epoch wall (s) | epoch CPU (s) | images / CPU s | ratio vs its baseline "
        "| ratio vs `torch_loop` |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        mt = row["metrics"]
        own = mt["ratio_vs_baseline"]
        lines.append(
            f"| `{row['method']}` | {mt['epoch_s']['mean']:.3f} ± {mt['epoch_s']['std']:.3f} "
            f"| {mt['epoch_cpu_s']['mean']:.3f} ± {mt['epoch_cpu_s']['std']:.3f} "
            f"| {mt['images_per_cpu_s']['mean']:.0f} | {own['mean']:.2f} (`{own['baseline']}`) "
            f"| {mt['ratio_vs_torch_loop']['mean']:.2f} |"
        )
    lines += [
        "",
        "`torch_loop` / `torch_loop_mixup` are the baselines (same module, data, optimizer, "
        "schedule; images converted to a float tensor once). The Mixup rows are compared "
        "with `torch_loop_mixup`, the others with `torch_loop`. Ratios use process CPU time "
        "(with one torch thread it measures the work done, whatever else runs on the "
        "machine); wall-clock times are reported too.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
