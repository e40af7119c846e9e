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
from scipy.ndimage import gaussian_filter, median_filter
from scipy.spatial.distance import pdist
from sklearn.metrics import pairwise_distances
from sklearn.utils import check_random_state

from .utils import ImageFormat, check_column, check_count, feature_map, row_strata

__all__ = ["SyntheticReport", "holdout_split", "synthetic_report"]

_METRICS = ("fidelity", "novelty", "diversity")
# table columns after the counts: (row key, header)
_TABLE = (("fidelity", "fidelity"), ("fidelity_reference", "real_fidelity"),
          ("novelty", "novelty"), ("near_copy_share", "near_copies"),
          ("diversity", "diversity"))


class SyntheticReport:
    """Per-stratum quality of generated rows, as returned by :func:`synthetic_report`.

    Parameters
    ----------
    rows : list of dict
        One dict per stratum (see :func:`synthetic_report` for the keys).
    copy_threshold : float, default=0.3
        Median novelty below which a stratum counts as copied.
    has_groups : bool, default=False
        Whether the strata are ``(class, group)`` cells.
    max_copy_share : float, default=0.2
        Share of near-copies above which a stratum counts as copied.
    note : str or None, default=None
        A line printed under the table (e.g. which real rows were the reference).

    Attributes
    ----------
    rows : list of dict
        One dict per stratum.
    copying_ : list of tuple
        ``(label, group_or_None)`` of the strata flagged as copies (``copying``).
    low_fidelity_ : list of tuple
        ``(label, group_or_None)`` of the strata flagged for low fidelity.
    reference_ : dict
        How many strata with generated rows used each novelty reference
        (``"heldout"``, ``"loo"``, ``"pooled"``).

    Examples
    --------
    >>> from synaug_learn._report import SyntheticReport
    >>> report = SyntheticReport(
    ...     [{"label": 0, "group": None, "n_real": 10, "n_generated": 5, "fidelity": 1.0,
    ...       "fidelity_reference": 0.9, "novelty": 0.05, "near_copy_share": 1.0,
    ...       "diversity": 0.4, "reference": "heldout", "copying": True,
    ...       "low_fidelity": False}])
    >>> report.copying_, report.reference_
    ([(0, None)], {'heldout': 1})
    >>> header, rule, line = str(report).splitlines()
    >>> print(header)  # doctest: +NORMALIZE_WHITESPACE
    | class | n_real | n_generated | fidelity | real_fidelity | novelty | near_copies |
      diversity | reference | copying | low_fidelity |
    >>> print(line)  # doctest: +NORMALIZE_WHITESPACE
    |     0 |     10 |           5 |     1.00 |          0.90 |    0.05 |        1.00 |
      0.40 | heldout   | yes     |              |
    """

    def __init__(self, rows, copy_threshold=0.3, has_groups=False, max_copy_share=0.2,
                 note=None):
        self.rows = [dict(r) for r in rows]
        self.copy_threshold = copy_threshold
        self.max_copy_share = max_copy_share
        self.has_groups = bool(has_groups)
        self.note = note
        self.copying_ = [(r["label"], r.get("group")) for r in self.rows if r.get("copying")]
        self.low_fidelity_ = [(r["label"], r.get("group")) for r in self.rows
                              if r.get("low_fidelity")]
        kinds = [r.get("reference") for r in self.rows if r.get("n_generated")]
        self.reference_ = {k: kinds.count(k) for k in dict.fromkeys(kinds) if k is not None}

    def __repr__(self):
        return (f"SyntheticReport(n_strata={len(self.rows)}, copying_={self.copying_!r}, "
                f"low_fidelity_={self.low_fidelity_!r}, reference_={self.reference_!r})")

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
        for name in (*_METRICS, "near_copy_share"):
            values = [r.get(name) for r in self.rows]
            values = [float(v) for v in values if v is not None and np.isfinite(v)]
            out[name] = float(np.mean(values)) if values else float("nan")
        out["n_copying"] = len(self.copying_)
        out["n_low_fidelity"] = len(self.low_fidelity_)
        return out

    def to_frame(self):
        """The rows as a :class:`pandas.DataFrame`, one line per stratum."""
        import pandas as pd

        frame = pd.DataFrame(self.rows)
        if not self.has_groups and "group" in frame:
            frame = frame.drop(columns="group")
        return frame

    def to_markdown(self, floatfmt=".2f"):
        """An aligned (GitHub markdown) text table of the main columns, then ``note``."""
        columns = ["class", *(["group"] if self.has_groups else []), "n_real", "n_generated",
                   *(header for _, header in _TABLE), "reference", "copying", "low_fidelity"]
        cells = []
        for r in self.rows:
            line = [str(r["label"])]
            if self.has_groups:
                line.append(str(r.get("group")))
            line += [str(r["n_real"]), str(r["n_generated"])]
            for key, _ in _TABLE:
                v = r.get(key)
                line.append("-" if v is None or not np.isfinite(v) else format(v, floatfmt))
            line += [str(r.get("reference") or "-") if r.get("n_generated") else "",
                     "yes" if r.get("copying") else "", "yes" if r.get("low_fidelity") else ""]
            cells.append(line)
        widths = [max([len(c), *(len(line[i]) for line in cells)]) for i, c in enumerate(columns)]
        left = {"group", "reference", "copying", "low_fidelity"}

        def fmt(line):
            parts = [v.ljust(w) if c in left else v.rjust(w)
                     for v, w, c in zip(line, widths, columns)]
            return "| " + " | ".join(parts) + " |"

        header = "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths)) + " |"
        rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        lines = [header, rule, *(fmt(line) for line in cells)]
        return "\n".join(lines + ([self.note] if self.note else []))

    def plot(self, ax=None):
        """Bar chart of fidelity, novelty and diversity per stratum.

        Strata flagged as copies or for low fidelity have their tick label in
        red; dashed lines mark 1 (as new / as diverse as real data) and
        ``copy_threshold``.

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
            if r.get("copying") or r.get("low_fidelity"):
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


class _DistanceSpace:
    """Where copies are looked for: an embedding, and nearest-neighbour distances in it.

    With ``features=None`` and image rows, the embedding is built to ignore what
    does not make an image new: a 3x3 median filter (images of at least 16
    pixels a side) and a Gaussian blur (sigma = 1 pixel per 28) remove pixel
    noise, the one-pixel border is dropped, each image's mean is subtracted
    (a brightness offset), and the distance from a query row to the
    reference rows is the smallest over the nine translations of the query
    by up to one pixel. Deterministic, no
    training, a few milliseconds per hundred 28x28 images. Any other space
    (``features=``, or 2-D rows that are not images) is used as it is.
    """

    def __init__(self, X_train, features):
        self.fmt = None
        if features is not None:
            self.embed = _feature_function(X_train, features)
            return
        try:
            self.fmt = ImageFormat.from_array(X_train, param_name="X_train")
        except ValueError:
            if X_train.ndim != 2:
                raise
            self.embed = feature_map(X_train, param_name="X_train")  # tables: as they are
            return
        # blur (not for images of a few pixels, which it would flatten)
        side = min(self.fmt.height, self.fmt.width)
        self.sigma = max(1.0, self.fmt.height / 28) if side >= 4 else 0.0
        self.median = min(self.fmt.height, self.fmt.width) >= 16
        self.shifts = min(self.fmt.height, self.fmt.width) >= 8  # tiny images: as they are
        self.embed = lambda X: _centred(self._inner(self._filtered(X)))

    def _filtered(self, X):
        x = (self.fmt.to_nchw(X) + 1.0) / 2.0
        if self.median:
            x = median_filter(x, size=(1, 1, 3, 3), mode="nearest")
        if not self.sigma:
            return x
        return gaussian_filter(x, sigma=(0, 0, self.sigma, self.sigma), mode="nearest")

    def _queries(self, X):
        if self.fmt is None or not self.shifts:
            return [self.embed(X)]
        x = self._filtered(X)
        return [_centred(self._inner(_translate(x, dy, dx)))
                for dy in (-1, 0, 1) for dx in (-1, 0, 1)]

    def _inner(self, x):
        """The image without its one-pixel border: what a one-pixel shift cannot push out."""
        return x[:, :, 1:-1, 1:-1] if self.shifts else x

    def nearest(self, X, F_ref, exclude=None):
        """Distance from each row of ``X`` to its nearest row of ``F_ref`` (not ``exclude[i]``)."""
        out = np.full(len(X), np.inf)
        if not len(X) or not len(F_ref):
            return out
        for Q in self._queries(X):
            D = pairwise_distances(Q, F_ref)
            if exclude is not None:
                D[np.arange(len(X)), exclude] = np.inf
            out = np.minimum(out, D.min(axis=1))
        return out


def _centred(x):
    F = x.reshape(len(x), -1).astype(np.float32, copy=False)
    return F - F.mean(axis=1, keepdims=True)


def _translate(x, dy, dx):
    """NCHW images moved by (dy, dx) pixels, the border repeated."""
    H, W = x.shape[-2:]
    p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
    return p[:, :, 1 + dy:1 + dy + H, 1 + dx:1 + dx + W]


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
    copy_quantile=0.05,
    max_copy_share=0.2,
    min_relative_fidelity=0.5,
    max_samples=500,
    random_state=None,
):
    """Measure fidelity, novelty, near-copies and diversity of generated rows, per stratum.

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
        Real rows the generator never saw: the reference for novelty, the
        near-copy threshold and fidelity.
    groups_heldout : array-like, default=None
        Groups of the held-out rows; without them, a group stratum's novelty
        is measured against the held-out rows of its class.
    classifier : fitted classifier, default=None
        Any fitted model of the real data with ``predict``, applied to
        ``X_syn`` (and the reference rows) as given. ``None`` fits a
        ``LogisticRegression`` on the training rows' pixels (at most
        ``max_samples`` rows per class).
    features : callable, transformer or None, default=None
        The space in which distances are measured. ``None``: for images, a
        space that ignores pixel noise and one-pixel shifts (see Notes); 2-D
        rows that are not square images are min-max scaled as they are. A
        callable ``X -> (n, d)`` or an object with ``transform`` (e.g. a
        real-data classifier's penultimate layer) is used as it is.
    copy_threshold : float, default=0.3
        A stratum whose median novelty is below it is flagged as copying.
    copy_quantile : float, default=0.05
        Calibrates the near-copy distance: a generated row is a near-copy when
        it is closer to a training row than this share of unseen real rows
        are (see Notes). In (0, 0.5).
    max_copy_share : float, default=0.2
        A stratum whose share of near-copies exceeds it is flagged as copying.
        Honest samples have a share of about ``copy_quantile``.
    min_relative_fidelity : float, default=0.5
        A stratum is flagged for low fidelity when its generated rows are
        recognised less often than this fraction of the rate at which the
        classifier recognises real reference rows of the stratum.
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
        ``n_generated``, ``fidelity``, ``fidelity_reference``, ``novelty``,
        ``near_copy_share``, ``diversity``, ``nn_dist_generated``,
        ``nn_dist_reference``, ``near_copy_distance``, ``reference``,
        ``copying`` and ``low_fidelity``; metrics are NaN where they cannot
        be computed (a stratum without generated rows).

    Notes
    -----
    - **Reference rows** of a stratum are its held-out rows
      (``reference="heldout"``); without them, each training row's distance
      to the other training rows of the stratum (leave-one-out,
      ``reference="loo"``, slightly larger than a held-out distance on tiny
      strata); a stratum with one training row and no held-out rows borrows
      the distance scale of the other strata (``reference="pooled"``), so it
      is still judged.
    - **novelty**: median distance from each generated row to its nearest
      training row of the stratum (``nn_dist_generated``) over the median for
      the reference rows (``nn_dist_reference``). ``≈ 0`` means near-copies,
      ``≈ 1`` as new as unseen real data.
    - **near_copy_share**, per sample: the share of generated rows closer to
      a training row than ``near_copy_distance``, the ``copy_quantile``
      quantile of the reference rows' distances. The quantile is taken over
      the reference distances of the strata with at least 20 of them (else
      5, else all), each divided by its stratum's median, and scaled back per
      stratum; strata with fewer than 20 reference rows use the smaller of
      their own median and the common one of those strata, since a
      near-copy's distance is the size of the perturbation, whatever the
      stratum. So a share well above ``copy_quantile``
      means more near-copies than unseen real data would give, however few
      they are: a 30 % mix of exact copies into honest samples is flagged
      (``share > max_copy_share``), which a median could not see.
    - The default distance space ignores small shifts and noise: images are
      median-filtered (3x3, images of 16 pixels a side or more), blurred
      (Gaussian, sigma = 1 pixel per 28) and centred, and each query is
      compared under the nine translations by up to one pixel. On
      Fashion-MNIST this flags exact copies, copies plus Gaussian noise of
      0.15 of the pixel range and one-pixel shifts, while unseen real images
      have a near-copy share of 0-0.10 (``tests/test_report_copying.py``).
    - **fidelity**: share of the generated rows that the classifier assigns
      to their intended class; ``fidelity_reference`` is the same share for
      the reference rows (held-out rows; with fewer than five of them,
      3-fold out-of-fold predictions of the default classifier on the
      stratum's training rows, or a given classifier's predictions on them,
      which it may have seen). A stratum with fewer than five reference rows
      is not judged (``fidelity_reference`` NaN): a classifier of a handful
      of rows recognises honest samples about as rarely as noise.
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
    >>> report.copying_, report.low_fidelity_
    ([], [])
    >>> copies = X_train[y_train == 3][:20] + 0.01
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     report = synthetic_report(X_train, y_train, copies, [3] * 20, random_state=0)
    >>> report.copying_
    [(3, None)]
    >>> print(caught[0].message)  # doctest: +ELLIPSIS
    generated samples for class 3 (near-copy share 1.00, novelty 0.00) are near-copies ...
    """
    data = _check_report_data(X_train, y_train, X_syn, y_syn, groups_train, groups_syn,
                              X_heldout, y_heldout, groups_heldout)
    _check_report_options(copy_threshold, max_samples, classifier, copy_quantile,
                          max_copy_share, min_relative_fidelity)
    rng = check_random_state(random_state)
    space = _DistanceSpace(data.X_train, features)
    index = _StratumIndex(data, max_samples, rng)
    fid = _Fidelity(data, index, classifier,
                    feature_map(data.X_train, param_name="X_train") if features is None
                    else space.embed, max_samples, rng)
    dist = {s: _distances(s, data, index, space) for s in index.strata}
    calib = _calibrate(dist, copy_quantile)
    rows = [_stratum_row(s, data, index, space, dist[s], calib, fid, max_samples, rng)
            for s in index.strata]
    for row in rows:
        row["copying"] = bool(
            (np.isfinite(row["novelty"]) and row["novelty"] < copy_threshold)
            or (np.isfinite(row["near_copy_share"]) and row["near_copy_share"] > max_copy_share))
        row["low_fidelity"] = bool(
            np.isfinite(row["fidelity"]) and np.isfinite(row["fidelity_reference"])
            and row["fidelity"] < min_relative_fidelity * row["fidelity_reference"])
    _warn_copying(rows, data.has_groups, copy_threshold, max_copy_share, copy_quantile)
    _warn_fidelity(rows, data.has_groups, min_relative_fidelity)
    return SyntheticReport(rows, copy_threshold=copy_threshold, has_groups=data.has_groups,
                           max_copy_share=max_copy_share)


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


def _check_report_options(copy_threshold, max_samples, classifier, copy_quantile=0.05,
                          max_copy_share=0.2, min_relative_fidelity=0.5):
    if (isinstance(copy_threshold, bool) or not isinstance(copy_threshold, numbers.Real)
            or not copy_threshold >= 0):
        raise ValueError(f"copy_threshold must be a number >= 0; got {copy_threshold!r}.")
    for name, value, low, high in (("copy_quantile", copy_quantile, 0.0, 0.5),
                                   ("max_copy_share", max_copy_share, 0.0, 1.0),
                                   ("min_relative_fidelity", min_relative_fidelity, 0.0, 1.0)):
        if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                or not low < value < high + (name != "copy_quantile")):
            raise ValueError(f"{name} must be a number in ({low:g}, {high:g}"
                             f"{')' if name == 'copy_quantile' else ']'}; got {value!r}.")
    check_count(max_samples, "max_samples", 2, allow_none=False)
    if classifier is not None and not callable(getattr(classifier, "predict", None)):
        raise TypeError(f"classifier must be a fitted classifier with predict; got {classifier!r}.")


def _index(keys):
    out = {}
    for i, k in enumerate(keys):
        out.setdefault(k, []).append(i)
    return {k: np.asarray(v) for k, v in out.items()}


#: Reference rows evaluated for a stratum without generated rows (they only calibrate).
_CALIBRATION_ROWS = 50
#: Reference rows a stratum needs for its own fidelity reference.
_MIN_REFERENCE = 5
#: Reference rows a stratum needs for its own distance scale; smaller strata take the
#: smaller of their own and the common scale (near-copy distances do not grow with it).
_MIN_SCALE_ROWS = 20


class _StratumIndex:
    """Rows of each stratum (training, generated, held-out) and the evaluated subsamples."""

    def __init__(self, data, max_samples, rng):
        train_keys = row_strata(data.y_train, data.groups_train)
        syn_keys = row_strata(data.y_syn, data.groups_syn)
        class_pos = {c: i for i, c in enumerate(data.classes.tolist())}
        self.strata = sorted(set(train_keys) | set(syn_keys),
                             key=lambda s: (class_pos[s[0]], repr(s[1])))
        self.train, self.syn = _index(train_keys), _index(syn_keys)
        self.heldout = {}
        if data.X_heldout is not None:
            by_group = data.groups_heldout is not None or not data.has_groups
            self.heldout = _index(row_strata(
                data.y_heldout, data.groups_heldout if data.has_groups else None))
            if data.has_groups and not by_group:  # the class's rows for every group of it
                self.heldout = {(c, g): self.heldout.get((c, None), _EMPTY)
                                for c, g in self.strata}
        self.syn_sub = {s: _subsample(self.syn.get(s, _EMPTY), max_samples, rng)
                        for s in self.strata}
        self.ref_sub = {s: _subsample(self.train.get(s, _EMPTY), 10 * max_samples, rng)
                        for s in self.strata}
        n_ref = {s: max_samples if len(self.syn_sub[s]) else _CALIBRATION_ROWS
                 for s in self.strata}
        self.held_sub = {s: _subsample(self.heldout.get(s, _EMPTY), n_ref[s], rng)
                         for s in self.strata}
        # leave-one-out queries: positions into ref_sub
        self.loo_sub = {s: _subsample(np.arange(len(self.ref_sub[s])), n_ref[s], rng)
                        for s in self.strata}


_EMPTY = np.empty(0, dtype=int)


def _distances(stratum, data, index, space):
    """Nearest-training-row distances of the generated and the reference rows of a stratum."""
    ref, gen = index.ref_sub[stratum], index.syn_sub[stratum]
    F_ref = space.embed(data.X_train[ref]) if len(ref) else None
    out = {"F_ref": F_ref, "d_gen": np.empty(0), "d_ref": np.empty(0), "kind": None}
    if F_ref is None:
        return out
    if len(gen):
        out["d_gen"] = space.nearest(data.X_syn[gen], F_ref)
    held = index.held_sub[stratum]
    if len(held):
        out["d_ref"], out["kind"] = space.nearest(data.X_heldout[held], F_ref), "heldout"
    elif len(ref) >= 2:
        queries = index.loo_sub[stratum]
        out["d_ref"] = space.nearest(data.X_train[ref[queries]], F_ref, exclude=queries)
        out["kind"] = "loo"
    return out


def _calibrate(dist, copy_quantile):
    """The near-copy ratio (a low quantile of normalised reference distances) and a common scale.

    Only strata with many reference rows (at least ``_MIN_SCALE_ROWS``, else
    ``_MIN_REFERENCE``, else all) calibrate: a median of a handful of rows is
    itself noisy, and dividing by it shrinks the spread of the ratios.
    """
    scales = {s: float(np.median(d["d_ref"])) for s, d in dist.items() if len(d["d_ref"])}
    scales = {s: v for s, v in scales.items() if np.isfinite(v) and v > 0}
    rich = [s for s in scales if len(dist[s]["d_ref"]) >= _MIN_SCALE_ROWS]
    rich = rich or [s for s in scales if len(dist[s]["d_ref"]) >= _MIN_REFERENCE] or list(scales)
    common = float(np.median([scales[s] for s in rich])) if rich else float("nan")
    ratios = np.concatenate([dist[s]["d_ref"] / scales[s] for s in rich] or [np.empty(0)])
    ratio = float(np.quantile(ratios, copy_quantile)) if len(ratios) else float("nan")
    own = {s for s in scales if len(dist[s]["d_ref"]) >= _MIN_SCALE_ROWS}
    return {"scales": scales, "rich": own, "common": common, "ratio": ratio}


class _Fidelity:
    """Predictions for the generated rows, and how often real reference rows are recognised."""

    def __init__(self, data, index, classifier, transform, max_samples, rng):
        self.index = index
        all_syn = np.concatenate([index.syn_sub[s] for s in index.strata]).astype(int)
        self.syn_pos = {int(i): p for p, i in enumerate(all_syn)}
        self.hits, self.ref_hits = None, {}
        if not len(all_syn):
            return
        wanted = [s for s in index.strata if len(index.syn_sub[s])]
        if classifier is None and len(data.classes) == 1:
            self.hits = np.ones(len(all_syn), bool)
            return
        if classifier is None:
            from sklearn.linear_model import LogisticRegression

            fit_idx = np.concatenate([
                _subsample(np.flatnonzero(data.y_train == c), max_samples, rng)
                for c in data.classes])
            F_fit = transform(data.X_train[fit_idx])
            model = _fit_quietly(LogisticRegression(max_iter=1000), F_fit, data.y_train[fit_idx])
            predict = lambda X: model.predict(transform(X))  # noqa: E731
        else:
            predict = classifier.predict
        self.hits = np.asarray(predict(data.X_syn[all_syn])) == data.y_syn[all_syn]
        oof = None
        for s in wanted:
            held = index.held_sub[s]
            hits = np.asarray(predict(data.X_heldout[held])) == s[0] if len(held) else []
            if len(hits) < _MIN_REFERENCE and classifier is None:  # out-of-fold, same model
                oof = _out_of_fold(F_fit, data.y_train[fit_idx], rng) if oof is None else oof
                hits = oof[np.isin(fit_idx, index.train.get(s, _EMPTY))] == s[0]
            elif len(hits) < _MIN_REFERENCE:  # it may have seen them: an optimistic reference
                hits = np.asarray(predict(data.X_train[index.ref_sub[s][:max_samples]])) == s[0]
            self.ref_hits[s] = np.asarray(hits, dtype=bool)

    def of(self, stratum, gen):
        """``(fidelity, fidelity_reference)`` of a stratum's evaluated generated rows."""
        if not len(gen) or self.hits is None:
            return float("nan"), float("nan")
        fidelity = float(np.mean(self.hits[[self.syn_pos[int(i)] for i in gen]]))
        own = self.ref_hits.get(stratum, np.empty(0, bool))
        # A rate from fewer rows is too noisy to judge by (and a classifier of a handful of
        # rows recognises honest samples as rarely as noise).
        return fidelity, float(np.mean(own)) if len(own) >= _MIN_REFERENCE else float("nan")


def _fit_quietly(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings are not the user's concern
        return model.fit(X, y)


def _out_of_fold(F, y, rng):
    """3-fold out-of-fold predictions of a logistic regression."""
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression

    pred = np.empty(len(y), dtype=y.dtype)
    folds = rng.permutation(len(y)) % 3
    for k in range(3):
        test = folds == k
        if not test.any():
            continue
        if len(np.unique(y[~test])) < 2:
            pred[test] = y[~test][0] if (~test).any() else y[test][0]
            continue
        model = _fit_quietly(clone(LogisticRegression(max_iter=1000)), F[~test], y[~test])
        pred[test] = model.predict(F[test])
    return pred


def _stratum_row(stratum, data, index, space, dist, calib, fid, max_samples, rng):
    """Fidelity, novelty, near-copy share and diversity of one stratum."""
    label, group = stratum
    ref, gen = index.ref_sub[stratum], index.syn_sub[stratum]
    nan = float("nan")
    row = {"label": label, "group": group,
           "n_real": int(len(index.train.get(stratum, _EMPTY))),
           "n_generated": int(len(index.syn.get(stratum, _EMPTY))),
           "fidelity": nan, "fidelity_reference": nan, "novelty": nan,
           "near_copy_share": nan, "diversity": nan, "nn_dist_generated": nan,
           "nn_dist_reference": nan, "near_copy_distance": nan, "reference": None,
           "copying": False, "low_fidelity": False}
    if not len(gen):
        return row
    row["fidelity"], row["fidelity_reference"] = fid.of(stratum, gen)
    if not len(ref):
        return row
    scale, kind = calib["scales"].get(stratum), dist["kind"]
    if scale is not None and stratum not in calib["rich"] and np.isfinite(calib["common"]):
        scale = min(scale, calib["common"])  # few reference rows: the cautious scale
    if scale is None and np.isfinite(calib["common"]):
        scale, kind = calib["common"], "pooled"
    ratio = calib["ratio"]
    d_gen = dist["d_gen"]
    row["nn_dist_generated"] = float(np.median(d_gen))
    if scale is not None and np.isfinite(ratio):
        row.update(reference=kind, nn_dist_reference=scale,
                   novelty=row["nn_dist_generated"] / scale, near_copy_distance=ratio * scale,
                   near_copy_share=float(np.mean(d_gen <= ratio * scale)))
    real_div = _mean_pairwise(dist["F_ref"][_subsample(np.arange(len(ref)), max_samples, rng)])
    gen_div = _mean_pairwise(space.embed(data.X_syn[gen]))
    if np.isfinite(real_div) and real_div > 0 and np.isfinite(gen_div):
        row["diversity"] = gen_div / real_div
    return row


def _where(row, has_groups):
    return f"class {row['label']!r}" + (f", group {row['group']!r}" if has_groups else "")


def _warn_copying(rows, has_groups, copy_threshold, max_copy_share, copy_quantile):
    copied = [r for r in rows if r["copying"]]
    if not copied:
        return
    listed = "; ".join(
        f"{_where(r, has_groups)} (near-copy share {r['near_copy_share']:.2f}, novelty "
        f"{r['novelty']:.2f})" for r in copied)
    warnings.warn(
        f"generated samples for {listed} are near-copies of the training rows "
        f"(near-copy share > max_copy_share={max_copy_share} or novelty < "
        f"copy_threshold={copy_threshold}; unseen real rows have a share of about "
        f"{copy_quantile}): the generator adds little new information there; a generator "
        "that has seen these concepts elsewhere (pretrained, text-to-image) is needed.",
        UserWarning,
        stacklevel=3,
    )


def _warn_fidelity(rows, has_groups, min_relative_fidelity):
    low = [r for r in rows if r["low_fidelity"]]
    if not low:
        return
    listed = "; ".join(
        f"{_where(r, has_groups)} ({r['fidelity']:.2f} vs {r['fidelity_reference']:.2f})"
        for r in low)
    warnings.warn(
        f"generated samples for {listed} are recognised as their class far less often than "
        f"real rows of it (fidelity below min_relative_fidelity={min_relative_fidelity} "
        "times the real rows' rate): they may be noise, another class or another style; "
        "consider the quality filter (filter='auto') or another generator.",
        UserWarning,
        stacklevel=3,
    )


def holdout_split(y, groups=None, fraction=0.2, min_rows=5, random_state=0):
    """Split rows into those a generator trains on and the report's held-out reference.

    Stratified by class (or ``(class, group)`` cell): a stratum with at least
    ``min_rows`` rows gives ``max(1, floor(fraction * n))`` of them, drawn at
    random; smaller strata give none (the report then uses leave-one-out
    distances for them).

    Parameters
    ----------
    y : array-like of shape (n,)
    groups : array-like of shape (n,) or None, default=None
    fraction : float, default=0.2
        Share of each stratum held out, in [0, 0.5]; 0 holds out nothing.
    min_rows : int, default=5
        Strata with fewer rows keep all of them.
    random_state : int or RandomState, default=0
        The draw; fixed by default so that the same data give the same split.

    Returns
    -------
    fit_idx, held_idx : ndarray of int
        Sorted indices of the rows to train on and of the held-out rows.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn._report import holdout_split
    >>> y = np.array([0] * 10 + [1] * 4)
    >>> fit_idx, held_idx = holdout_split(y)
    >>> len(fit_idx), y[held_idx].tolist()
    (12, [0, 0])
    """
    y = np.asarray(y)
    if (isinstance(fraction, bool) or not isinstance(fraction, numbers.Real)
            or not 0 <= fraction <= 0.5):
        raise ValueError(f"fraction must be a number in [0, 0.5]; got {fraction!r}.")
    rng = check_random_state(random_state)
    held = []
    if fraction > 0:
        for rows in _index(row_strata(y, None if groups is None else np.asarray(groups))).values():
            if len(rows) >= min_rows:
                k = max(1, int(np.floor(fraction * len(rows))))
                held.append(rng.choice(rows, size=k, replace=False))
    held_idx = np.sort(np.concatenate(held)) if held else _EMPTY
    return np.setdiff1d(np.arange(len(y)), held_idx), held_idx
