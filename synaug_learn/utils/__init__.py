"""The shared vocabulary of synaug-learn: image layouts, seeds and hashes, input checks.

Nothing here imports the rest of the package, so every part (generators,
bank, sampler, nets, report, plots) can use it without depending on another.
"""

from ._image import ImageFormat, feature_map
from ._seeding import (
    derive_seed,
    hash_array,
    jsonable,
    row_strata,
    stratum_key,
    stratum_labels,
)
from ._validation import (
    check_column,
    check_count,
    check_device,
    check_groups,
    check_images,
    check_is_fitted,
    check_strata,
    check_xy,
)

__all__ = [
    "ImageFormat",
    "check_column",
    "check_count",
    "check_device",
    "check_groups",
    "check_images",
    "check_is_fitted",
    "check_strata",
    "check_xy",
    "derive_seed",
    "feature_map",
    "hash_array",
    "jsonable",
    "row_strata",
    "stratum_key",
    "stratum_labels",
]
