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

**A domain-shifted generator**: ``--style NAME`` renders the same
pool with :func:`synaug_learn.datasets.stylize_images` before training, trains
for exactly ``--steps`` steps (no time limit, so the run is reproducible), and
writes ``synaug_learn/pretrained/fashion-mnist-small-shifted/`` with a
``training.json`` that records the style and a model card (``README.md``) whose
"Measured domain gap" section waits for ``benchmarks/domain_gap.py``::

    python scripts/pretrain_generator.py --style texture --steps 3600 --threads 1 \
        > pretrain_shifted.log 2>&1 &
    python benchmarks/domain_gap.py --grid --name domain_gap_shifted \
        --generator synaug_learn/pretrained/fashion-mnist-small-shifted

**A wider UNet**, to measure whether capacity closes the gap between generated and
real fills. On CPU: blocks 48 96 96, 2.25x the shipped model's parameters, with its
steps, learning rate, batch and seed (76 minutes on two threads; ``make
bench-long-tail-wide`` trains it and runs the long-tail benchmark with it; blocks 64
128 128 took 3.2 s a step on one thread against 1.9 s, too slow to train and
benchmark in one sitting)::

    python scripts/pretrain_generator.py --block-out-channels 48 96 96 --steps 4176 \
        --minutes 600 --threads 2 --out benchmarks/.work/fashion-mnist-wide48

and a GPU's (about 6x the shipped model's parameters)::

    python scripts/pretrain_generator.py --block-out-channels 64 128 128 \
        --layers-per-block 2 --batch-size 128 --lr 3e-4 --steps 30000 --device cuda \
        --out /tmp/fashion-mnist-wide
    python benchmarks/long_tail.py --validation 0.2 --device cuda --scheduler dpm++ \
        --pretrained /tmp/fashion-mnist-wide --name long_tail_wide

No ``class_means.safetensors`` is written for a styled model, so
``SynAugSampler()`` without a generator never picks it for real data.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from synaug_learn.datasets import (
    FASHION_MNIST_CLASSES,
    IMAGE_STYLES,
    fashion_mnist_pool,
    stylize_images,
)
from synaug_learn.datasets import (
    FASHION_MNIST_POOL_START as POOL_START,
)
from synaug_learn.generators import ConditionalDiffusionGenerator

PRETRAINED = Path(__file__).resolve().parent.parent / "synaug_learn" / "pretrained"
OUT = PRETRAINED / "fashion-mnist-small"
OUT_SHIFTED = PRETRAINED / "fashion-mnist-small-shifted"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=900)
    parser.add_argument("--steps", type=int, default=None,
                        help="optimiser steps (default 20000, capped by --minutes; with "
                             "--style: 3600 and no time limit)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="wall-clock cap (default 45; with --style none: a fixed step "
                             "count is what makes the run reproducible)")
    parser.add_argument("--style", choices=sorted(IMAGE_STYLES), default=None,
                        help="render the pool in this style first (stylize_images): the "
                             "domain-shifted generator")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--block-out-channels", type=int, nargs="+", default=[32, 64, 64],
                        help="UNet channels per resolution level (the shipped generators': "
                             "32 64 64); a wider UNet needs a GPU to train in minutes")
    parser.add_argument("--layers-per-block", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads; 1 is robust when other jobs share the CPU")
    parser.add_argument("--resume", type=Path, default=None,
                        help="continue training a saved generator for --steps more steps")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"default {OUT}, or {OUT_SHIFTED} with --style")
    args = parser.parse_args(argv)
    if args.steps is None:
        args.steps = 3600 if args.style else 20_000
    if args.minutes is None and not args.style:
        args.minutes = 45.0
    if args.out is None:
        args.out = OUT_SHIFTED if args.style else OUT
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    X, y = fashion_mnist_pool(args.per_class)
    print(f"pool: {len(X)} images from training rows >= {POOL_START}, "
          f"{np.bincount(y).tolist()} per class", flush=True)
    if args.style:
        X = stylize_images(X, args.style)
        print(f"style {args.style!r}: {IMAGE_STYLES[args.style]}", flush=True)
    if args.resume:  # same data and loss, starting from the saved (EMA) weights
        gen = ConditionalDiffusionGenerator(
            pretrained=args.resume, fine_tune=args.steps, fine_tune_lr=args.lr,
            max_minutes=args.minutes, batch_size=args.batch_size, random_state=args.seed + 1,
            device=args.device, verbose=1,
        )
    else:
        gen = ConditionalDiffusionGenerator(
            block_out_channels=tuple(args.block_out_channels),
            layers_per_block=args.layers_per_block, max_steps=args.steps,
            max_minutes=args.minutes, learning_rate=args.lr, batch_size=args.batch_size,
            random_state=args.seed, device=args.device, verbose=1,
        )
    start = time.time()
    gen.fit(X, y)
    minutes = (time.time() - start) / 60
    gen.save_pretrained(args.out)
    training = training_record(args, gen, len(X), minutes)
    (args.out / "training.json").write_text(json.dumps(training, indent=2))
    if args.style:
        (args.out / "README.md").write_text(shifted_card(training, gen, args.out))
    print(json.dumps(training, indent=2), flush=True)


