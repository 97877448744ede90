"""CIFAR-LT-10: reproduce Table 1 of the M2m paper (ERM, DRS, M2m and the other rows).

The paper's headline: CIFAR-LT-10, imbalance ratio 100, ResNet-32, 200 epochs, balanced
test accuracy ERM 68.7, DRS 75.2, M2m 78.3. This package reproduces it through the
library's public API (:class:`~m2m_sampler.M2MClassifier`,
:class:`~m2m_sampler.training.device_data.DeviceLoader`,
:mod:`m2m_sampler.longtail.models`, :mod:`m2m_sampler.training.callbacks`,
:mod:`m2m_sampler.longtail.losses`, :mod:`m2m_sampler.longtail.metrics`):

1. ``g``: a ResNet-32 trained by plain ERM for 200 epochs (the paper's schedule); it is
   also the ERM result of Table 1.
2. ``f``: a second ResNet-32 trained from scratch by ERM until epoch 160 (the "trunk").
3. From that same epoch-160 state, the branches continue to epoch 200: DRS is
   ``M2MClassifier(generation=False)``, M2m is ``generation=True`` with ``g`` (beta
   0.999, lambda 0.5, gamma 0.9, step 0.1, 10 steps).

The modules, one step each:

* :mod:`~benchmarks.cifar_lt.data`: the data and the authors' validation / test
  split;
* :mod:`~benchmarks.cifar_lt.methods`: every method (the table of Table 1's rows
  and the rows beyond the paper) and the network it trains;
* :mod:`~benchmarks.cifar_lt.selection`: the validation-selected epoch;
* :mod:`~benchmarks.cifar_lt.evaluation`: the reported metrics;
* :mod:`~benchmarks.cifar_lt.phases`: ``g``, the trunks, the methods and their
  cache;
* :mod:`~benchmarks.cifar_lt.report`: the JSON report and its Markdown tables;
* :mod:`~benchmarks.cifar_lt.cli`: the command line.

Run ``python -m benchmarks.cifar_lt --smoke`` (CPU, a tiny subset, 2 epochs, a few
seconds) or, on a GPU, ``python -m benchmarks.cifar_lt --device cuda --fast
--cache-dir .cache/cifar_lt --out results.json``. See ``docs/reproduction.md``.
"""

from __future__ import annotations

from benchmarks.cifar_lt.cli import main, parse_args
from benchmarks.cifar_lt.methods import METHODS, PAPER, make_net, trunk_of
from benchmarks.cifar_lt.phases import Cache, load_cached_networks

__all__ = [
    "METHODS",
    "PAPER",
    "Cache",
    "load_cached_networks",
    "main",
    "make_net",
    "parse_args",
    "trunk_of",
]
