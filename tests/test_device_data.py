"""DeviceLoader (device-resident training data) and M2MClassifier's fast-path options."""

import math
import warnings

import numpy as np
import pytest
import torch
from _loaders import SliceLoader
from skorch.callbacks import Callback
from skorch.dataset import Dataset
from torch import nn
from torch.utils.data import DataLoader, Subset, TensorDataset

from m2m_sampler.classifier import TIMING_KEYS, M2MClassifier
from m2m_sampler.exceptions import LowAcceptanceWarning
from m2m_sampler.longtail.augment import RandomCropFlip
from m2m_sampler.longtail.models import MLP
from m2m_sampler.training.device_data import DeviceLoader, dataset_tensors
from m2m_sampler.training.sampling import ClassBalancedSampler


def _images(counts=(30, 20, 10), seed=0):
    """uint8 images whose first pixel is their index (so every batch row is traceable)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    rng.shuffle(y)
    X = rng.integers(0, 256, size=(len(y), 3, 4, 4), dtype=np.uint8)
    X[:, 0, 0, 0] = np.arange(len(y))
    return X, y


def _gen(seed):
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- loader


def test_sequential_batches_are_the_dataset_slices_converted_to_float():
    X, y = _images()
    loader = DeviceLoader(Dataset(X, y), batch_size=16, dtype=torch.float32, gather_batches=2)
    batches = list(loader)
    assert len(loader) == len(batches) == 4
    assert [b[0].shape[0] for b in batches] == [16, 16, 16, 12]
    xs = torch.cat([b[0] for b in batches]).numpy()
    # bit-identical to the float conversion of load_cifar10_lt (x / 255 in float32)
    np.testing.assert_array_equal(xs, X.astype(np.float32) / np.float32(255))
    assert xs.dtype == np.float32
    np.testing.assert_array_equal(torch.cat([b[1] for b in batches]).numpy(), y)
    assert batches[0][1].dtype == torch.int64
    # a second epoch is the same (no state kept between epochs)
    np.testing.assert_array_equal(torch.cat([b[0] for b in loader]).numpy(), xs)
    dropped = DeviceLoader(Dataset(X, y), batch_size=16, drop_last=True)
    assert len(dropped) == 3 and [b[0].shape[0] for b in dropped] == [16, 16, 16]
    # no conversion asked: the stored dtype
    assert next(iter(DeviceLoader(Dataset(X, y), batch_size=8)))[0].dtype == torch.uint8


def test_shuffle_is_a_fresh_permutation_covering_every_index_once():
    X, y = _images()
    loader = DeviceLoader(Dataset(X, y), batch_size=7, shuffle=True, gather_batches=3)
    torch.manual_seed(5)
    expected = [torch.randperm(60) for _ in range(3)]
    torch.manual_seed(5)
    orders = []
    for epoch in range(3):
        batches = list(loader)
        assert len(batches) == len(loader) == math.ceil(60 / 7)
        order = torch.cat([xb[:, 0, 0, 0] for xb, _ in batches]).long()
        labels = torch.cat([yb for _, yb in batches])
        np.testing.assert_array_equal(np.sort(order.numpy()), np.arange(60))
        np.testing.assert_array_equal(labels.numpy(), y[order.numpy()])
        np.testing.assert_array_equal(order.numpy(), expected[epoch].numpy())
        orders.append(order)
    assert not torch.equal(orders[0], orders[1])
    dropped = DeviceLoader(Dataset(X, y), batch_size=7, shuffle=True, drop_last=True)
    seen = torch.cat([xb[:, 0, 0, 0] for xb, _ in dropped]).long()
    assert len(seen) == 56 and len(set(seen.tolist())) == 56


@pytest.mark.parametrize("balanced", [False, True])
def test_class_balanced_sampler_gives_the_dataloader_batches(balanced):
    X, y = _images()
    ds = Dataset(X, y)
    ref = DataLoader(ds, batch_size=16,
                     sampler=ClassBalancedSampler(y, balanced=balanced, generator=_gen(1)))
    dev = DeviceLoader(ds, batch_size=16,
                       sampler=ClassBalancedSampler(y, balanced=balanced, generator=_gen(1)))
    assert len(ref) == len(dev)
    for _ in range(2):  # two epochs: both samplers advance identically
        pairs = list(zip(ref, dev, strict=True))
        for (xr, yr), (xd, yd) in pairs:
            assert torch.equal(xr, xd) and torch.equal(yr, yd)


def test_balanced_sampler_indices_statistics_and_iteration_agree():
    X, y = _images()
    sampler = ClassBalancedSampler(y, num_samples=30000, generator=_gen(0))
    loader = DeviceLoader(Dataset(X, y), batch_size=512, sampler=sampler)
    idx = torch.cat([xb[:, 0, 0, 0] for xb, _ in loader]).long().numpy()
    assert len(idx) == 30000 and len(loader) == math.ceil(30000 / 512)
    frac = np.bincount(y[idx], minlength=3) / len(idx)
    np.testing.assert_allclose(frac, [1 / 3] * 3, atol=0.015)  # sd 0.0027
    # within the smallest class (10 items, ~1000 draws each, sd ~30) uniform
    small = np.bincount(idx[y[idx] == 2], minlength=60)[y == 2]
    assert small.min() > 850 and small.max() < 1150
    # indices() is exactly what iterating the sampler yields under the same RNG state
    a = ClassBalancedSampler(y, generator=_gen(3))
    b = ClassBalancedSampler(y, generator=_gen(3))
    assert a.indices().tolist() == list(b)
    a.balanced = b.balanced = False
    assert a.indices().tolist() == list(b)


def test_channels_last_transform_scale_and_blocks():
    X, y = _images()
    blocks = []

    def double(x):
        blocks.append(x.shape[0])
        return x * 2

    loader = DeviceLoader(Dataset(X, y), batch_size=16, dtype=torch.float32, channels_last=True,
                          transform=double, gather_batches=2)
    batches = list(loader)
    assert blocks == [32, 28]  # one transform call per gathered block of 2 batches
    for xb, _ in batches:
        assert xb.is_contiguous(memory_format=torch.channels_last) and not xb.is_contiguous()
    np.testing.assert_array_equal(torch.cat([b[0] for b in batches]).numpy(),
                                  2 * (X.astype(np.float32) / np.float32(255)))
    raw = DeviceLoader(Dataset(X, y), batch_size=60, dtype=torch.float32, scale=1.0)
    np.testing.assert_array_equal(next(iter(raw))[0].numpy(), X.astype(np.float32))
    f64 = DeviceLoader(Dataset(X, y), batch_size=60, dtype=torch.float64)
    np.testing.assert_allclose(next(iter(f64))[0].numpy(), X / 255.0, rtol=1e-15)
    # the paper's augmentation, applied on the loader's blocks: shape and dtype kept
    aug = DeviceLoader(Dataset(X, y), batch_size=16, dtype=torch.float32,
                       transform=RandomCropFlip(padding=1))
    assert all(xb.shape == (len(yb), 3, 4, 4) and xb.dtype == torch.float32 for xb, yb in aug)
    with pytest.raises(ValueError, match="same number of samples"):
        list(DeviceLoader(Dataset(X, y), batch_size=16, transform=lambda x: x[:1]))


def test_subset_tensordataset_generic_datasets_and_missing_labels():
    X, y = _images()
    sub = Subset(Dataset(X, y), np.arange(59, -1, -3))
    xs, ys = dataset_tensors(sub)
    np.testing.assert_array_equal(xs.numpy(), X[59::-3])
    np.testing.assert_array_equal(ys.numpy(), y[59::-3])
    batches = list(DeviceLoader(sub, batch_size=8))
    np.testing.assert_array_equal(torch.cat([b[0] for b in batches]).numpy(), X[59::-3])

    tds = TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    xt, yt = next(iter(DeviceLoader(tds, batch_size=60)))
    assert torch.equal(xt, torch.as_tensor(X)) and torch.equal(yt, torch.as_tensor(y))

    class Plain(torch.utils.data.Dataset):
        def __len__(self):
            return len(y)

        def __getitem__(self, i):
            return torch.as_tensor(X[i]), int(y[i])

    with pytest.warns(UserWarning, match="reads every item"):
        xp, yp = next(iter(DeviceLoader(Plain(), batch_size=60)))
    assert torch.equal(xp, torch.as_tensor(X)) and yp.tolist() == y.tolist()

    xn, yn = next(iter(DeviceLoader(Dataset(X, None), batch_size=10)))
    assert yn.shape == (10, 1) and not yn.any()  # skorch's placeholder target


def test_loader_errors():
    X, y = _images()
    ds = Dataset(X, y)
    with pytest.raises(ValueError, match="shuffle=True cannot be combined"):
        DeviceLoader(ds, batch_size=4, shuffle=True, sampler=ClassBalancedSampler(y))
    with pytest.raises(ValueError, match="batch_size"):
        DeviceLoader(ds, batch_size=0)
    with pytest.raises(TypeError, match="dtype"):
        DeviceLoader(ds, batch_size=4, dtype="float32")
    with pytest.raises(ValueError, match="gather_batches"):
        DeviceLoader(ds, batch_size=4, gather_batches=0)
    with pytest.raises(TypeError, match="one numpy array or tensor"):
        list(DeviceLoader(Dataset({"a": X, "b": X}, y), batch_size=4))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            DeviceLoader(ds, batch_size=4, device="cuda")


# ----------------------------------------------------------------------------- M2MClassifier


def _params(**kwargs):
    params = dict(
        module__n_features=64, module__n_classes=10, module__hidden=(64,),
        optimizer=torch.optim.SGD, optimizer__momentum=0.9, lr=0.05, max_epochs=6,
        start_epoch=3, g_epochs=8, batch_size=64, beta=0.9, gamma=0.5, step_size=0.2,
        n_steps=4, clip=(0.0, 1.0), verbose=0, random_state=0,
    )
    params.update(kwargs)
    return params


class _Labels(Callback):
    def initialize(self):
        self.epochs_ = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.epochs_.append([])

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training:
            self.epochs_[-1].append(batch[1].cpu().numpy())


def test_m2m_classifier_with_device_loader_trains_exactly_like_a_slicing_loader(digits):
    """Same sampler draws, same batches: DRS switching, g's ERM and the generation agree."""
    X, y, X_test, _ = digits
    nets = {}
    for name, loader in [("device", DeviceLoader), ("slices", SliceLoader)]:
        torch.manual_seed(0)
        rec = _Labels()
        nets[name] = M2MClassifier(MLP, iterator_train=loader, callbacks=[rec],
                                   **_params()).fit(X, y)
        nets[name].rec = rec
    a, b = nets["device"], nets["slices"]
    for k, v in a.module_.state_dict().items():
        torch.testing.assert_close(v, b.module_.state_dict()[k], rtol=0, atol=0)
    assert a.history[:, "m2m_accepted"] == b.history[:, "m2m_accepted"]
    assert sum(a.history[:, "m2m_accepted"]) > 0
    np.testing.assert_array_equal(a.predict(X_test), b.predict(X_test))
    # g was trained by ERM through the DeviceLoader too (iterator_train is passed on)
    assert a.g_net_.iterator_train is DeviceLoader
    # before start_epoch: a permutation per epoch; from it on: class-balanced draws
    for e in range(3):
        np.testing.assert_array_equal(np.sort(np.concatenate(a.rec.epochs_[e])), np.sort(y))
    late = np.concatenate([np.concatenate(b_) for b_ in a.rec.epochs_[3:]])
    assert np.mean(late == 9) > 0.06 and np.mean(y == 9) < 0.03


