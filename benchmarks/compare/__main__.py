"""Command line of the benchmark: ``python -m benchmarks.compare``.

With no argument it compares, on long-tailed digits (ratio 10) and over 5 seeds, an MLP
trained by skorch after: no re-balancing (ERM), RandomOverSampler, SMOTE, ADASYN,
BorderlineSMOTE, inverse-frequency re-weighting and M2MOverSampler (with ``g`` the ERM
network of the same seed), and writes ``results.json``, ``results.md`` and PNG figures into
``bench_out/``. ``--help`` lists the options.

With a CSV file (``--dataset my.csv --label-column target``, optionally ``--text-column``
for a column of texts): the file is checked first (feature columns, no infinite value,
class labels); every method's few hyper-parameters are chosen on a validation part of the
training data (``--tune``, the default for CSV; ``--no-tune`` to skip), and the networks
train with the speed rule of :mod:`~benchmarks.compare.speed_rule`. When M2m accepts under
:data:`~m2m_sampler.over_sampler.LOW_ACCEPTANCE_SHARE` of its translations, the command
warns (one line) that its row is close to random over-sampling and which option to change.

Every failure is one line on stderr (``benchmarks.compare: error: ...``) and a non-zero exit: 2
for bad arguments or data and an output folder that cannot be written (all checked before
any training), 1 when the run fails or no method ran on any seed, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from benchmarks.compare.data import NamedData

__all__ = ["build_parser", "main"]

PROG = "benchmarks.compare"

# The parser's defaults as plain constants: ``--help`` and argument errors come without
# importing torch or the library (the lab's tests check that they equal the defaults of
# benchmarks.compare.data / .methods).
#: :data:`benchmarks.compare.data.DIGITS`.
DIGITS = "digits-lt"
#: :data:`benchmarks.compare.data.TEXT_FEATURES`.
TEXT_FEATURES = 4096
#: The keys of :data:`benchmarks.compare.methods.METHODS`, in order.
METHOD_NAMES = ("erm", "ros", "smote", "adasyn", "borderline-smote", "reweight", "m2m")
#: :class:`benchmarks.compare.methods.TrainParams`' defaults.
TRAIN_DEFAULTS = {"epochs": 100, "batch_size": 64, "lr": 1e-3, "weight_decay": 5e-5,
                  "hidden": (256,)}
#: :class:`benchmarks.compare.methods.M2mParams`' defaults.
M2M_DEFAULTS = {"beta": 0.99, "lam": 0.1, "gamma": 0.99, "step_size": 0.1, "n_steps": 10,
                "f": "none"}


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


def _finite_float(text: str) -> float:
    v = _float(text)
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return v


def _seed_list(text: str) -> list[int]:
    values = _int_list(text)
    bad = [v for v in values if not 0 <= v < 2**32]
    if bad:
        raise argparse.ArgumentTypeError(f"seeds must be integers in [0, 2**32 - 1]; got {bad}")
    return values


def _name_list(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("the list of columns is empty")
    return names


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


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """States each option's default once: ``(default: X)`` unless the help already says
    ``default`` or there is none to state (None, flags)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or action.default is None
            or action.default is False
            or action.default == argparse.SUPPRESS
            or isinstance(action, argparse.BooleanOptionalAction)
        ):
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        """Print ``<prog>: error: <message>`` on one line and exit with status 2."""
        message = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(names: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The argument parser of ``python -m benchmarks.compare``.

    Parameters
    ----------
    names : sequence of str, default=()
        Named data sets ``--dataset`` also accepts (see :func:`main`).

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
        formatter_class=_HelpFormatter,
    )
    d = p.add_argument_group("data")
    d.add_argument(
        "--dataset",
        default=DIGITS,
        help=f"{', '.join([DIGITS, *names])} or the path of a CSV file",
    )
    d.add_argument(
        "--label-column",
        default=None,
        help="class column of a CSV data set (required for a CSV file; no default)",
    )
    d.add_argument(
        "--drop-columns",
        type=_name_list,
        default=None,
        help="comma-separated columns of a CSV data set to ignore (ids, free text, ...); "
        "default: none",
    )
    d.add_argument(
        "--dropna",
        action="store_true",
        help="drop the rows of a CSV data set that have a missing value (default: missing "
        "values are an error)",
    )
    d.add_argument(
        "--text-column",
        default=None,
        help="column of texts of a CSV data set: the features are then their TF-IDF "
        f"(hashed into {TEXT_FEATURES} columns, fitted on each training part; other columns "
        "ignored); default: none, the columns are the features",
    )
    d.add_argument(
        "--imbalance-ratio",
        type=_float,
        default=None,
        help="rho >= 1: digits-lt's ratio; for other data, make the training part "
        "long-tailed with this ratio after holding out a balanced test set (default: 10 "
        "for digits-lt; none for other data, which are kept as they are)",
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
        help="drop classes with fewer samples than this (tabular / CSV data; 0 keeps all)",
    )

    r = p.add_argument_group("run")
    r.add_argument(
        "--methods",
        default=",".join(METHOD_NAMES),
        help=f"comma-separated subset of: {', '.join(METHOD_NAMES)}",
    )
    r.add_argument("--seeds", type=_positive_int, default=5, help="run seeds 0 .. N-1")
    r.add_argument(
        "--seed-list",
        type=_seed_list,
        default=None,
        help="explicit seeds in [0, 2**32 - 1], e.g. 3,7 (wins over --seeds); default: none",
    )
    r.add_argument(
        "--epochs",
        type=_positive_int,
        default=TRAIN_DEFAULTS["epochs"],
        help="training epochs of every network (g included)",
    )
    r.add_argument(
        "--batch-size",
        type=_positive_int,
        default=None,
        help=f"mini-batch size (default: {TRAIN_DEFAULTS['batch_size']}; for a CSV file, "
        "about 16 batches per epoch of the training part, a power of two in [64, 256], "
        "and --lr scaled by batch / 64: benchmarks.compare.speed_rule)",
    )
    r.add_argument(
        "--tune",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="choose every method's hyper-parameters (SMOTE/ADASYN/BorderlineSMOTE "
        "neighbours, the re-weighting power, M2m's beta, gamma and step size around the "
        "values given) on a validation part carved from the training data, then run the "
        "benchmark with them (default: on for a CSV file, off otherwise)",
    )
    r.add_argument(
        "--lr", type=_finite_float, default=TRAIN_DEFAULTS["lr"], help="Adam learning rate"
    )
    r.add_argument(
        "--weight-decay",
        type=_finite_float,
        default=TRAIN_DEFAULTS["weight_decay"],
        help="Adam weight decay",
    )
    r.add_argument(
        "--hidden",
        type=_int_list,
        default=",".join(map(str, TRAIN_DEFAULTS["hidden"])),
        help="hidden layer widths of the MLP, comma-separated",
    )
    r.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    r.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        help="torch CPU threads (1 is fastest for these small networks)",
    )
    r.add_argument(
        "--out",
        "--output",
        dest="out",
        default="bench_out",
        help="output folder (created if needed; checked to be writable before the run)",
    )
    r.add_argument(
        "--no-figures", action="store_true", help="skip the PNG figures (default: write them)"
    )
    r.add_argument(
        "--quiet", action="store_true", help="no progress lines (default: print them)"
    )

    m = p.add_argument_group("M2m (see M2MOverSampler)")
    m.add_argument(
        "--beta",
        type=_float,
        default=M2M_DEFAULTS["beta"],
        help="in [0, 1]: a source of class k0 is used for target class k with probability "
        "1 - beta ** (N_k0 - N_k) (Algorithm 1)",
    )
    m.add_argument(
        "--lam",
        type=_finite_float,
        default=M2M_DEFAULTS["lam"],
        help=">= 0: weight of f's logit of the source class (with --m2m-f g)",
    )
    m.add_argument(
        "--gamma",
        type=_float,
        default=M2M_DEFAULTS["gamma"],
        help="in [0, 1]: a translation is kept when g gives its target class at least this "
        "probability",
    )
    m.add_argument(
        "--step-size",
        type=_finite_float,
        default=M2M_DEFAULTS["step_size"],
        help="> 0: L2 length of every translation step, in standardised input units",
    )
    m.add_argument(
        "--n-steps",
        type=_nonneg_int,
        default=M2M_DEFAULTS["n_steps"],
        help="number of translation steps",
    )
    m.add_argument(
        "--m2m-f",
        choices=("none", "g"),
        default=M2M_DEFAULTS["f"],
        help="f of Eq. (2): none, or a snapshot of g (then --lam weighs f's seed logit)",
    )
    return p


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    methods = [s.strip() for s in args.methods.split(",") if s.strip()]
    unknown = [s for s in methods if s not in METHOD_NAMES]
    if unknown or not methods:
        parser.error(
            f"unknown method(s) {unknown or args.methods!r}; choose from "
            f"{', '.join(METHOD_NAMES)}"
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


def load_bench_data(*args: Any, **kwargs: Any) -> Any:
    """:func:`benchmarks.compare.data.load_bench_data`, imported when first called."""
    from benchmarks.compare.data import load_bench_data as load

    return load(*args, **kwargs)


def _fail(message: str, status: int = 1) -> NoReturn:
    """Print ``benchmarks.compare: error: <message>`` on one line of stderr and exit."""
    print(f"{PROG}: error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)
    raise SystemExit(status)


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


def _check_output_folder(parser: argparse.ArgumentParser, out: Path) -> None:
    """Create ``out`` if needed and check that a file can be written there (before any run)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        parser.error(f"cannot create the output folder {str(out)!r}: {exc.strerror or exc}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".m2m-bench-", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        parser.error(
            f"cannot write into the output folder {str(out)!r} ({exc.strerror or exc}); "
            "choose another --out"
        )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else repr(exc)}"


def main(
    argv: Sequence[str] | None = None,
    *,
    named: NamedData | None = None,
    command: str = "python -m benchmarks.compare",
) -> int:
    """Run the benchmark from the command line.

    Parameters
    ----------
    argv : sequence of str or None
        Arguments (None: ``sys.argv[1:]``).
    named : mapping or None, default=None
        Further data sets ``--dataset`` accepts by name, run like digits-LT (no CSV
        speed rule, ``--tune`` off by default): name -> a function returning
        ``(X, y, source)`` (see :data:`~benchmarks.compare.data.NamedData`). The lab's
        ``python -m benchmarks.tabular`` passes the shared tables this way.
    command : str, default="python -m benchmarks.compare"
        The command written before the arguments in ``results.json``.

    Returns
    -------
    int
        0 when at least one method ran on at least one seed. Every failure is one line on
        stderr and a non-zero exit (``SystemExit``): 2 for bad arguments or data (checked
        before any training, the output folder included), 1 when the run fails or when no
        method ran on any seed (every row "n/a"; the results are still written), 130 when
        interrupted.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    named = dict(named or {})
    parser = build_parser(list(named))
    args = parser.parse_args(argv)
    methods = _check_args(parser, args)

    from m2m_sampler.plotting import INSTALL_HINT, matplotlib_available

    if not args.no_figures and not matplotlib_available():
        print(
            f"{PROG}: warning: matplotlib is not installed ({INSTALL_HINT}); the run goes "
            "on without figures (as with --no-figures).",
            file=sys.stderr,
            flush=True,
        )
        args.no_figures = True
    seeds = args.seed_list if args.seed_list is not None else list(range(args.seeds))
    out = Path(args.out)
    _check_output_folder(parser, out)

    import torch

    from m2m_sampler._torch_utils import resolve_device

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
            named=named,
            test_per_class=args.test_per_class,
            test_size=args.test_size,
            min_class_count=args.min_class_count,
            text_column=args.text_column,
            drop_columns=args.drop_columns or (),
            dropna=args.dropna,
        )
        first_split = data.split(seeds[0])  # fails early if the split rule cannot apply
    except (ValueError, FileNotFoundError, OSError) as exc:
        parser.error(str(exc))
    is_csv = args.dataset != DIGITS and args.dataset not in named
    tune = is_csv if args.tune is None else args.tune

    try:
        return _run(
            args, argv, methods, seeds, out, data, first_split, str(device), is_csv, tune, command
        )
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except (ValueError, RuntimeError, OSError, MemoryError) as exc:
        _fail(_one_line(exc))


def _run(
    args: argparse.Namespace,
    argv: Sequence[str] | None,
    methods: list[str],
    seeds: list[int],
    out: Path,
    data: Any,
    first_split: Any,
    device: str,
    is_csv: bool,
    tune: bool,
    command: str,
) -> int:
    import warnings
    from dataclasses import replace

    from benchmarks.compare.acceptance import low_acceptance_warning
    from benchmarks.compare.methods import METHODS, M2mParams, TrainParams
    from benchmarks.compare.report import (
        environment,
        format_table,
        write_figures,
        write_json,
        write_markdown,
    )
    from benchmarks.compare.runner import print_progress, run_benchmark
    from benchmarks.compare.speed_rule import fast_train_params
    from benchmarks.compare.tuning import chosen_table, tune_methods, tuned_settings
    from m2m_sampler.exceptions import LowAcceptanceWarning

    progress = None if args.quiet else print_progress
    train = TrainParams(
        epochs=args.epochs,
        batch_size=TrainParams.batch_size if args.batch_size is None else args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        hidden=tuple(args.hidden),
        device=device,
    )
    if is_csv:  # the CSV path's speed rule (benchmarks.compare.speed_rule)
        train = replace(train, tensor_loader=True)
        if args.batch_size is None:
            train = fast_train_params(train, len(first_split.y_train))
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
            f"{train.epochs} epochs, batch {train.batch_size}, device {device}"
            f"{', tuning on validation first' if tune else ''}",
            file=sys.stderr,
            flush=True,
        )
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    tuning: dict[str, Any] | None = None
    params: dict[str, dict[str, Any]] = {}
    with warnings.catch_warnings():
        # the command sums M2m's acceptance over the run and warns once (below)
        warnings.simplefilter("ignore", LowAcceptanceWarning)
        if tune:
            tuning = tune_methods(data, first_split, methods, train, m2m, progress=progress)
            params, m2m = tuned_settings(tuning, m2m)
        result = run_benchmark(data, methods, seeds, train, m2m, progress=progress, params=params)
    result.wall_time = time.perf_counter() - t0
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
    if is_csv or tune:
        config["cpu_time_s"] = time.process_time() - cpu0
        config["tune"] = tune
        config["method_params"] = params
    if tuning is not None:
        config["tuning"] = tuning
    dataset = {
        "name": data.name,
        "kind": data.kind,
        "description": data.description,
        "n_features": data.n_features,
        "standardized": data.standardize,
        "m2m_clip": list(data.clip) if data.clip else None,
    }
    env = environment(device)
    doc = write_json(out / "results.json", result, config, dataset, env, argv, command)
    write_markdown(out / "results.md", result, methods, doc)
    warning = low_acceptance_warning(result.rows, tuned=tune) if "m2m" in methods else None
    extra_md = []
    if tuning is not None:
        extra_md += [
            "## Hyper-parameters chosen on validation (--tune)",
            "",
            "One per-class carving of 25% of the training part of seed "
            f"{seeds[0]}'s split; the chosen values are used for every seed "
            "(`benchmarks.compare.tuning.tune_methods`).",
            "",
            chosen_table(tuning, result.summary),
            "",
        ]
    if warning:
        extra_md += [f"**Warning:** {warning}", ""]
    if extra_md:
        with open(out / "results.md", "a") as fh:
            fh.write("\n" + "\n".join(extra_md))
    image_shape = (8, 8) if data.kind == "digits" else None
    figures = (
        [] if args.no_figures else write_figures(out, result, methods, data.name, image_shape)
    )
    print(format_table(result, methods))
    if tuning is not None:
        print("\nChosen on validation (--tune):\n" + chosen_table(tuning, result.summary))
    if not any(s["n_ok"] for s in result.summary.values()):
        reasons = sorted({r for s in result.summary.values() for r in s["na_reasons"]})
        _fail(f"no method ran on any seed (results written to {out}): {'; '.join(reasons)}")
    written = ["results.json", "results.md", *(f.name for f in figures)]
    print(
        f"\nwrote {', '.join(written)} to {out} in {time.perf_counter() - t0:.0f} s",
        file=sys.stderr if args.quiet else sys.stdout,
    )
    if warning:
        _warn(warning)
    return 0


if __name__ == "__main__":
    sys.exit(main())
