"""
CIFAR-LT-10: reproduce Table 1 of the M2m paper (ERM, DRS, M2m and the other baselines)
=======================================================================================

The paper's headline: CIFAR-LT-10, imbalance ratio 100, ResNet-32, 200 epochs, balanced
test accuracy ERM 68.7, DRS 75.2, M2m 78.3. This script reproduces it through the
library's public API only (:class:`~m2m_sampler.M2MClassifier`,
:class:`~m2m_sampler.device_data.DeviceLoader`, :mod:`m2m_sampler.models`,
:mod:`m2m_sampler.callbacks`, :mod:`m2m_sampler.losses`, :mod:`m2m_sampler.metrics`):

1. ``g``: a ResNet-32 trained by plain ERM for 200 epochs (the paper's schedule); it is
   also the ERM result of Table 1. Cached with ``--cache-dir``.
2. ``f``: a second ResNet-32 trained from scratch by ERM until epoch 160 (the "trunk"),
   saved with skorch's ``save_params`` (weights, optimizer state, history).
3. From that same epoch-160 state, two (or more) branches continue to epoch 200: a new
   net is built with the branch's settings, ``initialize()``-d, loaded with
   ``load_params`` and trained on with ``partial_fit``; the learning-rate schedule, the
   epoch count (``start_epoch``) and the sampler pick up at epoch 160. DRS is
   ``M2MClassifier(generation=False)``, M2m is ``generation=True`` with ``g``
   (beta 0.999, lambda 0.5, gamma 0.9, step 0.1, 10 steps).

Other rows of Table 1 are selected with ``--method`` (``rs smote rw cbrw drw focal ldam
ldam-drw ldam-m2m``; DRW and the LDAM variants branch from a shared trunk too) and
``--imbalance-ratio 10``. The script prints progress and writes one JSON file with the
balanced accuracy, geometric mean, major/minor accuracy (full 10,000-image test set and
the authors' 900-per-class split) and the wall time of every phase, broken down per epoch
into data, train-step and generation time.

Run with ``python examples/cifar_lt.py --smoke`` (CPU, a tiny subset, 2 epochs, a few
seconds) or, on a GPU, ``python examples/cifar_lt.py --device cuda --fast --cache-dir
.cache/cifar_lt --out results.json``. The data directory is ``--data-dir`` (default: the
library's data-directory rule, i.e. ``$M2M_DATA_DIR`` or ``../shared/data``). See
``docs/reproduction.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score
from skorch.callbacks import Callback

from m2m_sampler import M2MClassifier
from m2m_sampler.augment import RandomCropFlip
from m2m_sampler.callbacks import DeferredReweighting
from m2m_sampler.classifier import TIMING_KEYS
from m2m_sampler.datasets import get_data_dir, load_cifar10_lt
from m2m_sampler.device_data import DeviceLoader
from m2m_sampler.losses import FocalLoss, LDAMLoss
from m2m_sampler.metrics import imbalance_report
from m2m_sampler.models import ResNet32
from m2m_sampler.schedules import paper_lr_scheduler

# ----------------------------------------------------------------------------- methods
#: Every method: the loss, whether it continues a shared trunk (trained to the deferral
#: epoch with that loss) and how the last phase (or the whole run) re-balances.
METHODS = {
    # name: (loss, trunk, sampling, reweight, generation)
    "erm": ("ce", None, "shuffle", None, False),  # = g
    "drs": ("ce", "ce", "deferred", None, False),
    "m2m": ("ce", "ce", "deferred", None, True),
    "drw": ("ce", "ce", "shuffle", "deferred-effective", False),
    "rs": ("ce", None, "balanced", None, False),
    "smote": ("ce", None, "smote", None, False),
    "rw": ("ce", None, "shuffle", "inverse", False),
    "cbrw": ("ce", None, "shuffle", "effective", False),
    "focal": ("focal", None, "shuffle", None, False),
    "ldam": ("ldam", "ldam", "shuffle", None, False),
    "ldam-drw": ("ldam", "ldam", "shuffle", "deferred-effective", False),
    "ldam-m2m": ("ldam", "ldam", "deferred", None, True),
}
PAPER_TRIO = ("erm", "drs", "m2m")

#: Table 1 of the paper (CIFAR-LT-10, mean of 3 runs): bACC / GM.
PAPER = {
    100: {
        "erm": (68.7, 66.4), "rs": (70.4, 69.0), "smote": (71.5, 70.2), "rw": (72.8, 72.0),
        "cbrw": (71.2, 70.0), "drs": (75.2, 73.9), "drw": (75.0, 74.0), "m2m": (78.3, 77.8),
        "focal": (68.3, 65.5), "ldam": (72.8, 70.8), "ldam-drw": (77.1, 76.7),
        "ldam-m2m": (79.1, 78.6),
    },
    10: {
        "erm": (86.0, 85.8), "smote": (85.7, 85.5), "drs": (87.1, 87.0), "m2m": (87.9, 87.5),
        "ldam-drw": (87.1, 86.9), "ldam-m2m": (87.5, 87.4),
    },
}

#: gpu.md: a plain eager PyTorch loop on one H100 (bf16, channels_last, batch 128).
PLAIN_LOOP_H100 = {
    "erm_200_epochs_s": 304,
    "drs_40_epochs_s": 59,
    "m2m_40_epochs_s_estimated": 600,
    "erm_bacc": 71.2,
    "drs_bacc": 75.0,
}


# ----------------------------------------------------------------------------- arguments
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Reproduce the CIFAR-LT-10 rows of Table 1 of M2m (CVPR 2020).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--data-dir", default=None, help="folder with the CIFAR-10 npz files")
    p.add_argument("--imbalance-ratio", type=int, choices=(100, 10), default=100)
    p.add_argument(
        "--method", default=",".join(PAPER_TRIO),
        help=f"comma-separated methods, or 'all': {', '.join(METHODS)}",
    )
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--start-epoch", type=int, default=None,
                   help="0-based deferral epoch (DRS, DRW, M2m); default 80%% of --epochs")
    p.add_argument("--warmup-epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=2e-4)
    p.add_argument("--beta", type=float, default=0.999)
    p.add_argument("--lam", type=float, default=0.5)
    p.add_argument("--gamma", type=float, default=0.9)
    p.add_argument("--step-size", type=float, default=0.1)
    p.add_argument("--n-steps", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--amp", choices=("none", "bf16", "fp16"), default="none",
                   help="autocast dtype for training, evaluation and translation")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--cuda-graph", action="store_true",
                   help="replay the training forward/backward from a CUDA graph")
    p.add_argument("--translate-ahead", type=int, default=1,
                   help="batches whose targets are translated in one engine call")
    p.add_argument("--translation-batch-size", type=int, default=None)
    p.add_argument("--fast", action="store_true",
                   help="GPU settings: --amp bf16 --channels-last --cuda-graph "
                        "--translate-ahead 8")
    p.add_argument("--eval-batch-size", type=int, default=1024)
    p.add_argument("--cache-dir", default=None,
                   help="keep g, the epoch-160 trunks and each method's result here, "
                        "keyed by configuration, and reuse them")
    p.add_argument("--only", choices=("g", "trunk", "methods", "report"), default=None,
                   help="only train (and cache) g, or the trunks the methods need, or "
                        "only the methods (g and the trunks must be cached), or only "
                        "report what is cached; for running phases as parallel "
                        "processes (needs --cache-dir)")
    p.add_argument("--out", default=None, help="JSON file for the results")
    p.add_argument("--smoke", action="store_true",
                   help="tiny subset (1/100 of each class, at least 2; 20 test images "
                        "per class), 2 epochs, deferral at epoch 1")
    p.add_argument("--select-epoch", action="store_true",
                   help="the authors' protocol as well: evaluate every epoch of the last "
                        "phase (all epochs for g) on the validation split (first 100 test "
                        "images per class) and report the 900-per-class split at the best one")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = p.parse_args(argv)
    if args.fast:
        args.amp = "bf16" if args.amp == "none" else args.amp
        args.channels_last = True
        args.cuda_graph = True
        args.translate_ahead = max(args.translate_ahead, 8)
    if args.smoke:
        args.epochs = 2
        args.start_epoch = 1
        args.log_every = 1
    if args.start_epoch is None:
        args.start_epoch = 160 if args.epochs == 200 else int(round(0.8 * args.epochs))
    if not 0 <= args.start_epoch <= args.epochs:
        p.error("--start-epoch must be in [0, --epochs]")
    names = list(METHODS) if args.method == "all" else args.method.split(",")
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        p.error(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    args.methods = list(dict.fromkeys(names))
    if args.only and not args.cache_dir:
        p.error("--only needs --cache-dir (the next invocation reads what it trains)")
    return args


# ----------------------------------------------------------------------------- data
def load_data(args: argparse.Namespace) -> dict:
    data = load_cifar10_lt(
        args.imbalance_ratio, data_dir=args.data_dir, dtype=np.uint8, channels_first=True
    )
    X, y = data.X_train, data.y_train
    X_test, y_test = data.X_test, data.y_test
    if args.smoke:
        keep = []
        for k in range(10):
            idx = np.flatnonzero(y == k)
            keep.append(idx[: max(2, math.ceil(len(idx) / 100))])
        keep = np.sort(np.concatenate(keep))
        X, y = X[keep], y[keep]
        test_keep = np.sort(
            np.concatenate([np.flatnonzero(y_test == k)[:20] for k in range(10)])
        )
        X_test, y_test = X_test[test_keep], y_test[test_keep]
    # The authors' split: the first 100 test images of each class are validation.
    n_val = 2 if args.smoke else 100
    val = np.concatenate([np.flatnonzero(y_test == k)[:n_val] for k in range(10)])
    test900 = np.setdiff1d(np.arange(len(y_test)), val)
    return {
        "X": X, "y": y, "X_test": X_test, "y_test": y_test, "test900": test900, "val": val,
        "counts": np.bincount(y, minlength=10),
        "files": str(get_data_dir(args.data_dir)),
    }


# ----------------------------------------------------------------------------- nets
class Progress(Callback):
    """Print one line every ``every`` epochs (and at the last one)."""

    def __init__(self, phase: str, every: int, total: int) -> None:
        self.phase = phase
        self.every = every
        self.total = total

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        epoch = row["epoch"]
        if epoch % self.every and epoch != self.total:
            return
        msg = (
            f"[{self.phase}] epoch {epoch:3d}/{self.total} loss {row['train_loss']:.4f} "
            f"lr {row.get('event_lr', float('nan')):.2e} {row['dur']:.2f}s "
            f"(data {row['m2m_data_time']:.2f} step {row['m2m_step_time']:.2f} "
            f"generation {row['m2m_generation_time']:.2f})"
        )
        if row["m2m_active"] and net.generation:
            msg += f" accepted {row['m2m_accepted']}/{row['m2m_translated']}"
        print(msg, flush=True)


def state_copy(module: torch.nn.Module) -> dict:
    """A detached copy of ``module``'s state dict, on its device."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class ValidationSelection(Callback):
    """Track the epoch with the best balanced accuracy on the validation images.

    From epoch ``from_epoch`` (0-based) on, predicts ``X_val`` after every epoch, records
    ``valid_bacc`` in the history and keeps a copy of the weights of the best epoch
    (the last one on ties: the authors' code keeps an epoch when its validation accuracy
    is ``>=`` the best so far).
    """

    def __init__(self, X_val: np.ndarray, y_val: np.ndarray, from_epoch: int) -> None:
        self.X_val = X_val
        self.y_val = y_val
        self.from_epoch = from_epoch

    def initialize(self):
        self.best_score_ = None
        self.best_epoch_ = None
        self.best_state_ = None
        return self

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history) - 1  # 0-based index of the epoch that just ended
        if epoch < self.from_epoch:
            return
        score = float(balanced_accuracy_score(self.y_val, net.predict(self.X_val)))
        net.history.record("valid_bacc", score)
        if self.best_score_ is None or score >= self.best_score_:
            self.best_score_ = score
            self.best_epoch_ = epoch + 1  # as the history's "epoch" column counts
            self.best_state_ = state_copy(net.module_)


