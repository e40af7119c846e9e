"""Group imbalance: can generated (class, group) cells beat Group DRO, DFR and JTT, even unseen?

Tasks (binary image classification; the groups are the (class, ``a``) cells;
``a`` is tied to the label in training and independent of it in the test set):

* ``spurious_colour`` (Waterbirds-like): Fashion-MNIST "Pullover" (0) vs
  "Coat" (1), background tinted by
  :func:`synaug_learn.datasets.make_spurious_colour`; ``a`` = the colour;
  train P(colour = the class's own) = ``--correlation`` (0.95), test 0.5.
* ``fairness``: Fashion-MNIST "T-shirt/top" (0) vs "Shirt" (1) with a
  synthetic sensitive attribute ``a`` ("washed-out capture": pixel -> 96 +
  0.625 * pixel when ``a = 1``); train P(a = label) = ``--fair-correlation``
  (0.9), test P(a = 1) = 0.5. ``--utkface PATH`` uses UTKFace instead (label =
  gender, ``a`` = White vs other).
* ``spurious_colour_unseen`` / ``fairness_unseen``: the same, but the
  *minority* cells (fewer than half the rows of the largest) have **no**
  training rows at all; their test rows stay. Only composition can fill them.

Every task's training rows are split once (``--val-fraction``, stratified by
cell, fixed by ``--data-seed``) into the rows every method fits on and a
validation split. Model selection (JTT's settings, the reference baseline,
the SynAug row reported as chosen) uses validation worst-group accuracy only;
the test set is scored once per fitted model, for the report. On an unseen
task the validation split has no rows of the empty cells either, so its
worst group is taken over the cells it has.

Rows (method names of BENCHMARKS.md; every net is the same
``MixupNetClassifier("small_cnn")``, Mixup off unless the row says so, the
same epochs, batch and learning rate):

* ``erm``; ``group_dro`` (``loss="group_dro"`` on the cells); ``dfr``
  (``RetrainClassifier(balance="group")``: head re-fitted on a cell-balanced
  subsample of the training rows); ``ros_group`` (every cell duplicated up to
  the largest); ``jtt`` (Just Train Twice, Liu et al. 2021: ERM for T epochs,
  its misclassified training rows up-sampled lambda times, ERM again; T in
  ``--jtt-epochs``, lambda in ``--jtt-upweights``, chosen on validation).
  On an unseen task ``group_dro``, ``dfr`` and ``ros_group`` need rows of the
  empty cells: their rows say "cannot run: empty cell ..." and why.
* ``pool_dfr``, ``pool_retrain`` (with ``--pretrained-generator``; "why not
  just use the data?"): the pretrained generator's own pool, rebuilt from its
  ``pool_rows.json`` and checked against its training-data hash, used as real
  rows: the net trained on the task's rows plus every pool image (the other
  classes too), then its head re-fitted on the task's real rows, balanced over
  cells (``pool_dfr``, DFR's rule; cannot run on an unseen task) or over
  classes (``pool_retrain``); only the task's classes can be predicted.
* ``synaug_<generator>_<variant>``. Generators: ``joint`` / ``factorized``
  (in-domain ``ConditionalDiffusionGenerator(conditioning=...)`` trained once
  per task on the task's training rows, ``--gen-steps``), ``pretrained``
  (``--pretrained-generator PATH``, e.g. an attribute-aware model pretrained
  elsewhere by ``scripts/pretrain_attribute_generator.py``; skipped with the
  reason when not given; when the folder lists its pool in ``pool_rows.json``
  the task config records how many of the task's images it holds,
  ``pretrained_pool_overlap``, and a non-zero count is printed; each attribute
  has its own generator, so run the tasks of one attribute with theirs: the
  task config records it, ``pretrained``, and ``--merge`` refuses pieces of
  one task that used different ones), ``jitter``
  (``JitterGenerator``, not in the default set). Every fill is
  ``SynAugSampler(fill_grid=True)``: every cell of the class x ``a`` grid up to
  the largest, empty cells included (a generator that cannot compose says so
  and the row says "cannot run"). Variants: ``fill`` (the filled set),
  ``share`` (``synthetic_share=--synthetic-share``: every cell, majority ones
  too, that share generated), ``two_stage`` (``two_stage_epochs``: then
  fine-tuned on the real rows), ``mixup`` (``mixup_pairing="real_synthetic"``),
  ``dfr`` (``RetrainClassifier(balance="group")`` on top, re-fitted on real
  rows; on an unseen task on the filled rows, the only rows of the empty
  cells), ``regen`` and ``regen_dfr`` (the fill with every real row redrawn by
  the generator, ``regenerate_real=--regen-strength``, default 0.5, so that real
  and generated rows share its look; then as ``fill`` and as ``dfr``, whose head is re-fitted on the
  real rows as they are), ``regen_share`` and ``regen_share_dfr`` (the same on
  the equal-share fill, so that every cell holds generated rows too),
  ``regen_exact`` and ``regen_exact_dfr`` (``share_mode="exact"``: every cell
  with real rows exactly ``--synthetic-share`` generated, the rest its real rows
  and copies of them, each copy redrawn with its own noise, so that neither the
  look nor the cell tells generated rows; with ``share`` a small cell is almost
  wholly generated); ``regen_adabn``, ``regen_adabn_dfr`` and
  ``regen_exact_adabn_dfr`` (as without ``adabn``, the net's BatchNorm
  statistics then re-estimated on the real rows as they are,
  ``SyntheticAwareClassifier(adapt_batchnorm=True)``). The net
  learns which rows were generated from ``SyntheticAwareClassifier``.
  ``--methods`` takes names or shell patterns (``'synaug_factorized_*'``); the
  default is every baseline and every
  joint / factorized / pretrained variant.

Each generator's rows are generated once per seed (timed, ``generation_wall_s``)
into an on-disk bank and read back by every variant. Each fill is judged by a
real-vs-generated detector (logistic regression on pixels, 5-fold
cross-validated, as many real as generated rows): over the whole filled
training set (does "generated" carry information a net could use? also by the
rows' small CNN, ``--cnn-detector-folds``-fold; the goal is judged on the
higher of the two), cell-matched (as many real as generated rows from each
cell, so that only their look, not the cells they sit in, tells them apart;
logistic regression: a minority-cell fill leaves ~100 such rows a side, too
few for the CNN to train) and per cell (a cell without real training rows is compared
with real images of that cell from the judge pool); and by two small CNNs
trained on other real images where ``a`` is independent of the label (share
of generated minority rows given the intended label and ``a``). With
``--regen-strength 1`` every training row is generated (a redraw from the first
step of DDIM-10 keeps 1.6 % of its real row): no real row sits beside generated ones and
the goal does not apply. Besides the SynAug row chosen on validation, the report
names the one chosen on validation among the fills that meet the detector goal
(a property of the training set): the recipe that meets both goals.

Resumable and splittable: every (task, method, seed) result and every fill is
written to ``--work`` (default ``benchmarks/.work/groups``) as it finishes, and
a re-run with the same settings reuses them (and the trained generators);
``--seeds 0:2``, ``--tasks``, ``--methods`` split a long run, and
``--merge A.json B.json ... --out DIR`` joins the results files of the pieces.
Writes ``OUT/NAME.{md,json}`` (``--name``, default ``groups``); ``--render``
computes the rows and choices anew from the records stored in the json and rewrites both
(e.g. after adding hand-written ``"notes"``, or a change of the report's rules).
``--select A.json B.json ... --name NAME`` ranks every SynAug recipe of several results
files of the same tasks, data and seeds (follow-up runs that add variants, or another
``--regen-strength``) together on their shared validation split, so that "chosen on
validation" means over everything tried (``groups_selection.md``).

The full run (4 tasks, 5 seeds, default methods) in pieces of at most ~45 min
each, as measured with short runs at full data size on a loaded 2-core machine
(one torch thread; an idle core is about 1.7x faster): an in-domain generator
trains in ~11 (joint) / ~15 (factorised) min, once per task, in the task's
first piece; a seed costs ~14.5 min on a task with every cell (baselines ~2
min, JTT most of it; four fills ~8 min with their detectors; ten SynAug rows
~4.5 min) and ~7 min on an unseen task. The last fairness run took ~26 min a
seed on one torch thread (JTT's search ~8 of them, the fills ~10). Run a
task's pieces one after another (they share its generators in ``--work``); the
two lanes below can run side by side, one per core::

    P="python benchmarks/groups.py"; O=benchmarks/results/groups_parts
    for t in spurious_colour fairness; do  # one lane per task family
      $P --tasks $t --seeds 0:1 --out $O/$t-0            # ~41 min (generators)
      $P --tasks $t --seeds 1:4 --out $O/$t-1            # ~44 min
      $P --tasks $t --seeds 4:5 --out $O/$t-4            # ~15 min
      $P --tasks ${t}_unseen --seeds 0:3 --out $O/${t}_unseen-0  # ~36 min
      $P --tasks ${t}_unseen --seeds 3:5 --out $O/${t}_unseen-3  # ~14 min
    done
    $P --merge $O/*/groups.json --out benchmarks/results

A piece that is killed resumes where it stopped when run again. With
``--pretrained-generator PATH`` each seed costs ~9 min more per task (two
more fills, five more SynAug rows, and the two pool rows at ~80 s each, as
they train on the 6,000 pool images too): split ``--seeds 1:4`` into ``1:3``
and ``3:4``.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import time
import warnings
from pathlib import Path

import torch
from _groups_data import TASKS, base_task, cell_counts, make_task
from _groups_methods import (
    BASELINES,
    REGEN_STRENGTH,
    cannot_run_reason,
    evaluate,
    fill_kind,
    fit_baseline,
    fit_synaug,
    parse_synaug,
    prepare_fill,
    pretrained_pool_overlap,
    synaug_methods,
    train_generator,
    train_judges,
    uses_pretrained,
)
from _groups_report import GOALS, build_result, markdown, rebuild, select_across, selection_markdown
from _results import (
    RESULTS,
    command,
    git_revision,
    machine,
    merge_records,
    utc_now,
    versions,
    write_results,
)

NAME = "groups"
ALL_METHODS = (*BASELINES, *synaug_methods())
DEFAULT_METHODS = (*BASELINES, *synaug_methods(("joint", "factorized", "pretrained")))
WORK = Path(__file__).resolve().parent / ".work" / NAME
# arguments that do not change any number (where to write, which pieces to run)
NOT_SETTINGS = {"seeds", "tasks", "methods", "out", "work", "threads", "render", "merge",
                "quick", "name", "select"}
# settings added later, recorded only away from the value that earlier results used implicitly
IMPLICIT_SETTINGS = {"regen_strength": REGEN_STRENGTH}


def parse_seeds(text):
    """``"5"`` -> 0..4; ``"3:5"`` -> 3, 4; ``"0,2"`` -> 0, 2."""
    if "," in text:
        return [int(s) for s in text.split(",")]
    if ":" in text:
        a, b = text.split(":")
        return list(range(int(a), int(b)))
    return list(range(int(text)))


def resolve_methods(patterns):
    """Method names from names or shell patterns, in ``ALL_METHODS`` order."""
    unknown = [p for p in patterns if not fnmatch.filter(ALL_METHODS, p)]
    if unknown:
        raise SystemExit(f"--methods: {unknown} match no method; known: {list(ALL_METHODS)}")
    return [m for m in ALL_METHODS if any(fnmatch.fnmatch(m, p) for p in patterns)]


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=parse_seeds, default=parse_seeds("5"),
                   help="N (0..N-1), A:B (A..B-1) or a comma list")
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    p.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS),
                   help=f"names or shell patterns; known: {' '.join(ALL_METHODS)}")
    p.add_argument("--quick", action="store_true",
                   help="a tiny configuration (seconds): for smoke tests, not for results")
    p.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--work", type=Path, default=WORK,
                   help="per-seed results, trained generators and the bank (resumable)")
    p.add_argument("--render", action="store_true", help="only rewrite OUT/NAME.md")
    p.add_argument("--name", default=NAME,
                   help="results file name, OUT/NAME.{json,md} (default groups)")
    p.add_argument("--merge", nargs="+", type=Path, default=None,
                   help="join these groups.json files (pieces of one run) into OUT")
    p.add_argument("--select", nargs="+", type=Path, default=None,
                   help="rank every SynAug recipe of these results files (runs of the same "
                        "tasks, data and seeds) together on their validation split; writes "
                        "OUT/NAME.{json,md}")
    p.add_argument("--pretrained-generator", default=None,
                   help="folder of a pretrained attribute-aware ConditionalDiffusionGenerator")
    p.add_argument("--pretrained-guidance-rule", default=None, choices=["joint", "composable"],
                   help="sample the pretrained generator with this rule (default: its own)")
    p.add_argument("--pretrained-guidance-scale", type=float, nargs="+", default=None,
                   help="... and this scale (two numbers, w_class w_group, for 'composable'); "
                        "benchmarks/groups_guidance.py chooses them without test rows")
    p.add_argument("--dataset", default="fashion_mnist", choices=["fashion_mnist", "digits"])
    p.add_argument("--utkface", default=None, help="UTKFace folder for the fairness tasks")
    p.add_argument("--utkface-size", type=int, default=32)
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--image-size", type=int, default=14)
    p.add_argument("--n-per-class", type=int, default=1000, help="training images per class")
    p.add_argument("--n-test-per-class", type=int, default=1000)
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--correlation", type=float, default=0.95)
    p.add_argument("--fair-correlation", type=float, default=0.9)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--jtt-epochs", type=int, nargs="+", default=[1, 3])
    p.add_argument("--jtt-upweights", type=int, nargs="+", default=[5, 20, 50])
    p.add_argument("--synthetic-share", type=float, default=0.5)
    p.add_argument("--regen-strength", type=float, default=REGEN_STRENGTH,
                   help="regenerate_real of the regen variants (1.0: every real row replaced "
                        "by a fresh sample of its cell)")
    p.add_argument("--two-stage-epochs", type=int, default=5)
    p.add_argument("--mixup-alpha", type=float, default=1.0)
    p.add_argument("--gen-channels", type=int, nargs="+", default=[32, 64, 64])
    p.add_argument("--gen-steps", type=int, default=2000)
    p.add_argument("--gen-minutes", type=float, default=None)
    p.add_argument("--gen-batch-size", type=int, default=64)
    p.add_argument("--gen-sampling-steps", type=int, default=10, help="DDIM steps")
    p.add_argument("--guidance-scale", type=float, default=1.5)
    p.add_argument("--guidance-rule", default="joint", choices=["joint", "composable"])
    p.add_argument("--detector-max", type=int, default=1000,
                   help="at most this many real and as many generated rows per detector")
    p.add_argument("--cnn-detector-folds", type=int, default=3,
                   help="folds of the small-CNN detector on the whole filled set (0: none)")
    return p


QUICK = dict(n_per_class=60, n_test_per_class=20, epochs=1, image_size=8, gen_steps=2,
             gen_channels=[8, 16], gen_sampling_steps=2, gen_batch_size=16, jtt_epochs=[1],
             jtt_upweights=[5], two_stage_epochs=1, detector_max=200,
             cnn_detector_folds=2)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(None if argv is None else [str(a) for a in argv])
    if args.render:
        result = json.loads((args.out / f"{args.name}.json").read_text())
        if "sources" in result["config"]:  # a --select report: its choices are its content
            write_results(result, selection_markdown, args.out, args.name)
            return result
        result = rebuild(result)
        write_results(result, markdown, args.out, args.name)
        return result
    if args.merge:
        return merge(args.merge, args.out, argv, args.name)
    if args.select:
        return select(args.select, args.out, argv, args.name)
    if args.quick:
        for key, value in QUICK.items():
            if getattr(args, key) == parser.get_default(key):
                setattr(args, key, value)
    args.methods = resolve_methods(args.methods)
    threads_before = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return _run(args, argv)
    finally:
        torch.set_num_threads(threads_before)  # main() may run inside another process (tests)


def _hash(value):
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]


# the pretrained generator and how it is sampled: they key its own rows only
PRETRAINED_KEYS = ("pretrained_generator", "pretrained_guidance_rule",
                   "pretrained_guidance_scale")


def pretrained_key(settings):
    """The pretrained generator's path, with its guidance where one was given."""
    extra = [settings.get(k) for k in PRETRAINED_KEYS[1:] if settings.get(k) is not None]
    return str(settings.get("pretrained_generator")) + ("" if not extra else f"|{extra}")


