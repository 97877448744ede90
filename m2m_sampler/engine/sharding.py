"""Sharding the engine call of :class:`~m2m_sampler.M2MOverSampler` over devices and ranks.

The plan (:func:`~m2m_sampler.engine.planning.plan_translations`) is drawn once, the same on
every process. Its survivors are translated in chunks of ``chunk_size`` (the sampler's
``batch_size``), and the chunks are split into contiguous **shards**: one per device given
to this process, times the ranks of a ``torch.distributed`` process group when there is
one. Every shard runs :func:`~m2m_sampler.engine.generation.generate` (the one engine call) on its
own chunks; the results are put back in plan order and, across ranks, gathered, so that
every process returns the whole output.

Why the output does not depend on the number of shards: a shard's chunks are exactly the
chunks one device would translate, and the only randomness of the translation, the
random start of each chunk, is drawn from a generator seeded as the single-device one and
first advanced past the random starts of the earlier chunks
(:func:`~m2m_sampler.engine.translation.skip_random_starts`). On the CPU the output is therefore
bit-identical to the single-device output for the same ``random_state``; on several
GPUs it is as identical as the GPU kernels are (the same random starts, the same chunks).

* :func:`shard_bounds` -- the survivors each shard translates;
* :func:`generate_sharded` -- the shards' engine calls, merged and gathered;
* :func:`distributed_world` -- ``(rank, world size)`` of the active process group;
* :func:`broadcast_seed`, :func:`check_same_data`, :func:`check_same_plan` -- what the
  ranks must agree on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from torch import nn

from .._torch_utils import frozen_copy
from .generation import Generation, generate
from .params import TranslationParams
from .translation import skip_random_starts

__all__ = [
    "broadcast_seed",
    "check_same_data",
    "check_same_plan",
    "distributed_world",
    "generate_sharded",
    "shard_bounds",
]


def distributed_world() -> tuple[int, int]:
    """``(rank, world_size)`` of the default ``torch.distributed`` process group.

    ``(0, 1)`` when ``torch.distributed`` is not available or not initialised (a plain,
    single-process run).
    """
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def shard_bounds(n_total: int, chunk_size: int, n_shards: int) -> list[tuple[int, int]]:
    """Survivors ``[start, stop)`` of every shard: whole chunks, contiguous, in order.

    The ``ceil(n_total / chunk_size)`` chunks are split into ``n_shards`` runs of
    consecutive chunks whose lengths differ by at most one chunk; a shard may be empty
    (``start == stop``) when there are fewer chunks than shards.

    Parameters
    ----------
    n_total : int
        Survivors to translate.
    chunk_size : int
        Survivors per engine chunk.
    n_shards : int

    Returns
    -------
    list of (int, int)

    Examples
    --------
    >>> shard_bounds(10, 3, 2)
    [(0, 6), (6, 10)]
    >>> shard_bounds(4, 3, 3)
    [(0, 3), (3, 4), (4, 4)]
    """
    if chunk_size < 1 or n_shards < 1:
        raise ValueError(f"chunk_size and n_shards must be >= 1; got {chunk_size}, {n_shards}.")
    n_chunks = -(-int(n_total) // int(chunk_size))
    per_shard = [len(run) for run in np.array_split(np.arange(n_chunks), int(n_shards))]
    edges = np.concatenate([[0], np.cumsum(per_shard)]).astype(np.int64) * int(chunk_size)
    edges = np.minimum(edges, int(n_total))
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def broadcast_seed(seed: int) -> int:
    """Rank 0's ``seed`` on every rank (``seed`` itself outside a process group)."""
    rank, world = distributed_world()
    if world == 1:
        return int(seed)
    box = [int(seed) if rank == 0 else None]
    torch.distributed.broadcast_object_list(box, src=0)
    return int(box[0])


