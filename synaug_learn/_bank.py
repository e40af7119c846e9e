"""SyntheticBank: a content-addressed store of generated rows, on disk or in memory.

Generating images with a diffusion model is the expensive step of SYNAuG, and
the same rows are asked for again and again: by every fold of a
cross-validation, by every ``fill_ratio`` of a grid search, by the next run of
a script. The bank generates each row once and hands it back afterwards.

Layout (``path`` given)::

    path/
      bank.json                              {"format": 1, "shard_size": S}
      <generator.fingerprint()>/
        <base seed>/                         derive_seed(random_state)
          <stratum_key(stratum)>/
            shard_00000.npz                  rows [0, S)
            shard_00001.npz                  rows [S, 2S)
            ...
      fitted/                                joblib.Memory of fit_generator: generators
                                             that train, fitted, keyed by params and data

Row ``i`` of stratum ``s`` is always generated with the seed
``derive_seed(base, s, i)``, whatever was asked for before, so a bank answer
equals ``generator.generate(n_per_stratum, random_state)``.
"""

from __future__ import annotations

import io
import json
import numbers
import os
import tempfile
import uuid
import warnings
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .generators._base import BaseGenerator, _jsonable, derive_seed, hash_array, stratum_key

__all__ = ["SyntheticBank"]

_FORMAT = 1
_SHARD = "shard_{:05d}.npz"


class _MemoryStore:
    """Shards as ``npz`` bytes in a dict: the on-disk code path without file writes."""

    def __init__(self):
        self._blobs = {}

    def describe(self, key):
        return f"<memory>/{key}"

    def read(self, key):
        return self._blobs.get(key)

    def write(self, key, data):
        self._blobs[key] = bytes(data)

    def check_layout(self, shard_size):
        return None


class _DiskStore:
    """Shards as files under ``root``; every write is atomic (temp file, fsync, replace)."""

    def __init__(self, root):
        self.root = Path(root)

    def describe(self, key):
        return str(self.root / key)

    def read(self, key):
        file = self.root / key
        if not file.is_file():
            return None
        return file.read_bytes()

    def write(self, key, data):
        file = self.root / key
        file.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(file, data)

    def check_layout(self, shard_size):
        """Record the bank's shard size, or refuse a bank written with another one."""
        meta_file = self.root / "bank.json"
        if meta_file.is_file():
            try:
                meta = json.loads(meta_file.read_text())
            except (OSError, ValueError):
                meta = None
            if isinstance(meta, dict) and meta.get("shard_size") not in (None, shard_size):
                raise ValueError(
                    f"shard_size={shard_size!r} does not match the bank at {str(self.root)!r}, "
                    f"which was written with shard_size={meta['shard_size']!r}; use that "
                    "shard_size or another path."
                )
            if isinstance(meta, dict):
                return
        data = json.dumps({"format": _FORMAT, "shard_size": shard_size}).encode()
        _atomic_write(meta_file, data)


