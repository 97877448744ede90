"""M2MClassifier / NetClassifier on hostile but realistic input (issue 11), and the
pickle and seed conventions of issue 13 (item 5): each case failed before its fix."""

import copy
import pickle
import warnings
from unittest import mock

import numpy as np
import pytest
import torch
import torch.serialization
from sklearn.exceptions import NotFittedError
from skorch.callbacks import Callback, Checkpoint
from torch import nn

from m2m_sampler import M2MClassifier, M2MOverSampler, NetClassifier
from m2m_sampler.classifier import HISTORY_KEYS
from m2m_sampler.engine.params import MAX_TRAVEL_PER_DIAGONAL, check_step_size
from m2m_sampler.engine.translation import random_start
from m2m_sampler.longtail.models import MLP
from m2m_sampler.training.timing import TIMING_KEYS

# ----------------------------------------------------------------------------- helpers


def _blobs(counts=(60, 30, 12), d=5, seed=0):
    """Gaussian blobs, class ``c`` centred at ``c`` on every axis; float64 (numpy's default)."""
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(n, d) * 0.5 + c for c, n in enumerate(counts)])
    return X, np.repeat(np.arange(len(counts)), counts)


def _m2m(**kwargs):
    params = dict(module__n_features=5, module__n_classes=3, module__hidden=(16,),
                  max_epochs=4, start_epoch=2, batch_size=32, lr=0.1, beta=0.9, gamma=0.5,
                  step_size=0.3, n_steps=3, g_epochs=15, verbose=0, random_state=0)
    params.update(kwargs)
    return M2MClassifier(MLP, **params)


def _net(**kwargs):
    params = dict(module__n_features=5, module__n_classes=3, module__hidden=(16,),
                  max_epochs=3, batch_size=32, lr=0.1, verbose=0)
    params.update(kwargs)
    return NetClassifier(MLP, **params)


def _fit_net(X, y, **kwargs):
    torch.manual_seed(0)
    return _net(**kwargs).fit(X, y)


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


def _cuda_tagged():
    """Pickle as if every tensor lived on ``cuda:0`` (the tag torch writes in the bytes)."""
    return mock.patch.object(torch.serialization, "location_tag", lambda storage: "cuda:0")


# ----------------------------------------------------------------------------- defect 2


@pytest.mark.parametrize("front_end", ["NetClassifier", "M2MClassifier"])
def test_amp_dtype_on_float64_input_trains_as_on_float32(front_end):
    X, y = _blobs()
    if front_end == "M2MClassifier":
        a = _m2m(amp_dtype=torch.bfloat16).fit(X, y)
        b = _m2m(amp_dtype=torch.bfloat16).fit(X.astype(np.float32), y)
        assert sum(a.history[:, "m2m_accepted"]) > 0
    else:
        a = _fit_net(X, y, amp_dtype=torch.bfloat16)
        b = _fit_net(X.astype(np.float32), y, amp_dtype=torch.bfloat16)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X.astype(np.float32)))


# ----------------------------------------------------------------------------- defect 5


def test_save_load_round_trips_classes_and_predictions(tmp_path):
    X, y = _blobs()
    labels = np.array(["low", "mid", "high"])[y]
    clf = _m2m(g_epochs=3).fit(X, labels)
    clf.save_params(f_params=tmp_path / "f.pt", f_g=tmp_path / "g.pt")
    fresh = _m2m().initialize()  # no classes=
    fresh.load_params(f_params=tmp_path / "f.pt", f_g=tmp_path / "g.pt")
    np.testing.assert_array_equal(fresh.classes_, ["high", "low", "mid"])
    np.testing.assert_array_equal(fresh.predict(X), clf.predict(X))
    np.testing.assert_array_equal(fresh.predict_proba(X), clf.predict_proba(X))
    # the saved module file still loads into the bare module once the labels are dropped
    state = torch.load(tmp_path / "f.pt", weights_only=True)
    assert state.pop("m2m_sampler_classes").dtype == torch.uint8
    bare = MLP(n_features=5, n_classes=3, hidden=(16,))
    bare.load_state_dict(state)
    _assert_same_state(_state(bare), _state(clf.module_))
    # classes= that contradict the file are an error
    with pytest.raises(ValueError, match="saved with classes"):
        _m2m(classes=["a", "b", "c"]).initialize().load_params(f_params=tmp_path / "f.pt")


