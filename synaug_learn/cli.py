"""The ``synaug`` command: ``synaug demo`` and ``synaug balance``.

This module only parses arguments; the work is done by ``run_demo`` and
``run_balance`` (in the library's ``_demo`` and ``_balance`` modules).
"""

from __future__ import annotations

import argparse
import sys

from ._balance import run_balance
from ._demo import run_demo

__all__ = ["main", "run_balance", "run_demo"]


def main(argv=None):
    """Entry point of the ``synaug`` command."""
    parser = argparse.ArgumentParser(prog="synaug", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="SynAug vs SMOTE and long-tail baselines, in minutes")
    demo.add_argument("--dataset", choices=["fashion-mnist", "digits"], default="fashion-mnist")
    demo.add_argument("--out", default="synaug_output")
    demo.add_argument("--n-max", type=int, default=200)
    demo.add_argument("--train-steps", type=int, default=250,
                      help="optimiser steps of every method's network")
    demo.add_argument("--seed", type=int, default=0)
    bal = sub.add_parser("balance", help="balance an image folder with generated images")
    bal.add_argument("input_dir")
    bal.add_argument("output_dir")
    bal.add_argument("--generator", default="fashion-mnist-small",
                     help="a shipped generator's name, a save_pretrained folder, or 'indomain'")
    bal.add_argument("--fill-ratio", type=float, default=1.0)
    bal.add_argument("--image-size", type=int, default=None)
    bal.add_argument("--grayscale", action="store_true")
    bal.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "demo":
        run_demo(args.dataset, args.out, n_max=args.n_max, train_steps=args.train_steps,
                 seed=args.seed)
    else:
        run_balance(args.input_dir, args.output_dir, generator=args.generator,
                    fill_ratio=args.fill_ratio, image_size=args.image_size, seed=args.seed,
                    color_mode="grayscale" if args.grayscale else "rgb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
