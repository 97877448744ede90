"""Collect the committed benchmark results into one Markdown summary.

Reads every ``results.json`` under the given folders (default:
``benchmarks/results/digits_lt`` and ``benchmarks/results/tabular/*``) and the matching tuning
files (``benchmarks/results/tuning/<tag>.json``), and prints:

1. a bACC table (mean ± std over seeds, in %) with one row per data set and one column per
   method;
2. paired comparisons of M2m with SMOTE, RW (re-weighting), ROS and ERM: mean and standard
   deviation over seeds of the per-seed bACC difference (same split, same initialisation),
   the number of seeds M2m wins / ties / loses, and a verdict from a paired t-test
   (two-sided, 5% level: "win" / "loss" when significant, else "tie"); "n/a" when the
   other method could not run;
3. M2m's acceptance rates and the tuned hyper-parameters.

Usage (``benchmarks/results/`` is the root of the results)::

    python -m benchmarks.summary > benchmarks/results/summary.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from benchmarks.compare.report import pipe_table

COMPARE = ("smote", "reweight", "ros", "erm")


def _load(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "results.json").read_text())


def _tag(folder: Path) -> str:
    return "digits-lt" if folder.name == "digits_lt" else folder.name


def _bacc(doc: dict[str, Any], method: str) -> dict[int, float]:
    return {
        r["seed"]: r["balanced_accuracy"]
        for r in doc["rows"]
        if r["method"] == method and r["status"] == "ok"
    }


def _cell(s: dict[str, Any], n_seeds: int) -> str:
    if s["balanced_accuracy_mean"] is None:
        return "n/a"
    txt = f"{100 * s['balanced_accuracy_mean']:.1f} ± {100 * s['balanced_accuracy_std']:.1f}"
    return txt if s["n_ok"] == n_seeds else f"{txt} [{s['n_ok']}/{n_seeds} seeds]"


def compare(doc: dict[str, Any], other: str) -> str:
    """Paired comparison of M2m with ``other`` over the seeds both ran on.

    Parameters
    ----------
    doc : dict
        A ``results.json``.
    other : str
        Method key.

    Returns
    -------
    str
        ``"+d ± s (w/t/l) verdict"`` in bACC points, or ``"n/a"``.
    """
    a, b = _bacc(doc, "m2m"), _bacc(doc, other)
    seeds = sorted(set(a) & set(b))
    if len(seeds) < 2:
        return "n/a"
    d = 100 * np.array([a[s] - b[s] for s in seeds])
    wins, losses = int(np.sum(d > 1e-9)), int(np.sum(d < -1e-9))
    ties = len(d) - wins - losses
    if np.allclose(d, 0):
        verdict = "tie"
    else:
        p = stats.ttest_rel([a[s] for s in seeds], [b[s] for s in seeds]).pvalue
        verdict = "tie" if not p < 0.05 else ("**win**" if d.mean() > 0 else "**loss**")
    return f"{d.mean():+.1f} ± {d.std(ddof=1):.1f} ({wins}/{ties}/{losses}) {verdict}"


def main(argv: list[str] | None = None, root: str | Path = "benchmarks/results") -> int:
    """Print the summary.

    Parameters
    ----------
    argv : list of str or None
        Result folders (none: ``<root>/digits_lt`` and every ``<root>/tabular/*``).
    root : str or Path, default="benchmarks/results"
        Holds the result folders and ``tuning/``.

    Returns
    -------
    int
    """
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="*", type=Path)
    args = p.parse_args(argv)
    print(summary_markdown(args.folders, Path(root)))
    return 0


def summary_markdown(folders: list[Path], root: Path) -> str:
    """The summary of the ``results.json`` in ``folders`` as Markdown (see the module).

    Parameters
    ----------
    folders : list of Path
        Result folders; empty: ``<root>/digits_lt`` and every ``<root>/tabular/*``.
    root : Path
        Holds the default folders and ``tuning/<tag>.json``.

    Returns
    -------
    str
    """
    folders = folders or [
        root / "digits_lt",
        *sorted(f for f in (root / "tabular").iterdir() if (f / "results.json").is_file()),
    ]
    docs = [(f, _load(f)) for f in folders if (f / "results.json").is_file()]
    methods: list[str] = []
    for _, doc in docs:
        methods += [m for m in doc["config"]["methods"] if m not in methods]
    labels = {}
    for _, doc in docs:
        labels.update({m: s["label"] for m, s in doc["summary"].items()})

    out = ["## Balanced accuracy (%), mean ± std over seeds", ""]
    rows = []
    for folder, doc in docs:
        s = doc["summary"]
        n_train = sorted({sp["n_train"] for sp in doc["splits"]})
        size = str(n_train[0]) if len(n_train) == 1 else f"{n_train[0]}-{n_train[-1]}"
        n_seeds = len(doc["config"]["seeds"])
        cells = [_cell(s[m], n_seeds) if m in s else "" for m in methods]
        best = max(
            (s[m]["balanced_accuracy_mean"] for m in methods if m in s and s[m]["n_ok"]),
            default=None,
        )
        cells = [
            f"**{c}**" if m in s and s[m]["balanced_accuracy_mean"] == best else c
            for m, c in zip(methods, cells)
        ]
        rows.append([_tag(folder), size, len(doc["config"]["seeds"]), *cells])
    header = ["data set", "train size", "seeds", *(labels[m] for m in methods)]
    out += pipe_table(header, rows, align="lrr" + "r" * len(methods))
    out += [
        "",
        "Bold: best mean. [k/n seeds]: the method could not run on the other seeds "
        "(see the data set's results.md for the reason). n/a: it ran on no seed.",
        "",
        "## M2m minus other methods: paired bACC difference (points)",
        "",
        "Mean ± std over seeds of M2m's bACC minus the other method's on the same split; "
        "(wins/ties/losses over seeds); verdict of a two-sided paired t-test at 5%.",
        "",
        *pipe_table(
            ["data set", *(f"vs {labels[m]}" for m in COMPARE)],
            [[_tag(folder), *(compare(doc, m) for m in COMPARE)] for folder, doc in docs],
        ),
    ]
    out += [
        "",
        "## M2m: hyper-parameters (tuned on validation) and acceptance",
        "",
    ]
    rows = []
    for folder, doc in docs:
        cfg, s = doc["config"]["m2m"], doc["summary"]
        m2m = s.get("m2m", {})
        rate = m2m.get("acceptance_rate_mean")
        rate_txt = (
            "n/a" if rate is None else f"{100 * rate:.1f} ± {100 * m2m['acceptance_rate_std']:.1f}"
        )
        minor = []
        for m in ("m2m", "ros", "smote"):
            v = s.get(m, {}).get("minor_acc_mean")
            minor.append("n/a" if v is None else f"{100 * v:.1f}")
        lam = f"{cfg['lam']:g}" if cfg["f"] == "g" else "-"
        rows.append(
            [
                _tag(folder),
                f"{cfg['beta']:g}",
                f"{cfg['gamma']:g}",
                f"{cfg['step_size']:g}",
                cfg["f"],
                lam,
                rate_txt,
                " / ".join(minor),
            ]
        )
    header = ["data set", "beta", "gamma", "step size", "f", "lam"]
    header += ["accepted translations (%)", "minority acc M2m / ROS / SMOTE (%)"]
    out += pipe_table(header, rows, align="lrrrlrrl")
    out += [
        "",
        "## Tuning: does accepting translations help on validation?",
        "",
        "Stage-1 candidates of `benchmarks.tune_m2m` (f = None, 18 per data set): Spearman "
        "correlation between the acceptance rate and the validation bACC, and the mean "
        "validation bACC of the candidates that accept more than half / less than 5% of the "
        "added samples (the latter are almost RandomOverSampler).",
        "",
    ]
    rows = []
    for folder, _ in docs:
        path = root / "tuning" / f"{_tag(folder)}.json"
        if not path.is_file():
            continue
        tune = json.loads(path.read_text())
        stage1 = tune["stage1"]
        acc = np.array([r["acceptance_rate"] for r in stage1])
        val = 100 * np.array([r["val_bacc"] for r in stage1])
        every = 100 * np.array([r["val_bacc"] for r in stage1 + tune["stage2"]])
        ref = tune["reference_val_bacc"]
        rho = stats.spearmanr(acc, val).statistic
        groups = [
            f"{val[m].mean():.1f} (n={int(m.sum())})" if m.any() else "-"
            for m in (acc > 0.5, acc < 0.05)
        ]
        rows.append(
            [
                _tag(folder),
                f"{every.min():.1f}-{every.max():.1f}",
                f"{100 * ref['erm']:.1f} / {100 * ref['ros']:.1f}",
                f"{rho:+.2f}",
                *groups,
            ]
        )
    header = ["data set", "validation bACC range (%)", "ERM / ROS on validation (%)"]
    header += ["Spearman (acceptance, val bACC)", "mean val bACC, > 50% accepted"]
    out += pipe_table([*header, "mean val bACC, < 5% accepted"], rows, align="lllrll")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
