"""SynAugSampler: an imbalanced-learn over-sampler that fills deficits with generated samples."""

from __future__ import annotations

import functools
import math
import numbers
import os
from collections import Counter
from collections.abc import Mapping

import numpy as np
from imblearn.over_sampling.base import BaseOverSampler
from imblearn.utils import check_sampling_strategy, check_target_type
from imblearn.utils._docstring import Substitution
from imblearn.utils._validation import ArraysTransformer
from sklearn.base import clone
from sklearn.preprocessing import label_binarize
from sklearn.utils import check_random_state, metadata_routing
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _check_feature_names

from ._cells import (
    apply_synthetic_share,
    check_composable,
    exact_share_split,
    grid_cells,
    grid_targets,
)
from ._fill import check_cache_dir, edit_rows, fill, fit_generator, make_bank
from .generators import check_generator, generator_can_compose
from .utils import check_device, check_groups, check_images, derive_seed, row_strata

__all__ = ["SynAugSampler"]


def _water_fill(cell_counts, n_add):
    """Spread ``n_add`` new rows over cells, always topping up the smallest cell first."""
    counts = dict(cell_counts)
    added = dict.fromkeys(counts, 0)
    for _ in range(int(n_add)):
        cell = min(counts, key=lambda c: (counts[c], repr(c)))
        counts[cell] += 1
        added[cell] += 1
    return added


def _copy_indices(y, groups, n_copies, random_state):
    """Input rows to copy: each stratum's rows in a random order, cycled to ``n_copies[s]``."""
    rng = check_random_state(random_state)
    keys = row_strata(y, groups)
    out = [np.empty(0, dtype=np.intp)]
    for stratum, n in sorted(n_copies.items(), key=lambda kv: repr(kv[0])):
        rows = np.flatnonzero([k == stratum for k in keys])
        out.append(np.resize(rng.permutation(rows), n))
    return np.concatenate(out)


def _share_per_stratum(y, groups, mask):
    """``{class or (class, group): fraction of generated rows}``."""
    keys = y.tolist() if groups is None else list(zip(y.tolist(), groups.tolist()))
    total, generated = Counter(keys), Counter(k for k, m in zip(keys, mask.tolist()) if m)
    return {k: generated[k] / n for k, n in sorted(total.items(), key=lambda kv: repr(kv[0]))}


