"""The reproduction's JSON report: assembled from the phase records, printed, rendered.

:func:`build_report` puts the phases' records, the results, the wall times and the
paper's numbers into one JSON document (its fields are listed in
``docs/reproduction.md``); :func:`print_summary` prints it as a table;
:func:`render` (one report) and :func:`render_seeds` (one report per seed) write the
Markdown tables of the docs (``benchmarks/gpu/report_table.py`` is their command line).

Phases may come from different runs (``g`` and a trunk carried in a cache from an
earlier session): :func:`split_runs` separates them by idle gaps of
:data:`RUN_GAP_S`, and no g + f span is claimed across runs.
"""

from __future__ import annotations

import json
import math
import platform

import torch

from benchmarks.cifar_lt.methods import PAPER, PLAIN_LOOP_H100
from benchmarks.compare.report import pipe_table
from m2m_sampler._torch_utils import resolve_device

__all__ = [
    "RUN_GAP_S",
    "build_report",
    "print_summary",
    "render",
    "render_seeds",
    "span_s",
    "split_runs",
]


#: An idle gap this long between phases (none of them running) means they come from
#: different runs, e.g. g and the trunk from a cache carried over from an earlier session.
RUN_GAP_S = 600.0


def split_runs(phases: list[dict]) -> list[list[dict]]:
    """Group phase records into runs, in time order (see :data:`RUN_GAP_S`)."""
    runs: list[list[dict]] = []
    end = -math.inf
    for p in sorted(phases, key=lambda p: p["start_unix"]):
        if p["start_unix"] - end > RUN_GAP_S:
            runs.append([])
        runs[-1].append(p)
        end = max(end, p["end_unix"])
    return runs


def span_s(phases: list[dict]) -> float:
    """Seconds from the first phase's start to the last phase's end (0 without phases)."""
    if not phases:
        return 0.0
    return max(p["end_unix"] for p in phases) - min(p["start_unix"] for p in phases)


def build_report(args, data, phases, results, total_s) -> dict:
    """The JSON report of a run (see ``docs/reproduction.md``, "The JSON report").

    Parameters
    ----------
    args : argparse.Namespace
        The run's options (all of them go into ``config``).
    data : dict
        From :func:`~benchmarks.cifar_lt.data.load_data`.
    phases : dict
        Phase name -> record (trained now or read from the cache).
    results : dict
        Method -> metrics.
    total_s : float
        Seconds of this invocation.

    Returns
    -------
    dict
    """
    fresh = [p for p in phases.values() if not p.get("cached")]
    every = list(phases.values())
    runs = split_runs(every)
    # one span for g + f only when every phase ran in one run; else it would count the
    # time between the runs
    span = span_s(every) if len(runs) <= 1 else None
    report = {
        "config": {k: v for k, v in vars(args).items() if k != "methods"},
        "methods": args.methods,
        "environment": {
            "torch": torch.__version__, "python": platform.python_version(),
            "device": torch.cuda.get_device_name()
            if resolve_device(args.device).type == "cuda"
            else platform.processor() or platform.machine(),
        },
        "data": {"dir": data["files"], "train_counts": data["counts"].tolist(),
                 "n_test": int(len(data["y_test"])), "n_test900": int(len(data["test900"]))},
        "phases": phases,
        "results": results,
        "wall_s": {
            "script": total_s,
            "phases_sum": sum(p["wall_s"] for p in every),
            "phases_span": span,
            "runs": len(runs),
            "phases_span_last_run": span_s(runs[-1]) if runs else 0.0,
            "trained_now_sum": sum(p["wall_s"] for p in fresh),
        },
        "paper": {m: {"bacc": v[0], "gm": v[1]}
                  for m, v in PAPER.get(args.imbalance_ratio, {}).items() if m in args.methods},
        "plain_loop_h100": PLAIN_LOOP_H100,
    }
    bacc = {m: 100 * r["test"]["balanced_accuracy"] for m, r in results.items()}
    if args.imbalance_ratio == 100 and not args.smoke and {"erm", "drs", "m2m"} <= set(bacc):
        report["checks"] = {
            "m2m_bacc_ge_78": bacc["m2m"] >= 78.0,
            "m2m_minus_drs_ge_2": bacc["m2m"] - bacc["drs"] >= 2.0,
            "erm_within_68.7_pm_1.5": abs(bacc["erm"] - 68.7) <= 1.5,
        }
        if span is not None:
            report["checks"]["g_plus_f_under_360s"] = span < 360.0
        sel = results["m2m"].get("selected")
        if sel is not None:
            report["checks"]["m2m_selected_epoch_test900_bacc_ge_78"] = (
                100 * sel["test900"]["balanced_accuracy"] >= 78.0)
    return report


