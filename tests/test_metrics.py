"""Tests of m2m_sampler.longtail.metrics against hand-computed values and sklearn / imblearn."""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter

import numpy as np
import pytest
from imblearn.metrics import geometric_mean_score
from sklearn.metrics import balanced_accuracy_score, recall_score

from m2m_sampler.longtail.metrics import (
    class_frequency_order,
    cumulative_false_positives,
    geometric_mean,
    imbalance_report,
    major_minor_accuracy,
    major_minor_split,
    per_class_recall,
)

# imblearn's default classes include predicted-only labels, whose recall it sets to 0
IMBLEARN_PREDICTED_ONLY = "ignore:Recall is ill-defined:sklearn.exceptions.UndefinedMetricWarning"
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
    rep = imbalance_report(Y_TRUE, Y_PRED, Y_TRUE)
    assert rep["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert rep["balanced_accuracy"] == balanced_accuracy_score(Y_TRUE, Y_PRED)
    expected_gm = (2 / 3 * 1 / 2 * 1.0) ** (1 / 3)
    assert geometric_mean(Y_TRUE, Y_PRED) == pytest.approx(expected_gm)
    assert rep["gmean"] == geometric_mean(Y_TRUE, Y_PRED)
    # imblearn's default (average="multiclass") is the same plain geometric mean of recalls
    assert geometric_mean(Y_TRUE, Y_PRED) == pytest.approx(geometric_mean_score(Y_TRUE, Y_PRED))


def test_string_labels_and_zero_recall():
    y_true = ["cat", "cat", "dog", "dog", "eel"]
    y_pred = ["cat", "dog", "dog", "dog", "cat"]  # eel never right
    np.testing.assert_allclose(per_class_recall(y_true, y_pred), [0.5, 1.0, 0.0])
    assert imbalance_report(y_true, y_pred, y_true)["balanced_accuracy"] == pytest.approx(0.5)
    assert geometric_mean(y_true, y_pred) == 0.0
    assert geometric_mean_score(y_true, y_pred) == 0.0


@pytest.mark.filterwarnings(
    "ignore:Recall is ill-defined:sklearn.exceptions.UndefinedMetricWarning"
)
def test_predicted_only_label_adds_no_class():
    # class 9 never occurs in y_true: it is a mistake for class 1, not a class of its own
    y_true = [0, 0, 1, 1]
    y_pred = [0, 0, 1, 9]
    np.testing.assert_array_equal(per_class_recall(y_true, y_pred), [1.0, 0.5])
    rep = imbalance_report(y_true, y_pred, y_true)
    assert rep["balanced_accuracy"] == pytest.approx((1 + 0.5) / 2)
    assert rep["per_class_recall"] == {"0": 1.0, "1": 0.5}
    assert geometric_mean(y_true, y_pred) == pytest.approx(math.sqrt(0.5))
    # imblearn's default classes include 9, with a zero recall
    assert geometric_mean_score(y_true, y_pred) == 0.0


@pytest.mark.filterwarnings(
    "ignore:Recall is ill-defined:sklearn.exceptions.UndefinedMetricWarning"
)
def test_gmean_correction_by_hand_and_imblearn():
    # recalls 1, 1/2, 0: the correction replaces the zero only
    y_true = [0, 0, 1, 1, 2, 2]
    y_pred = [0, 0, 1, 0, 0, 0]
    assert geometric_mean(y_true, y_pred) == 0.0
    assert geometric_mean(y_true, y_pred, correction=0.0) == 0.0
    for correction in (0.001, 0.01, 0.6):  # 0.6 > 1/2: a non-zero recall is not touched
        expected = (1.0 * 0.5 * correction) ** (1 / 3)
        gm = geometric_mean(y_true, y_pred, correction=correction)
        assert gm == pytest.approx(expected, rel=1e-12)
        assert gm == pytest.approx(
            geometric_mean_score(y_true, y_pred, correction=correction), rel=1e-12
        )
    assert geometric_mean(y_true, y_pred, correction=0.001) == pytest.approx(0.0793700526, 1e-9)
    # string labels, a label missing from y_pred and a predicted-only label ("z"): imblearn
    # with labels = the classes of y_true; its default would add a zero recall for "z"
    y_true = ["a", "a", "b", "b", "c", "c"]
    y_pred = ["a", "z", "b", "b", "a", "a"]  # recalls 1/2, 1, 0
    gm = geometric_mean(y_true, y_pred, correction=0.05)
    assert gm == pytest.approx((0.5 * 1.0 * 0.05) ** (1 / 3), rel=1e-12)
    assert gm == geometric_mean_score(y_true, y_pred, labels=["a", "b", "c"], correction=0.05)
    assert geometric_mean_score(y_true, y_pred, correction=0.05) == pytest.approx(
        (0.5 * 1.0 * 0.05 * 0.05) ** (1 / 4), rel=1e-12
    )


def test_input_validation():
    with pytest.raises(ValueError, match="different lengths"):
        per_class_recall([0, 1], [0])
    with pytest.raises(ValueError, match="1-D"):
        geometric_mean(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="empty"):
        imbalance_report([], [], [0])


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


def test_imbalance_report_gm_correction():
    y_train = ["a"] * 6 + ["b"] * 3 + ["c"] * 2 + ["d"] * 1
    y_true = ["a", "a", "a", "b", "b", "c", "c", "d", "e"]
    y_pred = ["a", "b", "a", "b", "z", "a", "a", "d", "e"]
    plain = imbalance_report(y_true, y_pred, y_train)
    corrected = imbalance_report(y_true, y_pred, y_train, gm_correction=0.1)
    assert plain["gmean"] == 0.0
    assert corrected["gmean"] == pytest.approx((2 / 3 * 1 / 2 * 0.1 * 1 * 1) ** (1 / 5), 1e-12)
    assert corrected["gmean"] == geometric_mean(y_true, y_pred, correction=0.1)
    assert {k: v for k, v in corrected.items() if k != "gmean"} == {
        k: v for k, v in plain.items() if k != "gmean"
    }


def test_imbalance_report_all_cases_by_hand():
    """String labels, a test class unseen in training ("e"), a class missing from y_pred
    ("c", zero recall) and a predicted-only label ("z"), every key pinned by hand."""
    y_train = ["a"] * 6 + ["b"] * 3 + ["c"] * 2 + ["d"] * 1  # 6 + 3 > 12 / 2: major {a, b}
    y_true = ["a", "a", "a", "b", "b", "c", "c", "d", "e"]
    y_pred = ["a", "b", "a", "b", "z", "a", "a", "d", "e"]
    rep = imbalance_report(y_true, y_pred, y_train)
    assert list(rep) == [
        "accuracy",
        "balanced_accuracy",
        "gmean",
        "major_acc",
        "minor_acc",
        "major_classes",
        "minor_classes",
        "per_class_recall",
        "class_order",
        "cumulative_false_positives",
    ]
    assert rep["accuracy"] == 5 / 9
    assert rep["balanced_accuracy"] == pytest.approx(19 / 30, rel=1e-15)  # (2/3+1/2+0+1+1)/5
    assert rep["gmean"] == 0.0
    assert rep["major_acc"] == pytest.approx(7 / 12, rel=1e-15)  # (2/3 + 1/2) / 2
    assert rep["minor_acc"] == 0.5  # (0 + 1) / 2; "e" is in neither group
    assert rep["major_classes"] == ["a", "b"] and rep["minor_classes"] == ["c", "d"]
    assert rep["per_class_recall"] == {"a": 2 / 3, "b": 0.5, "c": 0.0, "d": 1.0, "e": 1.0}
    assert rep["class_order"] == ["a", "b", "c", "d", "e", "z"]
    # FP: a <- c, c; b <- a; z <- b
    assert rep["cumulative_false_positives"] == [2, 3, 3, 3, 3, 4]


def _reference_report(y_true, y_pred, y_train):
    """imbalance_report recomputed from the definitions, with Python loops and numpy."""
    t, p = np.asarray(y_true).tolist(), np.asarray(y_pred).tolist()
    counts = Counter(y_train)
    classes = sorted(set(t))
    recall = {}
    for c in classes:
        n_c = sum(1 for v in t if v == c)
        recall[c] = sum(1 for v, w in zip(t, p) if v == c and w == c) / n_c
    r = np.array([recall[c] for c in classes])
    gmean = 0.0 if np.any(r == 0) else float(np.exp(np.mean(np.log(r))))
    assert gmean == pytest.approx(float(np.prod(r)) ** (1 / len(r)), rel=1e-12)
    freq = sorted(counts, key=lambda c: (-counts[c], c))
    total, cum, k = sum(counts.values()), 0, 0
    while 2 * cum <= total:
        cum += counts[freq[k]]
        k += 1
    major, minor = freq[:k], freq[k:]

    def group(g):
        rs = [recall[c] for c in g if c in recall]
        return float(np.mean(rs)) if rs else float("nan")

    order = freq + sorted((set(t) | set(p)) - set(freq))
    fp = [sum(1 for v, w in zip(t, p) if w == c and v != c) for c in order]
    return {
        "accuracy": sum(1 for v, w in zip(t, p) if v == w) / len(t),
        "balanced_accuracy": float(np.mean(r)),
        "gmean": gmean,
        "major_acc": group(major),
        "minor_acc": group(minor),
        "major_classes": major,
        "minor_classes": minor,
        "per_class_recall": {str(c): recall[c] for c in classes},
        "class_order": order,
        "cumulative_false_positives": list(itertools.accumulate(fp)),
    }


def _random_case(seed: int, strings: bool):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(3, 12))
    names = np.array([f"c{i:02d}" for i in range(k + 3)]) if strings else 3 * np.arange(k + 3)
    y_train = names[rng.choice(k, size=int(rng.integers(k, 400)), p=rng.dirichlet(np.ones(k)))]
    y_train[:k] = names[:k]  # every training class present
    n = int(rng.integers(20, 150))
    y_true = names[rng.integers(0, k + 1, size=n)]  # class k: in the test set only
    wrong = names[rng.integers(0, k + 3, size=n)]  # k + 1, k + 2: predicted only
    y_pred = np.where(rng.random(n) < rng.random(), y_true, wrong)
    y_pred[y_true == y_true[0]] = names[k + 2]  # y_true[0]'s class: zero recall
    y_pred[y_pred == names[1]] = names[2]  # names[1]: never predicted
    return y_true, y_pred, y_train


