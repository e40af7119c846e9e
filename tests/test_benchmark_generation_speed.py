"""benchmarks/generation_speed.py: the choice of the recommended setting and the results shape."""

import json

import pytest


@pytest.fixture
def speed(load_benchmark):
    return load_benchmark("generation_speed")


def _r(passes, fidelity, novelty):
    return {"images_per_s": 10.0 / passes, "images_per_cpu_s": 20.0 / passes,
            "forward_images_per_s": 100.0, "passes_per_image": passes,
            "forward_fraction": 0.2 / passes, "loop_cost": 1.02, "fidelity": fidelity,
            "novelty": novelty, "diversity": 1.0, "n_images": 200, "batch_rows": [32, 64]}


def test_choose_takes_the_fewest_passes_within_the_quality_bounds(speed):
    results = {"ddim20_guided": _r(40, 0.90, 1.00),
               "dpmpp8_guided": _r(16, 0.89, 1.00),
               "dpmpp5_guided_interval": _r(8, 0.885, 0.97),
               "dpmpp5": _r(5, 0.85, 1.05),          # 5 points less faithful: out
               "ddim10": _r(10, 0.91, 0.90)}         # less novel by 0.10: out
    assert speed.choose(results, list(results)) == "dpmpp5_guided_interval"
    assert speed.choose(results, ["dpmpp5", "ddim10"]) is None
    results["student1"] = {**_r(1, 0.95, 1.0), "diversity": 0.6}  # blurry prototypes: out
    assert speed.choose(results, list(results)) == "dpmpp5_guided_interval"
    base = results["ddim20_guided"]
    assert [speed.failed_gates(base, results[s]) for s in ("dpmpp5", "ddim10", "student1")] == [
        ["fidelity"], ["novelty"], ["diversity"]]


def test_choose_uses_the_validation_accuracy_instead_of_diversity_where_measured(speed):
    results = {"ddim20_guided": {**_r(40, 0.90, 1.00), "val_balanced_accuracy": 0.70},
               "dpmpp8_guided": {**_r(16, 0.89, 1.00), "val_balanced_accuracy": 0.695},
               "student1": {**_r(1, 0.95, 1.0), "diversity": 0.6,
                            "val_balanced_accuracy": 0.689}}  # 1.1 points lower: out
    assert speed.choose(results, list(results)) == "dpmpp8_guided"
    assert speed.failed_gates(results["ddim20_guided"], results["student1"]) == [
        "held-out accuracy"]
    results["student1"]["val_balanced_accuracy"] = 0.692  # low diversity that costs nothing
    assert speed.choose(results, list(results)) == "student1"
    del results["student1"]["val_balanced_accuracy"]  # not measured: the diversity stand-in
    assert speed.choose(results, list(results)) == "dpmpp8_guided"


def test_results_have_the_benchmark_shape(speed, tmp_path):
    results = {"ddim20_guided": _r(40, 0.90, 1.00), "dpmpp8_guided": _r(16, 0.89, 1.0)}
    accuracy = {"ddim20_guided": ([0.60, 0.62, 0.58], [0.70, 0.71, 0.69], 30.0),
                "dpmpp8_guided": ([0.61, 0.62, 0.60], [0.69, 0.70, 0.69], 20.0)}
    rows = speed.rows_of(results, accuracy)
    assert [r["method"] for r in rows] == ["ddim20_guided", "dpmpp8_guided"]
    fast = rows[1]
    assert fast["metrics"]["passes_per_image"]["mean"] == 16
    assert fast["metrics"]["balanced_accuracy"]["mean"] == pytest.approx(0.61)
    diff = fast["paired_vs_ddim20_guided"]
    assert diff["mean"] == pytest.approx(0.01) and diff["n_better"] == 2
    assert fast["metrics"]["val_balanced_accuracy"]["mean"] == pytest.approx(0.69333, abs=1e-4)
    assert fast["val_paired_vs_ddim20_guided"]["mean"] == pytest.approx(-0.00667, abs=1e-4)
    assert fast["params"] == {"scheduler": "dpm++", "num_inference_steps": 8,
                              "guidance_scale": 1.5}
    result = {"benchmark": "generation_speed", "command": "python x", "date": "d",
              "git_revision": "abc", "machine": {"cpu_cores": 2, "torch_threads": 1, "gpu": None,
                                                 "load_average_1m_at_end": 1.0},
              "versions": {"torch": "2"}, "seeds": [0, 1, 2],
              "config": {"per_class": 20, "judge_accuracy": 0.8, "n_max": 100,
                         "imbalance_factor": 100,
                         "train_steps": 250, "recommended": "dpmpp8_guided",
                         "recommended_student": None},
              "cpu_details": {"setting": "dpmpp8_guided",
                              "images_per_cpu_s_by_batch_size": {"32": 9.0, "256": 5.0},
                              "forward_images_per_cpu_s_by_layout": {
                                  "32": {"default": 100.0, "channels_last": 101.0}}},
              "rows": rows}
    json_path, md_path = speed.write_results(result, speed.markdown, out=tmp_path)
    assert json.loads(json_path.read_text())["config"]["recommended"] == "dpmpp8_guided"
    text = md_path.read_text()
    assert "| **`dpmpp8_guided`** | 16 |" in text
    assert "| 0.693 ± 0.005 | 0.610 ± 0.008 | +0.010" in text
    assert "32: 9.0, 256: 5.0" in text


