"""Does bf16 change M2m on CIFAR-LT-10? float32 against bf16 on the GPU run's own g and f.

The GPU reproduction (``benchmarks/gpu/run_cifar_lt.sh``) trains, evaluates and
translates under bf16 autocast. This script asks, on the CPU, whether that precision
choice changes what M2m does, using the networks that run produced (its cache, returned in
``logs.tar.gz``): ``g`` (ERM, 200 epochs) and ``f`` at epoch 160 (the ERM trunk the DRS
and M2m branches start from).

1. **Evaluation**: balanced accuracy of ``g`` and ``f`` on the full test set in float32
   and under bf16 autocast, and the share of test images whose predicted class differs.
2. **Translation**: class-balanced, augmented training batches of 128 (the M2m phase's
   batches), the paper's batch-wise plan (targets, seeds, the beta draw) made once, then
   the survivors translated twice with the same random starts, in float32 and in bf16
   (``translate(..., amp_dtype=torch.bfloat16)``, as ``M2MClassifier(amp_dtype=...)``
   does). Reported: the share passing ``gamma`` in each precision, how often the two
   accept/reject decisions agree, how many bf16-accepted samples ``g`` in float32 would
   reject, and the distance between the two ``x*`` relative to the distance moved.

Usage (the cache folder holds ``g-*.pt`` and ``trunk-ce-*/params.pt``)::

    mkdir -p /tmp/s0 && tar xzf logs.tar.gz -C /tmp/s0
    python -m benchmarks.cifar_lt_precision --cache seed0=/tmp/s0/cache --out benchmarks/results
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score

from benchmarks.cifar_lt.methods import add_m2m_arguments
from benchmarks.cifar_lt.phases import load_cached_networks
from benchmarks.compare.report import save_json
from benchmarks.datasets import load_cifar10_lt
from m2m_sampler.engine.generation import generate
from m2m_sampler.engine.planning import acceptance_probability, plan_batch_translations
from m2m_sampler.engine.rejection import passes_gamma
from m2m_sampler.engine.translation import target_probability
from m2m_sampler.longtail.augment import RandomCropFlip
from m2m_sampler.training.sampling import ClassBalancedSampler

PRECISIONS = {"float32": None, "bf16": torch.bfloat16}


@torch.no_grad()
def predict(net: torch.nn.Module, X: np.ndarray, amp_dtype, batch: int = 1000) -> np.ndarray:
    out = []
    for i in range(0, len(X), batch):
        x = torch.as_tensor(X[i:i + batch])
        if amp_dtype is None:
            logits = net(x)
        else:
            with torch.autocast("cpu", dtype=amp_dtype):
                logits = net(x)
        out.append(logits.float().argmax(1).numpy())
    return np.concatenate(out)


def evaluate(nets: dict, data) -> dict:
    rows = {}
    for name, net in nets.items():
        preds = {p: predict(net, data.X_test, dt) for p, dt in PRECISIONS.items()}
        rows[name] = {
            **{f"bacc_{p}": float(balanced_accuracy_score(data.y_test, pr))
               for p, pr in preds.items()},
            "share_predictions_differ": float(np.mean(preds["float32"] != preds["bf16"])),
        }
        print(f"[eval] {name}: {rows[name]}", flush=True)
    return rows


def balanced_batches(data, n_batches: int, batch_size: int, seed: int):
    """Class-balanced, augmented batches: the M2m phase's sampler and augmentation."""
    sampler = ClassBalancedSampler(data.y_train, num_samples=n_batches * batch_size,
                                   generator=torch.Generator().manual_seed(seed))
    augment = RandomCropFlip(padding=4, generator=torch.Generator().manual_seed(seed))
    for rows in sampler.indices().view(n_batches, batch_size).numpy():
        x = augment(torch.as_tensor(data.X_train[rows]))
        yield x, torch.as_tensor(data.y_train[rows])


def translation_study(g, f, data, args) -> dict:
    counts = torch.as_tensor(data.counts)
    accept = torch.as_tensor(acceptance_probability(data.counts, args.beta))
    plan_gen = torch.Generator().manual_seed(args.seed)
    stats = {p: {"seconds": 0.0, "passed_gamma": 0} for p in PRECISIONS}
    n_entries = n_targets = n_translated = 0
    agree = bf16_fails_in_fp32 = 0
    dist_between, dist_moved = [], []
    for b, (x, y) in enumerate(balanced_batches(data, args.n_batches, args.batch_size,
                                               args.seed)):
        plan = plan_batch_translations(y, counts, args.beta, generator=plan_gen, accept=accept)
        n_entries += len(y)
        n_targets += plan.n_targets
        survived = plan.survived_beta
        n_translated += int(survived.sum())
        if not bool(survived.any()):
            continue
        x0, k = x[plan.source_pos[survived]], plan.target[survived]
        out = {}
        for p, dt in PRECISIONS.items():
            gen = generate(
                g, plan, x, f=f, lam=args.lam, gamma=args.gamma, step_size=args.step_size,
                n_steps=args.n_steps, clip=(0.0, 1.0),
                generator=torch.Generator().manual_seed(args.seed + b), amp_dtype=dt,
            )
            stats[p]["seconds"] += gen.seconds
            stats[p]["passed_gamma"] += gen.n_accepted
            out[p] = (gen.x_star, gen.passed_gamma)
        (x32, ok32), (x16, ok16) = out["float32"], out["bf16"]
        agree += int((ok32 == ok16).sum())
        p16_in_fp32 = target_probability(g, x16, k)
        bf16_fails_in_fp32 += int((ok16 & ~passes_gamma(p16_in_fp32, args.gamma)).sum())
        dist_between.append((x16 - x32).flatten(1).norm(dim=1))
        dist_moved.append((x32 - x0).flatten(1).norm(dim=1))
        print(f"[translate] batch {b + 1}/{args.n_batches}: {len(k)} translations, "
              f"passed gamma fp32 {int(ok32.sum())} bf16 {int(ok16.sum())}", flush=True)
    between, moved = torch.cat(dist_between), torch.cat(dist_moved)
    n = max(n_translated, 1)
    return {
        "entries": n_entries,
        "targets": int(n_targets),
        "translated": int(n_translated),
        **{f"share_passing_gamma_{p}": s["passed_gamma"] / n for p, s in stats.items()},
        **{f"translations_per_s_{p}": n / s["seconds"] for p, s in stats.items()},
        "share_decisions_agree": agree / n,
        "share_bf16_accepted_but_rejected_by_fp32_g": bf16_fails_in_fp32 / n,
        "mean_l2_between_fp32_and_bf16_x_star": float(between.mean()),
        "median_l2_between_fp32_and_bf16_x_star": float(between.median()),
        "mean_l2_moved_fp32": float(moved.mean()),
    }


