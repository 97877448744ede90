"""Scaling of M2m over processes: the sampler's translation and an M2m training epoch.

For each number of processes ``P`` (``--processes 1 2``), one ``torchrun --standalone
--nproc_per_node P`` launch of this module's worker measures, on a synthetic long-tailed
data set (10 classes, ``--largest`` samples in the largest class, imbalance ratio 10,
``--features`` standard-normal features) and a random MLP ``g`` / ``f``
(``--hidden`` units):

* ``translation``: :class:`~m2m_sampler.M2MOverSampler` with ``distributed='auto'``
  (each rank translates its shard, the shards are gathered on every rank); samples/s =
  translated rows / the engine's wall time (``translation_time_``, the slowest rank's,
  gather included). The plan, the default checks and the process start are not counted;
  also translated rows per CPU-second of the whole ``fit_resample`` summed over the
  processes (``time.process_time``): the work sharding adds, less sensitive to the load;
* ``m2m_epoch``: :class:`~m2m_sampler.distributed.AcceleratedM2MClassifier` with the
  generation in every epoch (``start_epoch=0``, class-balanced batches), a global batch
  of ``--batch`` rows (``--batch / P`` per process: the same steps as one process);
  samples/s = training rows / the epoch's wall time (``dur``, the slowest rank's). The
  first epoch is a warm-up;
* ``m2m_epoch_weak``: the same with ``--batch`` rows per process (a global batch of
  ``P x --batch``): fewer steps per epoch, the per-step costs (Python, the gradient
  all-reduce) amortised over more rows.

The scaling efficiency at ``P`` processes is ``samples/s(P) / (P x samples/s(1))``.
Every process runs one torch thread on the CPU (``OMP_NUM_THREADS=1``), so the CPU
comparison is 1 process x 1 thread against P processes x 1 thread. Each figure is the
median of ``--launches`` launches x ``--rounds`` rounds, the launches of the different
numbers of processes interleaved (all rounds are in the JSON).

Usage (``benchmarks.scaling`` is the same command line)::

    python -m benchmarks.scaling                        # CPU, 1 and 2 processes
    python -m benchmarks.scaling --device cuda --processes 1 2 4 8 \\
        --features 3072 --hidden 1024 1024 --largest 5000 --batch 512 --out /tmp/gpu

On a GPU machine rank ``r`` uses ``cuda:r`` (``LOCAL_RANK``). Timings on shared
machines are noisy; the load average before and after each launch is recorded.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.compare.report import pipe_table, save_json

__all__ = ["main", "worker", "efficiency", "to_markdown"]

N_CLASSES = 10
IMBALANCE = 10
#: The measurements, with their labels in the report.
WORKLOADS = {
    "translation": "sampler translation",
    "m2m_epoch": "M2m training epoch (global batch fixed)",
    "m2m_epoch_weak": "M2m training epoch (batch per process fixed)",
}


def synthetic_long_tail(largest: int, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal features, class ``c`` with ``largest * IMBALANCE**(-c / 9)`` rows."""
    counts = np.round(largest * IMBALANCE ** (-np.arange(N_CLASSES) / (N_CLASSES - 1)))
    y = np.repeat(np.arange(N_CLASSES), counts.astype(np.int64))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((len(y), n_features)).astype(np.float32)
    return X, y


