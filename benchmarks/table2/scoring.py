"""Table 2's scores: test metrics of a run, M2m's acceptance, the training curve, and the
summary over seeds with paired differences."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats
from sklearn.metrics import balanced_accuracy_score, recall_score

from benchmarks.table2.protocol import PAIR_TARGETS, PAIRS, ROWS
from m2m_sampler.classifier import M2MClassifier
from m2m_sampler.longtail.metrics import geometric_mean

__all__ = ["acceptance", "curve", "scores", "summarise", "t_half_width"]


def scores(net: M2MClassifier, X: np.ndarray, y: np.ndarray, counts: np.ndarray) -> dict:
    """bACC, GM (correction 0 and 1e-3), minority / majority recall of ``net`` on ``X``."""
    pred = net.predict(X)
    labels = np.unique(y)
    rec = recall_score(y, pred, labels=labels, average=None, zero_division=0)
    # minority: the classes below the median training count (the tail), majority: the rest
    med = np.median(counts)
    minor = [r for c, r in zip(labels, rec) if counts[c] < med]
    major = [r for c, r in zip(labels, rec) if counts[c] >= med]
    return {
        "bacc": float(balanced_accuracy_score(y, pred)),
        "gm": float(geometric_mean(y, pred)),
        "gm_c": float(geometric_mean(y, pred, correction=1e-3)),
        "minor": float(np.mean(minor)),
        "major": float(np.mean(major)),
        "recall": rec.tolist(),
    }


def acceptance(net: M2MClassifier) -> dict | None:
    """Totals of the generation log over the run (None without generation)."""
    if not net.generation:
        return None
    h = net.history
    tot = {
        k: int(np.sum(h[:, k]))
        for k in (
            "m2m_entries",
            "m2m_targets",
            "m2m_translated",
            "m2m_accepted",
            "m2m_rejected_gamma",
        )
    }
    tot["accept_share_of_targets"] = tot["m2m_accepted"] / max(tot["m2m_targets"], 1)
    tot["accept_share_of_translated"] = tot["m2m_accepted"] / max(tot["m2m_translated"], 1)
    stats_ = getattr(net, "class_stats_", None)
    if stats_ is not None:
        tot["per_class"] = {str(k): v for k, v in stats_.items()}
    return tot


def curve(net: M2MClassifier) -> dict:
    """Per-epoch training loss and learning rate of a run."""
    h = net.history
    return {
        "train_loss": [float(v) for v in h[:, "train_loss"]],
        "lr": [float(v) for v in h[:, "event_lr"]] if "event_lr" in h[0] else None,
    }


def t_half_width(d: np.ndarray) -> float:
    """Half-width of the t-based 95% interval of the mean of paired differences ``d``."""
    if len(d) < 2:
        return float("nan")
    return float(stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))


def summarise(runs: list[dict], rows: list[str]) -> dict:
    """Mean +- std per row, and the paired differences with t-based 95% intervals."""
    out: dict[str, Any] = {"rows": {}, "pairs": []}
    for key in rows:
        rs = [r for r in runs if r["row"] == key]
        if not rs:
            continue
        e: dict[str, Any] = {"label": ROWS[key].label, "n_seeds": len(rs)}
        for m in ("bacc", "gm", "gm_c", "minor", "major", "train_bacc", "cpu_s"):
            v = np.array([r[m] for r in rs], dtype=float)
            e[m] = float(v.mean())
            e[m + "_std"] = float(v.std(ddof=1)) if len(v) > 1 else 0.0
        if "m2m" in rs[0]:
            e["accept_share_of_targets"] = float(
                np.mean([r["m2m"]["accept_share_of_targets"] for r in rs])
            )
        out["rows"][key] = e
    for a, b in PAIRS:
        by_a = {r["seed"]: r["bacc"] for r in runs if r["row"] == a}
        by_b = {r["seed"]: r["bacc"] for r in runs if r["row"] == b}
        seeds = sorted(set(by_a) & set(by_b))
        if len(seeds) < 2:
            continue
        d = 100 * np.array([by_a[s] - by_b[s] for s in seeds])
        half = t_half_width(d)
        out["pairs"].append(
            {
                "a": a,
                "b": b,
                "mean": float(d.mean()),
                "ci95": half,
                "n": len(d),
                "target": PAIR_TARGETS.get((a, b)),
            }
        )
    return out

