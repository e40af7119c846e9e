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

      fitted/<key>/                          generators that train, kept fitted by key, in
                                             their save_pretrained format (safetensors +
                                             json with SHA-256s; never a pickle)
      locks/<name>.lock                      file locks: one process fills, the others wait

The bank is a pure store: it knows arrays, keys and checksums, not generators.
What to generate, with which seeds, and how to read it back is the fill loop's
business (:mod:`synaug_learn._fill`).
"""

from __future__ import annotations

import contextlib
import io
import json
import numbers
import os
import shutil
import tempfile
import uuid
import warnings
from pathlib import Path

import numpy as np

from .utils import check_count, hash_array, jsonable, stratum_key

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


class SyntheticBank:
    """A keyed store of generated rows (checksummed shards) and of fitted generators.

    Rows are kept per ``(fingerprint, base seed, stratum)`` in shards of
    ``shard_size`` rows: shard ``k`` holds rows ``[k * shard_size,
    (k + 1) * shard_size)``. Every shard stores its rows, the seeds that
    generated them, its key and a SHA-256 checksum; on disk it is written to a
    temporary file in the same folder, fsynced, then renamed over the target,
    so readers see the old shard or the whole new one. A shard that cannot be
    read, whose checksum does not match, that belongs to another key or that
    holds other seeds than expected is reported with a ``UserWarning`` naming
    it and treated as absent.

    The bank does not generate: :func:`synaug_learn._fill.fill` plans the
    missing rows, has the generator produce them and stores them here.

    Parameters
    ----------
    path : str, path-like or None, default=None
        Folder of an on-disk bank, created when first written. ``None`` keeps
        the shards in memory, in this bank object only, with the same code
        path and no file writes (and keeps no fitted generators).
    shard_size : int, default=256
        Rows per shard file. The fill loop stores a shard after every
        generation batch (``batch_size`` of :func:`~synaug_learn._fill.fill`),
        so a shard may hold fewer rows and be extended later.
    verbose : int, default=0
        ``0`` is silent; ``1`` or more shows a progress bar while rows are filled.

    Attributes
    ----------
    last_stats_ : dict
        ``{"requested": ..., "generated": ..., "reused": ...}`` rows of the
        last fill (kept up to date while it runs, so it is meaningful after
        an interruption too).
    stats_ : dict
        The same counts summed over all fills of this object.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn._bank import SyntheticBank
    >>> bank = SyntheticBank(shard_size=4)
    >>> rows = np.arange(6.0).reshape(3, 2)
    >>> bank.write_shard("fp", 0, (1, None), 0, rows, seeds=[7, 8, 9], mode="seeded")
    >>> bank.read_shard("fp", 0, (1, None), 0, [7, 8, 9], mode="seeded").tolist()
    [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    >>> bank.read_shard("fp", 0, (2, None), 0, [7], mode="seeded") is None
    True
    """

    def __init__(self, path=None, shard_size=256, verbose=0):
        if path is not None and not isinstance(path, str | os.PathLike):
            raise TypeError(f"path must be None, a str or a path-like object; got {path!r}.")
        if isinstance(shard_size, bool) or not isinstance(shard_size, numbers.Integral):
            raise TypeError(f"shard_size must be an int >= 1; got {shard_size!r}.")
        if shard_size < 1:
            raise ValueError(f"shard_size must be an int >= 1; got {shard_size!r}.")
        check_count(verbose, "verbose", 0, allow_none=False)
        self.path = path
        self.shard_size = int(shard_size)
        self.verbose = int(verbose)
        self._store = _MemoryStore() if path is None else None
        self.stats_ = {"requested": 0, "generated": 0, "reused": 0}
        self.last_stats_ = {"requested": 0, "generated": 0, "reused": 0}

    def __repr__(self):
        return (f"SyntheticBank(path={self.path!r}, shard_size={self.shard_size}, "
                f"verbose={self.verbose})")

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

    # ------------------------------------------------------------ fitted objects
    def fitted_path(self, key):
        """The folder a fitted generator is kept in under ``key``; ``None`` in memory.

        The bank only keeps the folder: what is in it (a generator's
        ``save_pretrained`` output) is written and read by the fill loop.
        """
        if self.path is None:
            return None
        return Path(self.path) / "fitted" / str(key)

    def store_fitted(self, key, write):
        """Call ``write(folder)`` on a temporary folder, then move it to :meth:`fitted_path`.

        Readers see the old folder, or the whole new one; an in-memory bank
        keeps nothing.
        """
        if self.path is None:
            return
        root = self.check_path(Path(self.path) / "fitted", param_name="path")
        tmp = root / f".{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            write(tmp)
            final = self.fitted_path(key)
            if final.exists():  # a damaged entry being replaced
                shutil.rmtree(final)
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)

    def lock(self, name):
        """A file lock ``locks/<name>.lock`` (a no-op in memory): one holder at a time.

        The fill loop holds one while it fills rows of one generator and seed,
        and while it fits a generator for the cache, so a second process on
        the same bank waits and then reuses the rows instead of redoing them.
        """
        if self.path is None:
            return contextlib.nullcontext()
        from filelock import FileLock

        folder = self.check_path(Path(self.path) / "locks", param_name="path")
        return FileLock(str(folder / f"{name}.lock"))

    # ------------------------------------------------------------------ shards
    def open(self):
        """Check (or record) the layout of the store before a fill; creates the folder."""
        self._get_store().check_layout(self.shard_size)

    def start_fill(self):
        """Reset :attr:`last_stats_` for a new fill."""
        self.last_stats_ = {"requested": 0, "generated": 0, "reused": 0}

    def count(self, what, n):
        """Add ``n`` rows to the ``what`` count of :attr:`last_stats_` and :attr:`stats_`."""
        self.last_stats_[what] += int(n)
        self.stats_[what] += int(n)

    def read_shard(self, fingerprint, base, stratum, k, expected_seeds, mode):
        """Rows of one shard, or ``None`` when absent or damaged (then warn).

        ``expected_seeds`` are the seeds the shard's rows must carry (their
        prefix, for a seeded shard that holds fewer rows).
        """
        store, key = self._get_store(), self._key(fingerprint, base, stratum, k)
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
        expected = self._meta(fingerprint, base, stratum, k, mode)
        if any(meta.get(name) != value for name, value in expected.items()):
            self._warn(store, key, "belongs to another generator, seed, stratum or shard")
            return None
        want = list(expected_seeds)[: len(seeds)] if mode == "seeded" else list(expected_seeds)
        ok = len(X) <= self.shard_size and seeds.tolist() == want
        if not ok or len(X) != meta.get("n_rows"):
            self._warn(store, key, "holds rows other than the ones expected")
            return None
        return X

    def write_shard(self, fingerprint, base, stratum, k, rows, seeds, mode):
        """Store ``rows`` (generated with ``seeds``) as shard ``k``, with their checksum."""
        seeds = np.asarray(seeds, dtype=np.int64)
        meta = self._meta(fingerprint, base, stratum, k, mode)
        meta["checksum"] = hash_array(rows, seeds)
        meta["n_rows"] = int(len(rows))
        buf = io.BytesIO()
        np.savez(buf, X=rows, seeds=seeds, meta=np.array(json.dumps(meta, sort_keys=True)))
        self._get_store().write(self._key(fingerprint, base, stratum, k), buf.getvalue())

    # --------------------------------------------------------------- helpers
    @staticmethod
    def _key(fingerprint, base, stratum, k):
        return f"{fingerprint}/{int(base)}/{stratum_key(stratum)}/{_SHARD.format(int(k))}"

    def _get_store(self):
        if self.path is None:
            return self._store
        return _DiskStore(self.check_path(self.path, param_name="path"))

    @staticmethod
    def _meta(fingerprint, base, stratum, k, mode):
        return {"format": _FORMAT, "fingerprint": fingerprint, "base_seed": int(base),
                "stratum": json.dumps(jsonable(tuple(stratum))), "shard": int(k),
                "mode": mode}

    @staticmethod
    def _warn(store, key, problem):
        warnings.warn(
            f"synthetic bank shard {store.describe(key)} {problem}; generating it again.",
            UserWarning,
            stacklevel=4,
        )
