"""Pretrain a factorised generator that has seen the group benchmark's attribute elsewhere.

``benchmarks/groups.py``'s ``*_unseen`` tasks have (class,
attribute) cells with no training rows; this script trains a
``ConditionalDiffusionGenerator(conditioning="factorized")`` (a class and an
attribute embedding) on a **pool** built so that only composition can fill
those cells:

* the attribute is rendered exactly as the benchmark task renders it (same
  image size, same code): ``spurious_colour`` -- the background colour of
  :func:`synaug_learn.datasets.make_spurious_colour` with the task's two
  colours; ``fairness`` -- the "washed-out capture" (pixel -> 96 + 0.625 *
  pixel when ``a = 1``) of the synthetic fairness task;
* the other eight Fashion-MNIST classes appear with **both** values of the
  attribute (half each), so the attribute varies independently of the class;
* the task's two classes appear **only in their majority cells**: the task's
  minority cells (``benchmarks/_groups_data.minority_cells`` on the task's
  training rows: (0, 1) and (1, 0)) get zero pool rows. Retrieving real pool
  images cannot fill them;
* every class has ``--per-class`` images, spread evenly over the attribute
  values allowed for it (an exact split, shuffled with ``--seed``).

**Rows.** Fashion-MNIST *training* rows ``>= 50000`` (the range of the shipped
``fashion-mnist-small`` pool; the long-tailed splits of ``benchmarks/
long_tail.py``, ``synaug demo``, ``domain_gap.py`` and ``generation_speed.py``
draw from rows below 50000), the first ``--per-class`` of each class in index
order **after removing every row the group benchmark's tasks draw** at their
default settings (``--data-seed 0``, 1000 training and 1000 judge images per
class of ``spurious_colour`` and of ``fairness``; the groups tasks draw from
all 60,000 rows, so a range alone is not enough). The test set is never used.
The validation splits are carved from the task's training rows, so they are
excluded with them. ``pool_rows.json`` lists the rows.

**Labels** line up with ``groups.py --pretrained-generator PATH`` without a
``class_mapping``: the task's classes are labels 0 and 1 (as in the task),
the other Fashion-MNIST classes 2..9 in their Fashion-MNIST order; the
attribute is group 0 / 1 as the task's ``a``.

Usage (one torch thread; a GPU shortens it a lot)::

    python scripts/pretrain_attribute_generator.py --attribute-pool spurious_colour \\
        --steps 8000 --seed 0 --threads 1 > pretrain_colour.log 2>&1 &
    python benchmarks/groups.py --tasks spurious_colour_unseen spurious_colour \\
        --pretrained-generator synaug_learn/pretrained/fashion-mnist-colour-factorized
    python scripts/pretrain_attribute_generator.py --attribute-pool fairness \\
        --steps 8000 --seed 0 --threads 1 > pretrain_washout.log 2>&1 &
    python benchmarks/groups.py --tasks fairness_unseen fairness \\
        --pretrained-generator synaug_learn/pretrained/fashion-mnist-washout-factorized

**Time.** With the default UNet (block channels 32, 64, 64; 1.12 M
parameters, 4.5 MB of weights) at 14x14 (UNet side 16), batch 64, one torch
thread, the default 8000 steps took 32.8 min for the colour generator (0.23
CPU s per step) and 60.1 min for the washout one (0.45 CPU s per step, on a
slower machine); each run's ``training.json`` records its own time. The pool
itself is built in ~5 s.

It trains for exactly ``--steps`` optimiser steps (no time limit: the run is
reproducible) and writes ``synaug_learn/pretrained/fashion-mnist-colour-
factorized/`` (``--attribute-pool fairness``: ``fashion-mnist-washout-
factorized/``): the weights (``save_pretrained``, SHA-256 recorded),
``training.json``, ``pool_rows.json`` and a model card ``README.md`` whose
"Measured composition" section waits for ``benchmarks/groups.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
PRETRAINED = ROOT / "synaug_learn" / "pretrained"
POOLS = {
    "spurious_colour": {
        "folder": "fashion-mnist-colour-factorized",
        "attribute": "background colour, rendered by synaug_learn.datasets."
                     "make_spurious_colour(X, y, n_colours=2, groups=a) on the resized grey "
                     "image: group 0 = RGB (191, 0, 0), group 1 = RGB (0, 191, 191); "
                     "pixels below 0.1 of the range are background",
        "image": "RGB",
    },
    "fairness": {
        "folder": "fashion-mnist-washout-factorized",
        "attribute": "'washed-out capture' of benchmarks/_groups_data.washed_out: pixel -> "
                     "round(96 + 0.625 * pixel) when a = 1 (group 1), unchanged when a = 0",
        "image": "grey",
    },
}


def _benchmark():
    """``(groups module, _groups_data module)``: the task makers the pool must match."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    import _groups_data
    import groups

    return groups, _groups_data


