"""The phases of the reproduction (``g``, the trunks, the methods) and their cache.

1. ``g`` (:func:`train_g`): a ResNet-32 trained by plain ERM for the whole schedule; it
   is also the ERM result of Table 1.
2. A trunk per loss (:func:`train_trunk`): a second network trained from scratch with that
   loss and no re-balancing until the deferral epoch, saved with skorch's
   ``save_params`` (weights, optimizer state, history).
3. Each method (:func:`run_method`): a method with a trunk builds a new net with its own
   settings, ``initialize()``-s it, loads the trunk with ``load_params`` and trains on with
   ``partial_fit`` (the learning-rate schedule, the epoch count and the sampler pick up at
   the deferral epoch); a method without one trains from scratch.

Every phase re-seeds torch from the run's seed and its name
(:func:`~benchmarks.seeding.phase_seed`), is timed with the device synchronised
(:class:`~benchmarks.timing.Stopwatch`), and leaves its weights or result in the
:class:`Cache`, keyed by configuration (:func:`config_key`), so that phases can run as
separate, parallel processes (``--only``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch

from benchmarks.cifar_lt.evaluation import timed_evaluate
from benchmarks.cifar_lt.methods import METHODS, make_net, smote, trunk_of
from benchmarks.cifar_lt.selection import ValidationSelection
from benchmarks.seeding import phase_seed
from benchmarks.timing import Stopwatch
from m2m_sampler.classifier import TIMING_KEYS, M2MClassifier
from m2m_sampler.longtail.models import ResNet32

__all__ = [
    "Cache",
    "config_key",
    "load_cached_networks",
    "run_method",
    "summarize_history",
    "train_g",
    "train_trunk",
]


class Cache:
    """Files under ``--cache-dir`` (or a temporary folder), keyed by configuration.

    Phase ``name`` with key ``key`` lives at ``<root>/<name>-<key>`` plus a suffix:
    ``g-<key>.pt`` (weights) and ``.json`` (record), ``trunk-<loss>-<key>/`` (the
    ``save_params`` files) and ``.json``, ``result-<method>-<key>.json``.

    Parameters
    ----------
    root : str or None
        None: a temporary folder, never read back.
    """

    def __init__(self, root: str | None) -> None:
        self._tmp = None if root else tempfile.TemporaryDirectory(prefix="cifar_lt_")
        self.root = Path(root if root else self._tmp.name)
        self.persistent = root is not None
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, name: str, key: str) -> Path:
        """Path of phase ``name`` under ``key``, without suffix."""
        return self.root / f"{name}-{key}"

    def read_json(self, name: str, key: str) -> dict | None:
        """The phase's JSON record, if the cache is persistent and holds it."""
        p = self.path(name, key).with_suffix(".json")
        return json.loads(p.read_text()) if self.persistent and p.exists() else None

    def write_json(self, name: str, key: str, obj: dict) -> None:
        """Write the phase's JSON record (atomically)."""
        p = self.path(name, key).with_suffix(".json")
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(obj, indent=1))
        os.replace(tmp, p)


def config_key(args: argparse.Namespace, data: dict, *extra) -> str:
    """12 hex digits naming a phase's configuration (``extra``: the phase's own fields)."""
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


def validation_selection(
    args: argparse.Namespace, data: dict, from_epoch: int
) -> ValidationSelection | None:
    """The ``select`` callback under ``--select-epoch`` (scoring from ``from_epoch``)."""
    if not args.select_epoch:
        return None
    val = data["val"]
    return ValidationSelection(data["X_test"][val], data["y_test"][val], from_epoch)


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
    graphed = getattr(net, "graphed_forward_", None)
    if net.cuda_graph:
        out["cuda_graph"] = {
            "captured": 0 if graphed is None else graphed.n_captured_,
            "replayed_steps": 0 if graphed is None else graphed.n_replayed_,
            "failed": None if graphed is None else graphed.failed_,
        }
    return out


def _cached_g(cache: Cache, key: str) -> tuple[dict, dict] | None:
    """g's weights and phase record from the cache, if both are there."""
    weights = cache.path("g", key).with_suffix(".pt")
    record = cache.read_json("g", key)
    if record is None or not weights.exists():
        return None
    print(f"[g] cached: {weights}", flush=True)
    return torch.load(weights, map_location="cpu"), {**record, "cached": True}


def train_g(args, data, cache: Cache, cached_only: bool = False) -> tuple[dict, dict] | None:
    """g = ERM for the full schedule; returns (state_dict, phase record).

    A ``g`` cached by a run without ``--select-epoch`` is reused under it (scoring the
    validation split does not change training: same weights; ERM then has no
    validation-selected epoch). ``cached_only``: None when it is not cached.
    """
    key = config_key(args, data, "g")
    weights = cache.path("g", key).with_suffix(".pt")
    done = _cached_g(cache, key)
    if done is None and args.select_epoch:
        plain = argparse.Namespace(**{**vars(args), "select_epoch": False})
        done = _cached_g(cache, config_key(plain, data, "g"))
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
                   select=validation_selection(args, data, 0))
    with Stopwatch(args.device) as watch:
        net.fit(data["X"], data["y"])
    metrics, eval_s = timed_evaluate(net, data)
    record = {
        "phase": "g", "start_unix": watch.start_unix, "end_unix": watch.end_unix,
        "wall_s": watch.seconds, "train": summarize_history(net, 0), "metrics": metrics,
        "eval_s": eval_s,
    }
    state = {k: v.detach().cpu() for k, v in net.module_.state_dict().items()}
    tmp = weights.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, weights)
    cache.write_json("g", key, record)
    bacc = record["metrics"]["test"]["balanced_accuracy"]
    print(f"[g] done in {watch.seconds:.1f}s: bACC {bacc:.4f}", flush=True)
    return state, {**record, "cached": False}


