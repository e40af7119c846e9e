"""Classifier re-training: refit a network's head on balanced real rows (SYNAuG, cRT, DFR).

SYNAuG's last step and its baselines: after the network is trained (on
resampled or filled data), its penultimate features are frozen and only the
linear head is refitted, either on a class- (or class x group-) balanced
*subsample* of the real rows (the paper's recipe; DFR, Kirichenko et al.,
2023) or, as cRT (Kang et al., ICLR 2020) defines it, on *all* real rows with
class-balanced *sampling* for a number of epochs. imbalanced-learn's Pipeline
passes only ``(X, y)`` from a sampler to the next step, so nothing inside the
pipeline knows which rows were synthetic; :class:`RetrainClassifier` wraps the
whole pipeline and therefore still has the original rows.
"""

from __future__ import annotations

import inspect
import itertools
import numbers
import warnings
from collections.abc import Mapping

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from .nets import get_head

__all__ = ["RetrainClassifier"]

#: Name of the skorch callback that records the rows the net is trained on (rows="resampled").
_RECORDER = "synaug_retrain_rows"


def _is_pipeline(estimator):
    return hasattr(estimator, "steps") and isinstance(estimator.steps, list)


def _final_step(estimator):
    return estimator.steps[-1][1] if _is_pipeline(estimator) else estimator


def _estimator_has(attr):
    def check(self):
        est = getattr(self, "estimator_", self.estimator)
        return hasattr(est, attr)

    return check


