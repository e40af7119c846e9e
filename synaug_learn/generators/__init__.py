"""Generators: models that produce new samples for a ``(label, group)`` stratum.

All follow the contract in :mod:`synaug_learn.generators._base`.
"""

from ..utils import ImageFormat
from ._base import BaseGenerator, check_generator, generator_can_compose
from ._conditional import ConditionalDiffusionGenerator
from ._image_to_image import ImageToImageGenerator
from ._jitter import JitterGenerator
from ._pretrained import class_mapping_by_name, list_pretrained, pretrained_hashes, pretrained_path
from ._ray import generate_rows, generate_seeded_with_ray, generate_with_ray, plan_rows
from ._sampling import make_scheduler
from ._tabular import TabularDiffusionGenerator
from ._text_to_image import TextToImageGenerator

__all__ = [
    "BaseGenerator",
    "ConditionalDiffusionGenerator",
    "ImageFormat",
    "ImageToImageGenerator",
    "JitterGenerator",
    "TabularDiffusionGenerator",
    "TextToImageGenerator",
    "check_generator",
    "class_mapping_by_name",
    "generate_rows",
    "generate_seeded_with_ray",
    "generate_with_ray",
    "generator_can_compose",
    "list_pretrained",
    "make_scheduler",
    "plan_rows",
    "pretrained_hashes",
    "pretrained_path",
]
