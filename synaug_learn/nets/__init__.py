"""Networks for image classification under imbalance, as skorch / scikit-learn estimators.

:class:`MixupNetClassifier` trains a CNN with Mixup / CutMix (the classifier of
SYNAuG) on whatever a sampler emits; :class:`MixupMixin` adds the mixing to any
skorch net. The modules split into ``features`` and a linear head, named by
their ``head_name`` attribute (:func:`get_head`), so that
:class:`~synaug_learn.RetrainClassifier` can refit the head, and the losses
(class-weighted CE, Balanced Softmax / logit adjustment, Group DRO) are the
loss-level remedies the benchmarks compare against and combine with.
"""

from ._classifier import MixupNetClassifier
from ._losses import (
    BalancedSoftmaxLoss,
    ClassWeightedCrossEntropy,
    GroupDROLoss,
    balanced_class_weights,
)
from ._mixing import MixedBatch, MixedTarget, MixupMixin, mix_batch, pair_rows
from ._modules import MLP, MODULES, ResNet32, SmallCNN, get_head

__all__ = [
    "BalancedSoftmaxLoss",
    "ClassWeightedCrossEntropy",
    "GroupDROLoss",
    "MLP",
    "MODULES",
    "MixedBatch",
    "MixedTarget",
    "MixupMixin",
    "MixupNetClassifier",
    "ResNet32",
    "SmallCNN",
    "balanced_class_weights",
    "get_head",
    "mix_batch",
    "pair_rows",
]
