"""Multi-process (DDP) training of the nets through skorch's ``AccelerateMixin``.

:class:`AcceleratedNetClassifier` and :class:`AcceleratedM2MClassifier` are
:class:`~m2m_sampler.net.NetClassifier` and :class:`~m2m_sampler.M2MClassifier` with
skorch's :class:`~skorch.hf.AccelerateMixin` (Hugging Face accelerate) and
:class:`DistributedMixin`, which adds what several processes need:

* **sharded training batches.** accelerate shards the ``DataLoader`` it is given, but
  the nets' training iterators wrap skorch's loader (the batch preparation of
  :class:`~m2m_sampler.training.speed.SpeedMixin`, the generation of ``M2MClassifier``), which
  accelerate returns unchanged. Here skorch's loader is prepared where skorch builds it
  (:class:`AcceleratedLoaders`, right above skorch's ``NeuralNet`` in the method order),
  so every rank iterates its own batches of one global order and the wrappers work on
  them. The class-balanced sampler of the re-sampling is sharded this way: accelerate
  gives it a generator it synchronises across ranks, every rank draws the same global
  epoch and keeps its own batches (rank ``r`` the batches ``r, r + P, ...``);
* **summed history.** :class:`ReduceHistory` reduces the epoch's history row over
  processes: the generation's counts are summed, the times are the slowest rank's and
  ``train_loss`` the mean of the ranks' losses; every rank ends with the same history;
* **generation per rank** (``AcceleratedM2MClassifier``): each rank generates on its own
  batches with its own stream (seeded from ``random_state`` and its rank); ``N_k`` are the
  counts of the whole training set; ``g`` is replicated (a frozen copy on every device);
  the ``lam`` term takes the local replica of the live ``f`` (identical on every rank
  under DDP), without the DDP wrapper;
* **one autocast.** Mixed precision comes from the ``Accelerator``
  (``mixed_precision='bf16'``), for the training step, ``g`` and the translation; the
  net's own ``amp_dtype`` must then stay ``None``.

Launch the training script with ``accelerate launch`` or ``torchrun`` (see
docs/multi_gpu.md); in a single process the classes train like the plain nets.
"""

from __future__ import annotations

import numbers
from typing import Any

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.hf import AccelerateMixin

from .classifier import M2MClassifier
from .net import NetClassifier
from .training.generation_log import HISTORY_KEYS, PAIRS_KEY
from .training.seeding import derive_seed
from .training.timing import TIMING_KEYS

__all__ = [
    "AcceleratedLoaders",
    "AcceleratedM2MClassifier",
    "AcceleratedNetClassifier",
    "DistributedMixin",
    "ReduceHistory",
]

#: History columns summed over processes (the generation's counts).
SUMMED_KEYS = tuple(k for k in HISTORY_KEYS if k not in ("m2m_active",) and "time" not in k)
#: History columns that take the slowest process's value (wall times).
MAX_KEYS = ("m2m_translate_time", "m2m_generation_time", *TIMING_KEYS, "dur")
#: History columns averaged over processes (per-rank means of equally sized shards).
MEAN_KEYS = ("train_loss",)


class ReduceHistory(Callback):
    """Reduce the epoch's history row over the processes of an accelerate run.

    At the end of every epoch, on every rank (it is a collective call), the columns
    ``sum_keys`` are summed, ``max_keys`` take the largest value and ``mean_keys`` the
    mean over processes; columns the row does not hold are skipped. The matrix of
    accepted translations per class pair (``m2m_accepted_pairs``) is summed too. The averaged ones
    are losses: their ``<key>_best`` flag is set again from the averaged values. Every
    rank then has the same values in these columns, so callbacks that run after it
    (checkpoints, early stopping, the print log) decide the same on every rank. Does
    nothing in a single process.

    Register it after the callbacks that write these columns (the default callbacks
    of :class:`DistributedMixin` do).

    Parameters
    ----------
    sum_keys, max_keys, mean_keys : sequence of str
        The columns to sum, to maximise and to average.

    Attributes
    ----------
    local_history_ : list of dict
        This rank's own values of the reduced columns, one dict per epoch of the fit.
    """

    def __init__(
        self,
        sum_keys: tuple[str, ...] = SUMMED_KEYS,
        max_keys: tuple[str, ...] = MAX_KEYS,
        mean_keys: tuple[str, ...] = MEAN_KEYS,
    ) -> None:
        self.sum_keys = sum_keys
        self.max_keys = max_keys
        self.mean_keys = mean_keys

    def initialize(self) -> ReduceHistory:
        """Forget the local values of earlier fits."""
        self.local_history_: list[dict[str, Any]] = []
        return self

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        """Reduce this epoch's row over processes (a collective call)."""
        row = net.history[-1]
        ops = [(k, "sum") for k in self.sum_keys]
        ops += [(k, "max") for k in self.max_keys] + [(k, "mean") for k in self.mean_keys]
        ops = [(k, op) for k, op in ops if k in row]
        local = {k: row[k] for k, _ in ops}
        if PAIRS_KEY in row:
            local[PAIRS_KEY] = row[PAIRS_KEY]
        self.local_history_.append(local)
        accelerator = net.accelerator
        if accelerator.num_processes == 1:
            return
        if PAIRS_KEY in row:  # accepted translations per class pair: summed
            pairs = torch.tensor([row[PAIRS_KEY]], dtype=torch.int64, device=accelerator.device)
            net.history.record(PAIRS_KEY, accelerator.gather(pairs).sum(0).cpu().tolist())
        if not ops:
            return
        values = torch.tensor(
            [[float(row[k]) for k, _ in ops]], dtype=torch.float64, device=accelerator.device
        )
        everyone = accelerator.gather(values).cpu()  # (n_processes, n_columns)
        for i, (key, op) in enumerate(ops):
            column = everyone[:, i]
            value = {"sum": column.sum, "max": column.max, "mean": column.mean}[op]().item()
            if isinstance(row[key], numbers.Integral) and op != "mean":
                value = int(round(value))
            net.history.record(key, value)
            if op == "mean" and f"{key}_best" in row:  # a loss: lower is better
                earlier = [r[key] for r in net.history[:-1] if key in r]
                net.history.record(f"{key}_best", not earlier or value < min(earlier))


