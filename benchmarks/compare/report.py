"""Tables, ``results.json``, ``results.md`` and figures of a benchmark run."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import platform
import re
import shlex
import sys
import warnings
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.compare.runner import BenchResult

__all__ = [
    "save_json",
    "RerunMismatchWarning",
    "environment",
    "format_table",
    "markdown_table",
    "pipe_table",
    "write_figures",
    "write_json",
    "write_markdown",
]

#: (summary key, column title, scale) of the tables.
COLUMNS: tuple[tuple[str, str, float], ...] = (
    ("balanced_accuracy", "bACC (%)", 100.0),
    ("gmean", "GM (%)", 100.0),
    ("minor_acc", "Minor acc (%)", 100.0),
    ("major_acc", "Major acc (%)", 100.0),
    ("fit_time", "fit time (s)", 1.0),
)

#: What the columns mean, printed under the terminal table.
COLUMNS_LEGEND = (
    "On the test set, mean ± standard deviation over seeds (one seed: the value alone). "
    "bACC: balanced accuracy, the mean of the per-class recalls; GM: their geometric mean "
    "(0 when a class is never recognised); major acc: mean recall of the most frequent "
    "training classes that together hold more than half of the training samples; minor "
    "acc: mean recall of the other classes."
)

_PACKAGES = (
    "m2m-sampler",
    "torch",
    "numpy",
    "scikit-learn",
    "imbalanced-learn",
    "skorch",
    "matplotlib",
    "pandas",
)


class RerunMismatchWarning(RuntimeWarning):
    """Re-running M2m did not reproduce the translations of an earlier run.

    Issued when the re-run that draws the translation figure gives other translations
    than the benchmarked one (a non-deterministic device); the figure shows the re-run.
    """


def _cell(summary: dict[str, Any], key: str, scale: float) -> str:
    mean, std = summary.get(f"{key}_mean"), summary.get(f"{key}_std")
    if mean is None:
        return "n/a"
    digits = 1 if scale == 100.0 else 2
    if std is None or summary.get("n_ok", 2) < 2:  # one seed: no spread to show
        return f"{scale * mean:.{digits}f}"
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"


def _rows(result: BenchResult, methods: Sequence[str]) -> list[list[str]]:
    rows = []
    for m in methods:
        s = result.summary[m]
        cells = [s["label"], f"{s['n_ok']}"]
        cells += [_cell(s, key, scale) for key, _, scale in COLUMNS]
        rows.append(cells)
    return rows


def _header() -> list[str]:
    return ["method", "seeds", *[title for _, title, _ in COLUMNS]]


def _notes(result: BenchResult, methods: Sequence[str]) -> list[str]:
    notes = []
    for m in methods:
        s = result.summary[m]
        if s["n_na"]:
            reasons = "; ".join(s["na_reasons"])
            notes.append(f"{s['label']}: n/a on {s['n_na']} seed(s): {reasons}")
        if s.get("acceptance_rate_mean") is not None:
            spread = (
                f" ± {100 * s['acceptance_rate_std']:.1f}%"
                if s.get("n_ok", 2) >= 2 and s.get("acceptance_rate_std") is not None
                else ""
            )
            notes.append(
                f"{s['label']}: {100 * s['acceptance_rate_mean']:.1f}%{spread} of the added "
                "samples are accepted "
                "translations (the rest are copies of real minority samples); fit time "
                f"excludes training g (the ERM network, {s['g_fit_time_mean']:.2f} s)"
            )
    return notes


def format_table(result: BenchResult, methods: Sequence[str]) -> str:
    """Plain-text table (mean ± std over seeds) for the terminal.

    Parameters
    ----------
    result : BenchResult
    methods : sequence of str

    Returns
    -------
    str
    """
    header = _header()
    rows = _rows(result, methods)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return "  ".join([first, *rest])

    out = [line(header), "  ".join("-" * w for w in widths), *[line(r) for r in rows]]
    out += [f"* {n}" for n in _notes(result, methods)]
    out += [COLUMNS_LEGEND]
    return "\n".join(out)


def pipe_table(
    header: Sequence[str], rows: Iterable[Sequence[Any]], align: Sequence[str] | None = None
) -> list[str]:
    r"""A Markdown (pipe) table as lines: the one Markdown table writer of the benchmarks.

    Parameters
    ----------
    header : sequence of str
        Column titles.
    rows : iterable of sequences
        Cells, formatted with ``str``.
    align : sequence of str or None
        Per column ``"l"`` (``---``) or ``"r"`` (``---:``); None: every column ``---``.

    Returns
    -------
    list of str
        ``| a | b |`` lines: the header, the alignment row, one line per row.

    Examples
    --------
    >>> print("\n".join(pipe_table(["method", "bACC"], [["ERM", "87.9"]], align="lr")))
    | method | bACC |
    |---|---:|
    | ERM | 87.9 |
    """
    marks = ["---:" if a == "r" else "---" for a in (align or "l" * len(header))]
    if len(marks) != len(header):
        raise ValueError(f"align has {len(marks)} entries for {len(header)} columns")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks) + "|"]
    for row in rows:
        cells = [str(c) for c in row]
        if len(cells) != len(header):
            raise ValueError(f"a row has {len(cells)} cells for {len(header)} columns")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown_table(result: BenchResult, methods: Sequence[str]) -> str:
    """The same table in Markdown.

    Parameters
    ----------
    result : BenchResult
    methods : sequence of str

    Returns
    -------
    str
    """
    header = _header()
    lines = pipe_table(header, _rows(result, methods), align="l" + "r" * (len(header) - 1))
    notes = _notes(result, methods)
    if notes:
        lines.append("")
        lines += [f"* {n}" for n in notes]
    return "\n".join(lines)


def _cpu_model() -> str | None:
    """The CPU's model name from ``/proc/cpuinfo`` (None where there is none, e.g. macOS)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return None