def without_pretrained(settings):
    return {k: v for k, v in settings.items() if k not in PRETRAINED_KEYS}


def part_name(args, name, pretrained):
    """File stem of a stored record: the rows that read the pretrained generator (or its pool)
    are keyed by its path (and guidance) too, so that they can be added to a run made without
    it."""
    if not pretrained:
        return name
    return f"{name}@{_hash(pretrained_key(vars(args)))[:8]}"


def settings(args):
    """The arguments that determine the numbers (a work folder holds results of one setting)."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in sorted(vars(args).items())
            if k not in NOT_SETTINGS
            and not (k in IMPLICIT_SETTINGS and v == IMPLICIT_SETTINGS[k])}


def _run(args, argv):
    started, revision = time.time(), git_revision()
    config = settings(args)
    work = Path(args.work) / _hash(without_pretrained(config))
    # other settings never reuse these results; the pretrained generator only keys its own rows
    runs, fills, tasks_config = [], [], {}
    for task_name in args.tasks:
        t_runs, t_fills, tasks_config[task_name] = run_task(task_name, args, work / task_name)
        runs += t_runs
        fills += t_fills
    result = build_result(args.name, runs, fills, tasks_config, config, args.seeds,
                          args.methods)
    result["versions"]["git"] = revision
    result.update(command=command(argv), date=utc_now(), work=str(work),
                  total_wall_s=round(time.time() - started, 1))
    _, md_path = write_results(result, markdown, args.out)
    print(md_path.read_text())
    return result


def task_pretrained(result):
    """``{task: {pretrained_generator, pretrained_guidance_*}}``: the pretrained generator each
    task of one results file ran with (none: not listed)."""
    s = result["config"]["settings"]
    return {task: tc.get("pretrained") or {k: s.get(k) for k in PRETRAINED_KEYS}
            for task, tc in result["config"]["tasks"].items()
            if (tc.get("pretrained") or s).get("pretrained_generator")}


def pretrained_by_task(results):
    """The pretrained generator of each task over the pieces; the pieces of one task must agree
    (other tasks may use another generator: each attribute has its own)."""
    seen = {}
    for r in results:
        for task, used in task_pretrained(r).items():
            seen.setdefault(task, {})[pretrained_key(used)] = used
    clash = {task: sorted(keys) for task, keys in seen.items() if len(keys) > 1}
    if clash:
        raise SystemExit("the pieces used different pretrained generators or guidance on one "
                         f"task: {clash}")
    return {task: next(iter(keys.values())) for task, keys in seen.items()}


def check_alike(results, paths, kind, refusal, ignore=()):
    """SystemExit ("PATH was run with other KIND than FIRST; REFUSAL") unless the results
    files were run with the same settings, leaving out the pretrained generator (each task may
    have its own) and ``ignore``."""
    def shared(r):
        return {k: v for k, v in without_pretrained(r["config"]["settings"]).items()
                if k not in ignore}
    for r, p in zip(results[1:], paths[1:]):
        if shared(r) != shared(results[0]):
            raise SystemExit(f"{p} was run with other {kind} than {paths[0]}; {refusal}")


def merge(paths, out, argv, name=NAME):
    """Join results files of pieces of one run (same settings) into ``out/NAME.{json,md}``."""
    results = [json.loads(Path(p).read_text()) for p in paths]
    first = results[0]
    check_alike(results, paths, "settings", "not merged")
    pretrained = pretrained_by_task(results)
    runs = merge_records([r["runs"] for r in results],
                         key=lambda x: (x["task"], x["method"], x["seed"]),
                         prefer=lambda old, new: new["status"] == "ok" or old["status"] != "ok")
    fills = merge_records([r["fills"] for r in results],
                          key=lambda x: (x["task"], x["generator"], x["kind"], x["seed"]))
    tasks = {}
    for r in results:  # a piece may lack what another recorded (e.g. the judges)
        for k, v in r["config"]["tasks"].items():
            tasks[k] = {**tasks.get(k, {}), **v}
    for task, used in pretrained.items():
        tasks[task]["pretrained"] = used
    seeds = sorted({x["seed"] for x in runs})
    methods = [m for m in ALL_METHODS if any(x["method"] == m for x in runs)]
    one = {pretrained_key(used) for used in pretrained.values()}
    shared = next(iter(pretrained.values())) if len(one) == 1 else {}
    settings = {**without_pretrained(first["config"]["settings"]),
                **{k: shared.get(k) for k in PRETRAINED_KEYS}}
    result = build_result(name, runs, fills, tasks, settings, seeds, methods)
    revisions = sorted({r["versions"].get("git") for r in results}, key=str)  # at each start
    result["versions"]["git"] = ", ".join(map(str, revisions))
    result.update(command=command(argv), date=utc_now(), merged_from=[str(p) for p in paths],
                  git=revisions,
                  total_wall_s=round(sum(r["total_wall_s"] for r in results), 1))
    write_results(result, markdown, out)
    return result


# settings in which results files ranked together by --select may differ (they key the fills)
SELECT_MAY_DIFFER = {"regen_strength"}


def select(paths, out, argv, name):
    """Rank the SynAug recipes of several results files together (``select_across``): only
    files of the same tasks, data and validation split, and rows of the full seed list."""
    results = {Path(p).stem: json.loads(Path(p).read_text()) for p in paths}
    check_alike(list(results.values()), list(results), "data or training settings",
                "not ranked together", ignore=SELECT_MAY_DIFFER)
    seeds = max((r["seeds"] for r in results.values()), key=len)
    short = [f"{n} ({len(r['seeds'])} seeds)" for n, r in results.items()
             if r["seeds"] != seeds]
    rows, chosen, within = select_across(results, seeds)
    config = {"sources": list(results), "goals": GOALS,
              "excluded": ("rows on other seeds left out: " + ", ".join(short)) if short
              else "no file left out",
              "selection": "validation worst-group accuracy (mean over seeds), then validation "
                           "mean-group accuracy; on an unseen-cell task by the same recipe's "
                           "validation score on the task with every cell first. The test set is "
                           "not used for any choice.",
              "selected_on_validation": chosen, "selected_within_detector_goal": within}
    result = {"benchmark": name, "command": command(argv), "date": utc_now(),
              "machine": machine(), "versions": versions(), "config": config, "seeds": seeds,
              "rows": rows}
    write_results(result, selection_markdown, out)
    return result


# ----------------------------------------------------------------------------- one task


def cached(path, compute):
    """The record stored at ``path``, else ``compute()`` stored there (unless it failed)."""
    path = Path(path)
    if path.is_file():
        return json.loads(path.read_text())
    record = compute()
    if record.get("status") != "failed":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_suffix(".tmp").write_text(json.dumps(record, indent=1))
        path.with_suffix(".tmp").replace(path)  # a kill never leaves half a record
    return record


def task_config(task_name, task):
    def counts(y, a):
        return {f"y{c}_a{g}": n for (c, g), n in cell_counts(y, a).items()}

    return {"description": task["description"], "image_shape": list(task["X_train"].shape[1:]),
            "train_cells": counts(task["y_train"], task["a_train"]),
            "val_cells": counts(task["y_val"], task["a_val"]),
            "test_cells": counts(task["y_test"], task["a_test"]),
            "minority_cells": [list(map(int, c)) for c in task["minority_cells"]],
            "empty_cells": [list(c) for c in task["empty_cells"]],
            "unseen": base_task(task_name) is not None}


def needed_fills(methods, reasons):
    """``(generator, kind)`` fills the runnable SynAug rows read (kinds: ``fill_kind``)."""
    out = []
    for method in methods:
        if method.startswith("synaug_") and reasons[method] is None:
            fill = (parse_synaug(method)[0], fill_kind(method))
            if fill not in out:
                out.append(fill)
    return out


def run_task(task_name, args, folder):
    """Every (seed, method) of one task, and the fills they read; resumed from ``folder``."""
    task = make_task(task_name, args)
    cfg = task_config(task_name, task)
    print(f"[{task_name}] {task['description']}\n  train {cfg['train_cells']} val "
          f"{cfg['val_cells']} test {cfg['test_cells']}", flush=True)
    overlap = pretrained_pool_overlap(task, args)
    if overlap is not None:  # the pretrained generator lists its pool: is it disjoint?
        cfg["pretrained_pool_overlap"] = overlap
        if overlap:
            print(f"  WARNING: {overlap} of the task's training / judge images are in the "
                  f"pretrained generator's pool ({args.pretrained_generator}/pool_rows.json)",
                  flush=True)
    reasons = {m: cannot_run_reason(m, task, args) for m in args.methods}
    folders = {g: folder / f"generator_{g}" for g in ("joint", "factorized")}
    ctx = {"task_name": task_name, "task": task, "args": args, "folder": folder, "cfg": cfg,
           "folders": folders, "bank": folder / "bank", "judges": []}
    for gen in {g for g, _ in needed_fills(args.methods, reasons)} & set(folders):
        cfg[f"generator_{gen}"] = train_generator(task, args, gen, folders[gen])
        print(f"  generator {gen}: {cfg[f'generator_{gen}']}", flush=True)
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "judges_info.json").is_file():  # the judges' accuracy, from an earlier run
        cfg["judges"] = json.loads((folder / "judges_info.json").read_text())
    runs, fills = [], []
    for seed in args.seeds:
        failed = {}  # (generator, kind) -> why its fill failed
        for gen, kind in needed_fills(args.methods, reasons):
            record = run_fill(ctx, gen, kind, seed)
            if record.get("status") == "failed":
                failed[(gen, kind)] = record["reason"]
            else:
                fills.append(record)
        for method in args.methods:
            fill_failed = method.startswith("synaug_") and failed.get(
                (parse_synaug(method)[0], fill_kind(method)))
            stem = f"{part_name(args, method, uses_pretrained(method))}__seed{seed}"
            if fill_failed and reasons[method] is None:  # not stored: a re-run tries again
                record = {"task": task_name, "method": method, "seed": seed,
                          "status": "failed", "reason": fill_failed}
            else:
                record = cached(folder / "parts" / f"{stem}.json",
                                lambda m=method, s=seed: run_one(m, ctx, s, reasons[m]))
            runs.append(record)
            print_record(record)
    return runs, fills, cfg


def run_fill(ctx, gen, kind, seed):
    """Generate and judge one fill (stored; a later run reads it), or say why it failed."""
    task, args = ctx["task"], ctx["args"]
    head = {"task": ctx["task_name"], "generator": gen, "kind": kind, "seed": seed}

    def compute():
        if not ctx["judges"]:  # trained on first use: a resumed run may not need them
            judges, ctx["cfg"]["judges"] = train_judges(task, args)
            ctx["judges"].append(judges)
            (ctx["folder"] / "judges_info.json").write_text(json.dumps(ctx["cfg"]["judges"]))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return {**head, **prepare_fill(gen, kind, task, args, seed, ctx["folders"],
                                               ctx["bank"], ctx["judges"][0])}
        except Exception as exc:  # its rows say so
            return {**head, "status": "failed",
                    "reason": f"cannot run: the fill failed: {type(exc).__name__}: {exc}"}

    stem = part_name(args, f"fill__{gen}__{kind}__seed{seed}", gen == "pretrained")
    record = cached(ctx["folder"] / "parts" / f"{stem}.json", compute)
    if record.get("status") == "failed":
        print(f"  seed {seed} fill {gen}/{kind}: {record['reason']}", flush=True)
    else:
        print(f"  seed {seed} fill {gen}/{kind}: {record['generation_wall_s']:.1f} s, detector "
              f"{record['detector']['overall']}", flush=True)
    return record


def run_one(method, ctx, seed, reason):
    """Fit ``method`` for ``seed``: its validation and test scores, times and details; or the
    reason it cannot run (``status`` ``cannot_run``, ``skipped`` or ``failed``)."""
    task, args, folders, bank = ctx["task"], ctx["args"], ctx["folders"], ctx["bank"]
    record = {"task": ctx["task_name"], "method": method, "seed": seed}
    if reason is not None:
        return {**record, "status": reason.split(":")[0].replace(" ", "_"), "reason": reason}
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # copying / small-strata warnings: numbers say it
            if method.startswith("synaug_"):
                model, details = fit_synaug(method, task, args, seed, folders, bank)
            else:
                model, details = fit_baseline(method, task, args, seed)
            scored = evaluate(model, task)
    except Exception as exc:  # a method that fails is reported, not dropped
        return {**record, "status": "failed",
                "reason": f"cannot run: {type(exc).__name__}: {exc}"}
    return {**record, "status": "ok", **scored, "details": details,
            "wall_s": round(time.perf_counter() - t0, 2),
            "cpu_s": round(time.process_time() - c0, 2)}


def print_record(r):
    if r["status"] != "ok":
        print(f"  seed {r['seed']} {r['method']:28s} {r['reason']}", flush=True)
        return
    v, t = r["val"], r["test"]
    print(f"  seed {r['seed']} {r['method']:28s} val worst {v['worst_group_accuracy']:.3f}  "
          f"test worst {t['worst_group_accuracy']:.3f} mean {t['mean_accuracy']:.3f}  "
          f"{r['wall_s']:6.1f}s", flush=True)


if __name__ == "__main__":
    main()