def selected_metrics(net: M2MClassifier, data: dict) -> dict | None:
    """The 900-per-class test metrics at the validation-selected epoch (if tracked)."""
    try:
        sel = dict(net.callbacks_)["select"]
    except KeyError:
        return None
    if sel.best_state_ is None:
        return None
    current = state_copy(net.module_)
    net.module_.load_state_dict(sel.best_state_)
    try:
        idx = data["test900"]
        y_pred = net.predict(data["X_test"][idx])
    finally:
        net.module_.load_state_dict(current)
    scored = {str(row["epoch"]): row["valid_bacc"] for row in net.history
              if "valid_bacc" in row}
    return {"epoch": sel.best_epoch_, "valid_bacc": sel.best_score_,
            "from_epoch": sel.from_epoch + 1, "test900": test_metrics(data, y_pred, idx),
            "valid_bacc_by_epoch": scored}


def amp_dtype(args: argparse.Namespace) -> torch.dtype | None:
    return {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}[args.amp]


def make_net(
    args: argparse.Namespace,
    method: str,
    phase: str,
    counts: np.ndarray,
    *,
    max_epochs: int,
    trunk: bool = False,
    g: torch.nn.Module | None = None,
    seed: int = 0,
    select: tuple | None = None,
) -> M2MClassifier:
    """The net of ``method`` (``trunk=True``: the shared part before the deferral epoch)."""
    loss, _, sampling, reweight, generation = METHODS[method]
    never = args.epochs  # a start_epoch that is not reached within the run
    if trunk:
        sampling, reweight, generation = "shuffle", None, False
    start = {"deferred": args.start_epoch, "balanced": 0}.get(sampling, never)
    criterion, criterion_kwargs = torch.nn.CrossEntropyLoss, {}
    if loss == "focal":
        criterion, criterion_kwargs = FocalLoss, {"criterion__gamma": 1.0}
    elif loss == "ldam":
        criterion = LDAMLoss
        criterion_kwargs = {"criterion__class_counts": counts, "criterion__max_m": 0.5,
                            "criterion__s": 30.0}
    callbacks = [
        # lr 0.1 after a 5-epoch warm-up, x0.01 at 80% and again at 90% of the epochs
        ("lr", paper_lr_scheduler(max_epochs=args.epochs, warmup_epochs=args.warmup_epochs)),
        ("progress", Progress(phase, args.log_every, args.epochs)),
    ]
    if select is not None and not trunk:
        # the validation split of the authors' protocol, scored from epoch select[2] on
        callbacks.insert(1, ("select", ValidationSelection(*select)))
    if reweight is not None:
        rw_start = args.start_epoch if reweight.startswith("deferred") else 0
        kind = "inverse" if reweight == "inverse" else "effective"
        callbacks.insert(0, ("reweight", DeferredReweighting(
            start_epoch=rw_start, weights=kind, beta=0.9999)))
    return M2MClassifier(
        ResNet32,
        module__num_classes=10,
        module__head="cosine" if loss == "ldam" else "linear",
        criterion=criterion,
        **criterion_kwargs,
        g=g,
        generation=generation,
        balanced_batches=True,
        start_epoch=start,
        beta=args.beta,
        lam=args.lam,
        gamma=args.gamma,
        step_size=args.step_size,
        n_steps=args.n_steps,
        clip=(0.0, 1.0),
        translate_ahead=args.translate_ahead,
        translation_batch_size=args.translation_batch_size,
        amp_dtype=amp_dtype(args),
        channels_last=args.channels_last,
        cuda_graph=args.cuda_graph,
        random_state=seed,
        optimizer=torch.optim.SGD,
        lr=args.lr,
        optimizer__momentum=args.momentum,
        optimizer__weight_decay=args.weight_decay,
        batch_size=args.batch_size,
        max_epochs=max_epochs,
        device=args.device,
        iterator_train=DeviceLoader,
        iterator_train__dtype=torch.float32,
        iterator_train__transform=RandomCropFlip(padding=4),
        iterator_train__channels_last=args.channels_last,
        iterator_valid=DeviceLoader,
        iterator_valid__dtype=torch.float32,
        iterator_valid__batch_size=args.eval_batch_size,
        iterator_valid__channels_last=args.channels_last,
        callbacks=callbacks,
        verbose=0,
    )


