"""Tests of the benchmark command (benchmarks.compare): short runs, outputs, bad arguments."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.compare.__main__ import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = (
    "bacc.png",
    "per_class_recall.png",
    "cumulative_fp.png",
    "m2m_acceptance.png",  # M2m ran (digits: the first seed)
    "m2m_translations.png",  # digits are 8x8 images
)


def _load(out):
    return json.loads((out / "results.json").read_text())


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """One seed, two epochs, ERM + SMOTE + M2m on digits-LT (the default data set)."""
    out = tmp_path_factory.mktemp("bench_digits")
    args = ["--methods", "erm,smote,m2m", "--seed-list", "0", "--epochs", "2", "--out", str(out)]
    status = main([*args, "--quiet"])
    return status, out, _load(out)


def test_short_run_writes_json_table_and_figures(digits_run, capsys):
    status, out, doc = digits_run
    assert status == 0
    for key in (
        "command",
        "timestamp",
        "config",
        "dataset",
        "machine",
        "versions",
        "classes",
        "class_order",
        "splits",
        "summary",
        "rows",
    ):
        assert key in doc, key
    assert doc["config"]["seeds"] == [0]
    assert doc["config"]["methods"] == ["erm", "smote", "m2m"]
    assert doc["config"]["train"]["epochs"] == 2
    assert "--epochs 2" in doc["command"]
    assert doc["dataset"]["name"] == "digits-lt"
    assert doc["machine"]["cpu_count"] >= 1 and doc["versions"]["torch"]
    # load_digits_lt(10): 519 training and 500 test images
    assert doc["splits"][0]["n_train"] == 519 and doc["splits"][0]["n_test"] == 500
    assert doc["class_order"] == list(range(10))
    assert [r["method"] for r in doc["rows"]] == ["erm", "smote", "m2m"]
    assert all(r["status"] == "ok" for r in doc["rows"])

    md = (out / "results.md").read_text()
    for label in ("| ERM |", "| SMOTE |", "| M2m |", "bACC (%)"):
        assert label in md
    m2m_accepted = doc["rows"][2]["n_accepted"]
    for name in FIGURES:
        if name == "m2m_translations.png" and not m2m_accepted:
            assert not (out / name).exists()  # nothing to show (2 epochs: a weak g)
            continue
        assert (out / name).read_bytes()[:8] == PNG_MAGIC


def test_scores_match_the_confusion_matrix(digits_run):
    _, _, doc = digits_run
    for row in doc["rows"]:
        cm = np.asarray(row["confusion_matrix"], dtype=float)
        assert cm.shape == (10, 10) and cm.sum() == 500
        recall = np.diag(cm) / cm.sum(axis=1)
        assert row["balanced_accuracy"] == pytest.approx(recall.mean())
        assert row["gmean"] == pytest.approx(np.prod(recall) ** (1 / 10))
        assert [row["per_class_recall"][str(c)] for c in range(10)] == pytest.approx(recall)
        # training counts 128 + 99 + 76 = 303 are more than half of the 519 images
        assert row["major_classes"] == [0, 1, 2]
        assert row["minor_acc"] == pytest.approx(recall[3:].mean())
        assert row["major_acc"] == pytest.approx(recall[:3].mean())
        summary = doc["summary"][row["method"]]
        assert summary["balanced_accuracy_mean"] == pytest.approx(row["balanced_accuracy"])
        fp = cm.sum(axis=0) - np.diag(cm)
        assert summary["cumulative_false_positives"] == pytest.approx(np.cumsum(fp))


def test_m2m_reuses_the_erm_network_and_reports_acceptance(digits_run):
    _, _, doc = digits_run
    erm, smote, m2m = doc["rows"]
    assert m2m["g_fit_time"] == erm["fit_time"]  # the ERM fit of the seed, not a new one
    # balancing to the largest class (128) adds 10 * 128 - 519 samples
    assert smote["n_added"] == m2m["n_added"] == 1280 - 519
    assert 0 <= m2m["n_accepted"] <= m2m["n_added"]
    assert m2m["acceptance_rate"] == pytest.approx(m2m["n_accepted"] / m2m["n_added"])
    stats = m2m["class_stats"]
    assert "0" not in stats and sum(s["n_new"] for s in stats.values()) == 1280 - 519
    assert doc["summary"]["m2m"]["acceptance_rate_mean"] == pytest.approx(m2m["acceptance_rate"])


def test_two_seeds_are_summarised_and_seeding_is_reproducible(digits_run, tmp_path, capsys):
    _, _, first = digits_run
    assert (
        main(
            [
                "--methods",
                "erm,ros",
                "--seed-list",
                "0,1",
                "--epochs",
                "2",
                "--out",
                str(tmp_path),
                "--no-figures",
            ]
        )
        == 0
    )
    printed = capsys.readouterr()
    assert "ERM" in printed.out and "bACC (%)" in printed.out
    assert printed.err.count("seed 0") == 2 and printed.err.count("seed 1") == 2  # progress
    doc = _load(tmp_path)
    assert not any((tmp_path / f).exists() for f in FIGURES)
    for method in ("erm", "ros"):
        scores = [r["balanced_accuracy"] for r in doc["rows"] if r["method"] == method]
        s = doc["summary"][method]
        assert s["n_ok"] == 2
        assert s["balanced_accuracy_mean"] == pytest.approx(np.mean(scores))
        assert s["balanced_accuracy_std"] == pytest.approx(np.std(scores, ddof=1))
    # seed 0 of ERM is the same network as in the first run
    erm0 = next(r for r in doc["rows"] if r["method"] == "erm" and r["seed"] == 0)
    assert erm0["confusion_matrix"] == first["rows"][0]["confusion_matrix"]


def test_method_that_cannot_run_is_reported_not_raised(tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(0, 1, (60, 3)), rng.normal(3, 1, (30, 3)), rng.normal(-3, 1, (2, 3))])
    y = ["a"] * 60 + ["b"] * 30 + ["rare"] * 2  # stratified split: one 'rare' in train
    csv = tmp_path / "toy.csv"
    pd.DataFrame(X, columns=["x1", "x2", "x3"]).assign(cls=y).to_csv(csv, index=False)
    out = tmp_path / "out"
    args = ["--dataset", str(csv), "--label-column", "cls", "--methods", "erm,smote,m2m"]
    assert main([*args, "--seed-list", "0", "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    doc = _load(out)
    smote = next(r for r in doc["rows"] if r["method"] == "smote")
    assert (
        smote["status"] == "n/a" and "'rare'" in smote["reason"] and "1 sample" in smote["reason"]
    )
    assert doc["summary"]["smote"]["n_ok"] == 0
    assert doc["splits"][0]["train_counts"]["rare"] == 1
    assert doc["dataset"]["standardized"] is True
    assert "| SMOTE | 0 | n/a |" in (out / "results.md").read_text()
    assert {r["status"] for r in doc["rows"] if r["method"] != "smote"} == {"ok"}


def _bad(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("benchmarks.compare: error:"), err
    return lines[0]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--dataset", "no-such-set"], "unknown dataset"),
        (["--methods", "erm,foo"], "foo"),
        (["--imbalance-ratio", "0.5"], "imbalance-ratio"),
        (["--epochs", "0"], "positive integer"),
        (["--beta", "2"], "--beta"),
        (["--no-such-option"], "unrecognized"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, needle, capsys, tmp_path):
    line = _bad([*args, "--out", str(tmp_path)], capsys)
    assert needle in line


def test_bad_csv_arguments(tmp_path, capsys):
    missing = tmp_path / "missing.csv"
    assert "does not exist" in _bad(["--dataset", str(missing), "--label-column", "y"], capsys)
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n")
    assert "--label-column" in _bad(["--dataset", str(csv)], capsys)
    assert "'cls' not found" in _bad(["--dataset", str(csv), "--label-column", "cls"], capsys)


def test_entry_point_reports_errors_without_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.compare", "--dataset", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "unknown dataset" in proc.stderr


def test_named_data_run_like_digits_and_the_shared_sets_are_not_in_the_wheel(tmp_path, capsys):
    """``main(named=...)`` adds data sets by name (the lab's shared tables): no CSV speed
    rule, no --tune by default, the given command in results.json."""
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(2 * i, 1.0, (n, 3)) for i, n in enumerate((40, 20, 8))])
    y = np.repeat([0, 1, 2], (40, 20, 8))
    named = {"toy": lambda: (X, y, "toy set 'toy'")}
    out = tmp_path / "toy"
    args = ["--dataset", "toy", "--methods", "erm", "--seed-list", "0", "--epochs", "1"]
    args += ["--no-figures", "--quiet", "--out", str(out)]
    assert main(args, named=named, command="lab") == 0
    doc = _load(out)
    assert doc["command"].startswith("lab --dataset toy ")
    assert doc["config"]["train"]["batch_size"] == 64
    assert doc["config"]["train"]["tensor_loader"] is False and "tune" not in doc["config"]
    assert doc["dataset"]["description"].startswith("toy set 'toy', 68 samples, 3 features")
    assert doc["dataset"]["kind"] == "natural"
    with pytest.raises(SystemExit):
        main(["--dataset", "satimage", "--out", str(tmp_path / "x")])
    assert "unknown dataset 'satimage'" in capsys.readouterr().err