def benchmark_args(data_seed=0, image_size=14):
    """``groups.py``'s default arguments (the settings of its committed runs)."""
    groups, _ = _benchmark()
    args = groups.build_parser().parse_args([])
    args.data_seed, args.image_size = data_seed, image_size
    return args


def benchmark_rows(args):
    """Every Fashion-MNIST training row the groups benchmark's tasks draw (training, hence
    validation, and judge images of ``spurious_colour`` and ``fairness``), and the tasks."""
    _, data = _benchmark()
    rows, tasks = [], {}
    for name in data.BASE_TASKS:
        task = data.make_task(name, args)
        src = task["source_rows"]
        if src["dataset"] != "fashion_mnist":
            raise ValueError(f"the pool is made of Fashion-MNIST; the task uses {src['dataset']}")
        rows += [src["train"], src["judge"]]
        tasks[name] = task
    return np.unique(np.concatenate(rows)), tasks


def attribute_pool_rows(y, task_codes, excluded_cells, per_class, start, exclude_rows, seed,
                        n_groups=2):
    """Which rows form the pool, their labels and their attribute values (no images).

    Parameters
    ----------
    y : ndarray of shape (n,)
        Dataset labels (Fashion-MNIST codes 0-9).
    task_codes : sequence of int
        Dataset codes of the task's classes; they become labels 0, 1, ... in this
        order, the other codes follow in increasing order.
    excluded_cells : iterable of (label, group)
        Cells (in the new labels) that get no rows.
    per_class, start, exclude_rows, seed, n_groups
        Rows per class; first row index; rows never used; shuffling seed; attribute values.

    Returns
    -------
    rows, labels, groups : ndarray of int64
        ``rows`` sorted within each class; ``groups`` split evenly over the values allowed
        for the class (counts differ by at most one), shuffled.
    codes : list of int
        ``codes[label]`` is the dataset code of ``label``.
    """
    y = np.asarray(y)
    codes = list(task_codes) + [c for c in np.unique(y).tolist() if c not in task_codes]
    excluded = {tuple(map(int, c)) for c in excluded_cells}
    rng = np.random.RandomState(seed)
    out_rows, labels, groups = [], [], []
    for label, code in enumerate(codes):
        candidates = start + np.flatnonzero(y[start:] == code)
        candidates = candidates[~np.isin(candidates, exclude_rows)][:per_class]
        if len(candidates) < per_class:
            raise ValueError(f"per_class={per_class}: only {len(candidates)} rows of code "
                             f"{code} at index >= {start} outside the excluded rows.")
        allowed = [g for g in range(n_groups) if (label, g) not in excluded]
        if not allowed:
            raise ValueError(f"every group of label {label} is excluded")
        out_rows.append(candidates)
        labels.append(np.full(per_class, label))
        groups.append(rng.permutation(np.resize(allowed, per_class)))
    return (np.concatenate(out_rows).astype(np.int64), np.concatenate(labels).astype(np.int64),
            np.concatenate(groups).astype(np.int64), codes)


