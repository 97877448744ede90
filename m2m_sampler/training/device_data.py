"""Training data resident on the device: a skorch-pluggable loader that yields batch slices.

A :class:`torch.utils.data.DataLoader` builds every batch item by item (``dataset[i]``
then ``collate``) and copies it to the device: for CIFAR-sized images and a small
network this host-side work, not the GPU, sets the pace. :class:`DeviceLoader` instead
takes the dataset's ``X`` and ``y`` once, moves them to the device once (keeping
``uint8`` images as ``uint8``: 4x less memory and bandwidth than float32), and per epoch

1. draws the epoch's order in one call: a permutation (``shuffle=True``), the indices of
   a :class:`~m2m_sampler.training.sampling.ClassBalancedSampler` (drawn vectorised by
   :meth:`~m2m_sampler.training.sampling.ClassBalancedSampler.indices`, so deferred re-sampling
   and M2m's switch at ``start_epoch`` keep working), or the dataset order;
2. gathers ``gather_batches`` batches at a time with one indexing call, converts them
   (``uint8`` -> float in ``[0, 1]``), applies ``transform`` (e.g. the crop + flip of
   :class:`~m2m_sampler.longtail.augment.RandomCropFlip`) and, optionally, the ``channels_last``
   memory format;
3. yields ``(X[idx], y[idx])`` slices of that block.

No per-sample Python runs in the loop. It plugs into skorch as ``iterator_train`` and
``iterator_valid``; skorch passes the dataset (its ``Dataset`` or, after
``train_split``, a ``Subset``) and the ``iterator_train__*`` / ``iterator_valid__*``
parameters::

    net = M2MClassifier(
        ResNet32, device="cuda",
        iterator_train=DeviceLoader, iterator_train__dtype=torch.float32,
        iterator_train__transform=RandomCropFlip(),
        iterator_valid=DeviceLoader, iterator_valid__dtype=torch.float32,
        ...)
    net.fit(X_uint8, y)   # X_uint8: (n, 3, 32, 32) uint8

:class:`~m2m_sampler.net.NetClassifier` and :class:`~m2m_sampler.M2MClassifier` (their
:class:`~m2m_sampler.training.speed.SpeedMixin`) give a ``DeviceLoader`` their own
``device`` when ``iterator_*__device`` is not set; with any other skorch net pass
``iterator_train__device=...`` (otherwise the data stay where they are: numpy arrays
on the CPU, tensors on their device).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from .._torch_utils import resolve_device
from ..exceptions import ItemByItemReadWarning
from .sampling import ClassBalancedSampler

__all__ = ["DeviceLoader", "dataset_tensors", "loader_conversion"]


# ----------------------------------------------------------------------------- extraction


def _as_tensor(a: Any, name: str) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a
    if hasattr(a, "to_numpy") and not isinstance(a, np.ndarray):  # pandas
        a = a.to_numpy()
    if isinstance(a, np.ndarray):
        if a.dtype == object:
            raise TypeError(f"{name} has dtype object; DeviceLoader needs a numeric array.")
        if not a.flags.writeable or not a.flags.c_contiguous:
            a = np.array(a, copy=True, order="C")
        return torch.from_numpy(a)
    raise TypeError(
        f"DeviceLoader needs {name} as one numpy array or tensor, got {type(a).__name__} "
        "(dicts, lists of arrays and sparse matrices are not supported; use skorch's "
        "DataLoader for them)."
    )


def dataset_tensors(dataset: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The inputs and labels of a dataset as two tensors, reading the items only if needed.

    Handled without indexing item by item: :class:`skorch.dataset.Dataset` (its ``X``
    and ``y``), :class:`torch.utils.data.Subset` (recursively, e.g. the splits of
    skorch's ``ValidSplit``) and :class:`torch.utils.data.TensorDataset`. Any other
    map-style dataset (or a skorch ``Dataset`` subclass that overrides ``__getitem__``
    or ``transform``) is read item by item once, ``dataset[i] == (x_i, y_i)``, with a
    warning.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset

    Returns
    -------
    X : torch.Tensor of shape (len(dataset), ...)
        On the device the data already lives on (numpy arrays become CPU tensors that
        share their memory when possible).
    y : torch.Tensor of shape (len(dataset), ...) or None
        ``None`` for a skorch ``Dataset`` built with ``y=None``.
    """
    from skorch.dataset import Dataset as SkorchDataset

    if isinstance(dataset, Subset):
        X, y = dataset_tensors(dataset.dataset)
        idx = torch.as_tensor(np.asarray(dataset.indices, dtype=np.int64))
        return X[idx.to(X.device)], (None if y is None else y[idx.to(y.device)])
    if (
        isinstance(dataset, SkorchDataset)
        and type(dataset).__getitem__ is SkorchDataset.__getitem__
        and type(dataset).transform is SkorchDataset.transform
    ):
        X = _as_tensor(dataset.X, "X")
        y = None if dataset.y is None else _as_tensor(dataset.y, "y")
        return X, y
    if isinstance(dataset, TensorDataset):
        tensors = dataset.tensors
        return tensors[0], (tensors[1] if len(tensors) > 1 else None)
    if not isinstance(dataset, Dataset) and not hasattr(dataset, "__getitem__"):
        raise TypeError(f"DeviceLoader needs a map-style dataset, got {type(dataset).__name__}.")
    warnings.warn(
        f"DeviceLoader reads every item of a {type(dataset).__name__} once to stack them; "
        "pass a skorch Dataset, a TensorDataset or arrays to avoid it.",
        ItemByItemReadWarning,
        stacklevel=3,
    )
    items = [dataset[i] for i in range(len(dataset))]
    X = torch.stack([_as_tensor(item[0], "X") for item in items])
    y = torch.stack([torch.as_tensor(_as_tensor_like(item[1])) for item in items])
    return X, y


