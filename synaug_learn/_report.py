"""Synthetic-data report: fidelity, novelty (copying) and diversity of generated rows per stratum.

A generator trained on a handful of tail images mostly copies them (measured
on long-tailed digits: tail samples 0.07-0.26 from their nearest training
image, against 1.6-2.7 for unseen real images of the class): its samples
are recognised as their class 100 % of the time, so fidelity alone cannot
tell a useful fill from a copied one. Novelty can: it compares how far
generated rows are from the training rows with how far unseen real rows are.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from scipy.spatial.distance import pdist
from sklearn.metrics import pairwise_distances
from sklearn.utils import check_random_state

from .utils import check_column, feature_map

__all__ = ["SyntheticReport", "synthetic_report"]

_METRICS = ("fidelity", "novelty", "diversity")


class SyntheticReport:
    """Per-stratum quality of generated rows, as returned by :func:`synthetic_report`.

    Parameters
    ----------
    rows : list of dict
        One dict per stratum (see :func:`synthetic_report` for the keys).
    copy_threshold : float
        Novelty below which a stratum counts as copied.
    has_groups : bool
        Whether the strata are ``(class, group)`` cells.

    Attributes
    ----------
    rows : list of dict
        One dict per stratum.
    copying_ : list of tuple
        ``(label, group_or_None)`` of the strata whose novelty is below
        ``copy_threshold``.

    Examples
    --------
    >>> from synaug_learn._report import SyntheticReport
    >>> report = SyntheticReport(
    ...     [{"label": 0, "group": None, "n_real": 10, "n_generated": 5, "fidelity": 1.0,
    ...       "novelty": 0.05, "diversity": 0.4, "copying": True}],
    ...     copy_threshold=0.3)
    >>> report.copying_
    [(0, None)]
    >>> print(report)
    | class | n_real | n_generated | fidelity | novelty | diversity | copying |
    |-------|--------|-------------|----------|---------|-----------|---------|
    |     0 |     10 |           5 |     1.00 |    0.05 |      0.40 | yes     |
    """

    def __init__(self, rows, copy_threshold=0.3, has_groups=False):
        self.rows = [dict(r) for r in rows]
        self.copy_threshold = copy_threshold
        self.has_groups = bool(has_groups)
        self.copying_ = [(r["label"], r.get("group")) for r in self.rows if r.get("copying")]

    def __repr__(self):
        return (f"SyntheticReport(n_strata={len(self.rows)}, copying_={self.copying_!r}, "
                f"copy_threshold={self.copy_threshold!r})")

    def __str__(self):
        return self.to_markdown()

    @property
    def summary(self):
        """Overall numbers: row totals, and metric means over the strata that have values."""
        out = {
            "n_strata": len(self.rows),
            "n_real": int(sum(r["n_real"] for r in self.rows)),
            "n_generated": int(sum(r["n_generated"] for r in self.rows)),
        }
        for name in _METRICS:
            values = [r.get(name) for r in self.rows]
            values = [float(v) for v in values if v is not None and np.isfinite(v)]
            out[name] = float(np.mean(values)) if values else float("nan")
        out["n_copying"] = len(self.copying_)
        return out

    def to_frame(self):
        """The rows as a :class:`pandas.DataFrame`, one line per stratum."""
        import pandas as pd

        frame = pd.DataFrame(self.rows)
        if not self.has_groups and "group" in frame:
            frame = frame.drop(columns="group")
        return frame

    def to_markdown(self, floatfmt=".2f"):
        """An aligned (GitHub markdown) text table of the main columns."""
        columns = ["class", *(["group"] if self.has_groups else []), "n_real", "n_generated",
                   *_METRICS, "copying"]
        cells = []
        for r in self.rows:
            line = [str(r["label"])]
            if self.has_groups:
                line.append(str(r.get("group")))
            line += [str(r["n_real"]), str(r["n_generated"])]
            for name in _METRICS:
                v = r.get(name)
                line.append("-" if v is None or not np.isfinite(v) else format(v, floatfmt))
            line.append("yes" if r.get("copying") else "")
            cells.append(line)
        widths = [max([len(c), *(len(line[i]) for line in cells)]) for i, c in enumerate(columns)]
        left = {"group", "copying"}

        def fmt(line):
            parts = [v.ljust(w) if c in left else v.rjust(w)
                     for v, w, c in zip(line, widths, columns)]
            return "| " + " | ".join(parts) + " |"

        header = "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths)) + " |"
        rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        return "\n".join([header, rule, *(fmt(line) for line in cells)])

    def plot(self, ax=None):
        """Bar chart of fidelity, novelty and diversity per stratum.

        Copied strata have their tick label in red; dashed lines mark 1 (as
        new / as diverse as real data) and ``copy_threshold``.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when ``None``.

        Returns
        -------
        ax : matplotlib Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(self.rows) + 2), 4))
        x = np.arange(len(self.rows))
        width = 0.27
        for j, name in enumerate(_METRICS):
            values = [r.get(name) for r in self.rows]
            values = [0.0 if v is None or not np.isfinite(v) else float(v) for v in values]
            ax.bar(x + (j - 1) * width, values, width, label=name)
        ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.axhline(self.copy_threshold, color="red", linestyle=":", linewidth=1,
                   label="copy threshold")
        labels = [str(r["label"]) if not self.has_groups else f"{r['label']}/{r.get('group')}"
                  for r in self.rows]
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=45 if self.has_groups else 0)
        for tick, r in zip(ax.get_xticklabels(), self.rows):
            if r.get("copying"):
                tick.set_color("red")
        ax.set_xlabel("class / group" if self.has_groups else "class")
        ax.set_ylabel("score")
        ax.set_title("synthetic data: fidelity, novelty (≈0: copies), diversity")
        ax.legend(loc="best", fontsize="small")
        return ax


