"""Distil a shipped generator into a few-step student (1, 2 or 4 steps, one pass per step).

Method: trajectory distillation in the spirit of Luhman & Luhman (2021, "Knowledge
distillation in iterative generative models") extended to a few steps, with the
guided teacher as target (guidance distillation, Meng et al. 2023): the teacher
(guided DPM-Solver++, ``--teacher-steps`` steps, trailing spacing) is run from
``--n-trajectories`` fixed noises and its states are recorded at the diffusion
times 999, 749, 499, 249 and at the end. The student, a copy of the teacher
network, takes one DDIM step (trailing spacing, no guidance: one network pass)
from a recorded state to the next point of a 4-, 2- or 1-step grid
(999 > 749 > 499 > 249 > 0, 999 > 499 > 0, 999 > 0) and is trained so that the
step lands on the teacher's state. With ``--own-input-share p``, after the first quarter
of the training a share ``p`` of the steps that are not their grid's first start from the
student's own previous step (from the teacher's state before it) instead of the teacher's
state, the input they get when the student samples (exposure bias, as scheduled sampling
corrects it). It predicts ``v`` (Salimans & Ho 2022): with
the noise as target a step from pure noise is ill-conditioned. Everything is
seeded and the budget is in optimiser steps, so a run is reproducible.

Usage (CPU, in the background; the defaults are the shipped student's recipe: about 20
minutes with ``--threads 2`` on 2 cores, 35 on one)::

    nice -n 10 python scripts/distill_generator.py --threads 2 > distill.log 2>&1 &

``--device cuda`` runs the teacher (its trajectories in the library's generation batches:
256 instead of 32) and the student's training on a GPU, from the same noises and batches;
floating-point results then differ slightly from a CPU run's, so a GPU student is not
byte-identical to the shipped one.

The student lands in ``synaug_learn/pretrained/fashion-mnist-small-student/``
and loads as ``ConditionalDiffusionGenerator.from_pretrained("fashion-mnist-small-student")``
(4 steps by default; ``num_inference_steps=1`` or ``2`` also work).
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import time
from pathlib import Path

import numpy as np

from synaug_learn.generators import (
    ConditionalDiffusionGenerator,
    make_scheduler,
    pretrained_hashes,
)
from synaug_learn.generators._pretrained import save_unet
from synaug_learn.generators._sampling import denoise, resolve_batch_size
from synaug_learn.utils import check_device

PRETRAINED = Path(__file__).resolve().parent.parent / "synaug_learn" / "pretrained"
GRID = (999, 749, 499, 249)  # the student's diffusion times; index 4 = the clean image
# (input state, output state) index pairs of the 4-, 2- and 1-step students
PAIRS = {4: [(0, 1), (1, 2), (2, 3), (3, 4)], 2: [(0, 2), (2, 4)], 1: [(0, 4)]}


def teacher_trajectories(unet, n, steps, guidance, seed, n_classes, log):
    """States of the guided teacher at GRID and at the end, shape (n, 5, C, H, W); labels (n,).

    The noises are drawn on the CPU whatever the device, so a run on an accelerator starts
    from the same noises."""
    import torch

    device = unet.device
    batch = resolve_batch_size("auto", device)  # the library's generation batch: 32 on CPU
    labels = np.arange(n) % n_classes
    null = unet.config.num_class_embeds - 1
    c, side = unet.config.in_channels, unet.config.sample_size
    noise = torch.randn((n, c, side, side), generator=torch.Generator().manual_seed(seed))
    new_solver = functools.partial(make_scheduler, "dpm++", timestep_spacing="trailing")
    schedule = new_solver()
    schedule.set_timesteps(steps)
    missing = set(GRID) - set(schedule.timesteps.tolist())
    if missing:
        raise ValueError(f"--teacher-steps={steps} misses diffusion times {sorted(missing)}; "
                         "use a multiple of 4.")
    states = np.zeros((n, 5, c, side, side), np.float32)
    t0 = time.time()
    for start in range(0, n, batch):
        x = noise[start: start + batch].clone().to(device)
        rows = slice(start, start + len(x))

        def record(t, x_t, rows=rows):
            if int(t) in GRID:
                states[rows, GRID.index(int(t))] = x_t.cpu().numpy()

        y = torch.from_numpy(labels[rows]).to(device)
        # a fresh solver per batch: the multistep solver keeps past predictions
        x = denoise(unet, x, y, null, new_solver(), steps, guidance, on_step=record)
        states[rows, 4] = x.cpu().numpy()
        log(f"teacher: {start + len(x)}/{n} trajectories, {time.time() - t0:.0f} s")
    return states, labels


def alpha_sigma(t):
    """sqrt(alpha_bar_t), sqrt(1 - alpha_bar_t) of the linear schedule; t=-1 is the clean end."""
    sched = make_scheduler("ddim")
    ab = np.where(np.asarray(t) < 0, 1.0, sched.alphas_cumprod.numpy()[np.maximum(t, 0)])
    return np.sqrt(ab), np.sqrt(1.0 - ab)


def student_step(unet, x_in, i_in, i_out, labels, grid):
    """One DDIM step of the student from ``x_in`` (at state ``i_in``) to state ``i_out``.

    ``grid`` is ``(times, alpha, sigma)`` of the recorded states. Returns the step's
    end ``x_pred`` and ``b``, the factor of ``v`` in it (floored at 0.3): dividing the
    step's error by ``b`` puts the loss in ``v`` units.
    """
    import torch

    times, alpha, sigma = grid
    a_i, s_i, a_o, s_o = (torch.tensor(v[i], dtype=torch.float32, device=x_in.device)
                          [:, None, None, None]
                          for v, i in ((alpha, i_in), (sigma, i_in), (alpha, i_out),
                                       (sigma, i_out)))
    v = unet(x_in, torch.from_numpy(times[i_in]).to(x_in.device),
             class_labels=torch.from_numpy(labels).to(x_in.device)).sample
    x0_hat, eps_hat = a_i * x_in - s_i * v, s_i * x_in + a_i * v
    x_pred = a_o * x0_hat + s_o * eps_hat  # one DDIM step with the student's prediction
    return x_pred, (s_o * a_i - a_o * s_i).abs().clamp(min=0.3)


def own_inputs(unet, states_t, rows, i_in, i_prev, labels, grid, share, rng):
    """Inputs of the training steps: the teacher's state ``i_in``, or with probability
    ``share`` (for a step that is not its grid's first, ``i_prev >= 0``) the student's own
    previous step from the teacher's state ``i_prev`` -- what the step sees when the
    student samples (exposure bias)."""
    import torch

    x_in = states_t[rows, i_in].clone()
    if share == 0:  # draws nothing: a run without it is the run it was before the option
        return x_in
    later = (i_prev >= 0) & (rng.rand(len(rows)) < share)
    if later.any():
        with torch.no_grad():
            x_in[later], _ = student_step(unet, states_t[rows[later], i_prev[later]],
                                           i_prev[later], i_in[later], labels[later], grid)
    return x_in


def train_student(unet, states, labels, args, log):
    """Train ``unet`` (a copy of the teacher) in place on the recorded teacher states."""
    import torch

    rng = np.random.RandomState(args.seed + 1)
    times = np.array([*GRID, -1])
    grid = (times, *alpha_sigma(times))
    pairs = [(k, p) for k in args.student_steps for p in PAIRS[k]]
    # each student (4, 2, 1 steps) equally often, its steps equally often within it
    weights = np.array([1.0 / len(PAIRS[k]) for k, _ in pairs])
    weights /= weights.sum()
    # per pair: its start, end, and the start of the step before it in its grid (-1: none)
    start = {(k, b): a for k, (a, b) in pairs}
    p_in, p_out = (np.array([p[j] for _, p in pairs]) for j in (0, 1))
    p_prev = np.array([start.get((k, a), -1) for k, (a, _) in pairs])
    opt = torch.optim.AdamW(unet.parameters(), lr=args.lr, weight_decay=0.0)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.train_steps)
             if args.lr_schedule == "cosine" else None)
    unet.train()
    t0, running = time.time(), []
    states_t = torch.from_numpy(states).to(unet.device)
    for step in range(1, args.train_steps + 1):
        rows = rng.randint(len(states), size=args.batch_size)
        which = rng.choice(len(pairs), size=args.batch_size, p=weights)
        i_in, i_out = p_in[which], p_out[which]
        # the student's own inputs only once its first steps have learnt something
        share = args.own_input_share if step > args.train_steps // 4 else 0.0
        x_in = own_inputs(unet, states_t, rows, i_in, p_prev[which], labels[rows], grid,
                          share, rng)
        x_pred, b = student_step(unet, x_in, i_in, i_out, labels[rows], grid)
        loss = (((x_pred - states_t[rows, i_out]) / b) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        if sched is not None:
            sched.step()
        running.append(loss.item())
        if step % 25 == 0 or step == args.train_steps:
            log(f"student: step {step}/{args.train_steps}, loss {np.mean(running):.4f}, "
                f"{time.time() - t0:.0f} s")
            running = []
        if args.minutes and time.time() - args.start > 60 * args.minutes:
            log(f"stopped at step {step}: the --minutes={args.minutes} cap was reached")
            return step
    unet.eval()
    return args.train_steps


def save_student(unet, args, steps_done, wall_s):
    teacher = PRETRAINED / args.teacher if (PRETRAINED / args.teacher).is_dir() \
        else Path(args.teacher)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    save_unet(unet.to("cpu"), out)
    meta = json.loads((teacher / "synaug_generator.json").read_text())
    meta["prediction_type"] = "v_prediction"
    meta["sampling"] = {"scheduler": "ddim", "timestep_spacing": "trailing",
                        "num_inference_steps": max(args.student_steps), "guidance_scale": 1.0,
                        "guidance_interval": None}
    meta["distillation"] = {
        "teacher": args.teacher, "method": "trajectory distillation (guided teacher)",
        "student_steps": sorted(args.student_steps),
        "teacher_sampler": f"dpm++ {args.teacher_steps} steps (trailing), guidance {args.guidance}",
        "teacher_steps": args.teacher_steps, "teacher_guidance": args.guidance,
        "n_trajectories": args.n_trajectories,
        "train_steps": steps_done, "batch_size": args.batch_size, "lr": args.lr,
        "lr_schedule": args.lr_schedule, "own_input_share": args.own_input_share,
        "seed": args.seed, "wall_s": round(wall_s), "threads": args.threads,
        "device": args.device,
    }
    meta["sha256"] = pretrained_hashes(out)  # the student's files, not the teacher's
    (out / "synaug_generator.json").write_text(json.dumps(meta, indent=2))
    if (teacher / "training.json").is_file():
        shutil.copy(teacher / "training.json", out / "training.json")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default="fashion-mnist-small")
    parser.add_argument("--out", type=Path, default=PRETRAINED / "fashion-mnist-small-student")
    parser.add_argument("--n-trajectories", type=int, default=2560)
    parser.add_argument("--teacher-steps", type=int, default=16,
                        help="the guided teacher's DPM-Solver++ steps, a multiple of 4 (8 steps "
                        "score 1.6 points below DDIM-20 downstream; students of 16 scored "
                        "2.6 points better at 4 steps and 3.1 at 2 than students of 8)")
    parser.add_argument("--guidance", type=float, default=1.5)
    parser.add_argument("--train-steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--lr-schedule", choices=["constant", "cosine"], default="constant",
                        help="cosine: decay the learning rate to 0 over --train-steps")
    parser.add_argument("--student-steps", type=int, nargs="+", choices=sorted(PAIRS),
                        default=sorted(PAIRS),
                        help="the step counts the student learns (one network for all); "
                        "its default sampler uses the largest")
    parser.add_argument("--own-input-share", type=float, default=0.0,
                        help="after the first quarter of the training, this share of the "
                        "steps that are not their grid's first start from the student's own "
                        "previous step instead of the teacher's state (exposure bias); 0-1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu",
                        help="torch device of the teacher and the student, e.g. cuda")
    parser.add_argument("--minutes", type=float, default=60.0,
                        help="safety cap on the whole run; the log says if it was reached")
    args = parser.parse_args(argv)
    if not 0.0 <= args.own_input_share <= 1.0:
        parser.error(f"--own-input-share must lie in [0, 1], got {args.own_input_share}")
    try:  # before any work: "cuda" on a machine without it fails here
        check_device(args.device, "--device")
    except ValueError as exc:
        parser.error(str(exc))
    args.start = time.time()
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    def log(msg):
        print(f"[{time.time() - args.start:6.0f} s] {msg}", flush=True)

    meta = json.loads(((PRETRAINED / args.teacher) / "synaug_generator.json").read_text())
    n_classes = len(meta["strata"])
    X = np.zeros((n_classes, meta["height"], meta["width"]), np.uint8)
    teacher = ConditionalDiffusionGenerator.from_pretrained(args.teacher, device=args.device).fit(
        X, np.arange(n_classes))
    unet = teacher.unet_.eval()
    states, labels = teacher_trajectories(unet, args.n_trajectories, args.teacher_steps,
                                          args.guidance, args.seed, n_classes, log)
    steps_done = train_student(unet, states, labels, args, log)
    out = save_student(unet, args, steps_done, time.time() - args.start)
    log(f"student ({steps_done} steps) written to {out}")


if __name__ == "__main__":
    main()
