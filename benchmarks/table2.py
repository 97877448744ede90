"""The paper's Table 2 (Reuters-21578, Twitter POS) on the CPU: every row, tuned on validation.

``python -m benchmarks.table2 --dataset reuters`` (or ``twitter-pos``; also
``python -m m2m_sampler.bench --suite table2 --dataset ...``) trains, for every seed, the
rows of Table 2 of Kim, Jeong & Shin (CVPR 2020) with one network and one schedule, and
writes ``table2_<dataset>.json`` / ``.md`` / ``.png`` (``--out``).

Data (:mod:`benchmarks.text_datasets`; the test sets are never used for any choice):

* ``reuters``: ModApte, single-topic documents, topics with >= 5 test documents (36
  classes, 6,436 / 2,530 documents, imbalance ratio 710); features: the train-fitted
  :func:`~benchmarks.text_datasets.reuters_vectorizer` (sublinear, L2-normalised TF-IDF)
  with ``--max-features`` terms (default 2,000: the paper does not give its vocabulary,
  and 2,000 terms make a 15-epoch run 5x cheaper than 10,000 on one CPU thread).
* ``twitter-pos``: Oct27 train / test, one sample per token; the 23 tags that occur in
  the test set (the two training tags without a test token, ``M`` (3) and ``Y`` (2), are
  dropped: the paper's ratio ``N_1 / N_K ~ 147.9`` is exactly ``2219 / 15`` for these 23
  tags); features: :func:`~benchmarks.text_datasets.twitter_pos_features` (3,000 binary
  features).

Protocol (the paper's, Section 3.3): a 2-layer fully connected network
(:class:`~m2m_sampler.longtail.models.MLP` with one hidden layer of ``--hidden`` units), SGD with
momentum 0.9, base lr 0.1 with a 5-epoch linear warm-up, then x``--lr-decay`` (0.01) at
80% and 90% of the ``--epochs`` (15), batch 64, weight decay 5e-5; the deferred methods
(DRS, DRW, M2m) switch on at 80% of the epochs; M2m with ``T = 10`` and
``eta = 1.0`` on Reuters ("regarding the numerical range of the dataset"), 0.1 on
Twitter. Every run goes through :class:`~m2m_sampler.M2MClassifier` (``generation=False``
for the rows without M2m), so all rows share the data path, sampler and schedule.

Rows (``ROWS``): ERM, RS (class-balanced batches from epoch 0), SMOTE (the SMOTE-balanced
set, drawn uniformly with the epoch length of the original set), RW (inverse frequency),
CB-RW (effective number), DRS, M2m (online, ``g`` = the ERM net of the same seed), Focal,
LDAM (cosine head), LDAM-DRW, LDAM + M2m, and beyond the paper: logit-adjusted loss
(LA, tau 1) alone, with DRS and with M2m, and the offline ``M2MOverSampler`` + ERM.
Deferred rows continue a shared "trunk" (the same net trained by its loss without
re-balancing until the deferral epoch), so e.g. ERM, DRS and M2m of one seed are
identical until epoch 12 and differ only by what they do afterwards.

Hyper-parameters chosen on a validation split carved from the training data
(:func:`~m2m_sampler.bench.validation.carve_validation`, 20% of every class, ``g`` trained
on the fit part), by validation bACC (ties: balanced log-loss) over the grids in
``GRIDS``: M2m's ``beta`` x ``gamma`` (``lam`` 0.5, as in the paper's CIFAR runs; LDAM +
M2m, LA + M2m and the offline sampler reuse M2m's choice), LDAM's scale ``s``, the focal
``gamma``, CB-RW's ``beta``. ERM, RS, RW, DRS have no own hyper-parameter here; SMOTE's
``k_neighbors`` is ``min(5, n_min - 1)``.

Options: ``--dataset twitter-pos reuters --jobs 2`` runs the whole suite in one pool of
worker processes (one torch thread each; a seed is one task and gives the same numbers in
any process); ``--precision bf16`` runs every forward pass (training, ``g``, translation)
under bfloat16 autocast, weights and optimiser in float32 (about 2x faster on a CPU with
AVX-512 BF16); ``--seed-list`` runs some seeds and ``--merge`` joins such result files
into one table; ``--schedule-grid 15:0.6 30:0.8`` first chooses the number of epochs and the
deferral share on validation (:func:`choose_schedule`); ``--epochs``, ``--start-frac``,
``--lr-decay``, ``--eta`` change the protocol.

Results: bACC, GM (correction 0, as imbalanced-learn, and 1e-3 so that one class with
zero recall does not zero it), minority / majority accuracy; mean +- std over seeds,
paired differences with t-based 95% intervals; CPU time per row (``time.process_time`` of
the process that trained it), the suite's wall time, and the M2m acceptance.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import itertools
import json
import sys
import tempfile
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats
from sklearn.metrics import balanced_accuracy_score, recall_score

from benchmarks.ranking import best_candidate
from m2m_sampler.bench.report import environment
from m2m_sampler.bench.validation import balanced_log_loss, carve_validation
from m2m_sampler.classifier import M2MClassifier
from m2m_sampler.longtail.losses import FocalLoss, LDAMLoss, LogitAdjustedLoss
from m2m_sampler.longtail.metrics import geometric_mean
from m2m_sampler.longtail.models import MLP
from m2m_sampler.over_sampler import M2MOverSampler
from m2m_sampler.training.callbacks import DeferredReweighting
from m2m_sampler.training.device_data import DeviceLoader
from m2m_sampler.training.sampling import ClassBalancedSampler
from m2m_sampler.training.schedules import paper_lr_scheduler, paper_milestones

__all__ = ["PAPER", "ROWS", "Config", "RowSpec", "load_table2_data", "main", "run_suite"]


@dataclass(frozen=True)
class RowSpec:
    """How a row trains.

    Attributes
    ----------
    label : str
        Name in the tables.
    loss : {"ce", "focal", "ldam", "la"}
    sampling : {"shuffle", "deferred", "balanced", "smote", "offline"}
        ``shuffle``: a random permutation every epoch; ``deferred``: class-balanced
        batches from the deferral epoch; ``balanced``: from epoch 0; ``smote`` /
        ``offline``: the SMOTE / M2MOverSampler-balanced set, drawn uniformly.
    reweight : {None, "inverse", "effective", "deferred-effective"}
    generation : bool
        Online M2m in the deferred phase.
    trunk : bool
        Continues the shared trunk of its loss from the deferral epoch.
    """

    label: str
    loss: str
    sampling: str
    reweight: str | None
    generation: bool
    trunk: bool


ROWS: dict[str, RowSpec] = {
    "erm": RowSpec("ERM", "ce", "shuffle", None, False, True),
    "rs": RowSpec("RS", "ce", "balanced", None, False, False),
    "smote": RowSpec("SMOTE", "ce", "smote", None, False, False),
    "rw": RowSpec("RW", "ce", "shuffle", "inverse", False, False),
    "cbrw": RowSpec("CB-RW", "ce", "shuffle", "effective", False, False),
    "drs": RowSpec("DRS", "ce", "deferred", None, False, True),
    "m2m": RowSpec("M2m", "ce", "deferred", None, True, True),
    "focal": RowSpec("Focal", "focal", "shuffle", None, False, False),
    "ldam": RowSpec("LDAM", "ldam", "shuffle", None, False, True),
    "ldam-drw": RowSpec("LDAM-DRW", "ldam", "shuffle", "deferred-effective", False, True),
    "ldam-m2m": RowSpec("LDAM + M2m", "ldam", "deferred", None, True, True),
    "la": RowSpec("LA", "la", "shuffle", None, False, True),
    "la-drs": RowSpec("LA-DRS", "la", "deferred", None, False, True),
    "la-m2m": RowSpec("LA + M2m", "la", "deferred", None, True, True),
    "offline": RowSpec("M2MOverSampler + ERM", "ce", "offline", None, False, False),
}
"""Row key -> :class:`RowSpec`, in table order."""

#: Table 2 of the paper (mean of 3 runs): bACC, GM.
PAPER: dict[str, dict[str, tuple[float, float]]] = {
    "twitter-pos": {
        "erm": (74.7, 65.2), "rs": (75.8, 70.4), "smote": (75.8, 69.5), "rw": (76.2, 73.5),
        "cbrw": (77.5, 73.6), "drs": (77.8, 74.3), "m2m": (78.2, 74.8),
        "focal": (74.2, 70.4), "ldam": (74.6, 66.1), "ldam-drw": (78.0, 74.4),
        "ldam-m2m": (78.8, 76.0),
    },
    "reuters": {
        "erm": (59.8, 53.8), "rs": (63.3, 57.4), "smote": (62.5, 56.8), "rw": (65.0, 59.2),
        "cbrw": (64.8, 57.6), "drs": (62.4, 56.0), "m2m": (66.3, 60.5),
        "focal": (59.4, 53.0), "ldam": (63.0, 57.6), "ldam-drw": (64.1, 56.9),
        "ldam-m2m": (70.0, 63.9),
    },
}  # fmt: skip

#: The validation grids (small on purpose: the whole suite is meant to fit in minutes).
GRIDS: dict[str, list[dict[str, float]]] = {
    "m2m": [{"beta": b, "gamma": g} for b in (0.9, 0.99, 0.999) for g in (0.9, 0.99)],
    "ldam": [{"s": s} for s in (10.0, 30.0)],
    "focal": [{"gamma": g} for g in (1.0, 2.0)],
    "cbrw": [{"beta": b} for b in (0.999, 0.9999)],
}

#: Paired differences reported (row a - row b).
PAIRS = [
    ("m2m", "drs"), ("m2m", "rs"), ("m2m", "erm"), ("m2m", "rw"), ("ldam-m2m", "ldam-drw"),
    ("la-m2m", "la-drs"), ("offline", "rs"), ("drs", "erm"), ("rw", "rs"),
]  # fmt: skip

PAIR_TARGETS = {("m2m", "drs"): 2.0, ("m2m", "rs"): 2.0, ("ldam-m2m", "ldam-drw"): 3.0}


@dataclass
class Config:
    """The training protocol shared by every row.

    Attributes
    ----------
    epochs, warmup, batch_size : int
    lr, lr_decay, weight_decay, momentum : float
    start_frac : float
        Deferral epoch as a share of ``epochs`` (rounded).
    milestones : tuple of int or None
        lr decay epochs; None: 80% and 90% of ``epochs``.
    hidden : int
    eta : float
        M2m step size.
    n_steps : int
    lam : float
    precision : {"fp32", "bf16"}
        ``bf16``: every forward pass (training, ``g``, the translation) under bfloat16
        autocast (``amp_dtype=torch.bfloat16``); weights, optimiser and loss stay float32.
    """

    epochs: int = 15
    warmup: int = 5
    batch_size: int = 64
    lr: float = 0.1
    lr_decay: float = 0.01
    weight_decay: float = 5e-5
    momentum: float = 0.9
    start_frac: float = 0.8
    milestones: tuple[int, ...] | None = None
    hidden: int = 256
    eta: float = 1.0
    n_steps: int = 10
    lam: float = 0.5
    precision: str = "fp32"

    @property
    def amp_dtype(self) -> torch.dtype | None:
        """The autocast dtype of :attr:`precision` (None: float32 throughout)."""
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16'; got {self.precision!r}.")
        return torch.bfloat16 if self.precision == "bf16" else None

    @property
    def lr_milestones(self) -> tuple[int, ...]:
        """The lr decay epochs: :attr:`milestones`, or 80% and 90% of :attr:`epochs`."""
        return self.milestones or paper_milestones(self.epochs)

    @property
    def start(self) -> int:
        """The deferral epoch (0-based)."""
        return int(round(self.start_frac * self.epochs))


# ----------------------------------------------------------------------------- data
def load_table2_data(name: str, max_features: int = 2000) -> dict[str, Any]:
    """Features and integer labels of a Table 2 data set.

    Parameters
    ----------
    name : {"reuters", "twitter-pos"}
    max_features : int, default=2000
        Reuters' TF-IDF vocabulary size (Twitter: 3,000 indicator features).

    Returns
    -------
    dict
        ``X``, ``y``, ``X_test``, ``y_test`` (float32 / int64), ``class_names`` (label
        ``k`` is ``class_names[k]``, from the largest training class), ``eta`` (the
        paper's M2m step size for it) and ``features`` (a description).
    """
    from benchmarks.text_datasets import (
        load_reuters,
        load_twitter_pos,
        reuters_vectorizer,
        twitter_pos_features,
    )

    if name == "reuters":
        d = load_reuters()
        vec = reuters_vectorizer(max_features=max_features)
        X, X_test = vec.fit_transform(d.text_train), vec.transform(d.text_test)
        names, y_raw, yt_raw, eta = list(d.class_names), d.y_train, d.y_test, 1.0
        features = f"sublinear TF-IDF, {max_features} terms, L2-normalised"
    elif name == "twitter-pos":
        d = load_twitter_pos()
        in_test = set(d.y_test.tolist())
        names = [c for c in d.class_names if c in in_test]
        keep = np.isin(d.y_train, names)
        X_train = [x for x, k in zip(d.X_train, keep) if k]
        feats = twitter_pos_features()
        X, X_test = feats.fit_transform(X_train), feats.transform(d.X_test)
        y_raw, yt_raw, eta = d.y_train[keep], d.y_test, 0.1
        features = "token, affix, shape and flag indicators of a +-2 window, 3000 features"
    else:
        raise ValueError(f"dataset must be 'reuters' or 'twitter-pos'; got {name!r}.")
    code = {c: i for i, c in enumerate(names)}
    y = np.array([code[c] for c in y_raw], dtype=np.int64)
    y_test = np.array([code[c] for c in yt_raw], dtype=np.int64)
    return {
        "X": np.ascontiguousarray(X, dtype=np.float32),
        "y": y,
        "X_test": np.ascontiguousarray(X_test, dtype=np.float32),
        "y_test": y_test,
        "class_names": names,
        "eta": eta,
        "features": features,
    }


# ----------------------------------------------------------------------------- nets
def _criterion(loss: str, counts: np.ndarray, hp: dict) -> dict[str, Any]:
    if loss == "focal":
        return {"criterion": FocalLoss, "criterion__gamma": hp["focal"]["gamma"]}
    if loss == "ldam":
        return {
            "criterion": LDAMLoss,
            "criterion__class_counts": counts,
            "criterion__max_m": 0.5,
            "criterion__s": hp["ldam"]["s"],
        }
    if loss == "la":
        return {
            "criterion": LogitAdjustedLoss,
            "criterion__class_counts": counts,
            "criterion__tau": 1.0,
        }
    return {"criterion": torch.nn.CrossEntropyLoss}


def make_net(
    cfg: Config,
    key: str,
    counts: np.ndarray,
    hp: dict,
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
        A key of :data:`ROWS`.
    counts : ndarray
        Training samples per class (label order).
    hp : dict
        Chosen hyper-parameters (``GRIDS`` keys).
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
    """
    spec = ROWS[key]
    sampling, reweight, generation = spec.sampling, spec.reweight, spec.generation
    if trunk:
        sampling, reweight, generation = "shuffle", None, False
    start = {"deferred": cfg.start, "balanced": 0}.get(sampling, cfg.epochs)
    callbacks: list[Any] = [
        (
            "lr",
            paper_lr_scheduler(
                max_epochs=cfg.epochs,
                warmup_epochs=cfg.warmup,
                milestones=cfg.milestones,
                gamma=cfg.lr_decay,
            ),
        )
    ]
    if reweight is not None:
        rw_start = cfg.start if reweight.startswith("deferred") else 0
        kind = "inverse" if reweight == "inverse" else "effective"
        beta = hp["cbrw"]["beta"] if reweight == "effective" else 0.9999
        callbacks.insert(
            0, ("reweight", DeferredReweighting(start_epoch=rw_start, weights=kind, beta=beta))
        )
    extra: dict[str, Any] = {}
    if uniform_epoch is not None:
        extra = {
            "balanced_batches": False,
            "iterator_train__sampler": ClassBalancedSampler(
                labels=labels, balanced=True, num_samples=uniform_epoch
            ),
        }
    else:
        extra = {"balanced_batches": True}
    m2m = hp["m2m"]
    return M2MClassifier(
        MLP,
        module__n_features=n_features,
        module__n_classes=len(counts),
        module__hidden=(cfg.hidden,),
        module__head="cosine" if spec.loss == "ldam" else "linear",
        **_criterion(spec.loss, counts, hp),
        g=g,
        generation=generation,
        start_epoch=start,
        beta=m2m["beta"],
        gamma=m2m["gamma"],
        lam=cfg.lam,
        step_size=cfg.eta,
        n_steps=cfg.n_steps,
        random_state=seed,
        amp_dtype=cfg.amp_dtype,
        optimizer=torch.optim.SGD,
        lr=cfg.lr,
        optimizer__momentum=cfg.momentum,
        optimizer__weight_decay=cfg.weight_decay,
        batch_size=cfg.batch_size,
        max_epochs=max_epochs,
        iterator_train=DeviceLoader,
        iterator_valid=DeviceLoader,
        iterator_valid__batch_size=4096,
        train_split=None,
        callbacks=callbacks,
        verbose=0,
        **extra,
    )


@contextlib.contextmanager
def _unreached_start_is_intended():
    """Trunks and rows without a deferred phase stop before ``start_epoch`` on purpose: no
    warning that it is not reached."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"start_epoch=\d+ is not reached")
        yield


def _continue(cfg, key, counts, hp, trunk_dir, X, y, *, seed, g=None) -> M2MClassifier:
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


def _train_trunk(cfg, loss_key, counts, hp, X, y, *, seed, folder: Path) -> Path:
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


def _from_scratch(
    cfg, key, counts, hp, X, y, *, seed, g=None, balanced_set=None
) -> tuple[M2MClassifier, dict]:
    """Rows without a trunk: the whole schedule (SMOTE / offline: on the balanced set)."""
    info: dict[str, Any] = {}
    Xf, yf, uniform, labels = X, y, None, None
    spec = ROWS[key]
    if spec.sampling == "smote":
        from imblearn.over_sampling import SMOTE

        k = int(min(5, counts.min() - 1))
        Xf, yf = SMOTE(k_neighbors=k, random_state=seed).fit_resample(X, y)
        info["smote_k"] = k
    elif spec.sampling == "offline":
        m2m = hp["m2m"]
        sampler = M2MOverSampler(
            g=g,
            beta=m2m["beta"],
            gamma=m2m["gamma"],
            step_size=cfg.eta,
            n_steps=cfg.n_steps,
            random_state=seed,
            amp_dtype=cfg.amp_dtype,
        )
        Xf, yf = sampler.fit_resample(X, y)
        n_new = int(len(yf) - len(y))
        info["offline"] = {
            "n_generated": n_new,
            "translated_share": float(np.mean(sampler.is_translated_)) if n_new else 0.0,
            "class_stats": {int(c): v for c, v in sampler.class_stats_.items()},
            "translation_s": float(sampler.translation_time_),
        }
    if spec.sampling in ("smote", "offline"):
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


# ----------------------------------------------------------------------------- scores
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


# ----------------------------------------------------------------------------- one seed
def run_seed(
    cfg: Config,
    data: dict,
    hp: dict,
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
                trunks[spec.loss] = _train_trunk(
                    cfg, key, counts, hp, X, y, seed=seed, folder=Path(tmp) / spec.loss
                )
                trunk_cpu[spec.loss] = time.process_time() - t0
            needs_g = spec.generation or spec.sampling == "offline"
            if needs_g and g is None:
                raise RuntimeError("the 'erm' row must come before the rows that need g")
            t0 = time.process_time()
            if spec.trunk:
                net = _continue(
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
                net, info = _from_scratch(cfg, key, counts, hp, X, y, seed=seed, g=g)
            cpu = time.process_time() - t0 + info.get("trunk_cpu_s", 0.0)
            if key == "erm":
                g = net.module_
            record(key, net, cpu, **info)
    return out


# ----------------------------------------------------------------------------- tuning
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

    ``fixed``: hyper-parameters (``GRIDS`` keys) taken as given instead of searched.
    """
    fixed = dict(fixed or {})
    fit_idx, val_idx = carve_validation(data["y"], val_fraction, seed)
    Xf, yf = data["X"][fit_idx], data["y"][fit_idx]
    Xv, yv = data["X"][val_idx], data["y"][val_idx]
    counts = np.bincount(yf, minlength=len(data["class_names"]))
    base = {k: v[0] for k, v in GRIDS.items()}
    out: dict[str, Any] = {
        "n_fit": int(len(yf)),
        "n_val": int(len(yv)),
        "seed": seed,
        "val_fraction": val_fraction,
        "grids": GRIDS,
        "candidates": {},
    }

    def val_score(net):
        proba = net.predict_proba(Xv)
        return {
            "val_bacc": float(balanced_accuracy_score(yv, proba.argmax(1))),
            "val_log_loss": balanced_log_loss(yv, proba),
        }

    chosen = {**base, **fixed}
    out["fixed"] = fixed
    with tempfile.TemporaryDirectory() as tmp:
        ce = _train_trunk(cfg, "erm", counts, base, Xf, yf, seed=seed, folder=Path(tmp) / "ce")
        g = _continue(cfg, "erm", counts, base, ce, Xf, yf, seed=seed).module_
        # M2m (online) from the CE trunk
        if "m2m" not in fixed and any(ROWS[r].generation or r == "offline" for r in rows):
            table = []
            for p in GRIDS["m2m"]:
                t0 = time.process_time()
                net = _continue(cfg, "m2m", counts, {**base, "m2m": p}, ce, Xf, yf, seed=seed, g=g)
                acc = acceptance(net)
                row = {
                    **p,
                    **val_score(net),
                    "cpu_s": time.process_time() - t0,
                    "accept_share_of_targets": acc["accept_share_of_targets"],
                }
                table.append(row)
                log(
                    f"  [tune] m2m {p}: val bACC {100 * row['val_bacc']:.1f} accepted "
                    f"{100 * row['accept_share_of_targets']:.0f}% of targets"
                )
            out["candidates"]["m2m"] = table
            top = best_candidate(table, decimals=6)
            chosen["m2m"] = {k: top[k] for k in GRIDS["m2m"][0]}
        # LDAM's s, chosen by LDAM-DRW (the paper's LDAM rows)
        if "ldam" not in fixed and any(ROWS[r].loss == "ldam" for r in rows):
            table = []
            for p in GRIDS["ldam"]:
                hp = {**base, "ldam": p}
                t0 = time.process_time()
                folder = _train_trunk(
                    cfg, "ldam", counts, hp, Xf, yf, seed=seed, folder=Path(tmp) / f"ldam{p['s']}"
                )
                net = _continue(cfg, "ldam-drw", counts, hp, folder, Xf, yf, seed=seed)
                row = {**p, **val_score(net), "cpu_s": time.process_time() - t0}
                table.append(row)
                log(f"  [tune] ldam-drw {p}: val bACC {100 * row['val_bacc']:.1f}")
            out["candidates"]["ldam"] = table
            top = best_candidate(table, decimals=6)
            chosen["ldam"] = {"s": top["s"]}
        for kind, key in (("focal", "focal"), ("cbrw", "cbrw")):
            if key not in rows or kind in fixed:
                continue
            table = []
            for p in GRIDS[kind]:
                t0 = time.process_time()
                net, _ = _from_scratch(cfg, key, counts, {**base, kind: p}, Xf, yf, seed=seed)
                row = {**p, **val_score(net), "cpu_s": time.process_time() - t0}
                table.append(row)
                log(f"  [tune] {key} {p}: val bACC {100 * row['val_bacc']:.1f}")
            out["candidates"][kind] = table
            top = best_candidate(table, decimals=6)
            chosen[kind] = {k: top[k] for k in GRIDS[kind][0]}
    out["chosen"] = chosen
    log(f"  [tune] chosen {chosen}")
    return out


# ----------------------------------------------------------------------------- summary
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
        "| row | seeds | bACC | paper bACC | GM | paper GM | GM0 | minority | majority | "
        "train bACC | accepted | CPU s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, e in s["rows"].items():
        pb, pg = paper.get(key, (None, None))
        acc = e.get("accept_share_of_targets")
        lines.append(
            f"| {e['label']} | {e['n_seeds']} | "
            f"{100 * e['bacc']:.1f} ± {100 * e['bacc_std']:.1f} | "
            f"{'' if pb is None else pb} | {100 * e['gm_c']:.1f} ± {100 * e['gm_c_std']:.1f} | "
            f"{'' if pg is None else pg} | {100 * e['gm']:.1f} | {100 * e['minor']:.1f} | "
            f"{100 * e['major']:.1f} | {100 * e['train_bacc']:.1f} | "
            f"{'' if acc is None else f'{100 * acc:.0f}%'} | {e['cpu_s']:.0f} |"
        )
    if result.get("schedule_selection"):
        lines += [
            "",
            "Schedule chosen on the validation part (bACC %, validation / fit part; "
            "score = mean validation bACC of ERM, DRS, M2m):",
            "",
            "| epochs | deferral epoch | ERM | DRS | M2m | score |",
            "|---|---|---|---|---|---|",
        ]
        for r in result["schedule_selection"]:
            cells = " | ".join(
                f"{100 * r[f'{k}_val_bacc']:.1f} / {100 * r[f'{k}_fit_bacc']:.1f}"
                for k in ("erm", "drs", "m2m")
            )
            lines.append(
                f"| {r['epochs']} | {r['start_epoch']} | {cells} | {100 * r['score']:.1f} |"
            )
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


# ----------------------------------------------------------------------------- main
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
            trunk = _train_trunk(c, "erm", counts, hp, Xf, yf, seed=100, folder=Path(tmp) / "t")
            erm = _continue(c, "erm", counts, hp, trunk, Xf, yf, seed=100)
            nets = {
                "erm": erm,
                "drs": _continue(c, "drs", counts, hp, trunk, Xf, yf, seed=100),
                "m2m": _continue(c, "m2m", counts, hp, trunk, Xf, yf, seed=100, g=erm.module_),
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


_DATA_CACHE: dict[tuple, dict] = {}


def _cached_data(loader, name: str, max_features: int) -> dict:
    """``loader(name, max_features)``, once per process (a pool worker loads each set once)."""
    key = (getattr(loader, "__qualname__", repr(loader)), name, max_features)
    if key not in _DATA_CACHE:
        _DATA_CACHE[key] = loader(name, max_features)
    return _DATA_CACHE[key]


def _load(name: str, max_features: int) -> dict:
    return load_table2_data(name, max_features=max_features)


def _worker_init() -> None:
    torch.set_num_threads(1)  # one thread per process: --jobs processes share the cores


def _print_flush(message: str) -> None:
    print(message, flush=True)


def _prefixed(log, name: str):
    return lambda message: log(f"[{name}] {message}")


def _prepare_task(name, cfg, rows, max_features, schedule_grid, fixed, loader, log):
    """One data set's choices on validation: the schedule (optional), then ``tune``."""
    cpu0 = time.process_time()
    data = _cached_data(loader, name, max_features)
    log = _prefixed(log, name)
    if cfg.eta is None or np.isnan(cfg.eta):
        cfg = replace(cfg, eta=data["eta"])
    counts = np.bincount(data["y"])
    summary = {
        "n_train": int(len(data["y"])),
        "n_test": int(len(data["y_test"])),
        "n_classes": len(data["class_names"]),
        "class_names": data["class_names"],
        "counts": counts.tolist(),
        "features": data["features"],
        "imbalance_ratio": float(counts.max() / counts.min()),
    }
    log(
        f"{summary['n_train']} train, {summary['n_classes']} classes, "
        f"ratio {summary['imbalance_ratio']:.1f}; load {time.process_time() - cpu0:.1f}s"
    )
    schedule_table = None
    if schedule_grid:
        base = {**{k: v[0] for k, v in GRIDS.items()}, **fixed}
        cfg, schedule_table = choose_schedule(cfg, data, schedule_grid, base, log=log)
        log(f"  [schedule] chosen: {cfg.epochs} epochs, defer at {cfg.start_frac}")
    tuning = tune(cfg, data, rows, fixed=fixed, log=log)
    return {
        "cfg": cfg,
        "data": summary,
        "schedule_selection": schedule_table,
        "tuning": tuning,
        "cpu_s": time.process_time() - cpu0,
    }


def _seed_task(name, cfg, hp, seed, rows, max_features, loader, log):
    """Every row of one seed, trained on the training set and scored on the test set."""
    cpu0 = time.process_time()
    data = _cached_data(loader, name, max_features)
    runs = run_seed(
        cfg,
        data,
        hp,
        seed,
        rows,
        X_eval=data["X_test"],
        y_eval=data["y_test"],
        log=_prefixed(log, name),
    )
    return {"runs": runs, "cpu_s": time.process_time() - cpu0}


def _machine(env: dict[str, Any]) -> str:
    """``x86_64, 2 CPU cores (model name)`` from :func:`~.report.environment`."""
    m = env["machine"]
    model = f" ({m['cpu_model']})" if m.get("cpu_model") else ""
    return f"{m['machine']}, {m['cpu_count']} CPU cores{model}"


class _InlineExecutor:
    """``submit`` runs the call at once (``--jobs 1``: no worker processes)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def submit(self, fn, /, *args, **kwargs) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - re-raised by fut.result()
            fut.set_exception(e)
        return fut


def run_suite(
    name: str | list[str],
    cfg: Config,
    seeds: list[int],
    rows: list[str],
    out: Path,
    *,
    max_features: int = 2000,
    tag: str = "",
    schedule_grid: list[tuple[int, float]] | None = None,
    fixed: dict | None = None,
    jobs: int = 1,
    loader=None,
    log=print,
) -> dict:
    """Tune, run every seed, write ``table2_<name><tag>.{json,md,png}``; the result.

    ``name``: a data set, or a list of them (the whole suite: every data set's
    validation choices and seeds share one pool of ``jobs`` processes; the result is
    then a dict name -> result). ``schedule_grid``: first choose ``(epochs,
    start_frac)`` among these on validation (:func:`choose_schedule`, with ``fixed`` or
    the grids' first values as M2m's settings). ``fixed``: hyper-parameters taken as
    given (``GRIDS`` keys), not searched. ``jobs``: worker processes (spawned, one torch
    thread each); every seed is one task and gives the same numbers in any process, so
    ``jobs`` changes only the time. ``loader(name, max_features)``: the data (default
    :func:`load_table2_data`; a module-level function, so that workers can import it).
    """
    names = [name] if isinstance(name, str) else list(name)
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1; got {jobs}.")
    wall0 = time.perf_counter()
    loader = _load if loader is None else loader
    fixed = dict(fixed or {})
    task_log = log if jobs == 1 else _print_flush
    results: dict[str, dict[str, Any]] = {}
    left = {n: len(seeds) for n in names}
    out.mkdir(parents=True, exist_ok=True)

    def write(n: str, final: bool) -> None:
        res = results[n]
        res["runs"].sort(key=lambda r: (seeds.index(r["seed"]), rows.index(r["row"])))
        res["summary"] = summarise(res["runs"], rows)
        res["wall_s"] = time.perf_counter() - wall0
        stem = out / f"table2_{n}{tag}"
        stem.with_suffix(".json").write_text(json.dumps(res, indent=1, default=float))
        write_markdown(stem.with_suffix(".md"), res)
        if final:
            write_figure(stem.with_suffix(".png"), res)

    if jobs == 1:
        pool: Any = _InlineExecutor()
    else:
        pool = ProcessPoolExecutor(
            max_workers=jobs, mp_context=get_context("spawn"), initializer=_worker_init
        )
    # Longest task first: at most ``jobs`` tasks in flight, the next one chosen when a
    # worker frees up (validation choices first, then the seeds of the largest data set),
    # so that the short seeds of a small data set fill the end of the run.
    ready: list[tuple[float, int, tuple]] = []
    pending: dict[Future, tuple[str, int | None]] = {}
    order = itertools.count()  # ties: first queued, first run

    def queue(cost: float, fn, args: tuple, key: tuple[str, int | None]) -> None:
        heapq.heappush(ready, (-cost, next(order), (fn, args, key)))

    def fill() -> None:
        while ready and len(pending) < jobs:
            fn, args, key = heapq.heappop(ready)[2]
            pending[pool.submit(fn, *args)] = key

    with pool:
        for n in names:
            args = (n, cfg, rows, max_features, schedule_grid, fixed, loader, task_log)
            queue(float("inf"), _prepare_task, args, (n, None))
        fill()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                n, seed = pending.pop(fut)
                payload = fut.result()
                if seed is None:
                    c = payload["cfg"]
                    env = environment("cpu")
                    results[n] = {
                        "dataset": n,
                        "command": " ".join(
                            ["python", "-m", "benchmarks.table2", *sys.argv[1:]]
                        ),
                        "machine": _machine(env),
                        "date": time.strftime("%Y-%m-%d"),
                        "environment": env,
                        "torch": torch.__version__,
                        "jobs": jobs,
                        "suite": names,
                        "config": c.__dict__,
                        "milestones": list(c.lr_milestones),
                        "start_epoch": c.start,
                        "seeds": seeds,
                        "rows": rows,
                        "data": payload["data"],
                        "runs": [],
                        "schedule_selection": payload["schedule_selection"],
                        "tuning": payload["tuning"],
                        "cpu_s": payload["cpu_s"],
                    }
                    hp = payload["tuning"]["chosen"]
                    for s in seeds:
                        args = (n, c, hp, s, rows, max_features, loader, task_log)
                        queue(payload["data"]["n_train"], _seed_task, args, (n, s))
                    if not seeds:
                        write(n, final=True)
                else:
                    results[n]["runs"] += payload["runs"]
                    results[n]["cpu_s"] += payload["cpu_s"]
                    left[n] -= 1
                    write(n, final=left[n] == 0)
            fill()
    suite_wall = time.perf_counter() - wall0
    for n in names:
        results[n]["suite_wall_s"] = suite_wall
        write(n, final=True)
        res = results[n]
        log(
            f"[{n}] done: CPU {res['cpu_s'] / 60:.1f} min; suite wall {suite_wall / 60:.1f} "
            f"min with {jobs} process(es) -> {out / f'table2_{n}{tag}'}.{{json,md,png}}"
        )
    return results[names[0]] if isinstance(name, str) else results


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
    rows = [k for k in ROWS if any(r["row"] == k for r in runs)]
    out["runs"], out["rows"] = runs, rows
    out["seeds"] = sorted({r["seed"] for r in runs})
    out["command"] = " ; ".join(res["command"] for res in results)
    out["cpu_s"] = float(sum(res["cpu_s"] for res in results))
    out["wall_s"] = float(sum(res["wall_s"] for res in results))
    out["merged_from"] = [str(p) for p in paths]
    out["summary"] = summarise(runs, rows)
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(out, indent=1, default=float))
    write_markdown(stem.with_suffix(".md"), out)
    write_figure(stem.with_suffix(".png"), out)
    return out


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.table2", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--dataset",
        choices=("reuters", "twitter-pos"),
        nargs="+",
        required=True,
        help="one or both data sets (both: one pool of --jobs processes)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="worker processes, one torch thread each (e.g. the number of cores); "
        "the numbers do not depend on it",
    )
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument(
        "--seed-list", type=int, nargs="+", default=None, help="run these seeds (not 0..N-1)"
    )
    p.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=None,
        help="merge these result JSONs of one data set (same protocol, other seeds or rows) "
        "into --out/table2_<dataset><tag>.*; trains nothing",
    )
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    p.add_argument("--epochs", type=int, default=Config.epochs)
    p.add_argument(
        "--start-frac",
        type=float,
        default=Config.start_frac,
        help="deferral epoch as a share of the epochs",
    )
    p.add_argument("--lr-decay", type=float, default=Config.lr_decay)
    p.add_argument("--milestones", type=int, nargs="*", default=None)
    p.add_argument(
        "--eta",
        type=float,
        default=None,
        help="M2m step size (default: 1.0 on Reuters, 0.1 on Twitter)",
    )
    p.add_argument("--hidden", type=int, default=Config.hidden)
    p.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default=Config.precision,
        help="bf16: forward passes under bfloat16 autocast (weights stay float32)",
    )
    p.add_argument("--max-features", type=int, default=2000)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/table2"))
    p.add_argument("--tag", default="", help="suffix of the output files")
    p.add_argument(
        "--schedule-grid",
        nargs="+",
        default=None,
        metavar="EPOCHS:FRAC",
        help="choose (epochs, deferral share) among these on validation first, e.g. 15:0.6 30:0.8",
    )
    p.add_argument(
        "--fixed",
        default=None,
        help="JSON of hyper-parameters taken as given, e.g. "
        '\'{"m2m": {"beta": 0.9, "gamma": 0.99}, "ldam": {"s": 30}}\'',
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the suite from the command line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1; got {args.jobs}")
    torch.set_num_threads(1)
    cfg = Config(
        epochs=args.epochs,
        start_frac=args.start_frac,
        lr_decay=args.lr_decay,
        milestones=tuple(args.milestones) if args.milestones else None,
        hidden=args.hidden,
        precision=args.precision,
        eta=float("nan") if args.eta is None else args.eta,
    )
    if args.merge:
        if len(args.dataset) != 1:
            raise SystemExit("--merge: give one --dataset")
        merge(args.merge, args.out / f"table2_{args.dataset[0]}{args.tag}")
        return 0
    rows = [r for r in ROWS if r in args.rows]
    if any(ROWS[r].generation or r == "offline" for r in rows) and "erm" not in rows:
        rows.insert(0, "erm")
    run_suite(
        args.dataset if len(args.dataset) > 1 else args.dataset[0],
        cfg,
        args.seed_list if args.seed_list else list(range(args.seeds)),
        rows,
        args.out,
        max_features=args.max_features,
        tag=args.tag,
        schedule_grid=[(int(a), float(b)) for a, b in (t.split(":") for t in args.schedule_grid)]
        if args.schedule_grid
        else None,
        fixed=json.loads(args.fixed) if args.fixed else None,
        jobs=args.jobs,
        log=_print_flush,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
