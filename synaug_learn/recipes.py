"""Named long-tail recipes: SynAug, its ablations and the baselines it is compared with.

Every recipe trains the same network (``MixupNetClassifier`` with the same
module, epochs and optimiser); recipes differ only in what they change:
the data (a sampler), the loss, Mixup, or a re-trained head. ``synaug demo``
and the long-tail benchmark (``benchmarks/long_tail.py``) build their methods
with :func:`make_recipe` and score them with :func:`evaluate`; the names are
the keys of :data:`METHODS`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from imblearn import FunctionSampler
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline
from sklearn.base import clone

from ._retrain import RetrainClassifier
from ._sampler import SynAugSampler
from ._synthetic_aware import SyntheticAwareClassifier
from .metrics import per_class_accuracy, shot_accuracy
from .nets import MixupNetClassifier

__all__ = ["METHODS", "REMEDIES", "evaluate", "make_recipe"]

METHODS = {
    "ce": "cross-entropy on the long-tailed rows",
    "ros": "random over-sampling",
    "smote": "SMOTE",
    "class_weighted_ce": "class-weighted cross-entropy",
    "balanced_softmax": "Balanced Softmax (logit adjustment)",
    "crt": "cross-entropy, then cRT (Kang et al. 2020): the head re-initialised and trained "
           "with class-balanced sampling over all real rows, features frozen",
    "ce_retrain": "cross-entropy, then the head refitted on a class-balanced subsample of the "
                  "real rows (the SYNAuG paper's re-training, without a fill)",
    "ros_mixup": "random over-sampling + Mixup",
    "balanced_softmax_mixup": "Balanced Softmax + Mixup",
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
    "synaug_pretrained_mixup_crt": "... + Mixup + cRT on all real rows (class-balanced "
                                   "sampling)",
    "synaug_pretrained_adabn": "... with the net's BatchNorm statistics re-estimated on the "
                               "real rows after training (AdaBN)",
    "synaug_pretrained_domain_mixup": "... + domain Mixup (each real row mixed with a "
                                      "generated one)",
    "synaug_pretrained_domain_mixup_retrain_resampled":
        "... + domain Mixup + head re-trained on the balanced filled set",
    "synaug_pretrained_two_stage": "... trained on the filled set, then fine-tuned on the real "
                                   "rows only",
    "synaug_pretrained_regen": "... with every real row redrawn by the generator "
                               "(regenerate_real), so that looking real no longer marks the "
                               "head classes",
    "synaug_pretrained_regen_mixup_retrain_resampled":
        "... + Mixup + head re-trained on the balanced filled set",
    "synaug_shifted": "fill from the domain-shifted generator (pretrained on the pool in "
                      "another style)",
    "synaug_shifted_mixup": "... + Mixup (any two rows)",
    "synaug_shifted_mixup_retrain": "... + Mixup + head refitted on a balanced subsample of "
                                    "the real rows (the paper's recipe)",
    "synaug_shifted_mixup_crt": "... + Mixup + cRT on all real rows (class-balanced sampling)",
    "synaug_shifted_domain_mixup": "... + domain Mixup (each real row mixed with a generated "
                                   "one)",
    "synaug_shifted_domain_mixup_retrain": "... + domain Mixup + head refitted on a balanced "
                                           "subsample of the real rows",
    "synaug_shifted_domain_mixup_crt": "... + domain Mixup + cRT on all real rows",
    "synaug_shifted_two_stage": "... trained on the filled set, then fine-tuned on the real "
                                "rows only",
    "synaug_shifted_domain_mixup_two_stage": "... + domain Mixup, then fine-tuned on the "
                                             "real rows only",
    "synaug_shifted_adabn": "... with the net's BatchNorm statistics re-estimated on the real "
                            "rows after training (AdaBN)",
    "synaug_shifted_mixup_adabn_crt": "... + Mixup + AdaBN + cRT on all real rows",
    "synthetic_only": "trained on generated images only, n_max per class (replacement analysis)",
    "real_fill": "deficits filled with real images from the generator's pool (the ceiling)",
    "real_fill_mixup_retrain_resampled": "... + Mixup + head re-trained on the balanced filled "
                                         "set (SynAug's recipe on the real fill)",
    "oracle": "balanced real rows of the same size, from outside the long-tailed split",
    "real_fill_styled": "deficits filled with the domain-shifted generator's own training "
                        "images (real pool images in its style): its data used directly",
    "real_fill_styled_domain_mixup_retrain": "... + domain Mixup + head refitted on a balanced "
                                             "subsample of the real rows",
}
#: ``regenerate_real`` of the ``synaug_{kind}_regen...`` recipes (the group benchmark's value).
REGENERATE_REAL = 0.5
#: The remedies a fill can be followed by, as recipe-name suffixes, longest match first.
REMEDIES = ("domain_mixup", "mixup", "two_stage", "adabn", "retrain_resampled", "retrain", "crt")


def _remedies(tail):
    """The set of :data:`REMEDIES` named by a recipe's suffix, e.g. ``"_mixup_retrain"``."""
    found, rest = set(), tail
    for remedy in REMEDIES:
        if f"_{remedy}" in rest:
            found.add(remedy)
            rest = rest.replace(f"_{remedy}", "", 1)
    if rest:
        raise ValueError(f"unknown remedy {rest!r} in a recipe name; known: {REMEDIES}.")
    return found


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
        A key of :data:`METHODS`. A fill's name ends in the remedies that
        follow it (:data:`REMEDIES`): ``_mixup`` (Mixup of any two rows),
        ``_domain_mixup`` (each real row mixed with a generated one), ``_two_stage``
        (then fine-tuned on the real rows), ``_adabn`` (then the BatchNorm
        statistics re-estimated on the real rows), ``_retrain`` (head refitted on a
        balanced subsample of the real rows, the paper's), ``_retrain_resampled``
        (... of the filled set) or ``_crt`` (Kang et al.'s cRT on all real rows).
        ``synaug_{kind}_regen...`` also redraws every real row with the
        generator (``regenerate_real``, :data:`REGENERATE_REAL`) before them.
    class_counts : dict
        Training rows per class of the long-tailed data (the prior of the
        balancing losses, also after a fill).
    n_target : int
        Rows per class after a fill (the head class's count).
    generators : dict, default=None
        ``{kind: generator}`` for the ``synaug_{kind}...`` recipes: ``"indomain"``,
        ``"pretrained"``, ``"shifted"``.
    pools : dict, default=None
        ``{"real_fill": (X, y), "oracle": (X, y), "real_fill_styled": (X, y)}``:
        real rows outside the long-tailed split (``real_fill_styled``: the
        domain-shifted generator's training images).
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
    >>> from synaug_learn.recipes import make_recipe
    >>> est = make_recipe("balanced_softmax_mixup", class_counts={0: 50, 1: 5}, n_target=50)
    >>> est.get_params()["loss"], est.get_params()["mixup_alpha"]
    ('balanced_softmax', 1.0)
    >>> make_recipe("ros", class_counts={0: 50, 1: 5}, n_target=50,
    ...             train_steps=100).get_params()["clf__max_epochs"]  # 100 * 128 / 100 rows
    128
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {sorted(METHODS)}.")
    parts = _Parts(method, dict(class_counts), n_target, generators or {}, pools or {},
                   net_params or {}, train_steps, cache_dir, random_state)
    if method in _SIMPLE:
        sampler, net_kwargs = _SIMPLE[method]
        clf = parts.net(**net_kwargs)
        return clf if sampler is None else _pipe(parts.sampler(sampler), clf)
    if method == "crt":
        return RetrainClassifier(parts.net(), method="crt", random_state=random_state)
    if method == "ce_retrain":
        return RetrainClassifier(parts.net(), rows="original", random_state=random_state)
    if method.startswith("synaug_"):
        return parts.synaug_recipe()
    if method == "synthetic_only":
        return _pipe(FunctionSampler(func=_synthetic_only, validate=False, kw_args={
            "sampler": parts.synaug("pretrained"), "n_target": n_target}), parts.net(mixup=True))
    # the rest fill from one of ``pools`` (the longest matching name), then the suffix's remedies
    pool = next(p for p in _POOLS if method.startswith(p))
    return parts.filled(parts.pool_sampler(pool), method[len(pool):])


#: ``method: (sampler or None, MixupNetClassifier changes)`` of the recipes without a generator.
_SIMPLE = {
    "ce": (None, {}),
    "ros": ("ros", {}),
    "smote": ("smote", {}),
    "class_weighted_ce": (None, {"loss": "class_weighted"}),
    "balanced_softmax": (None, {"loss": "balanced_softmax"}),
    "ros_mixup": ("ros", {"mixup": True}),
    "balanced_softmax_mixup": (None, {"mixup": True, "loss": "balanced_softmax"}),
}

#: The ``pools`` a recipe can fill from, as name prefixes, longest first.
_POOLS = ("real_fill_styled", "real_fill", "oracle")

#: Recipes whose network sees the long-tailed rows (all others see a filled set).
_UNFILLED = ("ce", "class_weighted_ce", "balanced_softmax", "crt", "ce_retrain",
             "balanced_softmax_mixup")


def _pipe(sampler, clf):
    return Pipeline([("sampler", sampler), ("clf", clf)])


@dataclass
class _Parts:
    """The building blocks of one recipe, from :func:`make_recipe`'s arguments."""

    method: str
    class_counts: dict
    n_target: int
    generators: dict
    pools: dict
    net_params: dict
    train_steps: int | None
    cache_dir: str | None
    random_state: int

    def net(self, mixup=False, **params):
        base = {"module": "small_cnn", "max_epochs": 20, "batch_size": 128, **self.net_params}
        if self.train_steps is not None:
            n_rows = (sum(self.class_counts.values()) if self.method in _UNFILLED
                      else self.n_target * len(self.class_counts))
            base["max_epochs"] = max(1, round(self.train_steps * base["batch_size"] / n_rows))
        return MixupNetClassifier(**base, mixup_alpha=1.0 if mixup else 0.0,
                                  random_state=self.random_state, **params)

    def sampler(self, kind):
        if kind == "ros":
            return RandomOverSampler(random_state=self.random_state)
        smallest = min(self.class_counts.values())
        return SMOTE(k_neighbors=max(1, min(5, smallest - 1)), random_state=self.random_state)

    def synaug(self, kind, regenerate_real=None):
        if kind not in self.generators:
            raise ValueError(f"method={self.method!r} needs generators[{kind!r}].")
        return SynAugSampler(generator=self.generators[kind], cache_dir=self.cache_dir,
                             regenerate_real=regenerate_real, report=False,
                             random_state=self.random_state)

    def synaug_recipe(self):
        """``synaug_{kind}[_regen]{remedies}``: a fill from ``generators[kind]`` (``_regen``:
        with the real rows redrawn by it too), then the remedies."""
        kind = self.method.split("_")[1]
        tail = self.method[len(f"synaug_{kind}"):]
        regen = tail.startswith("_regen")
        sampler = self.synaug(kind, REGENERATE_REAL if regen else None)
        return self.filled(sampler, tail[len("_regen"):] if regen else tail)

    def filled(self, sampler, tail):
        """A fill by ``sampler``, then the remedies named by ``tail`` (e.g. ``"_mixup_crt"``)."""
        if tail == "_balanced_softmax_mixup":
            # After a fill the net sees uniform counts; the long-tailed prior with
            # tau=0.5 is what composed with the fill (tau=1 over-corrects).
            return _pipe(sampler, self.net(mixup=True, loss="balanced_softmax", loss_tau=0.5,
                                           class_counts=dict(self.class_counts)))
        remedies = _remedies(tail)
        aware = {}  # what needs to know which rows are generated
        if "domain_mixup" in remedies:
            aware["mixup_pairing"] = "real_synthetic"
        if "two_stage" in remedies:
            aware["two_stage_epochs"] = self.two_stage_epochs()
        clf = self.net(mixup=bool({"mixup", "domain_mixup"} & remedies), **aware)
        est = (SyntheticAwareClassifier(sampler, clf, adapt_batchnorm="adabn" in remedies)
               if aware or "adabn" in remedies else _pipe(sampler, clf))
        if "crt" in remedies:
            return RetrainClassifier(est, method="crt", random_state=self.random_state)
        if remedies & {"retrain", "retrain_resampled"}:
            rows = "resampled" if "retrain_resampled" in remedies else "original"
            return RetrainClassifier(est, rows=rows, random_state=self.random_state)
        return est

    def two_stage_epochs(self):
        """Epochs on the real rows after a fill: a quarter of the first stage's steps."""
        n_real = sum(self.class_counts.values())
        batch = self.net_params.get("batch_size", 128)
        steps = self.train_steps or (self.net_params.get("max_epochs", 20)
                                     * self.n_target * len(self.class_counts) / batch)
        return max(1, round(steps / 4 * batch / n_real))

    def pool_sampler(self, name):
        if name not in self.pools:
            raise ValueError(f"method={self.method!r} needs pools[{name!r}].")
        pool_X, pool_y = self.pools[name]
        return FunctionSampler(func=_fill_from_pool, validate=False, kw_args={
            "pool_X": pool_X, "pool_y": pool_y, "n_target": self.n_target,
            "random_state": self.random_state})


def evaluate(estimator, X_test, y_test, train_counts, many=100, few=20):
    """Balanced accuracy, many/medium/few shot accuracy and per-class accuracy on a test set.

    Parameters
    ----------
    estimator : fitted classifier
        Anything with ``predict``.
    X_test, y_test : array-like
        The test rows and labels.
    train_counts : dict
        Training rows per class, which decide the shot groups.
    many, few : int, default=100, 20
        A class is "many" with more than ``many`` training rows and "few" with
        fewer than ``few``; the rest are "medium".

    Returns
    -------
    dict
        ``balanced_accuracy`` (the mean per-class recall), ``many``,
        ``medium``, ``few`` (NaN for an empty group) and ``per_class``
        (``{label: accuracy}``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from synaug_learn.recipes import evaluate
    >>> X, y = np.zeros((6, 2)), np.array([0, 0, 0, 0, 1, 1])
    >>> clf = DummyClassifier(strategy="most_frequent").fit(X, y)
    >>> scores = evaluate(clf, X, y, train_counts={0: 200, 1: 5})
    >>> scores["balanced_accuracy"], scores["many"], scores["few"]
    (0.5, 1.0, 0.0)
    """
    y_pred = estimator.predict(X_test)
    shots = shot_accuracy(y_test, y_pred, train_counts, many=many, few=few)
    return {
        "balanced_accuracy": shots["overall"],
        "many": shots["many"],
        "medium": shots["medium"],
        "few": shots["few"],
        "per_class": per_class_accuracy(y_test, y_pred),
    }