# ----------------------------------------------------------------------------- phases
def phase_seed(seed: int, name: str) -> int:
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (2**31)


def validation_split(args: argparse.Namespace, data: dict, from_epoch: int) -> tuple | None:
    """``ValidationSelection``'s arguments under ``--select-epoch``, else ``None``."""
    if not args.select_epoch:
        return None
    val = data["val"]
    return data["X_test"][val], data["y_test"][val], from_epoch


def sync(args: argparse.Namespace) -> None:
    if str(args.device).startswith("cuda"):
        torch.cuda.synchronize()


def summarize_history(net: M2MClassifier, first_epoch: int) -> dict:
    """Sums over the epochs trained in this phase (history rows from ``first_epoch``)."""
    rows = net.history[first_epoch:]
    out = {"epochs": len(rows)}
    for key, name in [("dur", "epochs_s"), ("m2m_generation_time", "generation_s"),
                      ("m2m_translate_time", "translate_s")] + [(k, k[4:-5] + "_s")
                                                                for k in TIMING_KEYS]:
        out[name] = float(sum(r[key] for r in rows))
    out["other_s"] = out["epochs_s"] - out["data_s"] - out["step_s"] - out["generation_s"]
    images = sum(b["train_batch_size"] for r in rows for b in r["batches"])
    out["images"] = int(images)
    out["images_per_s"] = images / out["epochs_s"] if out["epochs_s"] else None
    if any(r["m2m_active"] for r in rows) and net.generation:
        for key in ("m2m_targets", "m2m_translated", "m2m_accepted", "m2m_rejected_gamma",
                    "m2m_rejected_beta", "m2m_no_source"):
            out[key[4:]] = int(sum(r[key] for r in rows))
    graphed = getattr(net, "_graphed_forward_", None)
    if net.cuda_graph:
        out["cuda_graph"] = {
            "captured": 0 if graphed is None else graphed.n_captured_,
            "replayed_steps": 0 if graphed is None else graphed.n_replayed_,
            "failed": None if graphed is None else graphed.failed_,
        }
    return out


