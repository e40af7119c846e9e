"""synaug-learn: fix class and group imbalance by generating the missing samples (SYNAuG)."""

from ._version import __version__

__all__ = ["__version__"]
