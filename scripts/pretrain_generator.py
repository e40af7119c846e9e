"""Pretrain the Fashion-MNIST generator shipped with the package.

The generator stands in for "a model that has seen the concepts elsewhere":
it is trained on a balanced pool of Fashion-MNIST *training* images that is
disjoint from every long-tailed split the demo and the benchmarks draw
(those come from training rows ``[0, POOL_START)``; the pool from
``[POOL_START, 60000)``), and it never sees the test set.

Usage (CPU, in the background; a GPU shortens it a lot)::

    python scripts/pretrain_generator.py --minutes 45 > pretrain.log 2>&1 &
    python benchmarks/generator_quality.py --datasets fashion \
        --model-card synaug_learn/pretrained/fashion-mnist-small   # evaluates, writes the card

The weights land in ``synaug_learn/pretrained/fashion-mnist-small/``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from synaug_learn.datasets import (
    FASHION_MNIST_CLASSES,
    fashion_mnist_pool,
)
from synaug_learn.datasets import (
    FASHION_MNIST_POOL_START as POOL_START,
)
from synaug_learn.generators import ConditionalDiffusionGenerator

OUT = Path(__file__).resolve().parent.parent / "synaug_learn" / "pretrained" / "fashion-mnist-small"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=900)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--minutes", type=float, default=45.0)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads; 1 is robust when other jobs share the CPU")
    parser.add_argument("--resume", type=Path, default=None,
                        help="continue training a saved generator for --steps more steps")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    X, y = fashion_mnist_pool(args.per_class)
    print(f"pool: {len(X)} images from training rows >= {POOL_START}, "
          f"{np.bincount(y).tolist()} per class", flush=True)
    if args.resume:  # same data and loss, starting from the saved (EMA) weights
        gen = ConditionalDiffusionGenerator(
            pretrained=args.resume, fine_tune=args.steps, fine_tune_lr=args.lr,
            max_minutes=args.minutes, batch_size=64, random_state=args.seed + 1,
            device=args.device, verbose=1,
        )
    else:
        gen = ConditionalDiffusionGenerator(
            block_out_channels=(32, 64, 64), max_steps=args.steps, max_minutes=args.minutes,
            learning_rate=args.lr, batch_size=64, random_state=args.seed, device=args.device,
            verbose=1,
        )
    start = time.time()
    gen.fit(X, y)
    minutes = (time.time() - start) / 60
    gen.save_pretrained(args.out)
    training = {
        "dataset": "Fashion-MNIST train split (Debian dataset-fashion-mnist)",
        "pool_rows": f"first {args.per_class} rows of each class among training rows "
                     f"{POOL_START}..59999",
        "disjoint_from": f"training rows 0..{POOL_START - 1} (all long-tailed splits) "
                         "and the whole test set",
        "n_images": int(len(X)),
        "steps": int(gen.total_train_steps_),
        "batch_size": 64,
        "learning_rate": args.lr,
        "seed": args.seed,
        "resumed_from": str(args.resume) if args.resume else None,
        "device": args.device,
        "minutes": round(minutes, 1),
        "class_names": list(FASHION_MNIST_CLASSES),
    }
    (args.out / "training.json").write_text(json.dumps(training, indent=2))
    print(json.dumps(training, indent=2), flush=True)


if __name__ == "__main__":
    main()
