"""Render the JSON report of ``run_cifar_lt.sh`` as the Markdown tables of the docs.

Run with ``python benchmarks/gpu/report_table.py RESULT.json [--wall wall.json]
[--command "..."] [--out RESULT.md]``: prints (or writes) the accuracy table beside the
paper's Table 1, the per-phase time table and the issue's checks, from the numbers in
the JSON file only. With several reports (one per seed) it prints one row per method
with every seed's bACC / GM and their mean.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAMES = {"erm": "ERM (g)", "drs": "DRS", "m2m": "M2m"}


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def render(report: dict, wall: dict | None = None, command: str | None = None) -> str:
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
    extra_head = (" | 900/class bACC / GM at the validation-selected epoch (epoch)"
                  if selection else "")
    lines += [
        "| method | bACC | GM | major acc | minor acc | bACC (900/class split) "
        f"| paper bACC | paper GM{extra_head} |",
        "|---|---|---|---|---|---|---|---|" + ("---|" if selection else ""),
    ]
    paper = report.get("paper", {})
    for m, r in report["results"].items():
        t, s = r["test"], r["test900"]
        p = paper.get(m, {})
        row = (
            f"| {NAMES.get(m, m)} | {_pct(t['balanced_accuracy'])} "
            f"| {_pct(t['gmean'])} | {_pct(t['major_acc'])} | {_pct(t['minor_acc'])} "
            f"| {_pct(s['balanced_accuracy'])} | {p.get('bacc', '–')} | {p.get('gm', '–')} |"
        )
        if selection:
            sel = r.get("selected")
            row += (" – |" if sel is None else
                    f" {_pct(sel['test900']['balanced_accuracy'])} / "
                    f"{_pct(sel['test900']['gmean'])} ({sel['epoch']}) |")
        lines.append(row)
    if report.get("missing"):
        lines += ["", f"Not finished: {', '.join(report['missing'])}."]
    lines += [
        "",
        "| phase | epochs | wall (s) | images/s | data (s) | train step (s) "
        "| generation (s) | of which translation (s) | other (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, ph in report["phases"].items():
        tr = ph["train"]
        ips = tr.get("images_per_s")
        lines.append(
            f"| {name} | {tr['epochs']} | {ph['wall_s']:.1f} | "
            f"{'–' if ips is None else f'{ips:,.0f}'} | {tr['data_s']:.1f} | "
            f"{tr['step_s']:.1f} | {tr['generation_s']:.1f} | {tr['translate_s']:.1f} | "
            f"{tr['other_s']:.1f} |"
        )
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
    head = " | ".join(f"seed {s} bACC / GM" for s in seeds)
    lines = [
        f"| method | {head} | mean bACC | mean GM | paper bACC / GM |",
        "|---|" + "---|" * (len(seeds) + 3),
    ]
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
        lines.append(
            f"| {NAMES.get(m, m)} | {' | '.join(cells)} | "
            f"{_pct(sum(bacc) / len(bacc)) if full else '–'} | "
            f"{_pct(sum(gm) / len(gm)) if full else '–'} | "
            f"{p.get('bacc', '–')} / {p.get('gm', '–')} |"
        )
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


def main(argv: list[str] | None = None) -> None:
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
