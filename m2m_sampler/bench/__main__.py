"""Command line of the benchmark: ``python -m m2m_sampler.bench`` / ``m2m-bench``.

With no argument it compares, on long-tailed digits (ratio 10) and over 5 seeds, an MLP
trained by skorch after: no re-balancing (ERM), RandomOverSampler, SMOTE, ADASYN,
BorderlineSMOTE, inverse-frequency re-weighting and M2MOverSampler (with ``g`` the ERM
network of the same seed), and writes ``results.json``, ``results.md`` and PNG figures into
``bench_out/``. ``--help`` lists the options.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .data import DIGITS, dataset_names, load_bench_data
from .methods import METHODS, M2mParams, TrainParams

__all__ = ["build_parser", "main"]

PROG = "m2m-bench"


def _int_at_least(low: int, expected: str):
    """An argparse ``type``: an integer >= ``low`` (else "expected <expected>, got ...")."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            v = None
        if v is None or v < low:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return v

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_nonneg_int = _int_at_least(0, "an integer >= 0")


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _int_list(text: str) -> list[int]:
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError("the list is empty")
    return values


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        """Print ``<prog>: error: <message>`` on one line and exit with status 2."""
        message = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``m2m-bench``.

    Returns
    -------
    argparse.ArgumentParser
    """
    p = _Parser(
        prog=PROG,
        description=(
            "Compare M2MOverSampler with no re-balancing, RandomOverSampler, SMOTE, ADASYN, "
            "BorderlineSMOTE and class re-weighting, each as an imblearn Pipeline ending in "
            "the same skorch-trained MLP, over several seeds; write results.json, "
            "results.md and figures."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    d = p.add_argument_group("data")
    d.add_argument(
        "--dataset",
        default=DIGITS,
        help=f"one of {', '.join(dataset_names())}, or the path of a CSV file",
    )
    d.add_argument("--label-column", default=None, help="class column of a CSV data set")
    d.add_argument(
        "--imbalance-ratio",
        type=_float,
        default=None,
        help="rho >= 1: digits-lt's ratio (default 10); for other data, make the training "
        "part long-tailed with this ratio after holding out a balanced test set",
    )
    d.add_argument(
        "--test-per-class",
        type=_positive_int,
        default=100,
        help="balanced test samples per class held out before making data long-tailed",
    )
    d.add_argument(
        "--test-size",
        type=_float,
        default=0.3,
        help="test fraction of the stratified split of data kept as they are",
    )
    d.add_argument(
        "--min-class-count",
        type=_nonneg_int,
        default=0,
        help="drop classes with fewer samples than this (tabular / CSV data)",
    )
    d.add_argument("--data-dir", default=None, help="shared data directory (else M2M_DATA_DIR)")

    r = p.add_argument_group("run")
    r.add_argument(
        "--methods",
        default=",".join(METHODS),
        help=f"comma-separated subset of: {', '.join(METHODS)}",
    )
    r.add_argument("--seeds", type=_positive_int, default=5, help="run seeds 0 .. N-1")
    r.add_argument(
        "--seed-list",
        type=_int_list,
        default=None,
        help="explicit seeds, e.g. 3,7 (wins over --seeds)",
    )
    r.add_argument("--epochs", type=_positive_int, default=TrainParams.epochs)
    r.add_argument("--batch-size", type=_positive_int, default=TrainParams.batch_size)
    r.add_argument("--lr", type=_float, default=TrainParams.lr, help="Adam learning rate")
    r.add_argument("--weight-decay", type=_float, default=TrainParams.weight_decay)
    r.add_argument(
        "--hidden",
        type=_int_list,
        default=list(TrainParams.hidden),
        help="hidden layer widths of the MLP, comma-separated",
    )
    r.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    r.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        help="torch CPU threads (1 is fastest for these small networks)",
    )
    r.add_argument("--out", default="bench_out", help="output folder")
    r.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    r.add_argument("--quiet", action="store_true", help="no progress lines")

    m = p.add_argument_group("M2m (see M2MOverSampler)")
    m.add_argument("--beta", type=_float, default=M2mParams.beta)
    m.add_argument("--lam", type=_float, default=M2mParams.lam)
    m.add_argument("--gamma", type=_float, default=M2mParams.gamma)
    m.add_argument("--step-size", type=_float, default=M2mParams.step_size)
    m.add_argument("--n-steps", type=_nonneg_int, default=M2mParams.n_steps)
    m.add_argument(
        "--m2m-f",
        choices=("none", "g"),
        default=M2mParams.f,
        help="f of Eq. (2): none, or a snapshot of g (then --lam weighs f's seed logit)",
    )
    return p


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    methods = [s.strip() for s in args.methods.split(",") if s.strip()]
    unknown = [s for s in methods if s not in METHODS]
    if unknown or not methods:
        parser.error(
            f"unknown method(s) {unknown or args.methods!r}; choose from {', '.join(METHODS)}"
        )
    methods = list(dict.fromkeys(methods))
    if args.imbalance_ratio is not None and not args.imbalance_ratio >= 1:
        parser.error(f"--imbalance-ratio must be >= 1; got {args.imbalance_ratio:g}")
    for name in ("beta", "gamma"):
        v = getattr(args, name)
        if not 0.0 <= v <= 1.0:
            parser.error(f"--{name} must be in [0, 1]; got {v:g}")
    if args.lam < 0:
        parser.error(f"--lam must be >= 0; got {args.lam:g}")
    if not args.step_size > 0:
        parser.error(f"--step-size must be > 0; got {args.step_size:g}")
    if not args.lr > 0:
        parser.error(f"--lr must be > 0; got {args.lr:g}")
    if args.weight_decay < 0:
        parser.error(f"--weight-decay must be >= 0; got {args.weight_decay:g}")
    if any(h < 1 for h in args.hidden):
        parser.error(f"--hidden widths must be positive; got {args.hidden}")
    if args.seed_list is not None and len(set(args.seed_list)) != len(args.seed_list):
        parser.error(f"--seed-list has repeated seeds: {args.seed_list}")
    return methods


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line.

    Parameters
    ----------
    argv : sequence of str or None
        Arguments (None: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success. Bad arguments print one line on stderr and exit with status 2.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["--suite", "table2"]:  # the paper's Table 2 (m2m_sampler.bench.table2)
        from .table2 import main as table2_main

        return table2_main(argv[2:])
    parser = build_parser()
    args = parser.parse_args(argv)
    methods = _check_args(parser, args)
    seeds = args.seed_list if args.seed_list is not None else list(range(args.seeds))

    import torch

    from .._torch_utils import resolve_device

    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        parser.error(str(exc))
    torch.set_num_threads(args.threads)

    try:
        data = load_bench_data(
            args.dataset,
            imbalance_ratio=args.imbalance_ratio,
            label_column=args.label_column,
            data_dir=args.data_dir,
            test_per_class=args.test_per_class,
            test_size=args.test_size,
            min_class_count=args.min_class_count,
        )
        data.split(seeds[0])  # fails early if the split rule cannot apply
    except (ValueError, FileNotFoundError) as exc:
        parser.error(str(exc))

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        parser.error(f"cannot create the output folder {str(out)!r}: {exc.strerror}")

    from .report import (
        environment,
        format_table,
        write_figures,
        write_json,
        write_markdown,
    )
    from .runner import print_progress, run_benchmark

    train = TrainParams(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        hidden=tuple(args.hidden),
        device=str(device),
    )
    m2m = M2mParams(
        beta=args.beta,
        lam=args.lam,
        gamma=args.gamma,
        step_size=args.step_size,
        n_steps=args.n_steps,
        f=args.m2m_f,
    )
    if not args.quiet:
        print(
            f"{PROG}: {data.name} ({data.kind}), methods {', '.join(methods)}, seeds {seeds}, "
            f"{args.epochs} epochs, device {device}",
            file=sys.stderr,
            flush=True,
        )
    t0 = time.perf_counter()
    result = run_benchmark(
        data, methods, seeds, train, m2m, progress=None if args.quiet else print_progress
    )
    config: dict[str, Any] = {
        "dataset": args.dataset,
        "imbalance_ratio": data.imbalance_ratio,
        "test_per_class": data.test_per_class,
        "test_size": data.test_size,
        "min_class_count": args.min_class_count,
        "methods": methods,
        "method_descriptions": {k: METHODS[k].description for k in methods},
        "seeds": seeds,
        "train": vars(train) | {"hidden": list(train.hidden), "optimizer": "Adam"},
        "m2m": vars(m2m),
        "threads": args.threads,
    }
    dataset = {
        "name": data.name,
        "kind": data.kind,
        "description": data.description,
        "n_features": data.n_features,
        "standardized": data.standardize,
        "m2m_clip": list(data.clip) if data.clip else None,
    }
    doc = write_json(out / "results.json", result, config, dataset, environment(str(device)), argv)
    write_markdown(out / "results.md", result, methods, doc)
    figures = [] if args.no_figures else write_figures(out, result, methods, data.name)
    print(format_table(result, methods))
    written = ["results.json", "results.md", *(f.name for f in figures)]
    print(
        f"\nwrote {', '.join(written)} to {out} in {time.perf_counter() - t0:.0f} s",
        file=sys.stderr if args.quiet else sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
