"""Test-session settings.

The models in the tests are tiny: one torch thread is as fast as two on the 2-core CI
machines, and it keeps the suite from slowing down several-fold when another process
competes for the cores (oversubscribed OpenMP threads spin).
"""

import pytest
import torch

from m2m_sampler.datasets import load_digits_lt

torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """One torch thread in every test module, whatever an earlier module left set."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def digits():
    """digits-LT (imbalance ratio 10): ``X, y, X_test, y_test``, pixels in [0, 1]."""
    X, y, X_test, y_test = load_digits_lt(imbalance_ratio=10, return_X_y=True)
    return X, y, X_test, y_test