def _as_tensor_like(v: Any) -> Any:
    return v if isinstance(v, torch.Tensor) else np.asarray(v)


def loader_conversion(iterator: Any, params: dict, src: torch.dtype) -> tuple[bool, float]:
    """What a batch iterator does to inputs stored as ``src``: (floating output, factor).

    Parameters
    ----------
    iterator : type
        skorch's ``iterator_train`` / ``iterator_valid``.
    params : dict
        Its ``iterator_*__`` parameters (``dtype`` and ``scale`` are read).
    src : torch.dtype
        dtype of the stored inputs.

    Returns
    -------
    floating : bool
        Whether the module gets floating-point inputs.
    factor : float
        Factor applied to the values. A loader that is no :class:`DeviceLoader` gets
        inputs converted to float32 unscaled (as at prediction), so ``(True, 1.0)``.
    """
    if not (isinstance(iterator, type) and issubclass(iterator, DeviceLoader)):
        return True, 1.0
    dtype, scale = params.get("dtype"), params.get("scale", "auto")
    if dtype is not None and dtype != src:
        if scale == "auto":
            scale = 1 / 255 if src == torch.uint8 and dtype.is_floating_point else 1.0
        return dtype.is_floating_point, float(scale)
    return src.is_floating_point, 1.0 if scale == "auto" else float(scale)


# ----------------------------------------------------------------------------- loader