def check_same_data(X: np.ndarray, y_idx: np.ndarray, classes: np.ndarray) -> None:
    """Check that every rank passed the same ``X`` and ``y``.

    A SHA-256 hash of ``X``'s bytes (with its shape and dtype), of the class indices
    ``y_idx`` and of the class labels is gathered from every rank and compared: ranks
    given different data would otherwise return different outputs without an error.
    Call it on every rank (a collective).

    Parameters
    ----------
    X : ndarray
        The samples this rank was given.
    y_idx : ndarray of int
        Their class indices (``np.unique(y, return_inverse=True)[1]``).
    classes : ndarray
        The sorted class labels.

    Raises
    ------
    ValueError
        On every rank, naming the ranks whose data differ from rank 0's.
    """
    rank, world = distributed_world()
    if world == 1:
        return
    digest = hashlib.sha256()
    X = np.ascontiguousarray(X)
    digest.update(f"{X.shape}/{X.dtype.str}/{[str(c) for c in classes]}".encode())
    digest.update(X.reshape(-1).view(np.uint8))
    digest.update(np.ascontiguousarray(y_idx, dtype=np.int64).tobytes())
    everyone: list[Any] = [None] * world
    torch.distributed.all_gather_object(everyone, digest.hexdigest())
    differ = [r for r, h in enumerate(everyone) if h != everyone[0]]
    if differ:
        raise ValueError(
            f"ranks {differ} passed a different X or y than rank 0: every process of a "
            "distributed M2MOverSampler run needs the same X and y; or pass "
            "distributed=False to translate everything in every process."
        )


def check_same_plan(plan: Any, seed: int, n_sources: int) -> None:
    """Check that every rank drew the same plan and random-start seed.

    The shards of the ranks are only a partition of one translation if all ranks planned
    the same rows (same data, same ``random_state``). A fingerprint of the plan is
    gathered from every rank and compared.

    Raises
    ------
    ValueError
        Naming the ranks whose plan differs from rank 0's.
    """
    rank, world = distributed_world()
    if world == 1:
        return
    digest = hashlib.sha256()
    for name in ("target", "source_class", "source_index", "survived_beta"):
        digest.update(np.ascontiguousarray(getattr(plan, name)).tobytes())
    digest.update(f"{int(seed)}/{int(n_sources)}".encode())
    mine = digest.hexdigest()
    everyone: list[Any] = [None] * world
    torch.distributed.all_gather_object(everyone, mine)
    differ = [r for r, h in enumerate(everyone) if h != everyone[0]]
    if differ:
        raise ValueError(
            f"ranks {differ} planned different translations than rank 0: every process "
            "of a distributed M2MOverSampler run needs the same X, y and an int "
            "random_state (the same on every rank); or pass distributed=False to "
            "translate everything in every process."
        )


