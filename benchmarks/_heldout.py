"""Held-out real Fashion-MNIST rows for validation: balanced, outside given rows.

One place for the rule the benchmarks share (``generation_speed.py``'s validation
accuracy, ``long_tail.py --heldout-validation``): rows below
:data:`~synaug_learn.datasets.FASHION_MNIST_POOL_START` (so never in a generator's
pool nor in the test set) that are not among the rows a run trains on.
"""

from __future__ import annotations

import numpy as np

from synaug_learn.datasets import FASHION_MNIST_POOL_START, load_fashion_mnist

HELDOUT_SALT = 1000  # the draw's random stream: RandomState(HELDOUT_SALT + seed)


def rows_below_pool(X_used):
    """The training rows below the pool start, flat ``(X, y)``, and a mask of those whose
    pixels equal no row of ``X_used`` (images or flat rows)."""
    X, y = load_fashion_mnist("train")
    X = X[:FASHION_MNIST_POOL_START].reshape(FASHION_MNIST_POOL_START, -1)
    used = {row.tobytes() for row in np.asarray(X_used, np.uint8).reshape(len(X_used), -1)}
    return X, y[:FASHION_MNIST_POOL_START], np.array([row.tobytes() not in used for row in X])


def held_out_rows(X_train, per_class, seed):
    """``per_class`` real rows of each class below the pool start, none of them in ``X_train``.

    Returns flat ``(X, y)`` (rows of 784 uint8 pixels, labels), classes in order.
    """
    X, y, free = rows_below_pool(X_train)
    rng = np.random.RandomState(HELDOUT_SALT + seed)
    idx = np.concatenate([rng.choice(np.flatnonzero(free & (y == c)), per_class, replace=False)
                          for c in range(10)])
    return X[idx], y[idx]
