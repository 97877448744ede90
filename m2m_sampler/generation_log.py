"""``GenerationLog``: what the online generation did in each epoch, as history columns.

A skorch callback in the manner of skorch's ``EpochTimer``: it owns the epoch's totals
(reset in ``initialize`` and at every epoch), is told about every engine call by
:class:`~m2m_sampler.M2MClassifier`'s training iterator (:meth:`GenerationLog.add`), and
writes its columns at the end of the epoch: every epoch, zeros while the generation is
off. An epoch interrupted by ``KeyboardInterrupt`` (skorch ends the fit cleanly) gets
the columns of the batches that ran, in ``on_train_end``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from skorch.callbacks import Callback

from .generation import GenerationResult

__all__ = ["HISTORY_KEYS", "PAIRS_KEY", "GenerationLog"]

#: The history columns written by :class:`GenerationLog` (every epoch).
HISTORY_KEYS = (
    "m2m_active",
    "m2m_entries",
    "m2m_targets",
    "m2m_no_source",
    "m2m_rejected_beta",
    "m2m_translated",
    "m2m_rejected_gamma",
    "m2m_accepted",
    "m2m_translate_time",
    "m2m_generation_time",
)

#: The history column of accepted translations per (source class, target class): a
#: ``n_classes x n_classes`` nested list of ints every epoch (all zeros while the
#: generation is off); row = source class index, column = target class index.
PAIRS_KEY = "m2m_accepted_pairs"

#: Columns summed from :class:`~m2m_sampler.generation.GenerationResult` counts.
_RESULT_COUNTS = {
    "m2m_targets": "n_targets",
    "m2m_no_source": "n_no_source",
    "m2m_rejected_beta": "n_rejected_beta",
    "m2m_translated": "n_translated",
    "m2m_rejected_gamma": "n_rejected_gamma",
    "m2m_accepted": "n_accepted",
}


class GenerationLog(Callback):
    """Per-epoch totals of the generation, recorded in the history.

    Columns: ``m2m_active`` (the generation ran), ``m2m_entries`` (batch entries trained
    on), ``m2m_targets`` (entries drawn as targets), ``m2m_no_source`` (targets without a
    larger class in their batch), ``m2m_rejected_beta`` (dropped by the Bernoulli draw,
    not translated), ``m2m_translated`` (sent to the engine), ``m2m_rejected_gamma``,
    ``m2m_accepted`` (slots replaced), ``m2m_translate_time`` (seconds in the engine) and
    ``m2m_generation_time`` (seconds of the whole generation: transfer, planning,
    engine, replacement). ``m2m_targets = m2m_no_source + m2m_rejected_beta +
    m2m_translated`` and ``m2m_translated = m2m_rejected_gamma + m2m_accepted``.

    Attributes
    ----------
    active_ : bool
        Whether the generation ran in the current epoch.
    totals_ : dict
        The current epoch's totals, by column name.
    pairs_ : torch.Tensor or None
        The current epoch's accepted translations per ``source * n_classes + target``
        (on the device of the labels; None before the first accepted batch, and again
        once the epoch's row is written, so that no device tensor stays in the net and it
        pickles on a machine without that device).
    """

    def initialize(self) -> GenerationLog:
        """Reset the epoch's totals."""
        self.active_ = False
        self.totals_: dict[str, int | float] = dict.fromkeys(HISTORY_KEYS[1:-2], 0)
        self.totals_["m2m_translate_time"] = 0.0
        self.totals_["m2m_generation_time"] = 0.0
        self.pairs_: torch.Tensor | None = None
        return self

    def add(
        self,
        result: GenerationResult,
        n_entries: int,
        seconds: float,
        labels: Sequence[torch.Tensor] | None = None,
        n_classes: int | None = None,
    ) -> None:
        """Count one call of :func:`~m2m_sampler.generation.generate_batches`.

        Parameters
        ----------
        result : GenerationResult
        n_entries : int
            Entries of the batches given to the call.
        seconds : float
            Wall time of the whole generation step (``m2m_generation_time``).
        labels : sequence of torch.Tensor, optional
            The class indices of every batch given to the call (for
            ``m2m_accepted_pairs``; counted on their device, no synchronisation).
        n_classes : int, optional
            Number of classes (required with ``labels``).
        """
        self.active_ = True
        totals = self.totals_
        totals["m2m_entries"] += int(n_entries)
        for column, attribute in _RESULT_COUNTS.items():
            totals[column] += getattr(result, attribute)
        totals["m2m_translate_time"] += result.translate_seconds
        totals["m2m_generation_time"] += seconds
        if labels is None:
            return
        for y, target, source, acc in zip(
            labels, result.target_pos, result.source_pos, result.accepted
        ):
            y = y.to(device=acc.device, dtype=torch.long)
            pairs = torch.bincount(
                y[source[acc]] * n_classes + y[target[acc]], minlength=n_classes**2
            )
            self.pairs_ = pairs if self.pairs_ is None else self.pairs_ + pairs

    def on_epoch_begin(self, net: Any, **kwargs: Any) -> None:
        """Start the epoch's totals at zero."""
        self.initialize()

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        """Record the epoch's totals in the history."""
        net.history.record("m2m_active", bool(self.active_))
        for key, value in self.totals_.items():
            net.history.record(key, value)
        n_classes = len(getattr(net, "classes_", ()))
        if self.pairs_ is None:
            pairs = [[0] * n_classes for _ in range(n_classes)]
        else:
            pairs = self.pairs_.reshape(n_classes, n_classes).tolist()
        net.history.record(PAIRS_KEY, pairs)
        self.pairs_ = None

    def on_train_end(self, net: Any, **kwargs: Any) -> None:
        """An epoch cut short (``KeyboardInterrupt``, which skorch catches) gets its row too.

        Its columns then count the batches that ran, so every history row has them.
        """
        if len(net.history) and "m2m_active" not in net.history[-1]:
            self.on_epoch_end(net)
