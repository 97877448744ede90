"""M2m (Major-to-minor Translation, Kim, Jeong & Shin, CVPR 2020) for scikit-learn,
imbalanced-learn and skorch.

Where each step of the paper lives:

* :mod:`m2m_sampler.planning` -- Eq. (5) ``Q(k0|k)``, Algorithm 1 lines 2-6 with the
  Bernoulli draw of line 12, and the batch-wise rule of the online variant;
* :mod:`m2m_sampler.translation` -- Eq. (2), Algorithm 1 lines 7-11;
* :mod:`m2m_sampler.rejection` -- Eq. (3), Algorithm 1 lines 12-13;
* :mod:`m2m_sampler.generation` -- the one engine call (plan -> translate -> ``gamma``
  test) that both front ends use;
* :mod:`m2m_sampler.translation_params` -- the translation parameters, declared once;
* :mod:`m2m_sampler.over_sampler` -- :class:`M2MOverSampler`, Algorithm 1 as an
  imbalanced-learn sampler;
* :mod:`m2m_sampler.converters` -- what may be passed as ``g`` / ``f``;
* :mod:`m2m_sampler.net` -- :class:`NetClassifier`, skorch with scikit-learn labels;
* :mod:`m2m_sampler.losses`, :mod:`m2m_sampler.class_weights`,
  :mod:`m2m_sampler.callbacks` -- the long-tailed training toolkit (focal, LDAM,
  logit adjustment, class-balanced weights, DRW, DRS, the paper's LR schedule);
* :mod:`m2m_sampler.models`, :mod:`m2m_sampler.augment` -- ResNet-32, MLP, on-device
  crop+flip;
* :mod:`m2m_sampler.device_data`, :mod:`m2m_sampler.cuda_graphs` -- the fast GPU data
  path (device-resident training set, batch slices) and CUDA-graphed training steps;
* :mod:`m2m_sampler.sharding`, :mod:`m2m_sampler.distributed` -- several devices or
  processes: the sampler's translation in shards, DDP training through accelerate;
* :mod:`m2m_sampler.datasets`, :mod:`m2m_sampler.text_datasets`,
  :mod:`m2m_sampler.metrics` -- long-tailed data sets (image, tabular, text) and the
  paper's metrics; :mod:`m2m_sampler.bench` -- the benchmark command.
"""

from ._version import __version__
from .classifier import M2MClassifier
from .device_data import DeviceLoader
from .net import NetClassifier
from .over_sampler import M2MOverSampler
from .rejection import gamma_from_loss_threshold
from .translation import translate

__all__ = [
    "M2MOverSampler",
    "M2MClassifier",
    "NetClassifier",
    "DeviceLoader",
    "translate",
    "gamma_from_loss_threshold",
    "__version__",
]