def render(report: dict) -> str:
    meta = report["meta"]
    lines = [
        "# float32 against bf16 on the GPU run's CIFAR-LT-10 networks",
        "",
        f"`{meta['command']}` on {meta['machine']} ({meta['threads']} threads), torch "
        f"{meta['torch']}, {meta['timestamp']}. {meta['n_batches']} class-balanced, "
        f"augmented batches of {meta['batch_size']}; beta {meta['beta']}, lambda "
        f"{meta['lam']}, gamma {meta['gamma']}, step {meta['step_size']}, "
        f"{meta['n_steps']} steps; f = the epoch-160 trunk.",
        "",
        f"Evaluation on {meta['test_images']:,} test images (balanced accuracy, %):",
        "",
        "| run | network | float32 | bf16 | bf16 on the GPU (run's report) | predictions "
        "that differ |",
        "|---|---|---|---|---|---|",
    ]
    for run, r in report["runs"].items():
        for name, e in r["evaluation"].items():
            gpu = r["networks"].get("g_gpu_test_bacc") if name == "g" else None
            gpu_txt = f"{100 * gpu:.2f}" if gpu is not None else "-"
            lines.append(
                f"| {run} | {name} | {100 * e['bacc_float32']:.2f} | {100 * e['bacc_bf16']:.2f}"
                f" | {gpu_txt} | {100 * e['share_predictions_differ']:.2f}% |"
            )
    lines += [
        "",
        "Translation (the same plan and random starts in both precisions):",
        "",
        "| run | translated | pass gamma, float32 | pass gamma, bf16 | same decision | "
        "bf16-accepted, rejected by float32 g | L2(x*_fp32, x*_bf16): mean / median | "
        "L2 moved (fp32) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run, r in report["runs"].items():
        t = r["translation"]
        lines.append(
            f"| {run} | {t['translated']} | {100 * t['share_passing_gamma_float32']:.1f}% | "
            f"{100 * t['share_passing_gamma_bf16']:.1f}% | "
            f"{100 * t['share_decisions_agree']:.1f}% | "
            f"{100 * t['share_bf16_accepted_but_rejected_by_fp32_g']:.1f}% | "
            f"{t['mean_l2_between_fp32_and_bf16_x_star']:.3f} / "
            f"{t['median_l2_between_fp32_and_bf16_x_star']:.3f} | "
            f"{t['mean_l2_moved_fp32']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", action="append", required=True,
                        help="NAME=FOLDER of a GPU run's cache (repeatable)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=None, help="folder for cifar_lt_precision.{json,md}")
    parser.add_argument("--n-batches", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--test-subset", type=int, default=None,
                        help="evaluate on the first N test images only (smoke runs)")
    add_m2m_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cached = {}  # every cache is checked before the data are read
    for spec in args.cache:
        name, _, folder = spec.rpartition("=")
        try:
            cached[name or Path(folder).parent.name] = load_cached_networks(Path(folder))
        except FileNotFoundError as exc:
            raise SystemExit(str(exc)) from None
    data = load_cifar10_lt(100, data_dir=args.data_dir)
    if args.test_subset:
        data.X_test, data.y_test = data.X_test[:args.test_subset], data.y_test[:args.test_subset]
    runs = {}
    for name, (g, f, networks) in cached.items():
        runs[name] = {
            "networks": networks,
            "evaluation": evaluate({"g": g, "f (epoch 160)": f}, data),
            "translation": translation_study(g, f, data, args),
        }
        print(f"[{name}] translation: {runs[name]['translation']}", flush=True)
    report = {
        "meta": {
            "command": "python " + " ".join([sys.argv[0], *(argv or sys.argv[1:])]),
            "machine": platform.platform(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "test_images": int(len(data.y_test)),
            **{k: getattr(args, k) for k in ("n_batches", "batch_size", "beta", "lam",
                                             "gamma", "step_size", "n_steps", "seed")},
        },
        "runs": runs,
    }
    text = render(report)
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        save_json(out / "cifar_lt_precision.json", report, indent=2)
        (out / "cifar_lt_precision.md").write_text(text)
        print(f"wrote {out / 'cifar_lt_precision'}.json and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
