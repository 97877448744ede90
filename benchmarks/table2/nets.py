"""Table 2's networks: a row's net, the shared trunks, the rows continued from them, and
every row of one seed."""

from __future__ import annotations

import contextlib
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score

from benchmarks.compare.methods import NetModule, build_net, make_sampler
from benchmarks.table2.protocol import ROWS, Config, HyperParams
from benchmarks.table2.scoring import acceptance, curve, scores
from m2m_sampler.classifier import M2MClassifier
from m2m_sampler.exceptions import DeferredPhaseNotReachedWarning
from m2m_sampler.longtail.models import MLP

__all__ = ["continue_trunk", "from_scratch", "make_net", "run_seed", "train_trunk"]


def make_net(
    cfg: Config,
    key: str,
    counts: np.ndarray,
    hp: HyperParams | dict,
    *,
    n_features: int,
    max_epochs: int,
    seed: int,
    trunk: bool = False,
    g: Any = None,
    uniform_epoch: int | None = None,
    labels: np.ndarray | None = None,
) -> M2MClassifier:
    """The net of row ``key`` (``trunk=True``: its loss without re-balancing).

    Parameters
    ----------
    cfg : Config
    key : str
        A key of :data:`~benchmarks.table2.protocol.ROWS`.
    counts : ndarray
        Training samples per class (label order).
    hp : HyperParams or its JSON form
        Chosen hyper-parameters.
    n_features, max_epochs, seed : int
    trunk : bool, default=False
    g : torch.nn.Module or None
    uniform_epoch : int or None
        For the ``smote`` / ``offline`` rows: draw this many indices per epoch uniformly
        (with replacement) from the balanced set given to ``fit`` (its ``labels``).
    labels : ndarray or None
        Labels of that balanced set.

    Returns
    -------
    M2MClassifier
        Built by :func:`benchmarks.compare.methods.build_net`.
    """
    hp = HyperParams.of(hp)
    module = NetModule(MLP, {"n_features": n_features, "n_classes": len(counts),
                             "hidden": (cfg.hidden,)})  # fmt: skip
    return build_net(ROWS[key], cfg.training, module, counts, seed=seed, g=g, trunk=trunk,
                     max_epochs=max_epochs, losses=hp.losses, m2m=hp.m2m(cfg),
                     uniform_epoch=uniform_epoch, labels=labels)  # fmt: skip


