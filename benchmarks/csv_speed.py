"""Time and accuracy of the CSV path of ``benchmarks.compare``, before and after its speed rule.

For each CSV file, in one process and one after the other (so that the load of a shared
machine weighs on both alike; compare the CPU-time ratios, ``time.process_time``):

* ``before``: the command as it was (torch ``DataLoader`` at batch 64, 100 epochs, the
  default hyper-parameters), i.e. ``run_benchmark`` with ``TrainParams()``;
* ``rule``: the speed rule of :mod:`benchmarks.compare.speed_rule` (batch by rule, tensor
  batches), the same seeds, methods and hyper-parameters, no tuning;
* ``command``: the command as it is now with its defaults for a CSV file (the rule plus
  ``--tune``), run through :func:`benchmarks.compare.main`.

Per configuration: wall and CPU time, and each method's test bACC (mean ± std over seeds)
with the paired difference to ``before``. Writes ``<out>/<stem>.json`` and ``.md``.

Usage::

    python -m benchmarks.csv_speed /work/shared/data/tabular/optdigits.csv --label-column label
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.compare import METHODS, M2mParams, TrainParams, load_bench_data, main
from benchmarks.compare.report import environment, save_json
from benchmarks.compare.runner import run_benchmark
from benchmarks.compare.speed_rule import fast_train_params
from m2m_sampler.exceptions import LowAcceptanceWarning


def _scores(rows: list[dict[str, Any]]) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = {}
    for r in rows:
        if r["status"] == "ok":
            out.setdefault(r["method"], {})[r["seed"]] = r["balanced_accuracy"]
    return out


def _summary(scores: dict[str, dict[int, float]], base: dict[str, dict[int, float]]) -> dict:
    out = {}
    for m, by_seed in scores.items():
        v = np.array(list(by_seed.values()))
        d = np.array([by_seed[s] - base[m][s] for s in by_seed if s in base.get(m, {})])
        out[m] = {
            "bacc_mean": float(v.mean()),
            "bacc_std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "diff_mean": float(d.mean()) if len(d) else None,
            "diff_std": float(d.std(ddof=1)) if len(d) > 1 else None,
        }
    return out


def _timed(fn):
    t, c = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - t, time.process_time() - c


def measure(path: str, label_column: str, seeds: list[int]) -> dict[str, Any]:
    """Run the three configurations on one CSV file (see the module docstring)."""
    methods = list(METHODS)
    data = load_bench_data(path, label_column=label_column)
    n_train = len(data.split(seeds[0]).y_train)
    configs: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowAcceptanceWarning)
        for name, train in (
            ("before", TrainParams()),
            ("rule", fast_train_params(TrainParams(), n_train)),
        ):
            print(f"{Path(path).name}: {name} ...", file=sys.stderr, flush=True)
            res, wall, cpu = _timed(
                lambda train=train: run_benchmark(data, methods, seeds, train, M2mParams())
            )
            configs[name] = {
                "train": vars(train) | {"hidden": list(train.hidden)},
                "wall_s": wall,
                "cpu_s": cpu,
                "scores": _scores(res.rows),
            }
        print(f"{Path(path).name}: command ...", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            argv = [
                "--dataset",
                path,
                "--label-column",
                label_column,
                "--seed-list",
                ",".join(map(str, seeds)),
                "--out",
                tmp,
                "--quiet",
                "--no-figures",
            ]
            status, wall, cpu = _timed(lambda: main(argv))
            doc = json.loads((Path(tmp) / "results.json").read_text())
        configs["command"] = {
            "argv": ["python -m benchmarks.compare", *argv[:-4], "--quiet", "--no-figures"],
            "exit_status": status,
            "train": doc["config"]["train"],
            "chosen": {k: t["chosen"] for k, t in doc["config"]["tuning"].items()},
            "m2m_acceptance_rate_mean": doc["summary"]["m2m"].get("acceptance_rate_mean"),
            "wall_s": wall,
            "cpu_s": cpu,
            "scores": _scores(doc["rows"]),
        }
    base = configs["before"]["scores"]
    for c in configs.values():
        c["summary"] = _summary(c["scores"], base)
        c["scores"] = {m: {str(s): v for s, v in d.items()} for m, d in c["scores"].items()}
    return {
        "dataset": data.description,
        "n_train": n_train,
        "methods": methods,
        "seeds": seeds,
        "configs": configs,
    }


def markdown(doc: dict[str, Any]) -> str:
    """The Markdown report of :func:`measure`'s document."""
    cf = doc["configs"]
    b = cf["before"]
    lines = [
        f"# CSV path speed: {doc['name']}",
        "",
        f"Command: `{doc['command']}`  ",
        f"Date: {doc['timestamp']}; {doc['machine']['platform']}, "
        + (
            f"{doc['machine']['cpu_count']} CPU(s), {doc['machine_note']}, 1 torch thread."
            if doc.get("machine_note")
            else f"{doc['machine']['cpu_count']} CPU(s) shared with other jobs during the "
            "run, 1 torch thread. Wall times depend on that load; the CPU times "
            "(`time.process_time`) and their ratios, measured in this one run, are the "
            "figures to compare."
        ),
        "",
        f"Data: {doc['dataset']}; seeds {doc['seeds']}; methods {', '.join(doc['methods'])}.",
        "",
        "| configuration | batch | loader | tuning | wall (s) | CPU (s) | CPU vs before |",
        "|---|---:|---|---|---:|---:|---:|",
    ]
    for name, c in cf.items():
        loader = "tensor slices" if c["train"].get("tensor_loader") else "torch DataLoader"
        tune = "yes" if name == "command" else "no"
        lines.append(
            f"| {name} | {c['train']['batch_size']} | {loader} | {tune} | {c['wall_s']:.0f} | "
            f"{c['cpu_s']:.0f} | {c['cpu_s'] / b['cpu_s']:.2f} |"
        )
    lines += [
        "",
        "Test bACC (%), mean ± std over seeds; in brackets the paired difference to "
        "`before` (mean ± std over seeds, points):",
        "",
        "| method | " + " | ".join(cf) + " |",
        "|---|" + "---:|" * len(cf),
    ]
    for m in doc["methods"]:
        cells = []
        for name, c in cf.items():
            s = c["summary"].get(m)
            if s is None:
                cells.append("n/a")
                continue
            cell = f"{100 * s['bacc_mean']:.2f} ± {100 * s['bacc_std']:.2f}"
            if name != "before" and s["diff_mean"] is not None:
                cell += f" ({100 * s['diff_mean']:+.2f} ± {100 * (s['diff_std'] or 0):.2f})"
            cells.append(cell)
        lines.append(f"| {METHODS[m].label} | " + " | ".join(cells) + " |")
    c = cf["command"]
    acc = c["m2m_acceptance_rate_mean"]
    lines += [
        "",
        f"`command` ran `{' '.join(c['argv'])}`; --tune chose {c['chosen']}; M2m accepted "
        f"{'n/a' if acc is None else f'{100 * acc:.1f}%'} of its translations.",
        "",
    ]
    return "\n".join(lines)


def cli(argv: list[str] | None = None) -> int:
    """Measure every CSV file given and write the reports.

    Parameters
    ----------
    argv : list of str or None

    Returns
    -------
    int
    """
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("csv", nargs="+")
    p.add_argument("--label-column", default="label")
    p.add_argument("--seed-list", default="0,1,2")
    p.add_argument("--out", default="benchmarks/results/csv_speed")
    p.add_argument(
        "--machine-note",
        default=None,
        help="how loaded the machine was, e.g. 'idle but for this run' (default: shared)",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seed_list.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in args.csv:
        doc = {
            "name": Path(path).name,
            "command": " ".join(["python -m benchmarks.csv_speed", *(argv or sys.argv[1:])]),
            "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            **environment("cpu"),
            "machine_note": args.machine_note,
            **measure(path, args.label_column, seeds),
        }
        stem = Path(path).stem
        save_json(out / f"{stem}.json", doc, end="\n", compact_lists=True)
        (out / f"{stem}.md").write_text(markdown(doc))
        print(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(cli())
