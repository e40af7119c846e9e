"""Generators: models that produce new samples for a ``(label, group)`` stratum.

All follow the contract in :mod:`synaug_learn.generators._base`.
"""

from ._base import BaseGenerator, ImageFormat, check_generator
from ._jitter import JitterGenerator

__all__ = ["BaseGenerator", "ImageFormat", "JitterGenerator", "check_generator"]