def _as_array(X, name, ndim_min=1):
    X = np.asarray(X)
    if X.ndim < ndim_min:
        raise ValueError(f"{name} must be at least {ndim_min}-D; got shape {X.shape}.")
    return X


def _feature_function(X_train, features):
    """Map arrays to 2-D float features (see :func:`synthetic_report`)."""
    if features is None:
        return feature_map(X_train, param_name="X_train")
    if hasattr(features, "transform") and callable(features.transform):
        func = features.transform
    elif callable(features):
        func = features
    else:
        raise TypeError(
            f"features must be None, a callable X -> 2-D features or an object with "
            f"transform; got {features!r}."
        )

    def transform(X):
        F = np.asarray(func(X))
        if F.ndim != 2 or len(F) != len(X):
            raise ValueError(
                f"features must map {len(X)} rows to a 2-D array with {len(X)} rows; "
                f"it returned shape {F.shape}."
            )
        return F.astype(np.float32, copy=False)

    return transform


def _subsample(idx, k, rng):
    idx = np.asarray(idx)
    if len(idx) <= k:
        return idx
    return np.sort(rng.choice(idx, size=k, replace=False))


def _mean_pairwise(F):
    return float(np.mean(pdist(F))) if len(F) >= 2 else float("nan")


def synthetic_report(
    X_train,
    y_train,
    X_syn,
    y_syn,
    *,
    groups_train=None,
    groups_syn=None,
    X_heldout=None,
    y_heldout=None,
    groups_heldout=None,
    classifier=None,
    features=None,
    copy_threshold=0.3,
    max_samples=500,
    random_state=None,
):
    """Measure fidelity, novelty and diversity of generated rows, per class or (class, group).

    Parameters
    ----------
    X_train : array-like of shape (n, ...)
        The real rows the generator was trained on (or would copy from).
        Images as (n, H, W), (n, H, W, C), (n, C, H, W) or 2-D rows.
    y_train : array-like of shape (n,)
        Their labels.
    X_syn : array-like of shape (m, ...)
        Generated rows, with the sample shape of ``X_train``.
    y_syn : array-like of shape (m,)
        Their intended labels; every label must occur in ``y_train``.
    groups_train, groups_syn : array-like of shape (n,) / (m,), default=None
        Groups; when given (both), the strata are ``(class, group)`` cells.
    X_heldout, y_heldout : array-like, default=None
        Real rows the generator never saw, the reference for novelty.
    groups_heldout : array-like, default=None
        Groups of the held-out rows; without them, a group stratum's novelty
        is measured against the held-out rows of its class.
    classifier : fitted classifier, default=None
        Any fitted model of the real data with ``predict``, applied to
        ``X_syn`` as given (e.g. a trained network). ``None`` fits a
        ``LogisticRegression`` on the feature space of ``X_train`` (at most
        ``max_samples`` rows per class).
    features : callable, transformer or None, default=None
        The space in which distances are measured. ``None``: pixels scaled to
        ``[0, 1]`` (``ImageFormat.from_array(X_train).to_nchw``, mapped from
        ``[-1, 1]`` and flattened; 2-D rows that are not square images are
        min-max scaled as they are). A callable ``X -> (n, d)`` or an object
        with ``transform`` (e.g. a real-data classifier's penultimate layer)
        gives a semantic space.
    copy_threshold : float, default=0.3
        Strata whose novelty is below it are listed in ``report.copying_``
        and warned about.
    max_samples : int, default=500
        At most this many generated (and held-out) rows per stratum are
        evaluated; the training rows of a stratum that generated rows are
        compared with are capped at ten times as many.
    random_state : int, RandomState or None, default=None
        Drives the subsampling.

    Returns
    -------
    report : SyntheticReport
        ``report.rows`` holds, per stratum, ``label``, ``group``, ``n_real``,
        ``n_generated``, ``fidelity``, ``novelty``, ``diversity``,
        ``nn_dist_generated``, ``nn_dist_reference``, ``reference`` and
        ``copying``; metrics are NaN where they cannot be computed.

    Notes
    -----
    - **fidelity**: share of the generated rows that the classifier assigns
      to their intended class.
    - **novelty**: median distance from each generated row to its nearest
      training row of the same stratum (``nn_dist_generated``), divided by
      the same median for held-out real rows of the stratum
      (``nn_dist_reference``, ``reference="heldout"``). Without held-out rows
      for the stratum, the reference is the leave-one-out nearest-neighbour
      distance among the stratum's training rows (``reference="loo"``; a
      stratum needs two rows), which is slightly larger than the held-out one
      on tiny strata. ``≈ 0`` means the generated rows are near-copies of
      training rows, ``≈ 1`` that they are as new as unseen real data.
    - **diversity**: mean pairwise distance among generated rows divided by
      the mean pairwise distance among the stratum's training rows; ``≈ 0``
      means one image repeated.

    Examples
    --------
    >>> import warnings
    >>> from sklearn.datasets import load_digits
    >>> from synaug_learn._report import synthetic_report
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, y_train, X_new, y_new = X[:1000], y[:1000], X[1000:1200], y[1000:1200]
    >>> report = synthetic_report(X_train, y_train, X_new, y_new, random_state=0)
    >>> report.copying_
    []
    >>> copies = X_train[y_train == 3][:20] + 0.01
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     report = synthetic_report(X_train, y_train, copies, [3] * 20, random_state=0)
    >>> report.copying_
    [(3, None)]
    >>> print(caught[0].message)  # doctest: +ELLIPSIS
    generated samples for class 3 are near-copies of the training rows (novelty 0.00 ...
    """
    data = _check_report_data(X_train, y_train, X_syn, y_syn, groups_train, groups_syn,
                              X_heldout, y_heldout, groups_heldout)
    _check_report_options(copy_threshold, max_samples, classifier)
    rng = check_random_state(random_state)
    transform = _feature_function(data.X_train, features)
    index = _StratumIndex(data, max_samples, rng)
    space = _FeatureSpace(data, index, classifier, transform, max_samples, rng)
    rows = [_stratum_row(stratum, data, index, space, max_samples, copy_threshold, rng)
            for stratum in index.strata]
    _warn_copying(rows, data.has_groups, copy_threshold)
    return SyntheticReport(rows, copy_threshold=copy_threshold, has_groups=data.has_groups)


