"""Losses checked against values worked out with ``math`` on a 2x3 example."""

import copy
import math
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from m2m_sampler.longtail.losses import (
    BalancedSoftmaxLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    LogitAdjustedSoftmax,
    ScaledSoftmax,
    ldam_margins,
    logit_adjust,
)

Z = [[1.0, 2.0, 0.5], [0.2, -1.0, 0.3]]
Y = [1, 0]
COUNTS = [100, 10, 1]
W = [0.2, 1.0, 3.0]


def _logits(dtype=torch.float32, requires_grad=False):
    return torch.tensor(Z, dtype=dtype, requires_grad=requires_grad)


def _target():
    return torch.tensor(Y)


def _ce_row(row, y):
    """-log softmax(row)[y], by hand."""
    return -row[y] + math.log(sum(math.exp(v) for v in row))


# ----------------------------------------------------------------------------- hand values


def test_hand_reference_values_are_sane():
    # row 0: log(2.71828 + 7.38906 + 1.64872) - 2 = log(11.75606) - 2
    assert _ce_row(Z[0], 1) == pytest.approx(0.464369, abs=1e-6)
    # row 1: log(1.22140 + 0.36788 + 1.34986) - 0.2 = log(2.93914) - 0.2
    assert _ce_row(Z[1], 0) == pytest.approx(0.878117, abs=1e-6)


def test_ldam_margins_by_hand():
    # n^-1/4: 100 -> 0.316228, 10 -> 0.562341, 1 -> 1 ; scaled so max is 0.5
    np.testing.assert_allclose(
        ldam_margins(COUNTS, 0.5), [0.5 / math.sqrt(10), 0.5 / 10**0.25, 0.5], rtol=1e-12
    )
    np.testing.assert_allclose(ldam_margins(COUNTS, 0.0), [0.0, 0.0, 0.0])


@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0])
def test_focal_by_hand(gamma):
    per = []
    for row, y in zip(Z, Y):
        ce = W[y] * _ce_row(row, y)
        per.append((1 - math.exp(-ce)) ** gamma * ce)
    loss = FocalLoss(gamma=gamma, weight=W, reduction="none")(_logits(), _target())
    np.testing.assert_allclose(loss.numpy(), per, rtol=1e-6)
    mean = FocalLoss(gamma=gamma, weight=W)(_logits(), _target())
    # plain mean over samples, as in the LDAM-DRW code
    assert mean.item() == pytest.approx(sum(per) / 2, rel=1e-6)
    total = FocalLoss(gamma=gamma, weight=W, reduction="sum")(_logits(), _target())
    assert total.item() == pytest.approx(sum(per), rel=1e-6)


@pytest.mark.parametrize("s", [1.0, 2.0, 30.0])
def test_ldam_by_hand(s):
    m = [0.5 / math.sqrt(10), 0.5 / 10**0.25, 0.5]
    per = []
    for row, y in zip(Z, Y):
        shifted = [s * (v - (m[y] if j == y else 0.0)) for j, v in enumerate(row)]
        per.append(_ce_row(shifted, y))
    loss = LDAMLoss(COUNTS, max_m=0.5, s=s, reduction="none")(_logits(), _target())
    np.testing.assert_allclose(loss.numpy(), per, rtol=1e-5, atol=1e-6)
    # weighted mean: sum w_y l / sum w_y (torch's convention, as LDAM-DRW's code)
    weighted = LDAMLoss(COUNTS, s=s, weight=W)(_logits(), _target())
    expected = (W[1] * per[0] + W[0] * per[1]) / (W[1] + W[0])
    assert weighted.item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_logit_adjusted_by_hand(tau):
    total = sum(COUNTS)
    per = []
    for row, y in zip(Z, Y):
        adj = [v + tau * math.log(n / total) for v, n in zip(row, COUNTS)]
        per.append(_ce_row(adj, y))
    loss = LogitAdjustedLoss(COUNTS, tau=tau, reduction="none")(_logits(), _target())
    np.testing.assert_allclose(loss.numpy(), per, rtol=1e-5)
    mean = LogitAdjustedLoss(COUNTS, tau=tau)(_logits(), _target())
    assert mean.item() == pytest.approx(sum(per) / 2, rel=1e-5)


