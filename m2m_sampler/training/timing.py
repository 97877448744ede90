"""``TrainingTimer``: where an epoch's time goes, as history columns.

A skorch callback in the manner of skorch's ``EpochTimer``: it owns its state (reset in
``initialize`` and at every epoch) and writes its own columns. Per epoch:

* ``m2m_data_time`` -- seconds spent producing the training batches (loader, device
  transfer, ``batch_transform``), measured by the training iterator of the nets of this
  package (:class:`~m2m_sampler.training.speed.SpeedMixin`), which reports to the timer; 0 on
  other nets;
* ``m2m_step_time`` -- seconds from the start to the end of every training step
  (forward, loss, backward, optimizer step, per-batch callbacks).

On CUDA both intervals end with a synchronisation, so they are device time too. With
``dur`` (skorch's epoch wall time) and, for :class:`~m2m_sampler.M2MClassifier`,
``m2m_generation_time`` they account for the epoch; the rest is validation, callbacks
and bookkeeping. :class:`~m2m_sampler.M2MClassifier` registers a timer by default;
add one to any other net with ``callbacks=[("timer", TrainingTimer())]``.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from skorch.callbacks import Callback

from .._torch_utils import synchronize

__all__ = ["TIMING_KEYS", "TrainingTimer", "synchronize"]

#: The history columns written by :class:`TrainingTimer` (every epoch).
TIMING_KEYS = ("m2m_data_time", "m2m_step_time")


class TrainingTimer(Callback):
    """Per-epoch seconds spent producing the training batches and in the training steps.

    Writes the history columns ``m2m_data_time`` and ``m2m_step_time`` (see the module
    docstring).

    Attributes
    ----------
    data_time_ : float
        Seconds of the current epoch spent producing training batches so far.
    step_time_ : float
        Seconds of the current epoch spent in training steps so far.
    """

    def initialize(self) -> TrainingTimer:
        """Reset the epoch's totals."""
        self.data_time_ = 0.0
        self.step_time_ = 0.0
        self.step_start_: float | None = None
        return self

    def add_data_time(self, seconds: float) -> None:
        """Count ``seconds`` spent producing training batches (called by the iterator)."""
        self.data_time_ += seconds

    def on_epoch_begin(self, net: Any, **kwargs: Any) -> None:
        """Start the epoch's totals at zero."""
        self.initialize()

    def on_batch_begin(self, net: Any, training: bool = False, **kwargs: Any) -> None:
        """Start the clock of a training step."""
        if training:
            self.step_start_ = time.perf_counter()

    def on_batch_end(self, net: Any, training: bool = False, y_pred: Any = None,
                     **kwargs: Any) -> None:
        """Stop the clock of a training step (after the device finished it)."""
        if training and self.step_start_ is not None:
            if isinstance(y_pred, torch.Tensor):
                synchronize(y_pred.device)
            self.step_time_ += time.perf_counter() - self.step_start_
            self.step_start_ = None

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        """Record the epoch's totals in the history."""
        net.history.record("m2m_data_time", self.data_time_)
        net.history.record("m2m_step_time", self.step_time_)

    def on_train_end(self, net: Any, **kwargs: Any) -> None:
        """An epoch cut short (``KeyboardInterrupt``) gets the times of the batches that ran."""
        if len(net.history) and "m2m_data_time" not in net.history[-1]:
            self.on_epoch_end(net)
