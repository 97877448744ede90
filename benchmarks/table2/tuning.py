"""Table 2's choices on validation: every row's hyper-parameters, and the schedule."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import balanced_accuracy_score

from benchmarks.compare.validation import carve_validation
from benchmarks.search import Folds, search_grids
from benchmarks.table2.nets import continue_trunk, from_scratch, train_trunk
from benchmarks.table2.protocol import GRIDS, ROWS, Config, first_values
from benchmarks.table2.scoring import acceptance

__all__ = ["choose_schedule", "tune"]


def tune(
    cfg: Config,
    data: dict,
    rows: list[str],
    *,
    val_fraction: float = 0.2,
    seed: int = 100,
    fixed: dict | None = None,
    log=print,
) -> dict:
    """Choose every row's hyper-parameters on a validation split of the training data.

    Through the lab's one tuning loop (:func:`benchmarks.search.search_grids`, one fold):
    M2m's ``beta`` x ``gamma`` by the M2m row continued from the CE trunk (trained once on
    the fit part, :class:`~benchmarks.search.Folds`; ``g``: the ERM net of the fit part),
    LDAM's ``s`` by LDAM-DRW (one LDAM trunk per candidate), the focal ``gamma`` and
    CB-RW's ``beta`` by their rows from scratch. ``fixed``: hyper-parameters
    (``GRIDS`` keys) taken as given instead of searched.
    """
    fixed = dict(fixed or {})
    X, y, n_classes = data["X"], data["y"], len(data["class_names"])
    base = first_values()
    searched = {
        "m2m": any(ROWS[r].needs_g for r in rows),
        "ldam": any(ROWS[r].loss == "ldam" for r in rows),
        "focal": "focal" in rows,
        "cbrw": "cbrw" in rows,
    }
    grids = {k: GRIDS[k] for k, on in searched.items() if on and k not in fixed}
    with tempfile.TemporaryDirectory() as tmp:

        def prepare(fold: int, Xf: np.ndarray, yf: np.ndarray) -> tuple:
            """The fold's CE trunk (shared by every M2m candidate) and ``g``: its ERM net."""
            counts = np.bincount(yf, minlength=n_classes)
            folder = Path(tmp) / f"ce{fold}"
            ce = train_trunk(cfg, "erm", counts, base, Xf, yf, seed=seed, folder=folder)
            g = continue_trunk(cfg, "erm", counts, base, ce, Xf, yf, seed=seed).module_
            return counts, ce, g

        def fit(kind: str, p: dict, Xf, yf, fold: int, state: tuple) -> tuple[Any, dict]:
            counts, ce, g = state
            hp = {**base, kind: p}
            if kind == "m2m":
                net = continue_trunk(cfg, "m2m", counts, hp, ce, Xf, yf, seed=seed, g=g)
                return net, {"accept_share_of_targets": acceptance(net)["accept_share_of_targets"]}
            if kind == "ldam":
                folder = Path(tmp) / f"ldam{p['s']}_{fold}"
                folder = train_trunk(cfg, "ldam", counts, hp, Xf, yf, seed=seed, folder=folder)
                return continue_trunk(cfg, "ldam-drw", counts, hp, folder, Xf, yf, seed=seed), {}
            return from_scratch(cfg, kind, counts, hp, Xf, yf, seed=seed)[0], {}

        folds = Folds.carved(y, val_fraction, [seed], prepare)
        out: dict[str, Any] = {
            "n_fit": len(folds.folds[0][0]),
            "n_val": len(folds.folds[0][1]),
            "seed": seed,
            "val_fraction": val_fraction,
            "grids": GRIDS,
            "candidates": {},
            "fixed": fixed,
        }
        out["candidates"], choice = search_grids(grids, X, y, folds, fit, log=log)
    out["chosen"] = chosen = {**base, **fixed, **choice}
    log(f"  [tune] chosen {chosen}")
    return out


def choose_schedule(
    cfg: Config, data: dict, grid: list[tuple[int, float]], hp: dict, *, log=print
) -> tuple[Config, list[dict]]:
    """Choose ``(epochs, start_frac)`` on the validation part (seed 100, 20% per class).

    For every candidate, one CE trunk and its ERM, DRS and M2m tails (M2m with ``hp``)
    are trained on the fit part; the candidate with the best mean validation bACC of the
    three wins (the rows whose result depends on the schedule's shape). Returns the
    chosen config and every candidate's scores (validation and fit-part bACC).
    """
    fit_idx, val_idx = carve_validation(data["y"], 0.2, 100)
    Xf, yf = data["X"][fit_idx], data["y"][fit_idx]
    Xv, yv = data["X"][val_idx], data["y"][val_idx]
    counts = np.bincount(yf, minlength=len(data["class_names"]))
    table = []
    for epochs, frac in grid:
        c = replace(cfg, epochs=int(epochs), start_frac=float(frac))
        row: dict[str, Any] = {"epochs": c.epochs, "start_frac": c.start_frac,
                               "start_epoch": c.start}  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            trunk = train_trunk(c, "erm", counts, hp, Xf, yf, seed=100, folder=Path(tmp) / "t")
            erm = continue_trunk(c, "erm", counts, hp, trunk, Xf, yf, seed=100)
            nets = {
                "erm": erm,
                "drs": continue_trunk(c, "drs", counts, hp, trunk, Xf, yf, seed=100),
                "m2m": continue_trunk(c, "m2m", counts, hp, trunk, Xf, yf, seed=100, g=erm.module_),
            }
        for key, net in nets.items():
            row[f"{key}_val_bacc"] = float(balanced_accuracy_score(yv, net.predict(Xv)))
            row[f"{key}_fit_bacc"] = float(balanced_accuracy_score(yf, net.predict(Xf)))
        row["score"] = float(np.mean([row[f"{k}_val_bacc"] for k in nets]))
        log(f"  [schedule] {epochs} epochs, defer at {frac}: " + ", ".join(
            f"{k} val {100 * row[f'{k}_val_bacc']:.1f} (fit {100 * row[f'{k}_fit_bacc']:.1f})"
            for k in nets))  # fmt: skip
        table.append(row)
    best = max(table, key=lambda r: r["score"])
    return replace(cfg, epochs=best["epochs"], start_frac=best["start_frac"]), table
