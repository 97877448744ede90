"""The long-tailed classification toolkit: losses, class weights, networks, augmentation,
metrics.

* :mod:`~m2m_sampler.longtail.losses` -- focal, LDAM, logit-adjusted, balanced-softmax;
* :mod:`~m2m_sampler.longtail.class_weights` -- class counts, inverse-frequency and
  effective-number weights;
* :mod:`~m2m_sampler.longtail.models` -- the paper's ResNet-32 and 2-layer MLP;
* :mod:`~m2m_sampler.longtail.augment` -- crop + flip on the batch's own device;
* :mod:`~m2m_sampler.longtail.metrics` -- balanced accuracy, geometric mean, per-class recall.
"""

__all__: list[str] = []
