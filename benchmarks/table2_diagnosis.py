"""Why Table 2's ordering does or does not reproduce: measurements on Reuters.

``python -m benchmarks.table2_diagnosis`` writes ``table2_diagnosis.json`` / ``.md``
(``--out``) with:

1. **Schedules, chosen on validation.** ERM, RS, DRS and M2m (M2m's ``beta``, ``gamma``
   given by ``--beta --gamma``, from the suite's tuning) trained on the fit part of a
   validation carving (20% of every class, never the test set) under several schedules:
   the paper's 15 epochs with the deferral on the first lr decay (80%), the deferral
   before it (60%), and 30 / 60 epochs of the same two shapes; validation bACC and
   training bACC (convergence) per row and schedule, with the deferred phase's epochs
   at the full learning rate.
2. **g and its acceptance, on the full training set (seed 0).** g's training recall
   against its test recall per class (over-fitting of the small classes), the online
   M2m's acceptance per target class and per (source, target) pair
   (``M2MClassifier.class_stats_`` / ``generation_log().pair_counts``) for ``eta`` in
   ``--etas``, and
   the geometry of translations (the offline engine on 40 targets per class): the
   distance moved against the rows' norm and the nearest-neighbour distance, the share
   of negative entries (TF-IDF is non-negative), g's confidence in the target class.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score, recall_score
from sklearn.neighbors import NearestNeighbors

from benchmarks.compare.report import pipe_table, save_json
from benchmarks.compare.validation import carve_validation
from benchmarks.table2 import (
    Config,
    HyperParams,
    continue_trunk,
    from_scratch,
    load_table2_data,
    train_trunk,
)
from m2m_sampler.over_sampler import M2MOverSampler

__all__ = ["SCHEDULES", "main"]

#: name -> (epochs, deferral share); every schedule: 5 warm-up epochs, x0.01 at 80%, 90%.
SCHEDULES = {
    "15 epochs, defer at 80% (paper)": (15, 0.8),
    "15 epochs, defer at 60%": (15, 0.6),
    "30 epochs, defer at 80%": (30, 0.8),
    "30 epochs, defer at 60%": (30, 0.6),
}


def _hp(beta: float, gamma: float) -> HyperParams:
    return HyperParams(m2m_beta=beta, m2m_gamma=gamma, ldam_s=30.0, focal_gamma=1.0,
                       cbrw_beta=0.9999)  # fmt: skip


def schedules(data, hp, log) -> list[dict]:
    """Rows ERM, RS, DRS, M2m under every schedule, scored on the validation part."""
    fit_idx, val_idx = carve_validation(data["y"], 0.2, 100)
    Xf, yf = data["X"][fit_idx], data["y"][fit_idx]
    Xv, yv = data["X"][val_idx], data["y"][val_idx]
    counts = np.bincount(yf)
    out = []
    for name, (epochs, frac) in SCHEDULES.items():
        cfg = Config(epochs=epochs, start_frac=frac, eta=data["eta"])
        lr_mult = [
            cfg.lr_decay ** sum(e >= m for m in cfg.lr_milestones) for e in range(cfg.start, epochs)
        ]
        entry: dict[str, Any] = {
            "schedule": name,
            "epochs": epochs,
            "start_epoch": cfg.start,
            "deferred_epochs_at_full_lr": int(sum(m == 1.0 for m in lr_mult)),
            "rows": {},
        }
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.process_time()
            trunk = train_trunk(cfg, "erm", counts, hp, Xf, yf, seed=100, folder=Path(tmp) / "ce")
            trunk_cpu = time.process_time() - t0
            erm = continue_trunk(cfg, "erm", counts, hp, trunk, Xf, yf, seed=100)
            nets = {
                "erm": erm,
                "drs": continue_trunk(cfg, "drs", counts, hp, trunk, Xf, yf, seed=100),
                "m2m": continue_trunk(cfg, "m2m", counts, hp, trunk, Xf, yf, seed=100,
                                      g=erm.module_),
                "rs": from_scratch(cfg, "rs", counts, hp, Xf, yf, seed=100)[0],
            }
            for key, net in nets.items():
                entry["rows"][key] = {
                    "val_bacc": float(balanced_accuracy_score(yv, net.predict(Xv))),
                    "train_bacc": float(balanced_accuracy_score(yf, net.predict(Xf))),
                    "final_train_loss": float(net.history[-1, "train_loss"]),
                }
                if key == "m2m":
                    h = net.history
                    entry["rows"][key]["accept_share_of_targets"] = float(
                        np.sum(h[:, "m2m_accepted"]) / max(np.sum(h[:, "m2m_targets"]), 1)
                    )
        entry["cpu_s"] = time.process_time() - t0 + 0 * trunk_cpu
        log(
            f"[schedule] {name}: "
            + ", ".join(
                f"{k} val {100 * v['val_bacc']:.1f} (train {100 * v['train_bacc']:.1f})"
                for k, v in entry["rows"].items()
            )
        )
        out.append(entry)
    return out


def geometry(data, g, hp, eta, seed=0, per_class=40) -> dict:
    """Translations of the offline engine from ``g``: distances, signs, g's confidence."""
    X, y = data["X"], data["y"]
    counts = np.bincount(y)
    target = {int(c): int(counts[c] + per_class) for c in range(1, len(counts))}
    sampler = M2MOverSampler(
        g=g,
        beta=hp.m2m_beta,
        gamma=0.0,
        step_size=eta,
        n_steps=10,
        sampling_strategy=target,
        random_state=seed,
    )
    Xr, yr = sampler.fit_resample(X, y)
    new, y_new = Xr[len(y) :], yr[len(y) :]
    tr = sampler.is_translated_
    x0 = X[sampler.source_indices_[tr]]
    xs = new[tr]
    moved = np.linalg.norm(xs - x0, axis=1)
    nn = NearestNeighbors(n_neighbors=2).fit(X)
    d_nn = nn.kneighbors(X[:2000])[0][:, 1]
    with torch.no_grad():
        p = torch.softmax(g(torch.as_tensor(xs)), 1).numpy()
    p_target = p[np.arange(len(xs)), y_new[tr]]
    return {
        "eta": eta,
        "n_translated": int(tr.sum()),
        "row_norm_median": float(np.median(np.linalg.norm(X, axis=1))),
        "moved_median": float(np.median(moved)),
        "nearest_neighbour_distance_median": float(np.median(d_nn)),
        "negative_share_median": float(np.median((xs < 0).mean(1))),
        "g_p_target_median": float(np.median(p_target)),
        "share_p_target_above_0.9": float(np.mean(p_target > 0.9)),
    }


