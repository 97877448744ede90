"""Random seeds of benchmark phases.

A run made of phases that may execute in any order, or in parallel processes (the
CIFAR-LT reproduction trains ``g``, a trunk and its branches as separate processes), seeds
each phase from the run's seed and the phase's name, so that a phase's result does not
depend on what ran before it in the same process.
"""

from __future__ import annotations

import zlib

__all__ = ["phase_seed"]


def phase_seed(seed: int, name: str) -> int:
    """The random seed of phase ``name`` of a run seeded with ``seed``.

    Parameters
    ----------
    seed : int
        The run's seed.
    name : str
        The phase's name, e.g. ``"g"``, ``"trunk-ce"`` or a method key.

    Returns
    -------
    int
        ``(seed * 1_000_003 + crc32(name)) mod 2**31``: stable across Python processes
        and versions (unlike ``hash``), and different for different names.

    Examples
    --------
    >>> phase_seed(0, "g") == phase_seed(0, "g") != phase_seed(1, "g")
    True
    """
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (2**31)
