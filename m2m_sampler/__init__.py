"""M2m (Major-to-minor Translation, Kim, Jeong & Shin, CVPR 2020) for scikit-learn,
imbalanced-learn and skorch.

The front ends:

* :class:`M2MOverSampler` (:mod:`m2m_sampler.over_sampler`) -- Algorithm 1 as an
  imbalanced-learn over-sampler;
* :class:`M2MClassifier` (:mod:`m2m_sampler.classifier`) -- the paper's online, batch-wise
  variant as a skorch classifier, built on :class:`NetClassifier` (:mod:`m2m_sampler.net`,
  skorch with scikit-learn label semantics); :mod:`m2m_sampler.distributed` -- both nets
  over several processes through accelerate.

What they are built from:

* :mod:`m2m_sampler.engine` -- the translation engine, Algorithm 1 in plain torch
  (parameters, planning, translation, rejection, the one engine call, sharding, the
  converters of ``g``/``f``, the memory budget);
* :mod:`m2m_sampler.training` -- skorch training pieces any net can use (GPU speed
  options, device-resident data, class-balanced sampling, DRW/DRS callbacks, the paper's
  schedule, the online generation's iterator, log, seeds and timers);
* :mod:`m2m_sampler.longtail` -- the long-tailed toolkit (losses, class weights,
  ResNet-32 and MLP, crop + flip, metrics);
* :mod:`m2m_sampler.datasets`, :mod:`m2m_sampler.plotting` -- long-tailed data sets and
  pictures of what M2m does;
* :mod:`m2m_sampler.exceptions` -- the warning classes, one per kind of warning (filter
  them by class: ``warnings.simplefilter("ignore", m2m_sampler.LowAcceptanceWarning)``).

Benchmarks and reproductions are not part of the package: they live in the repository's
``benchmarks/`` folder.
"""

from ._version import __version__
from .classifier import M2MClassifier
from .engine.rejection import gamma_from_loss_threshold
from .engine.translation import translate
from .exceptions import LabelOrderWarning, LowAcceptanceWarning, M2MWarning
from .net import NetClassifier
from .over_sampler import M2MOverSampler
from .training.device_data import DeviceLoader

__all__ = [
    "M2MOverSampler",
    "M2MClassifier",
    "NetClassifier",
    "DeviceLoader",
    "translate",
    "gamma_from_loss_threshold",
    "M2MWarning",
    "LowAcceptanceWarning",
    "LabelOrderWarning",
    "__version__",
]
