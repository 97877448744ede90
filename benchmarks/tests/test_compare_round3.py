"""Issue 23 (hardening, round 3): the comparison command on odd CSV files, its messages,
its ``--help`` and its terminal table.

Each test fails on the code before its fix.
"""

import argparse
import subprocess
import sys

import pytest

import benchmarks.compare.__main__ as cli
from benchmarks.compare.data import load_bench_data

FAST = ["--seed-list", "0", "--epochs", "2", "--no-figures", "--quiet"]


def _error(args, capsys, status=2):
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    err = capsys.readouterr().err
    assert exc.value.code == status, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("benchmarks.compare: error:"), err
    return lines[0]


def _csv(path, header, rows):
    path.write_text("\n".join([header, *rows]) + "\n")
    return str(path)


# ------------------------------------------------------------------ CSV: silent wrong results


def test_repeated_label_column_is_refused(tmp_path, capsys):
    # before: pandas' 'label.1' became a feature (100% bACC by leakage)
    rows = [f"{i * 0.1:.1f},{(i * 7) % 5 * 0.3:.1f},{i % 2},{i % 2}" for i in range(200)]
    path = _csv(tmp_path / "dup.csv", "a,b,label,label", rows)
    line = _error([*FAST, "--dataset", path, "--label-column", "label", "--out",
                   str(tmp_path / "o")], capsys)
    assert "label column 'label' more than once" in line
    assert "--drop-columns label.1" in line and "drop_columns=" not in line
    data = load_bench_data(path, label_column="label", drop_columns=["label.1"])
    assert data.n_features == 2


def test_identifier_column_is_refused(tmp_path, capsys):
    # before: the id was one-hot encoded into one feature per row
    rows = [f"row{i:05d},{i * 0.1:.1f},{i % 2}" for i in range(200)]
    path = _csv(tmp_path / "ids.csv", "id,a,label", rows)
    line = _error([*FAST, "--dataset", path, "--label-column", "label", "--out",
                   str(tmp_path / "o")], capsys)
    assert "Column 'id' holds text with 200 distinct values in 200 rows" in line
    assert "--drop-columns id" in line and "categorical=" not in line
    data = load_bench_data(path, label_column="label", drop_columns=["id"])
    assert data.n_features == 1 and data.X[:3, 0].tolist() == [0.0, 0.1, 0.2]


def test_missing_values_advise_command_line_flags(tmp_path, capsys):
    # before: "... drop those columns with drop_columns=..., or pass dropna=True ..."
    rows = [f"{'' if i % 10 == 0 else i},{i % 3},{i % 2}" for i in range(200)]
    path = _csv(tmp_path / "na.csv", "a,b,label", rows)
    line = _error([*FAST, "--dataset", path, "--label-column", "label", "--out",
                   str(tmp_path / "o")], capsys)
    assert "--drop-columns a" in line and "--dropna" in line
    assert "dropna=True" not in line and "drop_columns=" not in line
    args = cli.build_parser().parse_args(["--dropna", "--drop-columns", "a, b"])
    assert args.dropna is True and args.drop_columns == ["a", "b"]
    assert load_bench_data(path, label_column="label", dropna=True).y.shape == (180,)


def test_header_only_csv(tmp_path, capsys):
    # before: "... has no feature column besides the label column"
    path = _csv(tmp_path / "hdr.csv", "a,b,label", [])
    line = _error([*FAST, "--dataset", path, "--label-column", "label", "--out",
                   str(tmp_path / "o")], capsys)
    assert "header but no data row" in line and "no feature column" not in line


# ------------------------------------------------------------------ --help


def test_parser_is_built_without_torch():
    # before: building the parser imported torch, skorch and imblearn (8.8 s for --help)
    code = ("import sys, benchmarks.compare.__main__ as m; m.build_parser(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_parser_constants_match_the_registry():
    from benchmarks.compare.data import DIGITS, TEXT_FEATURES
    from benchmarks.compare.methods import METHODS, M2mParams, TrainParams

    assert cli.DIGITS == DIGITS and cli.TEXT_FEATURES == TEXT_FEATURES
    assert cli.METHOD_NAMES == tuple(METHODS)
    train = TrainParams()
    assert cli.TRAIN_DEFAULTS == {k: getattr(train, k) for k in cli.TRAIN_DEFAULTS}
    assert cli.M2M_DEFAULTS == {k: getattr(M2mParams(), k) for k in cli.M2M_DEFAULTS}
    args = cli.build_parser().parse_args([])
    assert args.hidden == [256] and args.epochs == 100 and args.n_steps == 10


def test_every_option_has_help_and_one_default():
    parser = cli.build_parser()
    fmt = parser._get_formatter()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, action.option_strings
        text = fmt._get_help_string(action) % {"default": action.default}
        assert text.count("default") <= 1, text
        assert "(default: None)" not in text, text
        if action.default not in (None, False):
            assert "default" in text, text
    help_text = parser.format_help()
    for flag in ("--epochs", "--weight-decay", "--beta", "--lam", "--gamma", "--step-size",
                 "--n-steps"):
        block = help_text.split(f"\n  {flag} ", 1)[1].split("\n  --", 1)[0]
        assert "(default:" in block, (flag, block)


# ------------------------------------------------------------------ terminal table


def _result(n_ok):
    from benchmarks.compare.runner import BenchResult

    s = {"label": "ERM", "n_ok": n_ok, "n_na": 0, "na_reasons": []}
    for key, mean in (("balanced_accuracy", 0.5), ("gmean", 0.4), ("minor_acc", 0.3),
                      ("major_acc", 0.9), ("fit_time", 1.25)):
        s[f"{key}_mean"], s[f"{key}_std"] = mean, 0.0 if n_ok == 1 else 0.1
    return BenchResult(classes=[0, 1], class_order=[0, 1], summary={"erm": s})


def test_one_seed_table_has_no_spread_and_a_legend():
    from benchmarks.compare.report import format_table, markdown_table

    one = format_table(_result(1), ["erm"])
    assert "±" not in one.splitlines()[2] and "50.0" in one and "1.25" in one
    assert "±" not in markdown_table(_result(1), ["erm"])
    assert "GM: their geometric mean" in one and "minor acc" in one and "major acc" in one
    two = format_table(_result(2), ["erm"])
    assert "50.0 ± 10.0" in two