def test_balanced_softmax_by_hand_and_equals_logit_adjusted_tau1():
    per = []
    for row, y in zip(Z, Y):
        adj = [v + math.log(n) for v, n in zip(row, COUNTS)]
        per.append(_ce_row(adj, y))
    bs = BalancedSoftmaxLoss(COUNTS, reduction="none")(_logits(), _target())
    np.testing.assert_allclose(bs.numpy(), per, rtol=1e-5)
    torch.manual_seed(0)
    z = torch.randn(64, 5) * 3
    y = torch.randint(5, (64,))
    counts = [500, 120, 40, 9, 2]
    for reduction in ("none", "mean", "sum"):
        a = BalancedSoftmaxLoss(counts, weight=[1, 2, 3, 4, 5], reduction=reduction)(z, y)
        b = LogitAdjustedLoss(counts, tau=1.0, weight=[1, 2, 3, 4, 5], reduction=reduction)(z, y)
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- degenerate


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(32, 4, generator=g) * 2
    y = torch.randint(4, (32,), generator=g)
    return z, y


@pytest.mark.parametrize("weight", [None, [0.5, 1.0, 2.0, 4.0]])
def test_degenerate_settings_equal_cross_entropy(batch, weight):
    z, y = batch
    w = None if weight is None else torch.tensor(weight)
    counts = [40, 20, 5, 1]
    for reduction in ("none", "sum", "mean"):
        ce = F.cross_entropy(z, y, weight=w, reduction=reduction)
        ldam = LDAMLoss(counts, max_m=0.0, s=1.0, weight=weight, reduction=reduction)
        la = LogitAdjustedLoss(counts, tau=0.0, weight=weight, reduction=reduction)
        torch.testing.assert_close(ldam(z, y), ce)
        torch.testing.assert_close(la(z, y), ce)
        if reduction != "mean" or weight is None:  # focal 'mean' is the plain mean
            torch.testing.assert_close(FocalLoss(0.0, weight, reduction)(z, y), ce)
    plain = F.cross_entropy(z, y, weight=w, reduction="none").mean()
    torch.testing.assert_close(FocalLoss(0.0, weight)(z, y), plain)


def test_margin_and_prior_move_loss_in_expected_direction(batch):
    z, y = batch
    counts = [40, 20, 5, 1]
    ce = F.cross_entropy(z, y, reduction="none")
    # a margin on the true class can only increase the loss
    assert torch.all(LDAMLoss(counts, s=1.0, reduction="none")(z, y) >= ce - 1e-6)
    # focal down-weights: (1-p)^gamma <= 1
    assert torch.all(FocalLoss(2.0, reduction="none")(z, y) <= ce + 1e-6)


# ----------------------------------------------------------------------------- autograd


@pytest.mark.parametrize(
    "loss",
    [
        FocalLoss(1.0, weight=W),
        LDAMLoss(COUNTS, weight=W),
        LogitAdjustedLoss(COUNTS, weight=W),
        BalancedSoftmaxLoss(COUNTS, weight=W),
    ],
    ids=["focal", "ldam", "la", "bs"],
)
def test_gradients_flow(loss):
    z = _logits(requires_grad=True)
    loss(z, _target()).backward()
    assert z.grad is not None
    assert torch.isfinite(z.grad).all()
    assert z.grad.abs().sum() > 0
    # softmax-CE gradients of each row sum to zero (offsets/margins do not change that)
    torch.testing.assert_close(z.grad.sum(1), torch.zeros(2), atol=1e-6, rtol=0)