def print_summary(report: dict) -> None:
    """Print the results, the selected epochs, the wall times and the checks."""
    print("method      bACC    GM      major   minor   | 900/class bACC | phase wall")
    for m, r in report["results"].items():
        t, s = r["test"], r["test900"]
        wall = report["phases"].get("g" if m == "erm" else m, {}).get("wall_s", float("nan"))
        print(f"{m:10s}  {100 * t['balanced_accuracy']:6.2f}  {100 * t['gmean']:6.2f}  "
              f"{100 * t['major_acc']:6.2f}  {100 * t['minor_acc']:6.2f}  | "
              f"{100 * s['balanced_accuracy']:6.2f}         | {wall:7.1f}s")
    for m, r in report["results"].items():
        if "selected" in r:
            sel = r["selected"]
            print(f"{m:10s}  validation-selected epoch {sel['epoch']} (valid bACC "
                  f"{100 * sel['valid_bacc']:.2f}): 900/class bACC "
                  f"{100 * sel['test900']['balanced_accuracy']:.2f}")
    w = report["wall_s"]
    span = ("{:.1f}s".format(w["phases_span"]) if w["phases_span"] is not None else
            f"- (phases from {w['runs']} runs; the last run's {w['phases_span_last_run']:.1f}s)")
    print(f"wall: phases sum {w['phases_sum']:.1f}s, span {span}, script {w['script']:.1f}s")
    if "checks" in report:
        print("checks:", json.dumps(report["checks"]))


NAMES = {"erm": "ERM (g)", "drs": "DRS", "m2m": "M2m"}


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def render(report: dict, wall: dict | None = None, command: str | None = None) -> str:
    """One report as Markdown: the results beside the paper's, the phase times, the checks.

    Parameters
    ----------
    report : dict
    wall : dict or None
        ``wall.json`` of ``benchmarks/gpu/run_cifar_lt.sh`` (the shell's clock).
    command : str or None
        The command shown above the tables.

    Returns
    -------
    str
    """
    env = report["environment"]
    cfg = report["config"]
    lines = [
        f"CIFAR-LT-10, imbalance ratio {cfg['imbalance_ratio']}, ResNet-32, "
        f"{cfg['epochs']} epochs (deferral at epoch {cfg['start_epoch']}), seed {cfg['seed']}, "
        f"batch {cfg['batch_size']}; device: {env['device']}; torch {env['torch']}; "
        f"options: amp={cfg['amp']}, channels_last={cfg['channels_last']}, "
        f"cuda_graph={cfg['cuda_graph']}, translate_ahead={cfg['translate_ahead']}.",
        "",
    ]
    if command:
        lines += [f"Command: `{command}`", ""]
    selection = any("selected" in r for r in report["results"].values())
    header = ["method", "bACC", "GM", "major acc", "minor acc", "bACC (900/class split)",
              "paper bACC", "paper GM"]  # fmt: skip
    if selection:
        header.append("900/class bACC / GM at the validation-selected epoch (epoch)")
    paper = report.get("paper", {})
    rows = []
    for m, r in report["results"].items():
        t, s = r["test"], r["test900"]
        p = paper.get(m, {})
        row = [NAMES.get(m, m), _pct(t["balanced_accuracy"]), _pct(t["gmean"]),
               _pct(t["major_acc"]), _pct(t["minor_acc"]), _pct(s["balanced_accuracy"]),
               p.get("bacc", "–"), p.get("gm", "–")]  # fmt: skip
        if selection:
            sel = r.get("selected")
            row.append("–" if sel is None else
                       f"{_pct(sel['test900']['balanced_accuracy'])} / "
                       f"{_pct(sel['test900']['gmean'])} ({sel['epoch']})")  # fmt: skip
        rows.append(row)
    lines += pipe_table(header, rows)
    if report.get("missing"):
        lines += ["", f"Not finished: {', '.join(report['missing'])}."]
    rows = []
    for name, ph in report["phases"].items():
        tr = ph["train"]
        ips = tr.get("images_per_s")
        rows.append([name, tr["epochs"], f"{ph['wall_s']:.1f}",
                     "–" if ips is None else f"{ips:,.0f}", f"{tr['data_s']:.1f}",
                     f"{tr['step_s']:.1f}", f"{tr['generation_s']:.1f}",
                     f"{tr['translate_s']:.1f}", f"{tr['other_s']:.1f}"])  # fmt: skip
    lines += ["", *pipe_table(["phase", "epochs", "wall (s)", "images/s", "data (s)",
                               "train step (s)", "generation (s)", "of which translation (s)",
                               "other (s)"], rows)]  # fmt: skip
    m2m = report["phases"].get("m2m", {}).get("train", {})
    if "targets" in m2m:
        # reports before 2026-12-01 name the column "no_seed"
        no_source = m2m.get("no_source", m2m.get("no_seed", 0))
        lines += [
            "",
            f"M2m generation over its {m2m['epochs']} epochs: {m2m['targets']:,} targets, "
            f"{no_source:,} without a source, {m2m['rejected_beta']:,} rejected by beta, "
            f"{m2m['translated']:,} translated, {m2m['rejected_gamma']:,} rejected by gamma, "
            f"**{m2m['accepted']:,} accepted**.",
        ]
    w = report["wall_s"]
    if w["phases_span"] is None:  # g and the trunk came from an earlier run's cache
        lines += ["", f"Wall time: the phases come from {w['runs']} runs (g and the trunk "
                  f"from a carried cache), so there is no g + f span; this run's phases "
                  f"span {w['phases_span_last_run']:.0f} s."]
    else:
        lines += [
            "",
            f"Wall time: g + f span (first phase start to last phase end, phases in "
            f"parallel processes) **{w['phases_span']:.0f} s**; sum of the phases "
            f"{w['phases_sum']:.0f} s.",
        ]
    if wall:
        lines[-1] += (f" The script's own clock around all training processes: "
                      f"{wall['g_plus_f_processes_wall_s']:.0f} s (process start-up included).")
    if "checks" in report:
        lines += ["", "Checks: " + ", ".join(
            f"{k} {'yes' if v else '**no**'}" for k, v in report["checks"].items())]
    return "\n".join(lines) + "\n"


