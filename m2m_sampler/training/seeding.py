"""The random streams of :class:`~m2m_sampler.M2MClassifier`, derived from its ``random_state``.

One ``random_state`` governs a fit: with an int, two fits with the same value train the
same model (same device, same ``batch_size`` and other parameters, same torch version
and number of threads). Three independent streams are derived from it:

* torch's global generators (CPU, and the training GPU) for the duration of
  ``fit`` / ``partial_fit`` (:func:`seeded_torch`, which restores the caller's
  generators afterwards, so a seeded fit neither reads nor moves the global stream):
  seeded once for the weight initialisation and again at the start of every epoch, for
  the mini-batch order (skorch's ``DataLoader`` shuffle,
  :class:`~m2m_sampler.training.sampling.ClassBalancedSampler`) and dropout --
  :func:`torch_seed`;
* the generation (targets, sources, Bernoulli draws, random starts), re-seeded at the
  start of every epoch -- :func:`generation_seed`;
* the ERM net that trains ``g`` when ``g=None`` -- :func:`g_random_state`, so that
  ``g`` and ``f`` start from different weights, as two separately trained networks do.

Because every epoch's streams depend only on ``(random_state, epoch index)``, a run
split into ``fit`` + ``save_params`` / ``load_params`` + ``partial_fit`` trains exactly
as the uninterrupted run. ``random_state=None`` leaves everything to torch's global
generator (reproducible under :func:`torch.manual_seed`), as any skorch net.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

__all__ = [
    "derive_seed",
    "g_random_state",
    "generation_seed",
    "seed_torch",
    "seeded_torch",
    "torch_seed",
]

#: Keys that tell the derived streams apart (the generation's is ``[seed, epoch]``).
_TORCH_STREAM = 1
_G_STREAM = 2
_INIT = 2**32 - 1  # the "epoch" of the weight initialisation


def derive_seed(random_state: Any, *keys: int) -> int:
    """A 62-bit seed for the stream ``keys`` of ``random_state`` (an int or a RandomState).

    An int gives ``SeedSequence([random_state, *keys])``'s first 64-bit word shifted to
    62 bits: one independent seed per key tuple. A numpy ``RandomState`` draws a seed
    from itself (the keys are then not used).
    """
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, np.iinfo(np.int32).max))
    if isinstance(random_state, numbers.Integral):
        seq = np.random.SeedSequence([int(random_state), *(int(k) for k in keys)])
        return int(seq.generate_state(1, dtype=np.uint64)[0] >> np.uint64(2))
    raise ValueError(
        f"random_state must be None, an int or a numpy RandomState; got {random_state!r}."
    )


def torch_seed(random_state: Any, epoch: int | None = None) -> int | None:
    """The seed of torch's global generators for epoch ``epoch`` (None: initialisation).

    ``None`` for ``random_state=None`` (torch's generators are left alone); an int gives
    one seed per epoch index; a numpy ``RandomState`` draws it.
    """
    if random_state is None:
        return None
    return derive_seed(random_state, _INIT if epoch is None else epoch, _TORCH_STREAM)


def generation_seed(random_state: Any, n_epochs: int) -> int:
    """The seed of the generation's generator for a fit that starts after ``n_epochs``.

    ``None`` draws it from torch's global generator (reproducible under
    ``torch.manual_seed``); an int gives a stream per starting epoch (``partial_fit``
    continues with a different one); a numpy ``RandomState`` draws from it.
    """
    if random_state is None:
        return int(torch.randint(0, 2**62, (1,)).item())
    return derive_seed(random_state, n_epochs)


def g_random_state(random_state: Any) -> int | None:
    """The ``random_state`` of the ERM net that trains ``g`` (``g=None``)."""
    if random_state is None:
        return None
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, np.iinfo(np.int32).max))
    seq = np.random.SeedSequence([int(random_state), _G_STREAM])
    return int(seq.generate_state(1, dtype=np.uint32)[0])


@contextlib.contextmanager
def seeded_torch(seed: int | None, device: torch.device) -> Iterator[None]:
    """Seed torch's CPU generator (and ``device``'s, if CUDA) for a block, then restore them.

    ``seed=None`` does nothing. Built on :func:`torch.random.fork_rng`: the caller's
    generator states are put back after the block, also after an exception.
    """
    if seed is None:
        yield
        return
    devices = []
    if device.type == "cuda" and torch.cuda.is_available():
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        seed_torch(seed, device)
        yield


def seed_torch(seed: int, device: torch.device) -> None:
    """Seed torch's CPU generator and, if ``device`` is a CUDA device, that GPU's."""
    torch.random.default_generator.manual_seed(seed)
    if device.type == "cuda" and torch.cuda.is_available():
        index = device.index if device.index is not None else torch.cuda.current_device()
        torch.cuda.default_generators[index].manual_seed(seed)