def build_pool(pool, per_class, seed, image_size=14, data_seed=0, start=None):
    """``(X, labels, groups, info)``: the attribute pool and what ``training.json`` records."""
    from synaug_learn.datasets import (
        FASHION_MNIST_CLASSES,
        FASHION_MNIST_POOL_START,
        load_fashion_mnist,
    )

    start = FASHION_MNIST_POOL_START if start is None else int(start)
    _, data = _benchmark()
    args = benchmark_args(data_seed, image_size)
    exclude, tasks = benchmark_rows(args)
    task = tasks[pool]
    excluded_cells = sorted(tuple(map(int, c)) for c in task["minority_cells"])
    X_all, y_all = load_fashion_mnist("train")
    task_codes = [data.FASHION[name] for name in task["classes"]]
    rows, labels, groups, codes = attribute_pool_rows(
        y_all, task_codes, excluded_cells, per_class, start, exclude, seed)
    X = data.render_attribute(pool, X_all[rows], labels, groups, image_size)
    cells = {f"y{c}_a{g}": int(((labels == c) & (groups == g)).sum())
             for c in range(len(codes)) for g in (0, 1)}
    info = {
        "attribute_pool": pool,
        "dataset": "Fashion-MNIST train split (Debian dataset-fashion-mnist)",
        "task": task["description"],
        "attribute": POOLS[pool]["attribute"],
        "image_shape": list(X.shape[1:]),
        "pool_rows": f"the first {per_class} rows of each class among training rows "
                     f"{start}..59999 after removing the groups benchmark's rows (listed in "
                     "pool_rows.json)",
        "pool_rows_sha256": hashlib.sha256(rows.tobytes()).hexdigest(),
        "disjoint_from": f"training rows 0..{start - 1} (every long-tailed split); the "
                         f"{len(exclude)} training rows that benchmarks/groups.py's tasks draw "
                         f"with --data-seed {data_seed} (training + validation and judge images "
                         "of spurious_colour and fairness); the whole test set",
        "excluded_benchmark_rows_sha256": hashlib.sha256(exclude.tobytes()).hexdigest(),
        "excluded_cells": [list(c) for c in excluded_cells],
        "excluded_cells_meaning": "the task's minority (label, a) cells: zero pool rows",
        "n_images": int(len(X)),
        "cells": cells,
        "labels": {str(k): FASHION_MNIST_CLASSES[c] for k, c in enumerate(codes)},
        "class_names": [FASHION_MNIST_CLASSES[c] for c in codes],
        "fashion_mnist_code_of_label": codes,
        "data_seed": data_seed,
    }
    return X, labels, groups, {"info": info, "rows": rows, "exclude": exclude}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attribute-pool", choices=sorted(POOLS), default="spurious_colour")
    parser.add_argument("--per-class", type=int, default=600,
                        help="pool images per class (at most ~650 fit outside the excluded rows)")
    parser.add_argument("--steps", type=int, default=8000,
                        help="optimiser steps (a fixed count; ~0.24 CPU s each at 14x14)")
    parser.add_argument("--image-size", type=int, default=14,
                        help="the task's --image-size (groups.py default 14)")
    parser.add_argument("--data-seed", type=int, default=0,
                        help="groups.py's --data-seed whose task rows are excluded")
    parser.add_argument("--channels", type=int, nargs="+", default=[32, 64, 64],
                        help="UNet block channels")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--guidance-scale", type=float, default=1.5,
                        help="saved sampling default (groups.py's --guidance-scale)")
    parser.add_argument("--sampling-steps", type=int, default=10,
                        help="saved DDIM steps (groups.py's --gen-sampling-steps)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads; 1 is robust when other jobs share the CPU")
    parser.add_argument("--out", type=Path, default=None,
                        help="default synaug_learn/pretrained/<the pool's folder>")
    parser.add_argument("--print-out", action="store_true",
                        help="print the output folder (relative to the repository) and exit")
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = PRETRAINED / POOLS[args.attribute_pool]["folder"]
    if args.print_out:
        out = Path(args.out).resolve()
        print(out.relative_to(ROOT) if out.is_relative_to(ROOT) else out)
        return
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from synaug_learn.generators import ConditionalDiffusionGenerator

    X, labels, groups, built = build_pool(args.attribute_pool, args.per_class, args.seed,
                                          args.image_size, args.data_seed)
    info = built["info"]
    print(f"pool {args.attribute_pool}: {len(X)} images {X.shape[1:]}, cells {info['cells']}, "
          f"excluded cells {info['excluded_cells']}", flush=True)
    gen = ConditionalDiffusionGenerator(
        conditioning="factorized", block_out_channels=tuple(args.channels),
        max_steps=args.steps, max_minutes=None, learning_rate=args.lr,
        batch_size=args.batch_size, guidance_scale=args.guidance_scale,
        num_inference_steps=args.sampling_steps, random_state=args.seed, device=args.device,
        verbose=1,
    )
    start, cpu_start = time.time(), time.process_time()
    gen.fit(X, labels, groups=groups)
    minutes, cpu_minutes = (time.time() - start) / 60, (time.process_time() - cpu_start) / 60
    gen.save_pretrained(args.out)
    training = {
        **info,
        "conditioning": "factorized",
        "can_compose": bool(gen.can_compose()),
        "steps": int(gen.total_train_steps_),
        "batch_size": args.batch_size,
        "learning_rate": args.lr,
        "block_out_channels": list(args.channels),
        "seed": args.seed,
        "device": args.device,
        "torch_threads": args.threads,
        "minutes": round(minutes, 1),
        "cpu_minutes": round(cpu_minutes, 1),
        "seconds_per_step": round(60 * minutes / max(1, gen.n_train_steps_), 3),
        "cpu_seconds_per_step": round(60 * cpu_minutes / max(1, gen.n_train_steps_), 3),
        "training_data_sha256": gen.data_hash_,
    }
    (args.out / "training.json").write_text(json.dumps(training, indent=2))
    (args.out / "pool_rows.json").write_text(json.dumps(
        {"rows": built["rows"].tolist(), "labels": labels.tolist(), "groups": groups.tolist(),
         "excluded_benchmark_rows": built["exclude"].tolist()}))
    (args.out / "README.md").write_text(model_card(training, gen, args))
    print(json.dumps(training, indent=2), flush=True)
    return gen


