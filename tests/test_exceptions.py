"""The warning classes (m2m_sampler.exceptions): each is exported, a UserWarning through
M2MWarning, and raised by the library, alone, in a realistic situation."""

from __future__ import annotations

import pickle
import warnings
from unittest import mock

import numpy as np
import pytest
import torch
from torch import nn

import m2m_sampler
import m2m_sampler.engine.memory as memory
from m2m_sampler import M2MClassifier, M2MOverSampler
from m2m_sampler.exceptions import (
    ClipRangeWarning,
    CUDAGraphCaptureWarning,
    DeferredPhaseNotReachedWarning,
    DeferredPhaseWarning,
    FallbackCopiesWarning,
    ItemByItemReadWarning,
    LabelOrderWarning,
    LowAcceptanceWarning,
    M2MWarning,
    MemoryBudgetWarning,
    NoProcessGroupWarning,
    RestoredOnCPUWarning,
)
from m2m_sampler.longtail.models import MLP
from m2m_sampler.training.schedules import paper_lr_scheduler

CLASSES = [
    ClipRangeWarning,
    CUDAGraphCaptureWarning,
    DeferredPhaseNotReachedWarning,
    DeferredPhaseWarning,
    FallbackCopiesWarning,
    ItemByItemReadWarning,
    LabelOrderWarning,
    LowAcceptanceWarning,
    MemoryBudgetWarning,
    NoProcessGroupWarning,
    RestoredOnCPUWarning,
]


def _blobs(counts=(60, 20), d=2, seed=0, scale=0.3):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(n, d) * scale + c for c, n in enumerate(counts)])
    return X.astype(np.float32), np.repeat(np.arange(len(counts)), counts)


class Linear2(nn.Module):
    """Logits ``(-10 x_0, 10 x_0) + b``: class 1 to the right of 0.5 (``order`` permutes)."""

    def __init__(self, order=(0, 1)):
        super().__init__()
        self.lin = nn.Linear(2, 2)
        with torch.no_grad():
            self.lin.weight.copy_(torch.tensor([[-10.0, 0.0], [10.0, 0.0]])[list(order)])
            self.lin.bias.copy_(torch.tensor([5.0, -5.0])[list(order)])

    def forward(self, x):
        return self.lin(x)


def _good_sampler(**kwargs):
    """A sampler that translates well on :func:`_blobs` (no warning at all)."""
    params = dict(g=Linear2(), beta=0.9, gamma=0.6, step_size=0.5, random_state=0)
    params.update(kwargs)
    return M2MOverSampler(**params)


def _only(record, category):
    """Assert that the library issued ``category`` and nothing else; return the messages."""
    ours = [w for w in record if issubclass(w.category, M2MWarning)]
    assert [w.category for w in ours] == [category] * len(ours) and ours, [
        (w.category.__name__, str(w.message)) for w in record
    ]
    return [str(w.message) for w in ours]


def _m2m(**kwargs):
    params = dict(module__n_features=5, module__n_classes=3, module__hidden=(16,),
                  max_epochs=4, start_epoch=2, batch_size=32, lr=0.1, beta=0.9, gamma=0.5,
                  step_size=0.3, n_steps=3, g_epochs=15, verbose=0, random_state=0)
    params.update(kwargs)
    return M2MClassifier(MLP, **params)


# ----------------------------------------------------------------------------- the classes


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_class_is_a_user_warning_through_the_base_and_is_exported(cls):
    assert issubclass(cls, M2MWarning) and issubclass(cls, UserWarning)
    assert cls.__module__ == "m2m_sampler.exceptions"
    assert cls.__name__ in m2m_sampler.exceptions.__all__
    assert cls.__doc__ and cls.__doc__.strip()


