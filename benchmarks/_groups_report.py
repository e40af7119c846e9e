"""Results of the group benchmark (``groups.py``): rows from per-seed records, choices, markdown.

``build_result`` turns the per-seed records (``runs``: one per task, method and
seed; ``fills``: one per task, generator, fill kind and seed) into the rows of
BENCHMARKS.md (mean, std and per-seed values), chooses the reference baseline
and the SynAug row on *validation* worst-group accuracy, and adds paired
differences. It is pure: merging the records of several pieces of a run and
calling it again gives the same result as one long run.
"""

from __future__ import annotations

import numpy as np
from _groups_data import base_task
from _groups_methods import REGEN_STRENGTH, fill_kind
from _results import machine, machine_lines, paired_difference, summarize, versions

# metric -> higher is better
METRICS = {
    "worst_group_accuracy": True,
    "mean_accuracy": True,
    "equalized_odds_difference": False,
    "balanced_accuracy": True,
}
CELLS = [f"y{c}_a{g}" for c in (0, 1) for g in (0, 1)]
REFERENCE_CANDIDATES = ("dfr", "group_dro")
GOALS = {"seen": 0.03, "unseen": 0.10, "detector": 0.60}


def _fill_metrics(task, method, seeds, fills):
    """Generation time, detector and judge numbers of the fill a SynAug row reads."""
    gen = method.removeprefix("synaug_").split("_")[0]
    recs = [f for f in fills if f["task"] == task and f["generator"] == gen
            and f["kind"] == fill_kind(method) and f["seed"] in seeds]
    out = {}
    if not recs:
        return out
    values = {"generation_wall_s": [f["generation_wall_s"] for f in recs],
              "detector_overall": [f["detector"]["overall"] for f in recs],
              "detector_overall_cnn": [f["detector"].get("overall_cnn") for f in recs],
              "detector_matched": [f["detector"].get("matched") for f in recs]}
    for cell in CELLS:
        values[f"detector_{cell}"] = [f["detector"]["cells"].get(cell) for f in recs]
    for key in ("minority_label_fidelity", "minority_attribute_fidelity"):
        values[key] = [f.get(key) for f in recs]
    for key, vals in values.items():
        vals = [v for v in vals if v is not None]
        if vals:
            out[key] = summarize(vals)
    out["generation_wall_s"]["unit"] = "s per seed, once per generator and fill kind"
    out["detector_reference"] = recs[0]["detector"]["reference"]
    return out


def make_row(task, method, records, fills):
    """One row of the results from the method's per-seed records (seed order)."""
    records = sorted(records, key=lambda r: r["seed"])
    seeds = [r["seed"] for r in records]
    row = {"task": task, "method": method, "seeds": seeds}
    bad = [r for r in records if r["status"] != "ok"]
    if bad:
        return {**row, "status": bad[0]["status"], "reason": bad[0]["reason"], "metrics": {},
                "wall_s": None}
    metrics = {}
    names = [*METRICS, *[f"accuracy_{c}" for c in CELLS if f"accuracy_{c}" in records[0]["test"]]]
    for name in names:
        metrics[name] = summarize([r["test"][name] for r in records])
    for name in METRICS:
        metrics[f"val_{name}"] = summarize([r["val"][name] for r in records])
    metrics["cpu_s"] = summarize([r["cpu_s"] for r in records],
                                 unit="s of process CPU per seed (fit + predict)")
    novelty = [r["details"]["minority_novelty"] for r in records
               if "minority_novelty" in r["details"]]
    if novelty:
        metrics["minority_novelty"] = summarize(novelty)
    if method.startswith("synaug_"):
        metrics.update(_fill_metrics(task, method, seeds, fills))
    details = [{k: v for k, v in r["details"].items() if k != "jtt_tried"} for r in records]
    return {**row, "status": "ok", "metrics": metrics, "details": details,
            "wall_s": round(float(np.mean([r["wall_s"] for r in records])), 2)}


