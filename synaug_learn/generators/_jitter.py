"""A cheap generator: interpolation between, and Gaussian jitter of, real rows of one stratum."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval

from ..utils import row_strata
from ._base import BaseGenerator
from ._table import column_kind, is_frame

__all__ = ["JitterGenerator"]


class JitterGenerator(BaseGenerator):
    """Generate new rows near the real rows of the same stratum.

    Each new row is ``a + lam * (b - a) + noise`` where ``a`` and ``b`` are two
    random real rows of the stratum (``lam ~ U(0, interpolation)``) and the
    noise is Gaussian with ``noise_scale`` times the per-feature standard
    deviation of the whole training set. It needs no weights and works on any
    array shape, which makes it the generator for tests, for 2-D/tabular data
    and for scikit-learn's estimator checks. It brings no new information: it
    is a SMOTE-like baseline, not a substitute for a diffusion model.

    Columns keep their kind, so every generated value is one the data could hold:

    - categorical columns (bool, pandas ``category``, ``object`` or string
      columns, and numeric table columns with at most two distinct values,
      such as a bool column that arrived as 0.0 / 1.0) take the value of
      ``a`` or of ``b`` (``b`` with probability ``lam``), as SMOTE-NC does, so
      a class's rate of ``True`` (or of a category) stays that of its real
      rows;
    - integer columns (an integer dtype, or a table column holding only whole
      numbers) are rounded;
    - numeric columns are clipped to the range seen in ``fit``, integer ones too.

    A DataFrame comes back as a DataFrame with the same column names and dtypes.

    Parameters
    ----------
    noise_scale : float, default=0.1
        Standard deviation of the jitter, in units of each feature's standard
        deviation over the training set.
    interpolation : float, default=1.0
        Upper bound of the interpolation factor between two rows of the same
        stratum; ``0`` jitters single rows only.

    Attributes
    ----------
    classes_ : ndarray
        Labels seen in ``fit``.
    strata_ : list of tuple
        ``(label, group_or_None)`` cells seen in ``fit``.
    column_kinds_ : list of str
        ``"categorical"``, ``"integer"`` or ``"numeric"`` per feature.
    feature_names_in_ : ndarray of str
        Column names, when fitted on a DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.generators import JitterGenerator
    >>> X = np.arange(12, dtype=float).reshape(6, 2)
    >>> y = np.array([0, 0, 0, 0, 1, 1])
    >>> gen = JitterGenerator().fit(X, y)
    >>> X_new, y_new, groups_new = gen.generate({(1, None): 3}, random_state=0)
    >>> X_new.shape, y_new.tolist(), groups_new
    ((3, 2), [1, 1, 1], None)

    A DataFrame keeps its columns and dtypes, and a bool stays a plausible bool:

    >>> import pandas as pd
    >>> df = pd.DataFrame({"size": [1.5, 2.0, 2.5, 3.0, 9.0, 9.5],
    ...                    "flag": [False] * 4 + [True] * 2,
    ...                    "colour": ["red", "red", "blue", "red", "green", "green"]})
    >>> X_new, _, _ = JitterGenerator().fit(df, y).generate({(0, None): 4}, random_state=0)
    >>> X_new.dtypes.tolist() == df.dtypes.tolist(), bool(X_new["flag"].any())
    (True, False)
    >>> sorted(set(X_new["colour"]) - {"red", "blue"})
    []
    """

    _parameter_constraints: dict = {
        "noise_scale": [Interval(numbers.Real, 0, None, closed="left")],
        "interpolation": [Interval(numbers.Real, 0, 1, closed="both")],
    }

    def __init__(self, noise_scale=0.1, interpolation=1.0):
        self.noise_scale = noise_scale
        self.interpolation = interpolation

    def fit(self, X, y, groups=None):
        """Fit on ``X`` (an array of any shape, or a DataFrame), labels ``y``, optional groups."""
        self._frame = None
        if is_frame(X):
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
            self._frame = {"columns": list(X.columns), "dtypes": list(X.dtypes)}
            if X.isna().any().any():
                bad = [c for c in X.columns if X[c].isna().any()]
                raise ValueError(f"X columns {bad!r} hold missing values; impute them first.")
            X = X.to_numpy(dtype=object) if any(
                getattr(d, "kind", "O") not in "biuf" for d in X.dtypes) else X.to_numpy()
        return super().fit(X, y, groups)

    def _fit(self, X, y, groups):
        self._validate_params()
        flat = np.asarray(X).reshape(len(X), -1)
        if np.iscomplexobj(flat):
            raise ValueError(f"X is complex (dtype={flat.dtype}); real numbers are needed.")
        dtypes = self._frame["dtypes"] if self._frame else [flat.dtype] * flat.shape[1]
        self.column_kinds_ = [column_kind(flat[:, j], dtype, table=X.ndim == 2)
                              for j, dtype in enumerate(dtypes)]
        self._num = np.array([k != "categorical" for k in self.column_kinds_])
        # integer columns among the numeric ones (the order of self._rows' columns)
        self._int = np.array([k == "integer" for k in self.column_kinds_ if k != "categorical"],
                             dtype=bool)
        self._raw = flat  # categorical values are copied from here, as they are
        num = flat[:, self._num].astype(np.float64)
        if not np.isfinite(num).all():
            raise ValueError("X contains NaN or infinity; remove or impute those values first.")
        self._rows = num
        self._std = num.std(axis=0)
        self._low, self._high = num.min(axis=0), num.max(axis=0)
        keys = row_strata(y, groups)
        self._index = {s: np.array([i for i, k in enumerate(keys) if k == s]) for s in self.strata_}

    def _generate_stratum(self, stratum, seeds):
        idx = self._index.get(stratum)
        if idx is None or len(idx) == 0:
            raise ValueError(
                f"JitterGenerator cannot generate stratum {stratum!r}: it has no real rows."
            )
        n_cat = int((~self._num).sum())
        num_rows, pick_b = [], []
        for seed in seeds:  # one generator per row keeps each row reproducible alone
            rng = np.random.default_rng(seed)
            i, j = rng.choice(idx, 2)
            a, b = self._rows[i], self._rows[j]
            lam = rng.uniform(0.0, self.interpolation)
            noise = rng.standard_normal(a.shape) * self._std * self.noise_scale
            num_rows.append(a + lam * (b - a) + noise)
            # categorical values: b's with probability lam, else a's (SMOTE-NC style)
            pick_b.append((i, j, rng.uniform(size=n_cat) < lam))
        new = np.clip(np.array(num_rows).reshape(len(seeds), -1), self._low, self._high)
        new[:, self._int] = np.rint(new[:, self._int])
        if np.issubdtype(self.dtype_, np.integer):
            new = np.rint(new)
        if not n_cat:
            return new.reshape(len(seeds), *self.sample_shape_)
        out = np.empty((len(seeds), self._raw.shape[1]), dtype=self._raw.dtype)
        out[:, self._num] = new
        cat = np.flatnonzero(~self._num)
        for r, (i, j, take_b) in enumerate(pick_b):
            out[r, cat] = np.where(take_b, self._raw[j, cat], self._raw[i, cat])
        return out.reshape(len(seeds), *self.sample_shape_)

    def generate(self, n_per_stratum, random_state=None):
        """Generate ``n`` rows per ``(label, group)`` stratum; a DataFrame if fitted on one."""
        X_new, y_new, groups_new = super().generate(n_per_stratum, random_state)
        if getattr(self, "_frame", None):
            import pandas as pd

            frame = pd.DataFrame(X_new, columns=self._frame["columns"])
            X_new = frame.astype(dict(zip(self._frame["columns"], self._frame["dtypes"])))
        return X_new, y_new, groups_new