def test_a_loaded_g_is_not_retrained_by_fit(tmp_path):
    X, y = _blobs()
    clf = _m2m(g_epochs=3).fit(X, y)
    clf.save_params(f_g=tmp_path / "g.pt")
    saved_g = _state(clf.g_)
    net = _m2m(random_state=1).initialize()
    net.load_params(f_g=tmp_path / "g.pt")
    net.fit(X, y)
    assert net.g_loaded_ and net.g_net_ is None  # no ERM training of g
    _assert_same_state(_state(net.g_), saved_g)
    assert sum(net.history[:, "m2m_translated"]) > 0  # the generation ran with it
    # a new g replaces it
    net.set_params(g=nn.Sequential(nn.Linear(5, 3))).fit(X, y)
    assert not net.g_loaded_


def test_checkpoint_with_f_g_restores_f_g_and_the_classes(tmp_path):
    X, y = _blobs()
    labels = np.array([10, 20, 30])[y]
    cp = Checkpoint(dirname=tmp_path, f_g="g.pt", f_optimizer=None, f_criterion=None,
                    monitor=None)
    clf = _m2m(callbacks=[cp], g_epochs=2).fit(X, labels)
    fresh = _m2m()
    fresh.load_params(checkpoint=cp)
    _assert_same_state(_state(fresh.g_), _state(clf.g_))
    np.testing.assert_array_equal(fresh.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(fresh.predict(X), clf.predict(X))
    assert fresh.g_loaded_


# ----------------------------------------------------------------------------- defect 8


_CONVERSIONS = {
    "uint8": lambda X: (X * 16).astype(np.uint8),
    "int64": lambda X: (X * 16).astype(np.int64),
    "float16": lambda X: X.astype(np.float16),
    "torch_float64": lambda X: torch.as_tensor(X, dtype=torch.float64),
    "list_of_lists": lambda X: X.tolist(),
    "bool": lambda X: X > 0.5,
}


@pytest.mark.parametrize("kind", list(_CONVERSIONS))
@pytest.mark.parametrize("front_end", ["NetClassifier", "M2MClassifier"])
def test_numeric_inputs_are_converted_as_scikit_learn_does(kind, front_end):
    X, y = _blobs()
    X = np.round(X.clip(0, 4) * 4) / 16  # exact in float16 and after * 16 as integers
    given = _CONVERSIONS[kind](X)
    as_float32 = np.asarray(torch.as_tensor(np.asarray(_CONVERSIONS[kind](X))).float())
    if front_end == "M2MClassifier":
        a, b = _m2m(step_size=0.1).fit(given, y), _m2m(step_size=0.1).fit(as_float32, y)
    else:
        a, b = _fit_net(given, y), _fit_net(as_float32, y)
    np.testing.assert_array_equal(a.predict_proba(given), b.predict_proba(as_float32))
    np.testing.assert_array_equal(a.predict(given), b.predict(as_float32))


@pytest.mark.parametrize("front_end", [_net, _m2m])
def test_non_numeric_inputs_get_the_librarys_message(front_end):
    X, y = _blobs()
    for bad, match in [
        (X.astype(str), "needs numeric X .* dtype <U"),
        (np.array([["a"] * 5] * len(y), dtype=object), "needs numeric X .* object array"),
        (X.astype(np.complex64), "needs numeric X .* complex64"),
        ([[1.0, 2.0]] * (len(y) - 1) + [[1.0]], "could not make an array of the list X"),
        (X[:, 0], r"at least 2 dimensions; got shape \(102,\)"),
    ]:
        with pytest.raises(ValueError, match=match):
            front_end().fit(bad, y)


# ----------------------------------------------------------------------------- defect 9


def test_start_epoch_not_reached_warns_and_does_not_train_g():
    X, y = _blobs()
    with pytest.warns(UserWarning, match="start_epoch=10 is not reached") as record:
        clf = _m2m(start_epoch=10).fit(X, y)
    assert record[0].filename == __file__
    assert "g is not trained" in str(record[0].message)
    assert not clf.g_fitted_ and clf.g_net_ is None
    assert not any(clf.history[:, "m2m_active"])
    # partial_fit that reaches start_epoch trains g then and generates
    clf.partial_fit(X, y, epochs=8)
    assert clf.g_fitted_ and clf.history[:, "m2m_active"] == [False] * 10 + [True] * 2


@pytest.mark.parametrize("front_end", [_net, _m2m])
@pytest.mark.parametrize("n_classes", [2, 5])
def test_module_output_width_must_be_the_number_of_classes(front_end, n_classes):
    X, y = _blobs()
    match = f"returns {n_classes} outputs per sample but y has 3 classes " + (
        r"\[0, 1, 2\].*Set module__n_classes=3")
    with pytest.raises(ValueError, match=match):
        front_end(module__n_classes=n_classes).fit(X, y)


@pytest.mark.parametrize("front_end", [_net, _m2m])
def test_continuous_labels_are_refused_as_by_the_sampler(front_end):
    X, y = _blobs()
    y_cont = y + np.random.RandomState(0).rand(len(y))
    with pytest.raises(ValueError) as sampler_error:
        M2MOverSampler().fit_resample(X, y_cont)
    with pytest.raises(ValueError) as error:
        front_end().fit(X, y_cont)
    assert str(error.value) == str(sampler_error.value)
    assert "Unknown label type: continuous" in str(error.value)


@pytest.mark.parametrize("front_end", [_net, _m2m])
def test_predict_before_fit_is_not_fitted_error(front_end):
    X, _ = _blobs()
    for method in ("predict", "predict_proba"):
        with pytest.raises(NotFittedError, match="not initialized"):
            getattr(front_end(), method)(X)
        with pytest.raises(NotFittedError, match="does not know its classes"):
            getattr(front_end().initialize(), method)(X)
    proba = front_end(classes=[0, 1, 2]).initialize().predict_proba(X)  # skorch's way
    assert proba.shape == (len(X), 3)


@pytest.mark.parametrize("front_end", [_net, _m2m])
def test_empty_x_is_refused_with_a_clear_message(front_end):
    X, y = _blobs()
    with pytest.raises(ValueError, match=r"X has 0 samples \(shape \(0, 5\)\)"):
        front_end().fit(X[:0], y[:0])
    net = front_end().fit(X, y)
    with pytest.raises(ValueError, match="X has 0 samples"):
        net.predict(X[:0])


class _InterruptAt(Callback):
    """Raises KeyboardInterrupt after training batch ``batch`` of epoch ``epoch`` (0-based)."""

    def __init__(self, epoch, batch):
        self.epoch, self.batch = epoch, batch

    def on_epoch_begin(self, net, **kwargs):
        self.seen_ = 0

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.seen_ += 1
            if len(net.history) - 1 == self.epoch and self.seen_ == self.batch + 1:
                raise KeyboardInterrupt


def test_keyboard_interrupt_leaves_every_history_row_complete():
    X, y = _blobs()
    clf = _m2m(callbacks=[_InterruptAt(epoch=3, batch=1)], max_epochs=6).fit(X, y)
    assert len(clf.history) == 4
    for row in clf.history:
        assert set(HISTORY_KEYS) | set(TIMING_KEYS) <= set(row)
    last = clf.history[-1]
    assert last["m2m_active"] and last["m2m_entries"] == 2 * 32  # the two batches that ran
    assert last["m2m_targets"] == (last["m2m_no_source"] + last["m2m_rejected_beta"]
                                   + last["m2m_translated"])


def test_step_size_far_beyond_the_data_is_refused_by_both_front_ends():
    X, y = _blobs()
    diagonal = np.linalg.norm(X.max(0) - X.min(0))
    with pytest.raises(ValueError, match="step_size=1e\\+30 with n_steps=3 .* at most 100"):
        _m2m(step_size=1e30).fit(X, y)
    with pytest.raises(ValueError, match="step_size=1e\\+30 with n_steps=10 .* at most 100"):
        M2MOverSampler(step_size=1e30).fit_resample(X, y)

    class Params:
        n_steps = 10

    ok, too_far = Params(), Params()
    ok.step_size = 0.99 * MAX_TRAVEL_PER_DIAGONAL * diagonal / 10
    too_far.step_size = 1.01 * MAX_TRAVEL_PER_DIAGONAL * diagonal / 10
    check_step_size(ok, X)
    with pytest.raises(ValueError, match="times the diagonal"):
        check_step_size(too_far, X)
    check_step_size(too_far, np.ones((4, 5)))  # no spread: nothing to compare with


def test_random_starts_do_not_depend_on_the_chunking():
    x0 = torch.zeros(37, 5)
    whole = random_start(x0, 1.0, torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(0)
    chunked = torch.cat([random_start(x0[i:i + 7], 1.0, gen) for i in range(0, 37, 7)])
    assert torch.equal(whole, chunked)
    torch.testing.assert_close(whole.norm(dim=1), torch.ones(37))


def test_sampler_output_does_not_depend_on_batch_size_beyond_round_off():
    X, y = _blobs(counts=(200, 40, 15))
    runs = []
    for batch_size in (512, 37, 7):
        sampler = M2MOverSampler(beta=0.9, gamma=0.6, step_size=0.5, batch_size=batch_size,
                                 random_state=0)
        runs.append((sampler.fit_resample(X, y)[0], sampler.is_translated_))
    (X_ref, acc_ref), *others = runs
    assert acc_ref.sum() > 100
    for X_res, acc in others:
        np.testing.assert_array_equal(acc, acc_ref)
        np.testing.assert_allclose(X_res, X_ref, rtol=0, atol=1e-5)


# ----------------------------------------------------------------------------- issue 13.5


def test_sampler_fitted_on_cuda_unpickles_on_the_cpu():
    X, y = _blobs()
    g = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))
    sampler = M2MOverSampler(g, beta=0.9, gamma=0.5, step_size=0.5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # an untrained g accepts little
        sampler.fit_resample(X, y)
    sampler.device_ = torch.device("cuda:0")  # as fitted on a GPU
    with _cuda_tagged():
        data = pickle.dumps(sampler)
    with pytest.warns(UserWarning, match="fitted on cuda:0, which is not available"):
        restored = pickle.loads(data)
    assert restored.device_ == torch.device("cpu")
    x = torch.as_tensor(X[:4], dtype=torch.float32)
    torch.testing.assert_close(restored.g_(x), sampler.g_(x), rtol=0, atol=0)
    torch.testing.assert_close(restored.g[0].weight, g[0].weight, rtol=0, atol=0)
    np.testing.assert_array_equal(restored.is_translated_, sampler.is_translated_)


def test_net_with_cuda_parameters_unpickles_on_the_cpu():
    X, y = _blobs()
    g = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))
    clf = _m2m(g=g, clip=(torch.full((5,), -9.0), torch.full((5,), 9.0))).fit(X, y)
    with _cuda_tagged():
        data = pickle.dumps(clf)
    restored = pickle.loads(data)
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    torch.testing.assert_close(restored.g[0].weight, g[0].weight, rtol=0, atol=0)
    assert restored.clip[0].device.type == "cpu"
    _assert_same_state(_state(restored.g_), _state(clf.g_))