def _val(row):
    return row["metrics"]["val_worst_group_accuracy"]["mean"]


def _recipe(row):
    """A row's recipe: its method, and the results file it came from where rows of several
    files are ranked together (``select_across``)."""
    return row.get("source"), row["method"]


def _best_on_validation(rows, base_rows=None):
    """The row that ran with the best validation worst-group accuracy; with ``base_rows`` (the
    rows of the task with every cell) by the same recipe's validation score there, where it
    ran there, and by its own after that."""
    ok = [r for r in rows if r["status"] == "ok"]
    if not ok:
        return None
    base = {_recipe(r): _val(r) for r in base_rows or () if r["status"] == "ok"}
    return max(ok, key=lambda r: (base.get(_recipe(r), -1.0), _val(r),
                                  r["metrics"]["val_mean_accuracy"]["mean"]))


def choose(rows, base_rows=None):
    """The reference (the best of DFR / Group DRO on validation; where neither can run, the
    best method without a generator that can) and the SynAug row chosen on validation.

    On an unseen-cell task (``base_rows`` = the rows of its task with every cell) the
    validation split has no rows of the empty cells, so every model that follows the
    shortcut scores about 1 on it: methods are ranked by their validation score on the task
    with every cell instead (the choice a user could make), then by their own.
    """
    note = ("; ranked by the same method's validation score on the task with every cell (this "
            "task's validation has no rows of the empty cells)" if base_rows else "")
    ref = _best_on_validation([r for r in rows if r["method"] in REFERENCE_CANDIDATES],
                              base_rows)
    why = "best of dfr / group_dro on validation worst-group accuracy" + note
    if ref is None:
        ref = _best_on_validation([r for r in rows if not r["method"].startswith("synaug")],
                                  base_rows)
        why = ("dfr and group_dro cannot run: the best method without a generator that can, "
               "on validation worst-group accuracy" + note)
    selected = _best_on_validation([r for r in rows if r["method"].startswith("synaug")],
                                   base_rows)
    return ref, why, selected, "validation worst-group accuracy" + note


def all_generated(method, settings):
    """Whether every training row of the method's fill is generated: each real row redrawn
    from the first step of the schedule (``regenerate_real=1.0``, which keeps 1.6 % of it at
    the benchmark's DDIM-10), the equal synthetic share taken to 1."""
    return (method.startswith("synaug_") and fill_kind(method).startswith("regen")
            and settings.get("regen_strength", REGEN_STRENGTH) >= 1.0)


def fill_detector(row):
    """The higher of the two whole-set detectors of a SynAug row's fill, or None."""
    dets = [row["metrics"].get(k) for k in ("detector_overall", "detector_overall_cnn")]
    dets = [d["mean"] for d in dets if d]
    return max(dets) if dets else None


def meets_detector_goal(row, settings):
    """A training-set property (no validation or test row): the fill's detector is at most
    the goal, or the fill has no real row for a detector to tell apart."""
    det = fill_detector(row)
    return all_generated(row["method"], settings) or (det is not None
                                                      and det <= GOALS["detector"])


def choose_within_detector_goal(rows, settings, base_rows=None):
    """The SynAug row chosen on validation among those whose fill meets the detector goal:
    the recommendation when both goals are asked of one recipe."""
    return _best_on_validation([r for r in rows if r["method"].startswith("synaug")
                                and r["status"] == "ok" and meets_detector_goal(r, settings)],
                               base_rows)


def _paired(row, base, name):
    common = [s for s in row["seeds"] if s in base["seeds"]]
    if not common:
        return None
    pick = {s: v for s, v in zip(row["seeds"], row["metrics"][name]["values"])}
    pick_b = {s: v for s, v in zip(base["seeds"], base["metrics"][name]["values"])}
    return paired_difference([pick[s] for s in common], [pick_b[s] for s in common],
                             higher_is_better=METRICS[name])


