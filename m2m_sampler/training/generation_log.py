"""``GenerationLog``: what the online generation did in each epoch, as history columns.

A skorch callback in the manner of skorch's ``EpochTimer``: it owns the epoch's totals
(reset in ``initialize`` and at every epoch), is told about every engine call by
:class:`~m2m_sampler.M2MClassifier`'s training iterator (:meth:`GenerationLog.add`), and
writes its columns at the end of the epoch: every epoch, zeros while the generation is
off. An epoch interrupted by ``KeyboardInterrupt`` (skorch ends the fit cleanly) gets
the columns of the batches that ran, in ``on_train_end``. Over a whole ``fit`` /
``partial_fit`` call it also adds up, per (source class, target class) pair, the
translations sourced, tried and accepted (:meth:`GenerationLog.pair_counts`), and per
target class the targets without a source, from which :class:`~m2m_sampler.M2MClassifier`
builds its ``class_stats_`` and ``accepted_pairs_`` (:meth:`GenerationLog.class_stats`,
the record of :mod:`m2m_sampler.engine.acceptance`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from skorch.callbacks import Callback

from ..engine.acceptance import pair_class_stats
from ..engine.generation import GenerationResult

__all__ = ["HISTORY_KEYS", "PAIRS_KEY", "PAIR_COUNTS", "GenerationLog"]

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

#: The counts kept per (source class, target class): targets given a source, those that
#: survived the beta draw (translated), and the accepted translations.
PAIR_COUNTS = ("sourced", "translated", "accepted")

#: Columns summed from :class:`~m2m_sampler.engine.generation.GenerationResult` counts.
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
        The current epoch's counts per :data:`PAIR_COUNTS` and ``source * n_classes +
        target``, shape ``(3, n_classes**2)`` (on the device of the labels; None before the
        first counted batch, and again once the epoch's row is written, so that no device
        tensor stays in the net and it pickles on a machine without that device).
    fit_pairs_ : ndarray of shape (3, n_classes, n_classes) or None
        The same counts over the current ``fit`` / ``partial_fit`` call (reset in
        ``on_train_begin``), ``[count, source class, target class]``.
    no_source_, fit_no_source_ : torch.Tensor, ndarray of shape (n_classes,) or None
        Targets without a source in their batch, per target class: in the current
        epoch (as ``pairs_``) and over the current call (as ``fit_pairs_``).
    """

    def on_train_begin(self, net: Any, **kwargs: Any) -> None:
        """Start the fit's pair counts at zero."""
        self.fit_pairs_: np.ndarray | None = None
        self.fit_no_source_: np.ndarray | None = None

    def class_stats(self, classes: Any) -> dict[Any, dict[str, int]]:
        """The fit's acceptance record per target class (``class_stats_``).

        Parameters
        ----------
        classes : sequence
            The class labels, in index order.

        Returns
        -------
        dict
            Label -> :func:`~m2m_sampler.engine.acceptance.class_record`, every class.
        """
        n_classes = len(classes)
        no_source = getattr(self, "fit_no_source_", None)
        if no_source is None:
            no_source = np.zeros(n_classes, dtype=np.int64)
        pairs = self.pair_counts(n_classes)
        return pair_class_stats(classes, pairs["sourced"], pairs["translated"],
                                pairs["accepted"], no_source)

    def pair_counts(self, n_classes: int) -> dict[str, np.ndarray]:
        """The fit's pair counts, ``[source, target]`` int64 arrays by :data:`PAIR_COUNTS`.

        Parameters
        ----------
        n_classes : int

        Returns
        -------
        dict
            ``"sourced"``, ``"translated"``, ``"accepted"``: arrays of shape
            ``(n_classes, n_classes)`` (zeros when nothing was counted).
        """
        pairs = getattr(self, "fit_pairs_", None)
        if pairs is None:
            pairs = np.zeros((len(PAIR_COUNTS), n_classes, n_classes), dtype=np.int64)
        return {key: pairs[i].copy() for i, key in enumerate(PAIR_COUNTS)}

    def initialize(self) -> GenerationLog:
        """Reset the epoch's totals."""
        self.active_ = False
        self.totals_: dict[str, int | float] = dict.fromkeys(HISTORY_KEYS[1:-2], 0)
        self.totals_["m2m_translate_time"] = 0.0
        self.totals_["m2m_generation_time"] = 0.0
        self.pairs_: torch.Tensor | None = None
        self.no_source_: torch.Tensor | None = None
        return self

    def add(
        self,
        result: GenerationResult,
        n_entries: int,
        seconds: float,
        labels: Sequence[torch.Tensor] | None = None,
        n_classes: int | None = None,
    ) -> None:
        """Count one call of :func:`~m2m_sampler.engine.generation.generate_batches`.

        Parameters
        ----------
        result : GenerationResult
        n_entries : int
            Entries of the batches given to the call.
        seconds : float
            Wall time of the whole generation step (``m2m_generation_time``).
        labels : sequence of torch.Tensor, optional
            The class indices of every batch given to the call (for
            ``m2m_accepted_pairs`` and :meth:`pair_counts`; counted on their device, no
            synchronisation).
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
        n_pairs = n_classes**2
        no_sources = result.no_source or [None] * len(labels)
        for y, target, source, survived, acc, no_source in zip(
            labels, result.target_pos, result.source_pos, result.survived_beta, result.accepted,
            no_sources,
        ):
            y = y.to(device=acc.device, dtype=torch.long)
            if no_source is not None:
                per_class = torch.zeros(n_classes, dtype=torch.long, device=acc.device)
                per_class.index_add_(0, y, no_source.to(device=acc.device, dtype=torch.long))
                earlier = getattr(self, "no_source_", None)
                self.no_source_ = per_class if earlier is None else earlier + per_class
            pair = y[source] * n_classes + y[target]
            counts = torch.stack(
                [
                    torch.bincount(pair, minlength=n_pairs),
                    torch.bincount(pair[survived], minlength=n_pairs),
                    torch.bincount(pair[acc], minlength=n_pairs),
                ]
            )
            self.pairs_ = counts if self.pairs_ is None else self.pairs_ + counts

    def on_epoch_begin(self, net: Any, **kwargs: Any) -> None:
        """Start the epoch's totals at zero."""
        self.initialize()

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        """Record the epoch's totals in the history."""
        net.history.record("m2m_active", bool(self.active_))
        for key, value in self.totals_.items():
            net.history.record(key, value)
        n_classes = len(getattr(net, "classes_", ()))
        shape = (len(PAIR_COUNTS), n_classes, n_classes)
        if self.pairs_ is None:
            pairs = np.zeros(shape, dtype=np.int64)
        else:
            pairs = self.pairs_.reshape(shape).cpu().numpy().astype(np.int64)
        net.history.record(PAIRS_KEY, pairs[PAIR_COUNTS.index("accepted")].tolist())
        fit_pairs = getattr(self, "fit_pairs_", None)
        self.fit_pairs_ = pairs if fit_pairs is None else fit_pairs + pairs
        self.pairs_ = None
        if getattr(self, "no_source_", None) is not None:
            no_source = self.no_source_.cpu().numpy().astype(np.int64)
            fit_no_source = getattr(self, "fit_no_source_", None)
            self.fit_no_source_ = (
                no_source if fit_no_source is None else fit_no_source + no_source)
            self.no_source_ = None

    def on_train_end(self, net: Any, **kwargs: Any) -> None:
        """An epoch cut short (``KeyboardInterrupt``, which skorch catches) gets its row too.

        Its columns then count the batches that ran, so every history row has them.
        """
        if len(net.history) and "m2m_active" not in net.history[-1]:
            self.on_epoch_end(net)