def test_student_card_states_its_quality_next_to_the_teacher(speed, tmp_path):
    (tmp_path / "synaug_generator.json").write_text(json.dumps({"distillation": {
        "teacher_sampler": "dpm++ 8 steps (trailing), guidance 1.5", "teacher_steps": 8,
        "teacher_guidance": 1.5, "method": "m",
        "n_trajectories": 640, "seed": 0, "train_steps": 300, "lr": 1e-4, "batch_size": 32,
        "threads": 2, "wall_s": 2400, "student_steps": [2, 4], "lr_schedule": "cosine",
        "own_input_share": 0.5}}))
    results = {"ddim20_guided": _r(40, 0.90, 1.00), "dpmpp8_guided": _r(16, 0.89, 1.0),
               "student4": _r(4, 0.80, 0.95)}
    result = {"command": "python x", "date": "d", "seeds": [0, 1, 2],
              "config": {"per_class": 16, "judge_accuracy": 0.8, "n_max": 100,
                         "recommended": "dpmpp8_guided"},
              "rows": speed.rows_of(results, {"ddim20_guided": ([0.6, 0.6, 0.6], [0.7] * 3, 1.0)})}
    speed.student_card(result, tmp_path)
    card = (tmp_path / "README.md").read_text()
    assert "| `ddim20_guided` | 40 | 0.5 | 0.900 | 1.00 | 1.00 | 0.600 ± 0.000 |" in card
    assert "| `student4` | 4 | 5.0 | 0.800 | 0.95 | 1.00 | not measured |" in card
    assert "300 optimiser steps" in card
    assert "2 CPU threads,\n40 wall-clock minutes" in card
    assert "none meets it; `student4` fails fidelity." in card
    assert card.startswith(f"# `{tmp_path.name}`: a 2- or 4-step student of `fashion-mnist-small`")
    assert f'from_pretrained("{tmp_path.name}", num_inference_steps=2)' in card
    assert "4- and 2-step grids" in card and "cosine learning rate; a share 0.5 of" in card
    assert ("`python scripts/distill_generator.py --teacher-steps 8 --guidance 1.5 "
            "--student-steps 2 4 --n-trajectories 640 --train-steps 300 --lr-schedule cosine "
            "--own-input-share 0.5 --seed 0 --threads 2 --out DIR`") in card


def test_student_settings_load_the_student_given_by_name_or_folder(speed, tmp_path):
    from synaug_learn.generators import pretrained_path

    folder = str(pretrained_path("fashion-mnist-small"))
    gen = speed.load("student2", folder)
    assert gen.pretrained == folder and gen.num_inference_steps == 2
    assert speed.load("dpmpp10_guided", folder).pretrained == speed.TEACHER
    assert speed._has_setting(folder, "student4")  # not a student: no grid to check
    assert speed._has_setting(speed.STUDENT, "student2")  # distilled for 1, 2 and 4 steps
    assert not speed._has_setting(str(tmp_path / "no-student"), "student2")
    two = tmp_path / "two-step"
    two.mkdir()
    (two / "synaug_generator.json").write_text(json.dumps({"distillation": {
        "student_steps": [2]}}))
    assert speed._has_setting(str(two), "student2")
    assert not speed._has_setting(str(two), "student4")