def g_and_acceptance(data, hp, etas, log) -> dict:
    """g's recall per class (train vs test) and the online acceptance per class / pair."""
    X, y, Xt, yt = data["X"], data["y"], data["X_test"], data["y_test"]
    counts = np.bincount(y)
    out: dict[str, Any] = {"counts": counts.tolist()}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Config(eta=data["eta"])
        trunk = train_trunk(cfg, "erm", counts, hp, X, y, seed=0, folder=Path(tmp) / "ce")
        erm = continue_trunk(cfg, "erm", counts, hp, trunk, X, y, seed=0)
        g = erm.module_.eval()
        labels = np.arange(len(counts))
        out["g_train_recall"] = recall_score(
            y, erm.predict(X), labels=labels, average=None, zero_division=0
        ).tolist()
        out["g_test_recall"] = recall_score(
            yt, erm.predict(Xt), labels=labels, average=None, zero_division=0
        ).tolist()
        out["online"] = {}
        out["geometry"] = []
        for eta in etas:
            cfg_e = Config(eta=eta)
            net = continue_trunk(cfg_e, "m2m", counts, hp, trunk, X, y, seed=0, g=g)
            stats = net.class_stats_
            pairs = net.generation_log().pair_counts(len(net.classes_))
            acc = pairs["accepted"]
            top = [
                (int(s), int(t), int(acc[s, t]), int(pairs["translated"][s, t]))
                for s, t in zip(*np.unravel_index(np.argsort(-acc, axis=None)[:8], acc.shape))
            ]
            out["online"][str(eta)] = {
                "test_bacc": float(balanced_accuracy_score(yt, net.predict(Xt))),
                "class_stats": {str(k): v for k, v in stats.items()},
                "top_pairs": top,
                "accepted_from_class_0": int(acc[0].sum()),
                "accepted_total": int(acc.sum()),
            }
            geo = geometry(data, g, hp, eta)
            out["geometry"].append(geo)
            tot = sum(s["n_accepted"] for s in stats.values())
            trn = sum(s["n_translated"] for s in stats.values())
            log(
                f"[g] eta {eta}: accepted {tot}/{trn} translated; test bACC "
                f"{100 * out['online'][str(eta)]['test_bacc']:.1f}; geometry {geo}"
            )
    return out


