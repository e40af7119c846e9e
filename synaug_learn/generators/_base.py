"""The generator contract and the image-format helpers every generator shares.

A generator is a scikit-learn estimator with three methods:

``fit(X, y, groups=None)``
    In-domain models train here; pretrained ones only record the data's
    format and classes (cheap).
``generate(n_per_stratum, random_state=None)``
    ``{(label, group_or_None): n}`` -> ``(X_new, y_new, groups_new)``, with
    ``X_new`` in the fitted input's per-sample shape and dtype and
    ``groups_new`` ``None`` when the generator was fitted without groups.
``generate_seeded(stratum, seeds)`` (optional, provided by ``BaseGenerator``)
    One sample per seed for one stratum. Row ``i`` of a stratum always gets
    ``derive_seed(random_state, stratum, i)``, so any row can be regenerated
    alone, a partly written bank shard can be extended, and work split over
    Ray workers gives the same rows as one process.
``fingerprint()``
    A stable hash of everything that determines the output (class, params,
    weights, training data), used to content-address the synthetic bank.
``can_compose()`` (optional; ``False`` when absent, as in ``BaseGenerator``)
    Whether ``generate`` can draw a ``(label, group)`` cell that had **no**
    rows in the fitted data, when its label and its group each occurred
    (e.g. ``ConditionalDiffusionGenerator(conditioning="factorized")``).
    It answers from the parameters alone, before ``fit``, so a sampler asked
    for such a cell fails before any work when the generator cannot compose.
``edit(X, y, groups=None, *, strength, random_state=None)`` (optional)
    Each row of ``X`` redrawn by the generator from a noised copy of itself
    (SDEdit), conditioned on its own ``(label, group)``: same shape and dtype,
    row ``i``'s noise seeded from ``(random_state, i)`` alone. A sampler's
    ``regenerate_real`` passes the real rows through it, so that real and
    generated rows carry the same generator's look.

``generate`` must be a pure function of ``(fitted state, n_per_stratum,
random_state)`` so that the bank can regenerate any shard alone.
"""

from __future__ import annotations

import hashlib
import importlib
import json

import numpy as np
from sklearn.base import BaseEstimator

from ..utils import (
    check_is_fitted,
    check_strata,
    derive_seed,
    hash_array,
    jsonable,
    row_strata,
    stratum_labels,
)

__all__ = ["BaseGenerator", "check_generator", "generator_can_compose"]


# The synthetic-data report belongs to the caller side of the package, and generators must not
# import it. A generator that checks its own output (ConditionalDiffusionGenerator after
# fine-tuning) gets it through this callback. Unless one is set, the package's report is
# looked up by name when first needed, so that importing a generator stays cheap and no
# generator module imports the report.
_NOVELTY_REPORT = {"func": None, "default": ("synaug_learn._report", "synthetic_report")}


def set_novelty_report(func):
    """Set the callback ``func(X, y, X_syn, y_syn, **kwargs) -> report`` generators probe with."""
    if func is not None and not callable(func):
        raise TypeError(f"func must be callable or None; got {func!r}.")
    _NOVELTY_REPORT["func"] = func


def novelty_report():
    """The callback set by :func:`set_novelty_report`, else the package's synthetic report."""
    if _NOVELTY_REPORT["func"] is None:
        module, name = _NOVELTY_REPORT["default"]
        return getattr(importlib.import_module(module), name)
    return _NOVELTY_REPORT["func"]


def check_generator(generator, param_name="generator"):
    """Check that ``generator`` follows the contract; raise ``TypeError`` naming the parameter.

    Parameters
    ----------
    generator : object
        The object to check: it needs ``fit`` and ``generate`` methods.
    param_name : str, default="generator"
        Name of the parameter in the error message.

    Returns
    -------
    generator : object
        ``generator`` itself.

    Raises
    ------
    TypeError
        If ``generator`` lacks ``fit`` or ``generate``.

    Examples
    --------
    >>> from synaug_learn.generators import JitterGenerator, check_generator
    >>> check_generator(JitterGenerator())
    JitterGenerator()
    >>> check_generator("a folder name")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: generator must implement fit(X, y, groups=None) and generate(...); ...
    """
    missing = [m for m in ("fit", "generate") if not callable(getattr(generator, m, None))]
    if missing:
        raise TypeError(
            f"{param_name} must implement fit(X, y, groups=None) and "
            f"generate(n_per_stratum, random_state=None); {generator!r} lacks "
            f"{', '.join(missing)}."
        )
    return generator


