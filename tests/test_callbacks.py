import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback
from skorch.dataset import Dataset, ValidSplit
from torch import nn

from m2m_sampler.longtail.losses import LDAMLoss
from m2m_sampler.training.callbacks import DeferredResampling, DeferredReweighting
from m2m_sampler.training.sampling import ClassBalancedSampler, get_dataset_labels
from m2m_sampler.training.schedules import WarmupStepLambda, paper_lr_scheduler, warmup_step_lambda

COUNTS = (150, 40, 10)


def _data():
    """X holds each sample's id, so recorded batches tell which samples were drawn."""
    y = np.repeat(np.arange(3), COUNTS).astype(np.int64)
    X = np.arange(len(y), dtype=np.float32)[:, None]
    return X, y


class _Recorder(Callback):
    """Record per epoch: the training ids/labels drawn, lr used, criterion weight."""

    def initialize(self):
        self.ids_, self.labels_, self.lrs_, self.weights_, self.train_sets_ = [], [], [], [], []
        return self

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        self.ids_.append([])
        self.labels_.append([])
        self.lrs_.append(None)
        self.weights_.append(None)
        self.train_sets_.append(dataset_train)

    def on_batch_begin(self, net, batch=None, training=None, **kwargs):
        if not training:
            return
        X, y = batch
        self.ids_[-1].extend(X[:, 0].long().tolist())
        self.labels_[-1].extend(y.tolist())
        self.lrs_[-1] = net.optimizer_.param_groups[0]["lr"]
        w = getattr(net.criterion_, "weight", None)
        self.weights_[-1] = None if w is None else w.detach().clone()


def _net(callbacks, **kwargs):
    params = {
        "max_epochs": 4,
        "batch_size": 50,
        "lr": 0.1,
        "train_split": None,
        "verbose": 0,
    }
    params.update(kwargs)
    return NeuralNetClassifier(nn.Linear(1, 3), callbacks=callbacks, **params)


def _recorder(net):
    return dict(net.callbacks_)["_Recorder"]


# ----------------------------------------------------------------------------- labels


