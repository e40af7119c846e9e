"""Does a re-run of a benchmark match its committed results within noise?

    python benchmarks/compare_runs.py benchmarks/results/long_tail.json \\
        benchmarks/results/rerun/long_tail.json

reads two results files of the same benchmark (the shape of ``_results.py``:
rows of ``method`` [and ``task``] with per-seed ``values``), pairs their rows
and seeds, and writes ``results/reproducibility_NAME.{md,json}`` (``--name`` to change it).

For each row and headline metric, the two runs' means differ by ``Δ``. The
noise it is judged against is the seed-to-seed spread of that row: the
standard error of a difference of two means over ``n`` seeds,
``sqrt(std_a² + std_b²) / sqrt(n)`` (population std of each run's per-seed
values). A metric is *within noise* when ``|Δ| <= 2 × that error``, or when
``|Δ| <= --floor`` (default 0.005, half a point: a row whose seeds agree to the
third decimal would otherwise make any difference "significant"). The
per-seed differences (same seed in both runs) are listed too; a fully
deterministic re-run gives zeros.

The conclusions are compared as well: for long_tail, which recipe is the
strongest generator-free peer and, for every row, on how many seeds it beats
that peer; for groups, every row's paired worst-group difference against
ERM. ``--check`` exits with status 1 when any headline metric is outside noise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import RESULTS, command, utc_now, write_results  # noqa: E402

HEADLINE = {
    "long_tail": ("balanced_accuracy", "few"),
    "groups": ("worst_group_accuracy", "mean_accuracy", "equalized_odds_difference"),
}
# The per-row paired comparison each benchmark draws its conclusions from.
VERDICT = {"long_tail": "paired_vs_peer", "groups": "delta_worst_group_accuracy_vs_erm"}


def _key(row):
    return (row.get("task"), row["method"])


def _label(key):
    task, method = key
    return f"{task} / `{method}`" if task else f"`{method}`"


def _verdict(row, name):
    """``(mean, n_better, n_seeds)`` of the row's paired comparison, or None."""
    d = row.get(name) or row["metrics"].get(name)
    if not d or "n_better" not in d:
        return None
    return round(d["mean"], 4), d["n_better"], d["n_seeds"]


def compare_metric(a, b, floor):
    """Compare one metric's per-seed values of two runs (same seeds, same order)."""
    va, vb = np.asarray(a["values"], float), np.asarray(b["values"], float)
    if va.shape != vb.shape:
        raise ValueError(f"the runs have {va.size} and {vb.size} seeds for this metric")
    delta = float(vb.mean() - va.mean())
    noise = float(2 * np.sqrt(np.var(va) + np.var(vb)) / np.sqrt(va.size))
    per_seed = vb - va
    return {"a": float(va.mean()), "b": float(vb.mean()), "delta": delta,
            "noise_2se": noise, "within_noise": bool(abs(delta) <= max(noise, floor)),
            "per_seed_delta": [float(x) for x in per_seed],
            "max_abs_per_seed_delta": float(np.abs(per_seed).max())}


