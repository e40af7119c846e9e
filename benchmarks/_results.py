"""Shared helpers for the benchmark scripts: the common results-file shape (BENCHMARKS.md).

Every benchmark writes ``results/NAME.json`` and ``results/NAME.md``; the json
always holds ``benchmark``, ``command``, ``date``, ``machine``, ``versions``,
``config``, ``seeds`` and ``rows`` (``method``, ``metrics {name: {mean, std,
...}}``, ``wall_s``). These helpers build the parts that do not depend on the
benchmark, and write both files.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.metadata
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"

# distribution name -> module to import for its version
_MODULES = {
    "synaug_learn": "synaug_learn",
    "torch": "torch",
    "skorch": "skorch",
    "numpy": "numpy",
    "diffusers": "diffusers",
    "scikit-learn": "sklearn",
    "imbalanced-learn": "imblearn",
    "fairlearn": "fairlearn",
}


def versions(extra=()):
    """Versions of the packages a result depends on.

    Always ``synaug_learn``, ``torch``, ``skorch``, ``numpy`` and ``python``;
    ``extra`` adds others by distribution name (e.g. ``"diffusers"``,
    ``"scikit-learn"``). A package that cannot be imported is reported as ``None``.
    """
    out = {}
    for name in ("synaug_learn", "torch", "skorch", "numpy", *extra):
        try:
            module = importlib.import_module(_MODULES.get(name, name))
        except ImportError:
            out[name] = None
            continue
        out[name] = getattr(module, "__version__", None) or _distribution_version(name)
    out["python"] = platform.python_version()
    return out


def _distribution_version(name):
    """The installed distribution's version, for a module without ``__version__``."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_revision():
    """The repository's commit (short hash), with ``+dirty`` when files differ; None outside git."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, check=True,
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return rev + ("+dirty" if dirty else "")


def machine():
    """CPU cores, torch threads, GPU name (or ``None``) and the 1-minute load average now."""
    import torch

    return {
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }


def machine_lines(result, caveat):
    """The markdown lines naming a result's machine and versions; ``caveat`` on its timings."""
    m = result["machine"]
    return [
        f"Machine: {m['cpu_cores']} CPU cores, torch threads {m['torch_threads']}, GPU "
        f"{m['gpu']}, 1-min load average at the end {m['load_average_1m_at_end']} ({caveat}).",
        f"Versions: {', '.join(f'{k} {v}' for k, v in result['versions'].items())}.",
    ]


def command(argv=None):
    """The command line that produced a result, as ``python path/to/script.py args...``."""
    args = list(sys.argv[1:] if argv is None else argv)
    return "python " + " ".join([Path(sys.argv[0]).as_posix(), *map(str, args)])


def utc_now():
    """The current time as an ISO-8601 UTC string (``2026-11-25T10:00:00Z``)."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def summarize(values, **extra):
    """``{"mean", "std", "values"}`` of per-seed values (population std, 0 for one value)."""
    v = np.asarray(values, dtype=float)
    return {"mean": float(np.mean(v)), "std": float(np.std(v)),
            "values": [float(x) for x in v], **extra}


def paired_difference(values, baseline, higher_is_better=True):
    """Per-seed ``values - baseline``: mean, std, and on how many seeds ``values`` was better."""
    d = np.asarray(values, dtype=float) - np.asarray(baseline, dtype=float)
    better = d > 0 if higher_is_better else d < 0
    return {"mean": float(d.mean()), "std": float(d.std()), "values": [float(x) for x in d],
            "n_better": int(better.sum()), "n_seeds": int(len(d))}


def write_results(result, markdown, out=RESULTS, name=None):
    """Write ``out/NAME.json``, then ``out/NAME.md`` (``NAME``: ``name``, by default
    ``result["benchmark"]``; a file renamed after its run is rewritten under its own name).

    ``markdown`` is the text, or a function of ``result`` that makes it: it is
    then called after the json is written, so an error in it loses no results.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = name or result["benchmark"]
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / f"{name}.md").write_text(markdown(result) if callable(markdown) else markdown)
    return out / f"{name}.json", out / f"{name}.md"


def merge_records(lists, key, prefer=None):
    """One list of per-seed records from several runs (e.g. a long run split by ``--seeds`` or
    ``--tasks``): ``key(record)`` identifies a record; of two with the same key the later
    one is kept unless ``prefer(old, new)`` is False. The first-seen order is kept."""
    merged = {}
    for records in lists:
        for record in records:
            k = key(record)
            if k not in merged or prefer is None or prefer(merged[k], record):
                merged[k] = record
    return list(merged.values())