class _ReportData:
    """The checked arrays of one report."""

    def __init__(self, **arrays):
        self.__dict__.update(arrays)
        self.has_groups = self.groups_train is not None
        self.classes = np.unique(self.y_train)


def _check_report_data(X_train, y_train, X_syn, y_syn, groups_train, groups_syn,
                       X_heldout, y_heldout, groups_heldout):
    """Check the real, generated and held-out rows against each other."""
    X_train = _as_array(X_train, "X_train", 2)
    if len(X_train) == 0:
        raise ValueError("X_train must hold at least one row; got 0.")
    y_train = check_column(y_train, len(X_train), "y_train", "X_train")
    X_syn = _as_array(X_syn, "X_syn", 1)
    if X_syn.shape[1:] != X_train.shape[1:] and not (len(X_syn) == 0 and X_syn.ndim == 1):
        raise ValueError(
            f"X_syn must have the sample shape of X_train {X_train.shape[1:]}; "
            f"got {X_syn.shape[1:]}."
        )
    if len(X_syn) == 0:
        X_syn = X_syn.reshape(0, *X_train.shape[1:])
    y_syn = check_column(y_syn, len(X_syn), "y_syn", "X_syn")
    classes = np.unique(y_train)
    known = set(classes.tolist())
    unknown = sorted({v for v in y_syn.tolist() if v not in known}, key=repr)
    if unknown:
        raise ValueError(
            f"y_syn holds labels that y_train does not: {unknown!r} "
            f"(y_train labels: {classes.tolist()!r})."
        )
    if (groups_train is None) != (groups_syn is None):
        missing = "groups_syn" if groups_syn is None else "groups_train"
        raise ValueError(f"groups_train and groups_syn go together; {missing} is None.")
    if groups_train is not None:
        groups_train = check_column(groups_train, len(X_train), "groups_train", "X_train")
        groups_syn = check_column(groups_syn, len(X_syn), "groups_syn", "X_syn")
    X_heldout, y_heldout, groups_heldout = _check_heldout(
        X_train, X_heldout, y_heldout, groups_heldout, groups_train is not None)
    return _ReportData(X_train=X_train, y_train=y_train, X_syn=X_syn, y_syn=y_syn,
                       groups_train=groups_train, groups_syn=groups_syn, X_heldout=X_heldout,
                       y_heldout=y_heldout, groups_heldout=groups_heldout)