def render_seeds(reports: list[dict]) -> str:
    """One row per method: bACC / GM of every seed, their mean, and the paper's."""
    seeds = [r["config"]["seed"] for r in reports]
    header = ["method", *(f"seed {s} bACC / GM" for s in seeds), "mean bACC", "mean GM",
              "paper bACC / GM"]  # fmt: skip
    rows = []
    methods = list(dict.fromkeys(m for r in reports for m in r["results"]))
    for m in methods:
        cells, bacc, gm = [], [], []
        for r in reports:
            t = r["results"].get(m, {}).get("test")
            if t is None:
                cells.append("–")
                continue
            bacc.append(t["balanced_accuracy"])
            gm.append(t["gmean"])
            cells.append(f"{_pct(t['balanced_accuracy'])} / {_pct(t['gmean'])}")
        full = len(bacc) == len(reports)
        p = reports[0].get("paper", {}).get(m, {})
        rows.append([NAMES.get(m, m), *cells, _pct(sum(bacc) / len(bacc)) if full else "–",
                     _pct(sum(gm) / len(gm)) if full else "–",
                     f"{p.get('bacc', '–')} / {p.get('gm', '–')}"])  # fmt: skip
    lines = pipe_table(header, rows)
    if any("selected" in r for rep in reports for r in rep["results"].values()):
        lines += ["", "At the validation-selected epoch (900/class split, bACC):"]
        for m in methods:
            vals = [r["results"].get(m, {}).get("selected") for r in reports]
            cells = ["–" if v is None else f"{_pct(v['test900']['balanced_accuracy'])} "
                     f"(epoch {v['epoch']})" for v in vals]
            lines.append(f"- {NAMES.get(m, m)}: " + ", ".join(
                f"seed {sd} {c}" for sd, c in zip(seeds, cells)))
    spans = ", ".join(
        f"{r['wall_s']['phases_span']:.0f} s" if r["wall_s"]["phases_span"] is not None
        else f"– (cached g and trunk; this run {r['wall_s']['phases_span_last_run']:.0f} s)"
        for r in reports)
    lines += ["", f"g + f wall-time span per seed: {spans}."]
    return "\n".join(lines) + "\n"