def add_deltas(rows, base, label):
    """``delta_<metric>_vs_<label>`` (test, paired over common seeds) on every row that ran."""
    for row in rows:
        if base is None or row["status"] != "ok" or row is base:
            continue
        for name in METRICS:
            d = _paired(row, base, name)
            if d is not None:
                row["metrics"][f"delta_{name}_vs_{label}"] = d


def _pretrained_guidance(s):
    rule, scale = s.get("pretrained_guidance_rule"), s.get("pretrained_guidance_scale")
    if not (rule or scale):
        return ""
    return f" sampled with guidance {scale or 'as saved'} (rule {rule or 'as saved'!s})"


def _pretrained_text(settings, tasks):
    """The pretrained generator of the whole run, or where each task names its own."""
    if settings.get("pretrained_generator"):
        return f"{settings['pretrained_generator']}{_pretrained_guidance(settings)}"
    if any(tc.get("pretrained") for tc in tasks.values()):
        return "one per attribute, named in each task's section"
    return "none given"


def build_result(name, runs, fills, tasks_config, settings, seeds, methods):
    reference, selected, selection_why, by_task, within_goal = {}, {}, {}, {}, {}
    for task in sorted(tasks_config, key=lambda t: base_task(t) is not None):  # bases first
        t_rows = [make_row(task, m, [r for r in runs if r["task"] == task and r["method"] == m],
                           fills)
                  for m in methods if any(r["task"] == task and r["method"] == m for r in runs)]
        by_task[task] = t_rows
        base_rows = by_task.get(base_task(task))
        ref, why, sel, sel_why = choose(t_rows, base_rows)
        goal_row = choose_within_detector_goal(t_rows, settings, base_rows)
        within_goal[task] = goal_row["method"] if goal_row else None
        add_deltas(t_rows, next((r for r in t_rows if r["method"] == "erm"
                                 and r["status"] == "ok"), None), "erm")
        add_deltas(t_rows, ref, "reference")
        reference[task] = {"method": ref["method"] if ref else None, "why": why}
        selected[task] = sel["method"] if sel else None
        selection_why[task] = sel_why
    rows = [r for task in tasks_config for r in by_task[task]]
    config = {"tasks": tasks_config, "settings": settings, "reference": reference,
              "selected_on_validation": selected, "selected_by": selection_why,
              "selected_within_detector_goal": within_goal,
              "methods": list(methods),
              "selection": "validation worst-group accuracy (mean over seeds); the test set "
                           "is scored once per fitted model, for this report",
              "goals": GOALS}
    return {"benchmark": name, "machine": machine(),
            "versions": versions(("diffusers", "scikit-learn", "imbalanced-learn")),
            "config": config, "seeds": list(seeds), "rows": rows, "runs": runs, "fills": fills}


def rebuild(result):
    """``result`` with its rows and choices computed anew from its stored records (after a
    change of the rules above); what the run recorded of itself (machine, versions, command,
    notes) is kept."""
    c = result["config"]
    new = build_result(result["benchmark"], result["runs"], result["fills"], c["tasks"],
                       c["settings"], result["seeds"], c["methods"])
    return {**result, "config": {**c, **new["config"]}, "rows": new["rows"]}


# ----------------------------------------------------------------------------- across files


def _candidates(results, task, seeds):
    """The SynAug rows of ``task`` that ran on the seeds ``seeds`` in any of ``results``
    (``{name: result}``), each marked with its file (``source``) and that file's settings."""
    out = []
    for name, result in results.items():
        settings = result["config"]["settings"]
        pretrained = result["config"]["tasks"].get(task, {}).get("pretrained") or {}
        reference = result["config"]["reference"].get(task, {}).get("method")
        for row in result["rows"]:
            if (row["task"] == task and row["method"].startswith("synaug")
                    and row["status"] == "ok" and row["seeds"] == list(seeds)):
                out.append({**row, "source": name, "settings": {**settings, **pretrained},
                            "reference": reference})
    return out