def _check_heldout(X_train, X_heldout, y_heldout, groups_heldout, has_groups):
    if (X_heldout is None) != (y_heldout is None):
        missing = "y_heldout" if y_heldout is None else "X_heldout"
        raise ValueError(f"X_heldout and y_heldout go together; {missing} is None.")
    if X_heldout is None:
        if groups_heldout is not None:
            raise ValueError("groups_heldout needs X_heldout and y_heldout.")
        return None, None, None
    X_heldout = _as_array(X_heldout, "X_heldout", 2)
    if X_heldout.shape[1:] != X_train.shape[1:]:
        raise ValueError(
            f"X_heldout must have the sample shape of X_train {X_train.shape[1:]}; "
            f"got {X_heldout.shape[1:]}."
        )
    y_heldout = check_column(y_heldout, len(X_heldout), "y_heldout", "X_heldout")
    if groups_heldout is not None:
        if not has_groups:
            raise ValueError("groups_heldout needs groups_train and groups_syn.")
        groups_heldout = check_column(groups_heldout, len(X_heldout), "groups_heldout",
                                      "X_heldout")
    return X_heldout, y_heldout, groups_heldout


def _check_report_options(copy_threshold, max_samples, classifier):
    if (isinstance(copy_threshold, bool) or not isinstance(copy_threshold, numbers.Real)
            or not copy_threshold >= 0):
        raise ValueError(f"copy_threshold must be a number >= 0; got {copy_threshold!r}.")
    if (isinstance(max_samples, bool) or not isinstance(max_samples, numbers.Integral)
            or max_samples < 2):
        raise ValueError(f"max_samples must be an int >= 2; got {max_samples!r}.")
    if classifier is not None and not callable(getattr(classifier, "predict", None)):
        raise TypeError(f"classifier must be a fitted classifier with predict; got {classifier!r}.")