def test_get_dataset_labels_variants():
    X, y = _data()
    ds = Dataset(X, y)
    np.testing.assert_array_equal(get_dataset_labels(ds), y)
    sub = torch.utils.data.Subset(torch.utils.data.Subset(ds, [5, 150, 199, 3]), [1, 2])
    np.testing.assert_array_equal(get_dataset_labels(sub), [1, 2])
    tds = torch.utils.data.TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    np.testing.assert_array_equal(get_dataset_labels(tds), y)

    class WithTargets(torch.utils.data.Dataset):
        targets = [2, 0, 1]

        def __len__(self):
            return 3

    np.testing.assert_array_equal(get_dataset_labels(WithTargets()), [2, 0, 1])

    class Plain(torch.utils.data.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return torch.zeros(2), torch.tensor(i % 2)

    with pytest.warns(UserWarning, match="indexing every item"):
        np.testing.assert_array_equal(get_dataset_labels(Plain()), [0, 1, 0])
    with pytest.raises(ValueError, match="no targets"):
        get_dataset_labels(Dataset(X, None))
    with pytest.raises(ValueError, match="1-D"):
        get_dataset_labels(Dataset(X, np.eye(3)[y]))


# ----------------------------------------------------------------------------- sampler


def test_sampler_balanced_mode_is_class_balanced_and_uniform_within_class():
    labels = np.repeat([0, 1, 2], COUNTS)
    sampler = ClassBalancedSampler(
        labels, num_samples=30000, generator=torch.Generator().manual_seed(0)
    )
    assert len(sampler) == 30000
    idx = np.fromiter(iter(sampler), dtype=np.int64)
    frac = np.bincount(labels[idx], minlength=3) / len(idx)
    np.testing.assert_allclose(frac, [1 / 3] * 3, atol=0.015)  # sd 0.0027
    minority = np.bincount(idx[labels[idx] == 2] - 190, minlength=10)
    # ~1000 draws for each of the 10 minority items (sd ~31)
    assert minority.min() > 850 and minority.max() < 1150


def test_sampler_natural_mode_is_a_permutation_and_reproducible():
    labels = np.repeat([0, 1, 2], COUNTS)
    sampler = ClassBalancedSampler(labels, balanced=False)
    torch.manual_seed(0)
    a = list(sampler)
    torch.manual_seed(0)
    b = list(sampler)
    assert a == b
    assert sorted(a) == list(range(200)) and a != list(range(200))
    assert len(sampler) == 200
    sampler.balanced = True
    assert len(sampler) == 200  # same epoch length as plain training
    assert len(set(sampler)) < 200  # with replacement


def test_sampler_needs_labels():
    with pytest.raises(RuntimeError, match="DeferredResampling"):
        list(ClassBalancedSampler())
    assert list(ClassBalancedSampler(np.array([], dtype=int))) == []
    with pytest.raises(ValueError, match="1-D"):
        ClassBalancedSampler().set_labels(np.zeros((2, 2)))


# ----------------------------------------------------------------------------- DRS


def _drs_net(**kwargs):
    return _net(
        [DeferredResampling(start_epoch=2), _Recorder()],
        iterator_train__sampler=ClassBalancedSampler(),
        **kwargs,
    )


def test_drs_natural_then_balanced():
    X, y = _data()
    torch.manual_seed(0)
    rec = _recorder(_drs_net().fit(X, y))
    for epoch in (0, 1):  # every sample once, shuffled
        assert sorted(rec.ids_[epoch]) == list(range(200))
        assert rec.ids_[epoch] != list(range(200))
        assert np.bincount(rec.labels_[epoch]).tolist() == list(COUNTS)
    for epoch in (2, 3):  # 200 draws, ~66.7 per class (sd ~6.7)
        counts = np.bincount(rec.labels_[epoch], minlength=3)
        assert counts.sum() == 200
        assert counts.min() >= 40 and counts.max() <= 95, counts
        # the labels of the drawn ids are the recorded labels
        np.testing.assert_array_equal(y[rec.ids_[epoch]], rec.labels_[epoch])


def test_drs_is_deterministic_under_manual_seed():
    X, y = _data()
    torch.manual_seed(123)
    a = _recorder(_drs_net().fit(X, y)).ids_
    torch.manual_seed(123)
    b = _recorder(_drs_net().fit(X, y)).ids_
    assert a == b


def test_drs_follows_skorch_internal_valid_split():
    X, y = _data()
    torch.manual_seed(0)
    net = _drs_net(train_split=ValidSplit(5, stratified=True)).fit(X, y)
    rec = _recorder(net)
    train_ids = set(np.asarray(rec.train_sets_[0].indices).tolist())
    assert len(train_ids) == 160
    assert sorted(rec.ids_[0]) == sorted(train_ids)  # natural: the 160 train ids once
    for epoch in (2, 3):
        assert set(rec.ids_[epoch]) <= train_ids  # never a validation sample
        counts = np.bincount(rec.labels_[epoch], minlength=3)
        assert counts.sum() == 160
        assert counts.min() >= 30 and counts.max() <= 80, counts
    assert "valid_loss" in net.history[-1]


def test_drs_partial_fit_keeps_counting_epochs():
    X, y = _data()
    torch.manual_seed(0)
    net = _drs_net(max_epochs=1).fit(X, y)  # epoch 0: natural
    net.partial_fit(X, y)  # epoch 1: natural
    net.partial_fit(X, y)  # epoch 2: balanced
    rec = _recorder(net)
    assert sorted(rec.ids_[-2]) == list(range(200))
    assert np.bincount(rec.labels_[-1], minlength=3)[2] > 30  # 10 in natural order


def test_drs_start_epoch_zero_is_plain_resampling():
    X, y = _data()
    torch.manual_seed(0)
    net = _net(
        [DeferredResampling(start_epoch=0), _Recorder()],
        iterator_train__sampler=ClassBalancedSampler(),
        max_epochs=1,
    ).fit(X, y)
    assert np.bincount(_recorder(net).labels_[0], minlength=3)[2] > 30


def test_drs_misconfiguration_messages():
    X, y = _data()
    with pytest.raises(ValueError, match="iterator_train__sampler=ClassBalancedSampler"):
        _net([DeferredResampling(1)]).fit(X, y)
    with pytest.raises(ValueError, match="shuffle"):
        _net(
            [DeferredResampling(1)],
            iterator_train__sampler=ClassBalancedSampler(),
            iterator_train__shuffle=True,
        ).fit(X, y)


def test_drs_net_clones_and_pickles():
    X, y = _data()
    net = _drs_net(max_epochs=3)
    torch.manual_seed(0)
    fitted = clone(net).fit(X, y)
    assert net.iterator_train__sampler.labels is None  # the original is untouched
    again = pickle.loads(pickle.dumps(fitted))
    torch.manual_seed(0)
    again.partial_fit(X, y)
    assert np.bincount(_recorder(again).labels_[-1], minlength=3)[2] > 30


# ----------------------------------------------------------------------------- DRW


def _expected_effective(counts, beta=0.9999):
    raw = np.array([(1 - beta) / (1 - beta**n) for n in counts])
    return raw / raw.sum() * len(counts)


@pytest.mark.parametrize("criterion", [nn.CrossEntropyLoss, LDAMLoss])
def test_drw_sets_effective_weights_from_start_epoch(criterion):
    X, y = _data()
    extra = {"criterion__class_counts": COUNTS} if criterion is LDAMLoss else {}
    torch.manual_seed(0)
    net = _net([DeferredReweighting(start_epoch=2), _Recorder()], criterion=criterion, **extra).fit(
        X, y
    )
    rec = _recorder(net)
    assert rec.weights_[0] is None and rec.weights_[1] is None
    expected = _expected_effective(COUNTS)
    for epoch in (2, 3):
        w = rec.weights_[epoch]
        assert w.dtype == torch.float32
        np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(dict(net.callbacks_)["DeferredReweighting"].weights_, expected)


def test_drw_weight_options_and_train_split_counts():
    X, y = _data()
    net = _net(
        [DeferredReweighting(start_epoch=0, weights="inverse"), _Recorder()],
        max_epochs=1,
        train_split=ValidSplit(5, stratified=True),
    ).fit(X, y)
    # stratified 4/5 of (150, 40, 10) -> (120, 32, 8)
    inv = 1 / np.array([120, 32, 8])
    np.testing.assert_allclose(_recorder(net).weights_[0].numpy(), inv / inv.sum() * 3, rtol=1e-6)
    given = _net(
        [DeferredReweighting(0, class_counts=[1, 1, 2], beta=0.5), _Recorder()], max_epochs=1
    ).fit(X, y)
    # beta=.5: 1/E = [1, 1, 2/3] -> * 3 / (8/3)
    np.testing.assert_allclose(
        _recorder(given).weights_[0].numpy(), [9 / 8, 9 / 8, 3 / 4], rtol=1e-6
    )
    explicit = _net([DeferredReweighting(0, weights=[3.0, 2.0, 1.0]), _Recorder()], max_epochs=1)
    explicit.fit(X, y)
    np.testing.assert_allclose(_recorder(explicit).weights_[0].numpy(), [3.0, 2.0, 1.0])


def test_drw_matches_float64_module():
    X, y = _data()
    net = NeuralNetClassifier(
        nn.Linear(1, 3).double(),
        callbacks=[DeferredReweighting(0), _Recorder()],
        max_epochs=1,
        train_split=None,
        verbose=0,
    ).fit(X.astype(np.float64), y)
    assert _recorder(net).weights_[0].dtype == torch.float64


def test_drw_errors():
    X, y = _data()

    class NoWeight(nn.Module):
        def forward(self, z, t):
            return nn.functional.cross_entropy(z, t)

    with pytest.raises(TypeError, match="weight"):
        _net([DeferredReweighting(0)], criterion=NoWeight).fit(X, y)
    with pytest.raises(ValueError, match="weights must be"):
        _net([DeferredReweighting(0, weights="cb")]).fit(X, y)
    with pytest.raises(ValueError, match="0 samples"):
        _net([DeferredReweighting(0)], max_epochs=1).fit(X, np.where(y == 1, 2, y))


# ----------------------------------------------------------------------------- LR schedule


def test_warmup_step_lambda_matches_the_authors_schedule():
    f = warmup_step_lambda()
    lrs = [0.1 * f(e) for e in range(200)]
    # LDAM-DRW / M2m adjust_learning_rate: base*(e+1)/5 for e<5, /100 at 160 and at 180
    expected = [0.02, 0.04, 0.06, 0.08, 0.1] + [0.1] * 155 + [1e-3] * 20 + [1e-5] * 20
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    assert WarmupStepLambda(0, (2,), 0.5)(0) == 1.0
    assert WarmupStepLambda(0, (2,), 0.5)(5) == 0.5
    g = pickle.loads(pickle.dumps(f))
    assert g == f and g(170) == f(170)
    with pytest.raises(ValueError, match="warmup"):
        WarmupStepLambda(-1)


def test_paper_lr_scheduler_milestones():
    assert paper_lr_scheduler().lr_lambda == WarmupStepLambda(5, (160, 180), 0.01)
    assert paper_lr_scheduler(max_epochs=20).lr_lambda.milestones == (16, 18)
    assert paper_lr_scheduler(milestones=(3,)).lr_lambda.milestones == (3,)


def test_lr_per_epoch_in_a_real_fit_and_after_partial_fit():
    X, y = _data()
    sched = paper_lr_scheduler(warmup_epochs=2, milestones=(4, 6), gamma=0.1)
    net = _net([sched, _Recorder()], max_epochs=5)
    torch.manual_seed(0)
    net = clone(net).fit(X, y)
    net.partial_fit(X, y, epochs=3)
    expected = [0.05, 0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    np.testing.assert_allclose(_recorder(net).lrs_, expected, rtol=1e-9)
    np.testing.assert_allclose(net.history[:, "event_lr"], expected, rtol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pickle.loads(pickle.dumps(net))


def test_one_deferral_rule_and_one_never_reached_start():
    from m2m_sampler.classifier import M2MClassifier
    from m2m_sampler.longtail.models import MLP
    from m2m_sampler.training.schedules import NEVER, default_start_epoch, paper_milestones

    for epochs in (1, 10, 15, 200):
        assert default_start_epoch(epochs) == round(0.8 * epochs) == paper_milestones(epochs)[0]
        net = M2MClassifier(MLP, max_epochs=epochs)
        assert net._resolved_start_epoch() == default_start_epoch(epochs)
    assert NEVER > 10**15
    net = M2MClassifier(MLP, module__n_features=3, module__n_classes=2, max_epochs=4,
                        classes=[0, 1]).initialize()
    assert net.get_g_net().start_epoch == NEVER  # g's ERM net is never class-balanced
