"""Quality filter: keep generated samples a real-data classifier assigns to their intended class."""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression

from .utils import feature_map

__all__ = ["filter_generated"]


def _auto_classifier(X, y):
    """Class-balanced logistic regression on the real rows' pixels, scaled to [-1, 1] with
    their range.

    The real rows are imbalanced -- that is why they are being filled -- and an unweighted
    fit shrinks a rare class's probabilities by its prior, so a fixed threshold would reject
    most samples of the very classes the fill is for, honest ones included.
    """
    features = feature_map(X, value_range=(-1.0, 1.0))
    clf = LogisticRegression(max_iter=300, class_weight="balanced").fit(features(X), y)
    return clf, features


def filter_generated(fetch, n_per_stratum, base_seed, X, y, *, filter, threshold, max_rounds):
    """Fetch generated rows and keep those whose intended class gets ``p >= threshold``.

    ``fetch(n_per_stratum, random_state)`` returns the generated rows
    ``(X_new, y_new, groups_new)`` (the fill loop, reading from the bank).

    Rows are taken in each stratum's seed order, so the kept rows are the
    first accepted ones of the stratum's sequence and the result is
    reproducible. Rejected rows are replaced by fetching further rows of the
    same sequence, at most ``max_rounds`` times.

    Returns ``X_new, y_new, groups_new, report`` where report maps each
    stratum to ``{"generated", "kept", "rejected", "rejection_rate"}``.
    """
    if filter == "auto":
        clf, features = _auto_classifier(X, y)
    else:
        clf, features = filter, (lambda A: A)
    classes = list(clf.classes_)
    missing = [s for s in n_per_stratum if s[0] not in classes]
    if missing:
        raise ValueError(
            f"filter's classes_ {classes!r} lack the labels of strata {missing!r}."
        )
    asked = {s: n for s, n in n_per_stratum.items() if n > 0}
    if not asked:
        return (*fetch({}, random_state=base_seed), {})
    fetch_n = dict(asked)
    keep = {}
    for _ in range(max_rounds + 1):
        X_all, y_all, g_all = fetch(fetch_n, random_state=base_seed)
        offsets = np.cumsum([0] + list(fetch_n.values()))
        proba = clf.predict_proba(features(X_all)) if len(X_all) else np.empty((0, len(classes)))
        short = {}
        for (stratum, n), start in zip(fetch_n.items(), offsets[:-1]):
            p = proba[start: start + n, classes.index(stratum[0])]
            ok = np.flatnonzero(p >= threshold) + start
            keep[stratum] = (ok[: asked[stratum]], n)
            if len(ok) < asked[stratum]:
                rate = max(len(ok) / n, 1.0 / n)  # next request sized by the acceptance rate
                short[stratum] = min(math.ceil(asked[stratum] / rate), 20 * asked[stratum])
        if not short:
            break
        fetch_n = {s: max(fetch_n[s], short.get(s, fetch_n[s])) for s in fetch_n}
    rows = np.concatenate([k for k, _ in keep.values()]) if keep else np.empty(0, int)
    report = {}
    for stratum, (kept, generated) in keep.items():
        report[stratum] = {
            "generated": int(generated),
            "kept": int(len(kept)),
            "rejected": int(generated - len(kept)),
            "rejection_rate": float(1 - len(kept) / generated) if generated else 0.0,
        }
        if len(kept) < asked[stratum]:
            warnings.warn(
                f"filter kept only {len(kept)} of the {asked[stratum]} samples asked for "
                f"stratum {stratum!r} after {max_rounds} extra rounds; lower filter_threshold "
                "or improve the generator.",
                UserWarning, stacklevel=3,
            )
    g_out = None if g_all is None else g_all[rows]
    return X_all[rows], y_all[rows], g_out, report
