"""Golden outputs of the public API, recorded before a refactoring and checked after it.

A refactoring changes no number. This script runs a fixed set of calls through the
public API on the CPU (one torch thread) and either records their outputs or compares
them with the recording:

* ``M2MOverSampler`` on digits-LT: ``g=None`` (the sampler's own g); a given g and f with
  clipping; a small convolutional g on 1x8x8 images (``input_shape``);
* ``M2MClassifier`` on digits-LT: ``g=None`` (ERM g trained in fit) with generation from
  epoch 6; a given g with ``translate_ahead=3`` and ``lam=0``; the DRS baseline
  (``generation=False``);
* with ``--bench``, the README's main job (``python -m benchmarks.compare``): every
  confusion matrix of its ``results.json``.

Usage::

    python tools/golden_outputs.py record [--bench]   # writes tests/golden/*.npz
    python tools/golden_outputs.py check [--bench]
    python tools/golden_outputs.py record --cpu-kind avx512-epyc   # see below

``check`` prints, per output, whether it is bit-identical and the largest absolute
difference; it exits 1 if any output differs by more than ``--atol`` (default 0: bit
identity). ``tests/test_golden.py`` runs the same comparison (without ``--bench``).

The same code gives float round-off that differs between kinds of CPU, and the
translation with the sampler's own ``g`` amplifies it (``sampler_own_g/X`` differs by
0.78 on an AVX-512 AMD EPYC, and 0.30 there in a process started with
``OMP_NUM_THREADS=1``: hence the variants ``avx512-epyc`` and ``avx512-epyc-omp1``,
recorded 2026-12-02 with library code whose numbers are those of the recording).
``record --cpu-kind NAME``, run with unchanged code on
another kind of CPU, keeps the recording and adds ``golden_outputs.NAME.npz`` with the
outputs that differ there by more than 1e-6; ``check`` and the test compare with the
recording and with each such variant, and pass if one matches.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "golden_outputs.npz"
GOLDEN_BENCH = ROOT / "tests" / "golden" / "golden_bench.npz"

#: History columns renamed on purpose since the recording (recorded name -> name now):
#: "seed" now only means a random seed; a sample translated from is a "source".
RENAMED_COLUMNS: dict[str, str] = {"m2m_no_seed": "m2m_no_source"}

#: History columns compared (timings and wall times are not outputs).
HISTORY_COLUMNS = (
    "epoch",
    "train_loss",
    "m2m_active",
    "m2m_entries",
    "m2m_targets",
    "m2m_no_seed",
    "m2m_rejected_beta",
    "m2m_translated",
    "m2m_rejected_gamma",
    "m2m_accepted",
)


class SmallConv(torch.nn.Module):
    """A 1x8x8 image classifier (conv -> pool -> linear) for the image-shape case."""

    def __init__(self, n_classes: int = 10) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.head = torch.nn.Linear(8 * 4 * 4, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.nn.functional.max_pool2d(torch.relu(self.conv(x)), 2)
        return self.head(z.flatten(1))


def _history(net, prefix: str) -> dict[str, np.ndarray]:
    out = {}
    for col in HISTORY_COLUMNS:
        name = RENAMED_COLUMNS.get(col, col)
        try:
            values = net.history[:, name]
        except KeyError:
            continue
        out[f"{prefix}/history/{col}"] = np.asarray(values, dtype=np.float64)
    return out


def compute() -> dict[str, np.ndarray]:
    """Run every golden case; return named arrays."""
    from m2m_sampler import M2MClassifier, M2MOverSampler, NetClassifier
    from m2m_sampler.datasets import load_digits_lt
    from m2m_sampler.longtail.models import MLP
    from m2m_sampler.training.callbacks import DeferredResampling
    from m2m_sampler.training.sampling import ClassBalancedSampler

    torch.set_num_threads(1)
    X, y, X_test, y_test = load_digits_lt(imbalance_ratio=10, return_X_y=True)
    out: dict[str, np.ndarray] = {}

    def sampler_case(name, sampler, X_in):
        X_res, y_res = sampler.fit_resample(X_in, y)
        out[f"{name}/X"] = np.asarray(X_res)
        out[f"{name}/y"] = np.asarray(y_res)
        out[f"{name}/source_indices"] = np.asarray(sampler.source_indices_)
        out[f"{name}/is_translated"] = np.asarray(sampler.is_translated_)

    # 1. The sampler's own g (an sklearn MLPClassifier pipeline), README settings.
    torch.manual_seed(0)
    sampler_case("sampler_own_g", M2MOverSampler(beta=0.99, step_size=0.5, random_state=0), X)

    # 2. A given g and f (skorch nets), lam term on, clip to the pixel box.
    def mlp_net(seed, epochs):
        torch.manual_seed(seed)
        return NetClassifier(
            MLP, module__n_features=64, module__n_classes=10, max_epochs=epochs, lr=0.05,
            optimizer=torch.optim.SGD, optimizer__momentum=0.9,
            iterator_train__shuffle=True, verbose=0,
        ).fit(X, y)

    g_net = mlp_net(1, 15)
    f_net = mlp_net(2, 5)
    out["g_net/proba"] = g_net.predict_proba(X_test)
    sampler_case(
        "sampler_g_f",
        M2MOverSampler(g_net, f=f_net, beta=0.9, lam=0.5, gamma=0.6, clip=(0, 1),
                       step_size=0.3, random_state=1),
        X,
    )

    # 3. Images: a small conv net as g, flattened rows with input_shape.
    torch.manual_seed(3)
    conv = NetClassifier(
        SmallConv, max_epochs=8, lr=0.05, optimizer=torch.optim.SGD,
        optimizer__momentum=0.9, iterator_train__shuffle=True, verbose=0,
    ).fit(X.reshape(-1, 1, 8, 8), y)
    sampler_case(
        "sampler_image",
        M2MOverSampler(conv.module_, beta=0.9, gamma=0.5, clip=(0, 1), step_size=0.3,
                       input_shape=(1, 8, 8), batch_size=100, random_state=2),
        X,
    )

    # 4. M2MClassifier, g=None: ERM g in fit, generation from epoch 6.
    torch.manual_seed(4)
    clf = M2MClassifier(
        MLP, module__n_features=64, module__n_classes=10, max_epochs=10, start_epoch=6,
        lr=0.05, optimizer=torch.optim.SGD, optimizer__momentum=0.9, batch_size=64,
        beta=0.9, gamma=0.6, step_size=0.3, clip=(0, 1), verbose=0, random_state=0,
    ).fit(X, y)
    out.update(_history(clf, "classifier_own_g"))
    out["classifier_own_g/proba"] = clf.predict_proba(X_test)

    # 5. M2MClassifier with a given g, translate_ahead=3, lam=0.
    torch.manual_seed(5)
    clf = M2MClassifier(
        MLP, g=g_net, module__n_features=64, module__n_classes=10, max_epochs=6,
        start_epoch=2, lr=0.05, optimizer=torch.optim.SGD, optimizer__momentum=0.9,
        batch_size=50, beta=0.95, lam=0.0, gamma=0.5, step_size=0.3, clip=(0, 1),
        translate_ahead=3, verbose=0, random_state=7,
    ).fit(X, y)
    out.update(_history(clf, "classifier_given_g"))
    out["classifier_given_g/proba"] = clf.predict_proba(X_test)

    # 6. The DRS baseline: a NetClassifier with the DeferredResampling callback.
    torch.manual_seed(6)
    drs = NetClassifier(
        MLP, module__n_features=64, module__n_classes=10, max_epochs=6, lr=0.05,
        optimizer=torch.optim.SGD, optimizer__momentum=0.9, batch_size=64,
        iterator_train__sampler=ClassBalancedSampler(),
        callbacks=[("drs", DeferredResampling(start_epoch=3))], verbose=0,
    ).fit(X, y)
    out.update(_history(drs, "drs"))
    out["drs/proba"] = drs.predict_proba(X_test)
    return out


def compare(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> list[tuple]:
    """Rows ``(name, status, max_abs_diff)`` for every recorded output."""
    rows = []
    for name in sorted(want):
        w = want[name]
        if name not in got:
            rows.append((name, "missing", float("nan")))
            continue
        g = got[name]
        if g.shape != w.shape:
            rows.append((name, f"shape {g.shape} != {w.shape}", float("nan")))
            continue
        if g.dtype.kind in "fc" or w.dtype.kind in "fc":
            diff = float(np.max(np.abs(g.astype(np.float64) - w.astype(np.float64)), initial=0))
            same = np.array_equal(g, w)
        else:
            same = np.array_equal(g, w)
            diff = 0.0 if same else float("inf")
        rows.append((name, "identical" if same else "differs", diff))
    return rows


def bench_matrices(doc: dict | None = None) -> dict[str, np.ndarray]:
    """Every confusion matrix of the main job's ``results.json`` (a fresh run if None).

    The committed ``benchmarks/results/digits_lt/results.json`` (2026-11-26) is not reproduced
    bit for bit on every machine (SMOTE/ADASYN neighbour ties and BLAS round-off differ
    between CPUs), so the golden copy is a run recorded on the checking machine's kind.
    """
    if doc is None:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [sys.executable, "-m", "benchmarks.compare", "--out", tmp, "--no-figures",
                 "--quiet"],
                check=True, cwd=ROOT,
            )
            doc = json.loads((Path(tmp) / "results.json").read_text())

    def matrices(doc):
        found = {}

        def walk(obj, path):
            if isinstance(obj, dict):
                for k, v in obj.items():
                    walk(v, f"{path}/{k}")
            elif isinstance(obj, list):
                if "confusion" in path.rsplit("/", 1)[-1]:
                    found[path] = np.asarray(obj)
                    return
                for i, v in enumerate(obj):
                    walk(v, f"{path}[{i}]")

        walk(doc, "bench")
        return found

    found = matrices(doc)
    if not found:
        raise SystemExit("no confusion matrices found in results.json")
    return found


#: Outputs further than this from the recording are "other CPU kind" overrides.
KIND_ATOL = 1e-6


def recordings() -> list[tuple[str, dict[str, np.ndarray]]]:
    """The recording, then the recording with each other CPU kind's overrides.

    ``tests/golden/golden_outputs.<kind>.npz`` holds only the outputs that, with the same
    code, differ on that kind of CPU by more than :data:`KIND_ATOL` (float round-off that
    the translation steps amplify); a check passes against any one of these.
    """
    main = dict(np.load(GOLDEN))
    out = [(GOLDEN.name, main)]
    for path in sorted(GOLDEN.parent.glob("golden_outputs.*.npz")):
        out.append((path.name, {**main, **dict(np.load(path))}))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["record", "check"])
    parser.add_argument("--bench", action="store_true", help="also re-run the main job")
    parser.add_argument("--atol", type=float, default=0.0)
    parser.add_argument(
        "--cpu-kind",
        default=None,
        help="with record: keep the recording and write golden_outputs.<kind>.npz with the "
        "outputs that differ from it on this CPU (same code, another kind of CPU)",
    )
    args = parser.parse_args(argv)
    if args.action == "record" and args.cpu_kind:
        got, main_rec = compute(), dict(np.load(GOLDEN))
        far = [n for n, st, d in compare(got, main_rec) if st != "identical" and not d <= KIND_ATOL]
        path = GOLDEN.with_name(f"golden_outputs.{args.cpu_kind}.npz")
        np.savez_compressed(path, **{n: got[n] for n in far})
        print(f"recorded {path.relative_to(ROOT)}: {far}")
        return 0
    if args.action == "record":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(GOLDEN, **compute())
        print(f"recorded {GOLDEN.relative_to(ROOT)}")
        if args.bench:
            np.savez_compressed(GOLDEN_BENCH, **bench_matrices())
            print(f"recorded {GOLDEN_BENCH.relative_to(ROOT)}")
        return 0
    got = compute()
    name, rows = min(
        ((n, compare(got, want)) for n, want in recordings()),
        key=lambda item: sum(st != "identical" and not d <= KIND_ATOL for _, st, d in item[1]),
    )
    print(f"closest recording: {name}")
    if args.bench:
        rows += compare(bench_matrices(), dict(np.load(GOLDEN_BENCH)))
    bad = 0
    for name, status, diff in rows:
        print(f"{status:>10}  max|diff|={diff:.3g}  {name}")
        bad += status != "identical" and not (status == "differs" and diff <= args.atol)
    print(f"{len(rows) - bad} of {len(rows)} outputs within atol={args.atol}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