def test_metrics(data: dict, y_pred: np.ndarray, idx: np.ndarray | None = None) -> dict:
    """The reported metrics of ``y_pred`` against the test labels (``idx``: a subset)."""
    y_true = data["y_test"] if idx is None else data["y_test"][idx]
    rep = imbalance_report(y_true, y_pred, data["y"])
    keep = ("balanced_accuracy", "gmean", "major_acc", "minor_acc", "accuracy",
            "per_class_recall")
    return {k: rep[k] for k in keep}


def evaluate(net: M2MClassifier, data: dict) -> dict:
    """Final-epoch metrics, plus those at the validation-selected epoch if tracked."""
    y_pred = net.predict(data["X_test"])
    idx = data["test900"]
    out = {"test": test_metrics(data, y_pred),
           "test900": test_metrics(data, y_pred[idx], idx)}
    selected = selected_metrics(net, data)
    if selected is not None:
        out["selected"] = selected
    return out


def timed_evaluate(net: M2MClassifier, data: dict) -> tuple[dict, float]:
    start = time.time()
    metrics = evaluate(net, data)
    return metrics, time.time() - start


class Cache:
    """Files under ``--cache-dir`` (or a temporary folder), keyed by configuration."""

    def __init__(self, root: str | None) -> None:
        self._tmp = None if root else tempfile.TemporaryDirectory(prefix="cifar_lt_")
        self.root = Path(root if root else self._tmp.name)
        self.persistent = root is not None
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, name: str, key: str) -> Path:
        return self.root / f"{name}-{key}"

    def read_json(self, name: str, key: str) -> dict | None:
        p = self.path(name, key).with_suffix(".json")
        return json.loads(p.read_text()) if self.persistent and p.exists() else None

    def write_json(self, name: str, key: str, obj: dict) -> None:
        p = self.path(name, key).with_suffix(".json")
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(obj, indent=1))
        os.replace(tmp, p)