def test_deferred_resampling_drives_the_device_loader_after_a_train_split(digits):
    """Any skorch net: DeferredResampling switches the very sampler the loader draws from,
    bound to the Subset that skorch's ValidSplit trains on."""
    from skorch.dataset import ValidSplit

    from m2m_sampler.net import NetClassifier
    from m2m_sampler.training.callbacks import DeferredResampling

    X, y, _, _ = digits
    rec = _Labels()
    torch.manual_seed(0)
    net = NetClassifier(
        MLP, module__n_features=64, module__n_classes=10, max_epochs=4, batch_size=64,
        lr=0.05, train_split=ValidSplit(4, stratified=False),
        callbacks=[DeferredResampling(start_epoch=2), rec],
        iterator_train=DeviceLoader, iterator_train__sampler=ClassBalancedSampler(),
        iterator_valid=DeviceLoader, verbose=0,
    ).fit(X, y)
    n_train = len(y) - math.ceil(len(y) / 4)
    assert np.isfinite(net.history[-1, "valid_loss"])
    early = [np.concatenate(b) for b in rec.epochs_[:2]]
    late = np.concatenate([np.concatenate(b) for b in rec.epochs_[2:]])
    assert all(len(e) == n_train for e in early)
    np.testing.assert_array_equal(np.sort(early[0]), np.sort(early[1]))  # same subset
    # balanced over the classes of the training subset (skorch's unshuffled split may
    # leave some out), from the deferral epoch on
    classes, counts = np.unique(early[0], return_counts=True)
    rare = classes[np.argmin(counts)]
    assert counts.min() / n_train < 0.5 / len(classes)
    assert np.mean(late == rare) == pytest.approx(1 / len(classes), abs=0.04)


