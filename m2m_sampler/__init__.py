"""M2m (Major-to-minor Translation) for scikit-learn, imbalanced-learn and skorch."""

from ._version import __version__
from .over_sampler import M2MOverSampler
from .translation import translate

__all__ = ["M2MOverSampler", "translate", "__version__"]
