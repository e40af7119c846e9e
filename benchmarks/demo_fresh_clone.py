"""Time the README's ``make demo`` as a new user meets it: a fresh clone, no caches.

Clones the repository (its committed ``HEAD``) into a scratch folder, then times
``make .venv/.installed-core`` (creating the virtual environment and installing
the package) and ``make demo`` (the rest: the demo itself) with pip's and uv's
caches disabled, and writes ``results/demo_fresh_clone.{md,json}``: the wall
clock of each part, the demo's own table, whether the 5-minute goal holds, and
the machine's speed on the demo's main work (``small_cnn`` training images per
CPU second, one thread, measured after the demo the way ``training_overhead.py``
measures its ``torch_loop`` row) so that timings of different days can be compared.

Run it on an otherwise idle machine (the load average at the start and the end
is recorded); Debian's ``dataset-fashion-mnist`` should already be installed
(its ``apt-get`` step is a one-off of the machine, not of the clone).

    python benchmarks/demo_fresh_clone.py                 # ~5 minutes
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import RESULTS, command, utc_now, versions, write_results  # noqa: E402

GOAL_S = 300.0
REPO = Path(__file__).resolve().parent.parent


def _timed(cmd, cwd, log):
    """Run ``cmd`` (a list) in ``cwd`` with every install cache off; its wall seconds."""
    env = {**os.environ, "PIP_NO_CACHE_DIR": "1", "UV_NO_CACHE": "1"}
    env.pop("VIRTUAL_ENV", None)
    start = time.perf_counter()
    with open(log, "a") as fh:
        subprocess.run(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT, check=True)
    return time.perf_counter() - start


def _cpu_ticks():
    """``(steal, total)`` CPU ticks of the machine so far (Linux ``/proc/stat``; zeros elsewhere):
    time the hypervisor gave to other guests makes a timing slower than the machine is."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
    except (OSError, ValueError):
        return 0, 0
    return fields[7], sum(fields)


# The measure of benchmarks/results/training_overhead.md's `torch_loop` row (2,000 Fashion-MNIST
# images, batch 128, one thread, 4 epochs with the first dropped), so that the two compare.
CALIBRATION = """
import sys, torch
sys.path.insert(0, "benchmarks")
from training_overhead import load_images, torch_loop
torch.set_num_threads(1)
X, y, _ = load_images(2000, 0)
times = torch_loop(X, y, epochs=4, batch_size=128, lr=0.05, seed=0)
timed = times[1:]
print(len(X) * len(timed) / sum(cpu for _, cpu in timed))
"""


def machine_speed(python, repo):
    """Images per CPU second of ``small_cnn`` training at one thread (batch 128, 28x28), run
    with ``python`` in the clone ``repo``: the machine's speed on the demo's main kind of work,
    so timings of different days compare."""
    out = subprocess.run([str(python), "-c", CALIBRATION], check=True, capture_output=True,
                         text=True, cwd=repo, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return float(out.stdout.split()[-1])


def measure(repo, work):
    """Clone ``repo`` into ``work``, time the install and the demo; the demo's results."""
    fresh = Path(work) / "fresh"
    subprocess.run(["git", "clone", "-q", str(repo), str(fresh)], check=True)
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=fresh, check=True,
                              capture_output=True, text=True).stdout.strip()
    log = Path(work) / "make.log"
    load_start, ticks = os.getloadavg()[0], _cpu_ticks()
    install = _timed(["make", ".venv/.installed-core"], fresh, log)
    demo = _timed(["make", "demo"], fresh, log)
    steal, total = (b - a for a, b in zip(ticks, _cpu_ticks()))
    speed = machine_speed(fresh / ".venv" / "bin" / "python", fresh)
    summary = json.loads((fresh / "synaug_output" / "results.json").read_text())
    return {"revision": revision, "install_s": install, "demo_s": demo,
            "load_start": load_start, "load_end": os.getloadavg()[0], "summary": summary,
            "steal_fraction": steal / total if total else None, "machine_speed": speed}