class DeviceLoader:
    """Iterate over a dataset held on a device, one tensor slice per batch.

    A drop-in replacement for :class:`torch.utils.data.DataLoader` as skorch's
    ``iterator_train`` / ``iterator_valid`` for data that fit in device memory.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        A skorch ``Dataset``, a ``Subset`` of one, a ``TensorDataset`` (read without
        touching the items), or any map-style dataset (stacked item by item once, see
        :func:`dataset_tensors`). Its ``X`` must be one array or tensor.
    batch_size : int, default=1
        Samples per batch (skorch passes the net's ``batch_size``).
    shuffle : bool, default=False
        A new random permutation every epoch (from ``generator``).
    sampler : sized iterable of int or None, default=None
        The epoch's order. A :class:`~m2m_sampler.training.sampling.ClassBalancedSampler` is
        drawn in one vectorised call per epoch (its ``indices()``), so the same sampler
        object that :class:`~m2m_sampler.training.callbacks.DeferredResampling` or
        :class:`~m2m_sampler.classifier.M2MClassifier` switch between epochs works
        unchanged; any other sampler is iterated once per epoch. Exclusive with
        ``shuffle``.
    drop_last : bool, default=False
        Drop the last, incomplete batch.
    device : str, torch.device or None, default=None
        Where the data are kept and batches are produced (moved there once). ``None``:
        where they are (numpy arrays: CPU). ``'auto'``: CUDA when available.
    dtype : torch.dtype or None, default=None
        dtype of the yielded inputs. ``None`` keeps the stored dtype. Integer storage
        converted to a floating dtype is multiplied by ``scale``.
    scale : float or 'auto', default='auto'
        Factor applied after converting to ``dtype``. ``'auto'``: ``uint8`` converted to
        a floating dtype is divided by 255 (pixels in ``[0, 1]``, bit-identical to
        ``x.astype(np.float32) / 255``); no scaling otherwise.
    channels_last : bool, default=False
        Store 4-D inputs in the ``channels_last`` memory format and yield them so.
    transform : callable or None, default=None
        Applied on the device to every gathered block of inputs (after the dtype
        conversion), e.g. :class:`~m2m_sampler.longtail.augment.RandomCropFlip`. It receives
        several batches at once (see ``gather_batches``), so it must treat samples
        independently and return a tensor of the same first dimension.
    gather_batches : int or None, default=16
        Batches gathered, converted and transformed by one set of kernel calls. ``None``:
        the whole epoch at once. Bounds the extra device memory.
    generator : torch.Generator or None, default=None
        CPU generator for ``shuffle`` (``None``: torch's global generator, reproducible
        under :func:`torch.manual_seed`).

    Attributes
    ----------
    X_, y_ : torch.Tensor
        The resident data (after the first iteration). ``y_`` is ``None`` for datasets
        without labels; batches then carry skorch's placeholder, zeros of shape
        ``(batch, 1)``.

    Notes
    -----
    Batches are views of a gathered block (or, without shuffling or sampler, of the
    resident data): consumers must not modify them in place. The index draw is made on
    the CPU and moved (a few kB per epoch), so the epoch order is the same on every
    device and, with the same generator state, the same as a ``DataLoader`` with the
    same sampler.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch.dataset import Dataset
    >>> X = np.arange(10, dtype=np.uint8).reshape(10, 1); y = np.arange(10) % 2
    >>> loader = DeviceLoader(Dataset(X, y), batch_size=4, dtype=torch.float32, scale=1.0)
    >>> [xb.shape[0] for xb, _ in loader]
    [4, 4, 2]
    >>> next(iter(loader))[0].flatten().tolist()
    [0.0, 1.0, 2.0, 3.0]
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        sampler: Any = None,
        drop_last: bool = False,
        *,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        scale: float | str = "auto",
        channels_last: bool = False,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        gather_batches: int | None = 16,
        generator: torch.Generator | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        if shuffle and sampler is not None:
            raise ValueError(
                "DeviceLoader: shuffle=True cannot be combined with a sampler (the sampler "
                "sets the order); drop one of them."
            )
        if dtype is not None and not isinstance(dtype, torch.dtype):
            raise TypeError(f"dtype must be a torch.dtype or None, got {dtype!r}.")
        if not (scale == "auto" or isinstance(scale, int | float)) or isinstance(scale, bool):
            raise ValueError(f"scale must be 'auto' or a number, got {scale!r}.")
        if gather_batches is not None and (
            isinstance(gather_batches, bool)
            or not isinstance(gather_batches, int)
            or gather_batches < 1
        ):
            raise ValueError(
                f"gather_batches must be a positive integer or None, got {gather_batches!r}."
            )
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable or None, got {transform!r}.")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.sampler = sampler
        self.drop_last = drop_last
        self.device = None if device is None else resolve_device(device)
        self.dtype = dtype
        self.scale = scale
        self.channels_last = channels_last
        self.transform = transform
        self.gather_batches = gather_batches
        self.generator = generator
        self.X_: torch.Tensor | None = None
        self.y_: torch.Tensor | None = None

    # ----------------------------------------------------------------- sizes
    def _n_items(self) -> int:
        return len(self.sampler) if self.sampler is not None else len(self.dataset)

    def __len__(self) -> int:
        """Number of batches per epoch."""
        n = self._n_items()
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    # ----------------------------------------------------------------- data
    def _resident(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.X_ is None:
            X, y = dataset_tensors(self.dataset)
            device = self.device if self.device is not None else X.device
            X = X.to(device)
            if self.channels_last and X.ndim == 4:
                X = X.contiguous(memory_format=torch.channels_last)
            self.X_ = X
            self.y_ = None if y is None else y.to(device)
        return self.X_, self.y_

    def _epoch_order(self, device: torch.device) -> torch.Tensor | None:
        if self.sampler is not None:
            if isinstance(self.sampler, ClassBalancedSampler):
                idx = self.sampler.indices()
            else:
                idx = torch.as_tensor(list(iter(self.sampler)), dtype=torch.long)
        elif self.shuffle:
            idx = torch.randperm(len(self.dataset), generator=self.generator)
        else:
            return None
        return idx.to(device=device, dtype=torch.long)

    def _convert(self, x: torch.Tensor) -> torch.Tensor:
        if self.dtype is not None and x.dtype != self.dtype:
            src = x.dtype
            x = x.to(self.dtype)
            if self.scale == "auto":
                if src == torch.uint8 and self.dtype.is_floating_point:
                    x = x.div_(255.0)
            elif self.scale != 1:
                x = x.mul_(self.scale)
        elif self.scale not in ("auto", 1):
            x = x * self.scale
        if self.transform is not None:
            n = x.shape[0]
            x = self.transform(x)
            if not isinstance(x, torch.Tensor) or x.shape[0] != n:
                raise ValueError(
                    "DeviceLoader's transform must return a tensor with the same number of "
                    f"samples ({n}); got {getattr(x, 'shape', type(x).__name__)}."
                )
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    # ----------------------------------------------------------------- iteration
    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        X, y = self._resident()
        order = self._epoch_order(X.device)
        n = len(X) if order is None else int(order.numel())
        bs = self.batch_size
        stop = n - n % bs if self.drop_last else n
        block = stop if self.gather_batches is None else bs * self.gather_batches
        for start in range(0, stop, max(block, 1)):
            end = min(start + block, stop)
            if order is None:
                xb, yb = X[start:end], (None if y is None else y[start:end])
            else:
                sel = order[start:end]
                xb, yb = X[sel], (None if y is None else y[sel])
            xb = self._convert(xb)
            if yb is None:
                yb = torch.zeros((end - start, 1), device=xb.device)
            for b in range(0, end - start, bs):
                yield xb[b:b + bs], yb[b:b + bs]

    def __repr__(self) -> str:
        return (
            f"DeviceLoader(n={len(self.dataset)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, sampler={self.sampler!r}, device={self.device}, "
            f"dtype={self.dtype})"
        )
