"""Generator quality: fidelity, novelty, diversity and sampling speed of diffusion generators.

Two questions, measured with the package's own pieces
(:class:`~synaug_learn.generators.ConditionalDiffusionGenerator` and
:func:`~synaug_learn.metrics.synthetic_report`):

1. **Does the generator copy the user's data?** (FINDINGS.md sections 1-2.) On the digits
   split of the findings (``load_digits_lt(imbalance_factor=50, pool=True, random_state=0)``),
   two generators with the same architecture and step budget are trained:

   * ``synaug_indomain`` on the long-tailed train rows (the user's data, 287 images);
   * ``synaug_pretrained`` on the disjoint pool (791 images never in the long-tailed set nor
     the test set), written with ``save_pretrained`` and read back with ``from_pretrained``
     (then ``fit`` on the long-tailed rows, which only checks classes and shape).

   Each generates ``--n-per-class`` images per class. Per class:

   * **fidelity**: share of generated images that a classifier trained only on real data
     assigns to the intended class. The classifier is the package's ``SmallCNN`` (through
     ``MixupNetClassifier`` with Mixup off) trained on the real train + pool rows; its recall
     on the real test images of each class is reported next to it (``real_test_images``), the
     ceiling fidelity can reach with this judge.
   * **novelty** and **diversity** from ``synthetic_report`` in pixel space ([0, 1] per pixel),
     with the real test images as the held-out reference: against the rows the generator was
     trained on (``*_vs_trained_rows``) and against the long-tailed rows
     (``*_vs_long_tailed``, the user's data: the number that matters for copying). For
     ``synaug_indomain`` both are the same rows.

2. **What does sampling cost?** Images/s of ``generate`` at DDIM-``--steps`` with and without
   classifier-free guidance at batch ``--speed-batch``, next to the bare UNet forward time x
   steps (one forward pass of the batch the sampler really sends: ``2 x batch`` rows with
   guidance) -> ``efficiency`` = bare UNet time / ``generate`` time (1 = no overhead). Ratios
   use process CPU time, which with one torch thread measures the work whatever else runs on
   the machine; wall-clock images/s are reported too.

**Fashion-MNIST** (when the shipped generator's weights exist): the shipped
``fashion-mnist-small`` generator (pretrained by ``scripts/pretrain_generator.py`` on training
rows 50000..59999) generates ``--fashion-n-per-class`` images per class; fidelity by a
``SmallCNN`` trained on real training rows 0..49999; novelty / diversity against the pool it
was trained on (rebuilt and checked against the ``training_data_sha256`` it saved) and against
the demo's long-tailed split (``make_long_tailed`` of rows 0..49999, IF=100, as ``synaug
demo`` draws it), with the real test images as the held-out reference; sampling speed as
above. ``--model-card PATH`` evaluates the generator in ``PATH`` and writes ``PATH/README.md``.

Run::

    python benchmarks/generator_quality.py                      # digits + Fashion-MNIST
    python benchmarks/generator_quality.py --quick              # smoke run, ~2 min
    python benchmarks/generator_quality.py --datasets fashion \\
        --model-card synaug_learn/pretrained/fashion-mnist-small

Writes ``benchmarks/results/generator_quality.{md,json}``; rows of a dataset not run this time
are kept from the existing json (each dataset's config records its own command and date).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import RESULTS, machine, machine_lines, utc_now, versions, write_results  # noqa: E402

NAME = "generator_quality"
REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "synaug_learn" / "pretrained" / "fashion-mnist-small"
PRETRAIN_OUT = Path("/tmp/pretrain/fashion-mnist-small")
POOL_START = 50_000  # scripts/pretrain_generator.py: the pool is training rows >= this index
CONFIG_NAME = "synaug_generator.json"


# --------------------------------------------------------------------------- small helpers
def set_threads(n):
    """Use ``n`` torch threads (0: leave torch's default)."""
    import torch

    if n:
        torch.set_num_threads(int(n))
        os.environ.setdefault("OMP_NUM_THREADS", str(int(n)))
    return torch.get_num_threads()


def _clock():
    return time.perf_counter(), time.process_time()


def _since(start):
    wall, cpu = start
    return time.perf_counter() - wall, time.process_time() - cpu


def _finite_mean(values):
    values = [float(v) for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def summarise(per_class, few=()):
    """``{class: value}`` -> ``{"mean", "few", "min", "per_class"}`` (means over classes)."""
    per_class = {str(k): (None if v is None or not np.isfinite(v) else float(v))
                 for k, v in per_class.items()}
    out = {"mean": _finite_mean(per_class.values())}
    if few:
        out["few"] = _finite_mean([per_class.get(str(c)) for c in few])
    finite = [v for v in per_class.values() if v is not None]
    out["min"] = float(min(finite)) if finite else float("nan")
    out["per_class"] = per_class
    return out


def _clean(obj):
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# --------------------------------------------------------------------------- fidelity judge
def fit_fidelity_classifier(X, y, *, epochs, seed, batch_size=128):
    """``SmallCNN`` (Mixup off) trained on real rows: the judge of fidelity."""
    from synaug_learn.nets import MixupNetClassifier

    clf = MixupNetClassifier("small_cnn", mixup_alpha=0.0, max_epochs=epochs,
                             batch_size=batch_size, lr=0.05, random_state=seed)
    clf.fit(X, y)
    return clf


def per_class_recall(clf, X, y):
    pred = np.asarray(clf.predict(X))
    recall = {int(c): float(np.mean(pred[y == c] == c)) for c in np.unique(y)}
    return recall, float(np.mean(pred == y))


# --------------------------------------------------------------------------- evaluation
def evaluate_samples(X_syn, y_syn, *, classifier, references, X_heldout, y_heldout, seed=0,
                     max_samples=500):
    """Fidelity, novelty and diversity per class of generated rows.

    Parameters
    ----------
    X_syn, y_syn : arrays
        Generated images and their intended labels.
    classifier : fitted classifier with ``predict``
        The real-data judge of fidelity.
    references : dict
        ``{name: (X_ref, y_ref)}``: real rows to measure novelty and diversity against (the
        rows the generator was trained on, the user's rows, ...).
    X_heldout, y_heldout : arrays
        Real rows no generator saw: the novelty reference.

    Returns
    -------
    dict
        ``per_class``: ``{metric: {class: value}}`` with ``fidelity`` and, for every
        reference ``name``, ``novelty_vs_{name}``, ``diversity_vs_{name}``,
        ``nn_dist_generated_vs_{name}`` and ``nn_dist_heldout_vs_{name}``; ``copying``:
        ``{name: [classes whose novelty is below the report's copy threshold]}``.
    """
    from synaug_learn.metrics import synthetic_report

    per_class, copying = {}, {}
    for name, (X_ref, y_ref) in references.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the copying warning; recorded below instead
            report = synthetic_report(X_ref, y_ref, X_syn, y_syn, X_heldout=X_heldout,
                                      y_heldout=y_heldout, classifier=classifier,
                                      max_samples=max_samples, random_state=seed)
        rows = [r for r in report.rows if r["n_generated"]]
        per_class.setdefault("fidelity", {int(r["label"]): r["fidelity"] for r in rows})
        for key, col in (("novelty", "novelty"), ("diversity", "diversity"),
                         ("nn_dist_generated", "nn_dist_generated"),
                         ("nn_dist_heldout", "nn_dist_reference")):
            per_class[f"{key}_vs_{name}"] = {int(r["label"]): r[col] for r in rows}
        copying[name] = [int(r["label"]) for r in rows if r["copying"]]
    return {"per_class": per_class, "copying": copying}


def cycled_copies(X, y, classes, n_per_class):
    """``n_per_class`` rows of every class, the real rows of the class repeated in turn."""
    idx = np.concatenate([np.resize(np.flatnonzero(y == c), n_per_class) for c in classes])
    return X[idx], y[idx]


def generate_per_class(gen, classes, n_per_class, seed):
    """``n_per_class`` images of every class, timed."""
    start = _clock()
    X, y, _ = gen.generate({(c, None): n_per_class for c in classes}, random_state=seed)
    wall, cpu = _since(start)
    return X, y, {"wall_s": wall, "cpu_s": cpu, "n": int(len(y))}


def measure_speed(gen, *, stratum, batch=256, steps=20, guidance=1.5, repeats=3, seed=0,
                  sweep=(32, 64, 128, 256, 512)):
    """Images/s of ``gen.generate`` vs bare UNet forward time x steps, with and without guidance.

    For each guidance scale (``guidance`` and 1.0 = off): one ``generate`` of ``batch`` images
    of ``stratum`` (one sampler batch: ``generation_batch_size = batch``), timed; then the
    median of ``repeats`` timed forward passes of ``gen.unet_`` on the batch the sampler sends
    (``2 * batch`` rows with guidance, ``batch`` without), times ``steps``. The forward pass of
    ``batch`` rows is timed too, so ``2 x forward(batch)`` (the naive bound) is recorded, and
    the CPU milliseconds per image of one forward pass for each number of rows in ``sweep``
    (where the per-image cost jumps, the sampler's batches are too large for the CPU's caches).
    """
    import torch
    from diffusers import DDIMScheduler

    saved = {k: getattr(gen, k) for k in
             ("guidance_scale", "num_inference_steps", "generation_batch_size")}
    unet = gen.unet_
    c, side = gen.image_format_.channels, gen.unet_size_
    scheduler = DDIMScheduler(num_train_timesteps=gen.num_train_timesteps_)
    scheduler.set_timesteps(steps)
    t = scheduler.timesteps[len(scheduler.timesteps) // 2]
    label = gen.class_index(stratum)
    null = unet.config.num_class_embeds - 1
    rng = torch.Generator().manual_seed(seed)

    def forward_s(n, guided):
        x = torch.randn((2 * n if guided else n, c, side, side), generator=rng)
        cond = torch.full((n,), label, dtype=torch.long)
        if guided:
            cond = torch.cat([cond, torch.full_like(cond, null)])
        times = []
        with torch.inference_mode():
            unet(x[:2], t, class_labels=cond[:2])  # warm-up
            for _ in range(repeats):
                start = _clock()
                unet(x, t, class_labels=cond)
                times.append(_since(start))
        return float(np.median([w for w, _ in times])), float(np.median([p for _, p in times]))

    out = {}
    try:
        gen.set_params(num_inference_steps=1, generation_batch_size=batch)
        gen.generate({stratum: 2}, random_state=seed)  # warm-up of the sampling path
        for name, g in (("guided", guidance), ("unguided", 1.0)):
            gen.set_params(guidance_scale=g, num_inference_steps=steps,
                           generation_batch_size=batch)
            _, _, timing = generate_per_class(gen, [stratum[0]], batch, seed)
            fw_wall, fw_cpu = forward_s(batch, guided=g != 1.0)
            out[name] = {
                "guidance_scale": float(g),
                "generate_wall_s": timing["wall_s"], "generate_cpu_s": timing["cpu_s"],
                "images_per_s": batch / timing["wall_s"],
                "images_per_cpu_s": batch / timing["cpu_s"],
                "unet_forward_wall_s": fw_wall, "unet_forward_cpu_s": fw_cpu,
                "unet_bound_cpu_s": fw_cpu * steps,
                "unet_bound_images_per_cpu_s": batch / (fw_cpu * steps),
                "efficiency": fw_cpu * steps / timing["cpu_s"],
                "efficiency_wall": fw_wall * steps / timing["wall_s"],
            }
        single_wall, single_cpu = forward_s(batch, guided=False)
        out["guided"]["naive_bound_cpu_s"] = 2 * single_cpu * steps  # 2 x forward(batch)
        out["guided"]["forward_2b_over_2x_forward_b"] = (
            out["guided"]["unet_forward_cpu_s"] / (2 * single_cpu))
        out["guidance_cost"] = out["guided"]["generate_cpu_s"] / out["unguided"]["generate_cpu_s"]
        out["forward_cpu_ms_per_image_by_rows"] = {
            int(n): 1000 * forward_s(int(n), guided=False)[1] / int(n) for n in sweep}
        per_image = out["forward_cpu_ms_per_image_by_rows"]
        if per_image and 2 * batch in per_image:
            best = min(per_image, key=per_image.get)
            if per_image[2 * batch] > 1.15 * per_image[best] and best // 2 < batch:
                small = max(best // 2, 1)  # guided: the sampler sends 2 x small rows
                gen.set_params(guidance_scale=guidance, num_inference_steps=steps,
                               generation_batch_size=small)
                _, _, timing = generate_per_class(gen, [stratum[0]], batch, seed)
                out["guided_small_batch"] = {
                    "generation_batch_size": small, "guidance_scale": float(guidance),
                    "generate_wall_s": timing["wall_s"], "generate_cpu_s": timing["cpu_s"],
                    "images_per_s": batch / timing["wall_s"],
                    "images_per_cpu_s": batch / timing["cpu_s"],
                    "speedup_cpu": out["guided"]["generate_cpu_s"] / timing["cpu_s"],
                }
    finally:
        gen.set_params(**saved)
    out.update(batch=batch, steps=steps, stratum=[int(stratum[0]), None])
    return out


def speed_metrics(speed):
    """The speed dict as BENCHMARKS.md metrics (values with a unit)."""
    b, s = speed["batch"], speed["steps"]
    out = {}
    for name in ("guided", "unguided"):
        r = speed[name]
        what = (f"DDIM-{s}, guidance {r['guidance_scale']:g}, batch {b}")
        out[f"images_per_s_{name}"] = {"mean": r["images_per_s"],
                                       "unit": f"images/s (wall clock), {what}"}
        out[f"images_per_cpu_s_{name}"] = {"mean": r["images_per_cpu_s"],
                                           "unit": f"images per CPU second, {what}"}
        out[f"unet_bound_images_per_cpu_s_{name}"] = {
            "mean": r["unet_bound_images_per_cpu_s"],
            "unit": "images per CPU second if sampling cost only the UNet forwards"}
        out[f"efficiency_{name}"] = {
            "mean": r["efficiency"],
            "unit": "ratio: bare UNet forward CPU time x steps / generate CPU time"}
    out["guidance_cost"] = {"mean": speed["guidance_cost"],
                            "unit": "ratio of generate CPU time, guided / unguided"}
    small = speed.get("guided_small_batch")
    if small:
        what = (f"DDIM-{s}, guidance {small['guidance_scale']:g}, "
                f"generation_batch_size {small['generation_batch_size']}")
        out["images_per_cpu_s_guided_small_batch"] = {
            "mean": small["images_per_cpu_s"], "unit": f"images per CPU second, {what}"}
        out["speedup_guided_small_batch"] = {
            "mean": small["speedup_cpu"],
            "unit": f"ratio of generate CPU time, batch {b} / {small['generation_batch_size']}"}
    return out


# --------------------------------------------------------------------------- digits
def _copying_metric(ev, reference):
    return {"mean": len(ev["copying"][reference]), "classes": ev["copying"][reference],
            "unit": "classes with novelty < 0.3"}


def _digits_generator(method, X_fit, y_fit, gen_params, args, data, log):
    """Train ``method``'s generator on ``(X_fit, y_fit)``; the pool generator goes through
    ``save_pretrained`` -> ``from_pretrained`` and is fitted to the long-tailed rows."""
    from synaug_learn.generators import ConditionalDiffusionGenerator

    start = _clock()
    gen = ConditionalDiffusionGenerator(**gen_params).fit(X_fit, y_fit)
    train_wall, train_cpu = _since(start)
    log(f"{method}: trained {gen.n_train_steps_} steps on {len(y_fit)} rows in "
        f"{train_wall:.0f} s wall / {train_cpu:.0f} s CPU")
    if method == "synaug_pretrained":  # exercise save_pretrained -> from_pretrained
        folder = Path(tempfile.mkdtemp(prefix="synaug-gq-digits-pool-"))
        try:
            gen.save_pretrained(folder)
            gen = ConditionalDiffusionGenerator.from_pretrained(
                folder, guidance_scale=args.guidance, num_inference_steps=args.steps,
                generation_batch_size=256).fit(data.X_train, data.y_train)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        assert gen.n_train_steps_ == 0 and gen.total_train_steps_ == args.max_steps
    return gen, train_wall, train_cpu


def _digits_row(method, X_fit, y_fit, trained_on, gen_params, judge, data, classes, few, args,
                log):
    """Train ``method``'s generator, generate from it, judge the samples: ``(generator, row)``."""
    start = _clock()
    gen, train_wall, train_cpu = _digits_generator(method, X_fit, y_fit, gen_params, args, data,
                                                   log)
    X_syn, y_syn, timing = generate_per_class(gen, classes, args.n_per_class, args.seed)
    log(f"{method}: generated {timing['n']} images in {timing['wall_s']:.0f} s wall / "
        f"{timing['cpu_s']:.0f} s CPU")
    refs = {"trained_rows": (X_fit, y_fit), "long_tailed": (data.X_train, data.y_train)}
    ev = evaluate_samples(X_syn, y_syn, classifier=judge, references=refs,
                          X_heldout=data.X_test, y_heldout=data.y_test, seed=args.seed)
    metrics = {k: summarise(v, few) for k, v in ev["per_class"].items()}
    metrics["n_copying_classes_vs_trained_rows"] = _copying_metric(ev, "trained_rows")
    metrics["n_copying_classes_vs_long_tailed"] = _copying_metric(ev, "long_tailed")
    log(f"{method}: evaluated ({_since(start)[0]:.0f} s in all)")
    return gen, {
        "method": method, "dataset": "digits_lt50", "trained_on": trained_on,
        "n_trained_rows": int(len(y_fit)), "train_steps": int(gen.total_train_steps_),
        "metrics": metrics,
        "train_wall_s": round(train_wall, 1), "train_cpu_s": round(train_cpu, 1),
        "generate_wall_s": round(timing["wall_s"], 1),
        "generate_cpu_s": round(timing["cpu_s"], 1),
        "wall_s": round(_since(start)[0], 1),
    }


def _digits_copies_control(gen, judge, data, classes, few, args, log):
    """Exact copies of the long-tailed rows through the generator's resize round trip
    (8x8 -> 16x16 -> 8x8): the novelty that pure copying scores in this pipeline."""
    references_lt = (data.X_train, data.y_train)
    X_cp, y_cp = cycled_copies(data.X_train, data.y_train, classes, args.n_per_class)
    ev = evaluate_samples(gen.resize_round_trip(X_cp), y_cp, classifier=judge,
                          references={"trained_rows": references_lt, "long_tailed": references_lt},
                          X_heldout=data.X_test, y_heldout=data.y_test, seed=args.seed)
    metrics = {k: summarise(v, few) for k, v in ev["per_class"].items()}
    metrics["n_copying_classes_vs_long_tailed"] = _copying_metric(ev, "long_tailed")
    roundtrip_err = float(np.mean(np.abs(gen.resize_round_trip(data.X_test) - data.X_test)))
    log(f"control copies: novelty vs LT {json.dumps(_clean(metrics['novelty_vs_long_tailed']))}"
        f", round-trip mean abs error {roundtrip_err:.3f}")
    return {"method": "control_copies_resized", "dataset": "digits_lt50",
            "metrics": metrics, "resize_round_trip_mean_abs_error": roundtrip_err,
            "note": "the long-tailed rows themselves (exact copies), passed through the "
                    "generator's resize 8x8 -> 16x16 -> 8x8: what copying scores"}


def run_digits(args, log=print):
    """Train in-domain and pool ('pretrained') generators on the FINDINGS digits split."""
    from synaug_learn.datasets import load_digits_lt

    data = load_digits_lt(imbalance_factor=50, pool=True, random_state=0)
    classes = np.unique(data.y_train).tolist()
    counts = np.bincount(data.y_train).tolist()
    pool_counts = np.bincount(data.y_pool).tolist()
    few = [int(c) for c in np.argsort(counts, kind="stable")[:3]]
    log(f"digits: long-tailed {counts}, pool {pool_counts}, test {len(data.y_test)}")
    gen_params = dict(block_out_channels=tuple(args.blocks), layers_per_block=1,
                      max_steps=args.max_steps, batch_size=64, learning_rate=1e-3,
                      guidance_scale=args.guidance, num_inference_steps=args.steps,
                      generation_batch_size=256, random_state=args.seed)

    start = _clock()
    X_real = np.concatenate([data.X_train, data.X_pool])
    y_real = np.concatenate([data.y_train, data.y_pool])
    judge = fit_fidelity_classifier(X_real, y_real, epochs=args.clf_epochs_digits,
                                    seed=args.seed)
    recall, acc = per_class_recall(judge, data.X_test, data.y_test)
    log(f"fidelity judge: SmallCNN on train+pool ({len(y_real)} rows), test accuracy {acc:.3f}"
        f" ({_since(start)[0]:.0f} s)")

    rows, gens = [], {}
    for method, X_fit, y_fit, trained_on in (
        ("synaug_indomain", data.X_train, data.y_train, "long_tailed"),
        ("synaug_pretrained", data.X_pool, data.y_pool, "pool"),
    ):
        gens[method], row = _digits_row(method, X_fit, y_fit, trained_on, gen_params, judge,
                                        data, classes, few, args, log)
        rows.append(row)

    start = _clock()
    speed = measure_speed(gens["synaug_pretrained"], stratum=(few[0], None),
                          batch=args.speed_batch, steps=args.steps, guidance=args.guidance,
                          repeats=args.speed_repeats, seed=args.seed,
                          sweep=args.speed_sweep)
    log(f"digits speed: {json.dumps(_clean(speed))} ({_since(start)[0]:.0f} s)")
    rows[1]["metrics"].update(speed_metrics(speed))
    rows[1]["speed"] = speed
    rows.append(_digits_copies_control(gens["synaug_indomain"], judge, data, classes, few, args,
                                       log))
    rows.append({"method": "real_test_images", "dataset": "digits_lt50",
                 "metrics": {"fidelity": summarise(recall, few)},
                 "note": "the judge's recall on the real test images: the ceiling of fidelity"})
    indomain = gens["synaug_indomain"]
    config = {
        "dataset": "load_digits_lt(imbalance_factor=50, pool=True, random_state=0)",
        "long_tailed_counts": counts, "pool_counts": pool_counts,
        "n_test": int(len(data.y_test)), "few_classes": few,
        "generator": {**{k: list(v) if isinstance(v, tuple) else v
                         for k, v in gen_params.items()},
                      "unet_size": int(indomain.unet_size_),
                      "params": int(sum(p.numel() for p in indomain.unet_.parameters())),
                      "same_for": ["synaug_indomain", "synaug_pretrained"]},
        "n_generated_per_class": args.n_per_class,
        "fidelity_classifier": {
            "model": "SmallCNN via MixupNetClassifier(mixup_alpha=0), SGD lr 0.05, cosine",
            "trained_on": f"real long-tailed train + pool rows ({len(y_real)})",
            "epochs": args.clf_epochs_digits, "test_accuracy": acc},
        "novelty_space": "pixels scaled to [0, 1] (synthetic_report's default), "
                         "held-out reference: the real test images",
        "speed_measured_on": "synaug_pretrained (same UNet as synaug_indomain)",
    }
    return {"rows": rows, "config": config, "classes": classes, "few": few}


# --------------------------------------------------------------------------- fashion-mnist
def find_fashion_generator(path=None):
    """The folder of the shipped generator: ``path``, the package's, or the pretraining output."""
    for p in ([Path(path)] if path else [SHIPPED, PRETRAIN_OUT]):
        if (p / CONFIG_NAME).is_file():
            return p
    return None


def fashion_pool(meta, training, X, y):
    """Rebuild the pretraining pool (scripts/pretrain_generator.py) and check it by its hash."""
    from synaug_learn.utils import hash_array

    per_class = int(training.get("n_images", 9000)) // 10
    rows = np.concatenate([POOL_START + np.flatnonzero(y[POOL_START:] == c)[:per_class]
                           for c in np.unique(y)])
    rows.sort()
    X_pool, y_pool = X[rows], y[rows]
    matches = hash_array(X_pool, y_pool, None) == meta.get("training_data_sha256")
    return X_pool, y_pool, rows, matches


def _fashion_data(args, folder, log):
    """The generator's json files, the real images, its pool and the demo's long-tailed split."""
    from synaug_learn.datasets import load_fashion_mnist, make_long_tailed

    meta = json.loads((folder / CONFIG_NAME).read_text())
    training_path = folder / "training.json"
    training = json.loads(training_path.read_text()) if training_path.is_file() else {}
    unet_config = json.loads((folder / "unet" / "config.json").read_text())
    X, y = load_fashion_mnist(subset="train")
    X_test, y_test = load_fashion_mnist(subset="test")
    X_pool, y_pool, pool_rows, hash_ok = fashion_pool(meta, training, X, y)
    log(f"fashion: generator {folder}, pool {len(y_pool)} rows {pool_rows.min()}..{pool_rows.max()}"
        f", matches the saved training_data_sha256: {hash_ok}")
    X_lt, y_lt = make_long_tailed(X[:POOL_START], y[:POOL_START], imbalance_factor=100,
                                  random_state=args.seed)
    return {"meta": meta, "training": training, "unet_config": unet_config, "X": X, "y": y,
            "X_test": X_test, "y_test": y_test, "X_pool": X_pool, "y_pool": y_pool,
            "pool_rows": pool_rows, "hash_ok": hash_ok, "X_lt": X_lt, "y_lt": y_lt,
            "lt_counts": np.bincount(y_lt, minlength=10).tolist()}


def _fashion_judge(args, data, log):
    """The fidelity judge trained on real rows < POOL_START: model, test recall and cost."""
    X, y = data["X"], data["y"]
    start = _clock()
    n_clf = args.fashion_clf_rows or POOL_START
    clf_rows = np.random.RandomState(args.seed).permutation(POOL_START)[:n_clf]
    clf = fit_fidelity_classifier(X[clf_rows], y[clf_rows], epochs=args.clf_epochs_fashion,
                                  seed=args.seed)
    recall, acc = per_class_recall(clf, data["X_test"], data["y_test"])
    clf_wall = _since(start)[0]
    log(f"fidelity judge: SmallCNN on {n_clf} training rows < {POOL_START}, test accuracy "
        f"{acc:.3f} ({clf_wall:.0f} s)")
    return {"model": clf, "recall": recall, "accuracy": acc, "n_rows": n_clf,
            "fit_wall_s": clf_wall}


def _fashion_evaluate(args, folder, data, clf, classes, few, log):
    """The loaded generator, its samples, their timing and metrics, and the wall time taken."""
    from synaug_learn.generators import ConditionalDiffusionGenerator

    start = _clock()
    gen = ConditionalDiffusionGenerator.from_pretrained(
        folder, scheduler="ddim", guidance_scale=args.fashion_guidance,
        num_inference_steps=args.steps,
        generation_batch_size=256).fit(data["X_lt"], data["y_lt"])  # only checks classes, shape
    X_syn, y_syn, timing = generate_per_class(gen, classes, args.fashion_n_per_class, args.seed)
    log(f"fashion: generated {timing['n']} images in {timing['wall_s']:.0f} s wall / "
        f"{timing['cpu_s']:.0f} s CPU")
    refs = {"trained_rows": (data["X_pool"], data["y_pool"]),
            "long_tailed": (data["X_lt"], data["y_lt"])}
    ev = evaluate_samples(X_syn, y_syn, classifier=clf, references=refs,
                          X_heldout=data["X_test"], y_heldout=data["y_test"], seed=args.seed)
    metrics = {k: summarise(v, few) for k, v in ev["per_class"].items()}
    for name in refs:
        metrics[f"n_copying_classes_vs_{name}"] = {
            "mean": len(ev["copying"][name]), "classes": ev["copying"][name],
            "unit": "classes with novelty < 0.3"}
    return gen, (X_syn, y_syn), timing, metrics, _since(start)[0]


def _fashion_config(args, folder, gen, data, few, judge):
    """The fashion_mnist part's config: generator, pool, splits, judge and saved files."""
    meta, pool_rows = data["meta"], data["pool_rows"]
    return {
        "dataset": "Fashion-MNIST (Debian dataset-fashion-mnist)",
        "generator": {"folder": str(folder), "params": int(sum(
            p.numel() for p in gen.unet_.parameters())),
            "block_out_channels": data["unet_config"].get("block_out_channels"),
            "unet_size": int(meta["image_size"]), "trained_steps": meta.get("trained_steps"),
            "guidance_scale": args.fashion_guidance, "num_inference_steps": args.steps},
        "pool": {"rows": f"{pool_rows.min()}..{pool_rows.max()}", "n": int(len(data["y_pool"])),
                 "matches_training_data_sha256": bool(data["hash_ok"])},
        "long_tailed": {"how": "make_long_tailed(X[:50000], y[:50000], imbalance_factor=100, "
                               f"random_state={args.seed}) (the split `synaug demo` draws)",
                        "counts": data["lt_counts"]},
        "few_classes": few,
        "n_generated_per_class": args.fashion_n_per_class,
        "seed": args.seed,
        "fidelity_classifier": {
            "model": "SmallCNN via MixupNetClassifier(mixup_alpha=0), SGD lr 0.05, cosine",
            "trained_on": f"{judge['n_rows']} real training rows with index < {POOL_START}",
            "epochs": args.clf_epochs_fashion, "test_accuracy": judge["accuracy"],
            "fit_wall_s": round(judge["fit_wall_s"], 1)},
        "novelty_space": "pixels scaled to [0, 1], held-out reference: the 10,000 real test images",
        "training": data["training"],
        "unet_config": data["unet_config"],
        "meta": {k: v for k, v in meta.items() if k != "params"},
    }


def run_fashion(args, folder, log=print):
    """Evaluate the shipped Fashion-MNIST generator in ``folder``."""
    folder = Path(folder)
    data = _fashion_data(args, folder, log)
    classes = np.unique(data["y"]).tolist()
    few = [int(c) for c in np.argsort(data["lt_counts"], kind="stable")[:3]]
    judge = _fashion_judge(args, data, log)
    gen, (X_syn, y_syn), timing, metrics, eval_wall = _fashion_evaluate(
        args, folder, data, judge["model"], classes, few, log)
    start = _clock()
    speed = measure_speed(gen, stratum=(classes[-1], None), batch=args.speed_batch,
                          steps=args.steps, guidance=args.fashion_guidance,
                          repeats=args.speed_repeats, seed=args.seed,
                          sweep=args.speed_sweep)
    log(f"fashion speed: {json.dumps(_clean(speed))} ({_since(start)[0]:.0f} s)")
    metrics.update(speed_metrics(speed))
    rows = [
        {"method": "synaug_pretrained", "dataset": "fashion_mnist", "trained_on": "pool",
         "generator": str(folder), "n_trained_rows": int(len(data["y_pool"])),
         "train_steps": int(data["meta"].get("trained_steps", 0)), "metrics": metrics,
         "speed": speed, "generate_wall_s": round(timing["wall_s"], 1),
         "generate_cpu_s": round(timing["cpu_s"], 1), "wall_s": round(eval_wall, 1)},
        {"method": "real_test_images", "dataset": "fashion_mnist",
         "metrics": {"fidelity": summarise(judge["recall"], few)},
         "note": "the judge's recall on the real test images: the ceiling of fidelity"},
    ]
    return {"rows": rows, "config": _fashion_config(args, folder, gen, data, few, judge),
            "classes": classes, "few": few, "samples": (X_syn, y_syn)}


# --------------------------------------------------------------------------- writing
def build_result(parts, *, command, seed, previous=None, date=None):
    """The BENCHMARKS.md-shaped dict; rows of datasets not in ``parts`` kept from ``previous``."""
    date = date or utc_now()
    datasets, rows = {}, []
    if previous:
        for name, cfg in previous.get("config", {}).get("datasets", {}).items():
            if name not in parts:
                datasets[name] = cfg
                rows += [r for r in previous.get("rows", []) if r.get("dataset") == name]
    for name, part in parts.items():
        datasets[name] = {**part["config"], "command": command, "date": date}
        rows += part["rows"]
    return _clean({
        "benchmark": NAME,
        "command": command,
        "date": date,
        "machine": machine(),
        "versions": versions(("diffusers", "scikit-learn")),
        "config": {"datasets": datasets},
        "seeds": [seed],
        "rows": rows,
    })


def _f(v, fmt=".2f"):
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, fmt)


def _row(result, dataset, method):
    for r in result["rows"]:
        if r.get("dataset") == dataset and r["method"] == method:
            return r
    return None


def _pc(row, metric, c):
    return row["metrics"].get(metric, {}).get("per_class", {}).get(str(c)) if row else None


def digits_markdown(result):
    cfg = result["config"]["datasets"]["digits_lt50"]
    ind = _row(result, "digits_lt50", "synaug_indomain")
    pre = _row(result, "digits_lt50", "synaug_pretrained")
    real = _row(result, "digits_lt50", "real_test_images")
    ctl = _row(result, "digits_lt50", "control_copies_resized")
    g, clf = cfg["generator"], cfg["fidelity_classifier"]
    lines = [
        "## Digits (FINDINGS split): in-domain vs pretrained on the disjoint pool",
        "",
        f"`{cfg['command']}` — {cfg['date']}",
        "",
        f"Data: {cfg['dataset']}: long-tailed train rows per class {cfg['long_tailed_counts']}, "
        f"disjoint pool {cfg['pool_counts']}, {cfg['n_test']} balanced test images (the "
        f"held-out reference). Both generators: UNet {g['block_out_channels']} at "
        f"{g['unet_size']}x{g['unet_size']} ({g['params'] / 1e6:.2f} M params), "
        f"{g['max_steps']} steps, batch {g['batch_size']}, lr {g['learning_rate']:g}, seed "
        f"{g['random_state']}; DDIM-{g['num_inference_steps']}, guidance "
        f"{g['guidance_scale']:g}; {cfg['n_generated_per_class']} images per class. "
        f"`synaug_pretrained` went through `save_pretrained` -> `from_pretrained` -> `fit` on "
        "the long-tailed rows (no fine-tuning).",
        f"Fidelity judge: {clf['model']}, {clf['epochs']} epochs on {clf['trained_on']}; test "
        f"accuracy {clf['test_accuracy']:.3f}. Novelty / diversity: {cfg['novelty_space']}; "
        "novelty ≈ 0: copies, ≈ 1: as new as unseen real images; diversity: mean pairwise "
        "distance of the generated images / that of the reference rows.",
        "",
        "| class | n LT | n pool | judge recall (real test) | in-domain fidelity "
        "| in-domain novelty vs LT | in-domain diversity | pretrained fidelity "
        "| pretrained novelty vs pool | pretrained novelty vs LT | pretrained diversity vs pool "
        "| pretrained diversity vs LT | exact copies after resize: novelty vs LT |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in range(len(cfg["long_tailed_counts"])):
        lines.append(
            f"| {c} | {cfg['long_tailed_counts'][c]} | {cfg['pool_counts'][c]} "
            f"| {_f(_pc(real, 'fidelity', c))} | {_f(_pc(ind, 'fidelity', c))} "
            f"| {_f(_pc(ind, 'novelty_vs_long_tailed', c))} "
            f"| {_f(_pc(ind, 'diversity_vs_long_tailed', c))} "
            f"| {_f(_pc(pre, 'fidelity', c))} | {_f(_pc(pre, 'novelty_vs_trained_rows', c))} "
            f"| {_f(_pc(pre, 'novelty_vs_long_tailed', c))} "
            f"| {_f(_pc(pre, 'diversity_vs_trained_rows', c))} "
            f"| {_f(_pc(pre, 'diversity_vs_long_tailed', c))} "
            f"| {_f(_pc(ctl, 'novelty_vs_long_tailed', c))} |")
    lines += ["", "Median nearest-neighbour distance to the long-tailed rows of the class "
              "(pixels in [0, 1], 64 of them), generated vs real test images vs exact copies "
              "of the long-tailed rows after the generator's resize round trip:", "",
              "| class | real test | in-domain | pretrained | exact copies after resize |",
              "|---|---|---|---|---|"]
    for c in range(len(cfg["long_tailed_counts"])):
        lines.append(f"| {c} | {_f(_pc(ind, 'nn_dist_heldout_vs_long_tailed', c))} "
                     f"| {_f(_pc(ind, 'nn_dist_generated_vs_long_tailed', c))} "
                     f"| {_f(_pc(pre, 'nn_dist_generated_vs_long_tailed', c))} "
                     f"| {_f(_pc(ctl, 'nn_dist_generated_vs_long_tailed', c))} |")
    if ctl:
        lines += ["", "`control_copies_resized`: the long-tailed rows themselves, cycled to "
                  f"{cfg['n_generated_per_class']} per class, passed through the generators' "
                  "resize 8x8 -> 16x16 (nearest) -> 8x8 (area) with no diffusion at all: the "
                  "novelty that pure copying scores in this pipeline. The round trip alone "
                  "changes a real image by "
                  f"{_f(ctl.get('resize_round_trip_mean_abs_error'))} on the 0-16 pixel scale "
                  "(mean absolute difference)."]
    lines += summary_table(result, "digits_lt50", cfg["few_classes"])
    lines += speed_table(pre, "digits: `synaug_pretrained`")
    lines += ["", "### What it shows", "", digits_what_it_shows(result), ""]
    return lines


def summary_table(result, dataset, few):
    lines = ["", f"Summary (mean over classes; few = the 3 rarest long-tailed classes {few}):",
             "", "| method | fidelity | fidelity few | novelty vs trained rows "
             "| novelty vs LT | novelty vs LT, few | diversity vs LT | copied classes vs LT "
             "(novelty < 0.3) |", "|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        if r.get("dataset") != dataset:
            continue
        m = r["metrics"]
        fid = m.get("fidelity", {})
        nov_t, nov_lt = m.get("novelty_vs_trained_rows", {}), m.get("novelty_vs_long_tailed", {})
        div = m.get("diversity_vs_long_tailed", {})
        cop = m.get("n_copying_classes_vs_long_tailed")
        cop = "–" if cop is None else f"{cop['mean']} {cop['classes']}"
        lines.append(
            f"| `{r['method']}` | {_f(fid.get('mean'))} | {_f(fid.get('few'))} "
            f"| {_f(nov_t.get('mean'))} | {_f(nov_lt.get('mean'))} | {_f(nov_lt.get('few'))} "
            f"| {_f(div.get('mean'))} "
            f"| {cop} |")
    return lines


def speed_table(row, what):
    if not row or "speed" not in row:
        return []
    s = row["speed"]
    lines = ["", f"Sampling speed ({what}; batch {s['batch']}, DDIM-{s['steps']}, one CPU "
             "thread unless stated in the machine line):", "",
             "| sampling | generate images/s (wall) | images / CPU s | bare UNet bound, "
             "images / CPU s | efficiency (CPU) | efficiency (wall) |",
             "|---|---|---|---|---|---|"]
    for name in ("guided", "unguided"):
        r = s[name]
        lines.append(
            f"| guidance {r['guidance_scale']:g} | {_f(r['images_per_s'], '.1f')} "
            f"| {_f(r['images_per_cpu_s'], '.1f')} "
            f"| {_f(r['unet_bound_images_per_cpu_s'], '.1f')} | {_f(r['efficiency'])} "
            f"| {_f(r['efficiency_wall'])} |")
    small = s.get("guided_small_batch")
    if small:
        lines.append(
            f"| guidance {small['guidance_scale']:g}, generation_batch_size "
            f"{small['generation_batch_size']} | {_f(small['images_per_s'], '.1f')} "
            f"| {_f(small['images_per_cpu_s'], '.1f')} | – | – | – |")
    sweep = s.get("forward_cpu_ms_per_image_by_rows")
    if sweep:
        lines += ["", "UNet forward pass, CPU ms per image by rows in the pass: "
                  + ", ".join(f"{k}: {_f(v)}" for k, v in sweep.items())
                  + f" (a guided batch of {s['batch']} sends {2 * s['batch']} rows)."]
    lines += ["", f"Guidance costs {_f(s['guidance_cost'])}x the unguided CPU time; one forward "
              f"pass of the doubled guided batch costs "
              f"{_f(s['guided'].get('forward_2b_over_2x_forward_b'))}x two passes of the single "
              "batch. Efficiency = bare UNet forward CPU time x steps / `generate` CPU time."]
    return lines


def _per_class_text(metrics, classes):
    """``"class: value, ..."``: the per-class values of ``metrics`` for ``classes``."""
    return ", ".join(f"{c}: {_f(metrics['per_class'].get(str(c)))}" for c in classes)


def _digits_copy_sentences(nov_i, ctl, tail, copied):
    """Sentences comparing the in-domain fill of the tail classes with exact copies."""
    if not ctl:
        return [f"Classes {copied} fall under the 0.3 copy threshold. "] if copied else []
    nov_c = ctl["novelty_vs_long_tailed"]
    close = [c for c in tail
             if (nov_i["per_class"].get(str(c)) or 9)
             <= 1.15 * (nov_c["per_class"].get(str(c)) or 0)]
    out = [
        f"Exact copies of the long-tailed rows, passed through the generator's own resize "
        f"(8x8 -> 16x16 -> 8x8), score {_per_class_text(nov_c, tail)} on those classes "
        f"({_f(nov_c['few'])} on the rarest 3): "]
    if close:
        out.append(
            f"for classes {close} the in-domain fill is within 15 % of (or below) what "
            "pure copies score, i.e. indistinguishable from copying. ")
    elif copied:
        out.append(
            f"the report flags the in-domain fill of classes {copied} as copying (novelty "
            "under its 0.3 threshold): those images are near-copies of the few rows they "
            "were trained on, although not pixel-exact ones. ")
    else:
        out.append("the in-domain fill stays clearly above what pure copies score. ")
    if not copied and not ctl["n_copying_classes_vs_long_tailed"]["classes"]:
        out.append(
            "The report's copy threshold (novelty < 0.3) flags none of it, because the "
            "resize blurs every sample (copies included) away from its source; for images "
            "under 16 pixels the threshold cannot fire here. ")
    return out


def _digits_pool_sentence(nov_i, nov_p, tail, pre_copied_lt):
    """The sentence on how new the pool generator's images are to the user's rows."""
    few_p = nov_p["few"] if nov_p["few"] is not None else float("nan")
    verdict = ("as new to the user's rows as unseen real digits" if 0.8 <= few_p <= 1.3
               else "farther from the user's rows than unseen real digits (check fidelity)"
               if few_p > 1.3 else "newer to the user's rows than the in-domain one"
               if (nov_p["few"] or 0) > (nov_i["few"] or 0) else "no newer to the user's rows")
    return (
        f"The generator trained on the disjoint pool is {verdict}: novelty against the "
        f"long-tailed rows {_f(nov_p['few'])} on the rarest 3 classes "
        f"({_per_class_text(nov_p, tail)} on the classes with ≤ 11 rows), "
        f"{_f(nov_p['mean'])} on average"
        + (f", classes {pre_copied_lt} copied. " if pre_copied_lt else ". "))


def _digits_fidelity_sentence(ind, pre, real):
    """The sentence on whether fidelity tells the two generators apart."""
    fi, fp = ind["fidelity"], pre["fidelity"]
    gap = abs((fi["mean"] or 0) - (fp["mean"] or 0))
    return (
        f"Fidelity {'does not separate them' if gap < 0.05 else 'differs'}: "
        f"{_f(fi['mean'])} (in-domain) vs {_f(fp['mean'])} (pretrained) on average, "
        f"{_f(fi['few'])} vs {_f(fp['few'])} on the rarest classes, with the judge at "
        f"{_f(real['fidelity']['mean'])} on real test images"
        + (" — copies are recognised as their class as readily as new images, so only "
           "novelty can tell a copied fill from a useful one. "
           if gap < 0.05 and min(fi["mean"] or 0, fp["mean"] or 0) >= 0.9 else ". "))


def _digits_own_pool_and_diversity(ind, pre, ctl, pool, pre_copied_own):
    """Sentences on the pool generator's novelty against its own pool, then on diversity."""
    nt = pre["novelty_vs_trained_rows"]
    out = [f"Against its own training pool the pool generator scores novelty "
           f"{_f(nt['mean'])} on average (class 0, with {pool[0]} pool images: "
           f"{_f(nt['per_class'].get('0'))})"]
    if pre_copied_own:
        out.append(f"; it copies its pool for classes {pre_copied_own}")
    out.append(". ")
    di, dp = ind["diversity_vs_long_tailed"], pre["diversity_vs_long_tailed"]
    low = max(di["mean"] or 0, dp["mean"] or 0) < 0.8
    out.append(
        f"Diversity relative to the long-tailed rows of the class is "
        f"{'low for both' if low else 'not low'}, "
        f"{_f(di['mean'])} (in-domain) vs {_f(dp['mean'])} (pretrained) on average")
    if ctl and low:
        out.append(
            f", and the resize alone explains much of it: the resized exact copies score "
            f"{_f(ctl['diversity_vs_long_tailed']['mean'])}")
    out.append(".")
    return out


def digits_what_it_shows(result):
    """The 'what it shows' paragraph, worded from the numbers (thresholds stated inline)."""
    cfg = result["config"]["datasets"]["digits_lt50"]
    ind = _row(result, "digits_lt50", "synaug_indomain")["metrics"]
    pre = _row(result, "digits_lt50", "synaug_pretrained")["metrics"]
    real = _row(result, "digits_lt50", "real_test_images")["metrics"]
    ctl_row = _row(result, "digits_lt50", "control_copies_resized")
    ctl = ctl_row["metrics"] if ctl_row else None
    counts, pool = cfg["long_tailed_counts"], cfg["pool_counts"]
    nov_i, nov_p = ind["novelty_vs_long_tailed"], pre["novelty_vs_long_tailed"]
    copied = ind["n_copying_classes_vs_long_tailed"]["classes"]
    pre_copied_lt = pre["n_copying_classes_vs_long_tailed"]["classes"]
    pre_copied_own = pre["n_copying_classes_vs_trained_rows"]["classes"]
    tail = [c for c in range(len(counts)) if counts[c] <= 11]
    head = [c for c in range(len(counts)) if counts[c] >= 18]
    out = [
        f"The in-domain generator's novelty against the user's rows falls with the class size: "
        f"{_f(_finite_mean([nov_i['per_class'].get(str(c)) for c in head]))} on average over "
        f"the classes with ≥ 18 rows, but on the classes with ≤ 11 rows "
        f"({_per_class_text(nov_i, tail)}) it drops to {_f(nov_i['few'])} on the rarest 3. "]
    out += _digits_copy_sentences(nov_i, ctl, tail, copied)
    out.append(_digits_pool_sentence(nov_i, nov_p, tail, pre_copied_lt))
    out.append(_digits_fidelity_sentence(ind, pre, real))
    out += _digits_own_pool_and_diversity(ind, pre, ctl, pool, pre_copied_own)
    return "".join(out)


def fashion_markdown(result):
    cfg = result["config"]["datasets"]["fashion_mnist"]
    pre = _row(result, "fashion_mnist", "synaug_pretrained")
    real = _row(result, "fashion_mnist", "real_test_images")
    from synaug_learn.datasets import FASHION_MNIST_CLASSES

    g, clf = cfg["generator"], cfg["fidelity_classifier"]
    lines = [
        "## Fashion-MNIST: the shipped `fashion-mnist-small` generator",
        "",
        f"`{cfg['command']}` — {cfg['date']}",
        "",
        f"Generator: `{g['folder']}` (UNet {g['block_out_channels']} at {g['unet_size']}x"
        f"{g['unet_size']}, {g['params'] / 1e6:.2f} M params, {g['trained_steps']} training "
        f"steps) on its pool ({cfg['pool']['n']} training rows {cfg['pool']['rows']}; rebuilt "
        f"pool matches the saved training-data hash: {cfg['pool']['matches_training_data_sha256']}"
        f"); {cfg['n_generated_per_class']} images per class, DDIM-{g['num_inference_steps']}, "
        f"guidance {g['guidance_scale']:g}, seed {cfg['seed']}. User data (LT): "
        f"{cfg['long_tailed']['how']}, counts {cfg['long_tailed']['counts']}.",
        f"Fidelity judge: {clf['model']}, {clf['epochs']} epochs on {clf['trained_on']}; "
        f"test accuracy {clf['test_accuracy']:.3f}. Novelty / diversity: {cfg['novelty_space']}.",
        "",
        "| class | judge recall (real test) | fidelity | novelty vs pool | novelty vs LT "
        "| diversity vs pool | diversity vs LT | NN dist generated→pool | NN dist test→pool |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in range(10):
        lines.append(
            f"| {c} {FASHION_MNIST_CLASSES[c]} | {_f(_pc(real, 'fidelity', c))} "
            f"| {_f(_pc(pre, 'fidelity', c))} | {_f(_pc(pre, 'novelty_vs_trained_rows', c))} "
            f"| {_f(_pc(pre, 'novelty_vs_long_tailed', c))} "
            f"| {_f(_pc(pre, 'diversity_vs_trained_rows', c))} "
            f"| {_f(_pc(pre, 'diversity_vs_long_tailed', c))} "
            f"| {_f(_pc(pre, 'nn_dist_generated_vs_trained_rows', c))} "
            f"| {_f(_pc(pre, 'nn_dist_heldout_vs_trained_rows', c))} |")
    lines += summary_table(result, "fashion_mnist", cfg["few_classes"])
    lines += speed_table(pre, f"Fashion-MNIST: shipped generator, UNet at {g['unet_size']}x"
                              f"{g['unet_size']}")
    m = pre["metrics"]
    low = sorted(((v, int(c)) for c, v in m["fidelity"]["per_class"].items() if v is not None))
    lines += ["", "### What it shows", "",
              f"The shipped generator's images are recognised as their class "
              f"{_f(m['fidelity']['mean'])} of the time on average (the judge scores "
              f"{_f(real['metrics']['fidelity']['mean'])} on real test images); the weakest "
              "classes are " + ", ".join(f"{FASHION_MNIST_CLASSES[c]} ({_f(v)})"
                                         for v, c in low[:3])
              + f". Novelty against its own pool is {_f(m['novelty_vs_trained_rows']['mean'])} "
              f"(min {_f(m['novelty_vs_trained_rows']['min'])}) and against the long-tailed "
              f"user split {_f(m['novelty_vs_long_tailed']['mean'])} (rarest classes "
              f"{_f(m['novelty_vs_long_tailed']['few'])}): "
              + ("no class is a copy of its training images"
                 if not m["n_copying_classes_vs_trained_rows"]["classes"]
                 else f"classes {m['n_copying_classes_vs_trained_rows']['classes']} copy")
              + f". Diversity vs the pool is {_f(m['diversity_vs_trained_rows']['mean'])} "
              "(1 = as spread as the real images of the class). Sampling at DDIM-"
              f"{pre['speed']['steps']} with guidance runs at "
              f"{_f(pre['speed']['guided']['images_per_s'], '.1f')} images/s wall "
              f"({_f(pre['speed']['guided']['images_per_cpu_s'], '.1f')} per CPU second) on "
              "this machine; " + speed_sentence(pre["speed"]), ""]
    return lines


def speed_sentence(speed):
    """Where sampling time goes, in words: overhead, guidance, batch size."""
    g, u = speed["guided"], speed["unguided"]
    text = (f"the UNet forward passes account for {_f(g['efficiency'])} (guided) / "
            f"{_f(u['efficiency'])} (unguided) of `generate`'s CPU time, so the sampler adds "
            f"{'almost nothing' if min(g['efficiency'], u['efficiency']) > 0.9 else 'overhead'}"
            f" around the network; guidance costs {_f(speed['guidance_cost'])}x.")
    return text + batch_sentence(speed)


def batch_sentence(speed):
    """A sentence when the guided batch is past the CPU's sweet spot ('' otherwise)."""
    text = ""
    sweep = speed.get("forward_cpu_ms_per_image_by_rows")
    if sweep:
        rows = {int(k): v for k, v in sweep.items() if v is not None}
        best = min(rows, key=rows.get)
        sent = 2 * speed["batch"]
        if sent in rows and rows[sent] > 1.15 * rows[best]:
            text += (f" Per image, a forward pass of {sent} rows (a guided batch of "
                     f"{speed['batch']}) costs {_f(rows[sent])} ms of CPU against "
                     f"{_f(rows[best])} ms at {best} rows")
            small = speed.get("guided_small_batch")
            if small:
                text += (f"; measured: guided sampling with `generation_batch_size="
                         f"{small['generation_batch_size']}` runs at "
                         f"{_f(small['images_per_cpu_s'], '.1f')} images per CPU second, "
                         f"{_f(small['speedup_cpu'])}x the rate at {speed['batch']}.")
            else:
                text += (f": a smaller `generation_batch_size` (about {max(best // 2, 1)} with "
                         "guidance) should sample faster on this CPU.")
    return text


def markdown(result):
    lines = [
        "# Generator quality: copying, fidelity and sampling speed",
        "",
        f"`{result['command']}` — {result['date']} (each section names its own run)",
        "",
        *machine_lines(result, "shared machine: wall-clock speeds are noisy; CPU-time ratios "
                               "less so"),
        "",
    ]
    datasets = result["config"]["datasets"]
    if "digits_lt50" in datasets:
        lines += digits_markdown(result)
    if "fashion_mnist" in datasets:
        lines += fashion_markdown(result)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- model card
def _sampling_line(meta):
    """The model card's sentence on how the model samples by default (its "sampling" block)."""
    saved = meta.get("sampling") or {}
    if saved.get("scheduler", "ddim") == "ddim" and "num_inference_steps" not in saved:
        return "Sampled with DDIM (`clip_sample=False`)."
    from synaug_learn.generators._sampling import SCHEDULER_NAMES

    return (f"Sampled by default with {SCHEDULER_NAMES[saved['scheduler']]} at "
            f"{saved['num_inference_steps']} steps, guidance {saved.get('guidance_scale', 1.5)} "
            "(the setting `benchmarks/generation_speed.py` recommends: fewest passes within 2 "
            "points of DDIM-20's fidelity and 1 point of its downstream accuracy on held-out "
            "rows); any `from_pretrained` parameter overrides it.")


def _card_class_table(pre, real):
    """The model card's per-class table: judge recall, fidelity, novelty and diversity."""
    from synaug_learn.datasets import FASHION_MNIST_CLASSES

    m = pre["metrics"]
    per_class = []
    for c in range(10):
        per_class.append(
            f"| {c} | {FASHION_MNIST_CLASSES[c]} | {_f(_pc(real, 'fidelity', c))} "
            f"| {_f(_pc(pre, 'fidelity', c))} | {_f(_pc(pre, 'novelty_vs_trained_rows', c))} "
            f"| {_f(_pc(pre, 'novelty_vs_long_tailed', c))} "
            f"| {_f(_pc(pre, 'diversity_vs_trained_rows', c))} |")
    return "\n".join([
        "| label | class | judge recall (real test) | fidelity | novelty vs pool "
        "| novelty vs LT split | diversity vs pool |",
        "|---|---|---|---|---|---|---|",
        *per_class,
        f"| | **mean** | **{_f(real['metrics']['fidelity']['mean'])}** "
        f"| **{_f(m['fidelity']['mean'])}** | **{_f(m['novelty_vs_trained_rows']['mean'])}** "
        f"| **{_f(m['novelty_vs_long_tailed']['mean'])}** "
        f"| **{_f(m['diversity_vs_trained_rows']['mean'])}** |",
    ])


def _card_intro(name):
    """The model card's title, what the model is, and how to load it (markdown)."""
    return f"""# `{name}`: a small class-conditional diffusion generator for Fashion-MNIST

A stand-in for "a generator that has seen the concepts elsewhere" (one that brings what a
long-tailed split lacks): a
class-conditional DDPM (diffusers `UNet2DModel`) trained on a balanced pool of Fashion-MNIST
training images (rows 50000..59999) that long-tailed splits drawn from rows 0..49999 — as
`synaug demo` draws them — never contain. Load it by name:

```python
from synaug_learn.generators import ConditionalDiffusionGenerator
gen = ConditionalDiffusionGenerator.from_pretrained("{name}", guidance_scale=1.5,
                                                    num_inference_steps=20)
gen.fit(X_lt, y_lt)   # only checks classes (0-9) and image shape (28x28 grey); no training
```

"""


def _card_training_data(cfg):
    """The model card's "Training data" section (markdown)."""
    tr, meta = cfg.get("training") or {}, cfg["meta"]
    hash_ok = cfg["pool"]["matches_training_data_sha256"]
    return f"""## Training data

- {tr.get('dataset', 'Fashion-MNIST train split')}; pool: {tr.get('pool_rows', '?')} —
  {tr.get('n_images', '?')} images, balanced over the 10 classes.
- Disjoint from: {tr.get('disjoint_from', '?')}. Never saw the test set.
- SHA-256 of the training arrays (`training_data_sha256`): `{meta.get('training_data_sha256')}`
  (the evaluation below rebuilt the pool and matched it: {hash_ok}).
- To stay disjoint from this pool, draw long-tailed splits from rows below 50000:
  `load_fashion_mnist_lt(..., pool_start=FASHION_MNIST_POOL_START)` does (and returns this pool
  with `pool_per_class=900`), as `synaug demo` and `benchmarks/long_tail.py` do; the default
  `pool_start=None` draws from all 60,000 rows and can overlap it.

"""


def _card_architecture(cfg):
    """The model card's "Architecture" and "Training" sections (markdown)."""
    tr, uc, meta = cfg.get("training") or {}, cfg["unet_config"], cfg["meta"]
    g = cfg["generator"]
    steps = tr.get("steps", meta.get("trained_steps"))
    side, h = meta.get("image_size"), meta.get("height")
    pad = ("the images' own size" if side == h
           else f"{h}x{meta.get('width')} images are padded or resized to it")
    down = ", ".join(uc.get("down_block_types", []))
    up = ", ".join(uc.get("up_block_types", []))
    return f"""## Architecture

`UNet2DModel` at {uc.get('sample_size')}x{uc.get('sample_size')} ({pad}),
{uc.get('in_channels')} channel in/out, block channels {uc.get('block_out_channels')},
{uc.get('layers_per_block')} ResNet layer per block, down blocks ({down}), up blocks ({up}),
GroupNorm groups {uc.get('norm_num_groups')}, attention head dim {uc.get('attention_head_dim')},
class embedding with {uc.get('num_class_embeds')} rows (10 classes + 1 "no condition" row for
classifier-free guidance); {g['params'] / 1e6:.2f} M parameters. DDPM noise-prediction loss,
{meta.get('num_train_timesteps')} diffusion timesteps. {_sampling_line(meta)}

## Training

{steps} optimiser steps (AdamW, lr {tr.get('learning_rate', '?')},
batch {tr.get('batch_size', '?')}, class-balanced batches, condition dropout 0.1, EMA 0.999 —
the weights are the EMA weights), seed {tr.get('seed', '?')}, on {tr.get('device', '?')} in
{tr.get('minutes', '?')} minutes (`scripts/pretrain_generator.py`).

"""


def _card_evaluation(cfg, pre, real):
    """The model card's "Evaluation" section up to the sampling speed (markdown)."""
    m, clf, g = pre["metrics"], cfg["fidelity_classifier"], cfg["generator"]
    table = _card_class_table(pre, real)
    return f"""## Evaluation

`{cfg['command']}` ({cfg['date']}): {cfg['n_generated_per_class']} images per class,
DDIM-{g['num_inference_steps']}, guidance {g['guidance_scale']:g},
`generate(random_state={cfg['seed']})`.

- **Fidelity**: share of generated images that a real-data classifier assigns to the intended
  class. Judge: {clf['model']}, {clf['epochs']} epochs on {clf['trained_on']}; test accuracy
  {clf['test_accuracy']:.3f} (its per-class recall on real test images is the first column:
  the ceiling fidelity can reach with this judge).
- **Novelty** (`synaug_learn.metrics.synthetic_report`, pixels in [0, 1]): median distance from
  a generated image to its nearest real image of the class in the reference set, divided by the
  same for the real *test* images (held out). ≈ 0: copies; ≈ 1: as new as unseen real images.
  Reference sets: the pool it was trained on, and the demo's long-tailed split
  ({cfg['long_tailed']['how']}; counts {cfg['long_tailed']['counts']}).
- **Diversity**: mean pairwise distance among generated images / among the pool images of the
  class.

{table}

Classes under the copy threshold (novelty < 0.3) vs the pool:
{m['n_copying_classes_vs_trained_rows']['classes'] or 'none'}; vs the long-tailed split:
{m['n_copying_classes_vs_long_tailed']['classes'] or 'none'}.

"""


def _card_speed(mach, s):
    """The model card's paragraph on sampling speed (markdown)."""
    return f"""\
**Sampling speed** on the machine of the evaluation ({mach['cpu_cores']} CPU cores, shared,
torch threads {mach['torch_threads']}), batch {s['batch']}, DDIM-{s['steps']}:
{_f(s['guided']['images_per_s'], '.1f')} images/s with guidance {s['guided']['guidance_scale']:g}
({_f(s['guided']['images_per_cpu_s'], '.1f')} per CPU second),
{_f(s['unguided']['images_per_s'], '.1f')} images/s without
({_f(s['unguided']['images_per_cpu_s'], '.1f')} per CPU second); the bare UNet forward passes
are {_f(s['guided']['efficiency'])} (guided) / {_f(s['unguided']['efficiency'])} (unguided)
of `generate`'s CPU time. Wall-clock numbers depend on the machine's load.
{batch_sentence(s).strip()}

"""


def _card_use_and_limits(cfg, folder):
    """The model card's "Intended use", "Limitations" and "Reproduce" sections (markdown)."""
    g, meta = cfg["generator"], cfg["meta"]
    return f"""## Intended use

A stand-in for a generator pretrained elsewhere, for the package's demo, tests and benchmarks:
filling the deficits of long-tailed splits drawn from Fashion-MNIST training rows 0..49999
and evaluated on the test set, both disjoint from its training data. It shows what
synthetic fill does when the generator holds knowledge the user's data lacks.

## Limitations

- 28x28 grey images only, the 10 Fashion-MNIST classes only (labels 0-9; other labels need
  `class_mapping` or `fine_tune`); nothing outside Fashion-MNIST.
- A small model ({g['params'] / 1e6:.2f} M parameters, {meta.get('trained_steps')} steps on CPU):
  images are recognisable but coarser than real ones; look at the fidelity of the weakest
  classes above before relying on them.
- Not disjoint from `load_fashion_mnist_lt` splits with the default `pool_start=None` (they
  draw from all 60,000 training rows), nor from any data that includes training rows
  50000..59999.
- Fine-tuning it on a few tail images turns it back into a copier (measured: 300 steps on a
  long-tailed split cost 9.8 points of balanced accuracy); check the
  novelty report (`SynAugSampler.report_`) if you use `fine_tune`.
- Fashion-MNIST is © Zalando SE, MIT licence.

## Reproduce

```
python scripts/pretrain_generator.py --minutes 45          # training (CPU)
python benchmarks/generator_quality.py --datasets fashion --model-card {folder}
```
"""


def model_card(result, folder):
    """The README.md of the shipped generator, from a result holding the fashion_mnist rows."""
    cfg = result["config"]["datasets"]["fashion_mnist"]
    pre = _row(result, "fashion_mnist", "synaug_pretrained")
    real = _row(result, "fashion_mnist", "real_test_images")
    return "".join([
        _card_intro(Path(folder).name),
        _card_training_data(cfg),
        _card_architecture(cfg),
        _card_evaluation(cfg, pre, real),
        _card_speed(result["machine"], pre["speed"]),
        _card_use_and_limits(cfg, folder),
    ])


# --------------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1: fair on a shared machine; 0: torch's default)")
    p.add_argument("--out", type=Path, default=None,
                   help=f"results folder (default {RESULTS}; with --quick a temporary folder)")
    p.add_argument("--datasets", default="digits,fashion",
                   help="comma-separated: digits, fashion (fashion is skipped when no weights)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps", type=int, default=1500, help="digits generators' budget")
    p.add_argument("--blocks", type=int, nargs="+", default=[32, 64, 64])
    p.add_argument("--guidance", type=float, default=1.5)
    p.add_argument("--steps", type=int, default=20, help="DDIM steps")
    p.add_argument("--n-per-class", type=int, default=50)
    p.add_argument("--clf-epochs-digits", type=int, default=30)
    p.add_argument("--speed-batch", type=int, default=256)
    p.add_argument("--speed-repeats", type=int, default=3)
    p.add_argument("--speed-sweep", type=int, nargs="*", default=[32, 64, 128, 256, 512],
                   help="rows per UNet forward pass to time (CPU ms per image)")
    p.add_argument("--fashion-generator", type=Path, default=None,
                   help=f"folder of the generator (default: {SHIPPED} or {PRETRAIN_OUT})")
    p.add_argument("--fashion-n-per-class", type=int, default=100)
    p.add_argument("--fashion-guidance", type=float, default=1.5)
    p.add_argument("--clf-epochs-fashion", type=int, default=5)
    p.add_argument("--fashion-clf-rows", type=int, default=0, help="0: all 50000")
    p.add_argument("--model-card", type=Path, default=None,
                   help="evaluate the generator in this folder and write its README.md")
    p.add_argument("--render-only", action="store_true",
                   help="rewrite the markdown (and --model-card's README) from the existing "
                        "json; run nothing")
    args = p.parse_args(argv)
    if args.quick:
        args.max_steps, args.n_per_class, args.clf_epochs_digits = 30, 8, 5
        args.speed_batch, args.speed_repeats, args.steps = 16, 1, 5
        args.speed_sweep = [4, 8]
        args.fashion_n_per_class, args.clf_epochs_fashion = 4, 1
        args.fashion_clf_rows = args.fashion_clf_rows or 3000
    if args.out is None:
        quick_out = Path(tempfile.gettempdir()) / "generator_quality_quick"
        args.out = quick_out if args.quick else RESULTS
    if args.model_card is not None:
        args.fashion_generator = args.model_card
        if "fashion" not in args.datasets:
            args.datasets += ",fashion"
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.render_only:
        result = json.loads((args.out / f"{NAME}.json").read_text())
        (args.out / f"{NAME}.md").write_text(markdown(result))
        if args.model_card is not None:
            (Path(args.model_card) / "README.md").write_text(model_card(result, args.model_card))
        return result
    set_threads(args.threads)
    wanted = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = set(wanted) - {"digits", "fashion"}
    if unknown:
        raise SystemExit(f"unknown --datasets {sorted(unknown)}; use digits, fashion")
    command = "python " + " ".join([Path(sys.argv[0]).as_posix() if argv is None
                                    else "benchmarks/generator_quality.py",
                                    *(sys.argv[1:] if argv is None else argv)])
    started = time.time()

    def log(msg):
        print(f"[{time.time() - started:6.0f} s] {msg}", flush=True)

    parts = {}
    if "digits" in wanted:
        parts["digits_lt50"] = run_digits(args, log)
    if "fashion" in wanted:
        folder = find_fashion_generator(args.fashion_generator)
        if folder is None:
            log(f"fashion: no generator weights found ({args.fashion_generator or SHIPPED}, "
                f"{PRETRAIN_OUT}); skipped")
        else:
            parts["fashion_mnist"] = run_fashion(args, folder, log)
    if not parts:
        raise SystemExit("nothing was run")
    json_path = args.out / f"{NAME}.json"
    previous = json.loads(json_path.read_text()) if json_path.is_file() and not args.quick else None
    result = build_result(parts, command=command, seed=args.seed, previous=previous)
    result["total_wall_s"] = round(time.time() - started, 1)
    paths = write_results(result, markdown, args.out)
    log(f"wrote {paths[0]} and {paths[1]}")
    if args.model_card is not None and "fashion_mnist" in parts:
        card = Path(args.model_card) / "README.md"
        card.write_text(model_card(result, args.model_card))
        log(f"wrote {card}")
    print(markdown(result))
    return result


if __name__ == "__main__":
    main()