def test_random_state_governs_init_order_g_and_generation():
    X, y = _blobs()
    torch.manual_seed(123)
    expected_global = torch.rand(3)
    torch.manual_seed(123)
    a = _m2m(random_state=3, g_epochs=20).fit(X, y)
    assert torch.equal(torch.rand(3), expected_global)  # the caller's stream is untouched
    torch.rand(100)  # move torch's global stream: must not matter
    b = _m2m(random_state=3, g_epochs=20).fit(X, y)
    c = _m2m(random_state=4, g_epochs=20).fit(X, y)
    _assert_same_state(_state(a.module_), _state(b.module_))
    _assert_same_state(_state(a.g_), _state(b.g_))
    assert a.history[:, "m2m_accepted"] == b.history[:, "m2m_accepted"]
    assert sum(a.history[:, "m2m_accepted"]) > 0
    assert not torch.equal(a.module_.net[0].weight, c.module_.net[0].weight)
    assert not torch.equal(a.g_.net[0].weight, c.g_.net[0].weight)
    # g's ERM net has its own seed: with f's, its first epoch (plain ERM for both) would
    # be f's first epoch exactly
    assert a.g_net_.history[0, "train_loss"] != a.history[0, "train_loss"]


def test_float16_training_uses_a_gradient_scaler():
    X, y = _blobs()
    torch.manual_seed(0)
    module = MLP(n_features=5, n_classes=3, hidden=(16,))
    grads = []

    class GradNorm(Callback):
        def on_grad_computed(self, net, named_parameters, **kwargs):
            grads.append(sum(float(p.grad.norm()) for _, p in named_parameters))

    net = NetClassifier(copy.deepcopy(module), amp_dtype=torch.float16, max_epochs=2,
                        batch_size=32, lr=0.1, callbacks=[GradNorm()], verbose=0).fit(X, y)
    assert isinstance(net.grad_scaler_, torch.amp.GradScaler)
    # the reference loop of torch's AMP recipe
    ref, ref_grads = copy.deepcopy(module), []
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu")
    Xt, yt = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)
    for _ in range(2):
        for i in range(0, len(X), 32):
            opt.zero_grad()
            with torch.autocast("cpu", dtype=torch.float16):
                out = ref(Xt[i:i + 32])
            scaler.scale(nn.functional.cross_entropy(out.float(), yt[i:i + 32])).backward()
            scaler.unscale_(opt)
            ref_grads.append(sum(float(p.grad.norm()) for p in ref.parameters()))
            scaler.step(opt)
            scaler.update()
    _assert_same_state(_state(net.module_), _state(ref))
    assert grads == pytest.approx(ref_grads, rel=1e-6)  # callbacks see unscaled gradients
    assert net.grad_scaler_.get_scale() == scaler.get_scale()


