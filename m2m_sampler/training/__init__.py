"""skorch training pieces that any net can use.

* :mod:`~m2m_sampler.training.speed`, :mod:`~m2m_sampler.training.device_data`,
  :mod:`~m2m_sampler.training.cuda_graphs` -- the fast GPU data path and CUDA-graphed steps;
* :mod:`~m2m_sampler.training.sampling`, :mod:`~m2m_sampler.training.callbacks`,
  :mod:`~m2m_sampler.training.schedules` -- class-balanced sampling, deferred re-weighting
  and re-sampling (DRW, DRS), the paper's learning-rate schedule;
* :mod:`~m2m_sampler.training.generation_iterator`,
  :mod:`~m2m_sampler.training.generation_log`, :mod:`~m2m_sampler.training.seeding`,
  :mod:`~m2m_sampler.training.timing` -- what :class:`~m2m_sampler.M2MClassifier` adds to a
  training loop: the generation step, its history columns, its random streams, its timers.
"""

__all__: list[str] = []