def environment(device: str) -> dict[str, Any]:
    """Machine, platform and package versions.

    Parameters
    ----------
    device : str
        The torch device the run used.

    Returns
    -------
    dict
    """
    import torch

    versions = {}
    for pkg in _PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    from m2m_sampler import __version__

    versions["m2m_sampler (imported)"] = __version__
    machine = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        machine["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return {"machine": machine, "versions": versions}


def _clean(obj: Any) -> Any:
    """JSON-safe copy: numpy scalars to builtins, NaN / inf to None, tuples to lists."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


_NUMBER_LIST = re.compile(
    r"\[\s+((?:-?[\d.eE+-]+|null|true|false)(?:,\s+(?:-?[\d.eE+-]+|null|true|false))*)\s+\]"
)


def dumps(doc: Any) -> str:
    """JSON text with one key per line but lists of plain numbers kept on one line.

    Parameters
    ----------
    doc : JSON-serialisable object (no NaN)

    Returns
    -------
    str
    """
    text = json.dumps(doc, indent=1, allow_nan=False)
    return _NUMBER_LIST.sub(lambda m: "[" + " ".join(m.group(1).split()) + "]", text)


def save_json(path: str | os.PathLike[str], doc: Any, *, indent: int = 1, end: str = "",
              compact_lists: bool = False) -> None:
    """Write a result document as JSON: the one JSON writer of the benchmarks.

    Parameters
    ----------
    path : str or path-like
    doc : JSON-serialisable object
        numpy scalars are written as floats.
    indent : int, default=1
    end : str, default=""
        Appended to the text (e.g. a final newline).
    compact_lists : bool, default=False
        Lists of plain numbers on one line (:func:`dumps`; ``doc`` must hold no NaN).
    """
    text = dumps(doc) if compact_lists else json.dumps(doc, indent=indent, default=float)
    Path(path).write_text(text + end)


def write_json(
    path: Path,
    result: BenchResult,
    config: dict[str, Any],
    dataset: dict[str, Any],
    env: dict[str, Any],
    argv: Sequence[str] | None,
    command: str = "python -m benchmarks.compare",
) -> dict[str, Any]:
    """Write ``results.json``.

    Parameters
    ----------
    path : Path
    result : BenchResult
    config : dict
        The resolved options of the run.
    dataset : dict
        Name, kind, description and class labels of the data set.
    env : dict
        :func:`environment`.
    argv : sequence of str or None
        The command-line arguments (None: ``sys.argv[1:]``).
    command : str, default="python -m benchmarks.compare"
        What ran them (the ``command`` field is it followed by the arguments).

    Returns
    -------
    dict
        What was written.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    doc = {
        "command": " ".join([command, *map(shlex.quote, args)]),
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": result.wall_time,
        "config": config,
        "dataset": dataset,
        **env,
        "classes": result.classes,
        "class_order": result.class_order,
        "splits": result.splits,
        "summary": result.summary,
        "rows": result.rows,
    }
    doc = _clean(doc)
    save_json(path, doc, end="\n", compact_lists=True)
    return doc


def write_markdown(
    path: Path, result: BenchResult, methods: Sequence[str], doc: dict[str, Any]
) -> None:
    """Write ``results.md``: what was run, on what, and the table.

    Parameters
    ----------
    path : Path
    result : BenchResult
    methods : sequence of str
    doc : dict
        The content of ``results.json``.
    """
    cfg, ds, mach = doc["config"], doc["dataset"], doc["machine"]
    seeds = ", ".join(str(s) for s in cfg["seeds"])
    lines = [
        f"# {ds['name']}: benchmark results",
        "",
        f"Command: `{doc['command']}`  ",
        f"Date: {doc['timestamp']}; wall time {doc['wall_time_s']:.0f} s; "
        f"{mach['platform']}, {mach['cpu_count']} CPU(s), torch threads "
        f"{mach['torch_threads']}, device {mach['device']}.",
        "",
        f"Data: {ds['description']}",
        "",
        f"Network: MLP hidden {cfg['train']['hidden']}, Adam lr {cfg['train']['lr']}, weight "
        f"decay {cfg['train']['weight_decay']}, batch {cfg['train']['batch_size']}, "
        f"{cfg['train']['epochs']} epochs. Seeds: {seeds}. M2m: {cfg['m2m']}.",
        "",
        "Mean ± standard deviation over seeds (test set; minor / major = mean recall of "
        "the classes that hold the smallest / largest half of the training samples).",
        "",
        markdown_table(result, methods),
        "",
    ]
    path.write_text("\n".join(lines))


def write_figures(
    out: Path,
    result: BenchResult,
    methods: Sequence[str],
    title: str,
    image_shape: Sequence[int] | None = None,
) -> list[Path]:
    """bACC bars, per-class recall, cumulative false positives and M2m's pictures (PNG).

    Parameters
    ----------
    out : Path
        Folder to write into.
    result : BenchResult
    methods : sequence of str
    title : str
        Shown in every figure.
    image_shape : sequence of int, optional
        Shape of one sample as an image (``(8, 8)`` for digits): then the translated
        samples of the first M2m seed are drawn too (``m2m_translations.png``).

    Returns
    -------
    list of Path
        ``bacc.png``, ``per_class_recall.png``, ``cumulative_fp.png`` and, when M2m ran,
        ``m2m_acceptance.png`` (:func:`m2m_sampler.plotting.plot_acceptance_matrix`) and,
        with ``image_shape`` and at least one accepted translation,
        ``m2m_translations.png`` (:func:`m2m_sampler.plotting.plot_translations`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from m2m_sampler.plotting import (
        plot_acceptance_matrix,
        plot_cumulative_false_positives,
        plot_per_class_recall,
        plot_translations,
    )

    ok = [m for m in methods if result.summary[m]["n_ok"]]
    labels = [result.summary[m]["label"] for m in ok]
    colors = plt.get_cmap("tab10")(np.arange(len(ok)) % 10)
    paths = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        paths.append(out / name)
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(1.1 * max(len(ok), 3) + 2, 4))
    means = [100 * result.summary[m]["balanced_accuracy_mean"] for m in ok]
    stds = [100 * result.summary[m]["balanced_accuracy_std"] for m in ok]
    ax.bar(np.arange(len(ok)), means, yerr=stds, color=colors, capsize=4)
    ax.set_xticks(np.arange(len(ok)), labels, rotation=30, ha="right")
    ax.set_ylabel("balanced accuracy (%)")
    if means:
        low = min(m - s for m, s in zip(means, stds))
        ax.set_ylim(max(0.0, low - 5), min(100.0, max(m + s for m, s in zip(means, stds)) + 3))
    ax.set_title(f"{title}: bACC, mean ± std over seeds")
    ax.grid(axis="y", alpha=0.3)
    save(fig, "bacc.png")

    order = [str(c) for c in result.class_order]
    recall = {
        lab: [result.summary[m]["per_class_recall"][c] for c in order] for m, lab in zip(ok, labels)
    }
    ax = plot_per_class_recall(recall, order)
    ax.set_title(f"{title}: per-class recall, mean over seeds")
    save(ax.figure, "per_class_recall.png")

    cum_fp = {lab: result.summary[m]["cumulative_false_positives"] for m, lab in zip(ok, labels)}
    ax = plot_cumulative_false_positives(cum_fp, order)
    ax.set_title(f"{title}: cumulative false positives (M2m Fig. 5)")
    save(ax.figure, "cumulative_fp.png")

    if result.m2m_fit is not None:
        pipe, split = result.m2m_fit
        sampler = pipe.named_steps["sampler"]
        ax = plot_acceptance_matrix(sampler)
        ax.set_title(f"{title}: accepted M2m translations, seed {split.seed}", fontsize=10)
        save(ax.figure, "m2m_acceptance.png")
        if image_shape is not None and sampler.is_translated_.any():
            X = split.X_train
            if "scaler" in pipe.named_steps:
                X = pipe.named_steps["scaler"].transform(X)
            # The same fit_resample call as in the pipeline (same random_state): the
            # same rows, now kept.
            kept = sampler.is_translated_.copy(), sampler.source_indices_.copy()
            X_res, y_res = sampler.fit_resample(X, split.y_train)
            if not (
                np.array_equal(kept[0], sampler.is_translated_)
                and np.array_equal(kept[1], sampler.source_indices_)
            ):
                warnings.warn(
                    "re-running M2m for m2m_translations.png did not reproduce the "
                    "benchmarked translations (a non-deterministic device?); the figure "
                    "shows the re-run.",
                    RerunMismatchWarning,
                    stacklevel=2,
                )
            fig = plot_translations(
                sampler, X, split.y_train, X_res, y_res, image_shape=image_shape, n_samples=10
            )
            fig.suptitle(f"{title}: M2m translations (source → target), seed {split.seed}")
            save(fig, "m2m_translations.png")
    return paths
