"""A DeviceLoader that scales integer X: training and prediction see the same values, or
the configuration is refused at fit (issue 23, silent wrong result 4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from m2m_sampler.longtail.models import MLP
from m2m_sampler.net import NetClassifier
from m2m_sampler.training.device_data import DeviceLoader


@pytest.fixture(scope="module")
def pixels():
    X, y = load_digits(return_X_y=True)
    return np.round(X[:300] / 16 * 255).astype(np.uint8), y[:300]


def _net(**kwargs):
    return NetClassifier(MLP, module__n_features=64, module__n_classes=10, max_epochs=2,
                         batch_size=64, lr=0.1, train_split=None, verbose=0, **kwargs)


def test_device_loader_for_training_only_is_refused(pixels):
    """Before: trained on X/255, predicted on X (0.834 vs 0.972 accuracy)."""
    X, y = pixels
    net = _net(iterator_train=DeviceLoader, iterator_train__dtype=torch.float32)
    with pytest.raises(ValueError, match=r"times 0\.00392157 in training.*times 1 in "
                                         r"validation and prediction.*iterator_valid="):
        net.fit(X, y)


def test_device_loader_without_dtype_is_refused_clearly(pixels):
    """Before: RuntimeError 'mat1 and mat2 must have the same dtype' deep in torch."""
    X, y = pixels
    with pytest.raises(ValueError, match=r"integer inputs times 1 in training.*"
                                         r"iterator_train__dtype=torch\.float32"):
        _net(iterator_train=DeviceLoader).fit(X, y)


def test_different_scales_for_training_and_prediction_are_refused(pixels):
    X, y = pixels
    net = _net(iterator_train=DeviceLoader, iterator_train__dtype=torch.float32,
               iterator_train__scale=1.0, iterator_valid=DeviceLoader,
               iterator_valid__dtype=torch.float32)
    with pytest.raises(ValueError, match="predictions would not match"):
        net.fit(X, y)


def test_the_same_loader_for_both_predicts_on_the_training_scale(pixels):
    X, y = pixels
    torch.manual_seed(0)
    net = _net(iterator_train=DeviceLoader, iterator_train__dtype=torch.float32,
               iterator_valid=DeviceLoader, iterator_valid__dtype=torch.float32).fit(X, y)
    with torch.no_grad():
        logits = net.module_(torch.from_numpy(X.astype(np.float32) / 255))
    expected = torch.softmax(logits, dim=1).numpy()
    np.testing.assert_allclose(net.predict_proba(X), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(net.predict(X), net.classes_[expected.argmax(1)])
    assert net.score(X, y) > 0.5
    # float X: nothing to scale, a DeviceLoader for training only is fine
    _net(iterator_train=DeviceLoader).fit(X.astype(np.float32) / 255, y)


def test_loader_conversion_values():
    from m2m_sampler.training.device_data import loader_conversion

    u8, f32 = torch.uint8, torch.float32
    assert loader_conversion(DeviceLoader, {"dtype": f32}, u8) == (True, 1 / 255)
    assert loader_conversion(DeviceLoader, {}, u8) == (False, 1.0)
    assert loader_conversion(DeviceLoader, {"dtype": f32, "scale": 0.5}, u8) == (True, 0.5)
    assert loader_conversion(DeviceLoader, {"dtype": f32}, torch.int64) == (True, 1.0)
    assert loader_conversion(DeviceLoader, {"dtype": f32}, f32) == (True, 1.0)
    assert loader_conversion(DeviceLoader, {"scale": 2}, f32) == (True, 2.0)
    assert loader_conversion(torch.utils.data.DataLoader, {}, u8) == (True, 1.0)