def write_markdown(path: Path, res: dict) -> None:
    """The report."""
    lines = [
        "# Table 2 diagnosis (Reuters)",
        "",
        f"Command: `{res['command']}`  ",
        f"Machine: {res['machine']}; 1 torch thread; CPU {res['cpu_s'] / 60:.1f} min.",
        "",
        "## Schedules (validation part of the training set; rows ERM, RS, DRS, M2m)",
        "",
    ]

    def cell(r: dict, k: str) -> str:
        return f"{100 * r[k]['val_bacc']:.1f} / {100 * r[k]['train_bacc']:.1f}"

    lines += pipe_table(
        ["schedule", "deferred epochs at full lr", "ERM val / train", "RS val / train",
         "DRS val / train", "M2m val / train", "M2m accepted"],
        [[e["schedule"], e["deferred_epochs_at_full_lr"],
          *(cell(e["rows"], k) for k in ("erm", "rs", "drs", "m2m")),
          f"{100 * e['rows']['m2m']['accept_share_of_targets']:.0f}%"]
         for e in res["schedules"]],
    )  # fmt: skip
    ga = res["g"]
    counts = np.array(ga["counts"])
    tr, te = np.array(ga["g_train_recall"]), np.array(ga["g_test_recall"])
    head, tail = counts >= np.median(counts), counts < np.median(counts)
    lines += [
        "",
        "## g (ERM, 15 epochs, full training set, seed 0)",
        "",
        f"Recall on its own training data: head classes {100 * tr[head].mean():.1f}%, "
        f"tail classes {100 * tr[tail].mean():.1f}%; on the test set: head "
        f"{100 * te[head].mean():.1f}%, tail {100 * te[tail].mean():.1f}%.",
        "",
    ]
    rows = []
    for geo in ga["geometry"]:
        on = ga["online"][str(geo["eta"])]
        trn = sum(s["n_translated"] for s in on["class_stats"].values())
        rows.append([geo["eta"], f"{on['accepted_total']} / {trn}", on["accepted_from_class_0"],
                     f"{100 * on['test_bacc']:.1f}", f"{geo['moved_median']:.2f}",
                     f"{geo['row_norm_median']:.2f}",
                     f"{geo['nearest_neighbour_distance_median']:.2f}",
                     f"{100 * geo['negative_share_median']:.0f}%",
                     f"{geo['g_p_target_median']:.2f}",
                     f"{100 * geo['share_p_target_above_0.9']:.0f}%"])  # fmt: skip
    lines += pipe_table(
        ["eta", "accepted / translated", "from the largest class", "test bACC",
         "moved (median)", "row norm", "NN distance", "negative entries",
         "g's p(target) median", "p > 0.9"], rows)  # fmt: skip
    lines += ["", "Most accepted (source, target) class pairs per eta (accepted, translated):", ""]
    for eta, on in ga["online"].items():
        lines.append(f"- eta {eta}: {on['top_pairs']}")
    lines.append("")
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    """Run the diagnosis."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.table2_diagnosis")
    p.add_argument("--beta", type=float, default=0.9)
    p.add_argument("--gamma", type=float, default=0.9)
    p.add_argument("--etas", type=float, nargs="+", default=[0.1, 1.0])
    p.add_argument("--max-features", type=int, default=2000)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/table2"))
    p.add_argument("--skip-schedules", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    cpu0 = time.process_time()
    data = load_table2_data("reuters", max_features=args.max_features)
    hp = _hp(args.beta, args.gamma)
    res: dict[str, Any] = {
        "command": " ".join(["python", "-m", "benchmarks.table2_diagnosis", *sys.argv[1:]]),
        "machine": f"{platform.machine()}, 2 CPU cores shared with other jobs",
        "hp": hp.to_json(),
    }

    def log(m):
        print(m, flush=True)

    res["g"] = g_and_acceptance(data, hp, args.etas, log)
    res["schedules"] = [] if args.skip_schedules else schedules(data, hp, log)
    res["cpu_s"] = time.process_time() - cpu0
    args.out.mkdir(parents=True, exist_ok=True)
    save_json(args.out / "table2_diagnosis.json", res)
    write_markdown(args.out / "table2_diagnosis.md", res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