def test_a_run_continued_with_partial_fit_is_the_uninterrupted_run():
    """Every epoch's streams depend on (random_state, epoch) only."""
    X, y = _blobs()
    whole = _m2m(max_epochs=4, start_epoch=2).fit(X, y)
    with pytest.warns(UserWarning, match="start_epoch=2 is not reached"):
        split = _m2m(max_epochs=2, start_epoch=2).fit(X, y)
    split.partial_fit(X, y)
    assert len(split.history) == 4 and sum(whole.history[:, "m2m_accepted"]) > 0
    assert split.history[:, "m2m_accepted"] == whole.history[:, "m2m_accepted"]
    _assert_same_state(_state(split.g_), _state(whole.g_))
    _assert_same_state(_state(split.module_), _state(whole.module_))


def test_tiny_gradients_still_take_steps_of_step_size():
    """A saturated softmax gives gradients whose squares underflow in float32: the step
    must still have length step_size (it was 2e12 for this g), and a gradient that is
    exactly zero does not move."""
    from m2m_sampler.engine.translation import translate

    g = nn.Linear(2, 2)
    with torch.no_grad():
        g.weight.copy_(torch.tensor([[-30.0, 0.0], [30.0, 0.0]]))
        g.bias.zero_()
    x0 = torch.tensor([[1.0, 0.0], [2.0, 1.0]])  # class 1 by margins 60 and 120
    x, prob = translate(g, x0, torch.tensor([0, 0]), torch.tensor([1, 1]), step_size=0.1,
                        n_steps=3, noise=0.0)
    torch.testing.assert_close(x, torch.tensor([[1.3, 0.0], [2.0, 1.0]]))
    torch.testing.assert_close(prob, torch.ones(2))
