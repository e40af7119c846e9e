"""Where a long-tail gap sits: per-class test recall and confusions of two rows of a run.

A committed long-tail results file gives each row's balanced accuracy, the mean of ten
per-class recalls; this script says which classes make a gap between two of its rows
(by default the SynAug row chosen on validation against ``real_fill``, the same number of
real rows). It re-fits the rows with the benchmark's own code (``long_tail.run_method``:
the run's split, seeds, settings and validation choices, and its cache of generated rows),
checks that every re-fit reproduces the stored per-seed balanced accuracy, and reports

- per-class test recall, mean ± std over the run's seeds;
- the paired per-class difference between the two rows (mean ± std, seeds better);
- for the classes where the first row loses most, what their test images are taken for.

No choice is made here: the rows and their settings are the run's, so the test set answers
no new question of selection. With the run's cache of generated rows a seed takes about
two minutes on one CPU core; without it the fill is drawn again (the same rows: every row
has its own seed), as long as the run's fill took.

    python benchmarks/long_tail_per_class.py \\
        --like benchmarks/results/long_tail_sdedpmpp40_heldout.json \\
        --methods synaug_pretrained_domain_mixup_retrain_resampled real_fill
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import long_tail as lt  # noqa: E402
from _results import (  # noqa: E402
    RESULTS,
    command,
    git_revision,
    machine,
    paired_difference,
    summarize,
    utc_now,
    versions,
    write_results,
)

WORST = 3  # classes whose confusions the markdown lists
TOP_CONFUSIONS = 3


def refit(like, methods, cache_dir, log):
    """``{method: [record per seed]}``: the rows re-fitted as the run ``like`` fitted them."""
    _, args = lt.parse_args(["--like", str(like), "--cache-dir", str(cache_dir),
                             "--threads", "1", "--methods", *methods])
    args = lt.resolve_args(args)
    args.train_steps = args.train_steps[0]
    records = {m: [] for m in methods}
    for seed in args.seed_list:
        sd = lt.seed_data(seed, args, methods)
        generators, _ = lt.generators_for(sd, methods, args, cache_dir, log)
        for method in methods:
            record = lt.run_method(method, sd, generators, args, str(Path(cache_dir) / "bank"))
            record["fit_counts"] = list(sd.counts.values())
            records[method].append(record)
            log(f"  seed {seed}: {method} bal.acc {record['metrics']['balanced_accuracy']:.4f}")
    return records


def stored_values(result, method):
    """The run's per-seed test balanced accuracy of ``method``."""
    row = next((r for r in result["rows"] if r["method"] == method), None)
    if row is None:
        raise SystemExit(f"{method!r} is not a row of {result['benchmark']!r}")
    return row["metrics"]["balanced_accuracy"]["values"]


def _recalls(records):
    """Per-seed recall arrays, classes in label order."""
    return np.array([[r["per_class"][k] for k in sorted(r["per_class"], key=int)]
                     for r in records], dtype=float)


def summarize_rows(records, stored, class_names):
    """The results rows: per-class recall, mean confusion, and whether each re-fit reproduced
    the stored balanced accuracy (to 1e-9)."""
    rows = []
    for method, recs in records.items():
        recall = _recalls(recs)
        refit_ba = [r["metrics"]["balanced_accuracy"] for r in recs]
        rows.append({
            "method": method,
            "metrics": {f"recall_{i}": summarize(recall[:, i], class_name=name)
                        for i, name in enumerate(class_names)},
            "confusion_mean": np.mean([r["confusion"] for r in recs], axis=0).tolist(),
            "fit_counts": recs[0]["fit_counts"],
            "refit_balanced_accuracy": refit_ba,
            "stored_balanced_accuracy": stored[method],
            "reproduces_stored": bool(np.allclose(refit_ba, stored[method], atol=1e-9,
                                                  rtol=0)),
            "wall_s": float(np.mean([r["wall_s"] for r in recs])),
        })
    return rows


def paired_by_class(rows):
    """Per class, the first row's recall minus the last row's (the baseline), per seed."""
    first, base = rows[0]["metrics"], rows[-1]["metrics"]
    return [paired_difference(first[k]["values"], base[k]["values"]) for k in first]


def _confused_with(row, i, class_names):
    """The classes test images of class ``i`` are most often taken for, by ``row``."""
    counts = row["confusion_mean"][i]
    top = [j for j in np.argsort(-np.asarray(counts), kind="stable") if j != i][:TOP_CONFUSIONS]
    return ", ".join(f"{class_names[j]} {counts[j]:.1f}" for j in top)