def test_ce_gradient_by_hand_for_logit_adjusted():
    # d/dz CE(z + b, y) = softmax(z + b) - onehot(y); mean over 2 rows -> / 2
    z = _logits(requires_grad=True)
    LogitAdjustedLoss(COUNTS, tau=1.0)(z, _target()).backward()
    total = sum(COUNTS)
    for i, (row, y) in enumerate(zip(Z, Y)):
        adj = [v + math.log(n / total) for v, n in zip(row, COUNTS)]
        den = sum(math.exp(a) for a in adj)
        expected = [(math.exp(a) / den - (j == y)) / 2 for j, a in enumerate(adj)]
        np.testing.assert_allclose(z.grad[i].numpy(), expected, rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------- options


@pytest.mark.parametrize("cls", [FocalLoss, LDAMLoss, LogitAdjustedLoss, BalancedSoftmaxLoss])
def test_weight_is_a_replaceable_buffer(cls):
    loss = cls() if cls is FocalLoss else cls(COUNTS)
    assert loss.weight is None
    assert isinstance(loss, nn.CrossEntropyLoss)
    z, y = _logits(), _target()
    before = loss(z, y)
    loss.weight = torch.tensor(W)
    assert "weight" in dict(loss.named_buffers())
    after = loss(z, y)
    assert not torch.allclose(before, after)
    loss.weight = None
    torch.testing.assert_close(loss(z, y), before)


@pytest.mark.parametrize("cls", [FocalLoss, LDAMLoss, LogitAdjustedLoss, BalancedSoftmaxLoss])
def test_to_float64_moves_buffers_and_keeps_precision(cls):
    kwargs = {"weight": W}
    loss = cls(**kwargs) if cls is FocalLoss else cls(COUNTS, **kwargs)
    loss64 = copy.deepcopy(loss).to(torch.float64)
    for name, buf in loss64.named_buffers():
        assert buf.dtype == torch.float64, name
    z64 = _logits(torch.float64)
    out = loss64(z64, _target())
    assert out.dtype == torch.float64
    # float32 buffers with float64 logits also work (cast at use)
    out_mixed = loss(z64, _target())
    assert out_mixed.dtype == torch.float64
    torch.testing.assert_close(out_mixed, out, rtol=1e-6, atol=1e-7)


def test_float64_value_close_to_hand():
    # the per-class constants are float32 buffers (MPS has no float64), so ~1e-8 relative
    m = [0.5 / math.sqrt(10), 0.5 / 10**0.25, 0.5]
    per = []
    for row, y in zip(Z, Y):
        per.append(_ce_row([2.0 * (v - (m[y] if j == y else 0.0)) for j, v in enumerate(row)], y))
    loss = LDAMLoss(COUNTS, s=2.0, reduction="none").to(torch.float64)
    out = loss(_logits(torch.float64), _target())
    assert out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), per, rtol=1e-7)


@pytest.mark.parametrize("cls", [FocalLoss, LDAMLoss, LogitAdjustedLoss, BalancedSoftmaxLoss])
def test_bfloat16_logits_and_int32_targets(cls):
    loss = cls(weight=W) if cls is FocalLoss else cls(COUNTS, weight=W)
    ref = loss(_logits(), _target())
    out = loss(_logits().to(torch.bfloat16), _target().to(torch.int32))
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref, rtol=0.05, atol=0.05)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        lin = nn.Linear(3, 3)
        z = lin(_logits())
        assert z.dtype == torch.bfloat16
        assert torch.isfinite(loss(z, _target()))


def test_state_dict_round_trip():
    loss = LDAMLoss(COUNTS, weight=W)
    state = loss.state_dict()
    assert set(state) == {"weight", "margins"}
    other = LDAMLoss([1, 1, 1], weight=[1.0, 1.0, 1.0])
    other.load_state_dict(state)
    torch.testing.assert_close(other(_logits(), _target()), loss(_logits(), _target()))


def test_pickle_round_trip():
    loss = LogitAdjustedLoss(COUNTS, tau=0.7, weight=W)
    clone = pickle.loads(pickle.dumps(loss))
    torch.testing.assert_close(clone(_logits(), _target()), loss(_logits(), _target()))


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: LDAMLoss([10, 0, 3]), "positive"),
        (lambda: LogitAdjustedLoss([[1, 2]]), "1-D"),
        (lambda: BalancedSoftmaxLoss([]), "non-empty"),
        (lambda: LDAMLoss(COUNTS, s=0.0), "s must be"),
        (lambda: LDAMLoss(COUNTS, max_m=-0.1), "max_m"),
        (lambda: FocalLoss(gamma=-1.0), "gamma"),
        (lambda: FocalLoss(reduction="avg"), "reduction"),
        (lambda: FocalLoss(weight=[[1.0, 2.0]]), "1-D"),
    ],
)
def test_constructor_errors(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def test_forward_errors():
    with pytest.raises(ValueError, match="3 classes"):
        LDAMLoss(COUNTS)(torch.zeros(2, 4), _target())
    with pytest.raises(ValueError, match="shape"):
        FocalLoss()(torch.zeros(2, 3, 1), _target())
    with pytest.raises(TypeError, match="floating"):
        FocalLoss()(torch.zeros(2, 3, dtype=torch.long), _target())


# ----------------------------------------------------------------------------- post hoc


def test_logit_adjust_tensor_and_numpy():
    total = sum(COUNTS)
    expected = [[v - 0.5 * math.log(n / total) for v, n in zip(row, COUNTS)] for row in Z]
    out_t = logit_adjust(_logits(torch.float64), COUNTS, tau=0.5)
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float64
    np.testing.assert_allclose(out_t.numpy(), expected, rtol=1e-12)
    out_np = logit_adjust(np.array(Z), COUNTS, tau=0.5)
    assert isinstance(out_np, np.ndarray)
    np.testing.assert_allclose(out_np, expected, rtol=1e-12)
    torch.testing.assert_close(logit_adjust(_logits(), COUNTS, tau=0.0), _logits())
    # the rare class wins a tie after adjustment
    assert logit_adjust(torch.zeros(1, 3), COUNTS).argmax().item() == 2
    with pytest.raises(ValueError, match="columns"):
        logit_adjust(torch.zeros(1, 4), COUNTS)


def test_prediction_nonlinearities():
    z = _logits()
    torch.testing.assert_close(ScaledSoftmax(30.0)(z), torch.softmax(30 * z, dim=-1))
    adj = LogitAdjustedSoftmax(COUNTS, tau=1.0)(z)
    torch.testing.assert_close(adj, torch.softmax(logit_adjust(z, COUNTS), dim=-1))
    torch.testing.assert_close(adj.sum(1), torch.ones(2))
    for f in (ScaledSoftmax(2.0), LogitAdjustedSoftmax(COUNTS)):
        g = pickle.loads(pickle.dumps(f))
        torch.testing.assert_close(g(z), f(z))
        assert type(f).__name__ in repr(f)


# ----------------------------------------------------------------------------- skorch


def _toy_data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], [80, 30, 10])[:n]
    X = (rng.normal(size=(len(y), 4)) + y[:, None]).astype(np.float32)
    return X, y.astype(np.int64)