def _silent(*args: Any, **kwargs: Any) -> None:
    """The print log's sink on the processes other than the main one."""


class AcceleratedLoaders(NeuralNet):
    """skorch's ``get_iterator`` with the ``DataLoader`` prepared by the accelerator.

    A base placed right above skorch's ``NeuralNet`` in the method order (list it
    after the net class: ``class Net(AccelerateMixin, NetClassifier,
    AcceleratedLoaders)``), so the loader skorch builds is sharded by accelerate before
    the nets' own iterator wrappers see it. accelerate does not prepare a loader twice,
    so ``AccelerateMixin``'s own ``prepare`` of the outer iterator changes nothing.
    """

    def get_iterator(self, dataset: Any, training: bool = False):
        """skorch's ``DataLoader``, prepared (sharded, device placement) by the accelerator.

        Raises
        ------
        TypeError
            With several processes, if the iterator is not a torch ``DataLoader``
            (e.g. :class:`~m2m_sampler.training.device_data.DeviceLoader`): accelerate cannot
            shard it, and every rank would train on all the data.
        """
        iterator = super().get_iterator(dataset, training=training)
        n_processes = self.accelerator.num_processes
        if n_processes > 1 and not isinstance(iterator, torch.utils.data.DataLoader):
            prefix = "iterator_train" if training else "iterator_valid"
            raise TypeError(
                f"{prefix}={type(iterator).__name__} is not a torch DataLoader: accelerate "
                f"cannot shard it over the {n_processes} processes, and every process would "
                f"train on all the data; use {prefix}=torch.utils.data.DataLoader (skorch's "
                "default) with several processes."
            )
        return self.accelerator.prepare(iterator)


class DistributedMixin:
    """What a net needs on top of ``AccelerateMixin`` to train on several processes.

    Use it first, with skorch's ``AccelerateMixin``, a net of this library and
    :class:`AcceleratedLoaders` (as :class:`AcceleratedNetClassifier` and
    :class:`AcceleratedM2MClassifier` do). It adds the default callback
    ``reduce_history`` (:class:`ReduceHistory`), prints the log on the main process only
    (obeying ``verbose``), prepares the modules that do not train without DDP, and
    checks the options that do not combine with several processes: the net's own
    ``amp_dtype`` together with the accelerator's mixed precision (two autocasts), and
    ``cuda_graph``.
    """

    @property
    def _default_callbacks(self):
        return [*super()._default_callbacks, ("reduce_history", ReduceHistory())]

    def _initialize_callbacks(self):
        # AccelerateMixin's 'auto' sink is accelerator.print, which skorch's PrintLog
        # calls whatever ``verbose`` says; print on the main process obeys it.
        if self.callbacks__print_log__sink == "auto":
            main = self.accelerator.is_main_process
            self.callbacks__print_log__sink = print if main else _silent
        return super()._initialize_callbacks()

    def _initialize_accelerator(self):
        """``AccelerateMixin``'s preparation, without DDP for modules that do not train.

        accelerate wraps every prepared module in ``DistributedDataParallel`` on
        multi-CPU runs, which refuses modules without trainable parameters (a loss,
        the frozen ``g_``). Those are prepared for evaluation instead
        (``Accelerator.prepare_model(..., evaluation_mode=True)``: device placement and
        mixed precision, no DDP), as accelerate does on GPUs.
        """
        if self._wrapped_with_accelerator:
            return self
        frozen = [
            name
            for name in (*self._modules, *self._criteria)
            if isinstance(getattr(self, name + "_", None), torch.nn.Module)
            and not any(p.requires_grad for p in getattr(self, name + "_").parameters())
        ]
        modules, criteria = self._modules, self._criteria
        self._modules = [name for name in modules if name not in frozen]
        self._criteria = [name for name in criteria if name not in frozen]
        try:
            super()._initialize_accelerator()
        finally:
            self._modules, self._criteria = modules, criteria
        for name in frozen:
            module = getattr(self, name + "_")
            prepared = self.accelerator.prepare_model(module, evaluation_mode=True)
            if prepared is not module:  # e.g. torch.compile configured in the accelerator
                context = "criterion" if name in criteria else "module"
                with self._current_init_context(context):
                    setattr(self, name + "_", prepared)
        return self

    def _validate_params(self) -> None:
        super()._validate_params()
        mixed = str(getattr(self.accelerator, "mixed_precision", "no"))
        if self.amp_dtype is not None and mixed != "no":
            raise ValueError(
                f"amp_dtype={self.amp_dtype} and the accelerator's mixed_precision={mixed!r} "
                "would autocast twice; leave amp_dtype=None and let the Accelerator do "
                "mixed precision."
            )
        if self.cuda_graph and self.accelerator.num_processes > 1:
            raise ValueError(
                "cuda_graph=True records the forward of an unwrapped module and cannot "
                "replay a DistributedDataParallel step; pass cuda_graph=False."
            )