def _atomic_write(file, data):
    """Write ``data`` to ``file`` so that readers see the old file or the whole new one."""
    file = Path(file)
    tmp = file.parent / f".{file.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, file)
    finally:
        if tmp.exists():
            tmp.unlink()
    try:  # make the rename itself durable; not possible on every platform
        fd = os.open(file.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fit_generator(generator, X, y, groups):
    # Module-level, so joblib.Memory keys its cache on this function and its arguments.
    return generator.fit(X, y, groups=groups)


def _has_seeded(generator):
    """Whether ``generator`` offers a working ``generate_seeded(stratum, seeds)``."""
    method = getattr(generator, "generate_seeded", None)
    if not callable(method):
        return False
    if isinstance(generator, BaseGenerator):
        cls = type(generator)
        # A BaseGenerator subclass that overrides only `generate` cannot generate per seed.
        inherited = (cls.generate_seeded is BaseGenerator.generate_seeded
                     and cls._generate_stratum is BaseGenerator._generate_stratum)
        return not inherited
    return True


def _fingerprint(generator):
    method = getattr(generator, "fingerprint", None)
    if callable(method):
        return str(method())
    # Third-party generators without a fingerprint: hash their whole (fitted) state.
    import joblib

    return "state-" + joblib.hash(generator)


class SyntheticBank:
    """Store of generated rows that generates each row once and reuses it afterwards.

    The bank sits between :class:`~synaug_learn.SynAugSampler` and its
    generator. ``fetch(generator, n_per_stratum, random_state)`` returns
    exactly what ``generator.generate(n_per_stratum, random_state)`` returns,
    but generates only the rows that the bank does not hold yet: a grid search
    over ``fill_ratio`` in ``{0.25, 0.5, 1.0}`` generates the rows once, and a
    second run of a script generates nothing.

    Rows are kept in shards of ``shard_size`` rows per stratum; shard ``k``
    holds rows ``[k * shard_size, (k + 1) * shard_size)``. Generation runs
    shard by shard and each shard is stored as soon as it is done (on disk:
    written to a temporary file in the same folder, fsynced, then renamed over
    the target), so an interruption (a crash, ``KeyboardInterrupt``) loses at
    most the batch being generated and the next ``fetch`` resumes from there.
    A last, partial shard is extended later by generating only its missing
    rows, each with its own seed.

    Every shard stores its rows, the seeds that generated them, the generator
    fingerprint and a SHA-256 checksum. A shard that cannot be read, whose
    checksum does not match or that belongs to another generator, seed or row
    range is reported with a ``UserWarning`` naming it and generated again.

    Parameters
    ----------
    path : str, path-like or None, default=None
        Folder of an on-disk bank, created if needed. Shards are
        content-addressed by ``generator.fingerprint()`` (class, params,
        weights and training data), so one folder can serve many generators,
        datasets and seeds. ``None`` keeps the shards in memory, in this bank
        object only, with the same code path and no file writes.
    shard_size : int, default=256
        Rows per shard and per ``generate_seeded`` call (the generation batch).
    verbose : int, default=0
        ``0`` is silent; ``1`` or more shows a progress bar over the rows
        being generated.
    backend : {"local", "ray"}, default="local"
        ``"ray"`` generates the missing shards of seeded generators as Ray
        Data ``map_batches`` jobs (see :func:`~synaug_learn.generators.generate_seeded_with_ray`),
        ``ray_wave`` shards at a time; each shard is written when its wave
        returns, so an interruption loses at most one wave. Rows are the same
        as with ``"local"``: each row's seed comes from its global index.
    ray_wave : int, default=16
        Shards sent to Ray at once.
    ray_options : dict, default=None
        Keyword arguments for ``generate_seeded_with_ray`` (``batch_size``,
        ``num_gpus_per_worker``, ``num_cpus_per_worker``, ``concurrency``).

    Attributes
    ----------
    last_stats_ : dict
        ``{"requested": ..., "generated": ..., "reused": ...}`` rows of the
        last ``fetch`` (kept up to date while it runs, so it is meaningful
        after an interruption too).
    stats_ : dict
        The same counts summed over all ``fetch`` calls of this object.

    Notes
    -----
    Generators that offer ``generate_seeded(stratum, seeds)`` (every
    :class:`~synaug_learn.generators.BaseGenerator` subclass) are used row by
    row: a stored row never depends on how many rows were asked for. A
    third-party generator with only ``fit``/``generate`` is asked for whole
    shards instead, ``generator.generate({stratum: m}, random_state=seed_k)``
    with ``seed_k = derive_seed(base, stratum, "shard", k)``: such shards are
    reproducible shard by shard, but a partial shard is regenerated whole when
    it must be extended, and its first rows then stay the same only if the
    generator's output for a seed does not depend on ``m`` (true of generators
    that draw rows one after another from one random stream). A generator
    without ``fingerprint()`` is addressed by ``joblib.hash`` of its state.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn._bank import SyntheticBank
    >>> from synaug_learn.generators import JitterGenerator
    >>> X = np.arange(40, dtype=float).reshape(20, 2)
    >>> y = np.array([0] * 16 + [1] * 4)
    >>> gen = JitterGenerator().fit(X, y)
    >>> bank = SyntheticBank(shard_size=4)
    >>> X_new, y_new, groups_new = bank.fetch(gen, {(1, None): 6}, random_state=0)
    >>> X_new.shape, y_new.tolist(), groups_new
    ((6, 2), [1, 1, 1, 1, 1, 1], None)
    >>> bank.last_stats_
    {'requested': 6, 'generated': 6, 'reused': 0}
    >>> X_more, _, _ = bank.fetch(gen, {(1, None): 10}, random_state=0)
    >>> bank.last_stats_
    {'requested': 10, 'generated': 4, 'reused': 6}
    >>> bool(np.array_equal(X_more[:6], X_new))
    True
    >>> bool(np.array_equal(X_more, gen.generate({(1, None): 10}, random_state=0)[0]))
    True
    """

    def __init__(self, path=None, shard_size=256, verbose=0, backend="local", ray_wave=16,
                 ray_options=None):
        if path is not None and not isinstance(path, str | os.PathLike):
            raise TypeError(f"path must be None, a str or a path-like object; got {path!r}.")
        if isinstance(shard_size, bool) or not isinstance(shard_size, numbers.Integral):
            raise TypeError(f"shard_size must be an int >= 1; got {shard_size!r}.")
        if shard_size < 1:
            raise ValueError(f"shard_size must be an int >= 1; got {shard_size!r}.")
        if isinstance(verbose, bool) or not isinstance(verbose, numbers.Integral) or verbose < 0:
            raise ValueError(f"verbose must be an int >= 0; got {verbose!r}.")
        if backend not in ("local", "ray"):
            raise ValueError(f"backend must be 'local' or 'ray'; got {backend!r}.")
        self.backend = backend
        self.ray_wave = int(ray_wave)
        self.ray_options = dict(ray_options or {})
        self.path = path
        self.shard_size = int(shard_size)
        self.verbose = int(verbose)
        self._store = _MemoryStore() if path is None else None
        self.stats_ = {"requested": 0, "generated": 0, "reused": 0}
        self.last_stats_ = {"requested": 0, "generated": 0, "reused": 0}

    def __repr__(self):
        return (f"SyntheticBank(path={self.path!r}, shard_size={self.shard_size}, "
                f"verbose={self.verbose}, backend={self.backend!r})")

    @staticmethod
    def check_path(path, param_name="cache_dir"):
        """Create the folder ``path`` if needed and check that it is writable.

        Parameters
        ----------
        path : str or path-like
            Folder of an on-disk bank.
        param_name : str, default="cache_dir"
            Name of the parameter in error messages.

        Returns
        -------
        path : pathlib.Path
            The absolute folder path.

        Raises
        ------
        TypeError
            If ``path`` is not a str or path-like object.
        ValueError
            If the folder cannot be created or written to.

        Examples
        --------
        >>> import tempfile, os
        >>> from synaug_learn._bank import SyntheticBank
        >>> root = tempfile.mkdtemp()
        >>> SyntheticBank.check_path(os.path.join(root, "bank")).is_dir()
        True
        """
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"{param_name} must be a str or a path-like object; got {path!r}.")
        folder = Path(path).expanduser().absolute()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(
                f"{param_name}={str(path)!r} cannot be used as a bank folder: {exc}."
            ) from exc
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            raise ValueError(f"{param_name}={str(path)!r} is not writable: {exc}.") from exc
        return folder

    # ------------------------------------------------------------------ fit
    def fit_generator(self, generator, X, y, groups=None):
        """Fit ``generator``, or take it already fitted from the bank.

        Training a diffusion model is the other expensive step: in a search
        over ``fill_ratio`` every candidate fits the same generator on the
        same fold. Generators whose ``fit`` trains (``_fit_trains()`` is true,
        e.g. an in-domain :class:`~synaug_learn.generators.ConditionalDiffusionGenerator`)
        are therefore kept fitted in ``path/fitted/`` by :class:`joblib.Memory`,
        keyed by the unfitted generator (class and parameters, seed included)
        and the data, and trained once. A bank in memory, or a generator that
        only loads weights, fits every time.

        Parameters
        ----------
        generator : unfitted generator
        X, y, groups : the data ``generator.fit`` takes.

        Returns
        -------
        generator : fitted generator
            ``generator`` itself when it was fitted here, else the bank's copy.
        from_bank : bool
            Whether the fitted generator came from the bank.
        """
        trains = getattr(generator, "_fit_trains", None)
        if self.path is None or not (callable(trains) and trains()):
            return generator.fit(X, y, groups=groups), False
        from joblib import Memory

        memory = Memory(Path(self.path) / "fitted", verbose=0)
        cached_fit = memory.cache(_fit_generator)
        from_bank = cached_fit.check_call_in_cache(generator, X, y, groups)
        return cached_fit(generator, X, y, groups), bool(from_bank)

    # ------------------------------------------------------------------ fetch
    def fetch(self, generator, n_per_stratum, random_state):
        """Return ``n`` generated rows per stratum, generating only what the bank lacks.

        Parameters
        ----------
        generator : fitted generator
            Follows the contract of :mod:`synaug_learn.generators`.
        n_per_stratum : dict
            ``{(label, group_or_None): n}``; ``n`` may be 0.
        random_state : int
            Base seed. Row ``i`` of stratum ``s`` is generated with
            ``derive_seed(derive_seed(random_state), s, i)``.

        Returns
        -------
        X_new : ndarray of shape (sum(n), *sample_shape)
            Rows in the order of ``n_per_stratum``; each stratum's rows are
            rows ``0 .. n - 1`` of its sequence.
        y_new : ndarray of shape (sum(n),)
            The stratum labels, with the dtype of ``generator.classes_``.
        groups_new : ndarray of shape (sum(n),) or None
            The stratum groups; ``None`` when ``generator.has_groups_`` is False.
        """
        if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
            raise TypeError(
                f"random_state must be an int (resolve None before calling fetch); "
                f"got {random_state!r}."
            )
        if not callable(getattr(generator, "generate", None)):
            raise TypeError(
                f"generator must implement generate(n_per_stratum, random_state=None); "
                f"got {generator!r}."
            )
        request = self._check_request(generator, n_per_stratum)
        store = self._get_store()
        store.check_layout(self.shard_size)

        seeded = _has_seeded(generator)
        fp = _fingerprint(generator)
        base = derive_seed(int(random_state))
        S = self.shard_size
        self.last_stats_ = {"requested": 0, "generated": 0, "reused": 0}

        # Plan: read what the bank holds, list the shards to generate or extend.
        plan = []  # per stratum: shards as [rows or None, rows needed, key, k, rows stored before]
        todo = 0
        for stratum, n in request:
            shards = []
            for k in range(-(-n // S)):
                need = min(S, n - k * S)
                key = f"{fp}/{base}/{stratum_key(stratum)}/{_SHARD.format(k)}"
                held = self._load(store, key, fp, base, stratum, k, seeded)
                have = 0 if held is None else len(held)
                if seeded:
                    todo += max(need - have, 0)
                elif have < need:
                    todo += need
                shards.append([held, need, key, k, have])
            plan.append((stratum, n, shards))

        bar = tqdm(total=todo, desc="generating", unit="img", disable=self.verbose == 0,
                   leave=False)
        try:
            # Seeded shards are produced in waves (one shard locally, several on Ray)
            # and each is written as soon as its wave is back.
            pending = [
                (stratum, shard) for stratum, _, shards in plan for shard in shards
                if seeded and (0 if shard[0] is None else len(shard[0])) < shard[1]
            ]
            wave = 1 if self.backend == "local" else max(1, self.ray_wave)
            for start in range(0, len(pending), wave):
                batch = pending[start: start + wave]
                jobs = []
                for stratum, (held, need, _, k, _) in batch:
                    first = k * S + (0 if held is None else len(held))
                    jobs.append((stratum, [derive_seed(base, stratum, i)
                                           for i in range(first, k * S + need)]))
                for (stratum, shard), (_, seeds), X_new in zip(
                        batch, jobs, self._produce(generator, jobs)):
                    held, need, key, k, _ = shard
                    self._check_batch(X_new, len(seeds), held, stratum)
                    rows = X_new if held is None else np.concatenate([held, X_new])
                    all_seeds = [derive_seed(base, stratum, i) for i in range(k * S, k * S + need)]
                    store.write(key, self._encode(rows, all_seeds, fp, base, stratum, k, seeded))
                    shard[0] = rows
                    self._count("generated", len(seeds))
                    bar.update(len(seeds))

            X_parts = []
            for stratum, n, shards in plan:
                self._count("requested", n)
                for shard in shards:
                    held, need, key, k, stored_before = shard
                    if held is not None and len(held) >= need:
                        X_parts.append(held[:need])
                        self._count("reused", min(stored_before, need))
                        continue
                    shard_seed = derive_seed(base, stratum, "shard", k)
                    X_new = np.asarray(
                        generator.generate({stratum: need}, random_state=shard_seed)[0]
                    )
                    self._check_batch(X_new, need, None, stratum)
                    store.write(key, self._encode(X_new, [shard_seed], fp, base, stratum, k,
                                                  seeded))
                    X_parts.append(X_new)
                    self._count("generated", need)
                    bar.update(need)
        finally:
            bar.close()
        return self._assemble(generator, request, X_parts)

    # --------------------------------------------------------------- helpers
    def _produce(self, generator, jobs):
        """``generate_seeded`` for each ``(stratum, seeds)`` job, locally or on Ray."""
        if self.backend == "ray":
            from .generators._ray import generate_seeded_with_ray

            return generate_seeded_with_ray(generator, jobs, **self.ray_options)
        return [np.asarray(generator.generate_seeded(stratum, seeds)) for stratum, seeds in jobs]

    def _get_store(self):
        if self.path is None:
            return self._store
        return _DiskStore(self.check_path(self.path, param_name="path"))

    def _count(self, what, n):
        self.last_stats_[what] += int(n)
        self.stats_[what] += int(n)

    @staticmethod
    def _check_request(generator, n_per_stratum):
        if not isinstance(n_per_stratum, dict):
            raise TypeError(
                f"n_per_stratum must be a dict {{(label, group_or_None): n}}; "
                f"got {type(n_per_stratum).__name__}."
            )
        classes = getattr(generator, "classes_", None)
        known = None if classes is None else set(np.asarray(classes).tolist())
        has_groups = bool(getattr(generator, "has_groups_", False))
        request = []
        for stratum, n in n_per_stratum.items():
            if not isinstance(stratum, tuple) or len(stratum) != 2:
                raise ValueError(
                    f"n_per_stratum keys must be (label, group_or_None) tuples; got {stratum!r}."
                )
            if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
                raise ValueError(f"n_per_stratum[{stratum!r}] must be an int >= 0; got {n!r}.")
            label, group = stratum
            if known is not None and label not in known:
                raise ValueError(
                    f"n_per_stratum names label {label!r}, which the generator was not fitted "
                    f"on (classes_={sorted(known, key=repr)!r})."
                )
            if has_groups and group is None:
                raise ValueError(
                    f"the generator was fitted with groups, so n_per_stratum key {stratum!r} "
                    "needs a group."
                )
            request.append((stratum, int(n)))
        return request

    @staticmethod
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

    @staticmethod
    def _meta(fp, base, stratum, k, seeded):
        return {"format": _FORMAT, "fingerprint": fp, "base_seed": int(base),
                "stratum": json.dumps(_jsonable(tuple(stratum))), "shard": int(k),
                "mode": "seeded" if seeded else "shard"}

    def _encode(self, rows, seeds, fp, base, stratum, k, seeded):
        seeds = np.asarray(seeds, dtype=np.int64)
        meta = self._meta(fp, base, stratum, k, seeded)
        meta["checksum"] = hash_array(rows, seeds)
        meta["n_rows"] = int(len(rows))
        buf = io.BytesIO()
        np.savez(buf, X=rows, seeds=seeds, meta=np.array(json.dumps(meta, sort_keys=True)))
        return buf.getvalue()

    def _load(self, store, key, fp, base, stratum, k, seeded):
        """Stored rows of one shard, or ``None`` (absent, or damaged: warn)."""
        try:
            data = store.read(key)
        except OSError as exc:
            self._warn(store, key, f"cannot be read ({exc})")
            return None
        if data is None:
            return None
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                X, seeds = npz["X"], npz["seeds"]
                meta = json.loads(str(npz["meta"]))
        except Exception as exc:  # truncated zip, bad header, missing member, bad json...
            self._warn(store, key, f"cannot be loaded ({type(exc).__name__}: {exc})")
            return None
        if not isinstance(meta, dict) or meta.get("checksum") != hash_array(X, seeds):
            self._warn(store, key, "fails its checksum")
            return None
        expected = self._meta(fp, base, stratum, k, seeded)
        if any(meta.get(name) != value for name, value in expected.items()):
            self._warn(store, key, "belongs to another generator, seed, stratum or shard")
            return None
        S = self.shard_size
        if seeded:
            want = [derive_seed(base, stratum, i) for i in range(k * S, k * S + len(X))]
            ok = len(X) <= S and seeds.tolist() == want
        else:
            ok = len(X) <= S and seeds.tolist() == [derive_seed(base, stratum, "shard", k)]
        if not ok or len(X) != meta.get("n_rows"):
            self._warn(store, key, "holds rows other than the ones expected")
            return None
        return X

    @staticmethod
    def _warn(store, key, problem):
        warnings.warn(
            f"synthetic bank shard {store.describe(key)} {problem}; generating it again.",
            UserWarning,
            stacklevel=4,
        )

    @staticmethod
    def _assemble(generator, request, X_parts):
        classes = getattr(generator, "classes_", None)
        has_groups = bool(getattr(generator, "has_groups_", False))
        y_parts, g_parts = [], []
        for (label, group), n in request:
            if n == 0:
                continue
            dtype = None if classes is None else np.asarray(classes).dtype
            y_parts.append(np.full(n, label, dtype=dtype))
            g_parts.append(np.full(n, group, dtype=object if group is None else None))
        if not y_parts:
            shape = tuple(getattr(generator, "sample_shape_", ()))
            dtype = getattr(generator, "dtype_", np.float64)
            y_dtype = np.float64 if classes is None else np.asarray(classes).dtype
            return (np.empty((0, *shape), dtype=dtype), np.empty((0,), dtype=y_dtype),
                    np.empty((0,), dtype=object) if has_groups else None)
        groups = np.concatenate(g_parts) if has_groups else None
        return np.concatenate(X_parts), np.concatenate(y_parts), groups