def train_trunk(args, data, cache: Cache, loss: str,
                cached_only: bool = False) -> tuple[Path, dict] | None:
    """The trunk of ``loss`` from scratch until the deferral epoch, saved with save_params.

    Returns (its folder, phase record); ``cached_only``: None when it is not cached.
    """
    name = f"trunk-{loss}"
    key = config_key(args, data, "trunk", loss)
    folder = cache.path(name, key)
    record = cache.read_json(name, key)
    if record is not None and (folder / "history.json").exists():
        print(f"[{name}] cached: {folder}", flush=True)
        return folder, {**record, "cached": True}
    if cached_only:
        return None
    seed = phase_seed(args.seed, name)
    torch.manual_seed(seed)
    net = make_net(args, next(m for m in METHODS if trunk_of(m) == loss), name, data["counts"],
                   max_epochs=args.start_epoch, trunk=True, seed=seed)
    with Stopwatch(args.device) as watch:
        net.fit(data["X"], data["y"])
    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    net.save_params(f_params=tmp / "params.pt", f_optimizer=tmp / "optimizer.pt",
                    f_history=tmp / "history.json")
    if folder.exists():
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
    os.replace(tmp, folder)
    record = {"phase": name, "start_unix": watch.start_unix, "end_unix": watch.end_unix,
              "wall_s": watch.seconds, "train": summarize_history(net, 0)}
    cache.write_json(name, key, record)
    print(f"[{name}] done in {watch.seconds:.1f}s (epochs 0-{args.start_epoch - 1})",
          flush=True)
    return folder, {**record, "cached": False}


def g_module(state: dict) -> torch.nn.Module:
    """A ResNet-32 in eval mode holding ``g``'s weights."""
    g = ResNet32(num_classes=10)
    g.load_state_dict(state)
    return g.eval()


def run_method(args, data, cache: Cache, method: str, g_state: dict | None,
               trunks: dict, cached_only: bool = False) -> dict | None:
    """Train ``method`` (from its trunk, or from scratch) and score it; its phase record.

    ``cached_only``: None when its result is not cached.
    """
    spec = METHODS[method]
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
    g = g_module(g_state) if spec.generation else None
    X, y = data["X"], data["y"]
    if spec.sampler == "smote":
        X, y = smote(X, y, seed)
    if trunk_of(method) is None:
        net = make_net(args, method, method, data["counts"], max_epochs=args.epochs, g=g,
                       seed=seed, select=validation_selection(args, data, 0))
        first = 0
        with Stopwatch(args.device) as watch:
            net.fit(X, y)
    else:
        folder = trunks[trunk_of(method)]
        net = make_net(args, method, method, data["counts"],
                       max_epochs=args.epochs - args.start_epoch, g=g, seed=seed,
                       select=validation_selection(args, data, args.start_epoch))
        net.initialize()
        net.load_params(f_params=folder / "params.pt", f_optimizer=folder / "optimizer.pt",
                        f_history=folder / "history.json")
        first = len(net.history)
        with Stopwatch(args.device) as watch:
            net.partial_fit(X, y)
    metrics, eval_s = timed_evaluate(net, data)
    record = {
        "phase": method, "start_unix": watch.start_unix, "end_unix": watch.end_unix,
        "wall_s": watch.seconds, "from_trunk": trunk_of(method), "first_epoch": first,
        "train": summarize_history(net, first), "metrics": metrics, "eval_s": eval_s,
    }
    cache.write_json(f"result-{method}", key, record)
    print(f"[{method}] done in {watch.seconds:.1f}s: bACC "
          f"{record['metrics']['test']['balanced_accuracy']:.4f}", flush=True)
    return {**record, "cached": False}


def load_cached_networks(folder: Path) -> tuple[torch.nn.Module, torch.nn.Module, dict]:
    """``g`` and the CE trunk ``f`` of one cache folder (a GPU run's), in eval mode.

    Parameters
    ----------
    folder : Path
        Holds exactly one ``g-*.pt`` and one ``trunk-ce-*/`` (as a run's
        ``--cache-dir`` does, or the ``cache/`` of a returned ``logs.tar.gz``).

    Returns
    -------
    g, f : torch.nn.Module
    record : dict
        The file names, their SHA-256 and, when ``g``'s record is there, the test bACC the
        run reported for ``g`` (``g_gpu_test_bacc``).

    Raises
    ------
    FileNotFoundError
        Without exactly one of each.
    """
    g_files = sorted(folder.glob("g-*.pt"))
    trunks = sorted(p for p in folder.glob("trunk-ce-*") if p.is_dir())
    if len(g_files) != 1 or len(trunks) != 1:
        raise FileNotFoundError(
            f"{folder}: expected one g-*.pt and one trunk-ce-*/ folder, found "
            f"{[p.name for p in g_files]} and {[p.name for p in trunks]}"
        )
    nets = []
    for path in (g_files[0], trunks[0] / "params.pt"):
        net = ResNet32(num_classes=10)
        net.load_state_dict(torch.load(path, map_location="cpu"))
        nets.append(net.eval())
    record = {
        "g": g_files[0].name,
        "trunk": trunks[0].name,
        "sha256": {
            str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in (g_files[0], trunks[0] / "params.pt")
        },
    }
    g_json = g_files[0].with_suffix(".json")
    if g_json.exists():
        record["g_gpu_test_bacc"] = json.loads(g_json.read_text())["metrics"]["test"][
            "balanced_accuracy"]
    return nets[0], nets[1], record
