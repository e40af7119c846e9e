"""synaug-learn: fix class and group imbalance by generating the missing samples (SYNAuG).

The recipe, as scikit-learn estimators: :class:`SynAugSampler` fills every
class (or class x group cell) with generated samples, :class:`MixupNetClassifier`
trains a CNN on the filled data with Mixup, and :class:`RetrainClassifier`
re-trains the network's head on balanced real rows. :class:`LogitAdjustedClassifier`
is the generator-free peer: post-hoc logit adjustment of any fitted classifier.
"""

import importlib

from ._version import __version__

__all__ = [
    "LogitAdjustedClassifier",
    "MixupNetClassifier",
    "RetrainClassifier",
    "SynAugSampler",
    "SyntheticAwareClassifier",
    "__version__",
]

# Imported on first use: torch, skorch and scikit-learn take seconds to import, and
# ``import synaug_learn`` (or ``synaug_learn.generators``, the CLI's --help) should not.
_LAZY = {
    "LogitAdjustedClassifier": "._logit_adjust",
    "MixupNetClassifier": ".nets",
    "RetrainClassifier": "._retrain",
    "SynAugSampler": "._sampler",
    "SyntheticAwareClassifier": "._synthetic_aware",
}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


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
