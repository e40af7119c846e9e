"""scripts/distill_generator.py: a student for a subset of the step grids, and its metadata."""

import json
from types import SimpleNamespace

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
    assert (meta["distillation"]["teacher_steps"], meta["distillation"]["teacher_guidance"]) == (
        16, 1.5)  # the defaults, as fields of their own (the student card's command reads them)
    assert "_name_or_path" not in json.loads((out / "unet" / "config.json").read_text())
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


def _zero_v_unet(x, t, class_labels):
    """A stand-in network that predicts v = 0: a student step then scales its input."""
    import torch

    return SimpleNamespace(sample=torch.zeros_like(x))


def test_own_inputs_start_later_steps_from_the_students_previous_step(script):
    import torch

    times = np.array([*script.GRID, -1])
    grid = (times, *script.alpha_sigma(times))
    states = torch.from_numpy(np.random.RandomState(0).randn(3, 5, 1, 4, 4).astype(np.float32))
    # steps (0, 2) (a grid's first) and (2, 4) (after the step from 0) of the 2-step grid
    rows, i_in, i_prev = np.array([0, 1, 2]), np.array([0, 2, 2]), np.array([-1, 0, 0])
    labels, rng = np.zeros(3, int), np.random.RandomState(0)
    teacher = script.own_inputs(_zero_v_unet, states, rows, i_in, i_prev, labels, grid, 0.0, rng)
    assert torch.equal(teacher, states[rows, [0, 2, 2]])
    assert rng.randint(10**6) == np.random.RandomState(0).randint(10**6)  # share 0 draws nothing
    own = script.own_inputs(_zero_v_unet, states, rows, i_in, i_prev, labels, grid, 1.0, rng)
    _, alpha, sigma = grid
    scale = alpha[2] * alpha[0] + sigma[2] * sigma[0]  # DDIM 999 -> 499 with v = 0
    assert torch.equal(own[0], states[0, 0])  # a grid's first step keeps the teacher's state
    np.testing.assert_allclose(own[1:].numpy(), scale * states[[1, 2], 0].numpy(), rtol=1e-5)
    assert not np.allclose(own[1:].numpy(), states[[1, 2], 2].numpy())


def test_own_input_share_outside_zero_one_is_refused(script, capsys):
    with pytest.raises(SystemExit):
        script.main(["--own-input-share", "1.5"])
    assert "--own-input-share must lie in [0, 1], got 1.5" in capsys.readouterr().err


def test_a_device_this_machine_lacks_is_refused_before_any_work(script, capsys, monkeypatch,
                                                                 tmp_path):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "student"
    with pytest.raises(SystemExit):
        script.main(["--device", "cuda", "--out", str(out)])
    assert "--device='cuda'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        script.main(["--device", "no-such-device", "--out", str(out)])
    assert "--device='no-such-device'" in capsys.readouterr().err
    assert not out.exists()