def _recipe_settings(row):
    """What sets the row's fill apart from the same method in another file."""
    s, notes = row["settings"], []
    if fill_kind(row["method"]).startswith("regen"):
        notes.append(f"regenerate_real={s.get('regen_strength', REGEN_STRENGTH)}")
    if row["method"].startswith("synaug_pretrained") and s.get("pretrained_guidance_scale"):
        notes.append(f"guidance {s.get('pretrained_guidance_rule') or 'as saved'} "
                     f"{s['pretrained_guidance_scale']}")
    return ", ".join(notes)


def _selection_row(row):
    m = row["metrics"]
    return {"task": row["task"], "method": row["method"], "source": row["source"],
            "settings": _recipe_settings(row), "seeds": row["seeds"],
            "metrics": {k: m[k] for k in ("val_worst_group_accuracy", "val_mean_accuracy",
                                          "worst_group_accuracy",
                                          "delta_worst_group_accuracy_vs_reference")
                        if k in m},
            "detector": fill_detector(row), "all_generated": all_generated(
                row["method"], row["settings"]),
            "meets_detector_goal": meets_detector_goal(row, row["settings"]),
            "reference": row["reference"], "status": "ok"}


def _distinct(rows):
    """One row per run: a later file that read back the same runs (the same recipe and the
    same per-seed scores) adds no recipe; the first file that holds them names it."""
    seen, out = set(), []
    for r in rows:
        key = (r["method"], r["settings"],
               tuple(r["metrics"]["worst_group_accuracy"].get("values", ())),
               r["metrics"]["val_worst_group_accuracy"]["mean"])
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def select_across(results, seeds):
    """Every SynAug recipe run on the seeds ``seeds`` in any of ``results`` (``{name: result}``,
    the same tasks, data and validation split), ranked together on validation: the choice
    over everything tried, and the choice among the fills that meet the detector goal."""
    tasks = sorted({t for r in results.values() for t in r["config"]["tasks"]},
                   key=lambda t: (base_task(t) is not None, t))
    rows, chosen, within = [], {}, {}
    for task in tasks:
        cands = _distinct([_selection_row(r) for r in _candidates(results, task, seeds)])
        base = [r for r in rows if r["task"] == base_task(task)] if base_task(task) else None
        best = _best_on_validation(cands, base)
        goal = _best_on_validation([r for r in cands if r["meets_detector_goal"]], base)
        chosen[task] = best and {"method": best["method"], "source": best["source"]}
        within[task] = goal and {"method": goal["method"], "source": goal["source"]}
        rows += sorted(cands, key=lambda r: -_val(r))
    return rows, chosen, within


# ----------------------------------------------------------------------------- markdown


def _pm(metric, digits=3):
    return "—" if metric is None else f"{metric['mean']:.{digits}f} ± {metric['std']:.{digits}f}"


def _delta(metric):
    if metric is None:
        return "—"
    return f"{metric['mean']:+.3f} ± {metric['std']:.3f} ({metric['n_better']}/{metric['n_seeds']})"


def _detectors(metrics):
    vals = [metrics.get(k) for k in ("detector_overall", "detector_overall_cnn")]
    return " / ".join(f"{v['mean']:.3f}" if v else "—" for v in vals) if any(vals) else "—"


