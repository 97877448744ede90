"""Composability: skorch's AccelerateMixin (Hugging Face accelerate) on top of our nets.

AccelerateMixin replaces ``train_step_single``, re-implements ``initialize`` and wraps
the iterators; nothing of ours lives there (the speed options and the generation sit in
the data path and in documented hooks), so both nets compose with it in one process on
the CPU.
"""

import numpy as np
import pytest
import torch

accelerate = pytest.importorskip("accelerate")

from skorch.hf import AccelerateMixin  # noqa: E402

from m2m_sampler.classifier import M2MClassifier  # noqa: E402
from m2m_sampler.longtail.models import MLP  # noqa: E402
from m2m_sampler.net import NetClassifier  # noqa: E402


class AcceleratedM2M(AccelerateMixin, M2MClassifier):
    """M2MClassifier with accelerate support."""


class AcceleratedNet(AccelerateMixin, NetClassifier):
    """NetClassifier with accelerate support."""


COMMON = dict(module__n_features=64, module__n_classes=10, optimizer=torch.optim.SGD,
              optimizer__momentum=0.9, lr=0.05, batch_size=64, verbose=0,
              callbacks__print_log__sink=print)  # print obeys verbose=0


@pytest.mark.parametrize("given_g", [False, True], ids=["g=None", "g given"])
def test_accelerated_m2m_classifier_generates_on_the_cpu(digits, given_g):
    X, y, X_test, y_test = digits
    g = None
    if given_g:
        torch.manual_seed(0)
        g = NetClassifier(MLP, max_epochs=15, iterator_train__shuffle=True, **COMMON).fit(X, y)
    torch.manual_seed(1)
    net = AcceleratedM2M(
        MLP, g=g, accelerator=accelerate.Accelerator(cpu=True), max_epochs=6, start_epoch=3,
        g_epochs=15, beta=0.9, gamma=0.5, step_size=0.2, n_steps=4, clip=(0.0, 1.0),
        random_state=0, **COMMON,
    ).fit(X, y)
    h = net.history
    assert h[:, "m2m_active"] == [False] * 3 + [True] * 3
    assert sum(h[:, "m2m_accepted"]) > 0
    assert net.sampler_.balanced  # the default DeferredResampling ran
    assert not net.g_.training and not any(p.requires_grad for p in net.g_.parameters())
    if not given_g:
        assert isinstance(net.g_net_, AcceleratedM2M) and len(net.g_net_.history) == 15
    assert net.score(X_test, y_test) > 0.5


def test_accelerated_net_classifier_with_speed_options(digits):
    X, y, X_test, y_test = digits
    seen = []

    def transform(x):
        seen.append(len(x))
        return x

    torch.manual_seed(2)
    net = AcceleratedNet(
        MLP, accelerator=accelerate.Accelerator(cpu=True), max_epochs=10,
        amp_dtype=torch.bfloat16, batch_transform=transform, iterator_train__shuffle=True,
        **COMMON,
    ).fit(X, y)
    assert sum(seen) == 10 * len(y)
    assert np.isfinite(net.history[:, "train_loss"]).all()
    assert net.score(X_test, y_test) > 0.5
