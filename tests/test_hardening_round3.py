"""Issue 23 ("Hardening, round 3"), the silent wrong results of both front ends: each
test failed before its fix.

1. label order: permutations of g's outputs that leave some classes in place;
2. M2MClassifier ran none of the sampler's checks on a given g, nor warned on low
   acceptance;
3. clip was never checked against X (nor for NaN), and the low-acceptance warning
   blamed gamma;
9. a non-integer input_shape silently ran truncated.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from m2m_sampler import DeviceLoader, M2MClassifier, M2MOverSampler
from m2m_sampler.datasets import load_digits_lt
from m2m_sampler.engine.acceptance import acceptance_totals, class_record, low_acceptance_cause
from m2m_sampler.engine.checks import LABEL_ORDER_MARGIN, check_label_order
from m2m_sampler.engine.translation import resolve_clip
from m2m_sampler.exceptions import (
    ClipRangeWarning,
    LabelOrderWarning,
    LowAcceptanceWarning,
    M2MWarning,
)
from m2m_sampler.longtail.models import MLP

# ----------------------------------------------------------------------------- helpers


def _blobs(counts, d=2, seed=0, spread=4.0, scale=0.5):
    """Gaussian blobs, class ``c`` centred at ``spread * c`` on the first axis."""
    rng = np.random.RandomState(seed)
    centers = np.zeros((len(counts), d))
    centers[:, 0] = spread * np.arange(len(counts))
    X = np.vstack([rng.randn(n, d) * scale + centers[c] for c, n in enumerate(counts)])
    return X, np.repeat(np.arange(len(counts)), counts), centers


class Centroids(nn.Module):
    """Logits ``-|x - c_j|^2`` for the centres in the given order (an accurate g)."""

    def __init__(self, centers, order=None):
        super().__init__()
        order = np.arange(len(centers)) if order is None else np.asarray(order)
        self.register_buffer("c", torch.as_tensor(np.asarray(centers)[order], dtype=torch.float32))

    def forward(self, x):
        return -torch.cdist(x.float(), self.c) ** 2


class Softmaxed(Centroids):
    def forward(self, x):
        return super().forward(x).softmax(dim=1)


def _messages(record, category):
    return [str(w.message) for w in record if issubclass(w.category, category)]


def _resample(sampler, X, y):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        sampler.fit_resample(X, y)
    return record


def _digits_lt(ratio=10.0, dtype=np.float64):
    """sklearn's digits, long-tailed: 150 rows of class 0 down to 150 / ratio of class 9."""
    X, y = load_digits(return_X_y=True)
    keep = []
    for c in range(10):
        n = int(round(150 * ratio ** (-c / 9)))
        keep.append(np.flatnonzero(y == c)[:n])
    keep = np.concatenate(keep)
    return X[keep].astype(dtype), y[keep]


# ----------------------------------------------------------------------------- defect 1


def test_string_digit_labels_with_g_on_integer_codes_warn():
    # y = '0'..'13': sorted as strings '0', '1', '10', '11', '12', '13', '2', ...; g's
    # outputs follow the integer codes, so 8 of 14 classes are out of place.
    X, y, centers = _blobs([60] + [20] * 13)
    labels = np.array([str(c) for c in y])
    record = _resample(M2MOverSampler(Centroids(centers), gamma=0.0, random_state=0),
                       X, labels)
    (msg,) = _messages(record, LabelOrderWarning)
    assert "not in sorted label order" in msg and "integer codes" in msg


def test_ordered_categorical_labels_warn():
    # small < medium < large < xlarge as categories; sorted: large, medium, small, xlarge
    X, y, centers = _blobs([80, 40, 25, 10])
    labels = pd.Categorical.from_codes(y, ["small", "medium", "large", "xlarge"],
                                       ordered=True)
    record = _resample(M2MOverSampler(Centroids(centers), gamma=0.0, random_state=0),
                       X, np.asarray(labels))
    (msg,) = _messages(record, LabelOrderWarning)
    assert "rows labelled 'large' mostly get output 2 ('small')" in msg


@pytest.mark.parametrize("order", [(2, 1, 0), (0, 3, 2, 1, 4)], ids=["reversed3", "swap2of5"])
def test_partial_permutations_warn(order):
    X, y, centers = _blobs([60, 40, 30, 20, 15][: len(order)])
    record = _resample(
        M2MOverSampler(Centroids(centers, order), gamma=0.0, random_state=0), X, y
    )
    (msg,) = _messages(record, LabelOrderWarning)
    # the identity: the fixed classes agree (balanced share); relabelled: 100%
    fixed = sum(i == o for i, o in enumerate(order))
    assert msg.startswith(f"g agrees with y on only {100 * fixed / len(order):.0f}% (balanced)")
    assert "would make that 100%" in msg


