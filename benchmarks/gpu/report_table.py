"""Render the JSON report of ``run_cifar_lt.sh`` as the Markdown tables of the docs.

Run with ``python benchmarks/gpu/report_table.py RESULT.json [--wall wall.json]
[--command "..."] [--out RESULT.md]``: prints (or writes) the accuracy table beside the
paper's Table 1, the per-phase time table and the issue's checks, from the numbers in
the JSON file only. With several reports (one per seed) it prints one row per method
with every seed's bACC / GM and their mean. The tables are
:func:`benchmarks.cifar_lt.report.render` and ``render_seeds``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.cifar_lt.report import render, render_seeds


def main(argv: list[str] | None = None) -> None:
    """Print (and with ``--out`` write) the tables of one or several reports."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report", nargs="+", help="one report, or several seeds' reports")
    p.add_argument("--wall", default=None)
    p.add_argument("--command", default=None)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    reports = [json.loads(Path(r).read_text()) for r in args.report]
    if len(reports) > 1:
        text = render_seeds(reports)
    else:
        wall = json.loads(Path(args.wall).read_text()) if args.wall else None
        text = render(reports[0], wall, args.command)
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