def _header(result):
    s = result["config"]["settings"]
    return [
        "# Group imbalance: ERM, Group DRO, DFR, JTT and SynAug fills of seen and unseen cells",
        "",
        f"`{result['command']}` — {result['date']}, total {result['total_wall_s'] / 60:.1f} min",
        "",
        *machine_lines(result, "shared machine: times are indicative"),
        "",
        f"Classifier (every row): MixupNetClassifier('small_cnn'), {s['epochs']} epochs, batch "
        f"{s['batch_size']}, lr {s['lr']}, Mixup off unless the row says so. In-domain "
        f"generators: ConditionalDiffusionGenerator(block_out_channels={s['gen_channels']}, "
        f"conditioning='joint' | 'factorized'), {s['gen_steps']} steps, trained once per task "
        f"on its training rows; sampling DDIM-{s['gen_sampling_steps']}, guidance "
        f"{s['guidance_scale']} (rule {s['guidance_rule']!r}); pretrained generator: "
        f"{_pretrained_text(s, result['config']['tasks'])}. Fill: "
        "SynAugSampler(fill_grid=True), "
        f"every cell to the largest; share variant synthetic_share={s['synthetic_share']}; "
        + (f"regen variants regenerate_real={s.get('regen_strength', REGEN_STRENGTH)} "
           "(every real row redrawn by the generator); "
           if any("_regen" in r["method"] for r in result["rows"]) else "")
        + f"two-stage {s['two_stage_epochs']} epochs on the real rows; Mixup variant "
        f"real-synthetic pairing, alpha {s['mixup_alpha']}. JTT: T in {s['jtt_epochs']}, "
        f"lambda in {s['jtt_upweights']}. Seeds {result['seeds']} (data fixed, data seed "
        f"{s['data_seed']}); validation: {s['val_fraction']} of the training rows, stratified "
        f"by cell, the same for every method. Selection: {result['config']['selection']}.",
        "",
    ]


def _task_lines(result, task, tc):
    lines = [f"## Task `{task}`", "",
             f"{tc['description']}. Cells (y, a) — training: {tc['train_cells']}; validation: "
             f"{tc['val_cells']}; test: {tc['test_cells']}."]
    for gen in ("joint", "factorized"):
        g = tc.get(f"generator_{gen}")
        if g:
            lines.append(f"Generator `{gen}`: {g['generator_steps']} steps in "
                         f"{g['generator_train_s']:.0f} s.")
    used = tc.get("pretrained")
    if used and not result["config"]["settings"].get("pretrained_generator"):
        lines.append(f"Pretrained generator: {used['pretrained_generator']}"
                     f"{_pretrained_guidance(used)}.")
    ref = result["config"]["reference"][task]
    sel = result["config"]["selected_on_validation"][task]
    by = result["config"]["selected_by"][task]
    ref_text = f"`{ref['method']}` ({ref['why']})" if ref["method"] else "none (no baseline ran)"
    sel_text = f"`{sel}` (by {by})" if sel else "none (no SynAug row ran)"
    within = result["config"].get("selected_within_detector_goal", {}).get(task)
    if within:
        sel_text += (f"; among the fills that meet the detector goal (<= {GOALS['detector']:.2f}"
                     f", or no real row in the fill): `{within}`")
    lines += ["", f"Reference: {ref_text}. SynAug row chosen on validation: {sel_text}.", "",
              "| method | val worst-group | test worst-group | test mean group | equalized odds "
              "(↓) | Δ worst vs reference (seeds better) | detector (LR / CNN), whole filled set | "
              "wall s / seed |",
              "|---|---|---|---|---|---|---|---|"]
    for r in (r for r in result["rows"] if r["task"] == task):
        if r["status"] != "ok":
            lines.append(f"| `{r['method']}` | {r['reason']} | | | | | | |")
            continue
        m = r["metrics"]
        lines.append(
            f"| `{r['method']}` | {_pm(m['val_worst_group_accuracy'])} "
            f"| {_pm(m['worst_group_accuracy'])} | {_pm(m['mean_accuracy'])} "
            f"| {_pm(m['equalized_odds_difference'])} "
            f"| {_delta(m.get('delta_worst_group_accuracy_vs_reference'))} "
            f"| {_detectors(m)} | {r['wall_s']:.0f} |")
    return (lines + _cell_lines(result, task, tc) + _fill_lines(result, task, tc)
            + _jtt_lines(result, task))


