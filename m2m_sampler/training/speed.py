"""``SpeedMixin``: the GPU speed options as a mixin for any skorch net.

Modelled on skorch's ``AccelerateMixin`` (``skorch/hf.py``): it overrides a handful of
documented skorch hooks and calls ``super()`` in each, so it composes with any skorch
net class and with other mixins (``AccelerateMixin`` included). ``train_step_single``
and ``_step_optimizer`` (which ``AccelerateMixin`` replaces) are skorch's own except
with ``amp_dtype=torch.float16``, which needs a gradient scaler:

* ``initialize_module`` -- the module in the ``channels_last`` memory format;
* ``get_params_for`` -- a :class:`~m2m_sampler.training.device_data.DeviceLoader` as
  ``iterator_train`` / ``iterator_valid`` gets the net's device;
* ``get_iterator`` -- the training iterator moves every batch to the device and applies
  ``batch_transform`` and ``channels_last`` (so callbacks and train-side scorers see the
  batch that is trained on), and reports the time spent to a
  :class:`~m2m_sampler.training.timing.TrainingTimer` when one is registered;
* ``infer`` -- the forward pass under :func:`torch.autocast` (``amp_dtype``),
  ``channels_last`` inputs, and full-size training batches replayed from a CUDA graph
  (``cuda_graph``, :class:`~m2m_sampler.training.cuda_graphs.GraphedTrainingForward`);
* ``train_step_single`` / ``_step_optimizer`` -- with ``amp_dtype=torch.float16``, the
  loss scaling of :class:`torch.amp.GradScaler` (``grad_scaler_``): the scaled loss is
  back-propagated, the gradients are unscaled before ``on_grad_computed`` (so gradient
  clipping sees true gradients), and steps with non-finite gradients are skipped.

:class:`~m2m_sampler.net.NetClassifier` (and so :class:`~m2m_sampler.M2MClassifier`)
takes it: ERM, DRS and M2m run with the same speed options.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from .._compat import validate_parameter_constraints
from .._torch_utils import module_device
from ..engine.params import TRANSLATION_PARAMETER_CONSTRAINTS
from .cuda_graphs import GraphedTrainingForward
from .device_data import DeviceLoader
from .timing import TrainingTimer, synchronize

__all__ = ["SPEED_PARAMETER_CONSTRAINTS", "SpeedMixin", "batch_to_device", "training_device"]

#: Constraints of the speed options (scikit-learn style; ``amp_dtype`` is the one of
#: :mod:`~m2m_sampler.engine.params`). A bad value raises scikit-learn's
#: ``InvalidParameterError`` when the net is initialised or fitted.
SPEED_PARAMETER_CONSTRAINTS: dict[str, list] = {
    "amp_dtype": TRANSLATION_PARAMETER_CONSTRAINTS["amp_dtype"],
    "channels_last": ["boolean"],
    "cuda_graph": ["boolean"],
    "batch_transform": [None, callable],
}


def training_device(net: Any) -> torch.device:
    """The device a skorch net trains on: its ``device``, else where its module lives."""
    if net.device is not None:
        return torch.device(net.device)
    return module_device(net.module_)


def batch_to_device(batch: Any, device: torch.device, purpose: str) -> tuple:
    """``(X, y)`` with ``X`` (one tensor) and ``y`` (a tensor or None) on ``device``.

    ``purpose`` completes the error message: "<purpose> needs ... ".
    """
    if not isinstance(batch, tuple | list) or len(batch) != 2:
        raise TypeError(
            f"{purpose} needs training batches of the form (X, y); got {type(batch).__name__}."
        )
    x, y = batch
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{purpose} needs the training loader to yield X as one tensor, got "
            f"{type(x).__name__} (dict / multi-input X is not supported)."
        )
    x = x.to(device, non_blocking=True)
    if y is not None:
        y = to_tensor(y, device=device)
    return x, y


class _TrainingBatches:
    """The training iterator of a :class:`SpeedMixin` net: skorch's loader, each batch
    prepared (:meth:`SpeedMixin.prepare_batch`) and timed. Re-iterable, one pass per
    epoch; reads the net's settings at the start of every pass."""

    def __init__(self, net: Any, loader: Any, timer: TrainingTimer | None) -> None:
        self.net = net
        self.loader = loader
        self.timer = timer

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator:
        net, timer = self.net, self.timer
        prepare = net.batch_transform is not None or net.channels_last
        device = training_device(net) if timer is not None else None
        batches = iter(self.loader)
        while True:
            start = time.perf_counter()
            batch = next(batches, _END)
            if prepare and batch is not _END:
                batch = net.prepare_batch(batch)
            if timer is not None:
                synchronize(device)
                timer.add_data_time(time.perf_counter() - start)
            if batch is _END:
                return
            yield batch


_END = object()


