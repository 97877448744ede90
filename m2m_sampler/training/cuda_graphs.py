"""CUDA-graph replay of a network's training forward and backward pass.

At CIFAR batch sizes a ResNet-32 step on a modern GPU is launch-bound: the GPU waits for
the ~300 kernel launches of the forward and backward passes issued one by one from
Python. :class:`GraphedTrainingForward` records the module's training forward and
backward once per input shape with :func:`torch.cuda.make_graphed_callables` and then
replays them as two graph launches. Parameters, gradients, BatchNorm statistics and the
optimizer stay exactly where they are; only the launch overhead goes away.

Used by :class:`~m2m_sampler.training.speed.SpeedMixin` (``cuda_graph=True`` of ``NetClassifier``
and ``M2MClassifier``) for the full-size training batches; other batch sizes,
evaluation and the M2m translation run the module eagerly.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from ..exceptions import CUDAGraphCaptureWarning

__all__ = ["GraphedTrainingForward"]


class _Forward(nn.Module):
    """``module(x)`` (optionally under autocast): the callable that gets graphed.

    A separate wrapper so that graphing patches its ``forward``, never the user's
    module; it shares the module's parameters and buffers.
    """

    def __init__(self, module: nn.Module, amp_dtype: torch.dtype | None) -> None:
        super().__init__()
        self.module = module
        self.amp_dtype = amp_dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.amp_dtype is None:
            return self.module(x)
        # Graph capture needs the autocast cast cache off.
        with torch.autocast(x.device.type, dtype=self.amp_dtype, cache_enabled=False):
            return self.module(x)


class GraphedTrainingForward:
    """Training forward + backward of ``module`` replayed from a CUDA graph.

    Call it with a training batch: it returns the module's output (differentiable with
    respect to the module's parameters, through the recorded backward graph) or
    ``None`` when the batch cannot use a graph (then run the module as usual). A graph
    is recorded on the first call with a new input shape, for at most ``max_graphs``
    shapes and only for batches of ``batch_size`` samples (``None``: any).

    Parameters
    ----------
    module : torch.nn.Module
        On a CUDA device, in train mode when called; its parameters must all keep their
        ``requires_grad`` flag and device for the life of this object (in-place updates,
        ``load_state_dict`` included, are fine).
    amp_dtype : torch.dtype or None, default=None
        Record the forward under :func:`torch.autocast` with this dtype.
    batch_size : int or None, default=None
        Only batches of this size are graphed.
    max_graphs : int, default=1
        Distinct input shapes recorded at most.

    Attributes
    ----------
    n_captured_ : int
        Graphs recorded so far.
    n_replayed_ : int
        Calls served by a graph.
    failed_ : str or None
        Why recording failed (then every call returns ``None``); a warning is issued once.

    Notes
    -----
    :func:`~torch.cuda.make_graphed_callables` runs three warm-up forward/backward
    passes before recording; they do not touch the parameters or their ``.grad``, and
    the BatchNorm running statistics they would move are restored. The returned output
    is a copy, so it stays valid after the next replay. Graph memory is private to each
    recorded shape.
    """

    #: Device types whose batches are graphed, and the recording function (both class
    #: attributes so that the routing logic can be exercised without a GPU).
    graph_device_types: tuple[str, ...] = ("cuda",)
    make_graphed = staticmethod(torch.cuda.make_graphed_callables)

    def __init__(
        self,
        module: nn.Module,
        amp_dtype: torch.dtype | None = None,
        batch_size: int | None = None,
        max_graphs: int = 1,
    ) -> None:
        self.module = module
        self.amp_dtype = amp_dtype
        self.batch_size = batch_size
        self.max_graphs = max_graphs
        self._graphs: dict[tuple, nn.Module] = {}
        self.n_captured_ = 0
        self.n_replayed_ = 0
        self.failed_: str | None = None

    def _key(self, x: torch.Tensor) -> tuple:
        channels_last = x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last)
        return (tuple(x.shape), x.dtype, str(x.device), channels_last)

    def eligible(self, x: torch.Tensor) -> bool:
        """Whether ``x`` can be served by a (recorded or new) graph."""
        if self.failed_ is not None or not isinstance(x, torch.Tensor):
            return False
        if x.device.type not in self.graph_device_types:
            return False
        if x.requires_grad or not self.module.training:
            return False
        if not torch.is_grad_enabled():
            return False
        if self.batch_size is not None and x.shape[0] != self.batch_size:
            return False
        return self._key(x) in self._graphs or len(self._graphs) < self.max_graphs

    def __call__(self, x: torch.Tensor) -> torch.Tensor | None:
        if not self.eligible(x):
            return None
        key = self._key(x)
        graphed = self._graphs.get(key)
        if graphed is None:
            graphed = self._capture(x)
            if graphed is None:
                return None
            self._graphs[key] = graphed
        self.n_replayed_ += 1
        return graphed(x).clone()

    def _capture(self, x: torch.Tensor) -> nn.Module | None:
        wrapper = _Forward(self.module, self.amp_dtype).train()
        buffers = [b.detach().clone() for b in self.module.buffers()]
        try:
            with torch.enable_grad():
                graphed = self.make_graphed(wrapper, (x.detach().clone(),))
        except Exception as exc:  # a failed capture must not stop training
            self.failed_ = f"{type(exc).__name__}: {exc}"
            warnings.warn(
                f"CUDA graph capture of the training step failed ({self.failed_}); "
                "training continues without CUDA graphs.",
                CUDAGraphCaptureWarning,
                stacklevel=4,
            )
            return None
        finally:
            with torch.no_grad():
                for b, saved in zip(self.module.buffers(), buffers):
                    b.copy_(saved)
        self.n_captured_ += 1
        return graphed