def config_key(args: argparse.Namespace, data: dict, *extra) -> str:
    fields = {
        "ratio": args.imbalance_ratio, "epochs": args.epochs, "start": args.start_epoch,
        "warmup": args.warmup_epochs, "batch": args.batch_size, "lr": args.lr,
        "momentum": args.momentum, "wd": args.weight_decay, "seed": args.seed,
        "amp": args.amp, "smoke": args.smoke, "n": int(len(data["y"])), "extra": extra,
    }
    if args.select_epoch and extra[:1] != ("trunk",):
        # only then (and not for trunks, which are never scored): keys of runs without
        # selection stay as they were
        fields["select"] = True
    return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def cached_g(cache: Cache, key: str) -> tuple[dict, dict] | None:
    """g's weights and phase record from the cache, if both are there."""
    weights = cache.path("g", key).with_suffix(".pt")
    record = cache.read_json("g", key)
    if record is None or not weights.exists():
        return None
    print(f"[g] cached: {weights}", flush=True)
    return torch.load(weights, map_location="cpu"), {**record, "cached": True}


def train_g(args, data, cache: Cache, cached_only: bool = False) -> tuple[dict, dict] | None:
    """g = ERM for the full schedule; returns (state_dict, phase record)."""
    key = config_key(args, data, "g")
    weights = cache.path("g", key).with_suffix(".pt")
    done = cached_g(cache, key)
    if done is None and args.select_epoch:
        # Scoring the validation split does not change training, so a g cached by a run
        # without --select-epoch has the same weights: reuse it (device time is scarce);
        # only ERM's validation-selected epoch is then unknown.
        plain = argparse.Namespace(**{**vars(args), "select_epoch": False})
        done = cached_g(cache, config_key(plain, data, "g"))
        if done is not None:
            print("[g] that g was trained without --select-epoch (same weights): ERM has "
                  "no validation-selected epoch; delete it to retrain", flush=True)
    if done is not None:
        return done
    if cached_only:
        return None
    seed = phase_seed(args.seed, "g")
    torch.manual_seed(seed)
    net = make_net(args, "erm", "g", data["counts"], max_epochs=args.epochs, seed=seed,
                   select=validation_split(args, data, 0))
    sync(args)
    start = time.time()
    net.fit(data["X"], data["y"])
    sync(args)
    end = time.time()
    metrics, eval_s = timed_evaluate(net, data)
    record = {
        "phase": "g", "start_unix": start, "end_unix": end, "wall_s": end - start,
        "train": summarize_history(net, 0), "metrics": metrics, "eval_s": eval_s,
    }
    state = {k: v.detach().cpu() for k, v in net.module_.state_dict().items()}
    tmp = weights.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, weights)
    cache.write_json("g", key, record)
    bacc = record["metrics"]["test"]["balanced_accuracy"]
    print(f"[g] done in {end - start:.1f}s: bACC {bacc:.4f}", flush=True)
    return state, {**record, "cached": False}


