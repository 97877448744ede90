import math

import numpy as np
import pytest
import torch

from m2m_sampler.longtail.class_weights import (
    class_counts,
    effective_number,
    effective_number_weights,
    inverse_frequency_weights,
)


def test_class_counts_sorted_classes_by_default():
    counts = class_counts(["b", "a", "b", "c", "b"])
    assert counts.tolist() == [1, 3, 1]
    assert counts.dtype == np.int64


def test_class_counts_int_classes_align_with_logit_index():
    assert class_counts([3, 0, 3, 3], classes=5).tolist() == [1, 0, 0, 3, 0]


def test_class_counts_explicit_order_and_torch_input():
    y = torch.tensor([2, 2, 7, 7, 7, 1])
    assert class_counts(y, classes=[7, 1, 2, 9]).tolist() == [3, 1, 2, 0]


def test_class_counts_empty_y():
    assert class_counts(np.array([], dtype=int), classes=3).tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    ("y", "classes", "match"),
    [
        ([0, 1, 5], 3, "not listed"),
        ([0, 1], [0, 0, 1], "duplicates"),
        ([[0, 1]], None, "1-D"),
        ([0], 0, ">= 1"),
    ],
)
def test_class_counts_errors(y, classes, match):
    with pytest.raises(ValueError, match=match):
        class_counts(y, classes=classes)


def test_inverse_frequency_by_hand():
    # 1/n = [1, 1/3]; sum = 4/3; scaled to sum K=2 -> [1.5, 0.5]
    np.testing.assert_allclose(inverse_frequency_weights([1, 3]), [1.5, 0.5])
    np.testing.assert_allclose(inverse_frequency_weights([1, 3], normalize=False), [1.0, 1 / 3])
    w = inverse_frequency_weights([5000, 500, 50])
    assert w.dtype == np.float64
    assert w.sum() == pytest.approx(3.0)
    # ratios stay 1/n
    assert w[2] / w[0] == pytest.approx(100.0)


def test_effective_number_by_hand():
    # beta=0.5: E = (1 - 0.5**n) / 0.5 -> n=1: 1, n=2: 1.5, n=3: 1.75
    np.testing.assert_allclose(effective_number([1, 2, 3], beta=0.5), [1.0, 1.5, 1.75])
    np.testing.assert_allclose(effective_number([4, 0, 2], beta=1.0), [4.0, 0.0, 2.0])
    np.testing.assert_allclose(effective_number([4, 0, 2], beta=0.0), [1.0, 0.0, 1.0])


def test_effective_number_weights_by_hand():
    # beta=0.5, n=[1, 2]: 1/E = [1, 2/3], sum 5/3 -> * 2 / (5/3) = [1.2, 0.8]
    np.testing.assert_allclose(effective_number_weights([1, 2], beta=0.5), [1.2, 0.8])
    np.testing.assert_allclose(
        effective_number_weights([1, 2], beta=0.5, normalize=False), [0.5 / 0.5, 0.5 / 0.75]
    )


def test_effective_number_weights_cifar_lt_like_ldam_drw():
    counts = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    beta = 0.9999
    raw = [(1 - beta) / (1 - math.pow(beta, n)) for n in counts]
    expected = [r / sum(raw) * len(counts) for r in raw]
    np.testing.assert_allclose(effective_number_weights(counts, beta), expected, rtol=1e-10)
    assert effective_number_weights(counts, beta).sum() == pytest.approx(10.0)


def test_effective_number_weights_limits():
    counts = [100, 10, 1]
    np.testing.assert_allclose(effective_number_weights(counts, beta=0.0), [1.0, 1.0, 1.0])
    np.testing.assert_allclose(
        effective_number_weights(counts, beta=1.0), inverse_frequency_weights(counts)
    )
    np.testing.assert_allclose(
        effective_number_weights(counts, beta=1 - 1e-9),
        inverse_frequency_weights(counts),
        rtol=1e-6,
    )


@pytest.mark.parametrize("func", [inverse_frequency_weights, effective_number_weights])
def test_weights_reject_empty_classes(func):
    with pytest.raises(ValueError, match="0 samples"):
        func([10, 0, 3])
    with pytest.raises(ValueError, match="non-negative"):
        func([10, -1])
    with pytest.raises(ValueError, match="empty"):
        func([])


def test_beta_out_of_range():
    with pytest.raises(ValueError, match="beta"):
        effective_number_weights([1, 2], beta=1.5)
