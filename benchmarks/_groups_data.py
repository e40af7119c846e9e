"""Data of the group benchmark (``groups.py``): the tasks, their unseen-cell variants and splits.

Pure helpers (no training): building the two tasks from Fashion-MNIST (or
digits / UTKFace), removing the minority cells from the training rows for the
``*_unseen`` tasks, the group-stratified validation split every method shares,
and the row indices of Just Train Twice's up-sampled training set.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

FASHION = {"T-shirt/top": 0, "Pullover": 2, "Coat": 4, "Shirt": 6}

# ----------------------------------------------------------------------------- data


def _resize(X, size):
    """uint8 (n, H, W) -> uint8 (n, size, size), antialiased bilinear."""
    if X.shape[1] == size and X.shape[2] == size:
        return X
    x = torch.from_numpy(X.astype(np.float32))[:, None]
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear",
                                        antialias=True, align_corners=False)
    return np.clip(np.rint(x[:, 0].numpy()), 0, 255).astype(np.uint8)


def _grey_pair(dataset, classes, n_per_class, n_test_per_class, size, rng):
    """Two classes of grey uint8 images, relabelled 0 / 1: train and test subsets.

    Also returns ``pool(n, rng)``, which draws ``n`` more images per class from the
    training images *not* in the training subset (resized, relabelled), and ``rows``: the
    source rows drawn (indices into the dataset's training / test images: ``"train"``,
    ``"test"``, and ``"judge"`` once ``pool`` has drawn), so that a pretraining pool can
    stay disjoint from the task (``scripts/pretrain_attribute_generator.py``).
    """
    if dataset == "fashion_mnist":
        from synaug_learn.datasets import load_fashion_mnist

        X_tr, y_tr = load_fashion_mnist("train")
        X_te, y_te = load_fashion_mnist("test")
        codes = [FASHION[c] for c in classes]
    else:  # scikit-learn digits: 8x8 in [0, 16]
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        d = load_digits()
        X = np.clip(d.images * 16, 0, 255).astype(np.uint8)
        X_tr, X_te, y_tr, y_te = train_test_split(X, d.target, test_size=0.4,
                                                  stratify=d.target, random_state=0)
        codes = list(classes)

    def take(X, y, n, rng, exclude=()):
        idx = np.concatenate([
            rng.choice(members, size=min(n, len(members)), replace=False)
            for members in (np.setdiff1d(np.flatnonzero(y == code), exclude) for code in codes)
        ])
        labels = np.array([codes.index(v) for v in y[idx].tolist()], dtype=np.int64)
        return _resize(X[idx], size), labels, idx

    X_train, y_train, train_idx = take(X_tr, y_tr, n_per_class, rng)
    X_test, y_test, test_idx = take(X_te, y_te, n_test_per_class, rng)
    rows = {"dataset": dataset, "train": train_idx, "test": test_idx}

    def pool(n, pool_rng):
        X_p, y_p, rows["judge"] = take(X_tr, y_tr, n, pool_rng, exclude=train_idx)
        return X_p, y_p

    return X_train, y_train, X_test, y_test, pool, rows


def make_spurious_task(args, rng):
    from synaug_learn.datasets import make_spurious_colour

    classes = ("Pullover", "Coat") if args.dataset == "fashion_mnist" else (3, 8)
    X_tr, y_tr, X_te, y_te, pool, rows = _grey_pair(args.dataset, classes, args.n_per_class,
                                              args.n_test_per_class, args.image_size, rng)
    X_tr, y_tr, a_tr = make_spurious_colour(X_tr, y_tr, correlation=args.correlation,
                                            random_state=rng)
    X_te, y_te, a_te = make_spurious_colour(X_te, y_te, correlation=0.5, random_state=rng)
    # judge data: other training images, colour independent of class (own RNG: the task's
    # training and test sets do not depend on it)
    judge_rng = np.random.RandomState(args.data_seed + 1)
    X_j, y_j = pool(args.n_per_class, judge_rng)
    X_j, y_j, a_j = make_spurious_colour(X_j, y_j, correlation=0.5, random_state=judge_rng)
    description = (
        f"{args.dataset} {classes[0]!r} (0) vs {classes[1]!r} (1), {args.image_size}x"
        f"{args.image_size} RGB, background tinted by make_spurious_colour; a = colour; "
        f"train P(colour = class's own) = {args.correlation}, test 0.5"
    )
    return dict(X_train=X_tr, y_train=y_tr, a_train=a_tr, X_test=X_te, y_test=y_te,
                a_test=a_te, description=description, classes=list(map(str, classes)),
                judge=(X_j, y_j, a_j), source_rows=rows)


def washed_out(X):
    """The synthetic sensitive attribute's look: grey background, low contrast."""
    return np.rint(96 + 0.625 * X.astype(np.float64)).astype(np.uint8)