def _flatten(config, prefix=""):
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def config_differences(config_a, config_b):
    """``{dotted.key: [a, b]}`` for every (nested) configuration entry that differs."""
    a, b = _flatten(config_a), _flatten(config_b)
    return {k: [a.get(k), b.get(k)] for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def compare(run_a, run_b, metrics=None, floor=0.005, name=None):
    """Pair the rows of two results dicts; returns the reproducibility result dict.

    It is named ``reproducibility_BENCHMARK`` unless ``name`` is given.
    """
    name, name_out = run_a["benchmark"], name
    if run_b["benchmark"] != name:
        raise ValueError(f"run_b is benchmark {run_b['benchmark']!r}, run_a is {name!r}: "
                         "compare two runs of the same benchmark")
    if run_a["seeds"] != run_b["seeds"]:
        raise ValueError(f"the runs used different seeds: {run_a['seeds']} and "
                         f"{run_b['seeds']}; re-run with the committed --seeds")
    rows_a = {_key(r): r for r in run_a["rows"]}
    rows_b = {_key(r): r for r in run_b["rows"]}
    metrics = tuple(metrics or HEADLINE.get(name, ()))
    verdict = VERDICT.get(name)
    rows = []
    for key in [k for k in rows_a if k in rows_b]:
        ra, rb = rows_a[key], rows_b[key]
        names = metrics or tuple(m for m in ra["metrics"] if "values" in ra["metrics"][m])
        row = {"method": key[1], **({"task": key[0]} if key[0] else {}), "metrics": {
            m: compare_metric(ra["metrics"][m], rb["metrics"][m], floor)
            for m in names if m in ra["metrics"] and m in rb["metrics"]}}
        if verdict:
            row["verdict"] = {"a": _verdict(ra, verdict), "b": _verdict(rb, verdict)}
        rows.append(row)
    within = [m["within_noise"] for r in rows for m in r["metrics"].values()]
    summary = {
        "n_compared": len(within), "n_within_noise": int(sum(within)),
        "only_in_a": [_label(k) for k in rows_a if k not in rows_b],
        "only_in_b": [_label(k) for k in rows_b if k not in rows_a],
    }
    if name == "long_tail":
        summary["peer"] = [run_a["config"].get("peer"), run_b["config"].get("peer")]
    return {
        "benchmark": name_out or f"reproducibility_{name}",
        "compared": name,
        "command": command(),
        "date": utc_now(),
        "machine": run_b["machine"],
        "versions": run_b["versions"],
        "config": {"floor": floor, "metrics": list(metrics), "verdict": verdict,
                   "run_a": {k: run_a.get(k) for k in ("command", "date", "machine",
                                                       "versions")},
                   "run_b": {k: run_b.get(k) for k in ("command", "date", "machine",
                                                       "versions")},
                   "config_differences": config_differences(run_a["config"],
                                                            run_b["config"])},
        "seeds": run_a["seeds"],
        "rows": rows,
        "summary": summary,
    }


def _fmt_verdict(v):
    return "—" if v is None else f"{v[0]:+.3f} ({v[1]}/{v[2]})"


def markdown(result):
    cfg, s = result["config"], result["summary"]
    name = result.get("compared") or result["benchmark"].removeprefix("reproducibility_")
    lines = [
        f"# Reproducibility: `{name}`, committed run (A) against a re-run (B)",
        "",
        f"A: `{cfg['run_a']['command']}` ({cfg['run_a']['date']}); "
        f"B: `{cfg['run_b']['command']}` ({cfg['run_b']['date']}); seeds {result['seeds']}.",
        "",
        f"Δ = mean(B) − mean(A). Within noise when |Δ| ≤ max(2·SE, {cfg['floor']}), "
        "SE = sqrt(std_A² + std_B²)/sqrt(n seeds) from each run's seed-to-seed spread. "
        "'max seed Δ' is the largest difference of any of these metrics on one seed (same seed "
        "in both runs). ✗ marks a difference outside noise.",
        "",
        f"**{s['n_within_noise']} of {s['n_compared']} compared metrics are within noise.**",
        "",
    ]
    if cfg["config_differences"]:
        lines += ["Configuration differences (A → B):", ""]
        lines += [f"- `{k}`: {a} → {b}" for k, (a, b) in cfg["config_differences"].items()]
        lines.append("")
    if "peer" in s:
        lines += [f"Strongest generator-free peer: A `{s['peer'][0]}`, B `{s['peer'][1]}`.", ""]
    head = ["row"]
    for m in cfg["metrics"]:
        head += [f"{m}: A → B", "Δ (2·SE)"]
    head.append("max seed Δ")
    if cfg["verdict"]:
        head += [f"{cfg['verdict']}: A", "B"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in result["rows"]:
        cells, seed_max = [_label((row.get("task"), row["method"]))], 0.0
        for m in cfg["metrics"]:
            c = row["metrics"].get(m)
            if c is None:
                cells += ["—", "—"]
                continue
            flag = "" if c["within_noise"] else " **✗**"
            cells += [f"{c['a']:.3f} → {c['b']:.3f}",
                      f"{c['delta']:+.3f} ({c['noise_2se']:.3f}){flag}"]
            seed_max = max(seed_max, c["max_abs_per_seed_delta"])
        cells.append(f"{seed_max:.3f}")
        if cfg["verdict"]:
            cells += [_fmt_verdict(row["verdict"]["a"]), _fmt_verdict(row["verdict"]["b"])]
        lines.append("| " + " | ".join(cells) + " |")
    for side in ("only_in_a", "only_in_b"):
        if s[side]:
            lines += ["", f"Rows {side.replace('_', ' ')}: " + ", ".join(s[side])]
    if result.get("notes"):
        lines += ["", result["notes"].rstrip()]
    lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_a", type=Path, help="results json of the committed run")
    parser.add_argument("run_b", type=Path, help="results json of the re-run")
    parser.add_argument("--metrics", nargs="+", default=None,
                        help="metrics to compare (default: the benchmark's headline metrics)")
    parser.add_argument("--floor", type=float, default=0.005,
                        help="differences this small always count as within noise")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default=None,
                        help="results name (default: reproducibility_BENCHMARK)")
    parser.add_argument("--notes", default=None,
                        help="a hand-written reading of the comparison, appended to the table")
    parser.add_argument("--check", action="store_true",
                        help="exit with status 1 when a compared metric is outside noise")
    args = parser.parse_args(argv)
    if args.floor < 0:
        parser.error(f"--floor must be >= 0, got {args.floor}")
    for path in (args.run_a, args.run_b):
        if not path.is_file():
            parser.error(f"no results file at {path}")
    result = compare(json.loads(args.run_a.read_text()), json.loads(args.run_b.read_text()),
                     metrics=args.metrics, floor=args.floor, name=args.name)
    if args.notes:
        result["notes"] = args.notes
    paths = write_results(result, markdown(result), out=args.out)
    s = result["summary"]
    print(f"{s['n_within_noise']} of {s['n_compared']} metrics within noise; wrote {paths[1]}")
    return 1 if args.check and s["n_within_noise"] < s["n_compared"] else 0


if __name__ == "__main__":
    sys.exit(main())
