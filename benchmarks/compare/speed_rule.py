"""How the user-CSV path of ``benchmarks.compare`` trains fast: batch and learning rate by rule.

With torch's ``DataLoader`` at batch 64, skorch spends more time building batches (one
``Dataset.__getitem__`` and a collate per sample) and stepping the optimiser than
computing. For CSV input, when ``--batch-size`` is not given:

* batches are slices of the training tensors
  (:class:`~m2m_sampler.training.device_data.DeviceLoader`), not collated sample by sample;
* the batch size gives about :data:`BATCHES_PER_EPOCH` batches per epoch of the training
  part: ``2 ** round(log2(n_train / 16))``, between :data:`MIN_BATCH` and
  :data:`MAX_BATCH` (up to about 1,450 training rows keep batch 64);
* the learning rate grows with the batch: ``lr * batch / 64`` (the linear scaling rule,
  Goyal et al., 2017); the epochs stay ``TrainParams.epochs``.

Measured in ``benchmarks/results/csv_speed`` (``docs/benchmarks.md``): batch 256 with the
learning rate x4 kept the accuracy of batch 64 on optdigits and satimage at about a third
of the CPU time. Digits-LT and the lab's shared tables keep batch 64 and torch's
``DataLoader``, so their committed results stay bit-identical.
"""

from __future__ import annotations

import math
from dataclasses import replace

from benchmarks.compare.methods import TrainParams

__all__ = ["BATCHES_PER_EPOCH", "MAX_BATCH", "MIN_BATCH", "csv_batch_size", "fast_train_params"]

#: Target number of batches per epoch of the training part.
BATCHES_PER_EPOCH = 16
#: Bounds of the rule's batch size; ``MIN_BATCH`` is also the batch of the given ``lr``.
MIN_BATCH = 64
MAX_BATCH = 256


def csv_batch_size(n_train: int) -> int:
    """The rule's batch size for ``n_train`` training rows.

    Parameters
    ----------
    n_train : int
        Rows of the training part (before any re-sampling).

    Returns
    -------
    int
        ``2 ** round(log2(n_train / BATCHES_PER_EPOCH))`` clipped to
        ``[MIN_BATCH, MAX_BATCH]``.

    Examples
    --------
    >>> [csv_batch_size(n) for n in (500, 2000, 3934, 100_000)]
    [64, 128, 256, 256]
    """
    if n_train < 1:
        raise ValueError(f"n_train must be positive; got {n_train}.")
    size = 2 ** round(math.log2(n_train / BATCHES_PER_EPOCH))
    return int(min(MAX_BATCH, max(MIN_BATCH, size)))


def fast_train_params(train: TrainParams, n_train: int) -> TrainParams:
    """``train`` with the rule's batch size, its learning rate and tensor batches.

    Parameters
    ----------
    train : TrainParams
    n_train : int

    Returns
    -------
    TrainParams
        A copy (``train`` is not modified): ``batch_size = csv_batch_size(n_train)``,
        ``lr = train.lr * batch_size / MIN_BATCH``, ``tensor_loader=True``.
    """
    batch = csv_batch_size(n_train)
    return replace(train, batch_size=batch, lr=train.lr * batch / MIN_BATCH, tensor_loader=True)
