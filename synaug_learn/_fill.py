"""The fill loop: plan the missing rows, generate them (locally or on Ray), store, read back.

This is the only module that knows both the generators and the bank
(:class:`~synaug_learn._bank.SyntheticBank`, a pure store). Row ``i`` of
stratum ``s`` is always generated with the seed ``derive_seed(base, s, i)``
(``base = derive_seed(random_state)``), whatever was asked for before, so a
fill returns exactly ``generator.generate(n_per_stratum, random_state)``.

Generators that offer ``generate_seeded(stratum, seeds)`` (every
:class:`~synaug_learn.generators.BaseGenerator` that implements
``_generate_stratum``) are used row by row: a stored row never depends on how
many rows were asked for, and a partial shard is extended by generating only
its missing rows. A generator with only the documented ``fit`` / ``generate`` /
``fingerprint`` is asked for whole shards instead,
``generator.generate({stratum: m}, random_state=seed_k)`` with
``seed_k = derive_seed(base, stratum, "shard", k)``: such shards are
reproducible shard by shard, but a partial shard is regenerated whole when it
must be extended. A generator without ``fingerprint()`` is addressed by
``joblib.hash`` of its state.

Interruptions and other processes: seeded rows are generated ``batch_size``
at a time and their shard is stored after each batch, so a kill loses at most
one batch whatever the size of the deficit (a shard-mode generator loses at
most one shard). A fill holds the bank's file lock for its generator and
seed, so a second process filling the same rows waits, then reads them back.

Edited rows (``edit_rows``, the sampler's ``regenerate_real``): the input rows
are edited ``shard_size`` at a time, each shard stored under its rows' content
hash and the strength, so an interrupted edit loses at most one shard and a
second call reads the edits back.

Fitted generators: a generator whose ``fit`` trains is kept fitted in the
bank only when it can be saved and restored without pickles
(``save_pretrained`` and ``_fit_from_saved``, as
:class:`~synaug_learn.generators.ConditionalDiffusionGenerator`): safetensors
weights and a json that records their SHA-256. Other generators are not
cached; they are fitted again in every call.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import clone
from tqdm.auto import tqdm

from ._bank import SyntheticBank
from .utils import check_count, check_strata, derive_seed, hash_array, stratum_labels

__all__ = ["check_cache_dir", "edit_rows", "fill", "fit_generator", "make_bank"]


def check_cache_dir(cache_dir, param_name="cache_dir"):
    """``None``, or the folder ``cache_dir`` created and checked writable (absolute path)."""
    return None if cache_dir is None else SyntheticBank.check_path(cache_dir, param_name)


def make_bank(cache_dir=None, verbose=0):
    """The bank a fill reads from and writes to: on disk at ``cache_dir``, else in memory."""
    return SyntheticBank(cache_dir, verbose=verbose)


def fit_generator(bank, generator, X, y, groups=None):
    """Fit ``generator``, or take it already fitted from ``bank``.

    Generators whose ``fit`` trains (``_fit_trains()`` is true, e.g. an
    in-domain :class:`~synaug_learn.generators.ConditionalDiffusionGenerator`)
    and that can be saved without pickles (``save_pretrained`` and
    ``_fit_from_saved``) are kept fitted in an on-disk bank, in their
    ``save_pretrained`` format, keyed by the unfitted generator (class and
    parameters, seed included) and the data, so a search over
    ``fill_ratio`` trains them once per fold. Others fit every time. An
    entry that cannot be restored (damaged, fails its SHA-256) gives one
    warning and the generator is trained again (``from_bank`` is then False).

    Returns
    -------
    generator : fitted generator
        ``generator`` itself when it was fitted here, else the bank's copy.
    from_bank : bool
        Whether the fitted generator came from the bank.
    """
    trains = getattr(generator, "_fit_trains", None)
    savable = all(callable(getattr(generator, m, None))
                  for m in ("save_pretrained", "_fit_from_saved"))
    if bank.path is None or not (callable(trains) and trains()) or not savable:
        return generator.fit(X, y, groups=groups), False
    import joblib

    key = joblib.hash((generator, X, y, groups))  # a hash of the inputs; nothing is unpickled
    with bank.lock(f"fitted-{key}"):  # a second process waits, then restores
        folder = bank.fitted_path(key)
        if folder.is_dir():
            try:
                return clone(generator)._fit_from_saved(folder, X, y, groups), True
            except Exception as exc:  # damaged entry: say so in one line and train again
                reason = " ".join(str(exc).split())[:300]
                warnings.warn(f"fitted generator {folder} cannot be restored "
                              f"({type(exc).__name__}: {reason}); training it again.",
                              UserWarning, stacklevel=3)
        fitted = generator.fit(X, y, groups=groups)
        bank.store_fitted(key, fitted.save_pretrained)
    return fitted, False


def _fingerprint(generator):
    method = getattr(generator, "fingerprint", None)
    if callable(method):
        return str(method())
    # Third-party generators without a fingerprint: hash their whole (fitted) state.
    import joblib

    return "state-" + joblib.hash(generator)


class _Shard:
    """One shard of a request: what the bank holds and what is still needed."""

    def __init__(self, stratum, k, need, held, first_row):
        self.stratum, self.k, self.need, self.held = stratum, k, need, held
        self.first_row = first_row  # global index of the shard's first row
        self.stored_before = 0 if held is None else len(held)

    @property
    def have(self):
        return 0 if self.held is None else len(self.held)


class _Filler:
    """State of one fill: the bank, the generator, its key and the base seed."""

    def __init__(self, bank, generator, random_state, backend, ray_wave, ray_options,
                 batch_size=32):
        self.bank, self.generator = bank, generator
        self.batch = int(batch_size)
        self.seeded = callable(getattr(generator, "generate_seeded", None))
        self.mode = "seeded" if self.seeded else "shard"
        self.fp = _fingerprint(generator)
        self.base = derive_seed(int(random_state))
        self.wave = 1 if backend == "local" else max(1, int(ray_wave))
        self.backend, self.ray_options = backend, dict(ray_options or {})

    def seeds(self, stratum, k, n):
        """The seeds of the first ``n`` rows of shard ``k`` of ``stratum``."""
        if not self.seeded:
            return [derive_seed(self.base, stratum, "shard", k)]
        start = k * self.bank.shard_size
        return [derive_seed(self.base, stratum, i) for i in range(start, start + n)]

    def plan(self, request):
        """Per stratum, its shards with what the bank holds of them."""
        S = self.bank.shard_size
        plan = []
        for stratum, n in request:
            shards = []
            for k in range(-(-n // S)):
                need = min(S, n - k * S)
                held = self.bank.read_shard(self.fp, self.base, stratum, k,
                                            self.seeds(stratum, k, S), self.mode)
                shards.append(_Shard(stratum, k, need, held, k * S))
            plan.append((stratum, n, shards))
        return plan

    def todo(self, plan):
        """Rows that will be generated."""
        shards = [s for _, _, shards in plan for s in shards]
        if self.seeded:
            return sum(max(s.need - s.have, 0) for s in shards)
        return sum(s.need for s in shards if s.have < s.need)

    def produce(self, jobs):
        """``generate_seeded`` for each ``(stratum, seeds)`` job, locally or on Ray."""
        if self.backend == "ray":
            from .generators import generate_seeded_with_ray

            return generate_seeded_with_ray(self.generator, jobs, **self.ray_options)
        return [np.asarray(self.generator.generate_seeded(s, seeds)) for s, seeds in jobs]

    def extend_seeded(self, plan, bar):
        """Generate the missing rows of seeded shards; store the shard after every batch.

        Locally a batch is ``batch_size`` rows of one shard; on Ray, a wave of
        ``ray_wave`` shards' missing rows.
        """
        pending = [s for _, _, shards in plan for s in shards if s.have < s.need]
        if self.backend == "local":
            for shard in pending:
                while shard.have < shard.need:
                    seeds = self.seeds(shard.stratum, shard.k, shard.need)[
                        shard.have: shard.have + self.batch]
                    (X_new,) = self.produce([(shard.stratum, seeds)])
                    self.store(shard, seeds, X_new, bar)
            return
        for start in range(0, len(pending), self.wave):
            batch = pending[start: start + self.wave]
            jobs = [(s.stratum, self.seeds(s.stratum, s.k, s.need)[s.have:]) for s in batch]
            for shard, (_, seeds), X_new in zip(batch, jobs, self.produce(jobs)):
                self.store(shard, seeds, X_new, bar)

    def store(self, shard, seeds, X_new, bar):
        """Append ``X_new`` (generated with ``seeds``) to ``shard`` and write it."""
        _check_batch(X_new, len(seeds), shard.held, shard.stratum)
        rows = X_new if shard.held is None else np.concatenate([shard.held, X_new])
        self.bank.write_shard(self.fp, self.base, shard.stratum, shard.k, rows,
                              self.seeds(shard.stratum, shard.k, len(rows)), self.mode)
        shard.held = rows
        self.bank.count("generated", len(seeds))
        bar.update(len(seeds))

    def read_back(self, plan, bar):
        """Every shard's rows in request order; whole shards of unseeded generators made here."""
        X_parts = []
        for _, n, shards in plan:
            self.bank.count("requested", n)
            for shard in shards:
                if shard.have >= shard.need:
                    X_parts.append(shard.held[: shard.need])
                    self.bank.count("reused", min(shard.stored_before, shard.need))
                    continue
                X_parts.append(self.generate_shard(shard))
                bar.update(shard.need)
        return X_parts

    def generate_shard(self, shard):
        """A whole shard from ``generate``, for generators without ``generate_seeded``."""
        (seed,) = self.seeds(shard.stratum, shard.k, shard.need)
        X_new, y_new, g_new = self.generator.generate({shard.stratum: shard.need},
                                                      random_state=seed)
        X_new = np.asarray(X_new)
        _check_batch(X_new, shard.need, None, shard.stratum)
        _check_returned_stratum(y_new, g_new, shard.stratum)
        self.bank.write_shard(self.fp, self.base, shard.stratum, shard.k, X_new, [seed],
                              self.mode)
        self.bank.count("generated", shard.need)
        return X_new


