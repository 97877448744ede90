"""Translation throughput of the M2m engine against the same model's training throughput.

For each model (an MLP on tabular data, a small CNN and the paper's ResNet-32 on 32x32
images) this measures, in one run on one machine:

* ``train``: samples/s of plain SGD steps (forward, backward, optimizer step) at the
  same batch size, model in train mode;
* ``translate``: seeds/s of :func:`m2m_sampler.translate` (``n_steps`` input-gradient
  steps plus the final forward of ``g``), without and with ``f``;
* ``ratio = translate x n_steps / train``: above 1, one translation step costs less
  than one training step per sample (the goals: >= 1.0 without f, >= 0.5 with f);
* ``sampler``: end-to-end ``M2MOverSampler.fit_resample`` (seeds/s of accepted and
  rejected translations, wall seconds), and imbalanced-learn's ``SMOTE`` wall time on
  the same data.

Usage (``python -m benchmarks.throughput`` is the same command line; its default
``--out`` is ``benchmarks/results`` of the working directory)::

    python -m benchmarks.throughput                      # CPU, writes benchmarks/results/
    python -m benchmarks.throughput --device cuda --out /tmp/gpu
    python -m benchmarks.throughput --device cuda --amp bf16 --channels-last --out /tmp/gpu

``--amp`` and ``--channels-last`` apply to both sides of the ratio (training steps under
the same autocast and memory format) and to the sampler (``M2MOverSampler(amp_dtype=...,
channels_last=...)``).

Timings on shared machines are noisy: compare the ratios of one run, not absolute
numbers across runs.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from imblearn.over_sampling import SMOTE
from torch import nn

from benchmarks.compare.report import pipe_table, save_json
from benchmarks.timing import Stopwatch
from m2m_sampler._torch_utils import resolve_device
from m2m_sampler.datasets import load_digits_lt
from m2m_sampler.engine.translation import translate
from m2m_sampler.longtail.models import MLP, ResNet32
from m2m_sampler.over_sampler import M2MOverSampler

AMP = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class SmallCNN(nn.Module):
    """Three conv-BN-ReLU blocks (32/64/128 channels), global pooling, linear head."""

    def __init__(self, n_classes: int = 10) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()
            )

        self.features = nn.Sequential(
            block(3, 32),
            nn.MaxPool2d(2),
            block(32, 64),
            nn.MaxPool2d(2),
            block(64, 128),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(128, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _autocast(device: torch.device, amp_dtype: torch.dtype | None):
    if amp_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=amp_dtype)


def train_throughput(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch: int,
    steps: int,
    amp_dtype: torch.dtype | None = None,
) -> float:
    """Samples/s of SGD steps (forward, backward, momentum step) at ``batch``."""
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=2e-4)
    n = x.shape[0]

    def step(i: int) -> None:
        idx = torch.arange(i * batch, (i + 1) * batch, device=x.device) % n
        opt.zero_grad(set_to_none=True)
        with _autocast(x.device, amp_dtype):
            logits = model(x[idx])
        nn.functional.cross_entropy(logits.float(), y[idx]).backward()
        opt.step()

    step(0)  # warm-up
    with Stopwatch(x.device) as watch:
        for i in range(steps):
            step(i + 1)
    return steps * batch / watch.seconds


def translate_throughput(
    g: nn.Module,
    f: nn.Module | None,
    x: torch.Tensor,
    n_classes: int,
    batch: int,
    n_steps: int,
    amp_dtype: torch.dtype | None = None,
) -> float:
    """Seeds/s of the engine (``n_steps`` steps plus the final forward of g)."""
    n = x.shape[0]
    gen = torch.Generator(device=x.device).manual_seed(0)
    k0 = torch.zeros(n, dtype=torch.long, device=x.device)
    k = torch.randint(1, n_classes, (n,), generator=gen, device=x.device)
    kw = dict(f=f, batch_size=batch, amp_dtype=amp_dtype)
    translate(g, x[:batch], k0[:batch], k[:batch], n_steps=1, **kw)  # warm-up
    with Stopwatch(x.device) as watch:
        translate(g, x, k0, k, n_steps=n_steps, generator=gen, **kw)
    return n / watch.seconds


def _bench_model(
    name: str,
    make,
    x: np.ndarray,
    y: np.ndarray,
    input_shape,
    *,
    device,
    batches,
    n_seeds,
    train_steps,
    n_steps,
    sampler_data,
    repeats: int = 3,
    amp_dtype: torch.dtype | None = None,
    channels_last: bool = False,
) -> dict:
    channels_last = channels_last and len(input_shape) == 3
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    def build() -> nn.Module:
        return make().to(device=device, memory_format=fmt)

    torch.manual_seed(0)
    g, f = build(), build()
    xt = torch.as_tensor(x[:n_seeds], dtype=torch.float32, device=device)
    xt = xt.reshape(-1, *input_shape).contiguous(memory_format=fmt)
    yt = torch.as_tensor(y[:n_seeds], dtype=torch.long, device=device)
    n_classes = int(y.max()) + 1
    rows = []
    for batch in batches:
        # Interleaved repeats, median of each: the three measurements of a round see the
        # same machine load, and the median drops rounds disturbed by other processes.
        rounds = []
        for _ in range(repeats):
            train = train_throughput(build(), xt, yt, batch, train_steps, amp_dtype)
            g.eval()
            f.eval()
            no_f = translate_throughput(g, None, xt, n_classes, batch, n_steps, amp_dtype)
            with_f = translate_throughput(g, f, xt, n_classes, batch, n_steps, amp_dtype)
            rounds.append((train, no_f, with_f))
        train, no_f, with_f = (float(np.median(v)) for v in zip(*rounds))
        rows.append({
            "batch_size": batch,
            "train_samples_per_s": round(train, 1),
            "translate_seeds_per_s_without_f": round(no_f, 1),
            "translate_seeds_per_s_with_f": round(with_f, 1),
            "ratio_without_f": round(no_f * n_steps / train, 3),
            "ratio_with_f": round(with_f * n_steps / train, 3),
            "rounds": [[round(v, 1) for v in r] for r in rounds],
        })
        print(f"[{name}] batch {batch}: train {train:.0f}/s, translate {no_f:.0f}/s "
              f"(with f {with_f:.0f}/s), ratio {rows[-1]['ratio_without_f']:.2f} / "
              f"{rows[-1]['ratio_with_f']:.2f}", flush=True)
    Xs, ys = sampler_data
    sampler = M2MOverSampler(
        g,
        f=f,
        input_shape=input_shape,
        batch_size=max(batches),
        device=str(device),
        amp_dtype=amp_dtype,
        channels_last=channels_last,
        random_state=0,
        beta=0.9,
    )
    with Stopwatch(device) as watch:
        X_res, _ = sampler.fit_resample(Xs, ys)
    wall = watch.seconds
    n_translated = sum(
        s["n_accepted"] + s["n_rejected_gamma"] for s in sampler.class_stats_.values()
    )
    with Stopwatch() as watch:
        SMOTE(random_state=0, k_neighbors=min(5, int(np.bincount(ys).min()) - 1)).fit_resample(
            Xs, ys
        )
    smote = watch.seconds
    sampler_row = {
        "n_samples_in": int(len(Xs)),
        "n_samples_added": int(len(X_res) - len(Xs)),
        "n_translated": int(n_translated),
        "translate_seconds": round(sampler.translation_time_, 3),
        "translated_per_s": round(n_translated / max(sampler.translation_time_, 1e-9), 1),
        "fit_resample_seconds": round(wall, 3),
        "smote_seconds": round(smote, 3),
    }
    print(f"[{name}] M2MOverSampler (with f): {sampler_row}", flush=True)
    return {
        "model": name,
        "input_shape": list(input_shape),
        "n_parameters": sum(p.numel() for p in g.parameters()),
        "n_seeds": int(xt.shape[0]),
        "rows": rows,
        "sampler": sampler_row,
    }


def _images(n: int, data_dir: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    try:
        from benchmarks.datasets import load_cifar10_lt

        d = load_cifar10_lt(100, data_dir=data_dir, flatten=True)
        return d.X_train[:n], d.y_train[:n], "CIFAR-LT-10 rho=100 (first rows)"
    except (FileNotFoundError, OSError):
        rng = np.random.RandomState(0)
        y = rng.randint(0, 10, n)
        return rng.rand(n, 3 * 32 * 32).astype(np.float32), y, "uniform random pixels"


def main(argv: list[str] | None = None, default_out: str = "benchmarks/results") -> int:
    """Measure every model and write ``throughput_<device>[_<amp>][_channels_last]``.

    Parameters
    ----------
    argv : list of str or None
        The options (None: ``sys.argv[1:]``).
    default_out : str, default="benchmarks/results"
        ``--out`` when not given.

    Returns
    -------
    int
        Exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=default_out)
    parser.add_argument("--n-steps", type=int, default=10)
    parser.add_argument("--batches", default="256,512")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument(
        "--repeats", type=int, default=3,
        help="interleaved rounds per measurement (the median is reported)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument(
        "--amp", choices=sorted(AMP), default="none",
        help="autocast dtype for training and translation (bf16 on GPUs)",
    )
    parser.add_argument(
        "--channels-last", action="store_true", help="channels_last models and image batches"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    batches = [int(b) for b in args.batches.split(",")]
    scale = 0.125 if args.quick else 1.0

    digits = load_digits_lt(10)
    X_tab = np.tile(digits.X_train, (8, 1))
    y_tab = np.tile(digits.y_train, 8)
    X_img, y_img, img_source = _images(
        int(2048 * scale) if device.type == "cpu" else 8192, args.data_dir
    )
    results = []
    amp_dtype = AMP[args.amp]
    common = dict(device=device, batches=batches, n_steps=args.n_steps, repeats=args.repeats,
                  amp_dtype=amp_dtype, channels_last=args.channels_last)
    results.append(
        _bench_model(
            "MLP(64-256-10) on digits",
            lambda: MLP(64, 10, hidden=(256,)),
            X_tab,
            y_tab,
            (64,),
            n_seeds=int(4096 * scale),
            train_steps=int(40 * scale) or 2,
            sampler_data=(digits.X_train, digits.y_train),
            **common,
        )
    )
    lt = np.concatenate([np.flatnonzero(y_img == c)[: max(2, 100 >> c)] for c in range(10)])
    cpu = device.type == "cpu"
    # name, model, (seeds, training steps) on the CPU before scaling
    for name, model, (cpu_seeds, cpu_steps) in [
        ("SmallCNN on 3x32x32", SmallCNN, (1024, 8)),
        ("ResNet-32 on 3x32x32", ResNet32, (512, 4)),
    ]:
        results.append(
            _bench_model(
                name,
                model,
                X_img,
                y_img,
                (3, 32, 32),
                n_seeds=int(cpu_seeds * scale) if cpu else 8192,
                train_steps=max(2, int(cpu_steps * scale)) if cpu else 40,
                sampler_data=(X_img[lt], y_img[lt]),
                **common,
            )
        )

    meta = {
        "command": "python " + " ".join([sys.argv[0], *(argv or sys.argv[1:])]),
        "device": str(device),
        "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda_device": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "n_steps": args.n_steps,
        "amp": args.amp,
        "channels_last": args.channels_last,
        "image_data": img_source,
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = f"throughput_{device.type}"
    tag += "" if args.amp == "none" else f"_{args.amp}"
    tag += "_channels_last" if args.channels_last else ""
    label = [device.type] + ([args.amp] if args.amp != "none" else [])
    label += ["channels_last"] if args.channels_last else []
    save_json(out / f"{tag}.json", {"meta": meta, "results": results}, indent=2)
    lines = [
        f"# Translation throughput ({', '.join(label)})",
        "",
        f"`{meta['command']}` on {meta['machine']} ({meta['processor']}, "
        f"{meta['cpu_count']} threads), torch {meta['torch']}, "
        f"{meta['timestamp']}. T = {args.n_steps} steps, autocast {args.amp}, "
        f"channels_last {args.channels_last}. Images: {img_source}.",
        "",
        "ratio = translated seeds/s x T / training samples/s (goal: >= 1.0 without f, "
        ">= 0.5 with f). Each figure is the median of interleaved rounds (all rounds are in "
        "the JSON).",
        "",
    ]
    lines += pipe_table(
        ["model", "batch", "train samples/s", "translate seeds/s (no f)", "ratio (no f)",
         "translate seeds/s (with f)", "ratio (with f)"],
        [[r["model"], row["batch_size"], f"{row['train_samples_per_s']:.0f}",
          f"{row['translate_seeds_per_s_without_f']:.0f}", f"{row['ratio_without_f']:.2f}",
          f"{row['translate_seeds_per_s_with_f']:.0f}", f"{row['ratio_with_f']:.2f}"]
         for r in results for row in r["rows"]],
    )  # fmt: skip
    lines += [
        "",
        "End to end (`M2MOverSampler(g, f=f, beta=0.9).fit_resample`, with f) "
        "against imbalanced-learn's SMOTE on the same data:",
        "",
    ]
    lines += pipe_table(
        ["model", "samples in", "added", "translated", "translated/s", "fit_resample s",
         "SMOTE s"],
        [[r["model"], s["n_samples_in"], s["n_samples_added"], s["n_translated"],
          f"{s['translated_per_s']:.0f}", f"{s['fit_resample_seconds']:.2f}",
          f"{s['smote_seconds']:.3f}"] for r in results for s in [r["sampler"]]],
    )  # fmt: skip
    (out / f"{tag}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / tag}.json and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