def _rel(folder):
    try:
        return Path(folder).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(folder)


def _card_cells(t):
    """The task's excluded (label, a) cells as text: ``"(0, 1), (1, 0)"``."""
    return ", ".join(f"({c}, {g})" for c, g in t["excluded_cells"])


def _card_intro(t, folder):
    """The model card's title, what the model is, and how to load it (markdown)."""
    pool = t["attribute_pool"]
    task, unseen = pool, f"{pool}_unseen"
    cells = _card_cells(t)
    return f"""# `{folder.name}`: a factorised generator that has seen the attribute elsewhere

A class x attribute diffusion model for `benchmarks/groups.py`'s
`{task}` tasks, pretrained on a pool in which the attribute varies independently of the class
for eight other Fashion-MNIST classes, while the task's **minority cells {cells} are absent**.
Nothing in the pool can be retrieved to fill those cells; only composition (the class
embedding with the attribute embedding, `conditioning="factorized"`) can draw them.
Load it with the benchmark:

```
python benchmarks/groups.py --tasks {unseen} {task} --pretrained-generator {_rel(folder)}
```

or in code (the task's labels 0/1 and attribute 0/1 are the model's; no `class_mapping`):

```python
from synaug_learn import SynAugSampler
from synaug_learn.generators import ConditionalDiffusionGenerator
gen = ConditionalDiffusionGenerator.from_pretrained("{folder.name}")
gen.can_compose()   # True
sampler = SynAugSampler(generator=gen, fill_grid=True)  # fills empty (class, a) cells too
```

"""


def _card_training_data(t):
    """The model card's "Training data" section (markdown)."""
    pool = t["attribute_pool"]
    labels = ", ".join(f"{k} {v}" for k, v in t["labels"].items())
    cells = _card_cells(t)
    h, w = t["image_shape"][:2]
    return f"""## Training data

- {t["dataset"]}; task: {t["task"]}.
- **Attribute**: {t["attribute"]}. Images {h}x{w} ({POOLS[pool]["image"]}), resized from 28x28
  with the task's own code (`benchmarks/_groups_data._resize`).
- **Labels**: {labels} (the task's classes first, as the task labels them).
- **Pool**: {t["pool_rows"]} -- {t["n_images"]} images. Cells (label, a): the task's
  classes only in their majority cell, every other class half in each:
  `{json.dumps(t["cells"])}`. The attribute values are an exact split per class, shuffled
  with seed {t["seed"]}.
- **Excluded cells**: {cells} -- {t["excluded_cells_meaning"]}.
- **Disjoint from**: {t["disjoint_from"]}. SHA-256 of the pool's row indices (int64):
  `{t["pool_rows_sha256"]}`; of the excluded benchmark rows:
  `{t["excluded_benchmark_rows_sha256"]}`. `groups.py --pretrained-generator` reads
  `pool_rows.json` and records (and warns about) any overlap with the task it runs
  (`pretrained_pool_overlap` in the results' task config).
- SHA-256 of the training arrays (`training_data_sha256`): `{t["training_data_sha256"]}`.
- Other `--data-seed` values or larger `--n-per-class` in `groups.py` draw other rows, which may
  overlap this pool: the pool is disjoint from the benchmark at its default settings only.

"""