def fill(bank, generator, n_per_stratum, random_state, *, backend="local", ray_wave=16,
         ray_options=None, batch_size=32):
    """Return ``n`` generated rows per stratum, generating only what ``bank`` lacks.

    Rows are generated ``batch_size`` at a time and each shard is stored
    after every batch, so an interruption loses at most the batch being
    generated (one wave of ``ray_wave`` shards on Ray, one whole shard for a
    generator without ``generate_seeded``) and the next fill resumes from
    there. The fill holds the bank's lock for this generator and seed: a
    second process asking for the same rows waits, then reuses them.

    Parameters
    ----------
    bank : SyntheticBank
        Where rows are stored and read back.
    generator : fitted generator
        Follows the contract of :mod:`synaug_learn.generators`.
    n_per_stratum : dict
        ``{(label, group_or_None): n}``; ``n`` may be 0.
    random_state : int
        Base seed. Row ``i`` of stratum ``s`` is generated with
        ``derive_seed(derive_seed(random_state), s, i)``.
    backend : {"local", "ray"}, default="local"
        ``"ray"`` generates the missing shards of seeded generators as Ray
        Data ``map_batches`` jobs, ``ray_wave`` shards at a time.
    ray_wave : int, default=16
        Shards sent to Ray at once.
    ray_options : dict, default=None
        Keyword arguments for
        :func:`~synaug_learn.generators.generate_seeded_with_ray`.
    batch_size : int, default=32
        Rows generated (and then stored) at a time, locally.

    Returns
    -------
    X_new : ndarray of shape (sum(n), *sample_shape)
        Rows in the order of ``n_per_stratum``; each stratum's rows are rows
        ``0 .. n - 1`` of its sequence.
    y_new : ndarray of shape (sum(n),)
        The stratum labels (with the dtype of ``generator.classes_`` when it has one).
    groups_new : ndarray of shape (sum(n),) or None
        The stratum groups, ``None`` when no stratum names a group; for an
        empty request, what the generator returns for one.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn._bank import SyntheticBank
    >>> from synaug_learn._fill import fill
    >>> from synaug_learn.generators import JitterGenerator
    >>> X = np.arange(40, dtype=float).reshape(20, 2)
    >>> y = np.array([0] * 16 + [1] * 4)
    >>> gen = JitterGenerator().fit(X, y)
    >>> bank = SyntheticBank(shard_size=4)
    >>> X_new, y_new, groups_new = fill(bank, gen, {(1, None): 6}, random_state=0)
    >>> X_new.shape, y_new.tolist(), groups_new
    ((6, 2), [1, 1, 1, 1, 1, 1], None)
    >>> bank.last_stats_
    {'requested': 6, 'generated': 6, 'reused': 0}
    >>> X_more, _, _ = fill(bank, gen, {(1, None): 10}, random_state=0)
    >>> bank.last_stats_
    {'requested': 10, 'generated': 4, 'reused': 6}
    >>> bool(np.array_equal(X_more[:6], X_new))
    True
    >>> bool(np.array_equal(X_more, gen.generate({(1, None): 10}, random_state=0)[0]))
    True
    """
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        raise TypeError(
            f"random_state must be an int (resolve None before calling fill); "
            f"got {random_state!r}."
        )
    if not callable(getattr(generator, "generate", None)):
        raise TypeError(
            f"generator must implement generate(n_per_stratum, random_state=None); "
            f"got {generator!r}."
        )
    classes = getattr(generator, "classes_", None)
    request = check_strata(n_per_stratum, classes, bool(getattr(generator, "has_groups_", False)))
    check_count(batch_size, "batch_size", 1, allow_none=False)
    bank.open()
    filler = _Filler(bank, generator, random_state, backend, ray_wave, ray_options, batch_size)
    bank.start_fill()
    with bank.lock(f"rows-{filler.fp}-{filler.base}"):
        plan = filler.plan(request)
        bar = tqdm(total=filler.todo(plan), desc="generating", unit="img",
                   disable=bank.verbose == 0, leave=False)
        try:
            if filler.seeded:
                filler.extend_seeded(plan, bar)
            X_parts = filler.read_back(plan, bar)
        finally:
            bar.close()
    if not X_parts:  # nothing asked: the generator says what an empty answer looks like
        return generator.generate({}, random_state=int(random_state))
    y_dtype = None if classes is None else np.asarray(classes).dtype
    return (np.concatenate(X_parts), *stratum_labels(request, y_dtype))


