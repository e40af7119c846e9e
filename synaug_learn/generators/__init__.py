"""Generators: models that produce new samples for a ``(label, group)`` stratum.

All follow the contract in :mod:`synaug_learn.generators._base`.
"""

from ._base import BaseGenerator, ImageFormat, check_generator
from ._conditional import ConditionalDiffusionGenerator, list_pretrained
from ._jitter import JitterGenerator

__all__ = [
    "BaseGenerator",
    "ConditionalDiffusionGenerator",
    "ImageFormat",
    "JitterGenerator",
    "check_generator",
    "list_pretrained",
]
