"""M2MOverSampler on hostile but realistic input (issue 11): each case failed before."""

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from m2m_sampler import M2MOverSampler
from m2m_sampler.over_sampler import LOW_ACCEPTANCE_SHARE


def _blobs(counts=(60, 20), seed=0):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(n, 2) * 0.3 + c for c, n in enumerate(counts)])
    return X, np.repeat(np.arange(len(counts)), counts)


class Linear2(nn.Module):
    """Logits ``(-10 x_0, 10 x_0) + b``: class 1 to the right of 0.5."""

    def __init__(self, order=(0, 1)):
        super().__init__()
        self.lin = nn.Linear(2, 2)
        with torch.no_grad():
            self.lin.weight.copy_(torch.tensor([[-10.0, 0.0], [10.0, 0.0]])[list(order)])
            self.lin.bias.copy_(torch.tensor([5.0, -5.0])[list(order)])

    def forward(self, x):
        return self.lin(x)


def test_amp_dtype_on_float64_x_translates_and_keeps_the_dtype():
    X, y = _blobs()
    X_res, _ = M2MOverSampler(beta=0.9, amp_dtype=torch.bfloat16, random_state=0).fit_resample(
        X, y
    )
    assert X_res.dtype == np.float64 and np.isfinite(X_res).all()


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_a_double_or_bf16_g_is_accepted(dtype):
    X, y = _blobs()
    sampler = M2MOverSampler(Linear2().to(dtype), beta=0.9, gamma=0.6, step_size=0.5,
                             random_state=0)
    X_res, y_res = sampler.fit_resample(X.astype(np.float32), y)
    assert X_res.dtype == np.float32 and np.bincount(y_res).tolist() == [60, 60]
    assert sampler.is_translated_.sum() > 0


def test_logits_out_of_label_order_warn():
    X, y = _blobs()
    with pytest.warns(UserWarning, match="not in sorted label order"):
        M2MOverSampler(Linear2(order=(1, 0)), beta=0.9, random_state=0).fit_resample(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the right order warns about nothing
        M2MOverSampler(Linear2(), beta=0.9, gamma=0.6, step_size=0.5,
                       random_state=0).fit_resample(X, y)


def test_a_g_returning_probabilities_is_refused():
    X, y = _blobs()
    probs = nn.Sequential(Linear2(), nn.Softmax(dim=1))
    with pytest.raises(ValueError, match="seems to return probabilities"):
        M2MOverSampler(probs, beta=0.9).fit_resample(X, y)


def test_clip_low_above_high_is_refused():
    X, y = _blobs()
    with pytest.raises(ValueError, match="low <= high"):
        M2MOverSampler(beta=0.9, clip=(1, 0)).fit_resample(X, y)
    with pytest.raises(ValueError, match="low <= high"):
        M2MOverSampler(beta=0.9, clip=([0, 1], [1, 0])).fit_resample(X, y)


def test_nothing_accepted_warns_and_says_what_to_change():
    X, y = _blobs()
    # steps far too small for the data's scale: nothing reaches class 1
    with pytest.warns(UserWarning, match="close to random over-sampling") as record:
        sampler = M2MOverSampler(Linear2(), beta=0.9, step_size=1e-4, random_state=0)
        sampler.fit_resample(X, y)
    assert "gamma test" in str(record[0].message) and "step_size" in str(record[0].message)
    assert sampler.is_translated_.mean() < LOW_ACCEPTANCE_SHARE
    # the Bernoulli draw rejects nearly everything: lower beta
    with pytest.warns(UserWarning, match="lower beta"):
        M2MOverSampler(Linear2(), beta=0.9999, step_size=0.5, gamma=0.6,
                       random_state=0).fit_resample(X, y)


def test_float16_x_keeps_its_dtype():
    X, y = _blobs()
    X_res, _ = M2MOverSampler(Linear2(), beta=0.9, gamma=0.6, step_size=0.5,
                              random_state=0).fit_resample(X.astype(np.float16), y)
    assert X_res.dtype == np.float16


def test_converting_an_sklearn_g_leaves_torchs_global_stream_alone():
    from sklearn.linear_model import LogisticRegression

    X, y = _blobs()
    g = LogisticRegression().fit(X, y)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    M2MOverSampler(g, beta=0.9, gamma=0.6, step_size=0.5, random_state=0).fit_resample(X, y)
    assert torch.equal(torch.rand(3), expected)


def test_warnings_point_at_the_callers_line():
    X, y = _blobs()
    with pytest.warns(UserWarning, match="close to random") as record:
        M2MOverSampler(Linear2(), beta=0.9, step_size=1e-4, random_state=0).fit_resample(X, y)
    assert record[0].filename == __file__