@pytest.mark.parametrize("strings", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_imbalance_report_matches_reference_exactly(seed, strings):
    y_true, y_pred, y_train = _random_case(seed, strings)
    train = y_train if seed % 2 else dict(Counter(y_train.tolist()))  # labels or mapping
    expected = _reference_report(y_true, y_pred, y_train.tolist())
    rep = imbalance_report(y_true, y_pred, train)
    assert rep["gmean"] == 0.0  # a class with zero recall
    assert names_not_predicted(y_pred, y_true)
    assert list(rep) == list(expected)
    for key, want in expected.items():
        got = rep[key]
        if isinstance(want, float) and math.isnan(want):
            assert math.isnan(got), key
        else:
            assert got == want, key  # exact: same floating-point operations, same order
            assert type(got) is type(want), key
    # the corrected GM of the same case, against the reference recalls
    r = np.array(list(expected["per_class_recall"].values()))
    rc = np.where(r == 0, 0.01, r)
    gm = imbalance_report(y_true, y_pred, train, gm_correction=0.01)["gmean"]
    assert gm == pytest.approx(float(np.prod(rc)) ** (1 / len(rc)), rel=1e-12)
    assert 0.0 < gm < 1.0


def names_not_predicted(y_pred, y_true):
    """True when some test class is never predicted and some prediction is no test class."""
    return bool(set(y_true.tolist()) - set(y_pred.tolist())) and bool(
        set(y_pred.tolist()) - set(y_true.tolist())
    )


def test_bacc_and_cumulative_fp_equal_sklearns_without_its_warnings():
    """imbalance_report's bACC is sklearn's balanced_accuracy_score bit for bit and the
    cumulative false positives are sklearn's confusion-matrix column sums, also where
    sklearn warns (labels only predicted, a single class); the library raises no warning."""
    import warnings

    from sklearn.metrics import balanced_accuracy_score, confusion_matrix

    from m2m_sampler.longtail.metrics import cumulative_false_positives, imbalance_report

    rng = np.random.RandomState(0)
    cases = [(rng.randint(0, 4, 50), rng.randint(0, 6, 50)) for _ in range(20)]
    cases += [(np.zeros(5, int), np.zeros(5, int)), (np.array([1, 1, 1]), np.array([1, 2, 2]))]
    for t, p in cases:
        order = np.union1d(np.unique(t), np.unique(p))[::-1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want_bacc = balanced_accuracy_score(t, p)
            cm = confusion_matrix(t, p, labels=order)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            report = imbalance_report(t, p, y_train=t)
            got_fp = cumulative_false_positives(t, p, order)
        assert report["balanced_accuracy"] == want_bacc
        np.testing.assert_array_equal(got_fp, np.cumsum(cm.sum(axis=0) - np.diag(cm)))