def training_record(args, gen, n_images, minutes):
    """What ``training.json`` records of a run: data, budget, seed, machine."""
    training = {
        "dataset": "Fashion-MNIST train split (Debian dataset-fashion-mnist)",
        "pool_rows": f"first {args.per_class} rows of each class among training rows "
                     f"{POOL_START}..59999",
        "disjoint_from": f"training rows 0..{POOL_START - 1} (all long-tailed splits) "
                         "and the whole test set",
        "n_images": int(n_images),
        "steps": int(gen.total_train_steps_),
        "batch_size": args.batch_size,
        "block_out_channels": list(args.block_out_channels),
        "layers_per_block": args.layers_per_block,
        "learning_rate": args.lr,
        "seed": args.seed,
        "resumed_from": str(args.resume) if args.resume else None,
        "device": args.device,
        "torch_threads": args.threads,
        "max_minutes": args.minutes,
        "minutes": round(minutes, 1),
        "class_names": list(FASHION_MNIST_CLASSES),
    }
    if args.style:
        training["style"] = args.style
        training["style_description"] = (f"synaug_learn.datasets.stylize_images(X, "
                                         f"{args.style!r}): {IMAGE_STYLES[args.style]}")
        training["training_data_sha256"] = gen.data_hash_
    return training


def shifted_card(training, gen, folder):
    """The model card of a styled (domain-shifted) generator; the gap is filled in later."""
    n_params = sum(p.numel() for p in gen.unet_.parameters()) / 1e6
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    size_mb = weights.stat().st_size / 1e6 if weights.is_file() else float("nan")
    style, data_hash = training["style"], training["training_data_sha256"]
    reproduce = (f"python scripts/pretrain_generator.py --style {style} "
                 f"--steps {training['steps']} --seed {training['seed']} --threads 1")
    return f"""# `{folder.name}`: a Fashion-MNIST generator from another domain (style `{style}`)

The paper's condition, simulated honestly: SYNAuG's generator (Stable Diffusion)
knows the concepts but draws them in another domain than the classifier's data. This model
has seen the same disjoint pool as `fashion-mnist-small`, but every image was re-rendered in a
fixed style before training, so its samples show the right garments with another look.
Load it by name:

```python
from synaug_learn.generators import ConditionalDiffusionGenerator
gen = ConditionalDiffusionGenerator.from_pretrained("{folder.name}")
gen.fit(X_lt, y_lt)   # only checks classes (0-9) and image shape (28x28 grey); no training
```

## Training data

- {training["dataset"]}; pool: {training["pool_rows"]} — {training["n_images"]} images,
  balanced over the 10 classes (`fashion_mnist_pool({args_per_class(training)})`).
- Disjoint from: {training["disjoint_from"]}. Never saw the test set.
- **Style**: {training["style_description"]}. The function is deterministic (no randomness);
  `benchmarks/results/domain_gap.md` records why this style was chosen (its gap on styled
  *real* test images, and the other candidates').
- SHA-256 of the styled training arrays (`training_data_sha256`): `{data_hash}`.

## Files and integrity

- `unet/` (diffusers `UNet2DModel`, safetensors, {size_mb:.1f} MB) and `synaug_generator.json`
  (format, strata, sampling defaults) as written by `save_pretrained`, which records the SHA-256
  of every weights file (`sha256`); loading checks them and refuses a damaged or replaced file.
- No `class_means.safetensors`: `SynAugSampler()` without a generator never picks this model
  (it is meant for the domain-shift benchmark, chosen explicitly).

## Architecture and training

`UNet2DModel` at 28x28, 1 channel, block channels {list(gen.block_out_channels)}, class
embedding with an extra "no condition" row for classifier-free guidance; {n_params:.2f} M
parameters (the architecture of `fashion-mnist-small`). {training["steps"]} optimiser steps
(a fixed count, no time limit; AdamW, lr {training["learning_rate"]}, batch
{training["batch_size"]}, class-balanced batches, condition dropout 0.1, EMA 0.999 — the
weights are the EMA weights), seed {training["seed"]}, on {training["device"]} (torch threads
{training["torch_threads"]}) in {training["minutes"]} minutes.

## Measured domain gap

*To be filled after measuring* with

```
python benchmarks/domain_gap.py --grid --name domain_gap_shifted --generator {_rel(folder)}
```

(a small CNN trained on real training rows < 50000, 3 seeds: its accuracy on the real test
images minus its accuracy on 100 generated images per class; the goal is at least 0.15,
with the samples still readable by a person — look at `benchmarks/results/domain_gap_shifted.png`).

| | accuracy | gap vs real test |
|---|---|---|
| real test images | TBD | — |
| styled real test images (`{style}`) | TBD | TBD |
| this generator's samples | TBD | TBD |

## Intended use and limitations

- The domain-shift benchmark (`benchmarks/results/long_tail_domain_shift.md`): filling the
  deficits of long-tailed Fashion-MNIST splits (training rows < 50000) with images of another
  style, to measure the paper's remedies (real↔generated Mixup, head re-training on real rows,
  two-stage training). It is not a better generator for real Fashion-MNIST: use
  `fashion-mnist-small` for that.
- 28x28 grey images, the 10 Fashion-MNIST classes (labels 0-9) only.
- Fashion-MNIST is © Zalando SE, MIT licence.

## Reproduce

```
{reproduce}
```
"""


def args_per_class(training):
    return training["n_images"] // len(training["class_names"])


def _rel(folder):
    try:
        return Path(folder).resolve().relative_to(PRETRAINED.parent.parent).as_posix()
    except ValueError:
        return str(folder)


if __name__ == "__main__":
    main()
