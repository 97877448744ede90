"""The comparison command: M2MOverSampler against classic re-balancing, digits-LT or a CSV.

``python -m benchmarks.compare`` (from the repository root; the README's main job);
``--help`` lists the options and ``docs/benchmarks.md`` the committed results. Its method
registry (:mod:`benchmarks.compare.methods`) is the lab's one registry, used by Table 2
and CIFAR-LT too.

* :mod:`~benchmarks.compare.data`: data sets and their per-seed splits;
* :mod:`~benchmarks.compare.methods`: the compared methods (one typed registry) and the
  one network factory;
* :mod:`~benchmarks.compare.runner`: fit, score and summarise over seeds;
* :mod:`~benchmarks.compare.report`: tables, ``results.json`` / ``results.md``, figures;
* :mod:`~benchmarks.compare.validation`: validation parts carved from training data, and
  how candidates are ranked on them;
* :mod:`~benchmarks.compare.tuning`: ``--tune``, every method's few hyper-parameters;
* :mod:`~benchmarks.compare.acceptance`: M2m's accepted share and the command's warning
  when it is low;
* :mod:`~benchmarks.compare.speed_rule`: the batch-size rule and tensor batches of the
  CSV path.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks.compare.data import BenchData, load_bench_data
    from benchmarks.compare.methods import METHODS, M2mParams, TrainParams, build_pipeline
    from benchmarks.compare.runner import BenchResult, run_benchmark

#: Where the names of the package live: imported on first use (PEP 562), so that
#: ``python -m benchmarks.compare --help`` builds its parser without importing torch.
_LAZY = {
    "BenchData": "data",
    "load_bench_data": "data",
    "METHODS": "methods",
    "M2mParams": "methods",
    "TrainParams": "methods",
    "build_pipeline": "methods",
    "BenchResult": "runner",
    "run_benchmark": "runner",
}

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
    """Run the command line (see :func:`benchmarks.compare.__main__.main`).

    Parameters
    ----------
    argv : sequence of str or None
        Arguments (None: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status.
    """
    from benchmarks.compare.__main__ import main as _main

    return _main(argv)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