def _card_files(folder):
    """The model card's "Files and integrity" section (markdown)."""
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    size_mb = weights.stat().st_size / 1e6 if weights.is_file() else float("nan")
    return f"""## Files and integrity

- `unet/` (diffusers `UNet2DModel` with a factorised class + attribute embedding, safetensors,
  {size_mb:.1f} MB) and `synaug_generator.json` (format, classes, groups, sampling defaults) as
  written by `save_pretrained`, which records the SHA-256 of every weights file; loading checks
  them and refuses a damaged or replaced file.
- `training.json` (what is on this card, machine-readable) and `pool_rows.json` (the
  Fashion-MNIST training rows of the pool, their labels and attribute values, and the
  benchmark rows excluded).
- No `class_means.safetensors`: `SynAugSampler()` without a generator never picks this model.

"""


def _card_architecture(t, gen):
    """The model card's "Architecture and training" section (markdown)."""
    n_params = sum(p.numel() for p in gen.unet_.parameters()) / 1e6
    h, w = t["image_shape"][:2]
    return f"""## Architecture and training

`UNet2DModel` at side {gen.unet_size_} (the package brings the {h}x{w} images to it),
{gen.image_format_.channels} channel(s), block channels {list(gen.block_out_channels)};
a class embedding and an attribute embedding summed (`conditioning="factorized"`), each dropped
independently (p = {gen.class_dropout}) for classifier-free guidance; {n_params:.2f} M
parameters. {t["steps"]} optimiser steps (a fixed count, no time limit; AdamW, lr
{t["learning_rate"]}, batch {t["batch_size"]}, cell-balanced batches, EMA 0.999 -- the weights
are the EMA weights), seed {t["seed"]}, on {t["device"]} (torch threads {t["torch_threads"]}) in
{t["minutes"]} minutes ({t["seconds_per_step"]} s/step; {t["cpu_seconds_per_step"]} CPU s/step).
Sampling defaults saved with it:
DDIM-{gen.num_inference_steps}, guidance {gen.guidance_scale}, rule `{gen.guidance_rule}`
(those of `groups.py`'s in-domain generators).

"""


def _card_measured(t, folder):
    """The model card's "Measured composition" section, its values still to be filled in."""
    task = t["attribute_pool"]
    unseen = f"{task}_unseen"
    return f"""## Measured composition

*To be filled after measuring* with

```
python benchmarks/groups.py --tasks {unseen} {task} --pretrained-generator {_rel(folder)}
```

| | value |
|---|---|
| judge label fidelity of generated minority-cell images (`minority_label_fidelity`) | TBD |
| judge attribute fidelity (`minority_attribute_fidelity`) | TBD |
| detector real vs generated, minority cells (vs the judge pool's real images) | TBD |
| `{unseen}` worst-group acc.: best `synaug_pretrained_*` (on validation) | TBD |
| `{unseen}` worst-group acc.: best runnable baseline (on validation) | TBD |
| `{task}` worst-group acc.: best `synaug_pretrained_*` / best of DFR, Group DRO | TBD |

"""


def _card_use(t, args):
    """The model card's "Intended use and limitations" and "Reproduce" sections (markdown)."""
    pool = t["attribute_pool"]
    task = pool
    h, w = t["image_shape"][:2]
    reproduce = (f"python scripts/pretrain_attribute_generator.py --attribute-pool {pool} "
                 f"--per-class {args.per_class} --steps {t['steps']} --seed {t['seed']} "
                 f"--image-size {args.image_size} --threads 1")
    return f"""## Intended use and limitations

- The group benchmark's `{task}` tasks at their default settings ({h}x{w}, `--data-seed 0`):
  filling the (class, attribute) cells, empty ones included, by composition.
- The task's two classes only, with the attribute's two values (labels 2-9 exist in the model
  but are meant for nothing else); no other image size.
- A small model trained on CPU; its composition quality is what the section above measures.
- Fashion-MNIST is (c) Zalando SE, MIT licence.

## Reproduce

```
{reproduce}
```
"""


def model_card(t, gen, args):
    """The model card; its "Measured composition" section is filled in after the benchmark."""
    folder = args.out
    return "".join([
        _card_intro(t, folder),
        _card_training_data(t),
        _card_files(folder),
        _card_architecture(t, gen),
        _card_measured(t, folder),
        _card_use(t, args),
    ])


if __name__ == "__main__":
    main()
