# ruff: noqa: E402  (gallery style: each section imports what it uses)
"""
==================================================================
Filling long-tailed Fashion-MNIST with a text-to-image model (GPU)
==================================================================

This is SYNAuG as the paper runs it: every missing image of a class is drawn
from a pretrained text-to-image diffusion model prompted with the class name,
so the fill brings knowledge from web-scale pretraining instead of copying
the few real images of a tail class.

.. note::

   This example is **shown, not executed** when the documentation is built:
   it needs a GPU and the weights of a Stable Diffusion model (about 5 GB,
   downloaded from the Hugging Face hub on first use, or a local folder
   saved with ``pipeline.save_pretrained``). Install the ``text`` extra,
   ``pip install "synaug-learn[text]"``. The fill below is about 15,000
   images at 512x512 and 25 steps: from tens of minutes to a few hours on
   one GPU, depending on the GPU. Lower ``n_max`` or ``num_inference_steps``
   to try it faster, or spread it over several GPUs (:ref:`scaling`).
"""

# %%
# Long-tailed Fashion-MNIST
# -------------------------
# :func:`~synaug_learn.datasets.load_fashion_mnist_lt` reads Debian's
# ``dataset-fashion-mnist`` package (``make fashion-mnist`` installs it) and
# makes the training set long-tailed: 2,000 "T-shirt/top" images down to 20
# "Ankle boot" images. The test set is the official, balanced one.
import numpy as np

from synaug_learn.datasets import FASHION_MNIST_CLASSES, load_fashion_mnist_lt

data = load_fashion_mnist_lt(imbalance_factor=100, n_max=2000, random_state=0)
print("training images per class:", np.bincount(data.y_train).tolist())

# %%
# The generator
# -------------
# :class:`~synaug_learn.generators.TextToImageGenerator` loads any diffusers
# text-to-image pipeline (Stable Diffusion 1.x/2.x, SDXL, SD3, Flux...) on
# the first generation; ``fit`` only records the classes and the image format
# (28x28 grey uint8 here), and the generated 512x512 RGB images are resized
# and converted to it. ``class_names`` (in label order) go into the prompt
# templates' ``{name}`` field; several templates diversify the samples (each
# row's seed picks one). The model id is a parameter, so ``clone`` and grid
# searches keep it.
from synaug_learn.generators import TextToImageGenerator

generator = TextToImageGenerator(
    "stabilityai/stable-diffusion-2-1-base",  # or a local folder
    class_names=["a T-shirt", "a pair of trousers", "a pullover", "a dress", "a coat",
                 "a sandal", "a shirt", "a sneaker", "a bag", "an ankle boot"],
    prompt_templates=(
        "a product photo of {name}, centered, plain black background",
        "a black and white photo of {name} on a dark background",
        "a grayscale catalogue image of {name}",
    ),
    negative_prompt="text, watermark, person, several objects",
    num_inference_steps=25,
    guidance_scale=7.5,
    batch_size=16,
    device="cuda",
)

# %%
# The pipeline
# ------------
# The same pipeline as with any other generator. ``cache_dir`` keeps every
# generated image on disk: a second run, a grid search over ``fill_ratio`` or
# a resumed run after an interruption generates only what is missing. The
# classifier trains on the GPU too, and
# :class:`~synaug_learn.RetrainClassifier` refits its head on a class-balanced
# subsample of the filled set.
from imblearn.pipeline import Pipeline

from synaug_learn import MixupNetClassifier, RetrainClassifier, SynAugSampler

pipe = Pipeline([
    ("synaug", SynAugSampler(generator=generator, cache_dir="synaug_bank", random_state=0,
                             verbose=1)),
    ("clf", MixupNetClassifier(module="resnet32", max_epochs=30, augment="flip_crop",
                               device="cuda", random_state=0)),
])
model = RetrainClassifier(pipe, rows="resampled", random_state=0)
model.fit(data.X_train, data.y_train)

# %%
# What was generated
# ------------------
# The report says whether the samples are new (novelty near 1) or copies
# (near 0), and whether a classifier of the real data recognises them
# (fidelity). A text-to-image model cannot copy your images -- it never saw
# them -- but its style may be far from your data's; low fidelity is the sign
# to look at the prompts (or at ``ImageToImageGenerator``, which edits your
# own images instead).
import matplotlib.pyplot as plt

from synaug_learn.plotting import plot_class_distribution, plot_samples

sampler = model.estimator_.named_steps["synaug"]
print(sampler.report_)
print("bank:", sampler.bank_stats_)
print("prompts for 'Ankle boot':", sampler.generator_.prompts_for((9, None)))

X_res, y_res = sampler.fit_resample(data.X_train, data.y_train)  # from the bank: instant
fig, axes = plt.subplots(1, 2, figsize=(12, 5), width_ratios=[1, 1.3])
plot_class_distribution(data.y_train, y_res, ax=axes[0], class_names=FASHION_MNIST_CLASSES)
plot_samples(X_res, y_res, n_per_class=8, class_names=FASHION_MNIST_CLASSES,
             synthetic_mask=sampler.synthetic_mask_, ax=axes[1], random_state=0)
fig.tight_layout()

# %%
# Accuracy on the balanced test set
# ---------------------------------
from synaug_learn.metrics import shot_accuracy

y_pred = model.predict(data.X_test)
print(shot_accuracy(data.y_test, y_pred, data.y_train))
