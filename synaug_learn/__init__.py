"""synaug-learn: fix class and group imbalance by generating the missing samples (SYNAuG).

The recipe, as scikit-learn estimators: :class:`SynAugSampler` fills every
class (or class x group cell) with generated samples, :class:`MixupNetClassifier`
trains a CNN on the filled data with Mixup, and :class:`RetrainClassifier`
re-trains the network's head on a balanced subsample of the real rows.
"""

from ._retrain import RetrainClassifier
from ._sampler import SynAugSampler
from ._version import __version__
from .nets import MixupNetClassifier

__all__ = ["MixupNetClassifier", "RetrainClassifier", "SynAugSampler", "__version__"]

# The modules whose __all__ is the public API: the docs' API page and the docstring tests
# both check every name in them.
_PUBLIC_MODULES = (
    "synaug_learn",
    "synaug_learn.generators",
    "synaug_learn.nets",
    "synaug_learn.datasets",
    "synaug_learn.metrics",
    "synaug_learn.plotting",
    "synaug_learn.recipes",
)