@contextlib.contextmanager
def _unreached_start_is_intended():
    """Trunks and rows without a deferred phase stop before ``start_epoch`` on purpose: no
    warning that it is not reached."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeferredPhaseNotReachedWarning)
        yield


def continue_trunk(cfg, key, counts, hp, trunk_dir, X, y, *, seed, g=None) -> M2MClassifier:
    """Row ``key`` continued from the trunk saved in ``trunk_dir`` until ``cfg.epochs``."""
    net = make_net(
        cfg,
        key,
        counts,
        hp,
        n_features=X.shape[1],
        max_epochs=cfg.epochs - cfg.start,
        seed=seed,
        g=g,
    )
    net.initialize()
    net.load_params(
        f_params=trunk_dir / "params.pt",
        f_optimizer=trunk_dir / "optimizer.pt",
        f_history=trunk_dir / "history.json",
    )
    torch.manual_seed(seed + 7919)  # the tail's batches: the same for every row of a trunk
    with _unreached_start_is_intended():
        return net.partial_fit(X, y)


def train_trunk(cfg, loss_key, counts, hp, X, y, *, seed, folder: Path) -> Path:
    torch.manual_seed(seed)
    net = make_net(
        cfg,
        loss_key,
        counts,
        hp,
        n_features=X.shape[1],
        max_epochs=cfg.start,
        seed=seed,
        trunk=True,
    )
    with _unreached_start_is_intended():
        net.fit(X, y)
    folder.mkdir(parents=True, exist_ok=True)
    net.save_params(
        f_params=folder / "params.pt",
        f_optimizer=folder / "optimizer.pt",
        f_history=folder / "history.json",
    )
    return folder


def from_scratch(
    cfg, key, counts, hp, X, y, *, seed, g=None, balanced_set=None
) -> tuple[M2MClassifier, dict]:
    """Rows without a trunk: the whole schedule (SMOTE / offline: on the balanced set)."""
    info: dict[str, Any] = {}
    Xf, yf, uniform, labels = X, y, None, None
    spec = ROWS[key]
    if spec.sampler == "smote":
        sampler = make_sampler(spec, counts, seed=seed)
        Xf, yf = sampler.fit_resample(X, y)
        info["smote_k"] = sampler.k_neighbors
    elif spec.sampler == "m2m":
        hp = HyperParams.of(hp)
        sampler = make_sampler(spec, counts, seed=seed, g=g, m2m=hp.m2m(cfg),
                               amp_dtype=cfg.amp_dtype)  # fmt: skip
        Xf, yf = sampler.fit_resample(X, y)
        n_new = int(len(yf) - len(y))
        info["offline"] = {
            "n_generated": n_new,
            "translated_share": float(np.mean(sampler.is_translated_)) if n_new else 0.0,
            "class_stats": {int(c): v for c, v in sampler.class_stats_.items()},
            "translation_s": float(sampler.translation_time_),
        }
    if spec.sampler is not None:
        Xf = np.ascontiguousarray(Xf, dtype=np.float32)
        uniform, labels = len(y), np.asarray(yf)
    torch.manual_seed(seed)
    net = make_net(
        cfg,
        key,
        counts,
        hp,
        n_features=X.shape[1],
        max_epochs=cfg.epochs,
        seed=seed,
        g=g,
        uniform_epoch=uniform,
        labels=labels,
    )
    with _unreached_start_is_intended():
        return net.fit(Xf, yf), info


def run_seed(
    cfg: Config,
    data: dict,
    hp: HyperParams | dict,
    seed: int,
    rows: list[str],
    *,
    X_eval: np.ndarray,
    y_eval: np.ndarray,
    X_fit=None,
    y_fit=None,
    log=print,
) -> list[dict]:
    """Train every row of ``rows`` for ``seed`` on ``(X_fit, y_fit)``, score on the eval set.

    Returns a list of records (one per row) with scores, CPU seconds, acceptance and the
    training curve.
    """
    X = data["X"] if X_fit is None else X_fit
    y = data["y"] if y_fit is None else y_fit
    counts = np.bincount(y, minlength=len(data["class_names"]))
    out = []
    trunk_cpu: dict[str, float] = {}

    def record(key, net, cpu, **extra):
        rec = {
            "row": key,
            "seed": seed,
            "cpu_s": cpu,
            **scores(net, X_eval, y_eval, counts),
            "train_bacc": float(balanced_accuracy_score(y, net.predict(X))),
            "curve": curve(net),
            **extra,
        }
        acc = acceptance(net)
        if acc is not None:
            rec["m2m"] = acc
        out.append(rec)
        msg = (
            f"  seed {seed} {ROWS[key].label:<22} bACC {100 * rec['bacc']:5.1f}  "
            f"GM {100 * rec['gm_c']:5.1f}  train bACC {100 * rec['train_bacc']:5.1f}  "
            f"cpu {cpu:6.1f}s"
        )
        if acc is not None:
            msg += f"  accepted {acc['m2m_accepted']}/{acc['m2m_targets']}"
        log(msg)

    with tempfile.TemporaryDirectory() as tmp:
        trunks: dict[str, Path] = {}
        g = None
        for key in rows:
            spec = ROWS[key]
            if spec.trunk and spec.loss not in trunks:
                t0 = time.process_time()
                trunks[spec.loss] = train_trunk(
                    cfg, key, counts, hp, X, y, seed=seed, folder=Path(tmp) / spec.loss
                )
                trunk_cpu[spec.loss] = time.process_time() - t0
            if spec.needs_g and g is None:
                raise RuntimeError("the 'erm' row must come before the rows that need g")
            t0 = time.process_time()
            if spec.trunk:
                net = continue_trunk(
                    cfg,
                    key,
                    counts,
                    hp,
                    trunks[spec.loss],
                    X,
                    y,
                    seed=seed,
                    g=g if spec.generation else None,
                )
                info = {"trunk_cpu_s": trunk_cpu[spec.loss]}
            else:
                net, info = from_scratch(cfg, key, counts, hp, X, y, seed=seed, g=g)
            cpu = time.process_time() - t0 + info.get("trunk_cpu_s", 0.0)
            if key == "erm":
                g = net.module_
            record(key, net, cpu, **info)
    return out


