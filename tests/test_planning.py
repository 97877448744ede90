"""Source selection (Eq. 3-5, Algorithm 1 lines 2-6, the batch-wise rule) and rejection."""

import math

import numpy as np
import pytest
import torch

from m2m_sampler.engine.planning import (
    acceptance_probability,
    plan_batch_translations,
    plan_translations,
    source_class_distribution,
)
from m2m_sampler.engine.rejection import (
    draw_beta_survivors,
    gamma_from_loss_threshold,
    passes_gamma,
)

COUNTS = np.array([1000, 500, 500, 100, 20])


def test_acceptance_probability_by_hand():
    a = acceptance_probability(COUNTS, 0.99)
    assert a.shape == (5, 5)
    assert a[4, 0] == pytest.approx(1 - 0.99**980)
    assert a[3, 1] == pytest.approx(1 - 0.99**400)
    assert a[1, 2] == 0.0 and a[2, 1] == 0.0  # equal classes never seed each other
    assert a[1, 3] == 0.0  # smaller classes never seed
    assert np.all(np.diag(a) == 0)
    assert np.all(a[0] == 0)  # the largest class has no source class
    # beta = 0: every strictly larger class is accepted with probability one
    np.testing.assert_array_equal(acceptance_probability([3, 2, 1], 0.0),
                                  [[0, 0, 0], [1, 0, 0], [1, 1, 0]])
    # beta = 1: every translation is rejected
    assert not acceptance_probability(COUNTS, 1.0).any()


def test_seed_class_distribution_by_hand():
    q, has_source = source_class_distribution(COUNTS, 0.999)
    w = np.array([1 - 0.999**900, 1 - 0.999**400, 1 - 0.999**400, 0, 0])
    np.testing.assert_allclose(q[3], w / w.sum())
    np.testing.assert_allclose(q[has_source].sum(axis=1), 1.0)
    assert has_source.tolist() == [False, True, True, True, True]
    np.testing.assert_array_equal(q[0], 0.0)
    np.testing.assert_array_equal(q[1], [1, 0, 0, 0, 0])  # only class 0 is larger than 1


def test_plan_follows_q_and_uniform_seeds():
    y = np.repeat(np.arange(5), COUNTS)
    rng = np.random.RandomState(0)
    n = 20000
    plan = plan_translations(y, {4: n, 0: 7}, 0.999, rng)
    assert len(plan.target) == n + 7
    # order: as in the strategy mapping
    assert np.all(plan.target[:n] == 4) and np.all(plan.target[n:] == 0)
    # the largest class is never translated into: fallback copies of its own samples
    assert np.all(plan.fallback[n:]) and np.all(y[plan.source_index[n:]] == 0)
    assert np.all(plan.source_class[n:] == -1) and np.all(plan.accept_probability[n:] == 0)
    k0 = plan.source_class[:n]
    assert np.all(COUNTS[k0] > COUNTS[4])  # strictly larger classes only
    np.testing.assert_array_equal(y[plan.source_index[:n]], k0)  # seed belongs to its class
    q, _ = source_class_distribution(COUNTS, 0.999)
    freq = np.bincount(k0, minlength=5) / n
    # binomial standard error <= 0.0036 at n=20000: 5 sigma
    np.testing.assert_allclose(freq, q[4], atol=0.018)
    # seeds uniform within their class: chi-square over the 100 members of class 3
    members = np.flatnonzero(y == 3)
    hits = np.bincount(np.searchsorted(members, plan.source_index[:n][k0 == 3]), minlength=100)
    expected = hits.sum() / 100
    chi2 = ((hits - expected) ** 2 / expected).sum()
    assert chi2 < 99 + 5 * math.sqrt(2 * 99)
    np.testing.assert_allclose(
        plan.accept_probability[:n], 1 - 0.999 ** (COUNTS[k0] - COUNTS[4])
    )


def test_plan_is_deterministic_and_handles_empty_strategy():
    y = np.repeat(np.arange(5), COUNTS)
    a = plan_translations(y, {3: 50, 4: 80}, 0.9, np.random.RandomState(1))
    b = plan_translations(y, {3: 50, 4: 80}, 0.9, np.random.RandomState(1))
    np.testing.assert_array_equal(a.source_index, b.source_index)
    empty = plan_translations(y, {0: 0, 1: 0}, 0.9, np.random.RandomState(1))
    assert len(empty.target) == 0


def test_batch_rule_share_of_targets_and_seeds():
    counts = torch.tensor([5000.0, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50])
    gen = torch.Generator().manual_seed(0)
    n_batches, size = 400, 128
    targets_per_class = torch.zeros(10)
    entries_per_class = torch.zeros(10)
    n_no_source = 0
    for _ in range(n_batches):
        y = torch.randint(0, 10, (size,), generator=gen)  # class-balanced batch
        plan = plan_batch_translations(y, counts, 0.999, generator=gen)
        assert torch.all(counts[y[plan.source_pos]] > counts[y[plan.target_pos]])
        assert not torch.any(y[plan.target_pos] == 0)  # the largest class is never a target
        assert plan.target_pos.unique().numel() == plan.target_pos.numel()
        entries_per_class += torch.bincount(y, minlength=10)
        targets_per_class += torch.bincount(y[plan.target_pos], minlength=10)
        n_no_source += plan.n_no_source
    share = targets_per_class / entries_per_class
    expected = 1 - counts / counts.max()
    # targets with no larger class in the batch are rare with 128 entries: ignore them
    assert n_no_source < 0.01 * targets_per_class.sum()
    torch.testing.assert_close(share, expected, atol=0.03, rtol=0)


def test_batch_rule_seed_weights():
    # batch: one entry of each class 0..2, and the target is the class-2 entry
    counts = torch.tensor([1000.0, 600.0, 10.0])
    y = torch.tensor([0, 1, 2])
    gen = torch.Generator().manual_seed(0)
    seeds = []
    for _ in range(4000):
        plan = plan_batch_translations(y, counts, 0.999, generator=gen)
        seeds += plan.source_pos[plan.target_pos == 2].tolist()
    freq = np.bincount(seeds, minlength=3) / len(seeds)
    w = np.array([1 - 0.999**990, 1 - 0.999**590, 0.0])
    np.testing.assert_allclose(freq, w / w.sum(), atol=0.03)


def test_batch_rule_target_without_larger_class_keeps_its_sample():
    counts = torch.tensor([100.0, 10.0])
    y = torch.tensor([1, 1, 1, 1])  # no class-0 entry: no eligible source
    plan = plan_batch_translations(y, counts, 0.9, generator=torch.Generator().manual_seed(0))
    assert plan.target_pos.numel() == 0
    assert plan.n_no_source == plan.n_targets > 0


def test_rejection_rule():
    assert passes_gamma(np.array([0.89, 0.9, 0.95]), 0.9).tolist() == [False, True, True]
    assert gamma_from_loss_threshold(-math.log(0.9)) == pytest.approx(0.9)
    with pytest.raises(ValueError):
        gamma_from_loss_threshold(-1.0)
    p = np.full(50000, 0.3)
    rate = draw_beta_survivors(p, random_state=np.random.RandomState(0)).mean()
    assert abs(rate - 0.3) < 5 * math.sqrt(0.3 * 0.7 / 50000)
    pt = torch.full((50000,), 0.8, dtype=torch.float64)
    rate = draw_beta_survivors(pt, generator=torch.Generator().manual_seed(0)).double().mean()
    assert abs(float(rate) - 0.8) < 5 * math.sqrt(0.8 * 0.2 / 50000)
