# ruff: noqa: E402  (gallery style: each section imports what it uses)
"""
=================================================
SMOTE vs SynAug on a real imbalanced table
=================================================

Most over-sampling happens on tables. On a 2-D input,
:class:`~synaug_learn.SynAugSampler` with its default generator trains a
:class:`~synaug_learn.generators.TabularDiffusionGenerator` (a class-conditional
TabDDPM-style diffusion model with an MLP denoiser) on the training rows and
fills the minority class with its samples. It replaces
:class:`~imblearn.over_sampling.SMOTE` in a pipeline and nothing else changes.

The data: scikit-learn's breast-cancer table (30 numeric features), with the
malignant class thinned to 15 training rows against 214 benign ones. We
compare the same logistic regression behind no sampler, SMOTE and SynAug over
five training/test splits.

What to expect, honestly: a generator trained on 15 rows has no information
SMOTE lacks, so the gain cannot be large. On this table, over five splits,
both reach a balanced accuracy of about 0.93 (SynAug with a smaller spread
across splits); one table says little about others, which is what
``benchmarks/tabular.py`` is for.
"""

# %%
# The table, thinned
# ------------------
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

X, y = load_breast_cancer(return_X_y=True)  # y == 0: malignant


def thinned_split(seed, n_malignant=15):
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.4, stratify=y,
                                              random_state=seed)
    rng = np.random.RandomState(seed)
    keep = np.r_[rng.choice(np.flatnonzero(y_tr == 0), n_malignant, replace=False),
                 np.flatnonzero(y_tr == 1)]
    return X_tr[keep], y_tr[keep], X_te, y_te


X_tr, y_tr, X_te, y_te = thinned_split(0)
print("training rows per class:", np.bincount(y_tr).tolist(),
      "test rows per class:", np.bincount(y_te).tolist())

# %%
# Three pipelines, one line apart
# -------------------------------
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import Pipeline
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, f1_score
from sklearn.preprocessing import StandardScaler

from synaug_learn import SynAugSampler


def pipeline(sampler):
    steps = [("scale", StandardScaler())]
    steps += [] if sampler is None else [("sampler", sampler)]
    return Pipeline(steps + [("clf", LogisticRegression())])


samplers = {
    "no sampler": lambda seed: None,
    "SMOTE": lambda seed: SMOTE(random_state=seed),
    "SynAug (tabular diffusion)": lambda seed: SynAugSampler(random_state=seed),
}
scores = {name: {"balanced accuracy": [], "F1 (malignant)": []} for name in samplers}
for seed in range(5):
    X_tr, y_tr, X_te, y_te = thinned_split(seed)
    for name, make in samplers.items():
        pred = pipeline(make(seed)).fit(X_tr, y_tr).predict(X_te)
        scores[name]["balanced accuracy"].append(balanced_accuracy_score(y_te, pred))
        scores[name]["F1 (malignant)"].append(f1_score(y_te, pred, pos_label=0))

for name, s in scores.items():
    print(f"{name:28s}" + "  ".join(f"{k} {np.mean(v):.3f} ± {np.std(v):.3f}"
                                    for k, v in s.items()))

# %%
# What the generator drew
# -----------------------
# The fitted sampler keeps its generator and marks the generated rows. Two
# features of the malignant class: the 15 real rows, and the generated ones,
# which follow their spread rather than sitting on the segments between them
# as SMOTE's do.
import matplotlib.pyplot as plt

sampler = SynAugSampler(random_state=0)
X_s = StandardScaler().fit_transform(X_tr)
X_res, y_res = sampler.fit_resample(X_s, y_tr)
smote_X, smote_y = SMOTE(random_state=0).fit_resample(X_s, y_tr)
i, j = 0, 1  # mean radius, mean texture
fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharex=True, sharey=True)
real = X_s[y_tr == 0]
for ax, (title, new) in zip(axes, [
    ("SynAug", X_res[sampler.synthetic_mask_]),
    ("SMOTE", smote_X[len(X_s):]),
]):
    ax.scatter(X_s[y_tr == 1, i], X_s[y_tr == 1, j], s=8, c="lightgrey", label="benign (real)")
    ax.scatter(new[:, i], new[:, j], s=10, c="tab:orange", alpha=0.6, label="malignant (new)")
    ax.scatter(real[:, i], real[:, j], s=30, c="tab:red", edgecolor="k",
               label="malignant (real)")
    ax.set_title(title)
    ax.set_xlabel("mean radius (standardised)")
axes[0].set_ylabel("mean texture (standardised)")
axes[0].legend(loc="upper left", fontsize=8)
fig.tight_layout()
plt.show()
