"""``m2m-bench``: M2MOverSampler against classic re-balancing on digits-LT or a CSV file.

Run ``python -m m2m_sampler.bench`` (or ``m2m-bench``); ``--help`` lists the options and
``docs/benchmarks.md`` the committed results. The reproduction and study code (the
paper's tables, throughput, scaling) is not part of the package: it lives in the
repository's ``benchmarks/`` folder (the docs' "Lab" page).

* :mod:`~m2m_sampler.bench.data`: data sets and their per-seed splits;
* :mod:`~m2m_sampler.bench.methods`: the compared methods as imbalanced-learn pipelines;
* :mod:`~m2m_sampler.bench.runner`: fit, score and summarise over seeds;
* :mod:`~m2m_sampler.bench.report`: tables, ``results.json`` / ``results.md``, figures;
* :mod:`~m2m_sampler.bench.validation`: validation parts carved from training data, and
  how candidates are ranked on them;
* :mod:`~m2m_sampler.bench.tuning`: ``--tune``, every method's few hyper-parameters;
* :mod:`~m2m_sampler.bench.acceptance`: M2m's accepted share and the command's warning
  when it is low;
* :mod:`~m2m_sampler.bench.speed_rule`: the batch-size rule and tensor batches of the
  CSV path.
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
