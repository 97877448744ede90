"""``benchmarks.compare`` on the shared tabular sets: ``python -m benchmarks.tabular --dataset X``.

The comparison command (``python -m benchmarks.compare``) has digits-LT and
CSV files; this entry adds the project's shared UCI / KEEL tables by name
(:func:`benchmarks.datasets.list_tabular`: ``ecoli``, ``glass``, ``letter``, ...), read by
:func:`benchmarks.datasets.load_tabular`, and runs them as the committed results under
``benchmarks/results/tabular/`` were made: like digits-LT (batch 64, torch's
``DataLoader``, no ``--tune`` unless asked), not by the CSV path's speed rule. Every other
option is ``benchmarks.compare``'s; ``--data-dir`` (else ``M2M_DATA_DIR``) names the shared folder.

Usage::

    python -m benchmarks.tabular --dataset satimage --imbalance-ratio 100 --epochs 30
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from benchmarks.compare.__main__ import main as bench_main
from benchmarks.datasets import list_tabular, load_tabular

__all__ = ["main", "named_sets"]

COMMAND = "python -m benchmarks.tabular"


def named_sets(data_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The shared tabular sets as ``benchmarks.compare``'s named data (loaded when chosen).

    Parameters
    ----------
    data_dir : str or path-like, default=None
        See :func:`benchmarks.datasets.get_data_dir`.

    Returns
    -------
    dict
        Name -> a function returning ``(X, y, source)``
        (:data:`benchmarks.compare.data.NamedData`).
    """

    def loader(name: str) -> Any:
        def load() -> tuple[Any, Any, str]:
            X, y = load_tabular(name, data_dir=data_dir, return_X_y=True)
            return X, y, f"shared tabular set {name!r}"

        return load

    return {name: loader(name) for name in list_tabular()}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m benchmarks.compare`` with the shared tabular sets added to ``--dataset``.

    Parameters
    ----------
    argv : sequence of str or None
        ``python -m benchmarks.compare``'s options and ``--data-dir`` (None: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status.
    """
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--data-dir", default=None)
    known, rest = pre.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    return bench_main(rest, named=named_sets(known.data_dir), command=COMMAND)


if __name__ == "__main__":
    sys.exit(main())
