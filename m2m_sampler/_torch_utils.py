"""Small helpers shared by the front ends: devices, modes, dtypes, pickling, scalars."""

from __future__ import annotations

import contextlib
import copy
import io
import pickle
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "resolve_device",
    "check_amp_dtype",
    "eval_mode",
    "frozen_copy",
    "floating_dtype",
    "module_device",
    "dumps_portable",
    "loads_portable",
    "PORTABLE_STATE",
    "synchronize",
    "to_builtin",
]

#: The autocast dtypes the front ends accept for ``amp_dtype``.
AMP_DTYPES = (torch.bfloat16, torch.float16)


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Turn a user's ``device`` parameter into a :class:`torch.device`.

    Parameters
    ----------
    device : str, torch.device or None
        ``'auto'`` or None picks CUDA when :func:`torch.cuda.is_available`, else the CPU.
        Anything else is passed to :class:`torch.device`.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If the string is not a device, or CUDA is asked for but is not available.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        ) from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was asked for but CUDA is not available "
                "(torch.cuda.is_available() is False: a CPU build of torch or no GPU); "
                "use device='cpu', or device='auto' to take CUDA only when present."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was asked for but only {torch.cuda.device_count()} "
                "CUDA device(s) are visible."
            )
    return dev


def check_amp_dtype(amp_dtype: torch.dtype | None) -> torch.dtype | None:
    """Check a front end's ``amp_dtype`` parameter: None, ``torch.bfloat16`` or ``torch.float16``.

    Parameters
    ----------
    amp_dtype : torch.dtype or None

    Returns
    -------
    torch.dtype or None
        ``amp_dtype`` itself.

    Raises
    ------
    TypeError
        If it is not None and not a half-precision :class:`torch.dtype`.
    """
    if amp_dtype is None or amp_dtype in AMP_DTYPES:
        return amp_dtype
    raise TypeError(
        f"amp_dtype must be None (full precision), torch.bfloat16 (recommended) or "
        f"torch.float16; got {amp_dtype!r}."
    )


@contextlib.contextmanager
def eval_mode(*modules: nn.Module | None) -> Iterator[None]:
    """Put modules in eval mode for the duration of a block, then restore them exactly.

    Every sub-module's own ``training`` flag is recorded and restored (also after an
    exception), so a model whose parts were deliberately in different modes (a frozen
    BatchNorm in an otherwise training network, say) comes back as it was.
    ``requires_grad`` flags are not touched.
    """
    saved: list[tuple[nn.Module, bool]] = []
    for module in modules:
        if module is None:
            continue
        saved.extend((m, m.training) for m in module.modules())
    try:
        for module in modules:
            if module is not None:
                module.eval()
        yield
    finally:
        for m, training in saved:
            m.training = training


def frozen_copy(module: nn.Module, device: torch.device | None = None) -> nn.Module:
    """A deep copy of ``module`` in eval mode with ``requires_grad=False``, on ``device``.

    The caller's module is not modified: not its weights, its mode, its device nor its
    ``requires_grad`` flags.
    """
    clone = copy.deepcopy(module)
    if device is not None:
        clone = clone.to(device)
    clone.eval()
    clone.requires_grad_(False)
    return clone


def floating_dtype(module: nn.Module, default: torch.dtype = torch.float32) -> torch.dtype:
    """The dtype of the first floating-point parameter or buffer of ``module``."""
    for tensor in _tensors(module):
        if tensor.is_floating_point():
            return tensor.dtype
    return default


def module_device(module: nn.Module, default: torch.device | None = None) -> torch.device:
    """The device of the first parameter or buffer of ``module`` (CPU if it has none)."""
    for tensor in _tensors(module):
        return tensor.device
    return default if default is not None else torch.device("cpu")


def synchronize(device: str | torch.device | None) -> None:
    """Wait for the work queued on ``device`` (CUDA only; a no-op elsewhere).

    The library's one synchronise helper (public as
    :func:`m2m_sampler.training.timing.synchronize`): wall times of work on a GPU end
    with it.

    Parameters
    ----------
    device : str, torch.device or None
        A string goes through :func:`resolve_device` (``'auto'``: CUDA when available);
        None: nothing to wait for.
    """
    if isinstance(device, str):
        device = resolve_device(device)
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


def to_builtin(value: Any) -> Any:
    """A numpy scalar as the Python scalar it holds (``np.int64(3)`` -> ``3``); anything
    else unchanged. For labels used as dict keys and values written to JSON."""
    return value.item() if isinstance(value, np.generic) else value


def _tensors(module: nn.Module) -> Iterator[torch.Tensor]:
    yield from module.parameters()
    yield from module.buffers()


# ----------------------------------------------------------------------------- pickling

#: Key under which the front ends pickle their state through :func:`dumps_portable`.
PORTABLE_STATE = "m2m_portable_state"


def dumps_portable(obj: Any) -> bytes:
    """``pickle.dumps(obj)``, to be read back by :func:`loads_portable`."""
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def loads_portable(data: bytes) -> Any:
    """Unpickle :func:`dumps_portable` output; tensors of a missing CUDA device load on the CPU.

    Torch pickles every storage as ``torch.storage._load_from_bytes(<torch.save bytes>)``
    with its device written in it; unpickled as usual, a storage saved on CUDA fails on a
    machine without CUDA. Here those calls go through :func:`torch.load` with a
    ``map_location`` that leaves storages of available devices where they were and puts
    the others on the CPU (skorch's nets do the same for their modules).
    """
    return _PortableUnpickler(io.BytesIO(data)).load()


def _restore_location(storage: Any, location: str) -> Any:
    """``map_location`` of :func:`loads_portable`: the CPU for a device that is not here."""
    if not device_is_available(torch.device(location)):
        return storage  # deserialised on the CPU: keep it there
    return None  # torch's default: the saved device


class _PortableUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "torch.storage" and name == "_load_from_bytes":
            return _load_storage
        return super().find_class(module, name)


def _load_storage(data: bytes) -> Any:
    return torch.load(io.BytesIO(data), map_location=_restore_location, weights_only=True)


def device_is_available(device: torch.device) -> bool:
    """Whether tensors can live on ``device`` here (CPU always; CUDA if that GPU exists)."""
    if device.type != "cuda":
        return True
    return torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()
