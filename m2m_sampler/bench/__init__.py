"""Benchmark of M2MOverSampler against classic re-balancing, as a command line.

Run ``python -m m2m_sampler.bench`` (or ``m2m-bench``); ``--help`` lists the options and
``docs/benchmarks.md`` the committed results. The pieces can also be used from Python:

* :mod:`~m2m_sampler.bench.data`: data sets and their per-seed splits;
* :mod:`~m2m_sampler.bench.methods`: the compared methods as imbalanced-learn pipelines;
* :mod:`~m2m_sampler.bench.runner`: fit, score and summarise over seeds;
* :mod:`~m2m_sampler.bench.report`: tables, ``results.json`` / ``results.md``, figures.
"""

from __future__ import annotations

from collections.abc import Sequence

from .data import BenchData, load_bench_data
from .methods import METHODS, M2mParams, TrainParams, build_pipeline
from .runner import BenchResult, run_benchmark

__all__ = [
    "METHODS",
    "BenchData",
    "BenchResult",
    "M2mParams",
    "TrainParams",
    "build_pipeline",
    "load_bench_data",
    "main",
    "run_benchmark",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line (see :func:`m2m_sampler.bench.__main__.main`).

    Parameters
    ----------
    argv : sequence of str or None
        Arguments (None: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status.
    """
    from .__main__ import main as _main

    return _main(argv)
