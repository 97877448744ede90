"""random_state=None follows torch's global generator; ranks must pass the same data.

Issue 23: ``random_state=None`` drew the plan from numpy's global generator, so
``torch.manual_seed`` did not make the output reproducible (the README said it did).
The multi-process check of the data is in tests/test_distributed.py.
"""

# ruff: noqa: NPY002  (the test sets numpy's legacy global generator on purpose)

import numpy as np
import torch
from sklearn.datasets import make_classification

from m2m_sampler import M2MOverSampler
from m2m_sampler.engine.sharding import check_same_data


def _data():
    return make_classification(
        n_samples=120, n_features=5, n_informative=3, n_redundant=0, n_classes=3,
        weights=[0.7, 0.2, 0.1], random_state=0,
    )


def _fit_none(X, y, torch_seed, numpy_seed):
    torch.manual_seed(torch_seed)
    np.random.seed(numpy_seed)  # a different numpy global state every time
    sampler = M2MOverSampler(beta=0.9, step_size=0.5, n_steps=3, random_state=None)
    return sampler.fit_resample(X, y)


def test_random_state_none_is_reproducible_under_torch_manual_seed():
    X, y = _data()
    X1, y1 = _fit_none(X, y, torch_seed=3, numpy_seed=1)
    X2, y2 = _fit_none(X, y, torch_seed=3, numpy_seed=2)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert len(X1) > len(X)  # something was generated
    X3, _ = _fit_none(X, y, torch_seed=4, numpy_seed=1)
    assert not np.array_equal(X1, X3)  # another torch seed, another output


def test_random_state_none_does_not_touch_numpy_global_generator():
    X, y = _data()
    np.random.seed(0)
    expected = np.random.random_sample()
    np.random.seed(0)
    M2MOverSampler(beta=0.9, step_size=0.5, n_steps=3).fit_resample(X, y)
    assert np.random.random_sample() == expected


def test_check_same_data_is_a_no_op_without_a_process_group():
    X, y = _data()
    assert check_same_data(X, y, np.unique(y)) is None
