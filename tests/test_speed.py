"""SpeedMixin: the speed options on a plain NetClassifier (ERM, DRS), and TrainingTimer."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from skorch.callbacks import Callback
from torch import nn

from m2m_sampler import M2MOverSampler
from m2m_sampler._compat import InvalidParameterError
from m2m_sampler.net import NetClassifier
from m2m_sampler.training.callbacks import DeferredResampling
from m2m_sampler.training.device_data import DeviceLoader
from m2m_sampler.training.sampling import ClassBalancedSampler
from m2m_sampler.training.speed import SpeedMixin
from m2m_sampler.training.timing import TIMING_KEYS, TrainingTimer


class _Conv(nn.Module):
    """A small CNN on 3x8x8 images that records how it is called."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4, 10)
        self.calls = []

    def forward(self, x):
        self.calls.append((self.training, torch.is_autocast_enabled(x.device.type),
                           x.is_contiguous(memory_format=torch.channels_last)
                           and not x.is_contiguous()))
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))


class _TrainedBatches(Callback):
    def initialize(self):
        self.batches_ = []
        return self

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training:
            self.batches_.append(batch[0].detach().clone())


def _images(digits):
    X, y, X_test, _ = digits
    return (np.repeat(X.reshape(-1, 1, 8, 8), 3, axis=1), y,
            np.repeat(X_test.reshape(-1, 1, 8, 8), 3, axis=1))


COMMON = dict(optimizer=torch.optim.SGD, lr=0.05, max_epochs=2, batch_size=64,
              iterator_train__shuffle=True, verbose=0)


def test_net_classifier_trains_on_the_cpu_with_every_speed_option(digits):
    X4, y, X4_test = _images(digits)
    seen = []

    def transform(x):  # on the device, every training batch
        seen.append(x.shape[0])
        return x.flip(-1)

    rec = _TrainedBatches()
    torch.manual_seed(0)
    net = NetClassifier(_Conv, amp_dtype=torch.bfloat16, channels_last=True,
                        batch_transform=transform, callbacks=[rec], **COMMON).fit(X4, y)
    assert sum(seen) == 2 * len(y)
    train_calls = [c for c in net.module_.calls if c[0]]
    assert train_calls and all(c[1] and c[2] for c in train_calls)  # autocast, channels_last
    assert net.module_.conv.weight.is_contiguous(memory_format=torch.channels_last)
    # callbacks see the batch that is trained on: transformed, in channels_last
    flipped = {x.flip(-1).numpy().tobytes() for x in torch.as_tensor(X4)}
    assert all(row.numpy().tobytes() in flipped for b in rec.batches_ for row in b)
    assert all(b.is_contiguous(memory_format=torch.channels_last) for b in rec.batches_)
    proba = net.predict_proba(X4_test)
    assert proba.dtype == np.float32 and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert np.isfinite(net.history[:, "train_loss"]).all()


def test_without_speed_options_the_net_trains_exactly_as_skorch(digits):
    """The mixin adds nothing when its options are off: same weights as before it."""
    X4, y, _ = _images(digits)
    nets = []
    for cls in (NetClassifier, _PlainNetClassifier):
        torch.manual_seed(1)
        nets.append(cls(_Conv, **COMMON).fit(X4, y))
    for k, v in nets[0].module_.state_dict().items():
        torch.testing.assert_close(v, nets[1].module_.state_dict()[k], rtol=0, atol=0)
    # and channels_last alone is the same model
    torch.manual_seed(1)
    cl = NetClassifier(_Conv, channels_last=True, **COMMON).fit(X4, y)
    cl.module_.load_state_dict(nets[0].module_.state_dict())
    np.testing.assert_allclose(cl.predict_proba(X4), nets[0].predict_proba(X4),
                               rtol=1e-5, atol=1e-6)


class _PlainNetClassifier(NetClassifier):
    """NetClassifier with SpeedMixin's hooks bypassed (skorch's own behaviour)."""

    def get_iterator(self, dataset, training=False):
        return super(SpeedMixin, self).get_iterator(dataset, training=training)

    def infer(self, x, **fit_params):
        return super(SpeedMixin, self).infer(x, **fit_params)


def test_cuda_graph_errors_clearly_without_cuda(digits):
    X4, y, _ = _images(digits)
    with pytest.raises(ValueError, match="cuda_graph=True records CUDA graphs but the net "
                                         "trains on cpu"):
        NetClassifier(_Conv, device="cpu", cuda_graph=True, **COMMON).fit(X4, y)


def test_speed_options_are_validated_like_the_samplers_amp_dtype(digits):
    X4, y, _ = _images(digits)
    for params, name in [(dict(amp_dtype=torch.float32), "amp_dtype"),
                         (dict(amp_dtype="bf16"), "amp_dtype"),
                         (dict(channels_last="yes"), "channels_last"),
                         (dict(cuda_graph=1), "cuda_graph"),
                         (dict(batch_transform=3), "batch_transform")]:
        with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of NetClassifier"):
            NetClassifier(_Conv, **params, **COMMON).initialize()
    # the same constraint, the same wording as M2MOverSampler's amp_dtype
    with pytest.raises(InvalidParameterError) as net_err:
        NetClassifier(_Conv, amp_dtype=torch.float32).initialize()
    with pytest.raises(InvalidParameterError) as sampler_err:
        M2MOverSampler(amp_dtype=torch.float32).fit_resample(np.zeros((4, 2)), [0, 0, 0, 1])
    assert str(net_err.value).split(" must be ")[1] == str(sampler_err.value).split(
        " must be ")[1]


def test_a_torch_module_as_batch_transform_is_a_plain_parameter(digits):
    X4, y, _ = _images(digits)
    net = NetClassifier(_Conv, **COMMON).initialize()
    flip = nn.Identity()
    net.set_params(batch_transform=flip)  # not registered as a component of the net
    assert net.batch_transform is flip and "batch_transform" not in net._modules
    net.fit(X4, y)
    assert clone(net).batch_transform is not None


def test_drs_baseline_with_a_device_loader_and_a_timer(digits):
    """DRS is a plain NetClassifier: DeviceLoader on the net's device, the timer's columns."""
    X, y, _, _ = digits
    torch.manual_seed(0)
    net = NetClassifier(
        _Mlp, max_epochs=3, batch_size=64, lr=0.05, device="cpu",
        iterator_train=DeviceLoader, iterator_train__sampler=ClassBalancedSampler(),
        callbacks=[DeferredResampling(start_epoch=1), ("timer", TrainingTimer())],
        verbose=0,
    ).fit(X, y)
    assert net.get_params_for("iterator_train")["device"] == torch.device("cpu")
    for row in net.history:
        assert all(row[k] > 0 for k in TIMING_KEYS)
        assert row["m2m_data_time"] + row["m2m_step_time"] <= row["dur"]
    timer = dict(net.callbacks_)["timer"]
    timer.initialize()  # owns its state: reset in initialize
    assert timer.data_time_ == timer.step_time_ == 0.0


class _Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, x):
        return self.net(x)
