"""Table 2's reports: the Markdown table beside the paper's, the figure, and the merge of
result files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks.compare.report import pipe_table, save_json
from benchmarks.table2.protocol import PAPER, ROW_KEYS, ROWS
from benchmarks.table2.scoring import summarise

__all__ = ["merge", "write_figure", "write_markdown"]


def _timing_line(result: dict) -> str:
    """Where the times come from (files written before ``--jobs`` carry no ``jobs`` key)."""
    cpu = f"Total CPU {result['cpu_s'] / 60:.1f} min"
    if "jobs" not in result:
        return (
            "The machine's 2 cores were shared with other jobs, so times are CPU seconds of "
            f"this process (`time.process_time`). {cpu}, wall {result['wall_s'] / 60:.1f} min."
        )
    suite = result.get("suite") or [result["dataset"]]
    wall = result.get("suite_wall_s", result["wall_s"])
    return (
        f"CPU s: `time.process_time` of the process that trained the row. {cpu}; "
        f"{result['jobs']} worker process(es); wall {wall / 60:.1f} min for "
        f"{' + '.join(suite)} together."
    )


def write_markdown(path: Path, result: dict) -> None:
    """The Markdown report: the table beside the paper's, the paired differences."""
    name = result["dataset"]
    s = result["summary"]
    cfg = result["config"]
    paper = PAPER[name]
    lines = [
        f"# Table 2 on {name}",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']}"
        + (f", run {result['date']}" if "date" in result else "")
        + f"; torch {result['torch']}, "
        f"{result['config'].get('precision', 'fp32')}, one torch thread per process. "
        + _timing_line(result),
        "",
        f"Data: {result['data']['n_train']} training / {result['data']['n_test']} test "
        f"samples, {result['data']['n_classes']} classes, imbalance ratio "
        f"{result['data']['imbalance_ratio']:.1f}; features: {result['data']['features']}.",
        "",
        f"Protocol: MLP({cfg['hidden']}) (2 fully connected layers), SGD momentum "
        f"{cfg['momentum']}, lr {cfg['lr']} with {cfg['warmup']} warm-up epochs, x"
        f"{cfg['lr_decay']} at epochs {result['milestones']}, {cfg['epochs']} epochs, batch "
        f"{cfg['batch_size']}, weight decay {cfg['weight_decay']}; deferred phase from "
        f"epoch {result['start_epoch']}; M2m T = {cfg['n_steps']}, eta = {cfg['eta']}, "
        f"lam = {cfg['lam']}.",
        "",
        f"Chosen on validation ({result['tuning']['n_fit']} fit / {result['tuning']['n_val']}"
        f" validation samples of the training set): `{result['tuning']['chosen']}`.",
        "",
        f"Mean ± std over {len(result['seeds'])} seeds (test set); bACC, GM, minority / "
        "majority recall (classes below / at or above the median training count) in %; "
        "GM with correction 1e-3 (GM0: imbalanced-learn's default 0); train bACC on the "
        "training set; accepted: share of M2m's targets replaced by a translation.",
        "",
    ]

    def row(key: str, e: dict) -> list:
        pb, pg = paper.get(key, (None, None))
        acc = e.get("accept_share_of_targets")
        return [e["label"], e["n_seeds"], f"{100 * e['bacc']:.1f} ± {100 * e['bacc_std']:.1f}",
                "" if pb is None else pb, f"{100 * e['gm_c']:.1f} ± {100 * e['gm_c_std']:.1f}",
                "" if pg is None else pg, f"{100 * e['gm']:.1f}", f"{100 * e['minor']:.1f}",
                f"{100 * e['major']:.1f}", f"{100 * e['train_bacc']:.1f}",
                "" if acc is None else f"{100 * acc:.0f}%", f"{e['cpu_s']:.0f}"]  # fmt: skip

    header = ["row", "seeds", "bACC", "paper bACC", "GM", "paper GM", "GM0", "minority",
              "majority", "train bACC", "accepted", "CPU s"]  # fmt: skip
    lines += pipe_table(header, [row(k, e) for k, e in s["rows"].items()])
    if result.get("schedule_selection"):
        lines += [
            "",
            "Schedule chosen on the validation part (bACC %, validation / fit part; "
            "score = mean validation bACC of ERM, DRS, M2m):",
            "",
        ]
        lines += pipe_table(
            ["epochs", "deferral epoch", "ERM", "DRS", "M2m", "score"],
            [[r["epochs"], r["start_epoch"],
              *(f"{100 * r[f'{k}_val_bacc']:.1f} / {100 * r[f'{k}_fit_bacc']:.1f}"
                for k in ("erm", "drs", "m2m")),
              f"{100 * r['score']:.1f}"] for r in result["schedule_selection"]],
        )  # fmt: skip
    lines += [
        "",
        "Paired differences in test bACC (same seeds; points, mean ± 95% t-interval):",
        "",
    ]
    for p in s["pairs"]:
        tgt = "" if p["target"] is None else f" (paper's target >= +{p['target']:.0f})"
        lines.append(
            f"- {ROWS[p['a']].label} − {ROWS[p['b']].label}: {p['mean']:+.1f} ± "
            f"{p['ci95']:.1f} ({p['n']} seeds){tgt}"
        )
    lines.append("")
    path.write_text("\n".join(lines))