def _median(values: list[float]) -> float:
    return float(np.median(values)) if values else float("nan")


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """One rank's measurements (run under torchrun); rank 0's dict is the result."""
    from accelerate import Accelerator

    from m2m_sampler.distributed import AcceleratedM2MClassifier
    from m2m_sampler.longtail.models import MLP
    from m2m_sampler.over_sampler import M2MOverSampler

    cpu = args.device == "cpu"
    if cpu:
        torch.set_num_threads(1)
    accelerator = Accelerator(cpu=cpu)
    device = accelerator.device
    world = accelerator.num_processes
    X, y = synthetic_long_tail(args.largest, args.features)
    hidden = tuple(args.hidden)
    torch.manual_seed(0)
    g = MLP(args.features, N_CLASSES, hidden=hidden).to(device)
    f = MLP(args.features, N_CLASSES, hidden=hidden).to(device)
    warnings.simplefilter("ignore")  # a random g: the label-order check would warn

    translation, per_cpu_second = [], []
    n_translated = 0
    for _ in range(args.rounds + 1):  # the first round warms up
        sampler = M2MOverSampler(g, f=f, beta=0.9, gamma=0.0, batch_size=args.chunk,
                                 device=device, random_state=0)
        cpu_start = time.process_time()
        sampler.fit_resample(X, y)
        cpu = time.process_time() - cpu_start
        seconds = torch.tensor([[sampler.translation_time_, cpu]], dtype=torch.float64,
                               device=device)
        everyone = accelerator.gather(seconds).cpu()
        n_translated = int(sum(s["n_accepted"] + s["n_rejected_gamma"]
                               for s in sampler.class_stats_.values()))
        translation.append(n_translated / float(everyone[:, 0].max()))
        per_cpu_second.append(n_translated / float(everyone[:, 1].sum()))
    translation, per_cpu_second = translation[1:], per_cpu_second[1:]

    epochs = {}
    for name, batch in (("m2m_epoch", args.batch // world), ("m2m_epoch_weak", args.batch)):
        net = AcceleratedM2MClassifier(
            MLP, module__n_features=args.features, module__n_classes=N_CLASSES,
            module__hidden=hidden, g=g, accelerator=accelerator, start_epoch=0,
            max_epochs=args.rounds + 1, batch_size=batch, lr=0.01,
            optimizer=torch.optim.SGD, beta=0.9, gamma=0.0, random_state=0, verbose=0,
            callbacks__print_log__sink=print,
        ).fit(X, y)
        rounds = [len(y) / dur for dur in net.history[1:, "dur"]]
        epochs[name] = {"samples_per_s": _median(rounds), "rounds": rounds, "rows": len(y),
                        "batch_per_process": batch,
                        "accepted": [int(a) for a in net.history[:, "m2m_accepted"]]}
    return {
        "processes": world,
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "translation": {"samples_per_s": _median(translation), "rounds": translation,
                        "rows": n_translated, "chunk": args.chunk,
                        "rows_per_cpu_s": _median(per_cpu_second),
                        "rows_per_cpu_s_rounds": per_cpu_second},
        **epochs,
    }


def efficiency(results: list[dict[str, Any]], workload: str) -> dict[int, float]:
    """``samples/s(P) / (P x samples/s(1))`` for every ``P`` measured."""
    base = next(r for r in results if r["processes"] == 1)[workload]["samples_per_s"]
    return {r["processes"]: r[workload]["samples_per_s"] / (r["processes"] * base)
            for r in results}


def to_markdown(report: dict[str, Any]) -> str:
    """The committed Markdown summary of a scaling run."""
    env = report["environment"]
    lines = [
        f"# Scaling over processes ({report['device']})",
        "",
        f"`{report['command']}` on {env['platform']} ({env['cpu_count']} CPU(s)), torch "
        f"{env['torch']}, accelerate {env['accelerate']}, {report['date']}. "
        f"{report['note']}",
        "",
        f"Data: synthetic, {report['rows']} rows x {report['features']} features, 10 "
        f"classes, imbalance ratio 10; g and f: MLP {report['hidden']} (random weights). "
        "Every process: one torch thread on the CPU. Medians over "
        f"{report['launches']} interleaved launches x {report['rounds']} rounds per number "
        "of processes (all rounds in the JSON). Efficiency = samples/s(P) / "
        "(P x samples/s(1)). Load average: before the first and after the last launch.",
        "",
    ]
    rows = []
    for workload, label in WORKLOADS.items():
        eff = efficiency(report["results"], workload)
        for r in report["results"]:
            p = r["processes"]
            rows.append([label, p, f"{r[workload]['samples_per_s']:.0f}", f"{eff[p]:.2f}",
                         f"{r['load_before']:.2f} -> {r['load_after']:.2f}"])  # fmt: skip
    lines += pipe_table(
        ["workload", "processes", "samples/s", "efficiency", "load avg before -> after"], rows
    )
    runs = {r["processes"]: r["translation"] for r in report["results"]}
    if all("rows_per_cpu_s" in t for t in runs.values()):
        base = runs[1]["rows_per_cpu_s"]
        lines += [
            "",
            "Work of the sampler (`fit_resample` as a whole: plan, checks, translation, "
            "gather), in translated rows per CPU-second summed over the processes: less "
            "sensitive to the machine's load than wall-clock rates (not insensitive: "
            "caches and cores are shared too), it shows the work sharding adds (each "
            "process plans everything, skips the earlier random starts and takes part in "
            "the gather):",
            "",
            *pipe_table(["processes", "rows per CPU-second", "work efficiency"],
                        [[p, f"{t['rows_per_cpu_s']:.0f}", f"{t['rows_per_cpu_s'] / base:.2f}"]
                         for p, t in runs.items()]),  # fmt: skip
        ]
    lines += [
        "",
        "For an N-GPU machine (prepared, not run here):",
        "",
        "```",
        "python -m benchmarks.scaling --device cuda --processes 1 2 4 8 --features 3072 \\",
        "    --hidden 1024 1024 --largest 5000 --batch 512 --chunk 1024 --out /tmp/gpu_scaling",
        "```",
        "",
    ]
    return "\n".join(lines)


def _environment() -> dict[str, Any]:
    import accelerate

    return {"platform": platform.platform(), "cpu_count": os.cpu_count(),
            "python": platform.python_version(), "torch": torch.__version__,
            "accelerate": accelerate.__version__}


def _launch(args: argparse.Namespace, processes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", str(processes), "--module", "benchmarks.scaling",
               "--worker", str(out), "--device", args.device, "--rounds", str(args.rounds),
               "--largest", str(args.largest), "--features", str(args.features),
               "--batch", str(args.batch), "--chunk", str(args.chunk),
               "--hidden", *map(str, args.hidden)]
        env = dict(os.environ, OMP_NUM_THREADS="1")
        env["PYTHONPATH"] = os.pathsep.join(
            [str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
        before = os.getloadavg()[0]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        after = os.getloadavg()[0]
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-4000:]}")
        result = json.loads(out.read_text())
    result.update(load_before=before, load_after=after)
    return result


def _merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One result per number of processes: the median over every round of its launches."""
    merged = dict(runs[0], launches=runs)
    for workload in WORKLOADS:
        rounds = [x for run in runs for x in run[workload]["rounds"]]
        merged[workload] = dict(runs[0][workload], rounds=rounds,
                                samples_per_s=_median(rounds))
    cpu = [x for run in runs for x in run["translation"]["rows_per_cpu_s_rounds"]]
    merged["translation"].update(rows_per_cpu_s=_median(cpu), rows_per_cpu_s_rounds=cpu)
    merged["load_before"] = runs[0]["load_before"]
    merged["load_after"] = runs[-1]["load_after"]
    return merged


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per launch")
    parser.add_argument("--launches", type=int, default=2,
                        help="launches per number of processes, interleaved")
    parser.add_argument("--largest", type=int, default=1000,
                        help="samples of the largest class")
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256])
    parser.add_argument("--batch", type=int, default=128, help="global training batch")
    parser.add_argument("--chunk", type=int, default=256, help="the sampler's batch_size")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--name", default=None, help="file name stem (scaling_<device>)")
    parser.add_argument("--note", default="", help="free text for the report")
    parser.add_argument("--worker", metavar="JSON", default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None, default_out: str | None = None) -> int:
    """Launch the worker for every ``--processes`` and write JSON and Markdown."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    if args.worker is not None:
        result = worker(args)
        if int(os.environ.get("RANK", "0")) == 0:
            Path(args.worker).write_text(json.dumps(result))
        return 0
    if default_out is not None and "--out" not in argv:
        args.out = default_out
    if 1 not in args.processes:
        raise SystemExit("--processes must include 1 (the base of the efficiency)")
    # Launches interleaved (1, 2, 1, 2, ...): a change of the machine's load hits
    # every number of processes alike.
    launches: dict[int, list[dict[str, Any]]] = {p: [] for p in sorted(args.processes)}
    for _ in range(args.launches):
        for p in launches:
            launches[p].append(_launch(args, p))
    results = [_merge(runs) for runs in launches.values()]
    X, _ = synthetic_long_tail(args.largest, args.features)
    report = {
        "command": shlex.join(["python", "-m", "benchmarks.scaling", *argv]),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "device": args.device, "rounds": args.rounds, "launches": args.launches,
        "rows": len(X),
        "features": args.features, "hidden": list(args.hidden), "note": args.note,
        "environment": _environment(), "results": results,
        "efficiency": {w: efficiency(results, w) for w in WORKLOADS},
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = args.name or f"scaling_{args.device}"
    save_json(out / f"{stem}.json", report, indent=2)
    (out / f"{stem}.md").write_text(to_markdown(report))
    print(to_markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
