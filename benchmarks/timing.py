"""Wall-clock timing of work that may run asynchronously on a GPU.

CUDA kernels return before they finish, so a timer around GPU work must wait for the
device at both ends: :func:`synchronize` does (and nothing on other devices), and
:class:`Stopwatch` calls it when it starts and when it stops. Every benchmark script
times its phases with these, so that CPU and GPU numbers mean the same thing.
"""

from __future__ import annotations

import time
from types import TracebackType

import torch

from m2m_sampler.training.timing import synchronize

__all__ = ["Stopwatch", "synchronize"]


class Stopwatch:
    """Context manager timing its block, with the device synchronised at both ends.

    Parameters
    ----------
    device : str, torch.device or None, default=None
        Passed to :func:`synchronize` on entry and on exit.

    Attributes
    ----------
    start_unix, end_unix : float
        ``time.time()`` when the block started and ended (after synchronising), for
        placing phases of several processes on one time line.
    seconds : float
        Duration of the block from ``time.perf_counter()`` (while the block runs: the
        time since it started).

    Examples
    --------
    >>> with Stopwatch("cpu") as watch:
    ...     total = sum(range(1000))
    >>> watch.seconds >= 0 and watch.end_unix >= watch.start_unix
    True
    """

    def __init__(self, device: str | torch.device | None = None) -> None:
        self.device = device
        self.start_unix = self.end_unix = float("nan")
        self._start = self._seconds = None

    def __enter__(self) -> Stopwatch:
        synchronize(self.device)
        self.start_unix = time.time()
        self._start = time.perf_counter()
        self._seconds = None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        synchronize(self.device)
        self._seconds = time.perf_counter() - self._start
        self.end_unix = time.time()

    @property
    def seconds(self) -> float:
        """Seconds of the block (or so far, inside it)."""
        if self._start is None:
            return float("nan")
        if self._seconds is None:
            return time.perf_counter() - self._start
        return self._seconds
