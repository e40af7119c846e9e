"""Named long-tail recipes shared by ``synaug demo`` and ``benchmarks/long_tail.py``.

Every recipe trains the same network (``MixupNetClassifier`` with the same
module, epochs and optimiser); recipes differ only in what they change:
the data (a sampler), the loss, Mixup, or a re-trained head. Method names
follow ``shared/BENCHMARKS.md``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from imblearn import FunctionSampler
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline
from sklearn.base import clone

from ._retrain import RetrainClassifier
from ._sampler import SynAugSampler
from .metrics import per_class_accuracy, shot_accuracy
from .nets import MixupNetClassifier

__all__ = ["METHODS", "evaluate", "make_recipe"]

METHODS = {
    "ce": "cross-entropy on the long-tailed rows",
    "ros": "random over-sampling",
    "smote": "SMOTE",
    "class_weighted_ce": "class-weighted cross-entropy",
    "balanced_softmax": "Balanced Softmax (logit adjustment)",
    "crt": "cross-entropy, then the head re-trained on class-balanced real rows (cRT)",
    "ros_mixup": "random over-sampling + Mixup",
    "balanced_softmax_mixup": "Balanced Softmax + Mixup (strongest generator-free recipe)",
    "synaug_indomain": "fill from a generator trained on the long-tailed rows",
    "synaug_indomain_mixup": "... + Mixup",
    "synaug_indomain_mixup_retrain": "... + Mixup + head re-trained on balanced real rows",
    "synaug_pretrained": "fill from the generator pretrained on a disjoint pool",
    "synaug_pretrained_mixup": "... + Mixup",
    "synaug_pretrained_mixup_retrain": "... + Mixup + head re-trained on balanced real rows",
    "synaug_pretrained_mixup_retrain_resampled":
        "... + Mixup + head re-trained on the balanced filled set",
    "synaug_pretrained_balanced_softmax_mixup":
        "fill from the pretrained generator + Balanced Softmax (long-tailed prior, tau 0.5) "
        "+ Mixup",
    "synthetic_only": "trained on generated images only, n_max per class (replacement analysis)",
    "real_fill": "deficits filled with real images from the generator's pool (the ceiling)",
    "oracle": "balanced real rows of the same size, from outside the long-tailed split",
}


def _fill_from_pool(X, y, *, pool_X, pool_y, n_target, random_state):
    """Fill each class up to ``n_target`` with real rows drawn from a pool."""
    rng = np.random.RandomState(random_state)
    counts = Counter(np.asarray(y).tolist())
    parts_X, parts_y = [np.asarray(X)], [np.asarray(y)]
    for label, n in sorted(counts.items()):
        candidates = np.flatnonzero(pool_y == label)
        need = n_target - n
        if need > len(candidates):
            raise ValueError(f"the pool holds {len(candidates)} rows of class {label}; "
                             f"{need} are needed.")
        pick = rng.choice(candidates, need, replace=False)
        parts_X.append(pool_X[pick].astype(np.asarray(X).dtype))
        parts_y.append(pool_y[pick].astype(np.asarray(y).dtype))
    return np.concatenate(parts_X), np.concatenate(parts_y)


def _synthetic_only(X, y, *, sampler, n_target):
    """Replace the real rows by ``n_target`` generated rows per class."""
    counts = Counter(np.asarray(y).tolist())
    sampler = clone(sampler).set_params(
        sampling_strategy={c: n + n_target for c, n in counts.items()}
    )
    X_res, y_res = sampler.fit_resample(X, y)
    return X_res[sampler.synthetic_mask_], y_res[sampler.synthetic_mask_]


def make_recipe(method, *, class_counts, n_target, generators=None, pools=None,
                net_params=None, train_steps=None, cache_dir=None, random_state=0):
    """The estimator of a named recipe.

    Parameters
    ----------
    method : str
        A key of :data:`METHODS`.
    class_counts : dict
        Training rows per class of the long-tailed data (the prior of the
        balancing losses, also after a fill).
    n_target : int
        Rows per class after a fill (the head class's count).
    generators : dict, default=None
        ``{"indomain": generator, "pretrained": generator}`` for the SynAug recipes.
    pools : dict, default=None
        ``{"real_fill": (X, y), "oracle": (X, y)}``: real rows outside the
        long-tailed split.
    net_params : dict, default=None
        Shared ``MixupNetClassifier`` parameters (module, max_epochs, ...).
    train_steps : int, default=None
        Give every recipe the same number of optimiser steps instead of the
        same epochs: ``max_epochs`` becomes ``round(train_steps * batch_size /
        rows the net sees)`` (long-tailed rows, or ``n_target`` per class after
        a fill). Otherwise a fill would also mean more training.
    cache_dir : str, default=None
        Synthetic bank folder shared by all SynAug recipes.
    random_state : int, default=0
        Seeds every random part of the recipe.

    Returns
    -------
    estimator : scikit-learn estimator

    Examples
    --------
    >>> from synaug_learn._recipes import make_recipe
    >>> est = make_recipe("balanced_softmax_mixup", class_counts={0: 50, 1: 5}, n_target=50)
    >>> est.get_params()["loss"], est.get_params()["mixup_alpha"]
    ('balanced_softmax', 1.0)
    >>> make_recipe("ros", class_counts={0: 50, 1: 5}, n_target=50,
    ...             train_steps=100).get_params()["clf__max_epochs"]  # 100 * 128 / 100 rows
    128
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {sorted(METHODS)}.")
    generators, pools = generators or {}, pools or {}
    rs = random_state

    sees_filled = method not in ("ce", "class_weighted_ce", "balanced_softmax", "crt",
                                 "balanced_softmax_mixup")
    n_rows = n_target * len(class_counts) if sees_filled else sum(class_counts.values())

    def net(mixup=False, **params):
        base = {"module": "small_cnn", "max_epochs": 20, "batch_size": 128, **(net_params or {})}
        if train_steps is not None:
            base["max_epochs"] = max(1, round(train_steps * base["batch_size"] / n_rows))
        return MixupNetClassifier(**base, mixup_alpha=1.0 if mixup else 0.0, random_state=rs,
                                  **params)

    def synaug(kind):
        if kind not in generators:
            raise ValueError(f"method={method!r} needs generators[{kind!r}].")
        return SynAugSampler(generator=generators[kind], cache_dir=cache_dir, report=False,
                             random_state=rs)

    def pool_sampler(name):
        if name not in pools:
            raise ValueError(f"method={method!r} needs pools[{name!r}].")
        pool_X, pool_y = pools[name]
        return FunctionSampler(func=_fill_from_pool, validate=False, kw_args={
            "pool_X": pool_X, "pool_y": pool_y, "n_target": n_target, "random_state": rs})

    def pipe(sampler, clf):
        return Pipeline([("sampler", sampler), ("clf", clf)])

    smallest = min(class_counts.values())
    if method == "ce":
        return net()
    if method == "ros":
        return pipe(RandomOverSampler(random_state=rs), net())
    if method == "smote":
        return pipe(SMOTE(k_neighbors=max(1, min(5, smallest - 1)), random_state=rs), net())
    if method == "class_weighted_ce":
        return net(loss="class_weighted")
    if method == "balanced_softmax":
        return net(loss="balanced_softmax")
    if method == "crt":
        return RetrainClassifier(net(), rows="original", random_state=rs)
    if method == "ros_mixup":
        return pipe(RandomOverSampler(random_state=rs), net(mixup=True))
    if method == "balanced_softmax_mixup":
        return net(mixup=True, loss="balanced_softmax")
    if method.startswith("synaug_"):
        kind = method.split("_")[1]
        tail = method[len(f"synaug_{kind}"):]
        if tail == "_balanced_softmax_mixup":
            # After a fill the net sees uniform counts; the long-tailed prior with
            # tau=0.5 is what composed with the fill in FINDINGS.md §2 (tau=1 over-corrects).
            clf = net(mixup=True, loss="balanced_softmax", loss_tau=0.5,
                      class_counts=dict(class_counts))
        else:
            clf = net(mixup="_mixup" in tail)
        est = pipe(synaug(kind), clf)
        if tail.startswith("_mixup_retrain"):
            rows = "resampled" if tail.endswith("_resampled") else "original"
            est = RetrainClassifier(est, rows=rows, random_state=rs)
        return est
    if method == "synthetic_only":
        return pipe(FunctionSampler(func=_synthetic_only, validate=False, kw_args={
            "sampler": synaug("pretrained"), "n_target": n_target}), net(mixup=True))
    return pipe(pool_sampler(method), net())  # real_fill, oracle


def evaluate(estimator, X_test, y_test, train_counts, many=100, few=20):
    """Balanced accuracy, many/medium/few shot accuracy and per-class accuracy on a test set."""
    y_pred = estimator.predict(X_test)
    shots = shot_accuracy(y_test, y_pred, train_counts, many=many, few=few)
    return {
        "balanced_accuracy": shots["overall"],
        "many": shots["many"],
        "medium": shots["medium"],
        "few": shots["few"],
        "per_class": per_class_accuracy(y_test, y_pred),
    }
