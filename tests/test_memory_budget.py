"""The memory-budget warning of M2MOverSampler's output (m2m_sampler.engine.memory)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import m2m_sampler.engine.memory as memory
from m2m_sampler import M2MOverSampler
from m2m_sampler.engine.memory import MemoryBudgetWarning, check_resampled_size


def test_check_resampled_size_figures():
    # Reuters-21578 (36 classes, largest 2,840) with 10,000 float32 features
    n_rows, n_new = 36 * 2840, 36 * 2840 - 6436
    with pytest.warns(MemoryBudgetWarning) as rec:
        n_bytes = check_resampled_size(n_rows, 10_000, np.float32, n_new=n_new)
    assert n_bytes == 102_240 * 10_000 * 4 == 4_089_600_000
    msg = str(rec[0].message)
    assert "102,240 rows x 10,000 features of float32 = 3.81 GiB" in msg
    assert "95,804 new rows" in msg and "7.38 GiB at the peak" in msg
    assert "budget of 1.00 GiB" in msg and "sampling_strategy" in msg
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_resampled_size(1000, 64, np.float64, n_new=10) == 512_000
        check_resampled_size(100, 10, np.float32, n_new=50, budget=4000)  # exactly at it


def test_over_sampler_warns_before_translating_and_output_is_unchanged(monkeypatch):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(130, 5)).astype(np.float32)
    y = np.array([0] * 100 + [1] * 20 + [2] * 10)
    g = LogisticRegression().fit(X, y)
    quiet = M2MOverSampler(g=g, beta=0.5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MemoryBudgetWarning)
        X_ref, y_ref = quiet.fit_resample(X, y)
    # 300 rows x 5 float32 = 6,000 bytes; a budget of 5,999 makes it warn
    monkeypatch.setattr(memory, "OUTPUT_MEMORY_BUDGET", 5999)
    with pytest.warns(MemoryBudgetWarning, match=r"300 rows x 5 features of float32"):
        X_res, y_res = M2MOverSampler(g=g, beta=0.5, random_state=0).fit_resample(X, y)
    np.testing.assert_array_equal(X_res, X_ref)
    np.testing.assert_array_equal(y_res, y_ref)
    monkeypatch.setattr(memory, "OUTPUT_MEMORY_BUDGET", 6000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MemoryBudgetWarning)
        M2MOverSampler(
            g=g, beta=0.5, random_state=0, sampling_strategy={1: 100, 2: 100}
        ).fit_resample(X, y)
