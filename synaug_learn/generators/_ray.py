"""Scale generation out on a Ray cluster, with results identical to one process.

Generation reduces to one pure function over a shard of rows,
:func:`generate_rows`, where each row is ``(index, stratum, seed)`` and a row's
seed comes from its stratum and its position in the stratum
(``derive_seed(base, stratum, i)``, exactly as :meth:`BaseGenerator.generate`
derives it). So the images do not depend on how many workers ran, in which
order, or how the rows were batched.

:func:`generate_with_ray` and :func:`generate_seeded_with_ray` build a Ray
Dataset of those rows and run Ray Data's batch-inference pattern over it:
``ds.map_batches(<callable class>, compute=ActorPoolStrategy(size=concurrency),
num_gpus=...)``, with one fitted generator (and so one loaded pipeline) per
actor. Ray is imported only inside these functions (the ``ray`` extra:
``pip install "synaug-learn[ray]"``).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..utils import check_count, check_is_fitted, check_strata, derive_seed, stratum_labels

__all__ = ["generate_rows", "generate_seeded_with_ray", "generate_with_ray", "plan_rows"]


def plan_rows(generator, n_per_stratum, random_state=None):
    """The rows ``generator.generate(n_per_stratum, random_state)`` produces, as a table.

    Parameters
    ----------
    generator : BaseGenerator
        A fitted generator.
    n_per_stratum : dict
        ``{(label, group_or_None): n}``.
    random_state : int, RandomState or None
        Base seed, as for ``generate``.

    Returns
    -------
    rows : list of (int, tuple, int)
        ``(index, stratum, seed)`` in the order ``generate`` returns them: the
        strata in ``n_per_stratum``'s order, row ``i`` of a stratum seeded
        with ``derive_seed(derive_seed(random_state), stratum, i)``.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.generators import JitterGenerator
    >>> from synaug_learn.generators._ray import plan_rows
    >>> gen = JitterGenerator().fit(np.eye(4), [0, 0, 1, 1])
    >>> [(i, s) for i, s, _ in plan_rows(gen, {(1, None): 2, (0, None): 1}, random_state=0)]
    [(0, (1, None)), (1, (1, None)), (2, (0, None))]
    """
    check_is_fitted(generator, "classes_")
    base = derive_seed(random_state)
    rows = []
    for stratum, n in check_strata(n_per_stratum, generator.classes_, generator.has_groups_):
        start = len(rows)
        rows.extend((start + i, stratum, derive_seed(base, stratum, i)) for i in range(n))
    return rows


def _as_rows(rows):
    """Accept a sequence of ``(index, stratum, seed)`` or a mapping of those three columns."""
    if hasattr(rows, "keys") and {"index", "stratum", "seed"} <= set(rows.keys()):
        return [
            (int(i), tuple(s), int(seed))
            for i, s, seed in zip(rows["index"], rows["stratum"], rows["seed"])
        ]
    out = []
    for row in rows:
        if len(row) != 3:
            raise ValueError(f"rows must hold (index, stratum, seed) triples; got {row!r}.")
        i, stratum, seed = row
        out.append((int(i), tuple(stratum), int(seed)))
    return out


def generate_rows(generator, rows):
    """Generate the images of a shard of rows; the one function every backend runs.

    Rows of the same stratum are generated together (one
    ``generator.generate_seeded`` call per stratum), which is free because a
    generator's output for a seed does not depend on the other seeds in the
    call.

    Parameters
    ----------
    generator : BaseGenerator
        A fitted generator.
    rows : sequence of (index, stratum, seed) or mapping
        The shard, e.g. a slice of :func:`plan_rows`, or a mapping with the
        columns ``"index"``, ``"stratum"`` and ``"seed"``. ``index`` is not
        used to generate, only carried.

    Returns
    -------
    X : ndarray of shape (len(rows),) + sample_shape
        One image per row, in the order of ``rows``, in the fitted format.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.generators import JitterGenerator
    >>> from synaug_learn.generators._ray import generate_rows, plan_rows
    >>> gen = JitterGenerator().fit(np.eye(4), [0, 0, 1, 1])
    >>> rows = plan_rows(gen, {(1, None): 3}, random_state=0)
    >>> X_new, _, _ = gen.generate({(1, None): 3}, random_state=0)
    >>> bool(np.allclose(generate_rows(gen, rows[1:]), X_new[1:]))
    True
    """
    check_is_fitted(generator, "classes_")
    rows = _as_rows(rows)
    out = np.empty((len(rows), *generator.sample_shape_), dtype=generator.dtype_)
    by_stratum = {}
    for pos, (_, stratum, seed) in enumerate(rows):
        by_stratum.setdefault(stratum, ([], []))
        by_stratum[stratum][0].append(pos)
        by_stratum[stratum][1].append(seed)
    for stratum, (positions, seeds) in by_stratum.items():
        out[positions] = generator.generate_seeded(stratum, seeds)
    return out


class _GeneratorWorker:
    """Ray Data callable class: one fitted generator (one loaded pipeline) per actor."""

    def __init__(self, generator, strata):
        self.generator = generator
        self.strata = [tuple(s) for s in strata]

    def __call__(self, batch):
        index = np.asarray(batch["index"], dtype=np.int64)
        rows = [
            (int(i), self.strata[int(k)], int(s))
            for i, k, s in zip(index, batch["stratum"], batch["seed"])
        ]
        return {"index": index, "image": generate_rows(self.generator, rows)}


def _run_rows_on_ray(generator, rows, batch_size, num_gpus_per_worker, num_cpus_per_worker,
                     concurrency):
    """Run :func:`generate_rows` over ``rows`` on Ray; images in global index order."""
    n = len(rows)
    out = np.empty((n, *generator.sample_shape_), dtype=generator.dtype_)
    if n == 0:
        return out
    import ray
    import ray.data

    if not ray.is_initialized():
        ray.init()  # connects to RAY_ADDRESS / a running cluster, else starts a local one
    if num_gpus_per_worker is None:
        num_gpus_per_worker = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
    if concurrency is None:
        if num_gpus_per_worker:
            gpus = ray.cluster_resources().get("GPU", 0)
            concurrency = max(1, int(gpus // num_gpus_per_worker))
        else:
            concurrency = 1
    n_batches = math.ceil(n / batch_size)
    concurrency = max(1, min(concurrency, n_batches))

    strata = list(dict.fromkeys(stratum for _, stratum, _ in rows))
    code = {s: k for k, s in enumerate(strata)}
    items = [{"index": i, "stratum": code[s], "seed": seed} for i, s, seed in rows]
    ds = ray.data.from_items(items, override_num_blocks=n_batches)
    ds = ds.map_batches(
        _GeneratorWorker,
        fn_constructor_kwargs={"generator": generator, "strata": strata},
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=concurrency),
        num_gpus=num_gpus_per_worker,
        num_cpus=num_cpus_per_worker,
        batch_format="numpy",
    )
    seen = np.zeros(n, dtype=bool)
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        index = np.asarray(batch["index"], dtype=np.int64)
        out[index] = np.asarray(batch["image"]).reshape(len(index), *generator.sample_shape_)
        seen[index] = True
    if not seen.all():  # pragma: no cover - Ray guarantees every row comes back once
        raise RuntimeError(f"Ray returned {int(seen.sum())} of {n} generated rows.")
    return out


def _check_ray_args(generator, batch_size, num_gpus_per_worker, num_cpus_per_worker, concurrency):
    check_is_fitted(generator, "classes_")
    if batch_size is None:
        batch_size = int(getattr(generator, "batch_size", 8) or 8)
    batch_size = check_count(batch_size, "batch_size", 1, allow_none=False)
    concurrency = check_count(concurrency, "concurrency", 1)
    for name, value in (("num_gpus_per_worker", num_gpus_per_worker),
                        ("num_cpus_per_worker", num_cpus_per_worker)):
        if value is not None and (not isinstance(value, numbers.Real) or value < 0):
            raise ValueError(f"{name} must be a number >= 0 or None; got {value!r}.")
    return batch_size, concurrency


_RAY_PARAMS_DOC = """
    batch_size : int or None, default=None
        Rows per Ray batch (one ``generate_rows`` call on an actor); ``None``
        uses the generator's own ``batch_size`` (else 8).
    num_gpus_per_worker : float or None, default=None
        GPUs reserved per actor; ``None`` is 1 when the Ray cluster has GPUs,
        else 0 (CPU actors).
    num_cpus_per_worker : float, default=1
        CPUs reserved per actor.
    concurrency : int or None, default=None
        Number of actors, each holding one pipeline; ``None`` is one per GPU
        of the cluster (``cluster GPUs // num_gpus_per_worker``), or 1 on CPU.
"""


def generate_with_ray(generator, n_per_stratum, random_state=None, *, batch_size=None,
                      num_gpus_per_worker=None, num_cpus_per_worker=1, concurrency=None):
    """``generator.generate(n_per_stratum, random_state)``, with the rows spread over Ray actors.

    Returns exactly what ``generate`` returns (up to floating-point
    differences between batchings): the same rows, seeds, order, labels and
    groups, whatever the number of workers.

    Parameters
    ----------
    generator : BaseGenerator
        A fitted, picklable generator; each actor receives a copy and loads
        its own model (pipelines are never pickled).
    n_per_stratum : dict
        ``{(label, group_or_None): n}``.
    random_state : int, RandomState or None
        Base seed, as for ``generate``.
    {ray_params}

    Returns
    -------
    X_new : ndarray of shape (sum(n),) + sample_shape
    y_new : ndarray of shape (sum(n),)
    groups_new : ndarray of shape (sum(n),) or None

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.generators import JitterGenerator
    >>> from synaug_learn.generators._ray import generate_with_ray
    >>> gen = JitterGenerator().fit(np.eye(4), [0, 0, 1, 1])
    >>> X_new, y_new, _ = generate_with_ray(gen, {(1, None): 6}, random_state=0,
    ...                                     concurrency=2)  # doctest: +SKIP
    >>> y_new.tolist()  # doctest: +SKIP
    [1, 1, 1, 1, 1, 1]
    """
    batch_size, concurrency = _check_ray_args(
        generator, batch_size, num_gpus_per_worker, num_cpus_per_worker, concurrency
    )
    rows = plan_rows(generator, n_per_stratum, random_state)
    X = _run_rows_on_ray(generator, rows, batch_size, num_gpus_per_worker, num_cpus_per_worker,
                         concurrency)
    request = check_strata(n_per_stratum, generator.classes_, generator.has_groups_)
    y, groups = stratum_labels(request, generator.classes_.dtype, generator.has_groups_)
    return X, y, groups


def generate_seeded_with_ray(generator, jobs, *, batch_size=None, num_gpus_per_worker=None,
                             num_cpus_per_worker=1, concurrency=None):
    """``[generator.generate_seeded(stratum, seeds) for stratum, seeds in jobs]`` on Ray.

    This is what a synthetic bank needs to fill its missing shards: each job
    is a stratum and the seeds of its missing rows.

    Parameters
    ----------
    generator : BaseGenerator
        A fitted, picklable generator.
    jobs : sequence of (stratum, seeds)
        ``stratum`` is ``(label, group_or_None)``; ``seeds`` a sequence of ints.
    {ray_params}

    Returns
    -------
    arrays : list of ndarray
        One array per job, of shape ``(len(seeds), *sample_shape)``.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.generators import JitterGenerator
    >>> from synaug_learn.generators._ray import generate_seeded_with_ray
    >>> gen = JitterGenerator().fit(np.eye(4), [0, 0, 1, 1])
    >>> parts = generate_seeded_with_ray(
    ...     gen, [((0, None), [1, 2]), ((1, None), [3])])  # doctest: +SKIP
    >>> [p.shape for p in parts]  # doctest: +SKIP
    [(2, 4), (1, 4)]
    """
    batch_size, concurrency = _check_ray_args(
        generator, batch_size, num_gpus_per_worker, num_cpus_per_worker, concurrency
    )
    rows, sizes = [], []
    for job in jobs:
        if len(job) != 2:
            raise ValueError(f"jobs must hold (stratum, seeds) pairs; got {job!r}.")
        stratum, seeds = job
        stratum = generator._check_stratum(tuple(stratum))
        seeds = [int(s) for s in seeds]
        start = len(rows)
        rows.extend((start + i, stratum, s) for i, s in enumerate(seeds))
        sizes.append(len(seeds))
    X = _run_rows_on_ray(generator, rows, batch_size, num_gpus_per_worker, num_cpus_per_worker,
                         concurrency)
    return np.split(X, np.cumsum(sizes)[:-1]) if sizes else []


generate_with_ray.__doc__ = generate_with_ray.__doc__.replace(
    "{ray_params}", _RAY_PARAMS_DOC.strip()
)
generate_seeded_with_ray.__doc__ = generate_seeded_with_ray.__doc__.replace(
    "{ray_params}", _RAY_PARAMS_DOC.strip()
)