def _strata_of(y, groups):
    return list(zip(y.tolist(), groups.tolist() if groups is not None else [None] * len(y)))


def _index(keys):
    out = {}
    for i, k in enumerate(keys):
        out.setdefault(k, []).append(i)
    return {k: np.asarray(v) for k, v in out.items()}


class _StratumIndex:
    """Rows of each stratum (training, generated, held-out) and the evaluated subsamples."""

    def __init__(self, data, max_samples, rng):
        train_keys = _strata_of(data.y_train, data.groups_train)
        syn_keys = _strata_of(data.y_syn, data.groups_syn)
        class_pos = {c: i for i, c in enumerate(data.classes.tolist())}
        self.strata = sorted(set(train_keys) | set(syn_keys),
                             key=lambda s: (class_pos[s[0]], repr(s[1])))
        self.train, self.syn = _index(train_keys), _index(syn_keys)
        self.heldout = {}
        if data.X_heldout is not None:
            by_group = data.groups_heldout is not None or not data.has_groups
            self.heldout = _index(_strata_of(
                data.y_heldout, data.groups_heldout if data.has_groups else None))
            if data.has_groups and not by_group:  # the class's rows for every group of it
                self.heldout = {(c, g): self.heldout.get((c, None), _EMPTY)
                                for c, g in self.strata}
        self.syn_sub = {s: _subsample(self.syn.get(s, _EMPTY), max_samples, rng)
                        for s in self.strata}
        self.ref_sub = {s: _subsample(self.train.get(s, _EMPTY), 10 * max_samples, rng)
                        for s in self.strata}


_EMPTY = np.empty(0, dtype=int)