class AcceleratedNetClassifier(
    DistributedMixin, AccelerateMixin, NetClassifier, AcceleratedLoaders
):
    """:class:`~m2m_sampler.net.NetClassifier` trained with Hugging Face accelerate (DDP).

    Parameters
    ----------
    accelerator : accelerate.Accelerator
        Devices, processes and mixed precision (``mixed_precision='bf16'``).
    **kwargs
        Everything :class:`~m2m_sampler.net.NetClassifier` and skorch's
        ``AccelerateMixin`` accept (leave ``device=None``).

    Notes
    -----
    Each process trains on its shard of every epoch (``batch_size`` per process: ``P``
    processes with ``batch_size=B`` take the steps of one process with ``P * B``);
    gradients are averaged by DDP; the history is reduced over processes
    (:class:`ReduceHistory`) and only the main process prints and saves.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from accelerate import Accelerator
    >>> from m2m_sampler.longtail.models import MLP
    >>> X = np.random.default_rng(0).random((64, 4), dtype=np.float32)
    >>> y = np.repeat([0, 1], [40, 24])
    >>> net = AcceleratedNetClassifier(MLP, accelerator=Accelerator(cpu=True),
    ...                                module__n_features=4, module__n_classes=2,
    ...                                max_epochs=2, verbose=0).fit(X, y)
    >>> len(net.history)
    2
    """


class AcceleratedM2MClassifier(
    DistributedMixin, AccelerateMixin, M2MClassifier, AcceleratedLoaders
):
    """:class:`~m2m_sampler.M2MClassifier` trained with Hugging Face accelerate (DDP).

    Each process generates on its own batches (with its own random stream, derived from
    ``random_state`` and its rank), with the class counts ``N_k`` of the whole training
    set, ``g`` replicated on every device and the local replica of the live ``f`` for the
    ``lam`` term. The class-balanced re-sampling after ``start_epoch`` is sharded: the
    ranks draw different batches of one class-balanced epoch. The generation's history
    counts (``m2m_targets``, ``m2m_accepted``, ...) are summed over processes. The run is
    deterministic for a given ``random_state``, ``torch.manual_seed`` (the same on every
    rank) and number of processes.

    Parameters
    ----------
    accelerator : accelerate.Accelerator
        Devices, processes and mixed precision (``mixed_precision='bf16'``; it also
        applies to ``g`` and ``f`` in the translation).
    **kwargs
        Everything :class:`~m2m_sampler.M2MClassifier` and skorch's ``AccelerateMixin``
        accept (leave ``device=None``).
    """

    def get_translation_f(self) -> torch.nn.Module:
        """The local replica of the live ``f``, without the DDP wrapper.

        The translation takes input gradients through ``f``; a DDP forward would wait for
        a parameter backward that never comes. The replica has the weights every rank
        has, and keeps accelerate's mixed-precision forward.
        """
        return self.accelerator.unwrap_model(self.module_)

    def get_generation_seed(self, n_epochs: int) -> int:
        """``M2MClassifier``'s; with several processes, one generation stream per rank."""
        seed = super().get_generation_seed(n_epochs)
        accelerator = self.accelerator
        if accelerator.num_processes == 1:
            return seed
        return derive_seed(seed, accelerator.process_index)
