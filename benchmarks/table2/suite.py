"""Table 2's suite: the validation choices and the seeds of every data set in one pool of
worker processes, and the command line."""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.compare.report import environment, save_json
from benchmarks.table2.data import cached_data, load
from benchmarks.table2.nets import run_seed
from benchmarks.table2.protocol import ROW_KEYS, ROWS, Config, HyperParams, first_values
from benchmarks.table2.report import merge, write_figure, write_markdown
from benchmarks.table2.scoring import summarise
from benchmarks.table2.tuning import choose_schedule, tune

__all__ = ["build_parser", "main", "run_suite"]

_DESCRIPTION = (
    "The paper's Table 2 (Reuters-21578, Twitter POS) on the CPU: every row, tuned on validation."
)


def _worker_init() -> None:
    torch.set_num_threads(1)  # one thread per process: --jobs processes share the cores


def _print_flush(message: str) -> None:
    print(message, flush=True)


def _prefixed(log, name: str):
    return lambda message: log(f"[{name}] {message}")


def _prepare_task(name, cfg, rows, max_features, schedule_grid, fixed, loader, log):
    """One data set's choices on validation: the schedule (optional), then ``tune``."""
    cpu0 = time.process_time()
    data = cached_data(loader, name, max_features)
    log = _prefixed(log, name)
    if cfg.eta is None:
        cfg = replace(cfg, eta=data["eta"])
    counts = np.bincount(data["y"])
    summary = {
        "n_train": int(len(data["y"])),
        "n_test": int(len(data["y_test"])),
        "n_classes": len(data["class_names"]),
        "class_names": data["class_names"],
        "counts": counts.tolist(),
        "features": data["features"],
        "imbalance_ratio": float(counts.max() / counts.min()),
    }
    log(
        f"{summary['n_train']} train, {summary['n_classes']} classes, "
        f"ratio {summary['imbalance_ratio']:.1f}; load {time.process_time() - cpu0:.1f}s"
    )
    schedule_table = None
    if schedule_grid:
        base = {**first_values(), **fixed}
        cfg, schedule_table = choose_schedule(cfg, data, schedule_grid, base, log=log)
        log(f"  [schedule] chosen: {cfg.epochs} epochs, defer at {cfg.start_frac}")
    tuning = tune(cfg, data, rows, fixed=fixed, log=log)
    return {
        "cfg": cfg,
        "data": summary,
        "schedule_selection": schedule_table,
        "tuning": tuning,
        "cpu_s": time.process_time() - cpu0,
    }


def _seed_task(name, cfg, hp, seed, rows, max_features, loader, log):
    """Every row of one seed, trained on the training set and scored on the test set."""
    cpu0 = time.process_time()
    data = cached_data(loader, name, max_features)
    runs = run_seed(
        cfg,
        data,
        hp,
        seed,
        rows,
        X_eval=data["X_test"],
        y_eval=data["y_test"],
        log=_prefixed(log, name),
    )
    return {"runs": runs, "cpu_s": time.process_time() - cpu0}


def _machine(env: dict[str, Any]) -> str:
    """``x86_64, 2 CPU cores (model name)`` from :func:`~.report.environment`."""
    m = env["machine"]
    model = f" ({m['cpu_model']})" if m.get("cpu_model") else ""
    return f"{m['machine']}, {m['cpu_count']} CPU cores{model}"