class _FeatureSpace:
    """Features of the evaluated rows, and the fidelity predictions of the generated ones."""

    def __init__(self, data, index, classifier, transform, max_samples, rng):
        self.transform = transform
        fit_idx = _EMPTY
        if classifier is None and len(data.classes) > 1 and len(index.syn):
            fit_idx = np.concatenate([
                _subsample(np.flatnonzero(data.y_train == c), max_samples, rng)
                for c in data.classes])
        # Only the training rows that are used are mapped to features (a network may be slow).
        self.used = np.union1d(
            np.concatenate([index.ref_sub[s] for s in index.strata]).astype(int), fit_idx)
        self.F_used = (transform(data.X_train[self.used]) if len(self.used)
                       else np.empty((0, 0), dtype=np.float32))
        all_syn = np.concatenate([index.syn_sub[s] for s in index.strata]).astype(int)
        self.F_syn = transform(data.X_syn[all_syn]) if len(all_syn) else None
        self.syn_pos = {int(i): p for p, i in enumerate(all_syn)}
        self.predictions = self._predict(data, classifier, all_syn, fit_idx)

    def train(self, idx):
        return self.F_used[np.searchsorted(self.used, idx)]

    def _predict(self, data, classifier, all_syn, fit_idx):
        """One prediction pass over all evaluated generated rows."""
        if not len(all_syn):
            return None
        if classifier is not None:
            return np.asarray(classifier.predict(data.X_syn[all_syn]))
        if len(data.classes) == 1:
            return np.full(len(all_syn), data.classes[0])
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(max_iter=1000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings are not the user's concern
            model.fit(self.train(fit_idx), data.y_train[fit_idx])
        return model.predict(self.F_syn)


def _stratum_row(stratum, data, index, space, max_samples, copy_threshold, rng):
    """Fidelity, novelty and diversity of one stratum."""
    label, group = stratum
    ref, gen = index.ref_sub[stratum], index.syn_sub[stratum]
    row = {"label": label, "group": group,
           "n_real": int(len(index.train.get(stratum, _EMPTY))),
           "n_generated": int(len(index.syn.get(stratum, _EMPTY))),
           "fidelity": float("nan"), "novelty": float("nan"), "diversity": float("nan"),
           "nn_dist_generated": float("nan"), "nn_dist_reference": float("nan"),
           "reference": None, "copying": False}
    if len(gen):
        pos = np.array([space.syn_pos[int(i)] for i in gen])
        row["fidelity"] = float(np.mean(space.predictions[pos] == label))
        F_gen = space.F_syn[pos]
        if len(ref):
            F_ref = space.train(ref)
            row.update(_novelty(F_gen, F_ref, index.heldout.get(stratum, _EMPTY), data,
                                space, max_samples, rng))
            real_div = _mean_pairwise(space.train(_subsample(ref, max_samples, rng)))
            gen_div = _mean_pairwise(F_gen)
            if np.isfinite(real_div) and real_div > 0 and np.isfinite(gen_div):
                row["diversity"] = gen_div / real_div
    row["copying"] = bool(np.isfinite(row["novelty"]) and row["novelty"] < copy_threshold)
    return row


def _novelty(F_gen, F_ref, heldout, data, space, max_samples, rng):
    """Nearest-neighbour distance of generated rows over that of unseen (or left-out) real rows."""
    out = {"nn_dist_generated": float(np.median(pairwise_distances(F_gen, F_ref).min(axis=1)))}
    held = _subsample(heldout, max_samples, rng)
    if len(held):
        F_held = space.transform(data.X_heldout[held])
        d_ref = float(np.median(pairwise_distances(F_held, F_ref).min(axis=1)))
        out["reference"] = "heldout"
    elif len(F_ref) >= 2:
        queries = _subsample(np.arange(len(F_ref)), max_samples, rng)
        D = pairwise_distances(F_ref[queries], F_ref)
        D[np.arange(len(queries)), queries] = np.inf
        d_ref = float(np.median(D.min(axis=1)))
        out["reference"] = "loo"
    else:
        d_ref = float("nan")
    out["nn_dist_reference"] = d_ref
    if np.isfinite(d_ref) and d_ref > 0:
        out["novelty"] = out["nn_dist_generated"] / d_ref
    return out


def _warn_copying(rows, has_groups, copy_threshold):
    copied = [r for r in rows if r["copying"]]
    if not copied:
        return
    where = [f"class {r['label']!r}" + (f", group {r['group']!r}" if has_groups else "")
             for r in copied]
    if len(copied) == 1:
        what = (f"{where[0]} are near-copies of the training rows (novelty "
                f"{copied[0]['novelty']:.2f} < copy_threshold={copy_threshold})")
    else:
        listed = "; ".join(f"{w} (novelty {r['novelty']:.2f})" for w, r in zip(where, copied))
        what = (f"{listed} are near-copies of the training rows "
                f"(copy_threshold={copy_threshold})")
    warnings.warn(
        f"generated samples for {what}: the generator adds little new information there; "
        "a generator that has seen these concepts elsewhere (pretrained, text-to-image) "
        "is needed.",
        UserWarning,
        stacklevel=3,
    )