def _cell_lines(result, task, tc):
    """Test accuracy per (y, a) cell: on an unseen task, the empty cells' columns are the ones
    only composition can raise."""
    rows = [r for r in result["rows"] if r["task"] == task and r["status"] == "ok"]
    if not rows:
        return []
    empty = {f"y{c}_a{g}" for c, g in tc["empty_cells"]}
    minority = {f"y{c}_a{g}" for c, g in tc["minority_cells"]}
    names = [c + (" (no training rows)" if c in empty else " (minority)" if c in minority
                  else "") for c in CELLS]
    lines = ["", "Test accuracy per cell (y, a):", "", "| method | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(CELLS)]
    for r in rows:
        lines.append(f"| `{r['method']}` | " + " | ".join(
            _pm(r["metrics"].get(f"accuracy_{c}")) for c in CELLS) + " |")
    return lines


def _fill_lines(result, task, tc):
    fills = sorted({(f["generator"], f["kind"]) for f in result["fills"] if f["task"] == task})
    if not fills:
        return []
    j = tc.get("judges") or {}
    lines = ["", "Fills (one per generator and kind, per seed; every variant reads them back): "
             "generation time; real-vs-generated detector accuracy (logistic regression on "
             "pixels, 5-fold CV; and the rows' small CNN, k-fold; 0.5 = indistinguishable) "
             "over the whole filled training set, cell-matched (as many real as generated "
             "rows from each cell, so that only their look tells them apart, not the cells "
             "they sit in; logistic regression; runs before this column was added lack it) "
             "and per cell (a cell without real training rows against real judge-pool images "
             "of it); share of generated minority-cell rows that judges trained without the "
             "shortcut give the intended label / a (on real test images of those cells: "
             f"{j.get('label_accuracy_test_minority_cells', float('nan')):.3f} / "
             f"{j.get('attribute_accuracy_test_minority_cells', float('nan')):.3f}).", "",
             "| generator / kind | generation s | detector, whole set | CNN detector, whole set | "
             "cell-matched | "
             + " | ".join(f"detector {c}" for c in CELLS) + " | label judged | a judged |",
             "|---|---|---|---|---|" + "---|" * len(CELLS) + "---|---|"]
    for gen, kind in fills:
        recs = [f for f in result["fills"] if f["task"] == task and f["generator"] == gen
                and f["kind"] == kind]

        def pm(values):
            vals = [v for v in values if v is not None]
            return _pm(summarize(vals)) if vals else "—"
        cells = [pm([f["detector"]["cells"].get(c) for f in recs]) for c in CELLS]
        lines.append(
            f"| {gen} / {kind} | {np.mean([f['generation_wall_s'] for f in recs]):.0f} "
            f"| {pm([f['detector']['overall'] for f in recs])} "
            f"| {pm([f['detector'].get('overall_cnn') for f in recs])} "
            f"| {pm([f['detector'].get('matched') for f in recs])} | " + " | ".join(cells)
            + f" | {pm([f.get('minority_label_fidelity') for f in recs])} "
            f"| {pm([f.get('minority_attribute_fidelity') for f in recs])} |")
    return lines


def _jtt_lines(result, task):
    row = next((r for r in result["rows"] if r["task"] == task and r["method"] == "jtt"
                and r["status"] == "ok"), None)
    if row is None:
        return [""]
    chosen = ", ".join(f"seed {s}: T={d['jtt_chosen']['first_epochs']}, lambda="
                       f"{d['jtt_chosen']['upweight']} ({d['jtt_chosen']['n_errors']} errors)"
                       for s, d in zip(row["seeds"], row["details"]))
    return ["", f"JTT's settings chosen on validation: {chosen}.", ""]


def _gain_text(d, ref, goal):
    """``Δ over ref (better on k/n seeds; goal ...: met or not met)``."""
    met = d["mean"] >= goal and d["n_better"] == d["n_seeds"]
    return (f"{d['mean']:+.3f} ± {d['std']:.3f} over {ref} (better on "
            f"{d['n_better']}/{d['n_seeds']} seeds; goal >= +{goal:.2f} on every seed: "
            f"{'met' if met else 'not met'})")


def _choice_text(rows, sel, ref, goal, label):
    """``label: `sel`, Δ over `ref` (seeds better; goal: met or not)``."""
    d = rows[sel]["metrics"].get("delta_worst_group_accuracy_vs_reference")
    return f"{label}: `{sel}`" + (f", {_gain_text(d, f'`{ref}`', goal)}." if d else ".")


def _all_generated_text(result, task, row):
    """The detectors of a fill without real rows, and why the goal does not apply to it."""
    m, det = row["metrics"], fill_detector(row)
    base = next((r for r in result["rows"] if r["task"] == base_task(task)
                 and r["method"] == row["method"] and r["status"] == "ok"), None)
    matched = m.get("detector_matched") or (base and base["metrics"].get("detector_matched"))
    text = ("Every training row of its fill is generated (regenerate_real=1.0, the equal share "
            "taken to 1): no real row sits beside generated ones, so 'generated' marks no cell "
            f"and the detector goal (<= {GOALS['detector']:.2f}) does not apply")
    if det is not None:
        text += ("; the whole-set detector, whose two classes are the rows redrawn from real "
                 f"ones and those drawn from noise to fill the cells up, reads the cells "
                 f"({det:.3f})")
    if matched:
        where = "" if m.get("detector_matched") else ", the task with every cell"
        text += (f"; within a cell, where both kinds sit (cell-matched, logistic regression"
                 f"{where}): {matched['mean']:.3f}")
    return text + "."


def _detector_text(result, task, row):
    """What the detectors say of ``row``'s fill, against the goal."""
    if all_generated(row["method"], result["config"]["settings"]):
        return _all_generated_text(result, task, row)
    m, det = row["metrics"], fill_detector(row)
    if det is None:
        return ""
    met = meets_detector_goal(row, result["config"]["settings"])
    text = (f"Its fill's detector accuracy {det:.3f} (the higher of logistic regression and "
            f"CNN; goal <= {GOALS['detector']:.2f}: {'met' if met else 'not met'}).")
    per_cell = [f"{c} {m[f'detector_{c}']['mean']:.3f}" for c in CELLS if m.get(f"detector_{c}")]
    if m.get("detector_matched"):
        text += (f" Where only the look can tell (logistic regression): cell-matched "
                 f"{m['detector_matched']['mean']:.3f}; per cell " + ", ".join(per_cell) + ".")
    return text


def what_it_shows(result, task, tc):
    rows = {r["method"]: r for r in result["rows"] if r["task"] == task}
    ref = result["config"]["reference"][task]["method"]
    sel = result["config"]["selected_on_validation"][task]
    within = result["config"].get("selected_within_detector_goal", {}).get(task)
    goal = GOALS["unseen" if tc["unseen"] else "seen"]
    out = [f"**{task}**:"]
    if "erm" in rows and rows["erm"]["status"] == "ok":
        m = rows["erm"]["metrics"]
        out.append(f"ERM's worst group {m['worst_group_accuracy']['mean']:.3f} against a mean "
                   f"group accuracy of {m['mean_accuracy']['mean']:.3f}.")
    if ref:
        out.append(f"Reference `{ref}`: worst group "
                   f"{rows[ref]['metrics']['worst_group_accuracy']['mean']:.3f}.")
    if sel and ref:
        out += [_choice_text(rows, sel, ref, goal, "Chosen on validation"),
                _detector_text(result, task, rows[sel])]
        if within == sel:
            out.append("It is also the row chosen among the fills that meet the detector goal.")
        elif within:
            out += [_choice_text(rows, within, ref, goal, "Chosen on validation among the "
                                 "fills that meet the detector goal (a property of the "
                                 "training set: no validation or test row)"),
                    _detector_text(result, task, rows[within])]
        elif "selected_within_detector_goal" in result["config"]:
            out.append("No SynAug fill meets the detector goal.")
    cannot = [f"`{m}`" for m, r in rows.items() if r["status"] != "ok"]
    if cannot:
        out.append(f"Not run (reason in the table): {', '.join(cannot)}.")
    return " ".join(t for t in out if t)


def markdown(result):
    lines = _header(result)
    for task, tc in result["config"]["tasks"].items():
        lines += _task_lines(result, task, tc)
    lines += ["## What it shows", "", "Computed from the numbers above (Δ paired over seeds; "
              "choices made on validation):", ""]
    for task, tc in result["config"]["tasks"].items():
        lines += [what_it_shows(result, task, tc), ""]
    if result.get("notes"):
        lines += [result["notes"], ""]
    return "\n".join(lines)


def _pick_text(rows, task, pick, label):
    """One choice of ``select_across``: the recipe, its file, its gain and its detector."""
    if not pick:
        return f"{label}: none."
    row = next(r for r in rows if r["task"] == task and _recipe(r) == (pick["source"],
                                                                        pick["method"]))
    d = row["metrics"].get("delta_worst_group_accuracy_vs_reference")
    goal = GOALS["unseen" if base_task(task) else "seen"]
    gain = "" if not d else ", " + _gain_text(d, f"`{row['reference']}` in its file", goal)
    if row["all_generated"]:
        det = "every training row generated, the detector goal does not apply"
    elif row["detector"] is None:
        det = "detector not measured"
    else:
        det = (f"detector {row['detector']:.3f} (goal <= {GOALS['detector']:.2f}: "
               f"{'met' if row['meets_detector_goal'] else 'not met'})")
    return (f"{label}: `{row['method']}` from `{row['source']}`"
            + (f" ({row['settings']})" if row["settings"] else "") + f"{gain}; {det}.")


def selection_markdown(result):
    """The report of ``select_across``: per task, every recipe by validation score."""
    c = result["config"]
    lines = ["# Group imbalance: every SynAug recipe tried, chosen on one validation split", "",
             f"`{result['command']}` — {result['date']}", "",
             f"Recipes: every SynAug row that ran on {len(result['seeds'])} seeds "
             f"{result['seeds']} in {', '.join(f'`{n}`' for n in c['sources'])} (the same "
             "tasks, data, seeds and validation split; " + c["excluded"] + "). "
             f"Selection: {c['selection']}", ""]
    for task in c["selected_on_validation"]:
        lines += [f"## Task `{task}`", "",
                  "| recipe | from | fill setting | val worst-group | test worst-group | "
                  "Δ worst vs its file's reference (seeds better) | detector | meets the "
                  "detector goal |", "|---|---|---|---|---|---|---|---|"]
        for r in (r for r in result["rows"] if r["task"] == task):
            m = r["metrics"]
            det = ("all generated" if r["all_generated"] else
                   f"{r['detector']:.3f}" if r["detector"] is not None else "—")
            lines.append(
                f"| `{r['method']}` | `{r['source']}` | {r['settings'] or '—'} "
                f"| {_pm(m['val_worst_group_accuracy'])} | {_pm(m['worst_group_accuracy'])} "
                f"| {_delta(m.get('delta_worst_group_accuracy_vs_reference'))} | {det} "
                f"| {'yes' if r['meets_detector_goal'] else 'no'} |")
        lines += ["", _pick_text(result["rows"], task, c["selected_on_validation"][task],
                                 "Chosen on validation"),
                  "", _pick_text(result["rows"], task, c["selected_within_detector_goal"][task],
                                 "Chosen on validation among the fills that meet the detector "
                                 "goal"), ""]
    if result.get("notes"):
        lines += ["## Notes", "", result["notes"], ""]
    return "\n".join(lines)

