"""The benchmark library: every benchmark's methods, splits, tuning, seeds and timers.

Run ``python -m m2m_sampler.bench`` (or ``m2m-bench``) for the benchmark of
M2MOverSampler against classic re-balancing; ``--help`` lists the options and
``docs/benchmarks.md`` the committed results. The scripts under ``benchmarks/`` are thin
command lines over these modules:

* :mod:`~m2m_sampler.bench.data`: data sets and their per-seed splits;
* :mod:`~m2m_sampler.bench.methods`: the compared methods as imbalanced-learn pipelines;
* :mod:`~m2m_sampler.bench.runner`: fit, score and summarise over seeds;
* :mod:`~m2m_sampler.bench.report`: tables, ``results.json`` / ``results.md``, figures;
* :mod:`~m2m_sampler.bench.validation`: validation parts carved from training data, and
  how candidates are ranked on them;
* :mod:`~m2m_sampler.bench.tuning`: the search of M2m's hyper-parameters
  (``benchmarks/tune_m2m.py``) and ``--tune``, every method's few hyper-parameters;
* :mod:`~m2m_sampler.bench.acceptance`: M2m's accepted share and the command's warning
  when it is low;
* :mod:`~m2m_sampler.bench.speed_rule`: the batch-size rule and tensor batches of the
  CSV path (``benchmarks/csv_speed.py``);
* :mod:`~m2m_sampler.bench.timing`: device synchronisation and the phase timer;
* :mod:`~m2m_sampler.bench.seeding`: per-phase random seeds;
* :mod:`~m2m_sampler.bench.summary`: the cross-data-set summary of the committed results
  (``benchmarks/summarize_results.py``);
* :mod:`~m2m_sampler.bench.m2m_classifier`: M2MClassifier against the long-tail baselines
  on small MLPs (``benchmarks/m2m_classifier.py``);
* :mod:`~m2m_sampler.bench.throughput`: translation against training throughput
  (``benchmarks/throughput.py``);
* :mod:`~m2m_sampler.bench.cifar_lt`: the CIFAR-LT-10 reproduction of the paper's Table 1
  (``python -m m2m_sampler.bench.cifar_lt``).
* :mod:`~m2m_sampler.bench.table2`: the paper's Table 2 (Reuters-21578, Twitter POS) on the
  CPU (``python -m m2m_sampler.bench --suite table2 --dataset reuters``), and
  :mod:`~m2m_sampler.bench.table2_diagnosis`: why its ordering comes out as it does.
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