def train_trunk(args, data, cache: Cache, loss: str,
                cached_only: bool = False) -> tuple[Path, dict] | None:
    """f from scratch until the deferral epoch; saved with skorch's save_params."""
    key = config_key(args, data, "trunk", loss)
    folder = cache.path(f"trunk-{loss}", key)
    record = cache.read_json(f"trunk-{loss}", key)
    if record is not None and (folder / "history.json").exists():
        print(f"[trunk-{loss}] cached: {folder}", flush=True)
        return folder, {**record, "cached": True}
    if cached_only:
        return None
    seed = phase_seed(args.seed, f"trunk-{loss}")
    torch.manual_seed(seed)
    method = {"ce": "drs", "ldam": "ldam"}[loss]
    net = make_net(args, method, f"trunk-{loss}", data["counts"],
                   max_epochs=args.start_epoch, trunk=True, seed=seed)
    sync(args)
    start = time.time()
    net.fit(data["X"], data["y"])
    sync(args)
    end = time.time()
    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    net.save_params(f_params=tmp / "params.pt", f_optimizer=tmp / "optimizer.pt",
                    f_history=tmp / "history.json")
    if folder.exists():
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
    os.replace(tmp, folder)
    record = {"phase": f"trunk-{loss}", "start_unix": start, "end_unix": end,
              "wall_s": end - start, "train": summarize_history(net, 0)}
    cache.write_json(f"trunk-{loss}", key, record)
    print(f"[trunk-{loss}] done in {end - start:.1f}s (epochs 0-{args.start_epoch - 1})",
          flush=True)
    return folder, {**record, "cached": False}


def g_module(state: dict) -> torch.nn.Module:
    g = ResNet32(num_classes=10)
    g.load_state_dict(state)
    return g.eval()


