"""Which guidance composes an unseen (class, group) cell best? Chosen without any test row.

An unseen-cell task (``benchmarks/groups.py``) has no training or validation
rows of its empty cells, so the usual validation split cannot choose how the
pretrained factorised generator is guided. This script chooses on the
generated images themselves: for each guidance rule and scale of the grid it
draws ``--per-cell`` images of every empty cell (the same noises for every
setting) and asks the task's two judges, small CNNs trained on *other* real
images in which the attribute is independent of the label (the judge pool of
the task, disjoint from its training and test rows), whether each image shows
the intended label and the intended attribute.

The chosen setting (``config.chosen``) has the highest label fidelity among
those whose attribute fidelity is at least ``--min-attribute`` (a composed
image must carry both factors); ties go to the fewer network passes. Pass it to
``groups.py --pretrained-guidance-rule R --pretrained-guidance-scale W``.

    python benchmarks/groups_guidance.py \\
        --pretrained-generator synaug_learn/pretrained/fashion-mnist-colour-factorized
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _groups_data import make_task  # noqa: E402
from _groups_methods import judge_fill, train_judges  # noqa: E402
from _results import (  # noqa: E402
    RESULTS,
    command,
    git_revision,
    machine,
    machine_lines,
    utc_now,
    versions,
    write_results,
)
from groups import build_parser  # noqa: E402

# (rule, scale): the saved setting first; composable scales are (w_class, w_group)
GRID = [("joint", 1.5), ("joint", 3.0), ("joint", 5.0), ("joint", 8.0),
        ("composable", (1.5, 1.5)), ("composable", (3.0, 3.0)), ("composable", (5.0, 5.0)),
        ("composable", (3.0, 1.5)), ("composable", (5.0, 3.0))]


def setting_name(rule, scale):
    return f"{rule}_" + ("_".join(f"{w:g}" for w in scale) if isinstance(scale, tuple)
                         else f"{scale:g}")


def judge_setting(path, rule, scale, task, judges, per_cell):
    """Label and attribute fidelity of ``per_cell`` images of each empty cell, and the cost."""
    from synaug_learn.generators import ConditionalDiffusionGenerator

    gen = ConditionalDiffusionGenerator.from_pretrained(path, guidance_rule=rule,
                                                        guidance_scale=scale)
    gen.fit(task["X_train"], task["y_train"], groups=task["a_train"])
    cells = [tuple(map(int, c)) for c in task["empty_cells"]]
    cpu = time.process_time()
    X, y, g = gen.generate({c: per_cell for c in cells}, random_state=0)
    cpu = time.process_time() - cpu
    out = judge_fill(judges, X, y, g)
    out["per_cell"] = {}
    for c, a in cells:
        rows = (y == c) & (g == a)
        cell = judge_fill(judges, X[rows], y[rows], g[rows])
        out["per_cell"][f"y{c}_a{a}"] = {"label": cell["minority_label_fidelity"],
                                         "attribute": cell["minority_attribute_fidelity"]}
    out["cpu_s_per_image"] = cpu / len(y)
    return out


def choose(rows, min_attribute):
    ok = [r for r in rows if r["metrics"]["minority_attribute_fidelity"]["mean"] >= min_attribute]
    best = max(ok, key=lambda r: (r["metrics"]["minority_label_fidelity"]["mean"],
                                  -r["metrics"]["cpu_s_per_image"]["mean"]), default=None)
    return best and best["method"]


def markdown(result):
    cfg = result["config"]
    lines = ["# Guidance for composing unseen cells, chosen on judges (no test row)", "",
             f"Task `{cfg['task']}`, generator `{cfg['pretrained_generator']}`, "
             f"{cfg['per_cell']} images per empty cell {cfg['empty_cells']} per setting, the same "
             "noises for every setting. Judges: small CNNs trained on the task's judge pool "
             f"({cfg['judges']['n_images']} real images, attribute independent of the label; "
             "on the test set's minority cells they score "
             f"{cfg['judges']['label_accuracy_test_minority_cells']:.3f} (label) and "
             f"{cfg['judges']['attribute_accuracy_test_minority_cells']:.3f} (attribute), a "
             "diagnostic only). Label / attribute fidelity: share of the generated images they "
             "give the intended label / attribute (chance 0.5).", "",
             "| setting | label fidelity | attribute fidelity | per cell (label, attribute) "
             "| CPU ms per image |", "|---|---|---|---|---|"]
    for row in result["rows"]:
        m = row["metrics"]
        name = f"**`{row['method']}`**" if row["method"] == cfg["chosen"] else f"`{row['method']}`"
        cells = "; ".join(f"{k}: {v['label']:.2f}, {v['attribute']:.2f}"
                          for k, v in row["per_cell"].items())
        lines.append(f"| {name} | {m['minority_label_fidelity']['mean']:.3f} | "
                     f"{m['minority_attribute_fidelity']['mean']:.3f} | {cells} | "
                     f"{1000 * m['cpu_s_per_image']['mean']:.0f} |")
    lines += ["", f"Chosen (highest label fidelity with attribute fidelity ≥ "
              f"{cfg['min_attribute']}): `{cfg['chosen']}`.", ""]
    lines += machine_lines(result, "CPU time per image is the steadier figure")
    lines += [f"Command: `{result['command']}`; git {result['git_revision']}; date "
              f"{result['date']}.", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrained-generator", required=True)
    parser.add_argument("--task", default="spurious_colour_unseen")
    parser.add_argument("--per-cell", type=int, default=200)
    parser.add_argument("--min-attribute", type=float, default=0.95)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start, revision = time.time(), git_revision()
    task_args = build_parser().parse_args([])  # the group benchmark's defaults
    task = make_task(args.task, task_args)
    judges, info = train_judges(task, task_args)
    rows = []
    for rule, scale in GRID:
        r = judge_setting(args.pretrained_generator, rule, scale, task, judges, args.per_cell)
        rows.append({"method": setting_name(rule, scale),
                     "params": {"guidance_rule": rule, "guidance_scale": scale},
                     "metrics": {k: {"mean": r[k], "std": 0.0} for k in (
                         "minority_label_fidelity", "minority_attribute_fidelity",
                         "cpu_s_per_image")},
                     "per_cell": r["per_cell"]})
        print(f"[{time.time() - start:5.0f} s] {rows[-1]['method']:22s} label "
              f"{r['minority_label_fidelity']:.3f} attribute "
              f"{r['minority_attribute_fidelity']:.3f}", flush=True)
    result = {"benchmark": f"groups_guidance_{args.task}", "command": command(argv),
              "date": utc_now(), "git_revision": revision, "machine": machine(),
              "versions": versions(("diffusers",)),
              "config": {"task": args.task, "pretrained_generator": args.pretrained_generator,
                         "per_cell": args.per_cell, "min_attribute": args.min_attribute,
                         "empty_cells": [list(map(int, c)) for c in task["empty_cells"]],
                         "judges": info, "chosen": None},
              "seeds": [0], "rows": rows, "wall_s": round(time.time() - start, 1)}
    result["config"]["chosen"] = choose(rows, args.min_attribute)
    paths = write_results(result, markdown, args.out)
    print(paths[1].read_text())
    print(f"written {paths[0]} and {paths[1]}")
    return result


if __name__ == "__main__":
    main()