class _RecordingLoader(DeviceLoader):
    devices = []

    def __init__(self, dataset, **kwargs):
        type(self).devices.append(kwargs.get("device"))
        super().__init__(dataset, **kwargs)


def test_net_device_is_given_to_device_loaders_and_epochs_are_timed(digits):
    X, y, X_test, _ = digits
    _RecordingLoader.devices = []
    torch.manual_seed(0)
    clf = M2MClassifier(MLP, device="cpu", iterator_train=_RecordingLoader,
                        iterator_valid=_RecordingLoader, **_params(max_epochs=4, start_epoch=2,
                                                                   g_epochs=4))
    clf.fit(X, y)
    clf.predict(X_test)
    # f's training loader and the predict loader get the net's device (so did g's ERM
    # net's, before them)
    assert _RecordingLoader.devices[-2:] == [torch.device("cpu"), torch.device("cpu")]
    h = clf.history
    for row in h:
        assert all(row[k] > 0 for k in TIMING_KEYS)
        parts = row["m2m_data_time"] + row["m2m_step_time"] + row["m2m_generation_time"]
        assert parts <= row["dur"]
    # the generation epochs spend most of their time translating (4 steps, 2 networks)
    assert h[-1, "m2m_generation_time"] > 0


class _Probe(nn.Module):
    """A small CNN that records how it is called."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4, 10)
        self.calls = []

    def forward(self, x):
        self.calls.append((self.training, torch.is_autocast_enabled(x.device.type),
                           x.is_contiguous(memory_format=torch.channels_last)
                           and not x.is_contiguous()))
        z = torch.relu(self.conv(x)).mean(dim=(2, 3))
        return self.head(z)


def test_amp_dtype_and_channels_last_reach_training_and_prediction(digits):
    X, y, X_test, _ = digits
    # three channels: with one, channels_last and contiguous are the same layout
    X4 = np.repeat(X.reshape(-1, 1, 8, 8), 3, axis=1)
    X4_test = np.repeat(X_test.reshape(-1, 1, 8, 8), 3, axis=1)
    common = dict(optimizer=torch.optim.SGD, lr=0.05, max_epochs=3, start_epoch=1,
                  batch_size=64, beta=0.9, gamma=0.5, step_size=0.2, n_steps=2,
                  clip=(0.0, 1.0), verbose=0, random_state=0)
    g = _Probe()
    torch.manual_seed(0)
    fast = M2MClassifier(_Probe, g=g, amp_dtype=torch.bfloat16, channels_last=True,
                         **common).fit(X4, y)
    train_calls = [c for c in fast.module_.calls if c[0]]
    assert train_calls and all(c[1] and c[2] for c in train_calls)
    assert fast.module_.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert fast.g_.conv.weight.is_contiguous(memory_format=torch.channels_last)
    fast.module_.calls.clear()
    proba = fast.predict_proba(X4_test)
    assert proba.dtype == np.float32 and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert fast.module_.calls and all(c[1] and c[2] for c in fast.module_.calls)
    assert sum(fast.history[:, "m2m_translated"]) > 0
    # defaults: skorch's plain forward (no autocast, contiguous inputs)
    torch.manual_seed(0)
    plain = M2MClassifier(_Probe, g=g, **common).fit(X4, y)
    assert all(not c[1] and not c[2] for c in plain.module_.calls)
    # channels_last alone is the same model: same weights give the same outputs
    torch.manual_seed(0)
    cl = M2MClassifier(_Probe, g=g, channels_last=True, **common).fit(X4, y)
    cl.module_.load_state_dict(plain.module_.state_dict())
    np.testing.assert_allclose(cl.predict_proba(X4_test), plain.predict_proba(X4_test),
                               rtol=1e-5, atol=1e-6)


def test_cuda_graph_needs_a_cuda_device(digits):
    X, y, _, _ = digits
    with pytest.raises(ValueError, match="cuda_graph=True"):
        M2MClassifier(MLP, device="cpu", cuda_graph=True, **_params()).fit(X, y)
    with pytest.raises(ValueError, match="'channels_last' parameter of M2MClassifier"):
        M2MClassifier(MLP, channels_last="yes", **_params()).fit(X, y)


def test_no_warning_on_the_default_path(digits):
    X, y, _, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # a 2-epoch g accepts no translation, which fit reports since issue 23
        warnings.simplefilter("ignore", LowAcceptanceWarning)
        torch.manual_seed(0)
        M2MClassifier(MLP, iterator_train=DeviceLoader, iterator_valid=DeviceLoader,
                      **_params(max_epochs=2, start_epoch=1, g_epochs=2)).fit(X, y).predict(X)
