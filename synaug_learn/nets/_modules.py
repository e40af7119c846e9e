"""Network bodies for :class:`~synaug_learn.nets.MixupNetClassifier`.

Every module here splits into a feature extractor and a linear head::

    forward(x) == head(features(x))

``features(x)`` returns the penultimate representation (what classifier
re-training, cRT / DFR, refits a head on) and ``head`` is the final
``torch.nn.Linear``. Each module names that layer in its class attribute
``head_name`` (the one documented way to find it, read by :func:`get_head`);
a custom module for :class:`~synaug_learn.RetrainClassifier` declares it too,
e.g. ``head_name = "fc"`` for a torchvision ResNet. Image modules take float
NCHW input; :class:`MLP` takes flat rows. ``in_channels`` / ``in_features``
and ``num_classes`` are filled in from the training data when the net is fitted.
"""

from __future__ import annotations

import inspect

import torch
from imblearn.utils import Substitution
from torch import nn
from torch.nn import functional as F

__all__ = ["HEAD_ATTRIBUTE", "MLP", "MODULES", "ResNet32", "SmallCNN", "get_head", "resolve_module"]

#: The attribute of a module that names its final ``torch.nn.Linear`` (the head).
HEAD_ATTRIBUTE = "head_name"

_HEAD_NAME_DOC = """head_name : str
        ``"head"``, the attribute holding the final ``torch.nn.Linear``
        (see :func:`get_head`)."""


