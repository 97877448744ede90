"""bfloat16 autocast against float32 on the Table 2 suite: accuracy and CPU, row by row.

Reads two runs of ``python -m benchmarks.table2`` with the same seeds, rows and
protocol, one with ``--precision bf16`` and one with ``--precision fp32``, and writes, per
data set and row, the paired difference in test bACC (bf16 - fp32, mean ± 95% t-interval
over the seeds), the mean CPU seconds of each and their ratio, and each run's validation
choices. Writes ``<out>/table2_precision.{json,md}``.

Usage::

    python -m benchmarks.table2_precision --bf16 benchmarks/results/table2 --bf16-tag _bf16 \\
        --fp32 benchmarks/results/table2 --out benchmarks/results/table2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.compare.report import pipe_table, save_json
from benchmarks.table2 import ROWS, t_half_width

__all__ = ["compare", "markdown"]


def compare(bf16: dict, fp32: dict) -> dict:
    """Row-by-row paired bACC differences and CPU ratios of two results of one data set."""
    if bf16["dataset"] != fp32["dataset"]:
        raise ValueError("the two results hold different data sets")
    a = {(r["row"], r["seed"]): r for r in bf16["runs"]}
    b = {(r["row"], r["seed"]): r for r in fp32["runs"]}
    rows, all_diffs = [], []
    for key in ROWS:
        seeds = sorted(s for (k, s) in a if k == key and (k, s) in b)
        if not seeds:
            continue
        d = 100 * np.array([a[key, s]["bacc"] - b[key, s]["bacc"] for s in seeds])
        all_diffs.append(d)
        half = t_half_width(d)
        cpu_a = float(np.mean([a[key, s]["cpu_s"] for s in seeds]))
        cpu_b = float(np.mean([b[key, s]["cpu_s"] for s in seeds]))
        rows.append(
            {
                "row": key,
                "label": ROWS[key].label,
                "n": len(seeds),
                "bacc_bf16": float(np.mean([a[key, s]["bacc"] for s in seeds])),
                "bacc_fp32": float(np.mean([b[key, s]["bacc"] for s in seeds])),
                "diff": float(d.mean()),
                "ci95": half,
                "cpu_bf16": cpu_a,
                "cpu_fp32": cpu_b,
                "cpu_ratio": cpu_a / cpu_b,
            }
        )
    diffs = np.concatenate(all_diffs)
    return {
        "dataset": bf16["dataset"],
        "rows": rows,
        "all_pairs": {
            "n": int(len(diffs)),
            "mean": float(diffs.mean()),
            "abs_max": float(np.abs(diffs).max()),
        },
        "cpu_total_bf16": float(bf16["cpu_s"]),
        "cpu_total_fp32": float(fp32["cpu_s"]),
        "wall_bf16": float(bf16.get("suite_wall_s", bf16["wall_s"])),
        "wall_fp32": float(fp32.get("suite_wall_s", fp32["wall_s"])),
        "chosen_bf16": bf16["tuning"]["chosen"],
        "chosen_fp32": fp32["tuning"]["chosen"],
        "command_bf16": bf16["command"],
        "command_fp32": fp32["command"],
        "machine": bf16["machine"],
    }


def markdown(results: list[dict], command: str = "") -> str:
    """The Markdown report of :func:`compare` results (one section per data set)."""
    lines = ["# Table 2 suite: bfloat16 autocast against float32", ""]
    if command:
        lines += [f"Written by `{command}`.", ""]
    for res in results:
        lines += [
            f"## {res['dataset']}",
            "",
            f"bf16: `{res['command_bf16']}`  ",
            f"fp32: `{res['command_fp32']}`  ",
            f"Machine: {res['machine']}. Suite wall time (both data sets in one pool): bf16 "
            f"{res['wall_bf16'] / 60:.1f} min, fp32 {res['wall_fp32'] / 60:.1f} min; this "
            f"data set's CPU: bf16 {res['cpu_total_bf16'] / 60:.1f} min, fp32 "
            f"{res['cpu_total_fp32'] / 60:.1f} min.",
            "",
            f"Chosen on validation: bf16 `{res['chosen_bf16']}`; fp32 `{res['chosen_fp32']}`.",
            "",
        ]
        lines += pipe_table(
            ["row", "seeds", "bACC bf16", "bACC fp32", "bf16 − fp32 (points, 95% CI)",
             "CPU s bf16", "CPU s fp32", "ratio"],
            [[r["label"], r["n"], f"{100 * r['bacc_bf16']:.1f}", f"{100 * r['bacc_fp32']:.1f}",
              f"{r['diff']:+.2f} ± {r['ci95']:.2f}", f"{r['cpu_bf16']:.1f}",
              f"{r['cpu_fp32']:.1f}", f"{r['cpu_ratio']:.2f}"] for r in res["rows"]],
            align="lrrrrrrr",
        )  # fmt: skip
        ap = res["all_pairs"]
        lines += [
            "",
            f"All {ap['n']} (row, seed) pairs: mean difference {ap['mean']:+.2f} points, "
            f"largest |difference| {ap['abs_max']:.1f}.",
            "",
        ]
    return "\n".join(lines)


def cli(argv: list[str] | None = None) -> int:
    """Compare the two runs' result files of every data set; write JSON and Markdown."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.table2_precision", description=__doc__.split("\n")[0]
    )
    p.add_argument("--bf16", type=Path, required=True, help="folder of the bf16 run")
    p.add_argument("--fp32", type=Path, required=True, help="folder of the fp32 run")
    p.add_argument("--bf16-tag", default="", help="suffix of the bf16 result files")
    p.add_argument("--fp32-tag", default="", help="suffix of the fp32 result files")
    p.add_argument("--datasets", nargs="+", default=["reuters", "twitter-pos"])
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/table2"))
    args = p.parse_args(argv)
    results = []
    for name in args.datasets:
        pair = [
            json.loads((folder / f"table2_{name}{tag}.json").read_text())
            for folder, tag in ((args.bf16, args.bf16_tag), (args.fp32, args.fp32_tag))
        ]
        results.append(compare(*pair))
    args.out.mkdir(parents=True, exist_ok=True)
    save_json(args.out / "table2_precision.json", results)
    command = " ".join(["python -m benchmarks.table2_precision", *sys.argv[1:]])
    text = markdown(results, command if argv is None else "")
    (args.out / "table2_precision.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