def generate_sharded(
    g: nn.Module,
    plan: Any,
    sources: np.ndarray,
    params: TranslationParams | None = None,
    *,
    devices: Sequence[torch.device],
    seed: int,
    chunk_size: int,
    sample_shape: Sequence[int],
    f: nn.Module | None = None,
    distributed: bool = False,
    channels_last: bool = False,
    callback: Callable[[int, int], None] | None = None,
) -> Generation:
    """Translate a numpy plan's survivors in shards; the same result as one engine call.

    Equivalent to ``generate(g, plan, sources, params, f=f, chunk_size=chunk_size,
    generator=torch.Generator(device).manual_seed(seed), ...)`` on one device, which it
    is when there is one device and one process.

    Parameters
    ----------
    g, f : torch.nn.Module
        Frozen models on ``devices[0]``; copied (frozen) to every other device.
    plan : TranslationPlan
        A numpy plan, the same on every rank.
    sources : ndarray
        The rows the plan's ``source_index`` refers to.
    params : TranslationParams, optional
        As in :func:`~m2m_sampler.engine.generation.generate` (``step_size`` and
        ``noise`` also give the radius of the random starts a shard skips); default:
        :class:`~m2m_sampler.engine.params.TranslationParams` ``()``.
    devices : sequence of torch.device
        This process's shards, one per device (the same device may appear several
        times). Shards of CUDA devices run in one thread each, the others one after the
        other.
    seed : int
        Seed of the random starts (the single-device generator's seed).
    chunk_size : int
        Survivors per engine chunk; shards are made of whole chunks.
    sample_shape : sequence of int
        Shape of one sample for the models.
    distributed : bool, default=False
        Shard across the ranks of the active ``torch.distributed`` process group too,
        and gather every rank's shards (every rank returns the whole result).
    channels_last : bool, default=False
        As in :func:`~m2m_sampler.engine.generation.generate`.
    callback : callable, optional
        ``callback(n_done, n_total)`` after every chunk, counting this process's shards.

    Returns
    -------
    Generation
        On the CPU (``x_star``, ``prob``, ``passed_gamma``), over the whole plan.
    """
    params = TranslationParams.of(params)
    devices = [torch.device(d) for d in devices]
    rank, world = distributed_world() if distributed else (0, 1)
    survivors = np.flatnonzero(plan.survived_beta)
    n_total = len(survivors)
    bounds = shard_bounds(n_total, chunk_size, world * len(devices))
    mine = bounds[rank * len(devices) : (rank + 1) * len(devices)]
    models = _models_per_device(g, f, devices)
    n_local = sum(stop - start for start, stop in mine)
    progress = _Progress(callback, n_local)

    def run(shard: int) -> Generation:
        start, stop = mine[shard]
        device = devices[shard]
        generator = torch.Generator(device=device).manual_seed(int(seed))
        skip_random_starts(
            [chunk_size] * (start // chunk_size),
            tuple(sample_shape),
            params.noise * params.step_size,
            generator,
            device,
        )
        if (start, stop) == (0, n_total):
            sub = plan
        else:
            mask = np.zeros(len(plan.survived_beta), dtype=bool)
            mask[survivors[start:stop]] = True
            sub = dataclasses.replace(plan, survived_beta=mask)
        g_d, f_d = models[device]
        return generate(
            g_d,
            sub,
            sources,
            params,
            f=f_d,
            sample_shape=sample_shape,
            channels_last=channels_last,
            chunk_size=chunk_size,
            device=device,
            generator=generator,
            callback=progress.for_shard(),
        )

    start_time = time.perf_counter()
    cuda = [d for d in devices if d.type == "cuda"]
    if len(devices) > 1 and len(cuda) == len(devices) and len(set(cuda)) == len(cuda):
        with ThreadPoolExecutor(max_workers=len(devices)) as pool:
            local = list(pool.map(run, range(len(devices))))
    else:
        local = [run(i) for i in range(len(devices))]
    parts = [(gen.x_star.cpu(), gen.prob.cpu(), gen.passed_gamma.cpu()) for gen in local]
    if world > 1:
        gathered: list[Any] = [None] * world
        torch.distributed.all_gather_object(gathered, parts)
        parts = [part for rank_parts in gathered for part in rank_parts]
    seconds = time.perf_counter() - start_time
    shape = tuple(sample_shape)
    x_star = torch.cat([p[0] for p in parts]) if parts else torch.empty((0, *shape))
    prob = torch.cat([p[1] for p in parts]) if parts else torch.empty(0)
    passed = torch.cat([p[2] for p in parts]) if parts else torch.zeros(0, dtype=torch.bool)
    accepted = np.zeros(len(plan.survived_beta), dtype=bool)
    accepted[survivors[passed.numpy()]] = True
    return Generation(plan.survived_beta, accepted, x_star, prob, passed, seconds)


def _models_per_device(g, f, devices):
    """``g`` and ``f`` on every device: the given ones on ``devices[0]``, frozen copies
    elsewhere."""
    models = {devices[0]: (g, f)}
    for device in devices[1:]:
        if device not in models:
            models[device] = (frozen_copy(g, device), None if f is None else frozen_copy(f, device))
    return models


class _Progress:
    """Adds up the chunk callbacks of the shards (thread-safe) for one ``callback``."""

    def __init__(self, callback: Callable[[int, int], None] | None, n_total: int) -> None:
        self.callback = callback
        self.n_total = n_total
        self.done = 0
        self.lock = threading.Lock()

    def for_shard(self) -> Callable[[int, int], None] | None:
        if self.callback is None:
            return None
        last = [0]

        def shard_callback(n_done: int, _n_shard: int) -> None:
            with self.lock:
                self.done += n_done - last[0]
                last[0] = n_done
                self.callback(self.done, self.n_total)

        return shard_callback