def run_method(args, data, cache: Cache, method: str, g_state: dict | None,
               trunks: dict, cached_only: bool = False) -> dict | None:
    loss, trunk, sampling, _, generation = METHODS[method]
    key = config_key(args, data, "method", method, args.beta, args.lam, args.gamma,
                     args.step_size, args.n_steps, args.translate_ahead)
    record = cache.read_json(f"result-{method}", key)
    if record is not None:
        print(f"[{method}] cached result", flush=True)
        return {**record, "cached": True}
    if cached_only:
        return None
    seed = phase_seed(args.seed, method)
    torch.manual_seed(seed)
    g = g_module(g_state) if generation else None
    X, y = data["X"], data["y"]
    if sampling == "smote":
        X, y = smote(X, y, seed)
    if trunk is None:
        net = make_net(args, method, method, data["counts"], max_epochs=args.epochs, g=g,
                       seed=seed, select=validation_split(args, data, 0))
        first = 0
        sync(args)
        start = time.time()
        net.fit(X, y)
    else:
        folder = trunks[trunk]
        net = make_net(args, method, method, data["counts"],
                       max_epochs=args.epochs - args.start_epoch, g=g, seed=seed,
                       select=validation_split(args, data, args.start_epoch))
        net.initialize()
        net.load_params(f_params=folder / "params.pt", f_optimizer=folder / "optimizer.pt",
                        f_history=folder / "history.json")
        first = len(net.history)
        sync(args)
        start = time.time()
        net.partial_fit(X, y)
    sync(args)
    end = time.time()
    metrics, eval_s = timed_evaluate(net, data)
    record = {
        "phase": method, "start_unix": start, "end_unix": end, "wall_s": end - start,
        "from_trunk": trunk, "first_epoch": first,
        "train": summarize_history(net, first), "metrics": metrics, "eval_s": eval_s,
    }
    cache.write_json(f"result-{method}", key, record)
    print(f"[{method}] done in {end - start:.1f}s: bACC "
          f"{record['metrics']['test']['balanced_accuracy']:.4f}", flush=True)
    return {**record, "cached": False}


def smote(X: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """SMOTE on the flattened pixels in [0, 1] (float32 images out)."""
    from imblearn.over_sampling import SMOTE

    k = int(min(5, np.bincount(y).min() - 1))
    flat = X.reshape(len(X), -1).astype(np.float32) / 255.0
    X_res, y_res = SMOTE(k_neighbors=k, random_state=seed).fit_resample(flat, y)
    return X_res.reshape(-1, *X.shape[1:]).astype(np.float32), y_res


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.time()
    data = load_data(args)
    print(f"data: {len(data['y'])} training images, per class {data['counts'].tolist()}; "
          f"{len(data['y_test'])} test images ({time.time() - t0:.1f}s)", flush=True)
    cache = Cache(args.cache_dir)
    needs_g = any(m == "erm" or METHODS[m][4] for m in args.methods)
    trunk_losses = list(dict.fromkeys(METHODS[m][1] for m in args.methods if METHODS[m][1]))
    phases, results, missing = {}, {}, []
    report_only = args.only == "report"
    # --only methods never trains g or a trunk: a missing one is reported, not retrained
    # (two parallel processes would otherwise both train the same trunk).
    cached_only = args.only in ("methods", "report")
    g_state = None
    if args.only in (None, "g", "methods", "report") and needs_g:
        done = train_g(args, data, cache, cached_only=cached_only)
        if done is None:
            missing.append("g")
        else:
            g_state, phases["g"] = done
            if "erm" in args.methods:
                results["erm"] = phases["g"]["metrics"]
    trunks = {}
    if args.only in (None, "trunk", "methods", "report"):
        for loss in trunk_losses:
            done = train_trunk(args, data, cache, loss, cached_only=cached_only)
            if done is None:
                missing.append(f"trunk-{loss}")
            else:
                trunks[loss], phases[f"trunk-{loss}"] = done
    if args.only in (None, "methods", "report"):
        for method in args.methods:
            if method == "erm":
                continue
            prerequisites = (METHODS[method][4] and g_state is None) or (
                METHODS[method][1] is not None and METHODS[method][1] not in trunks)
            if prerequisites and not report_only:
                print(f"[{method}] skipped: g or its trunk is not in the cache", flush=True)
                missing.append(method)
                continue
            done = run_method(args, data, cache, method, g_state, trunks,
                              cached_only=report_only)
            if done is None:
                missing.append(method)
            else:
                phases[method] = done
                results[method] = done["metrics"]
    report = build_report(args, data, phases, results, time.time() - t0)
    if missing:
        report["missing"] = missing
        print(f"not in the cache (not trained): {', '.join(missing)}", flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=1))
        print(f"wrote {args.out}", flush=True)
    print_summary(report)
    return report


#: An idle gap this long between phases (none of them running) means they come from
#: different runs, e.g. g and the trunk from a cache carried over from an earlier session.
RUN_GAP_S = 600.0


