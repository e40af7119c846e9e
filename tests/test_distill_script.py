"""scripts/distill_generator.py: a student for a subset of the step grids, and its metadata."""

import json

import numpy as np
import pytest

from synaug_learn.generators import ConditionalDiffusionGenerator


@pytest.fixture
def script(load_script):
    return load_script("distill_generator")


def test_a_two_step_student_records_its_grid_and_refuses_other_step_counts(script, tmp_path):
    import torch

    out = tmp_path / "student"
    threads = str(torch.get_num_threads())  # the script sets it: leave it as the suite has it
    script.main(["--threads", threads, "--n-trajectories", "4", "--train-steps", "2",
                 "--batch-size", "4", "--student-steps", "2", "--lr-schedule", "cosine",
                 "--out", str(out)])
    meta = json.loads((out / "synaug_generator.json").read_text())
    assert meta["distillation"]["student_steps"] == [2]
    assert meta["distillation"]["lr_schedule"] == "cosine"
    assert meta["distillation"]["train_steps"] == 2
    assert (meta["prediction_type"], meta["sampling"]["num_inference_steps"]) == (
        "v_prediction", 2)
    X, y = np.zeros((10, 28, 28), np.uint8), np.arange(10)
    student = ConditionalDiffusionGenerator.from_pretrained(out).fit(X, y)
    rows = []
    hook = student.unet_.register_forward_hook(lambda m, a, o: rows.append(len(a[0])))
    images, labels, _ = student.generate({(3, None): 2}, random_state=0)
    hook.remove()
    assert images.shape == (2, 28, 28) and labels.tolist() == [3, 3]
    assert sum(rows) == 2 * 2  # two single-pass steps per image
    with pytest.raises(ValueError, match=r"distilled to sample in \[2\] steps"):
        ConditionalDiffusionGenerator.from_pretrained(out, num_inference_steps=4).fit(X, y)
    # refitted on its teacher, the same estimator samples at any step count
    student.set_params(pretrained="fashion-mnist-small", num_inference_steps=3).fit(X, y)
    assert student.generate({(3, None): 1}, random_state=0)[0].shape == (1, 28, 28)


def test_student_steps_must_be_a_grid_the_script_knows(script):
    with pytest.raises(SystemExit):
        script.main(["--student-steps", "3"])
