"""Planning rows per (class, group) cell: the class x group grid and an equal synthetic share.

Two sampler options live here, apart from the sampler's imbalanced-learn
semantics:

* the **grid**: the product of the classes and the groups seen, so that a
  cell with no training rows (its class and its group each occur elsewhere)
  can be targeted -- only a generator that composes (``can_compose()``) can
  fill it;
* the **synthetic share**: raise every cell's total by one common factor so
  that at least a fraction ``share`` of each cell is generated, the majority
  cells included, and "generated" no longer marks the minority cells;
  :func:`exact_share_split` makes it exactly ``share`` in every cell that has
  real rows, by taking the rest of the cell in copies of its real rows.
"""

from __future__ import annotations

import itertools
import math

__all__ = [
    "apply_synthetic_share",
    "check_composable",
    "exact_share_split",
    "grid_cells",
    "grid_targets",
]

_STRINGS = ("auto", "not majority", "not minority", "minority", "all")


def grid_cells(y, groups):
    """Every ``(class, group)`` pair of the classes and groups seen, sorted by ``repr``.

    Examples
    --------
    >>> from synaug_learn._cells import grid_cells
    >>> grid_cells(["a", "b", "a"], [0, 1, 1])
    [('a', 0), ('a', 1), ('b', 0), ('b', 1)]
    """
    classes = sorted(set(list(y)), key=repr)
    group_values = sorted(set(list(groups)), key=repr)
    return list(itertools.product(classes, group_values))


def grid_targets(strategy, counts):
    """Rows to add per cell for an imbalanced-learn string ``strategy`` over ``counts``.

    As :func:`imblearn.utils.check_sampling_strategy` for over-samplers, but
    cells with 0 rows take part (imbalanced-learn only sees labels that
    occur). Ties are broken by the order of ``counts``.

    Examples
    --------
    >>> from synaug_learn._cells import grid_targets
    >>> grid_targets("auto", {("a", 0): 5, ("a", 1): 0, ("b", 0): 3, ("b", 1): 2})
    {('a', 1): 5, ('b', 0): 2, ('b', 1): 3}
    """
    if strategy not in _STRINGS:
        raise ValueError(f"sampling_strategy={strategy!r} is not one of {list(_STRINGS)}.")
    majority = max(counts, key=counts.get)
    minority = min(counts, key=counts.get)
    n_max = counts[majority]
    chosen = {
        "auto": lambda c: c != majority,
        "not majority": lambda c: c != majority,
        "not minority": lambda c: c != minority,
        "minority": lambda c: c == minority,
        "all": lambda c: True,
    }[strategy]
    return {c: n_max - n for c, n in counts.items() if chosen(c)}


def apply_synthetic_share(n_per_stratum, counts, share):
    """Add generated rows so that every cell is at least ``share`` generated.

    Each cell's planned total ``counts[c] + n_per_stratum[c]`` is multiplied
    by one common factor ``k >= 1`` (the smallest that gives every cell the
    share), so balanced targets stay balanced and the cell where the
    constraint binds (usually the largest) gets exactly ``share``; cells with
    fewer real rows get more. All real rows are kept: an equal share in
    every cell would need dropping real rows of the small cells.

    Examples
    --------
    >>> from synaug_learn._cells import apply_synthetic_share
    >>> apply_synthetic_share({"b": 6}, {"a": 8, "b": 2}, share=0.5)
    {'a': 8, 'b': 14}
    """
    cells = list(dict.fromkeys([*counts, *n_per_stratum]))
    totals = {c: counts.get(c, 0) + n_per_stratum.get(c, 0) for c in cells}
    k = max([1.0] + [counts.get(c, 0) / ((1.0 - share) * totals[c])
                     for c in cells if totals[c] > 0])
    out = {}
    for c in cells:
        if totals[c] == 0:
            continue
        total = math.ceil(k * totals[c] - 1e-9)
        real = counts.get(c, 0)
        total = max(total, math.ceil(real / (1.0 - share) - 1e-9))
        out[c] = total - real
    return {c: n for c, n in out.items() if n > 0}


def exact_share_split(n_per_stratum, counts, share):
    """Split each cell's planned total into exactly ``share`` generated rows and real copies.

    ``n_per_stratum`` is the plan of :func:`apply_synthetic_share` (so every
    cell is at least ``share`` generated). Each cell keeps its planned total
    ``counts[c] + n_per_stratum[c]``; of it, ``round(share * total)`` rows
    are generated and the rest beyond the cell's real rows are copies of
    them. Returns ``(n_generated, n_copies)``. A cell without real rows
    cannot have copies: it stays wholly generated.

    Examples
    --------
    >>> from synaug_learn._cells import exact_share_split
    >>> exact_share_split({"b": 14}, {"a": 8, "b": 2}, share=0.5)
    ({'b': 8}, {'b': 6})
    """
    n_generated, n_copies = {}, {}
    for c, n in n_per_stratum.items():
        real = counts.get(c, 0)
        generated = n if real == 0 else min(n, math.floor(share * (real + n) + 0.5))
        if generated > 0:
            n_generated[c] = generated
        if n - generated > 0:
            n_copies[c] = n - generated
    return n_generated, n_copies


def check_composable(n_per_stratum, counts, can_compose, generator_name):
    """Raise ``ValueError`` naming the empty cells asked for when the generator cannot compose."""
    empty = [s for s, n in n_per_stratum.items() if n > 0 and counts.get(s, 0) == 0]
    if empty and not can_compose:
        raise ValueError(
            f"sampling_strategy asks for rows of (class, group) cells with no training rows: "
            f"{sorted(empty, key=repr)!r}. generator={generator_name} cannot compose a cell from "
            "its class and its group (its can_compose() is False); use "
            "ConditionalDiffusionGenerator(conditioning='factorized'), or leave those cells out."
        )
    return empty