def result_of(m, argv):
    """The results file (the shape of the other benchmarks) of one measurement."""
    total = m["install_s"] + m["demo_s"]
    s = m["summary"]
    rows = [{"method": name, "metrics": {k: {"mean": float(r[k]), "std": 0.0}
                                         for k in ("balanced_accuracy", "many", "medium", "few")},
             "wall_s": r["wall_s"]} for name, r in s["methods"].items()]
    return {
        "benchmark": "demo_fresh_clone", "command": command(argv), "date": utc_now(),
        "git_revision": m["revision"],
        "machine": {"cpu_cores": os.cpu_count(), "gpu": None,
                    "load_average_1m_at_start": round(m["load_start"], 2),
                    "load_average_1m_at_end": round(m["load_end"], 2),
                    "cpu_steal_fraction": None if m.get("steal_fraction") is None
                    else round(m["steal_fraction"], 3),
                    "small_cnn_train_images_per_cpu_s": None if m.get("machine_speed") is None
                    else round(m["machine_speed"])},
        "versions": versions(("diffusers",)),
        "config": {"dataset": s["dataset"], "n_max": s["n_max"],
                   "train_steps": s["train_steps"], "sampling": s.get("sampling"),
                   "caches": "pip and uv caches disabled", "goal_s": GOAL_S},
        "seeds": [s["seed"]],
        "metrics": {"make_demo_wall_s": round(total, 1), "install_wall_s": round(m["install_s"], 1),
                    "demo_wall_s": round(m["demo_s"], 1),
                    "demo_own_total_s": s["wall_s"]},
        "goal_met": total <= GOAL_S,
        "rows": rows,
    }


def _steal_text(steal):
    if steal is None:
        return "CPU steal not measured"
    return (f"{100 * steal:.0f} % of the CPU time went to other guests of the host (steal)"
            + (": the timing overstates this machine's own speed" if steal > 0.05 else ""))


def _speed_text(machine):
    speed = machine.get("small_cnn_train_images_per_cpu_s")
    if speed is None:
        return "machine speed not measured"
    return (f"after the demo, `small_cnn` trained at {speed:.0f} images per CPU second on one "
            "thread (batch 128, 28x28; `training_overhead.md`'s `torch_loop` measure): the "
            "speed to compare timings of different days by")


def markdown(result):
    mt, cfg, mach = result["metrics"], result["config"], result["machine"]
    total = mt["make_demo_wall_s"]
    verdict = "met" if result["goal_met"] else f"not met (by {total - cfg['goal_s']:.0f} s)"
    lines = [
        "# `make demo` from a fresh clone", "",
        f"`{result['command']}`: a fresh `git clone` (git {result['git_revision']}, "
        f"{result['date']}), then `make .venv/.installed-core` and `make demo`, each timed, "
        f"with pip's and uv's caches disabled. Machine: {mach['cpu_cores']} CPU cores, no GPU, "
        f"nothing else running (1-min load average {mach['load_average_1m_at_start']:.2f} at "
        f"the start, {mach['load_average_1m_at_end']:.2f} at the end; "
        f"{_steal_text(mach.get('cpu_steal_fraction'))}; {_speed_text(mach)}); Debian's "
        "`dataset-fashion-mnist` was already installed, so `make` skipped its `apt-get` step.",
        "", "| what | seconds |", "|---|---|",
        f"| `make demo` from a fresh clone, wall clock | **{total:.1f}** "
        f"({int(total // 60)} min {round(total % 60)} s) |",
        f"| of it: creating `.venv` and installing the package | {mt['install_wall_s']:.1f} |",
        f"| of it: the demo (its own total: {mt['demo_own_total_s']:.1f}) | "
        f"{mt['demo_wall_s']:.1f} |", "",
        f"The goal of at most {cfg['goal_s'] / 60:.0f} minutes, install included, is "
        f"**{verdict}**.", "",
        f"Demo ({cfg['dataset']}, long-tailed with n_max={cfg['n_max']}, IF=100, "
        f"{cfg['train_steps']} optimiser steps for every method, seed {result['seeds'][0]}, "
        f"real test set; sampling: {cfg['sampling']}):", "",
        "| method | balanced acc | many | medium | few | s |", "|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        m = row["metrics"]
        lines.append(f"| `{row['method']}` | {m['balanced_accuracy']['mean']:.3f} | "
                     f"{m['many']['mean']:.3f} | {m['medium']['mean']:.3f} | "
                     f"{m['few']['mean']:.3f} | {row['wall_s']:.1f} |")
    lines += ["", f"Versions: {', '.join(f'{k} {v}' for k, v in result['versions'].items())}.",
              ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=REPO, help="repository to clone")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="synaug-demo-") as work:
        m = measure(args.repo, work)
    result = result_of(m, sys.argv[1:] if argv is None else argv)
    paths = write_results(result, markdown, args.out)
    print(paths[1].read_text())
    print(f"written {paths[0]} and {paths[1]}")
    return result


if __name__ == "__main__":
    main()