def _class_table(result):
    rows, names = result["rows"], result["config"]["class_names"]
    a, b = rows[0]["method"], rows[-1]["method"]
    lines = [f"| class | fit rows (seed {result['seeds'][0]}) | `{a}` | `{b}` | Δ (seeds better) |",
             "|---|---|---|---|---|"]
    for i, name in enumerate(names):
        ra, rb = (r["metrics"][f"recall_{i}"] for r in (rows[0], rows[-1]))
        d = result["paired"][i]
        lines.append(f"| {name} | {rows[0]['fit_counts'][i]} | {ra['mean']:.3f} ± "
                     f"{ra['std']:.3f} | {rb['mean']:.3f} ± {rb['std']:.3f} | "
                     f"{d['mean']:+.3f} ± {d['std']:.3f} ({d['n_better']}/{d['n_seeds']}) |")
    return lines


def markdown(result):
    rows, names, cfg = result["rows"], result["config"]["class_names"], result["config"]
    a, b = rows[0]["method"], rows[-1]["method"]
    reproduced = sum(len(r["refit_balanced_accuracy"]) for r in rows if r["reproduces_stored"])
    total = sum(len(r["refit_balanced_accuracy"]) for r in rows)
    worst = np.argsort([d["mean"] for d in result["paired"]])[:WORST]
    lines = [f"# Per-class test recall: `{a}` against `{b}` in `{cfg['run']}`", "",
             f"The rows of `{cfg['run']}` re-fitted with the benchmark's code (its split, seeds "
             f"{result['seeds']}, settings, validation choices and generated rows); "
             f"{reproduced} of {total} re-fits reproduce the stored per-seed balanced accuracy "
             "exactly. Recall on the real test set (1,000 images per class), mean ± std over "
             "seeds; Δ is the paired difference, first row minus second. No choice is made "
             "here.", ""] + _class_table(result) + [
             "", f"What the test images of the {WORST} classes where `{a}` loses most are taken "
             "for (mean images per seed, of 1,000):", ""]
    for i in worst:
        lines.append(f"- **{names[i]}** ({rows[0]['fit_counts'][i]} fit rows): `{a}` "
                     f"{_confused_with(rows[0], i, names)}; `{b}` "
                     f"{_confused_with(rows[-1], i, names)}.")
    lines += ["", f"Command: `{result['command']}`; machine: {result['machine']}; date "
              f"{result['date']}; git {result['git']} at start.", ""]
    if result.get("notes"):
        lines += ["## Notes", "", result["notes"], ""]
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--like", type=Path, default=None,
                        help="a committed long-tail results json (the run to look into); "
                             "required unless --from-json")
    parser.add_argument("--methods", nargs=2, default=None, metavar=("ROW", "BASELINE"),
                        help="the two rows (default: the SynAug row chosen on validation, "
                             "then real_fill)")
    parser.add_argument("--cache-dir", type=Path, default=Path("benchmarks/.work/long_tail"),
                        help="the run's cache of generated rows (missing rows are drawn again)")
    parser.add_argument("--name", default=None,
                        help="results name (default: the run's name + _per_class)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--from-json", type=Path, default=None,
                        help="re-render the markdown of a results json (e.g. after adding "
                             "\"notes\")")
    args = parser.parse_args(argv)
    if not (args.like or args.from_json):
        parser.error("--like is required (the run to look into)")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.from_json:
        result = json.loads(args.from_json.read_text())
        return write_results(result, markdown, out=args.from_json.parent,
                             name=args.from_json.stem)
    run = json.loads(args.like.read_text())
    methods = args.methods or [run["config"]["selected_on_validation"], "real_fill"]
    stored = {m: stored_values(run, m) for m in methods}  # before any work
    import torch

    torch.set_num_threads(1)
    start, git = time.time(), git_revision()

    def log(msg):
        print(f"[{time.time() - start:6.0f} s] {msg}", flush=True)

    class_names = lt.shipped_info(run["config"]["pretrained_generator"])["class_names"]
    rows = summarize_rows(refit(args.like, methods, args.cache_dir, log), stored, class_names)
    result = {"benchmark": args.name or f"{run['benchmark']}_per_class", "command": command(argv),
              "date": utc_now(), "git": git, "machine": machine(), "versions": versions(),
              "config": {"run": run["benchmark"], "class_names": class_names,
                         "run_config": run["config"]},
              "seeds": run["seeds"], "rows": rows}
    result["paired"] = paired_by_class(rows)
    return write_results(result, markdown, out=args.out)


if __name__ == "__main__":
    main()