@Substitution(head_name=_HEAD_NAME_DOC)
class SmallCNN(nn.Module):
    """A small, fast convolutional network for 8x8 to 32x32 images.

    ``n_blocks`` blocks of ``conv3x3 -> BatchNorm -> ReLU``; every block after
    the first halves the resolution (stride 2) and doubles the width; then
    global average pooling and a linear head. With the defaults it has about
    94k parameters and trains an epoch of 1,000 28x28 images in about a second
    on two CPU cores.

    Parameters
    ----------
    in_channels : int, default=1
        Channels of the input images.
    num_classes : int, default=10
        Outputs of the head.
    width : int, default=32
        Channels of the first block.
    n_blocks : int, default=3
        Number of conv blocks.
    dropout : float, default=0.0
        Dropout before the head.

    Attributes
    ----------
    {head_name}

    Examples
    --------
    >>> import torch
    >>> from synaug_learn.nets import SmallCNN
    >>> net = SmallCNN(in_channels=3, num_classes=5)
    >>> x = torch.zeros(2, 3, 32, 32)
    >>> net.features(x).shape, net(x).shape
    (torch.Size([2, 128]), torch.Size([2, 5]))
    """

    head_name = "head"

    def __init__(self, in_channels=1, num_classes=10, width=32, n_blocks=3, dropout=0.0):
        super().__init__()
        layers, c_in = [], int(in_channels)
        for i in range(int(n_blocks)):
            c_out = int(width) * 2**i
            layers += [
                nn.Conv2d(c_in, c_out, 3, stride=1 if i == 0 else 2, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.head = nn.Linear(c_in, int(num_classes))

    def features(self, x):
        """Penultimate features: ``(n, width * 2**(n_blocks - 1))``."""
        x = self.body(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, x):
        return self.head(self.dropout(self.features(x)))


class _BasicBlock(nn.Module):
    """CIFAR ResNet basic block with the parameter-free "option A" shortcut."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.stride, self.pad = stride, c_out - c_in

    def _shortcut(self, x):
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.pad:
            x = F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return x

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self._shortcut(x))


@Substitution(head_name=_HEAD_NAME_DOC)
class ResNet32(nn.Module):
    """CIFAR-style ResNet-32, the standard network of the CIFAR-LT literature.

    A 3x3 stem, then three stages of ``n_blocks`` basic blocks with 16, 32 and
    64 channels (the second and third stages start with stride 2), global
    average pooling and a linear head: 6 * 5 + 2 = 32 layers, about 0.46M
    parameters (He et al., 2016; as in LDAM-DRW, Cao et al., 2019).

    Parameters
    ----------
    in_channels : int, default=3
    num_classes : int, default=10
    n_blocks : int, default=5
        Blocks per stage (5 gives ResNet-32, 3 ResNet-20, 9 ResNet-56).
    width : int, default=16
        Channels of the first stage.

    Attributes
    ----------
    {head_name}

    Examples
    --------
    >>> import torch
    >>> from synaug_learn.nets import ResNet32
    >>> net = ResNet32(num_classes=100)
    >>> sum(p.numel() for p in net.parameters()) // 1000
    470
    >>> net.features(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 64])
    """

    head_name = "head"

    def __init__(self, in_channels=3, num_classes=10, n_blocks=5, width=16):
        super().__init__()
        w = int(width)
        self.stem = nn.Sequential(
            nn.Conv2d(int(in_channels), w, 3, padding=1, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(inplace=True),
        )
        blocks, c_in = [], w
        for stage, c_out in enumerate((w, 2 * w, 4 * w)):
            for i in range(int(n_blocks)):
                stride = 2 if (stage > 0 and i == 0) else 1
                blocks.append(_BasicBlock(c_in, c_out, stride))
                c_in = c_out
        self.stages = nn.Sequential(*blocks)
        self.head = nn.Linear(c_in, int(num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(m.weight)

    def features(self, x):
        """Penultimate features: ``(n, 4 * width)``."""
        x = self.stages(self.stem(x))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, x):
        return self.head(self.features(x))


@Substitution(head_name=_HEAD_NAME_DOC)
class MLP(nn.Module):
    """A multi-layer perceptron for flat rows (tabular data, or flattened images).

    Parameters
    ----------
    in_features : int, default=64
    num_classes : int, default=10
    hidden : tuple of int, default=(256, 128)
        Widths of the hidden ``Linear -> ReLU`` layers (the last one is the
        feature dimension).
    dropout : float, default=0.0
        Dropout after each hidden layer.

    Attributes
    ----------
    {head_name}

    Examples
    --------
    >>> import torch
    >>> from synaug_learn.nets import MLP
    >>> MLP(in_features=4, num_classes=3)(torch.zeros(5, 4)).shape
    torch.Size([5, 3])
    """

    head_name = "head"

    def __init__(self, in_features=64, num_classes=10, hidden=(256, 128), dropout=0.0):
        super().__init__()
        layers, d = [], int(in_features)
        for h in hidden:
            layers += [nn.Linear(d, int(h)), nn.ReLU(inplace=True)]
            if dropout:
                layers.append(nn.Dropout(dropout))
            d = int(h)
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(d, int(num_classes))

    def features(self, x):
        """Penultimate features: ``(n, hidden[-1])`` (the input itself if no hidden layer)."""
        return self.body(torch.flatten(x, 1))

    def forward(self, x):
        return self.head(self.features(x))


#: Modules selectable by name in ``MixupNetClassifier(module=...)``.
MODULES = {"small_cnn": SmallCNN, "resnet32": ResNet32, "mlp": MLP}


def resolve_module(module, param_name="module"):
    """Turn ``module`` (a name, a ``nn.Module`` subclass or instance, or a factory) into one.

    Raises ``ValueError`` naming ``param_name`` for an unknown name and
    ``TypeError`` for anything else that cannot build a module.
    """
    if isinstance(module, str):
        try:
            return MODULES[module]
        except KeyError:
            names = ", ".join(repr(k) for k in sorted(MODULES))
            raise ValueError(
                f"{param_name}={module!r} is not one of {names}, "
                "a torch.nn.Module subclass or a torch.nn.Module instance."
            ) from None
    if isinstance(module, nn.Module) or callable(module):
        return module
    raise TypeError(
        f"{param_name} must be a module name, a torch.nn.Module subclass or instance; "
        f"got {module!r}."
    )


def get_head(module, param_name="module"):
    """Return ``(name, layer)``: the final linear layer that ``module.head_name`` names.

    The modules of :mod:`synaug_learn.nets` declare ``head_name = "head"``.
    A custom module declares the attribute that holds its final
    ``torch.nn.Linear`` -- the layer that produces the logits from the
    penultimate features -- as a class attribute (or sets it on an instance,
    e.g. ``resnet.head_name = "fc"`` for a torchvision ResNet).

    Parameters
    ----------
    module : torch.nn.Module
        The network (a ``torch.compile`` wrapper is looked through).
    param_name : str, default="module"
        Named in the error message.

    Returns
    -------
    name : str
        The value of ``module.head_name``.
    layer : torch.nn.Linear
        The head.

    Raises
    ------
    TypeError
        When ``module`` has no ``head_name``, or it does not name a
        ``torch.nn.Linear``; the message says what to add.

    Examples
    --------
    >>> import torch
    >>> from synaug_learn.nets import SmallCNN, get_head
    >>> name, layer = get_head(SmallCNN(num_classes=3))
    >>> name, layer.out_features
    ('head', 3)
    >>> class Custom(torch.nn.Module):
    ...     head_name = "fc"
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = torch.nn.Linear(4, 2)
    ...     def forward(self, x):
    ...         return self.fc(x)
    >>> get_head(Custom())[0]
    'fc'
    """
    module = getattr(module, "_orig_mod", module)
    kind = type(module).__name__
    name = getattr(module, HEAD_ATTRIBUTE, None)
    if name is None:
        raise TypeError(
            f"{param_name}'s network {kind} does not name its head: add the class attribute "
            f"`{HEAD_ATTRIBUTE} = \"<attribute>\"` naming its final torch.nn.Linear (the layer "
            "that produces the logits from the penultimate features), e.g. "
            f"`{HEAD_ATTRIBUTE} = \"fc\"` for a torchvision ResNet."
        )
    layer = getattr(module, str(name), None)
    if not isinstance(layer, nn.Linear):
        raise TypeError(
            f"{param_name}'s network {kind} has {HEAD_ATTRIBUTE}={name!r}, but its attribute "
            f"{name!r} is {type(layer).__name__}, not a torch.nn.Linear."
        )
    return str(name), layer


def is_flat_module(module) -> bool:
    """Whether ``module`` (as resolved) takes flat rows rather than NCHW images."""
    if isinstance(module, nn.Module):
        return isinstance(module, MLP) or getattr(module, "input_kind", None) == "flat"
    if inspect.isclass(module):
        return issubclass(module, MLP) or getattr(module, "input_kind", None) == "flat"
    return getattr(module, "input_kind", None) == "flat"


def accepted_kwargs(factory, candidates):
    """The subset of ``candidates`` that ``factory`` accepts as keyword arguments."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return {}
    params = sig.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return dict(candidates)
    names = {p.name for p in params}
    return {k: v for k, v in candidates.items() if k in names}