@Substitution(sampling_strategy=BaseOverSampler._sampling_strategy_docstring)
class SynAugSampler(BaseOverSampler):
    """Over-sample by generating new samples for each class (or class x group cell).

    The SYNAuG recipe's first step: every class (or, with ``groups``, every
    ``(class, group)`` cell) is filled up towards the target count with
    samples from a generative model. It is a drop-in for imbalanced-learn's
    ``SMOTE`` in an imbalanced-learn ``Pipeline`` and, unlike it, accepts
    image arrays: 2-D rows, ``(n, H, W)``, ``(n, H, W, C)`` or ``(n, C, H, W)``,
    uint8 or float; the output keeps the layout and dtype, original rows
    first and generated rows appended.

    Where the gain comes from: a generator that has seen the concepts
    elsewhere (a pretrained one). A generator trained on the same few tail
    images mostly copies them; ``report_`` shows which case you are in.

    Parameters
    ----------
    {sampling_strategy}

        With ``groups``, the strings apply to ``(class, group)`` cells (so
        ``"auto"`` fills every cell but the largest up to the largest), and
        a dict may name classes (their new rows are spread over the class's
        cells, smallest first) or ``(class, group)`` cells -- also a cell
        with **no** rows when its class and its group each occur
        (``{{("coat", "red"): 60}}``), which needs a generator that can
        compose (``generator.can_compose()``, e.g.
        ``ConditionalDiffusionGenerator(conditioning="factorized")``).

    generator : generator object, default=None
        An object with ``fit(X, y, groups=None)`` and
        ``generate(n_per_stratum, random_state=None)``, see
        :mod:`synaug_learn.generators`. It is cloned before fitting. ``None``
        chooses by the data, and says so:

        - images that a shipped generator covers (same size and channels,
          every label one of its classes by name or index, and the images
          close to its classes' mean images) -> that generator, loaded from
          the package (no training);
        - other images (3-D, 4-D, or 2-D rows that are square images of at
          least 8x8) -> an in-domain
          :class:`~synaug_learn.generators.ConditionalDiffusionGenerator`
          with a small UNet trained on the data: 5 passes over the rows, at
          least 100 and at most 2,000 steps and at most 30 minutes. One
          ``UserWarning`` states its expected time and that it mostly copies
          the rare classes (check ``report_``);
        - tables -> a :class:`~synaug_learn.generators.TabularDiffusionGenerator`
          (the drop-in for ``SMOTE``): every DataFrame, and every 2-D array
          that is not square rows of at least 8x8 pixels. A table whose
          number of columns happens to be such a square (64, 81, ...) is
          taken as images unless it comes as a DataFrame: pass
          ``generator=TabularDiffusionGenerator()`` to be explicit.
    fill_ratio : float, default=1.0
        Fraction of each deficit that is filled, in (0, 1]. Unlike a float
        ``sampling_strategy`` it works for any number of classes, so it can
        be grid-searched.
    fill_grid : bool, default=False
        With ``groups``: the strings of ``sampling_strategy`` and a dict of
        class totals apply to every cell of the class x group grid (the
        product of the classes and the groups seen), so ``"auto"`` also fills
        the cells that have no rows. Needs a generator that can compose (an
        error names the empty cells otherwise). Ignored without groups.
    synthetic_share : float or None, default=None
        In (0, 1): after the fill is planned, every cell's total is raised by
        one common factor so that at least this fraction of each cell is
        generated -- the majority cells get generated rows too -- so that
        "generated" no longer marks the minority cells (a classifier could
        otherwise learn "looks generated" as a shortcut to them). Balanced
        targets stay balanced; the largest cell gets exactly this share and
        smaller cells more (all real rows are kept). ``synthetic_share_``
        holds the share reached per cell. ``None``: fill the deficits only.
    share_mode : {{"at_least", "exact"}}, default="at_least"
        How ``synthetic_share`` is reached. ``"at_least"``: every real row
        appears once, so a cell with fewer real rows ends up more than
        ``synthetic_share`` generated, and which cell a row sits in still
        says how likely it is to be generated. ``"exact"``: every cell that
        has real rows is exactly ``synthetic_share`` generated, the rest of
        its total being its real rows and copies of them (each row copied
        about equally often, as random over-sampling does); with
        ``regenerate_real`` each copy is redrawn with its own noise, so the
        copies differ from each other, and neither a row's look nor its cell
        tells whether it was generated. ``real_index_`` names each copy's
        source row. A cell without real rows stays wholly generated.
    regenerate_real : float or None, default=None
        In (0, 1]: every real row of the output is redrawn by the fitted
        generator from a copy of itself noised this far into the schedule
        (SDEdit, the generator's ``edit``), so real and generated rows both
        carry the generator's look and "looks generated" no longer tells a
        classifier which rows -- and so which cells -- were filled. The
        content of each real row stays (its class, its group); the larger
        the value, the more of its look is the generator's. At ``1.0`` the
        redraw starts from the first step of the schedule, which keeps almost
        nothing of the row (0.6 % with DPM-Solver++, 1.6 % with DDIM-10,
        3.9 % with DDIM-5): every output row is a fresh
        draw of its cell, the recipe for cells without rows, where no real
        row is left for "generated" to set apart. Needs a
        generator with ``edit`` (e.g.
        :class:`~synaug_learn.generators.ConditionalDiffusionGenerator`).
        ``None`` keeps the real rows as they are. The test images are not
        redrawn: re-train the head on the real rows
        (:class:`~synaug_learn.RetrainClassifier`) to bring it back to them.
    cache_dir : str or path-like, default=None
        Folder of the on-disk synthetic bank. Generated rows are stored there,
        content-addressed by the generator's fingerprint, the seed and the
        stratum, and reused: a search over ``fill_ratio`` generates the rows
        once, and an interrupted run resumes losing at most one batch. A
        generator that trains on the data (the in-domain default) is kept
        there fitted too, so the candidates of such a search train it once
        per fold. ``None`` keeps rows in memory only.
    backend : {{"local", "ray"}}, default="local"
        Where missing rows are generated. ``"ray"`` runs them as Ray Data
        ``map_batches`` jobs over actors that each hold one fitted generator
        (one pipeline per GPU with ``ray_options={{"num_gpus_per_worker": 1}}``);
        needs the ``[ray]`` extra. The rows are the same as with ``"local"``.
    ray_options : dict, default=None
        Passed to :func:`~synaug_learn.generators.generate_seeded_with_ray`
        (``concurrency``, ``num_gpus_per_worker``, ``batch_size``...).
    filter : {{"auto"}}, classifier or None, default=None
        Quality filter: keep a generated sample only if a classifier trained
        on the real rows gives its intended class a probability of at least
        ``filter_threshold``, generating more to compensate. ``"auto"`` fits a
        class-balanced logistic regression on the real rows' pixels; a fitted
        classifier with ``predict_proba`` and ``classes_`` is used as it is.
        A judge fitted on a handful of rows of a class rejects many honest
        images of it (unseen real ones too): with very rare classes, check
        ``filter_report_`` or pass a classifier trained on more data.
    filter_threshold : float, default=0.5
        Minimum probability of the intended class for a sample to be kept.
    max_filter_rounds : int, default=5
        Rounds of extra generation to replace rejected samples; strata still
        short after that are filled as far as possible, with a warning.
    report : bool, default=True
        Compute ``report_`` (fidelity, novelty, near-copies, diversity per
        stratum) after generating. Copying and low fidelity raise warnings.
    report_holdout : float, default=0.2
        With ``report=True``, the share of each class's (or cell's) real rows
        that the generator is *not* trained on and the report uses as its
        reference of unseen real rows (a stratified split, the same for the
        same data; only strata of at least 5 rows give any, at least one).
        Smaller strata, and ``report_holdout=0``, are judged against
        leave-one-out distances among the training rows; ``report_.note``
        says which. The output still holds every real row; only the
        generator's training set is smaller. A pretrained generator that
        does not train on the data loses nothing.
    random_state : int, RandomState instance or None, default=None
        Seeds the generator's training and the generated rows. With an int,
        the same call gives the same rows.
    verbose : int or "auto", default="auto"
        Progress bars when > 0, none when 0. ``"auto"`` shows them for the
        default generator (``generator=None``) whenever its expected cost is
        more than a few seconds, and leaves a given generator's own setting.

    Attributes
    ----------
    sampling_strategy_ : dict
        Rows generated per class (or per ``(class, group)`` cell), after
        ``fill_ratio`` and filtering (copies of real rows, from
        ``share_mode="exact"``, are not counted).
    generator_ : generator object
        The fitted generator.
    generator_from_bank_ : bool
        Whether ``generator_`` was taken fitted from the bank at ``cache_dir``
        (the same generator had been fitted on the same data) instead of
        being trained in this call.
    synthetic_mask_ : ndarray of shape (n_samples_resampled,)
        True for generated rows. Steps after the sampler in an
        imbalanced-learn ``Pipeline`` only get ``(X, y)``; to let the
        classifier know which rows were generated, use
        :class:`~synaug_learn.SyntheticAwareClassifier`, which passes this
        mask to its ``fit`` as ``sample_is_synthetic``.
    synthetic_share_ : dict
        Fraction of generated rows per class (or ``(class, group)`` cell) of
        the output.
    n_original_ : int
        Number of rows passed in; the first ``n_original_`` output rows are
        them (redrawn by the generator with ``regenerate_real``), followed by
        the copies of real rows (``share_mode="exact"``), then the generated
        rows.
    real_index_ : ndarray of int of shape (n_samples_resampled,)
        For each output row, the input row it is (or is a copy or a redraw
        of); -1 for generated rows.
    input_shape_ : tuple
        Shape of one sample.
    groups_resampled_ : ndarray or None
        Group of each output row when ``groups`` was given.
    filter_report_ : dict or None
        Per stratum: generated, rejected and rejection rate, when filtering.
    report_ : SyntheticReport or None
        The synthetic-data report, when ``report=True``. ``report_.note``
        names its reference rows.
    report_heldout_indices_ : ndarray of int
        The rows held out from the generator as the report's reference
        (empty without ``report`` or with ``report_holdout=0``).
    bank_stats_ : dict
        Rows requested, generated and reused from the bank in this call.

    See Also
    --------
    imblearn.over_sampling.SMOTE : Interpolation-based over-sampling for 2-D data.
    synaug_learn.RetrainClassifier : Re-trains a net's head on balanced real rows.

    Examples
    --------
    >>> from collections import Counter
    >>> import numpy as np
    >>> from synaug_learn import SynAugSampler
    >>> from synaug_learn.generators import JitterGenerator
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randint(0, 256, size=(60, 8, 8)).astype(np.uint8)
    >>> y = np.array([0] * 40 + [1] * 15 + [2] * 5)
    >>> sampler = SynAugSampler(generator=JitterGenerator(), report=False, random_state=0)
    >>> X_res, y_res = sampler.fit_resample(X, y)
    >>> X_res.shape, X_res.dtype, sorted(Counter(y_res.tolist()).items())
    ((120, 8, 8), dtype('uint8'), [(0, 40), (1, 40), (2, 40)])
    >>> int(sampler.synthetic_mask_.sum())
    60
    """

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "generator": [None, HasMethods(["fit", "generate"])],
        "fill_ratio": [Interval(numbers.Real, 0, 1, closed="right")],
        "fill_grid": ["boolean"],
        "synthetic_share": [None, Interval(numbers.Real, 0, 1, closed="neither")],
        "share_mode": [StrOptions({"at_least", "exact"})],
        "regenerate_real": [None, Interval(numbers.Real, 0, 1, closed="right")],
        "cache_dir": [None, str, os.PathLike],
        "backend": [StrOptions({"local", "ray"})],
        "ray_options": [None, dict],
        "filter": [None, StrOptions({"auto"}), HasMethods(["predict_proba"])],
        "filter_threshold": [Interval(numbers.Real, 0, 1, closed="both")],
        "max_filter_rounds": [Interval(numbers.Integral, 0, None, closed="left")],
        "report": ["boolean"],
        "report_holdout": [Interval(numbers.Real, 0, 0.5, closed="both")],
        "verbose": ["verbose", StrOptions({"auto"})],
    }

    # A pipeline routes groups to fit_resample only: fit never generates.
    __metadata_request__fit = {"groups": metadata_routing.UNUSED}

    def __init__(
        self,
        *,
        sampling_strategy="auto",
        generator=None,
        fill_ratio=1.0,
        fill_grid=False,
        synthetic_share=None,
        share_mode="at_least",
        regenerate_real=None,
        cache_dir=None,
        backend="local",
        ray_options=None,
        filter=None,
        filter_threshold=0.5,
        max_filter_rounds=5,
        report=True,
        report_holdout=0.2,
        random_state=None,
        verbose="auto",
    ):
        super().__init__(sampling_strategy=sampling_strategy)
        self.generator = generator
        self.fill_ratio = fill_ratio
        self.fill_grid = fill_grid
        self.synthetic_share = synthetic_share
        self.share_mode = share_mode
        self.regenerate_real = regenerate_real
        self.cache_dir = cache_dir
        self.backend = backend
        self.ray_options = ray_options
        self.filter = filter
        self.filter_threshold = filter_threshold
        self.max_filter_rounds = max_filter_rounds
        self.report = report
        self.report_holdout = report_holdout
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ validation
    def _check_inputs(self, X, y, groups):
        X = check_images(X)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        elif y.ndim == 2 and type_of_target(y) == "multilabel-indicator":
            y, self._binarize_y = check_target_type(y, indicate_one_vs_all=True)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D; got shape {y.shape}.")
        if len(y) != len(X):
            raise ValueError(f"X and y have different lengths: {len(X)} != {len(y)}.")
        check_classification_targets(y)
        if type_of_target(y) not in ("binary", "multiclass"):
            raise ValueError(f"y must hold class labels; got type {type_of_target(y)!r}.")
        if len(np.unique(y)) < 2:
            raise ValueError(
                f"y has only one class ({np.unique(y).tolist()!r}); there is nothing to balance."
            )
        return X, y, check_groups(groups, len(y))

    def _deficits(self, y, groups):
        """Rows to add per stratum ``(label, group_or_None)`` before ``fill_ratio``."""
        strategy = self.sampling_strategy
        if groups is None:
            if isinstance(strategy, Mapping):
                self._check_dict_totals(strategy, Counter(y.tolist()), "class")
            targets = check_sampling_strategy(strategy, y, self._sampling_type)
            return {(label, None): int(n) for label, n in targets.items()}

        cells = Counter(zip(y.tolist(), groups.tolist()))
        grid = {c: cells.get(c, 0) for c in grid_cells(y.tolist(), groups.tolist())}
        if isinstance(strategy, Mapping) and any(k in grid for k in strategy):
            # cell totals; a cell with no rows may be named when its class and group occur
            self._check_dict_totals(strategy, grid, "(class, group) cell")
            return {cell: int(strategy[cell]) - grid[cell] for cell in strategy}
        if self.fill_grid:
            cells = grid
        if isinstance(strategy, Mapping):
            class_counts = Counter(y.tolist())
            self._check_dict_totals(strategy, class_counts, "class")
            out = {}
            for label, total in strategy.items():
                in_class = {c: n for c, n in cells.items() if c[0] == label}
                out.update(_water_fill(in_class, int(total) - class_counts[label]))
            return out
        if isinstance(strategy, numbers.Real) and not isinstance(strategy, bool):
            raise ValueError(
                f"sampling_strategy={strategy!r}: a float is only defined for binary classes "
                "without groups; use fill_ratio, a string or a dict."
            )
        # Strings and callables apply to the cells as if each were a class.
        cell_list = sorted(cells, key=repr)
        cell_ids = np.array([cell_list.index(c) for c in zip(y.tolist(), groups.tolist())])
        if callable(strategy):
            raise ValueError(
                "a callable sampling_strategy is not supported with groups; pass a dict of "
                "(class, group) cell totals instead."
            )
        if self.fill_grid:
            return grid_targets(strategy, dict(sorted(cells.items(), key=lambda kv: repr(kv[0]))))
        targets = check_sampling_strategy(strategy, cell_ids, self._sampling_type)
        return {cell_list[i]: int(n) for i, n in targets.items()}

    @staticmethod
    def _check_dict_totals(strategy, counts, what):
        unknown = [k for k in strategy if k not in counts]
        if unknown:
            raise ValueError(
                f"sampling_strategy names {what}(es) not in the data: {unknown!r}; "
                f"known: {sorted(counts, key=repr)!r}."
            )
        for key, total in strategy.items():
            if not isinstance(total, numbers.Integral) or total < counts[key]:
                raise ValueError(
                    f"sampling_strategy[{key!r}]={total!r} must be an integer total of at least "
                    f"the current count {counts[key]} (an over-sampler only adds rows)."
                )

    def _check_generator_param(self, X, y, n_new, groups=None, table=False):
        """The unfitted generator (chosen by the data when ``generator=None``) and verbosity.

        ``table``: the input came as a DataFrame, which is always a table.
        """
        if self.generator is None:
            from ._default import default_generator

            generator, verbose = default_generator(X, y, n_new, self.verbose, groups,
                                                   table=table)
        else:
            check_generator(self.generator)
            generator, verbose = clone(self.generator), self.verbose
        if self.regenerate_real is not None and not callable(getattr(generator, "edit", None)):
            raise ValueError(
                f"regenerate_real={self.regenerate_real!r} redraws the real rows with the "
                f"generator's edit(X, y, groups, strength=...), which "
                f"{type(generator).__name__} does not have; use a generator that edits "
                "images (e.g. ConditionalDiffusionGenerator) or regenerate_real=None."
            )
        device = generator.get_params().get("device") if hasattr(generator, "get_params") else None
        if isinstance(device, str) and device != "auto":  # fail before any work
            try:
                check_device(device)
            except ValueError as exc:
                raise ValueError(f"generator {type(generator).__name__}: {exc}") from None
        return generator, (0 if verbose == "auto" else int(verbose))

    def _plain_deficits(self, y, groups):
        """Each deficit times ``fill_ratio``, rounded down (strata with none left out)."""
        return {
            s: int(math.floor(d * self.fill_ratio + 1e-9))
            for s, d in self._deficits(y, groups).items() if d > 0
        }

    def _n_per_stratum(self, y, groups, generator):
        """Rows to generate, and copies of real rows to add, per stratum.

        Each deficit times ``fill_ratio``, rounded down; then raised to
        ``synthetic_share`` when set, and split into generated rows and copies
        with ``share_mode="exact"``. A cell without rows is checked against
        ``generator`` (it must compose) before any work.
        """
        if self.share_mode == "exact" and self.synthetic_share is None:
            raise ValueError(
                "share_mode='exact' sets how synthetic_share is reached, but "
                "synthetic_share=None; give synthetic_share a value in (0, 1) or use "
                "share_mode='at_least'."
            )
        n_per_stratum, n_copies = self._plain_deficits(y, groups), {}
        counts = Counter(row_strata(y, groups))
        if self.synthetic_share is not None:
            n_per_stratum = apply_synthetic_share(n_per_stratum, counts, self.synthetic_share)
        if self.share_mode == "exact":
            n_per_stratum, n_copies = exact_share_split(n_per_stratum, counts,
                                                        self.synthetic_share)
        check_composable(n_per_stratum, counts, generator_can_compose(generator),
                         "the default generator" if generator is None
                         else type(generator).__name__)
        return n_per_stratum, n_copies

    # ------------------------------------------------------------------ resampling
    def fit(self, X, y, *, groups=None):
        """Check the inputs and compute the rows each stratum would get; generates nothing.

        Use :meth:`fit_resample` to generate, as with every imbalanced-learn sampler.
        """
        self._validate_params()
        self._binarize_y = False
        X, y, groups = self._check_inputs(X, y, groups)
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        self.sampling_strategy_ = {  # the default generator (None here) cannot compose
            (s[0] if groups is None else s): n
            for s, n in self._n_per_stratum(y, groups, self.generator)[0].items()
        }
        return self

    def fit_resample(self, X, y, *, groups=None):
        """Resample the dataset, appending generated rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W), \
                (n_samples, H, W, C) or (n_samples, C, H, W)
            Rows or images, uint8 or float.
        y : array-like of shape (n_samples,)
            Class labels.
        groups : array-like of shape (n_samples,), default=None
            Group of each row (e.g. a sensitive attribute or background). In a
            pipeline it arrives through metadata routing:
            ``sklearn.set_config(enable_metadata_routing=True)`` and
            ``SynAugSampler().set_fit_resample_request(groups=True)``.

        Returns
        -------
        X_resampled : ndarray of shape (n_samples_new, ...)
            The original rows, then the generated ones, in the input's layout and dtype.
        y_resampled : ndarray of shape (n_samples_new,)
            Their labels.
        """
        self._validate_params()
        # Lists and DataFrames come back as they went in, as with imblearn's samplers.
        arrays_transformer = ArraysTransformer(X, y)
        _check_feature_names(self, X, reset=True)
        self._binarize_y = False
        table = hasattr(X, "columns")  # a DataFrame is a table whatever its width
        X, y, groups = self._check_inputs(X, y, groups)
        generator, self._verbose = self._check_generator_param(
            X, y, sum(self._plain_deficits(y, groups).values()), groups, table=table)
        n_per_stratum, n_copies = self._n_per_stratum(y, groups, generator)
        # The bank folder is created only once every input is known to be valid.
        cache_dir = check_cache_dir(self.cache_dir)
        X_res, y_res = self._fit_resample(X, y, groups=groups, generator=generator,
                                          n_per_stratum=n_per_stratum, n_copies=n_copies,
                                          cache_dir=cache_dir)
        if self._binarize_y:
            y_res = label_binarize(y_res, classes=np.unique(y))
        if X_res.ndim == 2:
            return arrays_transformer.transform(X_res, y_res)
        return X_res, y_res

    def _fit_resample(self, X, y, *, groups, generator, n_per_stratum, n_copies, cache_dir):
        """Fit the generator, fill every stratum, append the rows; inputs already checked."""
        bank = make_bank(cache_dir, verbose=getattr(self, "_verbose", 0))
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        self.n_original_ = len(X)
        self.input_shape_ = tuple(X.shape[1:])
        base_seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        if generator.get_params().get("random_state", False) is None:
            generator.set_params(random_state=base_seed)  # one seed drives training and rows
        fit_rows, held = self._report_split(y, groups)
        self.report_heldout_indices_ = held
        X_fit, y_fit, g_fit = (X, y, groups) if not len(held) else (
            X[fit_rows], y[fit_rows], None if groups is None else groups[fit_rows])
        self.generator_, self.generator_from_bank_ = fit_generator(bank, generator, X_fit, y_fit,
                                                                   g_fit)
        X_new, y_new, g_new = self._generate(bank, X, y, groups, n_per_stratum, base_seed)
        self.bank_stats_ = dict(bank.stats_)

        self.sampling_strategy_ = dict(Counter(
            y_new.tolist() if groups is None else row_strata(y_new, g_new)))
        X_real, source = self._real_rows(bank, X, y, groups, n_copies, base_seed)
        X_res = np.concatenate([X_real, X_new.astype(X.dtype, copy=False)])
        y_res = np.concatenate([y[source], y_new.astype(y.dtype, copy=False)])
        self.synthetic_mask_ = np.r_[np.zeros(len(source), bool), np.ones(len(X_new), bool)]
        self.real_index_ = np.r_[source, np.full(len(X_new), -1, dtype=np.intp)]
        self.groups_resampled_ = (
            None if groups is None
            else np.concatenate([groups[source], g_new.astype(groups.dtype)])
        )
        self.synthetic_share_ = _share_per_stratum(y_res, self.groups_resampled_,
                                                   self.synthetic_mask_)
        self.report_ = None
        if self.report and len(X_new):
            self.report_ = self._synthetic_report(X, y, groups, X_new, y_new, g_new, fit_rows,
                                                  held, base_seed)
        return X_res, y_res

    def _real_rows(self, bank, X, y, groups, n_copies, base_seed):
        """The output's real part and each row's input index: every input row, then the
        copies ``n_copies`` asks for, all redrawn by the generator with ``regenerate_real``
        (the copies with their own noise)."""
        copy_seed = derive_seed(base_seed, "copies")
        copies = _copy_indices(y, groups, n_copies, copy_seed)
        source = np.r_[np.arange(len(X)), copies]
        if self.regenerate_real is None:
            return X[source], source
        edit = functools.partial(edit_rows, bank, self.generator_,
                                 strength=self.regenerate_real,
                                 verbose=getattr(self, "_verbose", 0))
        parts = [edit(X, y, groups, random_state=base_seed)]
        if len(copies):
            parts.append(edit(X[copies], y[copies], None if groups is None else groups[copies],
                              random_state=copy_seed))
        return np.concatenate(parts).astype(X.dtype, copy=False), source

    def _report_split(self, y, groups):
        """Rows the generator trains on, and the report's held-out reference rows."""
        if not self.report or not self.report_holdout:
            return np.arange(len(y)), np.empty(0, dtype=int)
        from ._report import holdout_split

        return holdout_split(y, groups, fraction=self.report_holdout, random_state=0)

    def _synthetic_report(self, X, y, groups, X_new, y_new, g_new, fit_rows, held, seed):
        """The report of the generated rows against the generator's training rows."""
        from ._report import synthetic_report

        g = (lambda idx: None) if groups is None else (lambda idx: groups[idx])  # noqa: E731
        heldout = {} if not len(held) else {
            "X_heldout": X[held], "y_heldout": y[held], "groups_heldout": g(held)}
        report = synthetic_report(X[fit_rows], y[fit_rows], X_new, y_new,
                                  groups_train=g(fit_rows), groups_syn=g_new,
                                  random_state=seed, **heldout)
        report.note = (
            f"reference: {len(held)} held-out real rows (report_holdout={self.report_holdout} "
            "of each stratum of 5 rows or more; the generator did not train on them); "
            "smaller strata: leave-one-out among the training rows"
            if len(held) else
            "reference: leave-one-out among the training rows (no held-out rows: "
            + ("report_holdout=0)" if not self.report_holdout else "no stratum of 5 rows)"))
        return report

    def _generate(self, bank, X, y, groups, n_per_stratum, base_seed):
        """The generated rows ``(X_new, y_new, groups_new)``, filtered when asked."""
        self.filter_report_ = None
        if not any(n_per_stratum.values()):  # nothing to generate: empty rows of the data's kind
            self.filter_report_ = None if self.filter is None else {}
            return X[:0], y[:0], None if groups is None else groups[:0]
        fetch = functools.partial(fill, bank, self.generator_, backend=self.backend,
                                  ray_options=self.ray_options)
        if self.filter is None:
            return fetch(n_per_stratum, random_state=base_seed)
        from ._filter import filter_generated

        X_new, y_new, g_new, self.filter_report_ = filter_generated(
            fetch, n_per_stratum, base_seed, X, y,
            filter=self.filter, threshold=self.filter_threshold,
            max_rounds=self.max_filter_rounds,
        )
        return X_new, y_new, g_new

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        return tags
