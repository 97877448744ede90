"""M2MClassifier against the long-tail baselines, with the same MLP and schedule for all.

Data sets (balanced test sets, never used for any choice):

* ``digits-lt``: :func:`m2m_sampler.datasets.load_digits_lt` with ``rho = 10`` (519 training
  images of 8x8 pixels in [0, 1], 50 test images per class); translations in pixel space,
  clipped to [0, 1].
* ``pendigits-lt``: the shared UCI pendigits table; 200 random samples per class form the
  balanced test set, the rest is cut to the long-tailed profile with ``rho = 100``
  (:func:`m2m_sampler.datasets.make_long_tailed`, classes 0..9 from largest to smallest,
  943 ... 9 samples); features standardised on the training part.

Methods (one hidden layer of 256 units, SGD momentum 0.9, weight decay 2e-4, batch 64, base
lr 0.1 with the paper's schedule shape: 5 warm-up epochs, then x0.1 at 80% and at 90% of
the epochs (the paper divides by 100; with a few batches per epoch that leaves the deferred
phase almost no learning); deferred methods switch on at 80%):

* ``ERM``; ``DRS`` (= ``M2MClassifier(generation=False)``, the same run without
  generation); ``DRW``; ``LDAM-DRW``;
* ``M2m`` (``M2MClassifier``, ``g`` = the ERM net of the same seed, ``translate_ahead=1``,
  the paper's per-batch rule) and ``M2m (ahead 8)`` (8 batches per engine call);
* ``LDAM-DRW + M2m`` (``criterion=LDAMLoss`` + ``DeferredReweighting`` + generation);
* ``M2MOverSampler + ERM`` for contrast (offline Algorithm 1 with the same ``g``, then
  ERM on the resampled set).

ERM, DRS, DRW, LDAM-DRW and the M2m runs of one seed start from the same initial weights
and see the same batches until the deferred phase (same sampler, same torch seed).

Hyper-parameters (M2m's beta, gamma, step size; LDAM's scale ``s``; the over-sampler's
beta, gamma, step size) are chosen by balanced accuracy on validation splits carved from
the training data (``--val-fraction`` of every class, at least one sample left in the
fit part; ``--repeats`` carvings, scores averaged, ties broken by the balanced log-loss),
with ``g`` trained by ERM on each fit part only. ``LDAM-DRW + M2m`` reuses the chosen ``s``
and M2m settings.

Outputs ``<out>/m2m_classifier.json`` (every run, every tuning candidate) and
``<out>/m2m_classifier.md`` (tables). Usage (``benchmarks.m2m_classifier`` is the same
command line)::

    nohup python -m benchmarks.m2m_classifier > bench_m2m_classifier.log 2>&1 &
    python -m benchmarks.m2m_classifier --quick     # smoke test, seconds

Runs on one CPU thread (``torch.set_num_threads(1)``): small models on a shared machine.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import StandardScaler

from benchmarks.compare.report import pipe_table, save_json
from benchmarks.datasets import load_tabular
from benchmarks.search import Folds, search_grids
from benchmarks.timing import Stopwatch
from m2m_sampler.classifier import M2MClassifier
from m2m_sampler.datasets import load_digits_lt, make_long_tailed
from m2m_sampler.longtail.losses import LDAMLoss
from m2m_sampler.longtail.metrics import geometric_mean, major_minor_accuracy
from m2m_sampler.longtail.models import MLP
from m2m_sampler.net import NetClassifier
from m2m_sampler.over_sampler import M2MOverSampler
from m2m_sampler.training.callbacks import DeferredResampling, DeferredReweighting
from m2m_sampler.training.sampling import ClassBalancedSampler
from m2m_sampler.training.schedules import NEVER, default_start_epoch, paper_lr_scheduler

LAM = 0.5
N_STEPS = 10

LR_DECAY = 0.1  # per milestone (80% and 90% of the epochs); the paper's 0.01 leaves a
# small MLP with a few batches per epoch almost no learning in the deferred phase
DATASETS = {
    # grids: beta x gamma x step size (the same grid for M2MClassifier and M2MOverSampler);
    # beta = 0.999 is left out on digits, whose class gaps (<= 116) it would reject ~90% of
    "digits-lt": {"epochs": 100, "clip": (0.0, 1.0), "betas": (0.99, 0.9),
                  "steps": (0.1, 0.3, 0.5)},
    "pendigits-lt": {"epochs": 50, "clip": None, "betas": (0.999, 0.99, 0.9),
                     "steps": (0.1, 0.3)},
}
GAMMAS = (0.9, 0.5)  # with every data set's betas and steps
LDAM_S = (30.0, 5.0, 1.0)


# ----------------------------------------------------------------------------- data
def load(name: str) -> dict[str, Any]:
    if name == "digits-lt":
        X, y, X_test, y_test = load_digits_lt(imbalance_ratio=10, return_X_y=True)
        return {"X": X, "y": y, "X_test": X_test, "y_test": y_test, "rho": 10}
    if name == "pendigits-lt":
        X_all, y_all = load_tabular("pendigits", return_X_y=True)
        rng = np.random.RandomState(0)
        classes = np.unique(y_all)
        test = np.concatenate(
            [rng.choice(np.flatnonzero(y_all == c), 200, replace=False) for c in classes]
        )
        pool = np.setdiff1d(np.arange(len(y_all)), test)
        keep = make_long_tailed(None, y_all[pool], 100, class_order=classes.tolist(),
                                selection="random", random_state=0, return_indices=True)
        train = pool[keep]
        scaler = StandardScaler().fit(X_all[train])
        return {
            "X": scaler.transform(X_all[train]).astype(np.float32),
            "y": y_all[train].astype(np.int64),
            "X_test": scaler.transform(X_all[test]).astype(np.float32),
            "y_test": y_all[test].astype(np.int64),
            "rho": 100,
        }
    raise ValueError(name)


# ----------------------------------------------------------------------------- methods
def common(X: np.ndarray, epochs: int) -> dict[str, Any]:
    return dict(
        module__n_features=X.shape[1],
        module__n_classes=10,
        module__hidden=(256,),
        optimizer=torch.optim.SGD,
        optimizer__momentum=0.9,
        optimizer__weight_decay=2e-4,
        lr=0.1,
        max_epochs=epochs,
        batch_size=64,
        verbose=0,
    )


def natural_order(start: int = NEVER) -> dict[str, Any]:
    """The sampler of M2MClassifier for the NetClassifier baselines: a random permutation
    every epoch (balanced from ``start`` on)."""
    return {"iterator_train__sampler": ClassBalancedSampler(),
            "_order": DeferredResampling(start_epoch=start)}


def net(X, epochs, *, criterion=None, drw=False, **extra) -> NetClassifier:
    order = natural_order()
    callbacks = [paper_lr_scheduler(epochs, gamma=LR_DECAY), order.pop("_order")]
    start = default_start_epoch(epochs)
    if drw:
        callbacks.append(DeferredReweighting(start_epoch=start))
    kwargs = {**common(X, epochs), **order, **extra}
    if criterion is not None:
        kwargs["criterion"] = criterion
    return NetClassifier(MLP, callbacks=callbacks, **kwargs)


def m2m(X, epochs, g, params, *, seed, ldam=None, counts=None, **extra) -> M2MClassifier:
    callbacks = [paper_lr_scheduler(epochs, gamma=LR_DECAY)]
    kwargs = {**common(X, epochs), **extra}
    if ldam is not None:
        start = default_start_epoch(epochs)
        callbacks.append(DeferredReweighting(start_epoch=start))
        kwargs.update(criterion=LDAMLoss, criterion__class_counts=counts, criterion__s=ldam)
    return M2MClassifier(MLP, g=g, callbacks=callbacks, lam=LAM, n_steps=N_STEPS,
                         random_state=seed, **params, **kwargs)


def evaluate(clf, X_test, y_test, y_train) -> dict[str, float]:
    pred = clf.predict(X_test)
    major, minor = major_minor_accuracy(y_test, pred, y_train)
    return {"bacc": balanced_accuracy_score(y_test, pred), "gm": geometric_mean(y_test, pred),
            "major": major, "minor": minor}


def epoch_costs(clf: M2MClassifier) -> dict[str, float]:
    """Measured cost of an M2m epoch against an ERM epoch of the same run."""
    h = clf.history
    s = clf.start_epoch_
    erm = float(np.mean(h[1:s, "dur"]))  # epoch 0 pays one-off set-up costs
    act = slice(s, None)
    dur = float(np.mean(h[act, "dur"]))
    entries = float(np.sum(h[act, "m2m_entries"]))
    share_targets = float(np.sum(h[act, "m2m_targets"])) / entries
    share_translated = float(np.sum(h[act, "m2m_translated"])) / entries
    passes = 2 if clf.lam else 1
    return {
        "erm_epoch_s": erm,
        "m2m_epoch_s": dur,
        "ratio": dur / erm,
        "estimate": 1 + share_translated * clf.n_steps * passes,
        "share_targets": share_targets,
        "share_translated": share_translated,
        "accept_rate": float(np.sum(h[act, "m2m_accepted"]))
        / max(float(np.sum(h[act, "m2m_translated"])), 1.0),
        "translate_s": float(np.mean(h[act, "m2m_translate_time"])),
        "generation_s": float(np.mean(h[act, "m2m_generation_time"])),
    }


def fit_timed(clf, X, y):
    with Stopwatch() as watch:
        clf.fit(X, y)
    return clf, watch.seconds


# ----------------------------------------------------------------------------- tuning
def tune(name: str, data: dict, cfg: dict, args) -> dict[str, Any]:
    """Grid search on ``--repeats`` validation carvings of the training data.

    Through the lab's one tuning loop (:func:`benchmarks.search.search_grids`, one fold
    per carving, ``g`` trained once per carving and shared by its candidates): candidates
    are ranked by mean validation bACC; ties (frequent: a class with one or two
    validation samples moves bACC in steps of 5-10 points) by the lower mean balanced
    log-loss. ``g`` is trained by ERM on each fit part.
    """
    X, y = data["X"], data["y"]
    epochs = cfg["epochs"]
    grid = list(itertools.product(cfg["betas"], cfg["gammas"], cfg["steps"]))
    cands = {
        "m2m": [{"beta": b, "gamma": gm, "step_size": st} for b, gm, st in grid],
        "ldam": [{"s": s} for s in cfg["ldam_s"]],
        "over_sampler": [{"beta": b, "gamma": gm, "step_size": st} for b, gm, st in grid],
    }

    def prepare(fold: int, Xf: np.ndarray, yf: np.ndarray) -> torch.nn.Module:
        torch.manual_seed(100 + fold)  # g: ERM on the fit part, once per carving
        return fit_timed(net(Xf, epochs), Xf, yf)[0].module_

    def fit(kind: str, p: dict, Xf, yf, fold: int, g: torch.nn.Module) -> tuple[Any, dict]:
        seed = 100 + fold
        torch.manual_seed(seed)
        if kind == "m2m":
            clf = m2m(Xf, epochs, g, {**p, "clip": cfg["clip"]}, seed=seed).fit(Xf, yf)
            return clf, {"accept_rate": epoch_costs(clf)["accept_rate"]}
        if kind == "ldam":
            return net(Xf, epochs, criterion=LDAMLoss, criterion__class_counts=np.bincount(yf),
                       criterion__s=p["s"], drw=True).fit(Xf, yf), {}  # fmt: skip
        Xr, yr = M2MOverSampler(g=g, n_steps=N_STEPS, clip=cfg["clip"], device="cpu",
                                random_state=seed, **p).fit_resample(Xf, yf)  # fmt: skip
        return net(Xf, epochs).fit(Xr.astype(np.float32), yr), {}

    folds = Folds.carved(y, args.val_fraction, [100 + r for r in range(args.repeats)], prepare)
    out: dict[str, Any] = {"repeats": args.repeats, "val_fraction": args.val_fraction,
                           "n_fit": len(folds.folds[0][0]), "n_val": len(folds.folds[0][1])}
    tables, chosen = search_grids(cands, X, y, folds, fit,
                                  log=lambda m: log(f"[{name}]{m}"))  # fmt: skip
    out.update(tables)
    out["chosen"] = {"m2m": chosen["m2m"], "ldam_s": chosen["ldam"]["s"],
                     "over_sampler": chosen["over_sampler"]}  # fmt: skip
    log(f"[tune {name}] chosen {out['chosen']}")
    return out


# ----------------------------------------------------------------------------- evaluation
def run_seed(name, data, cfg, chosen, seed, args) -> list[dict[str, Any]]:
    X, y, X_test, y_test = data["X"], data["y"], data["X_test"], data["y_test"]
    epochs = cfg["epochs"]
    counts = np.bincount(y)
    rows = []

    def record(method, clf, secs, **extra):
        row = {"dataset": name, "seed": seed, "method": method, "fit_s": secs,
               **evaluate(clf, X_test, y_test, y), **extra}
        if isinstance(clf, M2MClassifier) and clf.generation:
            row["epoch_costs"] = epoch_costs(clf)
        rows.append(row)
        log(f"[{name} seed {seed}] {method:<22} bACC {row['bacc']:.3f}  GM {row['gm']:.3f}  "
            f"minor {row['minor']:.3f}  {secs:.1f}s"
            + (f"  epoch x{row['epoch_costs']['ratio']:.1f} (est. "
               f"{row['epoch_costs']['estimate']:.1f})" if "epoch_costs" in row else ""))

    params = {**chosen["m2m"], "clip": cfg["clip"]}
    torch.manual_seed(seed)
    erm, secs = fit_timed(net(X, epochs), X, y)
    record("ERM", erm, secs)
    g = erm.module_
    torch.manual_seed(seed)
    record("DRS", *fit_timed(m2m(X, epochs, None, params, seed=seed, generation=False), X, y))
    torch.manual_seed(seed)
    record("DRW", *fit_timed(net(X, epochs, drw=True), X, y))
    torch.manual_seed(seed)
    ldam = net(X, epochs, criterion=LDAMLoss, criterion__class_counts=counts,
               criterion__s=chosen["ldam_s"], drw=True)
    record("LDAM-DRW", *fit_timed(ldam, X, y))
    torch.manual_seed(seed)
    record("M2m", *fit_timed(m2m(X, epochs, g, params, seed=seed), X, y))
    torch.manual_seed(seed)
    record("M2m (ahead 8)",
           *fit_timed(m2m(X, epochs, g, params, seed=seed, translate_ahead=8), X, y))
    torch.manual_seed(seed)
    record("LDAM-DRW + M2m", *fit_timed(
        m2m(X, epochs, g, params, seed=seed, ldam=chosen["ldam_s"], counts=counts), X, y))
    torch.manual_seed(seed)
    osp = chosen["over_sampler"]
    with Stopwatch() as watch:
        sampler = M2MOverSampler(g=g, n_steps=N_STEPS, clip=cfg["clip"], device="cpu",
                                 random_state=seed, **osp)
        Xr, yr = sampler.fit_resample(X, y)
        clf = net(X, epochs).fit(Xr.astype(np.float32), yr)
    record("M2MOverSampler + ERM", clf, watch.seconds, resample_s=sampler.translation_time_)
    return rows


# ----------------------------------------------------------------------------- report
def summarise(rows: list[dict]) -> list[dict]:
    out = []
    for (name, method), group in itertools.groupby(
        sorted(rows, key=lambda r: (r["dataset"], _order(r["method"]))),
        key=lambda r: (r["dataset"], r["method"]),
    ):
        group = list(group)
        entry = {"dataset": name, "method": method, "n_seeds": len(group)}
        for key in ("bacc", "gm", "major", "minor", "fit_s"):
            vals = np.array([r[key] for r in group], dtype=float)
            entry[key] = float(vals.mean())
            entry[key + "_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
        if "epoch_costs" in group[0]:
            entry["epoch_costs"] = {
                k: float(np.mean([r["epoch_costs"][k] for r in group]))
                for k in group[0]["epoch_costs"]
            }
        out.append(entry)
    return out


METHODS = ["ERM", "DRS", "DRW", "LDAM-DRW", "M2m", "M2m (ahead 8)", "LDAM-DRW + M2m",
           "M2MOverSampler + ERM"]


def _order(method: str) -> int:
    return METHODS.index(method)


def paired(rows, name, a, b, key="bacc"):
    by = {(r["method"], r["seed"]): r[key] for r in rows if r["dataset"] == name}
    seeds = sorted({s for (m, s) in by if m == a} & {s for (m, s) in by if m == b})
    d = np.array([by[(a, s)] - by[(b, s)] for s in seeds])
    return float(d.mean()), float(d.std(ddof=1)) if len(d) > 1 else 0.0, len(d)


def write_markdown(path: Path, result: dict) -> None:
    lines = ["# M2MClassifier benchmark", "",
             f"Command: `{result['command']}`  ",
             f"Machine: {result['machine']}; torch {result['torch']}, 1 thread. "
             f"Total wall time {result['wall_s'] / 60:.1f} min.", "",
             "Same network for all: MLP(256) (`m2m_sampler.longtail.models.MLP`), SGD momentum "
             "0.9, "
             f"weight decay 2e-4, batch 64, lr 0.1 with 5 warm-up epochs and x{LR_DECAY} at "
             "80% and 90% of the epochs; DRS/DRW/M2m switch on at 80%. Hyper-parameters "
             "chosen on a validation split of the training data (see the JSON for every "
             "candidate).", "",
             "Mean ± std over seeds; balanced test sets; bACC / GM / minor in %; time = "
             "wall seconds of `fit` (M2m runs get g = the ERM net of the same seed, whose "
             "training time is not included; the over-sampler row includes resampling).", ""]
    for name in result["datasets"]:
        info = result["datasets"][name]
        lines += [f"## {name}", "",
                  f"Training counts {info['counts']} (rho {info['rho']}), test "
                  f"{info['n_test']} (balanced); {info['epochs']} epochs, deferred phase "
                  f"from epoch {default_start_epoch(info['epochs'])}.", "",
                  f"Chosen on validation: M2m {info['tuning']['chosen']['m2m']}, LDAM s = "
                  f"{info['tuning']['chosen']['ldam_s']}, M2MOverSampler "
                  f"{info['tuning']['chosen']['over_sampler']} (lam {LAM}, T {N_STEPS}).", "",
                  ]
        lines += pipe_table(
            ["method", "bACC", "GM", "minor", "major", "time (s)"],
            [[e["method"], *(f"{100 * e[k]:.1f} ± {100 * e[k + '_std']:.1f}"
                             for k in ("bacc", "gm", "minor", "major")), f"{e['fit_s']:.1f}"]
             for e in result["summary"] if e["dataset"] == name],
        )  # fmt: skip
        lines += ["", "Paired differences in bACC (same seeds), mean ± std:", ""]
        for a, b in (("M2m", "DRS"), ("M2m", "ERM"), ("M2m (ahead 8)", "M2m"),
                     ("LDAM-DRW + M2m", "LDAM-DRW")):
            m, s, n = paired(result["runs"], name, a, b)
            lines.append(f"- {a} − {b}: {100 * m:+.1f} ± {100 * s:.1f} points ({n} seeds)")
        lines += ["", "Cost of an M2m epoch (deferred phase) against an ERM epoch of the same "
                  "run (epochs 1 .. start-1); estimate = 1 + share translated × T × 2 "
                  "(g and f, one forward-backward each per step):", "",
                  ]
        rows = []
        for e in result["summary"]:
            if e["dataset"] != name or "epoch_costs" not in e:
                continue
            c = e["epoch_costs"]
            rest = c["m2m_epoch_s"] - c["generation_s"]
            rows.append([e["method"], f"{1e3 * c['erm_epoch_s']:.0f}",
                         f"{1e3 * c['m2m_epoch_s']:.0f}", f"{c['ratio']:.1f}",
                         f"{c['estimate']:.1f}", f"{c['share_targets']:.2f}",
                         f"{c['share_translated']:.2f}", f"{c['accept_rate']:.2f}",
                         f"{1e3 * c['translate_s']:.0f} / "
                         f"{1e3 * (c['generation_s'] - c['translate_s']):.0f} / "
                         f"{1e3 * rest:.0f}"])  # fmt: skip
        lines += pipe_table(["method", "ERM epoch (ms)", "M2m epoch (ms)", "measured ratio",
                             "estimate", "share targets", "share translated", "accepted",
                             "engine / generation / rest (ms)"], rows)  # fmt: skip
        lines.append("")
    path.write_text("\n".join(lines))


def log(msg: str) -> None:
    print(msg, flush=True)


def main(argv=None) -> None:
    """Tune, run every method on every seed, and write the JSON and Markdown results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--repeats", type=int, default=2,
                        help="validation carvings for the grid search")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 10 epochs, 1 seed, tiny grids; writes *_quick.*")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cfgs = {k: {**v, "gammas": GAMMAS, "ldam_s": LDAM_S} for k, v in DATASETS.items()}
    if args.quick:
        args.repeats = 1
        for cfg in cfgs.values():
            cfg["epochs"], cfg["steps"], cfg["betas"] = 10, cfg["steps"][1:2], (0.9,)
            cfg["gammas"], cfg["ldam_s"] = (0.5,), (5.0,)
        args.seeds = 1
    start = time.perf_counter()
    result: dict[str, Any] = {
        "command": " ".join(["python", *sys.argv]),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch": torch.__version__,
        "datasets": {},
        "runs": [],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "m2m_classifier_quick" if args.quick else "m2m_classifier"
    for name in args.datasets:
        data, cfg = load(name), cfgs[name]
        tuning = tune(name, data, cfg, args)
        result["datasets"][name] = {"counts": np.bincount(data["y"]).tolist(),
                                    "n_test": len(data["y_test"]), "rho": data["rho"],
                                    "epochs": cfg["epochs"], "tuning": tuning}
        for seed in range(args.seeds):
            result["runs"] += run_seed(name, data, cfg, tuning["chosen"], seed, args)
            result["wall_s"] = time.perf_counter() - start
            save_json(args.out / f"{stem}.json", result)
    result["summary"] = summarise(result["runs"])
    result["wall_s"] = time.perf_counter() - start
    save_json(args.out / f"{stem}.json", result)
    write_markdown(args.out / f"{stem}.md", result)
    log(f"done in {result['wall_s'] / 60:.1f} min -> {args.out / stem}.{{json,md}}")


if __name__ == "__main__":
    main()
