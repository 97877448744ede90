"""The benchmark command's CSV path: input checks, exit codes, --tune, text, speed rule."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import balanced_accuracy_score

import benchmarks.compare.__main__ as cli
from benchmarks.compare import M2mParams, TrainParams, load_bench_data
from benchmarks.compare.acceptance import acceptance_totals, low_acceptance_warning
from benchmarks.compare.data import text_features
from benchmarks.compare.methods import MethodContext, build_pipeline
from benchmarks.compare.speed_rule import csv_batch_size, fast_train_params
from benchmarks.compare.tuning import (
    CARVING_SEED,
    METHOD_GRIDS,
    m2m_grid,
    tune_methods,
    tuned_settings,
)
from benchmarks.compare.validation import balanced_log_loss, carve_validation, ranking_key
from m2m_sampler.over_sampler import LOW_ACCEPTANCE_SHARE

pd = pytest.importorskip("pandas")

FAST = ["--seed-list", "0", "--epochs", "2", "--no-figures", "--quiet"]


def _csv(path, n=(60, 30, 12), label=None, **extra):
    """Three Gaussian classes in 3 features (class means 0, 2, 4), label column 'cls'."""
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(2 * i, 1.0, (k, 3)) for i, k in enumerate(n)])
    y = np.repeat(["a", "b", "c"] if label is None else label, n)
    df = pd.DataFrame(X, columns=["x1", "x2", "x3"]).assign(cls=y, **extra)
    df.to_csv(path, index=False)
    return path


def _error(args, capsys, status=2):
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    err = capsys.readouterr().err
    assert exc.value.code == status, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("benchmarks.compare: error:"), err
    return lines[0]


# ------------------------------------------------------------------ issue 11, item 6


def test_csv_with_infinity_is_refused_in_one_line(tmp_path, capsys):
    csv = _csv(tmp_path / "d.csv")
    text = csv.read_text().splitlines()
    cells = text[3].split(",")
    cells[1] = "inf"  # third data row, column x2
    text[3] = ",".join(cells)
    csv.write_text("\n".join(text) + "\n")
    line = _error(["--dataset", str(csv), "--label-column", "cls", "--out", str(tmp_path)], capsys)
    assert "infinite values" in line and "['x2']" in line and "data row 3" in line


def test_entry_point_refuses_infinity_without_traceback(tmp_path):
    csv = _csv(tmp_path / "d.csv")
    df = pd.read_csv(csv)
    df.loc[5, "x1"] = -np.inf
    df.to_csv(csv, index=False)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.compare",
            "--dataset",
            str(csv),
            "--label-column",
            "cls",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.strip().count("\n") == 0
    assert "infinite values" in proc.stderr and "['x1']" in proc.stderr


def test_continuous_labels_are_refused(tmp_path, capsys):
    csv = _csv(tmp_path / "d.csv", n=(20, 20, 20), label=[0.5, 1.5, 2.25])
    line = _error(["--dataset", str(csv), "--label-column", "cls", "--out", str(tmp_path)], capsys)
    assert "fractional parts" in line and "2.25" in line and "class labels" in line


def test_integral_float_labels_are_integer_classes(tmp_path):
    csv = _csv(tmp_path / "d.csv", n=(30, 20, 10), label=[0.0, 1.0, 2.0])
    assert "0.0" in csv.read_text()  # the file really holds floats
    data = load_bench_data(str(csv), label_column="cls")
    assert data.y.dtype == np.int64 and data.classes.tolist() == [0, 1, 2]
    out = tmp_path / "o"
    args = ["--dataset", str(csv), "--label-column", "cls", "--methods", "erm", "--no-tune"]
    assert cli.main([*args, *FAST, "--out", str(out)]) == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["classes"] == [0, 1, 2]


def test_csv_with_only_the_label_column_is_refused(tmp_path, capsys):
    csv = tmp_path / "d.csv"
    csv.write_text("cls\n" + "\n".join("ab"[i % 2] for i in range(20)) + "\n")
    line = _error(["--dataset", str(csv), "--label-column", "cls", "--out", str(tmp_path)], capsys)
    assert "no feature column" in line


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--step-size", "inf"], "--step-size: expected a finite number"),
        (["--seed-list", "-1"], "--seed-list: seeds must be integers in [0, 2**32 - 1]"),
        (["--seed-list", "0,4294967296"], "[4294967296]"),
        (["--lam", "nan"], "--lam: expected a finite number"),
    ],
)
def test_arguments_that_made_every_method_na_are_refused(args, needle, tmp_path, capsys):
    short = ["--methods", "erm,m2m", "--epochs", "1", "--no-figures", "--quiet"]
    assert needle in _error([*args, *short, "--out", str(tmp_path)], capsys)


def test_every_method_na_exits_non_zero_after_writing(tmp_path, capsys):
    # stratified split: one 'rare' sample in training, so SMOTE cannot run on any seed
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(0, 1, (40, 2)), rng.normal(3, 1, (2, 2))])
    csv = tmp_path / "d.csv"
    pd.DataFrame(X, columns=["u", "v"]).assign(cls=["a"] * 40 + ["rare"] * 2).to_csv(
        csv, index=False
    )
    out = tmp_path / "o"
    args = ["--dataset", str(csv), "--label-column", "cls", "--methods", "smote", "--no-tune"]
    line = _error([*args, *FAST, "--out", str(out)], capsys, status=1)
    assert "no method ran on any seed" in line and "'rare'" in line
    doc = json.loads((out / "results.json").read_text())
    assert doc["summary"]["smote"]["n_ok"] == 0


def test_output_is_an_alias_of_out(tmp_path):
    out = tmp_path / "via_output"
    assert cli.main(["--methods", "erm", *FAST, "--output", str(out)]) == 0
    assert (out / "results.json").is_file()
    assert cli.build_parser().parse_args(["--output", "x"]).out == "x"


def test_unwritable_output_folder_is_refused_before_any_computation(tmp_path, capsys, monkeypatch):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        writable = os.access(out, os.W_OK)
        if writable:  # root ignores the mode bits: make the write probe fail instead

            def refuse(*a, **k):
                raise PermissionError(13, "Permission denied")

            monkeypatch.setattr(cli.tempfile, "mkstemp", refuse)

        def no_data(*a, **k):
            raise AssertionError("data loaded before the output folder was checked")

        monkeypatch.setattr(cli, "load_bench_data", no_data)
        line = _error(["--methods", "erm", *FAST, "--out", str(out)], capsys)
        assert "cannot write into the output folder" in line and "Permission denied" in line
    finally:
        out.chmod(0o755)


@pytest.mark.skipif(not os.path.isdir("/sys") or os.name != "posix", reason="needs /sys")
def test_read_only_file_system_folder_is_refused(capsys):
    if os.access("/sys", os.W_OK) and not os.path.ismount("/sys"):
        pytest.skip("/sys is writable here")
    line = _error(["--methods", "erm", *FAST, "--out", "/sys"], capsys)
    assert "cannot write into the output folder '/sys'" in line


# ------------------------------------------------------------------ issue 15, item 4


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    path = tmp_path_factory.mktemp("toy") / "toy.csv"
    return load_bench_data(str(_csv(path, n=(80, 40, 16))), label_column="cls")


def test_tune_methods_scores_every_candidate_on_the_carved_validation_part(toy):
    split = toy.split(0)
    train = TrainParams(epochs=3, batch_size=32)
    m2m = M2mParams(step_size=0.2)
    methods = ["erm", "ros", "smote", "reweight", "m2m"]
    tunings = tune_methods(toy, split, methods, train, m2m)
    assert list(tunings) == methods
    assert tunings["ros"] == {"chosen": {}, "candidates": []}
    assert tunings["erm"]["chosen"] == {} and len(tunings["erm"]["candidates"]) == 1
    # grids: SMOTE's k in (5, 3, 10) (10 capped at n_min - 1 = 8 of the fit part),
    # RW's power in (1, 0.5), M2m's 2 betas x 2 gammas x (0.2, 2.0)
    assert [c["params"] for c in tunings["smote"]["candidates"]] == [
        {"k_neighbors": k} for k in METHOD_GRIDS["smote"]["k_neighbors"]
    ]
    assert [c["params"]["power"] for c in tunings["reweight"]["candidates"]] == [1.0, 0.5]
    steps = sorted({c["params"]["step_size"] for c in tunings["m2m"]["candidates"]})
    assert steps == pytest.approx([0.2, 2.0]) and len(tunings["m2m"]["candidates"]) == 8
    for key in ("smote", "reweight", "m2m"):
        t = tunings[key]
        best = max(t["candidates"], key=ranking_key)
        assert t["chosen"] == best["params"]
    assert all(0 <= c["acceptance_rate"] <= 1 for c in tunings["m2m"]["candidates"])

    # independent re-computation of RW's candidate power=0.5 on the same carving
    fit, val = carve_validation(split.y_train, 0.25, CARVING_SEED)
    ctx = MethodContext.for_training_set(toy, split.y_train[fit], split.seed, train)
    ctx.params = {"reweight": {"power": 0.5}}
    pipe = build_pipeline("reweight", ctx).fit(split.X_train[fit], split.y_train[fit])
    proba = pipe.predict_proba(split.X_train[val])
    row = tunings["reweight"]["candidates"][1]
    assert row["val_bacc"] == balanced_accuracy_score(
        split.y_train[val], toy.classes[proba.argmax(axis=1)]
    )
    assert row["val_log_loss"] == balanced_log_loss(split.y_train[val], proba, toy.classes)
    # the loss weights of that candidate are n_k ** -0.5, summing to 3
    w = pipe.named_steps["net"].criterion__weight.numpy()
    n = ctx.train_counts.astype(float)
    np.testing.assert_allclose(w, n**-0.5 * 3 / (n**-0.5).sum(), rtol=1e-6)

    params, chosen_m2m = tuned_settings(tunings, m2m)
    chosen = {k: t["chosen"] for k, t in tunings.items()}
    assert params == {"smote": chosen["smote"], "reweight": chosen["reweight"]}
    assert chosen_m2m.step_size == chosen["m2m"]["step_size"]
    assert chosen_m2m.n_steps == m2m.n_steps and chosen_m2m.f == m2m.f


def test_m2m_grid_spans_beta_gamma_and_step_around_the_given_step():
    grid = m2m_grid(M2mParams(step_size=0.05, n_steps=7, lam=0.3, f="g"))
    assert grid["beta"] == grid["gamma"] == [0.99, 0.9]
    assert grid["step_size"] == pytest.approx([0.05, 0.5]) and len(grid) == 3


def test_tune_is_on_by_default_for_a_csv_and_the_table_shows_the_choices(tmp_path, capsys):
    csv = _csv(tmp_path / "d.csv", n=(60, 30, 12))
    out = tmp_path / "o"
    args = ["--dataset", str(csv), "--label-column", "cls", "--methods", "smote,m2m"]
    assert (
        cli.main([*args, "--seed-list", "0", "--epochs", "2", "--no-figures", "--out", str(out)])
        == 0
    )
    printed = capsys.readouterr().out
    doc = json.loads((out / "results.json").read_text())
    cfg = doc["config"]
    assert cfg["tune"] is True
    smote_k = cfg["tuning"]["smote"]["chosen"]["k_neighbors"]
    chosen = cfg["tuning"]["m2m"]["chosen"]
    # the run used the chosen values
    assert cfg["method_params"] == {"smote": {"k_neighbors": smote_k}}
    assert {k: cfg["m2m"][k] for k in chosen} == chosen
    assert f"k_neighbors={smote_k}" in printed and "Chosen on validation" in printed
    md = (out / "results.md").read_text()
    assert "Hyper-parameters chosen on validation" in md and f"k_neighbors={smote_k}" in md
    acc = doc["summary"]["m2m"]["acceptance_rate_mean"]
    assert f"/ {100 * acc:.1f} |" in md  # M2m's accepted share in the run


def test_tune_is_off_by_default_for_the_shared_sets():
    assert cli.build_parser().parse_args([]).tune is None  # resolved: on for CSV only
    assert cli.build_parser().parse_args(["--no-tune"]).tune is False


# ------------------------------------------------------------------ low acceptance


def _rows(accepted, gamma, beta, fallback=0):
    stats = {
        "b": {
            "n_new": accepted + gamma + beta + fallback,
            "n_accepted": accepted,
            "n_rejected_gamma": gamma,
            "n_rejected_beta": beta,
            "n_fallback": fallback,
        }
    }
    return [
        {"method": "m2m", "status": "ok", "class_stats": stats},
        {"method": "ros", "status": "ok"},
    ]


def test_low_acceptance_warning_threshold_and_advice():
    assert LOW_ACCEPTANCE_SHARE == 0.1
    # exactly the share: no warning; one fewer accepted: warning
    assert low_acceptance_warning(_rows(10, 60, 30)) is None
    msg = low_acceptance_warning(_rows(9, 61, 30))
    assert "9 of its 100 planned" in msg and "close to random over-sampling" in msg
    assert "lower --gamma" in msg and "--step-size" in msg and "61 failed the gamma" in msg
    msg = low_acceptance_warning(_rows(0, 10, 90), tuned=True)
    assert "90 were rejected by the beta draw: lower --beta" in msg and "--tune" in msg
    # fallback copies (no larger class) are not planned translations
    assert acceptance_totals(_rows(5, 20, 20, fallback=50))["planned"] == 45
    assert low_acceptance_warning(_rows(5, 20, 20, fallback=50)) is None


def test_command_warns_when_m2m_accepts_too_few(tmp_path, capsys):
    csv = _csv(tmp_path / "d.csv", n=(60, 30, 12))
    out = tmp_path / "o"
    # beta = 0: no source is rejected by the beta draw; gamma = 1: g's probability must
    # reach 1, which a 2-epoch network never gives
    args = ["--dataset", str(csv), "--label-column", "cls", "--methods", "m2m", "--no-tune"]
    assert cli.main([*args, *FAST, "--beta", "0", "--gamma", "1", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    warn = [ln for ln in err.splitlines() if ln.startswith("benchmarks.compare: warning:")]
    assert len(warn) == 1 and "accepted only 0 of its" in warn[0] and "lower --gamma" in warn[0]
    assert "UserWarning" not in err  # the sampler's per-fit warning is summed up, not repeated
    assert "**Warning:** M2m accepted only 0" in (out / "results.md").read_text()


# ------------------------------------------------------------------ text column


def test_text_features_are_sklearn_tfidf_of_the_hashed_terms():
    docs = ["oil prices rise again", "wheat prices fall", "oil output oil rise"]
    X = text_features().fit_transform(docs)
    ref = TfidfVectorizer(sublinear_tf=True).fit_transform(docs).toarray()
    assert X.shape == (3, 4096) and X.dtype == np.float32
    for row, want in zip(X, ref):  # same values (no hash collision among 6 terms)
        np.testing.assert_allclose(np.sort(row[row > 0]), np.sort(want[want > 0]), rtol=1e-6)


def test_text_column_csv_trains_on_tfidf(tmp_path):
    rng = np.random.RandomState(0)
    words = {"a": "oil crude barrel", "b": "wheat grain harvest", "c": "bank rate loan"}
    labels = np.repeat(["a", "b", "c"], [40, 20, 10])
    texts = [f"{words[c]} " + " ".join(rng.choice(["the", "said", "it"], 3)) for c in labels]
    csv = tmp_path / "t.csv"
    pd.DataFrame({"id": np.arange(len(labels)), "body": texts, "topic": labels}).to_csv(
        csv, index=False
    )
    out = tmp_path / "o"
    args = ["--dataset", str(csv), "--label-column", "topic", "--text-column", "body"]
    args += ["--methods", "erm,m2m", "--no-tune", "--seed-list", "0", "--epochs", "20"]
    args += ["--lr", "0.01"]
    assert cli.main([*args, "--no-figures", "--quiet", "--out", str(out)]) == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["dataset"]["n_features"] == 4096 and doc["dataset"]["standardized"] is False
    assert "TF-IDF" in doc["dataset"]["description"]
    erm = next(r for r in doc["rows"] if r["method"] == "erm")
    assert erm["balanced_accuracy"] == 1.0  # the topics' words never overlap


def test_text_column_errors(tmp_path, capsys):
    csv = tmp_path / "t.csv"
    pd.DataFrame({"body": ["a b"] * 6, "topic": list("xyxyxy")}).to_csv(csv, index=False)
    base = ["--dataset", str(csv), "--label-column", "topic", "--out", str(tmp_path)]
    assert "'text' not found" in _error([*base, "--text-column", "text"], capsys)
    assert "same column" in _error([*base, "--text-column", "topic"], capsys)
    assert "CSV file only" in _error(["--text-column", "body", "--out", str(tmp_path)], capsys)


# ------------------------------------------------------------------ speed rule


def test_csv_batch_size_rule():
    # 2 ** round(log2(n / 16)) within [64, 256]; 2 ** 6.5 * 16 = 1448.2
    sizes = (10, 1448, 1449, 2000, 3934, 7000, 10**6)
    assert [csv_batch_size(n) for n in sizes] == [64, 64, 128, 128, 256, 256, 256]
    with pytest.raises(ValueError):
        csv_batch_size(0)
    base = TrainParams(lr=0.002, epochs=7)
    fast = fast_train_params(base, 3934)
    assert (fast.batch_size, fast.lr, fast.epochs, fast.tensor_loader) == (256, 0.008, 7, True)
    assert base.batch_size == 64 and base.lr == 0.002 and base.tensor_loader is False


def test_csv_path_uses_the_rule_and_the_shared_sets_do_not(tmp_path):
    csv = _csv(tmp_path / "d.csv", n=(60, 30, 12))
    out = tmp_path / "o"
    args = ["--dataset", str(csv), "--label-column", "cls", "--methods", "erm", "--no-tune"]
    assert cli.main([*args, *FAST, "--out", str(out)]) == 0
    train = json.loads((out / "results.json").read_text())["config"]["train"]
    # 71 training rows: batch 64, lr as given
    assert train["tensor_loader"] is True and train["batch_size"] == 64 and train["lr"] == 1e-3
    assert cli.main([*args, *FAST, "--batch-size", "16", "--out", str(out)]) == 0
    train = json.loads((out / "results.json").read_text())["config"]["train"]
    assert train["batch_size"] == 16 and train["lr"] == 1e-3
    big = _csv(tmp_path / "big.csv", n=(2000, 700, 300))  # 2100 training rows
    assert cli.main(["--dataset", str(big), *args[2:], *FAST, "--out", str(out)]) == 0
    train = json.loads((out / "results.json").read_text())["config"]["train"]
    assert train["batch_size"] == 128 and train["lr"] == pytest.approx(2e-3)
    assert cli.main(["--methods", "erm", *FAST, "--out", str(out)]) == 0
    train = json.loads((out / "results.json").read_text())["config"]["train"]
    assert train["tensor_loader"] is False and train["batch_size"] == 64
