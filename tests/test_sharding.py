"""M2MOverSampler over several shards: the plan is drawn once, the translation of the
planned rows is split into shards of whole chunks, and the output is bit-identical to the
single-device output on the CPU (the multi-process run is in test_distributed.py)."""

import numpy as np
import pytest
import torch

from m2m_sampler import M2MOverSampler
from m2m_sampler.engine.sharding import shard_bounds
from m2m_sampler.engine.translation import random_start, skip_random_starts


def test_shard_bounds_are_whole_contiguous_chunks():
    # 10 survivors in chunks of 3: chunks [0,3) [3,6) [6,9) [9,10).
    assert shard_bounds(10, 3, 1) == [(0, 10)]
    assert shard_bounds(10, 3, 2) == [(0, 6), (6, 10)]
    assert shard_bounds(10, 3, 3) == [(0, 6), (6, 9), (9, 10)]
    assert shard_bounds(10, 3, 5) == [(0, 3), (3, 6), (6, 9), (9, 10), (10, 10)]
    assert shard_bounds(0, 3, 2) == [(0, 0), (0, 0)]
    with pytest.raises(ValueError, match="n_shards"):
        shard_bounds(10, 3, 0)


def test_skip_random_starts_leaves_the_generator_where_random_start_does():
    x = torch.zeros(5, 2, 3)
    one = torch.Generator().manual_seed(7)
    random_start(x[:2], 0.3, one)  # chunk 1
    random_start(x[2:4], 0.3, one)  # chunk 2
    expected = random_start(x[4:], 0.3, one)  # chunk 3
    skipped = torch.Generator().manual_seed(7)
    skip_random_starts([2, 2], (2, 3), 0.3, skipped)
    assert torch.equal(random_start(x[4:], 0.3, skipped), expected)
    # radius 0: random_start draws nothing, and nothing is skipped.
    untouched = torch.Generator().manual_seed(7)
    skip_random_starts([2, 2], (2, 3), 0.0, untouched)
    assert torch.equal(untouched.get_state(), torch.Generator().manual_seed(7).get_state())


def _resample(X, y, **params):
    sampler = M2MOverSampler(beta=0.9, step_size=0.5, batch_size=48, random_state=0, **params)
    X_res, y_res = sampler.fit_resample(X, y)
    return sampler, X_res, y_res


def test_one_two_and_three_shards_give_bit_identical_output(digits):
    X, y, _, _ = digits
    ref, X_ref, y_ref = _resample(X, y, device="cpu")
    n_survivors = sum(s["n_accepted"] + s["n_rejected_gamma"] for s in ref.class_stats_.values())
    assert n_survivors > 3 * 48  # every one of 3 shards gets chunks
    assert 0.2 < ref.is_translated_.mean() < 1  # translations and copies both present
    for n in (1, 2, 3):
        sampler, X_res, y_res = _resample(X, y, device=["cpu"] * n)
        assert sampler.n_shards_ == n
        np.testing.assert_array_equal(X_res, X_ref)
        np.testing.assert_array_equal(y_res, y_ref)
        np.testing.assert_array_equal(sampler.is_translated_, ref.is_translated_)
        np.testing.assert_array_equal(sampler.source_indices_, ref.source_indices_)
        assert sampler.class_stats_ == ref.class_stats_


def test_shards_with_several_models_and_clipping(digits):
    """f's term, clipping and image-shaped inputs go through every shard the same way."""
    X, y, _, _ = digits
    g = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    torch.manual_seed(0)
    with torch.no_grad():  # a g that agrees with y on its training rows
        g[1].weight.copy_(
            torch.as_tensor(
                np.stack([X[y == c].mean(0) for c in range(10)]) * 20, dtype=torch.float32
            )
        )
        g[1].bias.copy_(-(g[1].weight ** 2).sum(1) / 40)
    f = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    params = dict(g=g, f=f, input_shape=(1, 8, 8), clip=(0.0, 1.0), n_steps=3, gamma=0.5)
    _, X_one, _ = _resample(X, y, device="cpu", **params)
    _, X_three, _ = _resample(X, y, device=("cpu", "cpu", "cpu"), **params)
    np.testing.assert_array_equal(X_three, X_one)


def test_distributed_true_without_a_process_group_warns_and_translates_here(digits):
    X, y, _, _ = digits
    _, X_ref, _ = _resample(X[:400], y[:400])
    with pytest.warns(UserWarning, match="no torch.distributed process group"):
        sampler, X_res, _ = _resample(X[:400], y[:400], distributed=True)
    assert sampler.n_shards_ == 1
    np.testing.assert_array_equal(X_res, X_ref)


@pytest.mark.parametrize(
    "device, match",
    [([], "no device"), (["cpu", "tpu:9"], "not a torch device"), ("nope", "not a torch device")],
)
def test_bad_device_lists_are_refused(digits, device, match):
    X, y, _, _ = digits
    X_before = X.copy()
    with pytest.raises(ValueError, match=match):
        M2MOverSampler(device=device, random_state=0).fit_resample(X, y)
    np.testing.assert_array_equal(X, X_before)


def test_distributed_parameter_is_validated(digits):
    X, y, _, _ = digits
    with pytest.raises(ValueError, match="distributed"):
        M2MOverSampler(distributed="yes").fit_resample(X, y)