def test_the_exports():
    assert issubclass(M2MWarning, UserWarning)
    assert sorted(m2m_sampler.exceptions.__all__) == sorted(
        [c.__name__ for c in CLASSES] + ["M2MWarning"]
    )
    # the most frequent ones from the package itself, the base included
    for name in ("M2MWarning", "LowAcceptanceWarning", "LabelOrderWarning"):
        assert name in m2m_sampler.__all__
        assert getattr(m2m_sampler, name) is getattr(m2m_sampler.exceptions, name)
    # the classes that moved stay importable where they were
    from m2m_sampler.engine.memory import MemoryBudgetWarning as moved_memory
    from m2m_sampler.training.schedules import DeferredPhaseWarning as moved_schedule

    assert moved_memory is MemoryBudgetWarning and moved_schedule is DeferredPhaseWarning
    # the one that was a RuntimeWarning still is
    assert issubclass(CUDAGraphCaptureWarning, RuntimeWarning)
    assert not issubclass(LowAcceptanceWarning, RuntimeWarning)


def test_a_category_filter_silences_exactly_its_kind():
    X, y = _blobs()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", LowAcceptanceWarning)
        # out of label order (warns) and steps far too small (nothing accepted)
        M2MOverSampler(Linear2(order=(1, 0)), beta=0.9, step_size=1e-4,
                       random_state=0).fit_resample(X, y)
    assert _only(record, LabelOrderWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error", M2MWarning)  # every warning of the library
        with pytest.raises(LowAcceptanceWarning, match="close to random over-sampling"):
            M2MOverSampler(Linear2(), beta=0.9, step_size=1e-4,
                           random_state=0).fit_resample(X, y)


# ----------------------------------------------------------------------------- M2MOverSampler


def test_low_acceptance():
    X, y = _blobs()
    # steps far too small for the data's scale: nothing reaches class 1
    with pytest.warns(LowAcceptanceWarning) as record:
        sampler = M2MOverSampler(Linear2(), beta=0.9, step_size=1e-4, random_state=0)
        sampler.fit_resample(X, y)
    (msg,) = _only(record, LowAcceptanceWarning)
    n_accepted = int(sampler.is_translated_.sum())
    assert n_accepted < 0.1 * 40 and "step_size" in msg
    assert msg.startswith(f"only {n_accepted} of 40 planned translations")
    # the Bernoulli draw rejects nearly everything
    with pytest.warns(LowAcceptanceWarning) as record:
        _good_sampler(beta=0.9999).fit_resample(X, y)
    assert "lower beta" in _only(record, LowAcceptanceWarning)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", M2MWarning)
        _good_sampler().fit_resample(X, y)


def test_fallback_copies():
    X, y = _blobs((50, 50, 20))  # two classes tied for largest
    g = nn.Sequential(nn.Linear(2, 3))
    sampler = M2MOverSampler(g, sampling_strategy={0: 70, 1: 60, 2: 50}, gamma=0.0,
                             beta=0.0, random_state=0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        sampler.fit_resample(X, y)
    assert _only(record, FallbackCopiesWarning)[0].startswith(
        "no strictly larger class to translate from for class(es) [0, 1]; added 30 copies"
    )
    assert sampler.class_stats_[0]["n_fallback"] == 20
    assert sampler.class_stats_[1]["n_fallback"] == 10


def test_label_order():
    X, y = _blobs()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        # g's logits swapped; gamma=0 accepts every translation (no low acceptance)
        _good_sampler(g=Linear2(order=(1, 0)), gamma=0.0).fit_resample(X, y)
    msg = _only(record, LabelOrderWarning)[0]
    assert "not in sorted label order" in msg and "far below chance (50%)" in msg


def test_restored_on_cpu():
    X, y = _blobs()
    sampler = _good_sampler()
    sampler.fit_resample(X, y)
    sampler.device_ = torch.device("cuda:0")  # as fitted on a GPU
    tag = mock.patch.object(torch.serialization, "location_tag", lambda storage: "cuda:0")
    with tag:
        data = pickle.dumps(sampler)
    with mock.patch("torch.cuda.is_available", return_value=False), pytest.warns(
        RestoredOnCPUWarning
    ) as record:
        restored = pickle.loads(data)
    assert "fitted on cuda:0, which is not available here" in _only(record, RestoredOnCPUWarning)[0]
    assert restored.device_ == torch.device("cpu")


def test_no_process_group():
    X, y = _blobs()
    with pytest.warns(NoProcessGroupWarning) as record:
        sampler = _good_sampler(distributed=True)
        X_res, _ = sampler.fit_resample(X, y)
    assert "no torch.distributed process group" in _only(record, NoProcessGroupWarning)[0]
    np.testing.assert_array_equal(X_res, _good_sampler().fit_resample(X, y)[0])


def test_memory_budget(monkeypatch):
    X, y = _blobs()  # 120 output rows x 2 float32 = 960 bytes
    monkeypatch.setattr(memory, "OUTPUT_MEMORY_BUDGET", 959)
    with pytest.warns(MemoryBudgetWarning) as record:
        _good_sampler().fit_resample(X, y)
    assert "120 rows x 2 features of float32" in _only(record, MemoryBudgetWarning)[0]


# ----------------------------------------------------------------------------- M2MClassifier


def _clf_blobs():
    X, y = _blobs((60, 30, 12), d=5, scale=0.5)
    return X.astype(np.float64), y


def test_deferred_phase_not_reached():
    X, y = _clf_blobs()
    with pytest.warns(DeferredPhaseNotReachedWarning) as record:
        clf = _m2m(start_epoch=10).fit(X, y)
    assert _only(record, DeferredPhaseNotReachedWarning)[0].startswith(
        "start_epoch=10 is not reached: this fit trains epochs 0 to 3 (max_epochs=4)"
    )
    assert not clf.m2m_reached_


def test_deferred_phase_on_the_decay():
    X, y = _clf_blobs()
    # 15 epochs, the paper's shape: start 12 = the first milestone (0.0201 epochs' worth)
    clf = _m2m(max_epochs=15, start_epoch=None, g_epochs=2, n_steps=1,
               callbacks=[("lr", paper_lr_scheduler(max_epochs=15))])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", LowAcceptanceWarning)  # not the point here
        clf.fit(X, y)
    assert "epochs 12-14 of 15" in _only(record, DeferredPhaseWarning)[0]


# ----------------------------------------------------------------------------- training pieces


class _Plain(torch.utils.data.Dataset):
    """A map-style dataset with no ``targets`` attribute."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return torch.as_tensor(self.X[i]), int(self.y[i])


def test_item_by_item_read():
    from m2m_sampler import DeviceLoader
    from m2m_sampler.training.sampling import get_dataset_labels

    X, y = _blobs((6, 3))
    with pytest.warns(ItemByItemReadWarning) as record:
        np.testing.assert_array_equal(get_dataset_labels(_Plain(X, y)), y)
    assert "by indexing every item" in _only(record, ItemByItemReadWarning)[0]
    with pytest.warns(ItemByItemReadWarning) as record:
        xb, yb = next(iter(DeviceLoader(_Plain(X, y), batch_size=9)))
    assert "reads every item" in _only(record, ItemByItemReadWarning)[0]
    assert yb.tolist() == y.tolist()


def test_cuda_graph_capture_failed():
    from m2m_sampler.training.cuda_graphs import GraphedTrainingForward

    def failing_capture(module, sample_args):
        raise RuntimeError("capture invalidated")

    net = nn.Linear(4, 3).train()
    graphed = GraphedTrainingForward(net, batch_size=8)
    graphed.graph_device_types = ("cpu",)  # route CPU batches to the (failing) capture
    graphed.make_graphed = failing_capture
    with pytest.warns(CUDAGraphCaptureWarning) as record:
        assert graphed(torch.rand(8, 4)) is None
    assert "capture of the training step failed" in _only(record, CUDAGraphCaptureWarning)[0]
