"""The ``synaug`` command: ``synaug demo`` and ``synaug balance``.

This module only parses arguments; the work is done by ``run_demo`` and
``run_balance`` (in the library's ``_demo`` and ``_balance`` modules). A user
error (a bad option value, a missing folder, a generator that does not fit the
images) is one line on stderr and exit status 2, argparse's convention.
"""

from __future__ import annotations

import argparse
import sys

from ._balance import run_balance
from ._demo import run_demo

__all__ = ["main", "run_balance", "run_demo"]

DESCRIPTION = ("synaug: fill every class of a long-tailed image data set with generated "
               "images (SYNAuG). 'synaug demo' compares it with SMOTE and long-tail "
               "baselines; 'synaug balance' writes a balanced copy of an image folder.")


def _number(kind, low, high=None, low_open=False):
    """An argparse ``type`` for a number in ``[low, high]`` (``(low, high]`` if ``low_open``)."""
    def parse(text):
        what = "an int" if kind is int else "a number"
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value != value:  # NaN
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        if value < low or (low_open and value == low) or (high is not None and value > high):
            bounds = f"{'(' if low_open else '['}{low}, {high if high is not None else 'inf'}"
            raise argparse.ArgumentTypeError(
                f"{text} is outside {bounds}{']' if high is not None else ')'}")
        return value
    parse.__name__ = kind.__name__
    return parse


def _parser():
    parser = argparse.ArgumentParser(prog="synaug", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser("demo", help="SynAug vs SMOTE and long-tail baselines, in minutes",
                          description="SynAug vs SMOTE and long-tail baselines on a "
                                      "long-tailed split: a table, plots and results.json.")
    demo.add_argument("--dataset", choices=["fashion-mnist", "digits"], default="fashion-mnist",
                      help="data set to split long-tailed (default: %(default)s)")
    demo.add_argument("--out", default="synaug_output",
                      help="folder for the plots and results.json (default: %(default)s)")
    demo.add_argument("--n-max", type=_number(int, 1), default=200,
                      help="training images of the largest class (default: %(default)s)")
    demo.add_argument("--train-steps", type=_number(int, 1), default=200,
                      help="optimiser steps of every method's network (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    demo.add_argument("--sampler", choices=["student", "teacher"], default=None,
                      help="the shipped generator's 2-step distilled student (fast; the default "
                           "on fashion-mnist) or the teacher at 10 guided DPM-Solver++ steps "
                           "(ten times the network passes, a little better; the only choice "
                           "on digits)")

    bal = sub.add_parser(
        "balance", help="balance an image folder with generated images",
        description="Read IN_DIR/<class>/<image>, fill every class up to the largest with "
                    "generated images and write OUT_DIR/<class>/ plus manifest.json, which "
                    "lists the generated files.")
    bal.add_argument("input_dir", metavar="IN_DIR", help="folder with one sub-folder per class")
    bal.add_argument("output_dir", metavar="OUT_DIR", help="new or empty output folder")
    bal.add_argument("--generator", default="fashion-mnist-small",
                     help="a shipped generator's name, a folder written by save_pretrained "
                          "(a path: './name'), or 'indomain' to train one on IN_DIR "
                          "(default: %(default)s)")
    bal.add_argument("--fill-ratio", type=_number(float, 0.0, 1.0, low_open=True), default=1.0,
                     help="fraction of each class's deficit to fill, in (0, 1] "
                          "(default: %(default)s)")
    bal.add_argument("--image-size", type=_number(int, 1), default=None,
                     help="resize every image to this square side (default: keep the size)")
    bal.add_argument("--grayscale", action="store_true",
                     help="read the images as grey (one channel); needed for grey data and "
                          "the shipped Fashion-MNIST generator")
    bal.add_argument("--steps", type=_number(int, 1), default=None,
                     help="sampling steps of the generator (default: the generator's own)")
    bal.add_argument("--train-steps", type=_number(int, 1), default=2000,
                     help="with --generator indomain: training budget in optimiser steps "
                          "(default: %(default)s)")
    bal.add_argument("--train-minutes", type=_number(float, 0.0, low_open=True), default=5.0,
                     help="with --generator indomain: training budget in minutes; the smaller "
                          "budget wins (default: %(default)s)")
    bal.add_argument("--cache-dir", default=None,
                     help="folder of the synthetic bank: generated images are kept there, so "
                          "an interrupted run resumes and a rerun reuses them "
                          "(default: none, in memory)")
    bal.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    return parser, {"demo": demo, "balance": bal}


def main(argv=None):
    """Entry point of the ``synaug`` command."""
    parser, subparsers = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            run_demo(args.dataset, args.out, n_max=args.n_max, train_steps=args.train_steps,
                     seed=args.seed, sampler=args.sampler)
        else:
            run_balance(args.input_dir, args.output_dir, generator=args.generator,
                        fill_ratio=args.fill_ratio, image_size=args.image_size, seed=args.seed,
                        color_mode="grayscale" if args.grayscale else "rgb",
                        num_inference_steps=args.steps, max_steps=args.train_steps,
                        max_minutes=args.train_minutes, cache_dir=args.cache_dir)
    except (ValueError, OSError) as exc:  # the user's input: one line, status 2
        subparsers[args.command].error(" ".join(str(exc).split()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
