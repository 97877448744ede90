"""Collect the committed benchmark results into one Markdown summary.

The command line of :mod:`m2m_sampler.bench.summary` (which documents the tables), reading
the results under this folder. Usage::

    python benchmarks/summarize_results.py > benchmarks/summary.md
"""

import sys
from pathlib import Path

from m2m_sampler.bench.summary import main

if __name__ == "__main__":
    sys.exit(main(root=Path(__file__).resolve().parent))
