"""The warning classes of m2m-sampler, one per kind of warning the library issues.

Every warning the library raises has its own class, so that it can be filtered or
turned into an error by class, never by its message (whose wording may change)::

    import warnings
    from m2m_sampler.exceptions import LowAcceptanceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowAcceptanceWarning)
        X_res, y_res = sampler.fit_resample(X, y)

All of them derive from :class:`M2MWarning`, itself a ``UserWarning``: filters on
``UserWarning`` keep catching them, and ``warnings.simplefilter("error", M2MWarning)``
makes every warning of the library an error. The one that used to be a ``RuntimeWarning``
(:class:`CUDAGraphCaptureWarning`) still is one as well.
:class:`LowAcceptanceWarning` and :class:`LabelOrderWarning` are also exported by
:mod:`m2m_sampler` itself, with the base :class:`M2MWarning`.
"""

from __future__ import annotations

__all__ = [
    "CUDAGraphCaptureWarning",
    "ClipRangeWarning",
    "DeferredPhaseNotReachedWarning",
    "DeferredPhaseWarning",
    "FallbackCopiesWarning",
    "ItemByItemReadWarning",
    "LabelOrderWarning",
    "LowAcceptanceWarning",
    "M2MWarning",
    "MemoryBudgetWarning",
    "NoProcessGroupWarning",
    "RestoredOnCPUWarning",
]


class M2MWarning(UserWarning):
    """Base class of every warning m2m-sampler issues (a ``UserWarning``)."""


class LowAcceptanceWarning(M2MWarning):
    """Few of the planned translations were accepted.

    Issued by :class:`~m2m_sampler.M2MOverSampler` and :class:`~m2m_sampler.M2MClassifier`
    (once, at the end of ``fit``) after a fit in which under
    :data:`~m2m_sampler.over_sampler.LOW_ACCEPTANCE_SHARE` of the planned translations
    passed the ``gamma`` test and the ``beta`` draw: the other added rows are copies of
    real samples, so the result is close to random over-sampling. The message names the
    larger cause and the parameter to change.
    """


class FallbackCopiesWarning(M2MWarning):
    """Some added rows are copies because their class had no larger class to come from.

    Issued by :class:`~m2m_sampler.M2MOverSampler` when ``sampling_strategy`` asks to grow
    a class that has no strictly larger class to translate from (the largest one, or every
    class with ``beta=1``); see ``class_stats_[c]['n_fallback']``.
    """


class LabelOrderWarning(M2MWarning):
    """``g``'s logits are most likely not in sorted label order.

    Issued by :class:`~m2m_sampler.M2MOverSampler` and, for a given ``g``,
    :class:`~m2m_sampler.M2MClassifier` when some permutation of ``g``'s outputs agrees with
    ``y`` on the training rows it was probed on markedly better than their order does
    (:func:`~m2m_sampler.engine.checks.check_label_order`): translations would get wrong
    labels. Reorder ``g``'s outputs to ``np.unique(y)`` (or pass a ``g``
    fitted on these labels).
    """


class ClipRangeWarning(M2MWarning):
    """Most training rows lie outside the ``clip`` box.

    Issued by :class:`~m2m_sampler.M2MOverSampler` and :class:`~m2m_sampler.M2MClassifier`
    in ``fit`` when over half of the rows of ``X`` have a value outside ``clip``: the box is
    most likely in other units than ``X`` (``(0, 1)`` on 0..255 pixels), and every
    translation would be squashed into it.
    """


class RestoredOnCPUWarning(M2MWarning):
    """A sampler fitted on a GPU was unpickled where that GPU is not available.

    Its torch attributes (``g_``, ``f_``) were loaded on the CPU and ``device_`` is now
    ``'cpu'``.
    """


class NoProcessGroupWarning(M2MWarning):
    """``distributed=True`` but no ``torch.distributed`` process group is initialised.

    :class:`~m2m_sampler.M2MOverSampler` then translates in this process only.
    """


class MemoryBudgetWarning(M2MWarning):
    """An over-sampler's output would exceed the memory budget.

    Issued before any translation by
    :func:`~m2m_sampler.engine.memory.check_resampled_size` when the dense output would
    exceed :data:`~m2m_sampler.engine.memory.OUTPUT_MEMORY_BUDGET`; the message gives its
    size and the peak while it is built.
    """


class DeferredPhaseWarning(M2MWarning):
    """The deferred phase trains at a rate too small to change the network.

    Issued by :class:`~m2m_sampler.M2MClassifier` when the learning-rate schedule gives the
    epochs from ``start_epoch`` on less than
    :data:`~m2m_sampler.training.schedules.MIN_DEFERRED_LR_BUDGET` epochs' worth of
    base-rate steps (see :func:`~m2m_sampler.training.schedules.deferred_lr_budget`).
    """


class DeferredPhaseNotReachedWarning(M2MWarning):
    """A fit ends before ``start_epoch``: it runs no M2m epoch.

    Issued by :class:`~m2m_sampler.M2MClassifier` when the epochs of a fit do not reach
    ``start_epoch``: no class-balanced batches, no generation (and ``g`` is not trained
    when it would be). ``partial_fit`` can continue the schedule later.
    """


class ItemByItemReadWarning(M2MWarning):
    """A dataset is read item by item, loading every input.

    Issued when a torch dataset has no faster access to what is needed: its labels for a
    class-balanced sampler (no ``targets`` attribute), or all its items for
    :class:`~m2m_sampler.DeviceLoader` (not a skorch ``Dataset`` nor a
    ``TensorDataset``).
    """


class CUDAGraphCaptureWarning(M2MWarning, RuntimeWarning):
    """Capturing the training step in a CUDA graph failed; training goes on without it.

    Also a ``RuntimeWarning``. The reason is kept on the capture object (``failed_``).
    """