def render_attribute(task_name, X_grey, labels, groups, image_size):
    """Grey uint8 images with the attribute of ``task_name``'s family drawn as its task draws
    it: the background colour of ``groups`` (``spurious_colour``) or the washed-out capture
    where ``groups == 1`` (``fairness``); resized to ``image_size`` first. For the pools of
    ``scripts/pretrain_attribute_generator.py``, which must look like the task's images."""
    from synaug_learn.datasets import make_spurious_colour

    X = _resize(X_grey, image_size)
    if task_name.startswith("spurious_colour"):
        return make_spurious_colour(X, labels, n_colours=2, groups=groups)[0]
    return np.where(np.asarray(groups)[:, None, None] == 1, washed_out(X), X)


def make_fairness_task(args, rng):
    if args.utkface:
        return _utkface_task(args, rng)
    classes = ("T-shirt/top", "Shirt") if args.dataset == "fashion_mnist" else (1, 7)
    X_tr, y_tr, X_te, y_te, pool, rows = _grey_pair(args.dataset, classes, args.n_per_class,
                                              args.n_test_per_class, args.image_size, rng)
    same = rng.random_sample(len(y_tr)) < args.fair_correlation
    a_tr = np.where(same, y_tr, 1 - y_tr).astype(np.int64)
    a_te = (rng.random_sample(len(y_te)) < 0.5).astype(np.int64)
    X_tr = np.where(a_tr[:, None, None] == 1, washed_out(X_tr), X_tr)
    X_te = np.where(a_te[:, None, None] == 1, washed_out(X_te), X_te)
    judge_rng = np.random.RandomState(args.data_seed + 1)  # see make_spurious_task
    X_j, y_j = pool(args.n_per_class, judge_rng)
    a_j = (judge_rng.random_sample(len(y_j)) < 0.5).astype(np.int64)
    X_j = np.where(a_j[:, None, None] == 1, washed_out(X_j), X_j)
    description = (
        f"{args.dataset} {classes[0]!r} (0) vs {classes[1]!r} (1), {args.image_size}x"
        f"{args.image_size} grey; synthetic sensitive attribute a ('washed-out capture': "
        f"pixel -> 96 + 0.625 * pixel when a = 1); train P(a = label) = "
        f"{args.fair_correlation}, test P(a = 1) = 0.5 independent of the label"
    )
    return dict(X_train=X_tr, y_train=y_tr, a_train=a_tr, X_test=X_te, y_test=y_te,
                a_test=a_te, description=description, classes=list(map(str, classes)),
                judge=(X_j, y_j, a_j), source_rows=rows)


def _utkface_task(args, rng):
    from synaug_learn.datasets import load_utkface

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few malformed file names in the public release
        faces = load_utkface(args.utkface, target="gender", image_size=args.utkface_size)
    X, y, a = faces.data, faces.target, (faces.race != 0).astype(np.int64)
    cells = 2 * y + a
    test_idx = []
    n_test = max(1, int(min(np.bincount(cells, minlength=4)) * 0.3))
    for c in range(4):  # a test set balanced over the four (gender, race) cells
        test_idx.append(rng.choice(np.flatnonzero(cells == c), size=n_test, replace=False))
    test_idx = np.concatenate(test_idx)
    train = np.ones(len(y), bool)
    train[test_idx] = False
    train_idx = np.flatnonzero(train)
    if args.n_per_class:
        keep = [rng.choice(np.flatnonzero(y[train_idx] == k),
                           size=min(args.n_per_class, int((y[train_idx] == k).sum())),
                           replace=False) for k in (0, 1)]
        train_idx = train_idx[np.sort(np.concatenate(keep))]
    description = (
        f"UTKFace from {args.utkface}: label = gender (0 male, 1 female), a = race "
        f"(0 White, 1 other), {args.utkface_size}x{args.utkface_size} RGB; train keeps the "
        f"natural correlation, test has {n_test} images per (gender, a) cell"
    )
    return dict(X_train=X[train_idx], y_train=y[train_idx], a_train=a[train_idx],
                X_test=X[test_idx], y_test=y[test_idx], a_test=a[test_idx],
                description=description, classes=["male", "female"])


