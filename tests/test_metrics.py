"""Tests of m2m_sampler.metrics against hand-computed values and sklearn / imblearn."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from imblearn.metrics import geometric_mean_score
from sklearn.metrics import balanced_accuracy_score, recall_score

from m2m_sampler.metrics import (
    balanced_accuracy,
    class_frequency_order,
    cumulative_false_positives,
    geometric_mean,
    imbalance_report,
    major_minor_accuracy,
    major_minor_split,
    per_class_recall,
)

CIFAR_LT_R100 = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]

# Confusion matrix (rows: true 0, 1, 2; columns: predicted 0, 1, 2)
#   true 0: [2, 1, 0]  -> recall 2/3
#   true 1: [0, 1, 1]  -> recall 1/2
#   true 2: [0, 0, 1]  -> recall 1
Y_TRUE = np.array([0, 0, 0, 1, 1, 2])
Y_PRED = np.array([0, 1, 0, 1, 2, 2])


def test_per_class_recall_by_hand():
    np.testing.assert_allclose(per_class_recall(Y_TRUE, Y_PRED), [2 / 3, 1 / 2, 1.0])
    # explicit order, and a class without true samples -> nan
    r = per_class_recall(Y_TRUE, Y_PRED, labels=[2, 0, 7])
    np.testing.assert_allclose(r[:2], [1.0, 2 / 3])
    assert math.isnan(r[2])
    np.testing.assert_allclose(
        per_class_recall(Y_TRUE, Y_PRED), recall_score(Y_TRUE, Y_PRED, average=None)
    )


def test_balanced_accuracy_and_gmean_by_hand():
    assert balanced_accuracy(Y_TRUE, Y_PRED) == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert balanced_accuracy(Y_TRUE, Y_PRED) == pytest.approx(
        balanced_accuracy_score(Y_TRUE, Y_PRED)
    )
    expected_gm = (2 / 3 * 1 / 2 * 1.0) ** (1 / 3)
    assert geometric_mean(Y_TRUE, Y_PRED) == pytest.approx(expected_gm)
    # imblearn's default (average="multiclass") is the same plain geometric mean of recalls
    assert geometric_mean(Y_TRUE, Y_PRED) == pytest.approx(geometric_mean_score(Y_TRUE, Y_PRED))


def test_string_labels_and_zero_recall():
    y_true = ["cat", "cat", "dog", "dog", "eel"]
    y_pred = ["cat", "dog", "dog", "dog", "cat"]  # eel never right
    np.testing.assert_allclose(per_class_recall(y_true, y_pred), [0.5, 1.0, 0.0])
    assert balanced_accuracy(y_true, y_pred) == pytest.approx(0.5)
    assert geometric_mean(y_true, y_pred) == 0.0
    assert geometric_mean_score(y_true, y_pred) == 0.0


def test_predicted_only_label_adds_no_class():
    # class 9 never occurs in y_true: it is a mistake for class 1, not a class of its own
    y_true = [0, 0, 1, 1]
    y_pred = [0, 0, 1, 9]
    assert balanced_accuracy(y_true, y_pred) == pytest.approx((1 + 0.5) / 2)
    assert geometric_mean(y_true, y_pred) == pytest.approx(math.sqrt(0.5))


def test_input_validation():
    with pytest.raises(ValueError, match="different lengths"):
        balanced_accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="1-D"):
        balanced_accuracy(np.zeros((2, 2)), np.zeros((2, 2)))


def test_class_frequency_order_ties_by_label():
    assert class_frequency_order([3, 1, 1, 2, 2, 3, 0]).tolist() == [1, 2, 3, 0]
    assert class_frequency_order({"b": 2, "a": 2, "c": 5}).tolist() == ["c", "a", "b"]


def test_major_minor_split_cifar_lt_r100():
    major, minor = major_minor_split(dict(enumerate(CIFAR_LT_R100)))
    assert major.tolist() == [0, 1]  # 5000 <= 6203 < 5000 + 2997
    assert minor.tolist() == [2, 3, 4, 5, 6, 7, 8, 9]
    y_train = np.repeat(np.arange(10), CIFAR_LT_R100)
    major2, minor2 = major_minor_split(y_train)
    assert major2.tolist() == [0, 1] and minor2.tolist() == minor.tolist()


def test_major_minor_split_needs_strictly_more_than_half():
    # exactly half is not enough: 5 of 10 -> the next class joins the majority
    major, minor = major_minor_split({"a": 5, "b": 3, "c": 2})
    assert major.tolist() == ["a", "b"] and minor.tolist() == ["c"]
    major, minor = major_minor_split({"a": 6, "b": 4})
    assert major.tolist() == ["a"] and minor.tolist() == ["b"]
    # frequency order, not label order
    major, minor = major_minor_split([2, 2, 2, 2, 0, 1, 1])
    assert major.tolist() == [2] and minor.tolist() == [1, 0]
    major, minor = major_minor_split([4, 4])
    assert major.tolist() == [4] and minor.tolist() == []


def test_major_minor_accuracy_by_hand():
    y_train = ["a"] * 5 + ["b"] * 4 + ["c"] * 2 + ["d"] * 1  # 12 samples: major {a, b}
    y_true = ["a", "a", "b", "b", "c", "c", "c", "d", "d"]
    y_pred = ["a", "b", "b", "b", "c", "a", "a", "a", "d"]
    # recalls: a 1/2, b 1, c 1/3, d 1/2
    major, minor = major_minor_accuracy(y_true, y_pred, y_train)
    assert major == pytest.approx((0.5 + 1.0) / 2)
    assert minor == pytest.approx((1 / 3 + 0.5) / 2)


def test_major_minor_accuracy_skips_classes_absent_from_test():
    y_train = [0] * 6 + [1] * 3 + [2] * 1
    major, minor = major_minor_accuracy([0, 0, 2], [0, 1, 2], y_train)  # class 1 not in test
    assert major == pytest.approx(0.5) and minor == pytest.approx(1.0)
    major, minor = major_minor_accuracy([0, 0], [0, 0], [0, 0, 0])
    assert major == 1.0 and math.isnan(minor)


def test_cumulative_false_positives_by_hand():
    # FP_0 = 0 (both predictions of 0 are right), FP_1 = 1 (a true 0), FP_2 = 1 (a true 1)
    fp = cumulative_false_positives(Y_TRUE, Y_PRED, [0, 1, 2])
    assert fp.tolist() == [0, 1, 2]
    assert fp[-1] == np.sum(Y_TRUE != Y_PRED)
    assert cumulative_false_positives(Y_TRUE, Y_PRED, [2, 1, 0]).tolist() == [1, 2, 2]

    y_true = ["x", "y", "y", "z", "z", "z"]
    y_pred = ["y", "x", "x", "x", "y", "z"]
    # FP_x = 3 (y, y, z), FP_y = 2 (x, z), FP_z = 0
    assert cumulative_false_positives(y_true, y_pred, ["z", "x", "y"]).tolist() == [0, 3, 5]


def test_cumulative_false_positives_validation():
    with pytest.raises(ValueError, match="not in class_order"):
        cumulative_false_positives([0, 1], [0, 2], [0, 1])
    with pytest.raises(ValueError, match="duplicate"):
        cumulative_false_positives([0, 1], [0, 1], [0, 1, 1])


def test_imbalance_report_values_and_json():
    y_train = np.repeat([0, 1, 2], [6, 3, 1])  # major {0}, minor {1, 2}; order 0, 1, 2
    rep = imbalance_report(Y_TRUE, Y_PRED, y_train)
    assert rep["accuracy"] == pytest.approx(4 / 6)
    assert rep["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert rep["gmean"] == pytest.approx((1 / 3) ** (1 / 3))
    assert rep["major_acc"] == pytest.approx(2 / 3)
    assert rep["minor_acc"] == pytest.approx(0.75)
    assert rep["major_classes"] == [0] and rep["minor_classes"] == [1, 2]
    assert rep["per_class_recall"] == pytest.approx({"0": 2 / 3, "1": 0.5, "2": 1.0})
    assert rep["class_order"] == [0, 1, 2]
    assert rep["cumulative_false_positives"] == [0, 1, 2]
    back = json.loads(json.dumps(rep))
    assert back["per_class_recall"].keys() == {"0", "1", "2"}
    assert all(type(v) is int for v in back["major_classes"] + back["minor_classes"])


def test_imbalance_report_string_labels_and_unseen_prediction():
    y_train = ["b"] * 3 + ["a"] * 2
    y_true = ["a", "a", "b", "b"]
    y_pred = ["a", "q", "b", "a"]  # "q" is neither a training nor a test class
    rep = imbalance_report(y_true, y_pred, y_train)
    assert rep["class_order"] == ["b", "a", "q"]
    assert rep["cumulative_false_positives"] == [0, 1, 2]
    assert rep["major_classes"] == ["b"] and rep["minor_classes"] == ["a"]
    assert rep["major_acc"] == pytest.approx(0.5) and rep["minor_acc"] == pytest.approx(0.5)
    assert rep["gmean"] == pytest.approx(0.5)
    json.dumps(rep)