def write_figure(path: Path, result: dict) -> None:
    """Bar chart of test bACC per row (mean, std) beside the paper's, and ERM/M2m curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result["summary"]["rows"]
    paper = PAPER[result["dataset"]]
    keys = list(s)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [2.2, 1]})
    x = np.arange(len(keys))
    ax.bar(
        x - 0.2,
        [100 * s[k]["bacc"] for k in keys],
        0.4,
        yerr=[100 * s[k]["bacc_std"] for k in keys],
        label="this run",
    )
    ax.bar(x + 0.2, [paper.get(k, (np.nan,))[0] for k in keys], 0.4, label="paper")
    ax.set_xticks(x, [s[k]["label"] for k in keys], rotation=60, ha="right")
    ax.set_ylabel("test bACC (%)")
    ax.set_title(f"Table 2, {result['dataset']}")
    ax.legend()
    for key in ("erm", "drs", "m2m"):
        rs = [r for r in result["runs"] if r["row"] == key]
        if rs:
            loss = np.mean([r["curve"]["train_loss"] for r in rs], axis=0)
            ax2.plot(np.arange(len(loss)), loss, label=ROWS[key].label)
    ax2.axvline(result["start_epoch"], color="grey", ls=":", label="deferral epoch")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("training loss (mean over seeds)")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def merge(paths: list[Path], stem: Path) -> dict:
    """Merge result JSONs of one data set and protocol (other seeds or rows) into ``stem``.

    The first file gives the protocol, data and tuning; a hyper-parameter that a later
    file searched on validation and the first did not (e.g. CB-RW's ``beta`` for rows
    added later) takes that file's candidates and choice; every file's runs are kept (a
    (row, seed) pair seen twice keeps the first); the commands are listed; CPU and wall
    times are summed; the summary, Markdown and figure are rebuilt.
    """
    results = [json.loads(Path(p).read_text()) for p in paths]
    out = dict(results[0])
    tuning = dict(out.get("tuning") or {})
    candidates = dict(tuning.get("candidates") or {})
    chosen = dict(tuning.get("chosen") or {})
    for res in results[1:]:
        other = res.get("tuning") or {}
        for key, cands in (other.get("candidates") or {}).items():
            if key not in candidates:
                candidates[key] = cands
                chosen[key] = other["chosen"][key]
    if tuning:
        out["tuning"] = {**tuning, "candidates": candidates, "chosen": chosen}
    seen, runs = set(), []
    for res in results:
        if res["dataset"] != out["dataset"] or res["config"] != out["config"]:
            raise ValueError("merge: the files hold different data sets or protocols")
        for r in res["runs"]:
            if (r["row"], r["seed"]) not in seen:
                seen.add((r["row"], r["seed"]))
                runs.append(r)
    rows = [k for k in ROW_KEYS if any(r["row"] == k for r in runs)]
    out["runs"], out["rows"] = runs, rows
    out["seeds"] = sorted({r["seed"] for r in runs})
    out["command"] = " ; ".join(res["command"] for res in results)
    out["cpu_s"] = float(sum(res["cpu_s"] for res in results))
    out["wall_s"] = float(sum(res["wall_s"] for res in results))
    out["merged_from"] = [str(p) for p in paths]
    out["summary"] = summarise(runs, rows)
    stem.parent.mkdir(parents=True, exist_ok=True)
    save_json(stem.with_suffix(".json"), out)
    write_markdown(stem.with_suffix(".md"), out)
    write_figure(stem.with_suffix(".png"), out)
    return out

