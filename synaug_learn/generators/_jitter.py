"""A cheap generator: interpolation between, and Gaussian jitter of, real rows of one stratum."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval

from ._base import BaseGenerator

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
    """

    _parameter_constraints: dict = {
        "noise_scale": [Interval(numbers.Real, 0, None, closed="left")],
        "interpolation": [Interval(numbers.Real, 0, 1, closed="both")],
    }

    def __init__(self, noise_scale=0.1, interpolation=1.0):
        self.noise_scale = noise_scale
        self.interpolation = interpolation

    def _fit(self, X, y, groups):
        self._validate_params()
        flat = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        self._rows = flat
        self._std = flat.std(axis=0)
        self._low, self._high = flat.min(axis=0), flat.max(axis=0)
        keys = list(zip(y.tolist(), groups.tolist() if groups is not None else [None] * len(y)))
        self._index = {s: np.array([i for i, k in enumerate(keys) if k == s]) for s in self.strata_}

    def _generate_stratum(self, stratum, seeds):
        idx = self._index.get(stratum)
        if idx is None or len(idx) == 0:
            raise ValueError(
                f"JitterGenerator cannot generate stratum {stratum!r}: it has no real rows."
            )
        rows = []
        for seed in seeds:  # one generator per row keeps each row reproducible alone
            rng = np.random.default_rng(seed)
            a, b = self._rows[rng.choice(idx, 2)]
            lam = rng.uniform(0.0, self.interpolation)
            noise = rng.standard_normal(a.shape) * self._std * self.noise_scale
            rows.append(a + lam * (b - a) + noise)
        new = np.clip(np.array(rows), self._low, self._high)
        if np.issubdtype(self.dtype_, np.integer):
            new = np.rint(new)
        return new.reshape(len(seeds), *self.sample_shape_)