class _TrainingRows(Callback):
    """Keeps the ``(X, y)`` the net's training starts on: the rows after the pipeline's samplers.

    Only the first training of a fit counts (a two-stage net starts a second
    training on the real rows only).
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if getattr(self, "y_", None) is not None:
            return
        self.X_ = X["X"] if isinstance(X, Mapping) and "X" in X else X
        self.y_ = y


class RetrainClassifier(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Fit a network (or a pipeline ending in one), then refit its head on balanced real rows.

    Two ways, named for what they do (``method``):

    - ``"subsample"`` (default, the SYNAuG paper's recipe; DFR with
      ``balance="group"``): the head is refitted to convergence on a balanced
      *subsample* -- ``n_per_stratum`` rows of each stratum; the other rows
      are not used.
    - ``"crt"``, classifier re-training as Kang et al. (ICLR 2020) define
      it: the head is re-initialised and trained for ``crt_epochs`` epochs
      of mini-batch SGD on *all* the rows, drawn with class- (or cell-)
      balanced sampling (each stratum equally likely, rows uniformly within
      it), features frozen.

    With ``"subsample"``, ``fit`` clones and fits ``estimator`` on ``(X, y)``, draws a balanced
    subsample -- ``n_per_stratum`` rows of every class (``balance="class"``,
    cRT) or of every (class, group) cell (``balance="group"``, DFR) -- of the
    *original* rows (``rows="original"``, the paper's recipe) or of the rows
    the network was trained on (``rows="resampled"``), extracts the
    penultimate features of those rows with the trained network in eval mode,
    refits the linear head on them and writes the new weights into the
    network's ``module_``. Nothing but the head changes: convolution weights
    and BatchNorm statistics are untouched. ``predict`` is then that of the
    fitted ``estimator_``.

    Which rows to use (measured on long-tailed digits): re-training on balanced *real*
    rows needs enough real rows per stratum (it hurt when tail classes had
    2-4 images); re-training on the balanced *filled* set is nearly harmless.
    A warning tells you when a stratum has fewer than ``min_per_stratum``
    real rows.

    Parameters
    ----------
    estimator : estimator
        A skorch net whose module names its final ``torch.nn.Linear`` in the
        attribute ``head_name`` (e.g. :class:`~synaug_learn.MixupNetClassifier`
        with any module of :mod:`synaug_learn.nets`; a custom module adds
        ``head_name = "..."``, see :func:`~synaug_learn.nets.get_head`), or an
        imbalanced-learn / scikit-learn ``Pipeline`` whose last step is one
        (samplers and transformers before it are fine).
    balance : {"class", "group"}, default="class"
        Strata of the subsample: classes, or (class, group) cells (needs
        ``fit(X, y, groups=...)``).
    rows : {"original", "resampled"}, default="original"
        Draw the subsample from the rows passed to ``fit``, or from the rows
        the network was trained on (after the pipeline's samplers). The
        resampled rows are recorded by a skorch callback when the net's
        training begins -- the exact rows the net saw, at no extra cost.
        With ``balance="group"`` the last sampler must expose the groups of
        its output as ``groups_resampled_``. Without a sampler both choices
        draw from the same rows.
    n_per_stratum : int or None, default=None
        Rows drawn per stratum; ``None`` = the size of the smallest non-empty
        stratum (as ``RandomUnderSampler``). Strata with fewer rows give all
        of them (the logistic head is class-balanced anyway).
    min_per_stratum : int, default=5
        Warn when a stratum has fewer rows than this.
    method : {"subsample", "crt"}, default="subsample"
        How the head is re-trained (see above).
    crt_epochs : int, default=10
        Epochs of class-balanced sampling over all rows (``method="crt"``).
    crt_batch_size : int, default=64
        Mini-batch size of ``method="crt"`` (SGD, momentum 0.9, learning rate
        0.1 with a cosine decay, on standardised features).
    head : {"logistic", "torch"}, default="logistic"
        Refit the head with scikit-learn's ``LogisticRegression`` (features
        standardised, ``class_weight="balanced"``, the scaling folded back into
        the weights), or with a short full-batch L-BFGS fit in torch on the
        net's device, started from the current head (same objective).
        Used by ``method="subsample"``.
    C : float, default=1.0
        Inverse L2 regularisation strength of the head.
    random_state : int, RandomState or None, default=None
        Seeds the subsample.

    Attributes
    ----------
    estimator_ : estimator
        The fitted estimator, with the re-trained head.
    classes_ : ndarray of shape (n_classes,)
    head_name_ : str
        The ``head_name`` of the network's module: the layer that was refitted.
    n_retrain_rows_ : int
        Rows the head was refitted on (all of them with ``method="crt"``).
    sampling_weights_ : ndarray of shape (n_rows,) or None
        With ``method="crt"``: each of the ``n_retrain_rows_`` rows'
        probability of being drawn (equal totals per stratum); ``None``
        otherwise.
    draw_counts_ : ndarray of int or None
        With ``method="crt"``: how often each row was drawn over the epochs.
    retrain_indices_ : ndarray of int
        Their indices into the rows passed to ``fit`` (``rows="original"``) or
        into the resampled rows (``rows="resampled"``).
    stratum_counts_ : dict
        ``{stratum: (available rows, drawn rows)}``; a stratum is a label, or a
        ``(label, group)`` tuple.

    Notes
    -----
    **Groups and metadata routing.** ``fit(X, y, groups=g)`` always uses
    ``g`` for ``balance="group"``. With scikit-learn's metadata routing
    enabled (``sklearn.set_config(enable_metadata_routing=True)``), ``groups``
    also reaches every step of ``estimator`` that requests it, e.g. a sampler
    with ``set_fit_resample_request(groups=True)`` or a Group DRO net with
    ``set_fit_request(groups=True)``; request them on this estimator too
    (``set_fit_request(groups=True)``) when it sits inside a search or
    ``cross_validate`` that holds the groups. Without routing, ``groups`` is
    passed to a bare net whose ``fit`` takes it and not into a pipeline (a
    warning says so when a step could have used it).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from imblearn.over_sampling import RandomOverSampler
    >>> from imblearn.pipeline import Pipeline
    >>> from synaug_learn import MixupNetClassifier, RetrainClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> pipe = Pipeline([
    ...     ("ros", RandomOverSampler(random_state=0)),
    ...     ("clf", MixupNetClassifier(max_epochs=1, random_state=0)),
    ... ])
    >>> model = RetrainClassifier(pipe, random_state=0).fit(X[:300], y[:300])
    >>> model.predict(X[:3]).shape
    (3,)
    >>> model.n_retrain_rows_ == 10 * min(model.stratum_counts_[c][0] for c in range(10))
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"])],
        "balance": [StrOptions({"class", "group"})],
        "rows": [StrOptions({"original", "resampled"})],
        "n_per_stratum": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "min_per_stratum": [Interval(numbers.Integral, 0, None, closed="left")],
        "method": [StrOptions({"subsample", "crt"})],
        "crt_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "crt_batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "head": [StrOptions({"logistic", "torch"})],
        "C": [Interval(numbers.Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        *,
        balance="class",
        rows="original",
        n_per_stratum=None,
        min_per_stratum=5,
        method="subsample",
        crt_epochs=10,
        crt_batch_size=64,
        head="logistic",
        C=1.0,
        random_state=None,
    ):
        self.estimator = estimator
        self.balance = balance
        self.rows = rows
        self.n_per_stratum = n_per_stratum
        self.min_per_stratum = min_per_stratum
        self.method = method
        self.crt_epochs = crt_epochs
        self.crt_batch_size = crt_batch_size
        self.head = head
        self.C = C
        self.random_state = random_state

    # ------------------------------------------------------------------ routing

    def get_metadata_routing(self):
        """Route ``fit`` metadata (e.g. ``groups``) to the estimator, and use ``groups`` here.

        Returns
        -------
        MetadataRouter
        """
        return (
            MetadataRouter(owner=type(self).__name__)
            .add_self_request(self)
            .add(
                estimator=self.estimator,
                method_mapping=MethodMapping()
                .add(caller="fit", callee="fit")
                .add(caller="predict", callee="predict")
                .add(caller="predict_proba", callee="predict_proba")
                .add(caller="score", callee="score"),
            )
        )

    def _estimator_fit_params(self, groups, fit_params):
        if _routing_enabled():
            params = dict(fit_params)
            if groups is not None:
                params["groups"] = groups
            routed = process_routing(self, "fit", **params)
            return dict(routed.estimator.fit)
        params = dict(fit_params)
        if groups is None:
            return params
        if _is_pipeline(self.estimator) and not _takes_groups(self.estimator, "fit"):
            consumers = [
                name for name, step in self.estimator.steps
                if _takes_groups(step, "fit_resample") or _takes_groups(step, "fit")
            ]
            if consumers:
                warnings.warn(
                    f"groups are not passed into the pipeline (steps {consumers!r} could take "
                    "them) unless metadata routing is enabled: "
                    "sklearn.set_config(enable_metadata_routing=True) and e.g. "
                    "sampler.set_fit_resample_request(groups=True).",
                    UserWarning,
                    stacklevel=3,
                )
        elif _takes_groups(self.estimator, "fit"):
            params["groups"] = groups
        return params

    # ------------------------------------------------------------------ fit

    def fit(self, X, y, groups=None, **fit_params):
        """Fit the estimator on ``(X, y)``, then refit its head on a balanced subsample.

        Parameters
        ----------
        X : array-like
            What ``estimator`` takes (images in any layout for the nets here).
        y : array-like of shape (n,)
        groups : array-like of shape (n,) or None
            Group of each row; needed by ``balance="group"``, and routed to
            the estimator's steps that request it (see Notes).
        **fit_params
            Passed to ``estimator.fit`` (routed, when metadata routing is on).

        Returns
        -------
        self
        """
        self._validate_params()
        y, groups = self._check_fit_input(X, y, groups)
        est_params = self._estimator_fit_params(groups, fit_params)
        self.estimator_ = clone(self.estimator)
        trained_on = self._fit_estimator(X, y, est_params)
        net = _final_step(self.estimator_)
        head_name, head = get_head(net.module_, param_name="estimator")

        # rows to draw from, in the network's input space
        if trained_on is not None:
            X_pool, y_pool = trained_on
            g_pool = self._resampled_groups(len(y_pool)) if self.balance == "group" else None
        else:
            X_pool, y_pool, g_pool = X, y, groups
        idx, self.stratum_counts_, keys = self._balanced_indices(y_pool, g_pool)
        X_sub = _take(X_pool, idx)
        if trained_on is None:
            X_sub = self._transform(X_sub)
        classes = np.asarray(net.classes_)
        feats = _extract_features(net, head, X_sub)
        codes = _encode_labels(y_pool[idx], classes)
        self.sampling_weights_ = self.draw_counts_ = None
        if self.method == "crt":
            self._refit_crt(head, feats, codes, [keys[i] for i in idx])
        else:
            self._refit_head(head, feats, codes, len(classes))
        self.head_name_ = head_name
        self.classes_ = classes
        self.retrain_indices_ = idx
        self.n_retrain_rows_ = int(len(idx))
        return self

    def _check_fit_input(self, X, y, groups):
        """Validate ``y``, ``groups`` and the estimator before any training."""
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D; got shape {y.shape}.")
        n = len(y)
        if len(X) != n:
            raise ValueError(f"X has {len(X)} rows but y has {n} labels.")
        if groups is not None:
            groups = np.asarray(groups)
            if groups.shape != (n,):
                raise ValueError(
                    f"groups must have one entry per row ({n}); got shape {groups.shape}."
                )
        if self.balance == "group" and groups is None:
            raise ValueError(
                "balance='group' needs the group of every row: fit(X, y, groups=...); "
                "got groups=None."
            )
        net = _final_step(self.estimator)
        if not hasattr(net, "module") or not hasattr(net, "get_dataset"):
            raise TypeError(
                f"estimator must be a skorch net (e.g. MixupNetClassifier) or a Pipeline "
                f"ending in one, so that its head can be re-trained; its last step is "
                f"{type(net).__name__}."
            )
        if isinstance(getattr(net, "module", None), torch.nn.Module):
            get_head(net.module, param_name="estimator")
        if self.rows == "resampled" and _is_pipeline(self.estimator) and net.callbacks == "disable":
            raise ValueError(
                "rows='resampled' records the rows the net is trained on with a skorch "
                "callback, but the net has callbacks='disable'; use rows='original' or enable "
                "callbacks."
            )
        return y, groups

    def _fit_estimator(self, X, y, est_params):
        """Fit ``estimator_``; return the ``(X, y)`` its net trained on for rows='resampled'.

        Returns ``None`` when the subsample is drawn from the rows passed to ``fit``.
        """
        if self.rows != "resampled" or not _is_pipeline(self.estimator_):
            self.estimator_.fit(X, y, **est_params)
            return None
        net = _final_step(self.estimator_)
        own_callbacks = net.callbacks
        recorder = _TrainingRows()
        net.set_params(callbacks=[*(own_callbacks or []), (_RECORDER, recorder)])
        try:
            self.estimator_.fit(X, y, **est_params)
        finally:
            net.set_params(callbacks=own_callbacks)
            net.initialize_callbacks()
        return recorder.X_, np.asarray(recorder.y_)

    def _transform(self, X):
        """``X`` through the fitted pipeline's transformers (samplers skipped)."""
        if not _is_pipeline(self.estimator_):
            return X
        for _, step in self.estimator_.steps[:-1]:
            if step is None or step == "passthrough" or hasattr(step, "fit_resample"):
                continue
            X = step.transform(X)
        return X

    def _refit_head(self, head, feats, codes, n_classes):
        """Fit the head on ``(feats, codes)`` and write its weights into the network."""
        if self.head == "logistic":
            W, b = self._fit_logistic(feats, codes, n_classes, head.bias is not None)
        else:
            W, b = self._fit_torch(feats, codes, head)
        with torch.no_grad():
            head.weight.copy_(torch.as_tensor(W, dtype=head.weight.dtype))
            if head.bias is not None:
                head.bias.copy_(torch.as_tensor(b, dtype=head.bias.dtype))

    def _resampled_groups(self, n_rows):
        samplers = [s for _, s in self.estimator_.steps[:-1] if hasattr(s, "fit_resample")]
        g = getattr(samplers[-1], "groups_resampled_", None) if samplers else None
        if g is None or len(g) != n_rows:
            raise ValueError(
                "rows='resampled' with balance='group' needs the groups of the resampled "
                "rows, which imbalanced-learn's Pipeline does not pass on and the last "
                "sampler does not expose as groups_resampled_; use rows='original'."
            )
        return np.asarray(g)

    def _balanced_indices(self, y, groups):
        labels = np.unique(y)
        if self.balance == "group":
            group_values = np.unique(groups)
            strata = list(itertools.product(labels.tolist(), group_values.tolist()))
            if len(strata) > len(y):
                raise ValueError(
                    f"balance='group' makes {len(labels)} classes x {len(group_values)} groups "
                    f"= {len(strata)} strata from only {len(y)} rows; groups must label a few "
                    "groups, not single rows."
                )
            keys = list(zip(y.tolist(), groups.tolist()))
        else:
            strata = labels.tolist()
            keys = y.tolist()
        members = {s: [] for s in strata}
        for i, k in enumerate(keys):
            members[k].append(i)
        small = {s: len(m) for s, m in members.items() if len(m) < self.min_per_stratum}
        if small:
            warnings.warn(
                f"{len(small)} strata have fewer than min_per_stratum={self.min_per_stratum} "
                f"rows to re-train the head on ({_short(small)}); the re-trained head may be "
                "worse than the original one. Consider "
                "rows='resampled' or a larger n_per_stratum.",
                UserWarning,
                stacklevel=3,
            )
        sizes = [len(m) for m in members.values() if m]
        n_per = min(sizes) if self.n_per_stratum is None else int(self.n_per_stratum)
        if self.method == "crt":  # every row; the balance comes from the sampling
            n_per = max(sizes)
        rng = check_random_state(self.random_state)
        picked, counts = [], {}
        for s in strata:
            m = np.asarray(members[s], dtype=np.int64)
            take = min(n_per, len(m))
            chosen = np.sort(rng.choice(m, size=take, replace=False)) if take else m[:0]
            picked.append(chosen)
            counts[s] = (len(m), int(take))
        return np.concatenate(picked), counts, keys

    def _refit_crt(self, head, feats, codes, strata):
        """cRT: re-initialise the head, train it with stratum-balanced sampling over all rows."""
        rng = check_random_state(self.random_state)
        gen = torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
        sizes = {s: 0 for s in strata}
        for s in strata:
            sizes[s] += 1
        weights = np.array([1.0 / (len(sizes) * sizes[s]) for s in strata])
        scaler = StandardScaler().fit(feats)
        scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
        Z = torch.as_tensor((feats - scaler.mean_) / scale, dtype=torch.float32)
        y_t = torch.as_tensor(codes, dtype=torch.int64)
        W = torch.zeros(head.out_features, Z.shape[1], requires_grad=True)
        b = torch.zeros(head.out_features, requires_grad=head.bias is not None)
        params = [W, b] if head.bias is not None else [W]
        n, batch = len(codes), min(self.crt_batch_size, len(codes))
        steps = self.crt_epochs * -(-n // batch)
        opt = torch.optim.SGD(params, lr=0.1, momentum=0.9)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        l2 = 1.0 / (self.C * n)
        draws = np.zeros(n, dtype=np.int64)
        p = torch.as_tensor(weights, dtype=torch.float64)
        for _ in range(self.crt_epochs):
            order = torch.multinomial(p, n, replacement=True, generator=gen)
            draws += np.bincount(order.numpy(), minlength=n)
            for rows in order.split(batch):
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(Z[rows] @ W.T + b, y_t[rows])
                (loss + 0.5 * l2 * (W**2).sum()).backward()
                opt.step()
                schedule.step()
        W_np = W.detach().numpy().astype(np.float64) / scale
        b_np = b.detach().numpy().astype(np.float64) - W_np @ scaler.mean_
        with torch.no_grad():
            head.weight.copy_(torch.as_tensor(W_np, dtype=head.weight.dtype))
            if head.bias is not None:
                head.bias.copy_(torch.as_tensor(b_np, dtype=head.bias.dtype))
        self.sampling_weights_, self.draw_counts_ = weights, draws

    def _fit_logistic(self, feats, codes, n_classes, fit_bias):
        scaler = StandardScaler().fit(feats)
        scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
        Z = (feats - scaler.mean_) / scale
        lr = LogisticRegression(
            C=self.C, class_weight="balanced", max_iter=1000, fit_intercept=fit_bias,
        ).fit(Z, codes)
        coef = np.zeros((n_classes, feats.shape[1]))
        intercept = np.zeros(n_classes)
        present = lr.classes_.astype(int)
        if len(present) == 2 and lr.coef_.shape[0] == 1:
            coef[present[1]], coef[present[0]] = lr.coef_[0] / 2, -lr.coef_[0] / 2
            intercept[present[1]] = lr.intercept_[0] / 2 if fit_bias else 0.0
            intercept[present[0]] = -lr.intercept_[0] / 2 if fit_bias else 0.0
        else:
            coef[present] = lr.coef_
            intercept[present] = lr.intercept_ if fit_bias else 0.0
        absent = np.setdiff1d(np.arange(n_classes), present)
        intercept[absent] = -1e4  # a class without rows can never be predicted
        W = coef / scale
        b = intercept - W @ scaler.mean_
        return W, b

    def _fit_torch(self, feats, codes, head):
        device = head.weight.device
        F_t = torch.as_tensor(feats, dtype=torch.float32, device=device)
        y_t = torch.as_tensor(codes, dtype=torch.int64, device=device)
        n_classes = head.out_features
        counts = torch.bincount(y_t, minlength=n_classes).float()
        weight = torch.where(counts > 0, len(y_t) / (n_classes * counts.clamp(min=1)), 0.0)
        W = head.weight.detach().clone().float().requires_grad_(True)
        b = (head.bias.detach().clone().float() if head.bias is not None
             else torch.zeros(n_classes, device=device)).requires_grad_(head.bias is not None)
        params = [W, b] if head.bias is not None else [W]
        opt = torch.optim.LBFGS(params, lr=1.0, max_iter=200, line_search_fn="strong_wolfe")
        l2 = 1.0 / (self.C * len(y_t))

        def closure():
            opt.zero_grad()
            logits = F_t @ W.T + b
            loss = torch.nn.functional.cross_entropy(logits, y_t, weight=weight)
            loss = loss + 0.5 * l2 * (W**2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        return W.detach().cpu().numpy(), b.detach().cpu().numpy()

    # ------------------------------------------------------------------ predict

    def predict(self, X, **params):
        """Predict labels with the fitted estimator (its head re-trained)."""
        check_is_fitted(self)
        return self.estimator_.predict(X, **params)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X, **params):
        """Class probabilities from the fitted estimator, columns in ``classes_`` order."""
        check_is_fitted(self)
        return self.estimator_.predict_proba(X, **params)


def _takes_groups(step, method):
    fn = getattr(step, method, None)
    if fn is None:
        return False
    try:
        return "groups" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _take(X, idx):
    if hasattr(X, "iloc"):
        return X.iloc[idx]
    if isinstance(X, torch.Tensor):
        return X[torch.as_tensor(idx)]
    return np.asarray(X)[idx]


def _short(d, k=5):
    items = list(d.items())
    text = ", ".join(f"{s!r}: {n}" for s, n in items[:k])
    return text + (", ..." if len(items) > k else "")


def _encode_labels(y, classes):
    index = {c: i for i, c in enumerate(classes.tolist())}
    try:
        return np.array([index[v] for v in np.asarray(y).tolist()], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(
            f"label {exc.args[0]!r} is not among the network's classes_ {classes.tolist()!r}."
        ) from None


def _extract_features(net, head, X):
    """Penultimate features of ``X``: the input of ``head`` in eval mode, batch by batch."""
    feats = []

    def hook(_module, inputs):
        feats.append(inputs[0].detach().float().cpu())

    handle = head.register_forward_pre_hook(hook)
    try:
        dataset = net.get_dataset(X)
        for batch in net.get_iterator(dataset, training=False):
            n_before = len(feats)
            with torch.no_grad():
                out = net.evaluation_step(batch, training=False)
            if len(feats) != n_before + 1:
                raise TypeError(
                    "estimator's network does not call its head exactly once per forward "
                    "pass, so its penultimate features cannot be read."
                )
            out = out[0] if isinstance(out, tuple) else out
            f = feats[-1].to(device=head.weight.device, dtype=head.weight.dtype)
            logits = torch.nn.functional.linear(f, head.weight, head.bias)
            if not torch.allclose(logits.float().cpu(), out.detach().float().cpu(),
                                  atol=1e-4, rtol=1e-4):
                raise TypeError(
                    "estimator's network output is not its head applied to the head's input; "
                    "the head must be the network's last layer to be re-trained."
                )
    finally:
        handle.remove()
    return torch.cat(feats).numpy().astype(np.float64)
