"""M2MOverSampler in front of downstream models unlike its ``g`` (issue 15, item 6).

The protocol is :mod:`m2m_sampler.bench.downstream`'s docstring. Writes
``<out>/<name>.json`` (every fold's score, accepted shares, CPU time, command and
machine) and ``<out>/<name>.md`` (one table per data set); ``--name`` defaults to
``downstream``.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/downstream.py --out benchmarks/downstream
    OMP_NUM_THREADS=1 python benchmarks/downstream.py --datasets reuters8 --n-splits 2 \
        --mlp-epochs 20 --name reuters8 --out benchmarks/downstream
"""

from __future__ import annotations

import argparse
import datetime as _dt
import shlex
import sys
import time
from pathlib import Path

import torch

from m2m_sampler.bench.downstream import (
    MODELS,
    downstream_markdown,
    load_downstream_data,
    run_downstream,
)
from m2m_sampler.bench.report import dumps, environment


def main(argv: list[str] | None = None) -> int:
    """Run the study and write its files.

    Parameters
    ----------
    argv : list of str or None

    Returns
    -------
    int
        Exit status.
    """
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=["synthetic", "glass", "ecoli", "dermatology"])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--n-splits", type=int, default=5)
    p.add_argument("--n-samples", type=int, default=1500, help="rows of the synthetic set")
    p.add_argument("--mlp-epochs", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="benchmarks/downstream")
    p.add_argument("--name", default="downstream", help="stem of the files written")
    p.add_argument("--note", default="", help="a line about the machine's load")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    results = []
    for name in args.datasets:
        data = load_downstream_data(name, n_samples=args.n_samples)
        results.append(
            run_downstream(
                data,
                n_splits=args.n_splits,
                seed=args.seed,
                models=args.models,
                mlp_epochs=args.mlp_epochs,
                progress=lambda line: print(line, file=sys.stderr, flush=True),
            )
        )
    wall, cpu = time.perf_counter() - t_wall, time.process_time() - t_cpu
    command = shlex.join(
        ["python", "benchmarks/downstream.py", *(sys.argv[1:] if argv is None else argv)]
    )
    doc = {
        "command": command,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "note": args.note,
        "wall_s": wall,
        "process_cpu_s": cpu,
        **environment("cpu"),
        "results": results,
    }
    (out / f"{args.name}.json").write_text(dumps(doc))
    header = [
        "# M2MOverSampler in front of other models",
        "",
        f"Command: `{doc['command']}` ({doc['date']}); {wall:.0f} s wall, {cpu:.0f} s "
        f"process CPU on {doc['machine']['cpu_count']} cores, torch threads "
        f"{doc['machine']['torch_threads']}. {args.note}",
        "",
    ]
    (out / f"{args.name}.md").write_text(
        "\n".join(header) + "\n".join(downstream_markdown(r) for r in results)
    )
    print(f"wrote {out / args.name}.json and .md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