def split_runs(phases: list[dict]) -> list[list[dict]]:
    """Group phase records into runs, in time order (see :data:`RUN_GAP_S`)."""
    runs: list[list[dict]] = []
    end = -math.inf
    for p in sorted(phases, key=lambda p: p["start_unix"]):
        if p["start_unix"] - end > RUN_GAP_S:
            runs.append([])
        runs[-1].append(p)
        end = max(end, p["end_unix"])
    return runs


def span_s(phases: list[dict]) -> float:
    if not phases:
        return 0.0
    return max(p["end_unix"] for p in phases) - min(p["start_unix"] for p in phases)


def build_report(args, data, phases, results, total_s) -> dict:
    fresh = [p for p in phases.values() if not p.get("cached")]
    every = list(phases.values())
    runs = split_runs(every)
    # one span for g + f only when every phase ran in one run; else it would count the
    # time between the runs
    span = span_s(every) if len(runs) <= 1 else None
    report = {
        "config": {k: v for k, v in vars(args).items() if k != "methods"},
        "methods": args.methods,
        "environment": {
            "torch": torch.__version__, "python": platform.python_version(),
            "device": torch.cuda.get_device_name() if str(args.device).startswith("cuda")
            else platform.processor() or platform.machine(),
        },
        "data": {"dir": data["files"], "train_counts": data["counts"].tolist(),
                 "n_test": int(len(data["y_test"])), "n_test900": int(len(data["test900"]))},
        "phases": phases,
        "results": results,
        "wall_s": {
            "script": total_s,
            "phases_sum": sum(p["wall_s"] for p in every),
            "phases_span": span,
            "runs": len(runs),
            "phases_span_last_run": span_s(runs[-1]) if runs else 0.0,
            "trained_now_sum": sum(p["wall_s"] for p in fresh),
        },
        "paper": {m: {"bacc": v[0], "gm": v[1]}
                  for m, v in PAPER.get(args.imbalance_ratio, {}).items() if m in args.methods},
        "plain_loop_h100": PLAIN_LOOP_H100,
    }
    bacc = {m: 100 * r["test"]["balanced_accuracy"] for m, r in results.items()}
    if args.imbalance_ratio == 100 and not args.smoke and {"erm", "drs", "m2m"} <= set(bacc):
        report["checks"] = {
            "m2m_bacc_ge_78": bacc["m2m"] >= 78.0,
            "m2m_minus_drs_ge_2": bacc["m2m"] - bacc["drs"] >= 2.0,
            "erm_within_68.7_pm_1.5": abs(bacc["erm"] - 68.7) <= 1.5,
        }
        if span is not None:
            report["checks"]["g_plus_f_under_360s"] = span < 360.0
        sel = results["m2m"].get("selected")
        if sel is not None:
            report["checks"]["m2m_selected_epoch_test900_bacc_ge_78"] = (
                100 * sel["test900"]["balanced_accuracy"] >= 78.0)
    return report


def print_summary(report: dict) -> None:
    print("method      bACC    GM      major   minor   | 900/class bACC | phase wall")
    for m, r in report["results"].items():
        t, s = r["test"], r["test900"]
        wall = report["phases"].get("g" if m == "erm" else m, {}).get("wall_s", float("nan"))
        print(f"{m:10s}  {100 * t['balanced_accuracy']:6.2f}  {100 * t['gmean']:6.2f}  "
              f"{100 * t['major_acc']:6.2f}  {100 * t['minor_acc']:6.2f}  | "
              f"{100 * s['balanced_accuracy']:6.2f}         | {wall:7.1f}s")
    for m, r in report["results"].items():
        if "selected" in r:
            sel = r["selected"]
            print(f"{m:10s}  validation-selected epoch {sel['epoch']} (valid bACC "
                  f"{100 * sel['valid_bacc']:.2f}): 900/class bACC "
                  f"{100 * sel['test900']['balanced_accuracy']:.2f}")
    w = report["wall_s"]
    span = ("{:.1f}s".format(w["phases_span"]) if w["phases_span"] is not None else
            f"- (phases from {w['runs']} runs; the last run's {w['phases_span_last_run']:.1f}s)")
    print(f"wall: phases sum {w['phases_sum']:.1f}s, span {span}, script {w['script']:.1f}s")
    if "checks" in report:
        print("checks:", json.dumps(report["checks"]))


if __name__ == "__main__":
    main(sys.argv[1:])
