"""The Makefile's long-tail targets compute the rows and seeds their committed results hold,
no more.

Rows join the benchmark's table over time (``long_tail.ORDER``), and an alias such as
``pretrained`` stands for all of them; a target that re-runs a committed result must leave
out the rows that result never had, or its merge would add them (and could change the row
chosen on validation). ``make -n`` prints each target's commands without running them.
"""

import json
import re
import shlex
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TARGETS = ["bench-long-tail", "bench-long-tail-budget", "bench-long-tail-dpmpp",
           "bench-long-tail-domain-shift", "bench-long-tail-domain-shift-dpmpp",
           "bench-long-tail-heldout", "bench-long-tail-sde", "bench-long-tail-wide",
           "bench-long-tail-domain-shift-budget"]


@pytest.fixture
def lt(load_benchmark):
    return load_benchmark("long_tail")


def long_tail_commands(target):
    """The argument lists of every ``benchmarks/long_tail.py`` call ``make -n target`` prints."""
    out = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.replace("\\\n", " ")
    return [shlex.split(m) for m in re.findall(r"benchmarks/long_tail\.py([^&;)|\n]*)", out)]


def computed_rows(lt, target):
    """``{results name: (seed, row) pairs the target computes}`` (merges compute nothing)."""
    rows = defaultdict(set)
    for argv in long_tail_commands(target):
        if "--merge" in argv:
            continue
        # a stated in-domain budget keeps resolve_args from reading a generator folder that
        # only exists after the target's own pretraining
        args = lt.resolve_args(lt.parse_args([*argv, "--indomain-steps", "1"])[1])
        for steps in args.train_steps:
            name = args.name if len(args.train_steps) == 1 else f"{args.name}_budget_{steps}"
            rows[name] |= {(seed, m) for seed in args.seed_list for m in args.methods}
    return rows


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target", TARGETS)
def test_target_computes_exactly_the_rows_and_seeds_of_its_committed_results(lt, target):
    rows = computed_rows(lt, target)
    assert rows, f"{target} runs no long_tail.py command"
    for name, computed in rows.items():
        result = json.loads((RESULTS / f"{name}.json").read_text())
        committed = {(seed, r["method"]) for r in result["rows"] for seed in result["seeds"]}
        own = {(seed, r["method"]) for r in result["rows"] if "reused_from" not in r
               for seed in result["seeds"]}
        assert computed - committed == set(), f"{target} adds rows to {name}"
        assert own - computed == set(), f"{target} no longer computes rows of {name}"