class _InlineExecutor:
    """``submit`` runs the call at once (``--jobs 1``: no worker processes)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def submit(self, fn, /, *args, **kwargs) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - re-raised by fut.result()
            fut.set_exception(e)
        return fut


def run_suite(
    name: str | list[str],
    cfg: Config,
    seeds: list[int],
    rows: list[str],
    out: Path,
    *,
    max_features: int = 2000,
    tag: str = "",
    schedule_grid: list[tuple[int, float]] | None = None,
    fixed: dict | None = None,
    jobs: int = 1,
    loader=None,
    log=print,
) -> dict:
    """Tune, run every seed, write ``table2_<name><tag>.{json,md,png}``; the result.

    ``name``: a data set, or a list of them (the whole suite: every data set's
    validation choices and seeds share one pool of ``jobs`` processes; the result is
    then a dict name -> result). ``schedule_grid``: first choose ``(epochs,
    start_frac)`` among these on validation (:func:`choose_schedule`, with ``fixed`` or
    the grids' first values as M2m's settings). ``fixed``: hyper-parameters taken as
    given (``GRIDS`` keys), not searched. ``jobs``: worker processes (spawned, one torch
    thread each); every seed is one task and gives the same numbers in any process, so
    ``jobs`` changes only the time. ``loader(name, max_features)``: the data (default
    :func:`load_table2_data`; a module-level function, so that workers can import it).
    """
    names = [name] if isinstance(name, str) else list(name)
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1; got {jobs}.")
    wall0 = time.perf_counter()
    loader = load if loader is None else loader
    fixed = dict(fixed or {})
    task_log = log if jobs == 1 else _print_flush
    results: dict[str, dict[str, Any]] = {}
    left = {n: len(seeds) for n in names}
    out.mkdir(parents=True, exist_ok=True)

    def write(n: str, final: bool) -> None:
        res = results[n]
        res["runs"].sort(key=lambda r: (seeds.index(r["seed"]), rows.index(r["row"])))
        res["summary"] = summarise(res["runs"], rows)
        res["wall_s"] = time.perf_counter() - wall0
        stem = out / f"table2_{n}{tag}"
        save_json(stem.with_suffix(".json"), res)
        write_markdown(stem.with_suffix(".md"), res)
        if final:
            write_figure(stem.with_suffix(".png"), res)

    if jobs == 1:
        pool: Any = _InlineExecutor()
    else:
        pool = ProcessPoolExecutor(
            max_workers=jobs, mp_context=get_context("spawn"), initializer=_worker_init
        )
    # Longest task first: at most ``jobs`` tasks in flight, the next one chosen when a
    # worker frees up (validation choices first, then the seeds of the largest data set),
    # so that the short seeds of a small data set fill the end of the run.
    ready: list[tuple[float, int, tuple]] = []
    pending: dict[Future, tuple[str, int | None]] = {}
    order = itertools.count()  # ties: first queued, first run

    def queue(cost: float, fn, args: tuple, key: tuple[str, int | None]) -> None:
        heapq.heappush(ready, (-cost, next(order), (fn, args, key)))

    def fill() -> None:
        while ready and len(pending) < jobs:
            fn, args, key = heapq.heappop(ready)[2]
            pending[pool.submit(fn, *args)] = key

    with pool:
        for n in names:
            args = (n, cfg, rows, max_features, schedule_grid, fixed, loader, task_log)
            queue(float("inf"), _prepare_task, args, (n, None))
        fill()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                n, seed = pending.pop(fut)
                payload = fut.result()
                if seed is None:
                    c = payload["cfg"]
                    env = environment("cpu")
                    results[n] = {
                        "dataset": n,
                        "command": " ".join(
                            ["python", "-m", "benchmarks.table2", *sys.argv[1:]]
                        ),
                        "machine": _machine(env),
                        "date": time.strftime("%Y-%m-%d"),
                        "environment": env,
                        "torch": torch.__version__,
                        "jobs": jobs,
                        "suite": names,
                        "config": c.__dict__,
                        "milestones": list(c.lr_milestones),
                        "start_epoch": c.start,
                        "seeds": seeds,
                        "rows": rows,
                        "data": payload["data"],
                        "runs": [],
                        "schedule_selection": payload["schedule_selection"],
                        "tuning": payload["tuning"],
                        "cpu_s": payload["cpu_s"],
                    }
                    hp = HyperParams.of(payload["tuning"]["chosen"])
                    for s in seeds:
                        args = (n, c, hp, s, rows, max_features, loader, task_log)
                        queue(payload["data"]["n_train"], _seed_task, args, (n, s))
                    if not seeds:
                        write(n, final=True)
                else:
                    results[n]["runs"] += payload["runs"]
                    results[n]["cpu_s"] += payload["cpu_s"]
                    left[n] -= 1
                    write(n, final=left[n] == 0)
            fill()
    suite_wall = time.perf_counter() - wall0
    for n in names:
        results[n]["suite_wall_s"] = suite_wall
        write(n, final=True)
        res = results[n]
        log(
            f"[{n}] done: CPU {res['cpu_s'] / 60:.1f} min; suite wall {suite_wall / 60:.1f} "
            f"min with {jobs} process(es) -> {out / f'table2_{n}{tag}'}.{{json,md,png}}"
        )
    return results[names[0]] if isinstance(name, str) else results


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.table2", description=_DESCRIPTION
    )
    p.add_argument(
        "--dataset",
        choices=("reuters", "twitter-pos"),
        nargs="+",
        required=True,
        help="one or both data sets (both: one pool of --jobs processes)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="worker processes, one torch thread each (e.g. the number of cores); "
        "the numbers do not depend on it",
    )
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument(
        "--seed-list", type=int, nargs="+", default=None, help="run these seeds (not 0..N-1)"
    )
    p.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=None,
        help="merge these result JSONs of one data set (same protocol, other seeds or rows) "
        "into --out/table2_<dataset><tag>.*; trains nothing",
    )
    p.add_argument("--rows", nargs="+", default=list(ROW_KEYS), choices=ROW_KEYS)
    p.add_argument("--epochs", type=int, default=Config.epochs)
    p.add_argument(
        "--start-frac",
        type=float,
        default=Config.start_frac,
        help="deferral epoch as a share of the epochs",
    )
    p.add_argument("--lr-decay", type=float, default=Config.lr_decay)
    p.add_argument("--milestones", type=int, nargs="*", default=None)
    p.add_argument(
        "--eta",
        type=float,
        default=None,
        help="M2m step size (default: 1.0 on Reuters, 0.1 on Twitter)",
    )
    p.add_argument("--hidden", type=int, default=Config.hidden)
    p.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default=Config.precision,
        help="bf16: forward passes under bfloat16 autocast (weights stay float32)",
    )
    p.add_argument("--max-features", type=int, default=2000)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/table2"))
    p.add_argument("--tag", default="", help="suffix of the output files")
    p.add_argument(
        "--schedule-grid",
        nargs="+",
        default=None,
        metavar="EPOCHS:FRAC",
        help="choose (epochs, deferral share) among these on validation first, e.g. 15:0.6 30:0.8",
    )
    p.add_argument(
        "--fixed",
        default=None,
        help="JSON of hyper-parameters taken as given, e.g. "
        '\'{"m2m": {"beta": 0.9, "gamma": 0.99}, "ldam": {"s": 30}}\'',
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the suite from the command line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1; got {args.jobs}")
    torch.set_num_threads(1)
    cfg = Config(
        epochs=args.epochs,
        start_frac=args.start_frac,
        lr_decay=args.lr_decay,
        milestones=tuple(args.milestones) if args.milestones else None,
        hidden=args.hidden,
        precision=args.precision,
        eta=args.eta,
    )
    if args.merge:
        if len(args.dataset) != 1:
            raise SystemExit("--merge: give one --dataset")
        merge(args.merge, args.out / f"table2_{args.dataset[0]}{args.tag}")
        return 0
    rows = [r for r in ROW_KEYS if r in args.rows]
    if any(ROWS[r].needs_g for r in rows) and "erm" not in rows:
        rows.insert(0, "erm")
    run_suite(
        args.dataset if len(args.dataset) > 1 else args.dataset[0],
        cfg,
        args.seed_list if args.seed_list else list(range(args.seeds)),
        rows,
        args.out,
        max_features=args.max_features,
        tag=args.tag,
        schedule_grid=[(int(a), float(b)) for a, b in (t.split(":") for t in args.schedule_grid)]
        if args.schedule_grid
        else None,
        fixed=json.loads(args.fixed) if args.fixed else None,
        jobs=args.jobs,
        log=_print_flush,
    )
    return 0