def _check_batch(X_new, n, held, stratum):
    if len(X_new) != n:
        raise ValueError(
            f"the generator returned {len(X_new)} rows for stratum {stratum!r} where "
            f"{n} were asked for."
        )
    if held is not None and (X_new.shape[1:] != held.shape[1:] or X_new.dtype != held.dtype):
        raise ValueError(
            f"the generator returned rows of shape {X_new.shape[1:]} and dtype {X_new.dtype} "
            f"for stratum {stratum!r}, but the bank holds {held.shape[1:]} / {held.dtype}."
        )


def _check_returned_stratum(y_new, g_new, stratum):
    """A generator must label the rows of ``{stratum: n}`` with that stratum."""
    label, group = stratum
    if y_new is not None and not all(v == label for v in np.asarray(y_new).tolist()):
        raise ValueError(f"the generator returned labels other than {label!r} for stratum "
                         f"{stratum!r}.")
    if group is not None and g_new is not None and not all(
            v == group for v in np.asarray(g_new).tolist()):
        raise ValueError(f"the generator returned groups other than {group!r} for stratum "
                         f"{stratum!r}.")


def edit_rows(bank, generator, X, y, groups, strength, random_state, verbose=0):
    """``generator.edit`` of every row of ``X``, a bank shard at a time.

    Shard ``k`` (rows ``[k S, (k + 1) S)``) is keyed by the generator's
    fingerprint, ``derive_seed(random_state)``, the strength and the hash of
    its rows, labels and groups, and edited with
    ``random_state=derive_seed(base, "edit", k)``: the same call gives the same
    rows, and an interrupted one resumes losing at most one shard.
    """
    bank.open()
    fp, base, size = _fingerprint(generator), derive_seed(random_state), bank.shard_size
    out = []
    for k, start in enumerate(tqdm(range(0, len(X), size), disable=not verbose,
                                   desc="redrawing the real rows")):
        rows = slice(start, start + size)
        X_k, y_k, g_k = X[rows], y[rows], None if groups is None else groups[rows]
        key = ("edit", f"{float(strength)!r}/{hash_array(X_k, y_k, g_k)[:32]}")
        seeds = np.arange(start, start + len(X_k))
        held = bank.read_shard(fp, base, key, k, seeds, "edit")
        if held is None:
            held = np.asarray(generator.edit(X_k, y_k, g_k, strength=strength,
                                             random_state=derive_seed(base, "edit", k)))
            bank.write_shard(fp, base, key, k, held, seeds, "edit")
        out.append(held)
    return np.concatenate(out) if out else X[:0]
