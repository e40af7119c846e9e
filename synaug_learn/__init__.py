"""synaug-learn: fix class and group imbalance by generating the missing samples (SYNAuG).

The recipe, as scikit-learn estimators: :class:`SynAugSampler` fills every
class (or class x group cell) with generated samples, :class:`MixupNetClassifier`
trains a CNN on the filled data with Mixup, and :class:`RetrainClassifier`
re-trains the network's head on a balanced subsample of the real rows.
"""

from . import _report
from ._retrain import RetrainClassifier
from ._sampler import SynAugSampler
from ._version import __version__
from .generators._base import set_novelty_report
from .nets import MixupNetClassifier

# Generators never import the report; the one that checks its own output after fine-tuning
# receives it here (looked up at call time, so the report stays replaceable).
set_novelty_report(lambda *args, **kwargs: _report.synthetic_report(*args, **kwargs))

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
    "synaug_learn.utils",
)