@pytest.mark.parametrize("criterion", [LDAMLoss, LogitAdjustedLoss, BalancedSoftmaxLoss])
def test_skorch_auto_softmax_for_our_losses(criterion):
    from skorch import NeuralNetClassifier

    X, y = _toy_data()
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        nn.Linear(4, 3),
        criterion=criterion,
        criterion__class_counts=np.bincount(y),
        max_epochs=2,
        lr=0.05,
        train_split=None,
        verbose=0,
    )
    net.fit(X, y)
    proba = net.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    logits = net.forward(X).numpy()
    e = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(proba, e / e.sum(1, keepdims=True), rtol=1e-5)
    np.testing.assert_array_equal(net.predict(X), logits.argmax(1))


def test_skorch_scaled_softmax_for_ldam_and_pickling():
    from skorch import NeuralNetClassifier

    X, y = _toy_data()
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        nn.Linear(4, 3),
        criterion=LDAMLoss,
        criterion__class_counts=np.bincount(y),
        criterion__s=5.0,
        predict_nonlinearity=ScaledSoftmax(5.0),
        max_epochs=1,
        train_split=None,
        verbose=0,
    ).fit(X, y)
    proba = net.predict_proba(X[:5])
    torch.testing.assert_close(
        torch.as_tensor(proba), torch.softmax(5.0 * net.forward(X[:5]), dim=-1)
    )
    clone = pickle.loads(pickle.dumps(net))
    np.testing.assert_allclose(clone.predict_proba(X[:5]), proba, rtol=1e-6)


def test_skorch_would_not_softmax_a_non_ce_criterion():
    # why the losses subclass CrossEntropyLoss: skorch's 'auto' is the identity otherwise
    from skorch import NeuralNetClassifier

    class PlainCE(nn.Module):
        def forward(self, z, y):
            return F.cross_entropy(z, y)

    X, y = _toy_data()
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        nn.Linear(4, 3), criterion=PlainCE, max_epochs=1, train_split=None, verbose=0
    ).fit(X, y)
    np.testing.assert_allclose(net.predict_proba(X[:5]), net.forward(X[:5]).numpy())


@pytest.mark.parametrize("cls", [FocalLoss, LDAMLoss, LogitAdjustedLoss, BalancedSoftmaxLoss])
def test_no_hard_coded_device(cls):
    # the "meta" device stands in for an accelerator: mixing it with a CPU tensor in
    # arithmetic raises, so this fails if forward creates tensors on a fixed device
    loss = cls(weight=W) if cls is FocalLoss else cls(COUNTS, weight=W)
    z = torch.randn(4, 3, device="meta")
    y = torch.zeros(4, dtype=torch.long, device="meta")
    moved = loss.to("meta")
    assert all(b.device.type == "meta" for b in moved.buffers())
    assert moved(z, y).device.type == "meta"
    assert logit_adjust(z, COUNTS).device.type == "meta"