def generator_can_compose(generator):
    """Whether ``generator`` says it can draw cells absent from its data (``can_compose()``).

    Generators without the method cannot.

    Parameters
    ----------
    generator : object
        A generator (see the contract above).

    Returns
    -------
    bool

    Examples
    --------
    >>> from synaug_learn.generators import (ConditionalDiffusionGenerator, JitterGenerator,
    ...                                      generator_can_compose)
    >>> generator_can_compose(JitterGenerator())
    False
    >>> generator_can_compose(ConditionalDiffusionGenerator(conditioning="factorized"))
    True
    """
    method = getattr(generator, "can_compose", None)
    return bool(method()) if callable(method) else False


class BaseGenerator(BaseEstimator):
    """Base class for generators (see the module docstring for the contract).

    Subclasses implement ``_fit(X, y, groups)`` and
    ``_generate_stratum(stratum, seeds) -> X_new`` (one sample per seed, in the
    user's format); this base validates the request, derives one seed per row
    (``derive_seed(random_state, stratum, i)``) and assembles labels and groups.
    A subclass that turns a whole request into rows better at once (e.g. one
    decoding of a table for all strata) overrides ``_generate_jobs(jobs)``,
    ``jobs`` being the checked ``[(stratum, seeds), ...]`` that ``generate``
    asks for.

    Fitted attributes set here: ``classes_``, ``strata_`` (list of
    ``(label, group_or_None)``), ``has_groups_``, ``image_format_`` (or
    ``None`` for non-image input), ``n_features_in_``, ``data_hash_``.

    Examples
    --------
    A generator whose new rows are the mean row of their stratum:

    >>> import numpy as np
    >>> from synaug_learn.generators import BaseGenerator
    >>> class MeanGenerator(BaseGenerator):
    ...     def _fit(self, X, y, groups):
    ...         self.means_ = {c: X[y == c].mean(axis=0) for c in self.classes_}
    ...     def _generate_stratum(self, stratum, seeds):
    ...         return np.stack([self.means_[stratum[0]] for _ in seeds])
    >>> gen = MeanGenerator().fit(np.array([[0.0], [2.0], [5.0]]), [0, 0, 1])
    >>> X_new, y_new, groups_new = gen.generate({(0, None): 2}, random_state=0)
    >>> X_new.ravel().tolist(), y_new.tolist(), groups_new
    ([1.0, 1.0], [0, 0], None)
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # A subclass that implements neither `_generate_stratum` nor `generate_seeded` (its
        # sampling lives in `generate` only) cannot generate per seed: it does not offer
        # `generate_seeded`, and callers fall back to whole `generate` calls.
        if (cls._generate_stratum is BaseGenerator._generate_stratum
                and cls.generate_seeded is BaseGenerator.generate_seeded):
            cls.generate_seeded = None

    def fit(self, X, y, groups=None):
        """Fit the generator on ``X`` (images or rows), labels ``y`` and optional ``groups``."""
        X = np.asarray(X)
        y = np.asarray(y)
        groups_arr = None if groups is None else np.asarray(groups)
        self._set_strata(y, groups_arr)
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        self.sample_shape_ = tuple(X.shape[1:])
        self.dtype_ = X.dtype
        self.data_hash_ = hash_array(X, y, groups_arr)
        self._fit(X, y, groups_arr)
        return self

    def _set_strata(self, y, groups):
        """Set ``classes_``, ``has_groups_`` and ``strata_`` from labels and optional groups."""
        self.classes_ = np.unique(y)
        self.has_groups_ = groups is not None
        self.strata_ = sorted(set(row_strata(y, groups)), key=repr)

    def _fit(self, X, y, groups):
        raise NotImplementedError

    def generate(self, n_per_stratum, random_state=None):
        """Generate ``n`` samples for each ``(label, group)`` stratum.

        Parameters
        ----------
        n_per_stratum : dict
            ``{(label, group_or_None): n}``; ``n`` may be 0.
        random_state : int, RandomState or None
            Base seed; row ``i`` of a stratum uses ``derive_seed(random_state, stratum, i)``.

        Returns
        -------
        X_new : ndarray of shape (sum(n),) + sample_shape, fitted dtype
        y_new : ndarray of shape (sum(n),)
        groups_new : ndarray of shape (sum(n),) or None
        """
        self._check_fitted()
        request = check_strata(n_per_stratum, self.classes_, self.has_groups_)
        base = derive_seed(random_state)
        X_out = self._generate_jobs([(stratum, [derive_seed(base, stratum, i) for i in range(n)])
                                     for stratum, n in request if n])
        y_out, groups_out = stratum_labels(request, self.classes_.dtype, self.has_groups_)
        return X_out, y_out, groups_out

    def _check_fitted(self):
        """Raise scikit-learn's ``NotFittedError`` unless ``fit`` has run."""
        check_is_fitted(self, "classes_")

    def _check_stratum(self, stratum):
        """``stratum`` as a checked ``(label, group)`` pair of the fitted strata."""
        ((label, group), _), = check_strata({stratum: 0}, self.classes_, self.has_groups_)
        return label, group

    def _generate_jobs(self, jobs):
        """Samples of ``[(stratum, seeds), ...]`` (checked), job after job, in the fitted format.

        ``generate`` calls this; the default asks ``generate_seeded`` for each job.
        """
        X_parts = [self.generate_seeded(stratum, seeds) for stratum, seeds in jobs]
        return (np.concatenate(X_parts) if X_parts
                else np.empty((0, *self.sample_shape_), dtype=self.dtype_))

    def generate_seeded(self, stratum, seeds):
        """Generate one sample of ``stratum`` per seed, in the fitted format.

        The output for a seed does not depend on the other seeds in the call.
        """
        self._check_fitted()
        stratum = self._check_stratum(tuple(stratum))
        seeds = [int(s) for s in seeds]
        if not seeds:
            return np.empty((0, *self.sample_shape_), dtype=self.dtype_)
        X_new = np.asarray(self._generate_stratum(stratum, seeds))
        return X_new.reshape(len(seeds), *self.sample_shape_).astype(self.dtype_, copy=False)

    def _generate_stratum(self, stratum, seeds):
        raise NotImplementedError

    def can_compose(self):
        """Whether a cell absent from the fitted data can be generated (False here).

        Generators that compose a cell from its class and its group (see the
        module docstring) override this; the answer must follow from the
        parameters alone.

        Returns
        -------
        bool
        """
        return False

    def fingerprint(self) -> str:
        """Stable hash of the class, the params and the fitted data."""
        params = {k: repr(v) for k, v in sorted(self.get_params(deep=False).items())}
        payload = json.dumps(
            [type(self).__module__, type(self).__qualname__, params,
             self._data_identity(), self._state_hash()],
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def _fit_trains(self):
        """Whether ``fit`` trains a model (worth keeping fitted in a bank); False here."""
        return False

    def _data_identity(self):
        """What of the fitted data the output depends on: by default, all of it.

        Generators whose output depends only on the data's format and labels
        (a pretrained model that did not train on it) return a hash of those,
        so that cross-validation folds share their bank rows.
        """
        return getattr(self, "data_hash_", None)

    def _format_identity(self, *extra):
        """Hash of the fitted format, strata and ``extra``: a ``_data_identity`` for them."""
        fmt = getattr(self, "image_format_", None)
        payload = [repr(fmt), str(getattr(self, "dtype_", None)),
                   list(getattr(self, "sample_shape_", ())),
                   [jsonable(s) for s in getattr(self, "strata_", [])],
                   [jsonable(e) for e in extra]]
        return hashlib.sha256(json.dumps(payload, default=repr).encode()).hexdigest()

    def _state_hash(self):
        """Hash of learnt weights; generators with weights override this."""
        return None

    def _module_hash(self, attribute):
        """SHA-256 of the torch module ``self.<attribute>``'s weights (``None`` before fit).

        Cached in ``_weights_hash``, which whoever changes the weights resets to ``None``.
        """
        module = getattr(self, attribute, None)
        if module is None:
            return None
        if getattr(self, "_weights_hash", None) is None:
            h = hashlib.sha256()
            for name, tensor in sorted(module.state_dict().items()):
                h.update(name.encode())
                h.update(tensor.detach().cpu().numpy().tobytes())
            self._weights_hash = h.hexdigest()
        return self._weights_hash
