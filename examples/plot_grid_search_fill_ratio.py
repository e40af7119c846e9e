# ruff: noqa: E402  (gallery style: each section imports what it uses)
"""
=====================================================
Grid search over ``fill_ratio`` with a synthetic bank
=====================================================

``fill_ratio`` is the fraction of each class's deficit that
:class:`~synaug_learn.SynAugSampler` fills with generated samples. Unlike
imbalanced-learn's float ``sampling_strategy`` it works for any number of
classes, so it can be grid-searched like any other hyper-parameter.

Generating images is the expensive step of SYNAuG, and a search asks for the
same images again and again: every fold, every candidate ``fill_ratio``,
every re-run of the script. With ``cache_dir`` the sampler keeps its
generated rows in an on-disk *bank*, content-addressed by the generator's
fingerprint, the seed and the stratum. Row ``i`` of a class is always the
same image, so the rows for ``fill_ratio=0.25`` are the first quarter of
those for ``fill_ratio=1.0``: the bank generates each row once.

The generator here is the cheap
:class:`~synaug_learn.generators.JitterGenerator` so that the example runs
in seconds; with a diffusion model the bank is what makes a search
affordable.
"""

# %%
# Data and pipeline
# -----------------
import tempfile
import time
from pathlib import Path

import numpy as np
from imblearn.pipeline import Pipeline

from synaug_learn import MixupNetClassifier, SynAugSampler
from synaug_learn.datasets import load_digits_lt
from synaug_learn.generators import JitterGenerator

data = load_digits_lt(imbalance_factor=20, random_state=0)
X_train = data.X_train.reshape(len(data.X_train), -1)
X_test = data.X_test.reshape(len(data.X_test), -1)
y_train, y_test = data.y_train, data.y_test
print("training images per class:", np.bincount(y_train).tolist())

cache_dir = Path(tempfile.mkdtemp()) / "bank"
pipe = Pipeline([
    ("synaug", SynAugSampler(
        generator=JitterGenerator(), cache_dir=cache_dir, report=False, random_state=0,
    )),
    ("clf", MixupNetClassifier(max_epochs=10, batch_size=64, random_state=0)),
])

# %%
# What the bank does, one call at a time
# --------------------------------------
# ``bank_stats_`` counts the rows a ``fit_resample`` call asked for, generated
# and reused. An integer ``random_state`` is what makes rows reusable: with
# ``random_state=None`` every call draws a new seed and gets new rows.
sampler = SynAugSampler(
    generator=JitterGenerator(), cache_dir=cache_dir, report=False, random_state=0
)
for ratio in [0.25, 0.5, 1.0, 0.5]:
    sampler.set_params(fill_ratio=ratio).fit_resample(X_train, y_train)
    print(f"fill_ratio={ratio:<5} {sampler.bank_stats_}")

# %%
# The search
# ----------
# Three candidate ratios and three folds: nine fits, plus the refit on all
# training rows. Each fold trains its own generator on its own rows (a new
# fingerprint, so new rows), but the three ratios of a fold share them. We
# count the rows the bank holds after the search, then run the same search
# again: the bank does not grow, because every row already exists.
from sklearn.model_selection import GridSearchCV, StratifiedKFold


def rows_in_bank(folder):
    return sum(len(np.load(f)["X"]) for f in Path(folder).rglob("shard_*.npz"))


search = GridSearchCV(
    pipe,
    {"synaug__fill_ratio": [0.25, 0.5, 1.0]},
    scoring="balanced_accuracy",
    cv=StratifiedKFold(3, shuffle=True, random_state=0),
)
for run in ["first run", "second run"]:
    before = rows_in_bank(cache_dir)
    start = time.perf_counter()
    search.fit(X_train, y_train)
    print(
        f"{run}: {time.perf_counter() - start:.1f} s, "
        f"rows generated {rows_in_bank(cache_dir) - before}, bank holds {rows_in_bank(cache_dir)}"
    )

# %%
# Which ratio won
# ---------------
import matplotlib.pyplot as plt

ratios = search.cv_results_["param_synaug__fill_ratio"].data.astype(float)
mean = search.cv_results_["mean_test_score"]
std = search.cv_results_["std_test_score"]
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.errorbar(ratios, mean, yerr=std, marker="o", capsize=3)
ax.set_xlabel("fill_ratio")
ax.set_ylabel("balanced accuracy (3-fold CV)")
ax.set_title(f"best: fill_ratio={search.best_params_['synaug__fill_ratio']}")
fig.tight_layout()

best = search.best_estimator_
print("test balanced accuracy of the refitted best model:",
      round(search.score(X_test, y_test), 3))
print("rows added by its sampler:", best.named_steps["synaug"].sampling_strategy_)

# %%
# Notes
# -----
# * The jitter generator here does not train. An in-domain diffusion
#   generator (``SynAugSampler``'s default) does: the bank keeps it fitted
#   (``cache_dir/fitted/``), so it is trained once per fold, and the
#   candidates and re-runs of that fold take it from there
#   (``generator_from_bank_``). A pretrained one
#   (``ConditionalDiffusionGenerator.from_pretrained(...)``) or
#   ``TextToImageGenerator`` is only loaded, which is cheap.
# * A generator's fingerprint includes the data it was fitted on, so the
#   folds do not share rows with each other; the candidates of a fold, the
#   refit (same rows as the calls above) and every re-run do.
# * The bank is safe to share between runs and processes: shards are written
#   atomically, checked against a checksum on reading, and an interrupted run
#   resumes, losing at most the batch being generated. See :ref:`sampling`.
