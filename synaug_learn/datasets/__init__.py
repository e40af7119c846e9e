"""Datasets: long-tailed and spurious-correlation benchmarks, and loaders for image data.

Functions that *make* a benchmark (``make_*``) work on any arrays; loaders
(``load_*``) read a dataset from disk (Fashion-MNIST from Debian's
``dataset-fashion-mnist`` package, CIFAR-100 from its python archive, UTKFace,
or any folder of images) or, for the digits, from scikit-learn;
:func:`write_image_folder` writes a folder of images (e.g. a balanced one);
:func:`stylize_images` re-renders grey images in another style (a simulated domain shift).
"""

from ._cifar import load_cifar100, load_cifar100_lt
from ._digits import load_digits_lt
from ._fashion_mnist import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_POOL_START,
    fashion_mnist_pool,
    load_fashion_mnist,
    load_fashion_mnist_lt,
    read_idx,
)
from ._image_folder import class_folder_name, load_image_folder, write_image_folder
from ._long_tailed import long_tailed_counts, make_long_tailed, train_pool_split
from ._spurious import make_spurious_colour
from ._styles import IMAGE_STYLES, stylize_images
from ._utkface import UTKFACE_GENDERS, UTKFACE_RACES, load_utkface

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_POOL_START",
    "IMAGE_STYLES",
    "UTKFACE_GENDERS",
    "UTKFACE_RACES",
    "class_folder_name",
    "fashion_mnist_pool",
    "load_cifar100",
    "load_cifar100_lt",
    "load_digits_lt",
    "load_fashion_mnist",
    "load_fashion_mnist_lt",
    "load_image_folder",
    "load_utkface",
    "long_tailed_counts",
    "make_long_tailed",
    "make_spurious_colour",
    "read_idx",
    "stylize_images",
    "train_pool_split",
    "write_image_folder",
]