def _pred_with_cycle_gain(gain_rows, n=20):
    """Predictions for 3 classes of ``n`` rows: classes 0 and 1 predicted as each other on
    ``gain_rows`` more rows than as themselves (class 2 perfect)."""
    y = np.repeat(np.arange(3), n)
    pred = y.copy()
    swapped = (n + gain_rows) // 2  # rows of class 0 (and 1) predicted as the other
    pred[:swapped] = 1
    pred[n:n + swapped] = 0
    return pred, y


def test_label_order_threshold_both_sides():
    assert LABEL_ORDER_MARGIN == 0.5
    classes = np.array(["a", "b", "c"])
    # on classes 0 and 1: 15 of 20 rows each to the other class -> 75% vs 25%: +50 points
    pred, y = _pred_with_cycle_gain(10)
    with pytest.warns(LabelOrderWarning, match="would make that 83%"):
        check_label_order(pred, y, classes)
    # 14 of 20 -> 70% vs 30%: +40 points, under the margin: no warning
    pred, y = _pred_with_cycle_gain(8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LabelOrderWarning)
        check_label_order(pred, y, classes)


@pytest.mark.parametrize("data", ["digits_lt10", "load_digits_lt100"])
@pytest.mark.parametrize("kind", ["logistic", "mlp", "mlp_undertrained"])
def test_a_g_in_the_right_order_does_not_warn_on_digits_lt(kind, data):
    if data == "digits_lt10":
        X, y = _digits_lt()
    else:  # the main job's data
        X, y, _, _ = load_digits_lt(imbalance_ratio=100, return_X_y=True)
    g = {
        "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
        "mlp": make_pipeline(StandardScaler(), MLPClassifier((32,), max_iter=300,
                                                             random_state=0)),
        "mlp_undertrained": make_pipeline(StandardScaler(), MLPClassifier(
            (8,), max_iter=40, learning_rate_init=1e-3, random_state=0)),
    }[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's ConvergenceWarning
        g.fit(X, y)
    if kind == "mlp_undertrained":  # right order, but far from fitting the data
        assert 0.3 < balanced_accuracy_score(y, g.predict(X)) < 0.6
    record = _resample(M2MOverSampler(g, random_state=0), X, y)
    assert not _messages(record, LabelOrderWarning)
    if kind == "logistic":
        record = _resample(M2MOverSampler(random_state=0), X, y)  # the default g
        assert not _messages(record, LabelOrderWarning)


# ----------------------------------------------------------------------------- defect 2


def _m2m(g, **kwargs):
    params = dict(module__n_features=2, module__n_classes=3, module__hidden=(16,),
                  max_epochs=3, start_epoch=1, batch_size=32, lr=0.1, beta=0.9, gamma=0.5,
                  step_size=1.0, n_steps=5, verbose=0, random_state=0)
    params.update(kwargs)
    return M2MClassifier(MLP, g=g, **params)


def _fit(net, X, y):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        net.fit(X, y)
    return record


def test_classifier_warns_on_a_g_out_of_label_order():
    X, y, centers = _blobs([80, 40, 20])
    record = _fit(_m2m(Centroids(centers, (2, 1, 0))), X.astype(np.float32), y)
    (msg,) = _messages(record, LabelOrderWarning)
    assert "not in sorted label order" in msg
    # in order: no warning
    record = _fit(_m2m(Centroids(centers)), X.astype(np.float32), y)
    assert not _messages(record, LabelOrderWarning)


def test_classifier_refuses_a_g_ending_in_softmax():
    X, y, centers = _blobs([80, 40, 20])
    with pytest.raises(ValueError, match="g seems to return probabilities"):
        _m2m(Softmaxed(centers)).fit(X.astype(np.float32), y)


def test_classifier_warns_once_on_low_acceptance_naming_gamma():
    X, y, centers = _blobs([80, 40, 20])
    net = _m2m(Centroids(centers), gamma=1.0)
    record = _fit(net, X.astype(np.float32), y)
    (msg,) = _messages(record, LowAcceptanceWarning)
    planned = sum(s["n_new"] - s["n_fallback"] for s in net.class_stats_.values())
    assert planned > 0 and sum(s["n_accepted"] for s in net.class_stats_.values()) == 0
    assert msg.startswith(f"only 0 of {planned} planned translations")
    assert "lower gamma" in msg and "m2m_* columns" in msg
    # the history keeps the counts
    assert sum(net.history[:, "m2m_translated"]) > 0
    assert sum(net.history[:, "m2m_accepted"]) == 0
    # a fit that accepts: no warning
    record = _fit(_m2m(Centroids(centers), gamma=0.5), X.astype(np.float32), y)
    assert not _messages(record, LowAcceptanceWarning)


# ----------------------------------------------------------------------------- defect 3


def test_clip_in_other_units_than_X_warns_and_low_acceptance_names_clip():
    X, y = _digits_lt(dtype=np.float32)
    X = (X * 16).clip(0, 255).astype(np.uint8).astype(np.float32)  # 0..255 pixels
    g = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    record = _resample(M2MOverSampler(g, clip=(0, 1), random_state=0), X, y)
    (msg,) = _messages(record, ClipRangeWarning)
    assert msg.startswith("100% of the training rows have values outside the clip box")
    low = _messages(record, LowAcceptanceWarning)
    assert low and "clip box" in low[0] and "give clip in the units of X" in low[0]
    # the same data with clip='minmax': no clip warning
    record = _resample(M2MOverSampler(g, clip="minmax", random_state=0), X, y)
    assert not _messages(record, ClipRangeWarning)


def test_clip_narrower_than_the_data_warns():
    # 5 features spanning about -6.5 .. 8.7, as standardised data with outliers can
    X, y, centers = _blobs([60, 20, 15], d=5, spread=3.0, scale=2.0)
    assert X.min() < -5 and X.max() > 7
    record = _resample(
        M2MOverSampler(Centroids(centers), clip=(-1, 1), random_state=0), X, y
    )
    (msg,) = _messages(record, ClipRangeWarning)
    assert "(low=-1.0, high=1.0)" in msg
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        _m2m(Centroids(centers), clip=(-1, 1), module__n_features=5).fit(
            X.astype(np.float32), y)
    assert _messages(record, ClipRangeWarning)


def test_low_acceptance_cause_names_clip_when_X_lies_outside_the_box():
    low = acceptance_totals([class_record(40, 0, 40, 1)])
    assert low_acceptance_cause(low) == "gamma"
    assert low_acceptance_cause(low, clip_outside_share=0.5) == "gamma"
    assert low_acceptance_cause(low, clip_outside_share=0.51) == "clip"
    beta = acceptance_totals([class_record(40, 0, 3, 1)])
    assert low_acceptance_cause(beta) == "beta"
    assert low_acceptance_cause(beta, clip_outside_share=1.0) == "clip"
    assert low_acceptance_cause(acceptance_totals([class_record(40, 0, 40, 5)]),
                                clip_outside_share=1.0) is None


@pytest.mark.parametrize("clip", [(np.nan, 1.0), (0.0, float("nan")),
                                  (0.0, np.array([1.0, np.nan]))])
def test_a_nan_clip_bound_is_refused(clip):
    X, y, centers = _blobs([60, 20])
    with pytest.raises(ValueError, match="NaN"):
        resolve_clip(clip)
    with pytest.raises(ValueError, match="NaN"):
        M2MOverSampler(Centroids(centers[:2]), clip=clip, random_state=0).fit_resample(X, y)
    with pytest.raises(ValueError, match="NaN"):
        _m2m(Centroids(centers[:2]), module__n_classes=2, clip=clip).fit(
            X.astype(np.float32), y)


def test_valid_clip_does_not_warn():
    X, y, centers = _blobs([60, 20])
    X = (X - X.min()) / (X.max() - X.min())  # in [0, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClipRangeWarning)
        M2MOverSampler(Centroids(centers[:2] / 10), clip=(0, 1), gamma=0.0, beta=0.0,
                       random_state=0).fit_resample(X, y)


# ----------------------------------------------------------------------------- defect 9


@pytest.mark.parametrize("shape", [(2.5, 2), (2.0, 2), ("2", 2), (True, 4)])
def test_input_shape_must_hold_ints(shape):
    X, y, centers = _blobs([60, 20], d=4)
    with pytest.raises(ValueError, match="input_shape must be a tuple of positive ints"):
        M2MOverSampler(input_shape=shape, random_state=0).fit_resample(X, y)


def test_input_shape_of_numpy_ints_is_fine():
    X, y, centers = _blobs([60, 20], d=4)
    sampler = M2MOverSampler(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)),
                             input_shape=(np.int64(2), 2), gamma=0.0, beta=0.0,
                             random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", M2MWarning)
        X_res, y_res = sampler.fit_resample(X, y)
    assert X_res.shape == (120, 4) and np.bincount(y_res).tolist() == [60, 60]


def test_classifier_does_not_check_uint8_images_the_loader_scales():
    # 0..255 pixels that DeviceLoader turns into [0, 1]: clip=(0, 1) is right there
    X, y, centers = _blobs([80, 40, 20], spread=100.0, scale=20.0)
    X = (X - X.min()).clip(0, 255).astype(np.uint8)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        net = _m2m(None, clip=(0, 1), iterator_train=DeviceLoader,
                   iterator_train__dtype=torch.float32, iterator_valid=DeviceLoader,
                   iterator_valid__dtype=torch.float32, max_epochs=2).fit(X, y)
    assert not _messages(record, ClipRangeWarning) and net.clip_outside_share_ == 0.0
