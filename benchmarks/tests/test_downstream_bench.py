"""benchmarks.downstream: M2MOverSampler in front of other models (issue 15, item 6)."""

import importlib
import json

import numpy as np
import pytest
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import Pipeline
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.preprocessing import StandardScaler

from benchmarks.downstream import M2M_SETTINGS, load_downstream_data
from m2m_sampler import M2MOverSampler


def _pipeline_scores(X, y, sampler):
    pipe = Pipeline(
        [
            ("scaler", StandardScaler()),
            ("sampler", sampler),
            ("clf", LogisticRegression(max_iter=1000)),
        ]
    )
    cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    return cross_val_score(pipe, X, y, cv=cv, scoring="balanced_accuracy")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_study_runs_on_a_tiny_input_and_matches_a_pipeline(tmp_path):
    main = importlib.import_module("benchmarks.downstream").main
    out = tmp_path / "out"
    assert (
        main(
            [
                "--datasets",
                "synthetic",
                "--n-splits",
                "2",
                "--n-samples",
                "150",
                "--mlp-epochs",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    doc = json.loads((out / "downstream.json").read_text())
    md = (out / "downstream.md").read_text()
    assert doc["command"].startswith("python -m benchmarks.downstream --datasets synthetic")
    assert doc["machine"]["cpu_count"] >= 1 and doc["process_cpu_s"] > 0
    (res,) = doc["results"]
    rows = {(r["sampler"], r["g"], r["model"]): r for r in res["rows"]}
    # every model with the three baselines; g = the model only where it converts
    for m in ("logreg", "hgb", "mlp"):
        for s in ("none", "ros", "smote"):
            assert len(rows[(s, "-", m)]["fold_bacc"]) == 2
        for name in M2M_SETTINGS:
            r = rows[(f"m2m[{name}]", "mlp-default", m)]
            assert 0.0 <= r["accepted_share_mean"] <= 1.0
    assert (f"m2m[{next(iter(M2M_SETTINGS))}]", "same as model", "hgb") not in rows
    assert ("m2m[default]", "same as model", "logreg") in rows
    assert "| no re-balancing |" in md and "HistGradientBoosting" in md

    # the shared resampling gives exactly what an imbalanced-learn Pipeline gives
    data = load_downstream_data("synthetic", n_samples=150)
    ros = _pipeline_scores(data.X, data.y, RandomOverSampler(random_state=0))
    np.testing.assert_allclose(rows[("ros", "-", "logreg")]["fold_bacc"], ros)
    name = "beta0.9-step0.5"
    m2m = _pipeline_scores(
        data.X, data.y, M2MOverSampler(device="cpu", random_state=0, **M2M_SETTINGS[name])
    )
    np.testing.assert_allclose(rows[(f"m2m[{name}]", "mlp-default", "logreg")]["fold_bacc"], m2m)
    # not the same numbers as no re-balancing (the pipeline check can fail)
    assert not np.allclose(rows[("none", "-", "logreg")]["fold_bacc"], m2m)


def test_synthetic_set_is_the_issues():
    data = load_downstream_data("synthetic")
    assert data.X.shape == (1500, 20)
    counts = np.bincount(data.y)
    assert counts.tolist() == pytest.approx([1200, 225, 75], abs=15)