# ----------------------------------------------------------------------------- cells and splits


def cell_counts(y, a):
    """``{(label, a): rows}`` over the 2 x 2 grid (cells without rows count 0)."""
    return {(c, g): int(((y == c) & (a == g)).sum()) for c in (0, 1) for g in (0, 1)}


def minority_cells(y, a):
    """(label, a) cells with fewer than half the rows of the largest cell (empty ones included)."""
    counts = cell_counts(y, a)
    largest = max(counts.values())
    return [cell for cell, n in counts.items() if n < 0.5 * largest]


def in_cells(y, a, cells):
    """Boolean mask of the rows whose (label, a) is one of ``cells``."""
    mask = np.zeros(len(y), bool)
    for c, g in cells:
        mask |= (np.asarray(y) == c) & (np.asarray(a) == g)
    return mask


def drop_cells(task, cells):
    """The task with every *training* row of ``cells`` removed (test and judge rows kept)."""
    keep = ~in_cells(task["y_train"], task["a_train"], cells)
    out = dict(task)
    for key in ("X_train", "y_train", "a_train"):
        out[key] = task[key][keep]
    out["empty_cells"] = [tuple(map(int, c)) for c in cells]
    out["description"] = (task["description"] + "; unseen-cell variant: the training rows of "
                          f"the minority cells {out['empty_cells']} removed (their test rows "
                          "kept)")
    return out


def validation_split(y, a, fraction, seed):
    """``(fit_idx, val_idx)``: a validation split of ``fraction`` of the rows, stratified by
    (label, a) cell where every present cell has at least 2 rows (else by label)."""
    from sklearn.model_selection import train_test_split

    cells = 2 * np.asarray(y) + np.asarray(a)
    present = np.bincount(cells)[np.unique(cells)]
    strata = cells if present.min() >= 2 else np.asarray(y)
    fit_idx, val_idx = train_test_split(np.arange(len(y)), test_size=fraction,
                                        stratify=strata, random_state=seed)
    return np.sort(fit_idx), np.sort(val_idx)


def split_task(task, fraction, seed):
    """The task with ``X_val, y_val, a_val`` carved from its training rows (the rest stay)."""
    fit_idx, val_idx = validation_split(task["y_train"], task["a_train"], fraction, seed)
    out = dict(task)
    for part in ("X", "y", "a"):
        out[f"{part}_val"] = task[f"{part}_train"][val_idx]
        out[f"{part}_train"] = task[f"{part}_train"][fit_idx]
    return out


def jtt_indices(errors, upweight):
    """Just Train Twice's training set: every row once, plus ``upweight - 1`` more copies of
    each row the first model got wrong (so an error counts ``upweight`` times)."""
    errors = np.asarray(errors, bool)
    if upweight < 1:
        raise ValueError(f"upweight must be >= 1; got {upweight}.")
    extra = np.repeat(np.flatnonzero(errors), int(upweight) - 1)
    return np.concatenate([np.arange(len(errors)), extra])


BASE_TASKS = {"spurious_colour": make_spurious_task, "fairness": make_fairness_task}
TASKS = ("spurious_colour", "fairness", "spurious_colour_unseen", "fairness_unseen")
UNSEEN = "_unseen"


def base_task(name):
    """The task with every cell that task ``name`` removes its minority cells from, or None
    where ``name`` is such a task itself."""
    return name.removesuffix(UNSEEN) if name.endswith(UNSEEN) else None


def make_task(name, args):
    """Task ``name`` (one of ``TASKS``) with its validation split; data fixed by ``args.data_seed``.

    ``*_unseen`` is the base task with the training rows of its minority cells removed
    (chosen on the base task's training rows), so those cells exist only in the test set.
    """
    task = BASE_TASKS[base_task(name) or name](args, np.random.RandomState(args.data_seed))
    task["empty_cells"] = []
    task["minority_cells"] = minority_cells(task["y_train"], task["a_train"])
    if base_task(name):
        task = drop_cells(task, task["minority_cells"])
    return split_task(task, args.val_fraction, args.data_seed)