class SpeedMixin:
    """Speed options for a skorch net: mixed precision, ``channels_last``, CUDA graphs and
    device-side batch transforms.

    Use it before a skorch net class (``class FastNet(SpeedMixin, NeuralNetClassifier)``);
    :class:`~m2m_sampler.net.NetClassifier` already has it. All options are off by
    default, and then the net trains exactly as without the mixin.

    Parameters
    ----------
    amp_dtype : torch.bfloat16, torch.float16 or None, default=None
        Mixed precision: :func:`torch.autocast` dtype (``torch.bfloat16`` on GPUs) for
        every forward pass of the module through the net (training steps, validation,
        ``predict``). Half-precision outputs are returned as float32, so the loss is
        computed in float32. ``torch.float16`` trains with a
        :class:`torch.amp.GradScaler` (``grad_scaler_``; optimizers that need a closure,
        such as LBFGS, are not supported then). ``None``: full precision.
    channels_last : bool, default=False
        Keep the module in the ``channels_last`` memory format and give it 4-D batches in
        it (faster convolutions on GPUs, with ``amp_dtype``). Numerically the same model.
    cuda_graph : bool, default=False
        Record the module's training forward and backward pass for the training batch
        size once in a CUDA graph and replay it for every full-size batch
        (:class:`~m2m_sampler.training.cuda_graphs.GraphedTrainingForward`): removes the kernel
        launch overhead that dominates small networks at batch sizes like 128. Needs a
        CUDA device (an error otherwise); the last, smaller batch and evaluation run
        eagerly. If recording fails, a ``RuntimeWarning`` says why and training goes on
        without graphs. The module's parameters must not be replaced during training
        (in-place updates are fine).
    batch_transform : callable or None, default=None
        Applied to every training input batch on the device, in every epoch, e.g.
        :class:`m2m_sampler.longtail.augment.RandomCropFlip`. Must return a tensor of the same
        batch size. The loader must yield ``(X, y)`` with ``X`` one tensor.

    Attributes
    ----------
    graphed_forward_ : GraphedTrainingForward or None
        The CUDA-graph replay of the training step (``cuda_graph=True``, after ``fit``):
        its ``n_captured_``, ``n_replayed_`` and ``failed_`` say what happened.
    grad_scaler_ : torch.amp.GradScaler or None
        The loss scaler of ``amp_dtype=torch.float16`` training (kept across
        ``partial_fit`` calls, reset by ``initialize``); None otherwise.

    Notes
    -----
    Batches are prepared in the training iterator (:meth:`get_iterator`), not in the
    training step: callbacks, the loss and cached train-side scorers see the batch that
    is trained on, and ``AccelerateMixin`` (which replaces ``train_step_single``)
    composes with it. The transform runs in the process that iterates the loader.
    """

    def __init__(
        self,
        *args: Any,
        amp_dtype: torch.dtype | None = None,
        channels_last: bool = False,
        cuda_graph: bool = False,
        batch_transform: Any = None,
        **kwargs: Any,
    ) -> None:
        # Set before skorch's __init__: afterwards skorch would register a torch module
        # given as batch_transform as a component of the net.
        self.amp_dtype = amp_dtype
        self.channels_last = channels_last
        self.cuda_graph = cuda_graph
        self.batch_transform = batch_transform
        super().__init__(*args, **kwargs)

    def __setattr__(self, name: str, attr: Any) -> None:
        # set_params(batch_transform=<torch module>) must not register a component.
        if name == "batch_transform":
            object.__setattr__(self, name, attr)
            return
        super().__setattr__(name, attr)

    # ----------------------------------------------------------------- checks
    def _check_speed_params(self) -> None:
        validate_parameter_constraints(
            SPEED_PARAMETER_CONSTRAINTS,
            {name: getattr(self, name) for name in SPEED_PARAMETER_CONSTRAINTS},
            caller_name=type(self).__name__,
        )

    def _validate_params(self) -> None:
        super()._validate_params()
        self._check_speed_params()

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        """Check the speed options (``cuda_graph`` needs the net on a CUDA device)."""
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self._check_speed_params()
        device = training_device(self)
        if self.cuda_graph and device.type != "cuda":
            raise ValueError(
                f"cuda_graph=True records CUDA graphs but the net trains on {device}; set "
                "device='cuda' or cuda_graph=False."
            )
        if self.amp_dtype != torch.float16:
            self.grad_scaler_ = None
        elif getattr(self, "grad_scaler_", None) is None:
            self.grad_scaler_ = torch.amp.GradScaler(device.type)

    # ----------------------------------------------------------------- hooks
    def initialize_module(self):
        """skorch's ``initialize_module``; the module in ``channels_last`` if asked for."""
        super().initialize_module()
        if self.channels_last:
            self.module_ = self.module_.to(memory_format=torch.channels_last)
        self.graphed_forward_ = None
        self.grad_scaler_ = None
        return self

    def get_params_for(self, prefix: str) -> dict:
        """skorch's ``get_params_for``; a ``DeviceLoader`` iterator gets the net's device.

        A :class:`~m2m_sampler.training.device_data.DeviceLoader` as ``iterator_train`` or
        ``iterator_valid`` without an explicit ``iterator_*__device`` is given the
        net's device (``device``, else the module's).
        """
        params = super().get_params_for(prefix)
        if prefix in ("iterator_train", "iterator_valid") and params.get("device") is None:
            iterator = getattr(self, prefix)
            if isinstance(iterator, type) and issubclass(iterator, DeviceLoader):
                params["device"] = training_device(self)
        return params

    def get_iterator(self, dataset: Any, training: bool = False):
        """skorch's iterator; for training, batches prepared and timed.

        With ``batch_transform`` or ``channels_last``, every training batch goes through
        :meth:`prepare_batch`; with a :class:`~m2m_sampler.training.timing.TrainingTimer`
        registered, the time to produce it is reported to the timer. Otherwise skorch's
        iterator is returned as it is.
        """
        iterator = super().get_iterator(dataset, training=training)
        if not training:
            return iterator
        if self.cuda_graph:
            self._setup_cuda_graph(dataset)
        timer = next((cb for _, cb in getattr(self, "callbacks_", [])
                      if isinstance(cb, TrainingTimer)), None)
        if timer is None and self.batch_transform is None and not self.channels_last:
            return iterator
        return _TrainingBatches(self, iterator, timer)

    def prepare_batch(self, batch: Any) -> tuple:
        """One training batch as it is trained on: on the device, ``batch_transform``
        applied, 4-D inputs in ``channels_last`` (with ``channels_last=True``)."""
        x, y = batch_to_device(batch, training_device(self), "batch_transform / channels_last")
        if self.batch_transform is not None:
            x = self.batch_transform(x)
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def infer(self, x: Any, **fit_params: Any):
        """The module's forward, with ``channels_last``, ``amp_dtype`` and ``cuda_graph``.

        Without these options this is skorch's ``infer``. Otherwise 4-D inputs are made
        ``channels_last`` (``channels_last=True``), full-size training batches replay a
        CUDA graph (``cuda_graph=True``), and the forward runs under
        :func:`torch.autocast` with ``amp_dtype``; half-precision outputs are returned as
        float32, so losses and ``predict_proba`` see float32.
        """
        if self.amp_dtype is None and not self.channels_last and not self.cuda_graph:
            return super().infer(x, **fit_params)
        x = to_tensor(x, device=self.device)
        if isinstance(x, Mapping) or fit_params or not isinstance(x, torch.Tensor):
            with self._autocast(x):
                return _float_output(super().infer(x, **fit_params))
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        graphed = getattr(self, "graphed_forward_", None)
        if self.cuda_graph and graphed is not None and graphed.module is self.module_:
            out = graphed(x)
            if out is not None:
                return _float_output(out)
        with self._autocast(x):
            return _float_output(self.module_(x))

    def train_step_single(self, batch: Any, **fit_params: Any) -> dict:
        """skorch's ``train_step_single``; with ``grad_scaler_``, the loss is scaled for
        the backward pass and the gradients unscaled right after (the step's ``loss`` is
        the unscaled value)."""
        scaler = getattr(self, "grad_scaler_", None)
        if scaler is None:
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        scaler.scale(loss).backward()
        for name in self._optimizers:
            scaler.unscale_(getattr(self, name + "_"))
        return {"loss": loss, "y_pred": y_pred}

    def _step_optimizer(self, step_fn: Any) -> None:
        """skorch's optimizer step; with ``grad_scaler_``, ``GradScaler.step`` (skipped for
        non-finite gradients) and ``update``."""
        scaler = getattr(self, "grad_scaler_", None)
        if scaler is None or step_fn is None:
            return super()._step_optimizer(step_fn)
        step_fn()
        for name in self._optimizers:
            scaler.step(getattr(self, name + "_"))
        scaler.update()
        return None

    # ----------------------------------------------------------------- helpers
    def _autocast(self, x: Any):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        device = x.device if isinstance(x, torch.Tensor) else training_device(self)
        return torch.autocast(device_type=device.type, dtype=self.amp_dtype)

    def _setup_cuda_graph(self, dataset: Any) -> None:
        batch_size = super().get_params_for("iterator_train").get("batch_size", self.batch_size)
        if batch_size == -1:
            batch_size = len(dataset)
        graphed = getattr(self, "graphed_forward_", None)
        if (
            graphed is None
            or graphed.module is not self.module_
            or graphed.batch_size != batch_size
            or graphed.amp_dtype != self.amp_dtype
        ):
            self.graphed_forward_ = GraphedTrainingForward(
                self.module_, amp_dtype=self.amp_dtype, batch_size=batch_size
            )

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        # CUDA graphs cannot be pickled; they are recorded again when training goes on.
        state.pop("graphed_forward_", None)
        return state


def _float_output(out: Any) -> Any:
    if isinstance(out, torch.Tensor) and out.dtype in (torch.float16, torch.bfloat16):
        return out.float()
    return out
