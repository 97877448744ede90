"""The translation engine: Algorithm 1 of the paper in plain torch, any device.

* :mod:`~m2m_sampler.engine.params` -- the translation parameters, declared and validated once;
* :mod:`~m2m_sampler.engine.planning` -- Eq. (5) ``Q(k0|k)``, Algorithm 1 lines 2-6 with the
  Bernoulli draw of line 12, and the batch-wise rule of the online variant;
* :mod:`~m2m_sampler.engine.translation` -- Eq. (2), Algorithm 1 lines 7-11;
* :mod:`~m2m_sampler.engine.rejection` -- Eq. (3), Algorithm 1 lines 12-13;
* :mod:`~m2m_sampler.engine.generation` -- the one engine call (plan -> translate ->
  ``gamma`` test) that both front ends use;
* :mod:`~m2m_sampler.engine.acceptance` -- what the translations came to: the per-class
  record and the accepted share both front ends report;
* :mod:`~m2m_sampler.engine.sharding` -- that call split over devices and processes;
* :mod:`~m2m_sampler.engine.converters` -- what may be passed as ``g`` / ``f``;
* :mod:`~m2m_sampler.engine.memory` -- the memory budget of the sampler's output.
"""

__all__: list[str] = []
