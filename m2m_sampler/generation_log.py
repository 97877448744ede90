"""``GenerationLog``: what the online generation did in each epoch, as history columns.

A skorch callback in the manner of skorch's ``EpochTimer``: it owns the epoch's totals
(reset in ``initialize`` and at every epoch), is told about every engine call by
:class:`~m2m_sampler.M2MClassifier`'s training iterator (:meth:`GenerationLog.add`), and
writes its columns at the end of the epoch: every epoch, zeros while the generation is
off. Over a whole ``fit`` / ``partial_fit`` call it also counts, per (source class,
target class) pair, the translations tried and accepted (:meth:`GenerationLog.pair_counts`),
from which :class:`~m2m_sampler.M2MClassifier` builds its ``class_stats_`` and
``pair_stats_``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from skorch.callbacks import Callback

from .generation import GenerationResult

__all__ = ["HISTORY_KEYS", "GenerationLog"]

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
    pairs_ : dict or None
        Over the current ``fit`` / ``partial_fit`` call (reset in ``on_train_begin``):
        ``"sourced"``, ``"translated"`` and ``"accepted"``, each a tensor of shape
        ``(n_classes, n_classes)`` counting the targets with a source, those that survived
        the beta draw, and the accepted translations, by [source class, target class]
        (class indices, the order of ``classes_``). None before the first counted call.
    """

    def on_train_begin(self, net: Any, **kwargs: Any) -> None:
        """Start the fit's pair counts at zero."""
        self.pairs_: dict[str, torch.Tensor] | None = None

    def _count_pairs(self, result: GenerationResult, batches: Sequence[Any]) -> None:
        for (_, y), tpos, spos, surv, acc in zip(batches, result.target_pos, result.source_pos,
                                                 result.survived_beta, result.accepted):
            y = torch.as_tensor(y)
            if not len(tpos):
                continue
            n = int(y.max().item()) + 1
            if self.pairs_ is not None:
                n = max(n, self.pairs_["sourced"].shape[0])
            pair = y[spos].long() * n + y[tpos].long()
            counts = {
                "sourced": torch.bincount(pair, minlength=n * n),
                "translated": torch.bincount(pair[surv], minlength=n * n),
                "accepted": torch.bincount(pair[acc], minlength=n * n),
            }
            if self.pairs_ is None:
                self.pairs_ = {k: v.view(n, n).cpu() for k, v in counts.items()}
                continue
            old = self.pairs_["sourced"].shape[0]
            for k, v in counts.items():
                grown = self.pairs_[k]
                if old < n:
                    grown = torch.zeros(n, n, dtype=grown.dtype)
                    grown[:old, :old] = self.pairs_[k]
                self.pairs_[k] = grown + v.view(n, n).cpu()

    def pair_counts(self, n_classes: int) -> dict[str, np.ndarray]:
        """The fit's pair counts as ``(n_classes, n_classes)`` int64 arrays.

        Parameters
        ----------
        n_classes : int

        Returns
        -------
        dict
            ``"sourced"``, ``"translated"``, ``"accepted"``: [source, target] counts.
        """
        out = {}
        for key in ("sourced", "translated", "accepted"):
            a = np.zeros((n_classes, n_classes), dtype=np.int64)
            pairs = getattr(self, "pairs_", None)
            if pairs is not None:
                m = min(n_classes, pairs[key].shape[0])
                a[:m, :m] = pairs[key][:m, :m].numpy()
            out[key] = a
        return out


    def initialize(self) -> GenerationLog:
        """Reset the epoch's totals."""
        self.active_ = False
        self.totals_: dict[str, int | float] = dict.fromkeys(HISTORY_KEYS[1:-2], 0)
        self.totals_["m2m_translate_time"] = 0.0
        self.totals_["m2m_generation_time"] = 0.0
        return self

    def add(
        self,
        result: GenerationResult,
        n_entries: int,
        seconds: float,
        batches: Sequence[Any] | None = None,
    ) -> None:
        """Count one call of :func:`~m2m_sampler.generation.generate_batches`.

        Parameters
        ----------
        result : GenerationResult
        n_entries : int
            Entries of the batches given to the call.
        seconds : float
            Wall time of the whole generation step (``m2m_generation_time``).
        batches : sequence of (x, y) or None, default=None
            The batches given to the call (``y``: class indices); with them the pair
            counts ``pairs_`` are updated.
        """
        self.active_ = True
        totals = self.totals_
        totals["m2m_entries"] += int(n_entries)
        for column, attribute in _RESULT_COUNTS.items():
            totals[column] += getattr(result, attribute)
        totals["m2m_translate_time"] += result.translate_seconds
        totals["m2m_generation_time"] += seconds
        if batches is not None:
            self._count_pairs(result, batches)

    def on_epoch_begin(self, net: Any, **kwargs: Any) -> None:
        """Start the epoch's totals at zero."""
        self.initialize()

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        """Record the epoch's totals in the history."""
        net.history.record("m2m_active", bool(self.active_))
        for key, value in self.totals_.items():
            net.history.record(key, value)
