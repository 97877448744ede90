"""M2MClassifier's acceptance summary per class (``class_stats_``) and per class pair."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from _loaders import small_m2m_params
from skorch.callbacks import Callback
from skorch.history import History

from m2m_sampler.classifier import M2MClassifier
from m2m_sampler.engine.acceptance import CLASS_STATS_KEYS, accepted_share, class_record
from m2m_sampler.engine.generation import GenerationResult
from m2m_sampler.longtail.models import MLP
from m2m_sampler.training.generation_log import PAIRS_KEY, GenerationLog
from m2m_sampler.training.schedules import DeferredPhaseWarning, paper_lr_scheduler


def test_pair_counts_of_a_hand_made_result():
    # batch 0: labels 0 0 1 2; targets at 2 (class 1) and 3 (class 2), sources 0 and 1
    # (class 0); both survive beta, only the first passes gamma.
    # batch 1: labels 1 2 2; target at 2 (class 2) from source 0 (class 1), beta-rejected.
    y0, y1 = torch.tensor([0, 0, 1, 2]), torch.tensor([1, 2, 2])
    result = GenerationResult(
        target_pos=[torch.tensor([2, 3]), torch.tensor([2])],
        source_pos=[torch.tensor([0, 1]), torch.tensor([0])],
        survived_beta=[torch.tensor([True, True]), torch.tensor([False])],
        accepted=[torch.tensor([True, False]), torch.tensor([False])],
        # batch 1: entry 0 (class 1) was drawn as a target too, but had no larger class
        no_source=[torch.zeros(4, dtype=torch.bool), torch.tensor([True, False, False])],
    )
    net = SimpleNamespace(history=History(), classes_=np.arange(3))
    log = GenerationLog()
    log.initialize()
    log.on_train_begin(net)
    net.history.new_epoch()
    log.add(result, 7, 0.0, labels=[y0, y1], n_classes=3)
    log.on_epoch_end(net)  # the epoch's counts join the fit's when its row is written
    pairs = log.pair_counts(3)
    np.testing.assert_array_equal(pairs["sourced"], [[0, 1, 1], [0, 0, 1], [0, 0, 0]])
    np.testing.assert_array_equal(pairs["translated"], [[0, 1, 1], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(pairs["accepted"], [[0, 1, 0], [0, 0, 0], [0, 0, 0]])
    assert net.history[-1, PAIRS_KEY] == [[0, 1, 0], [0, 0, 0], [0, 0, 0]]
    assert log.class_stats(["a", "b", "c"]) == {
        "a": class_record(0, 0, 0, 0),
        "b": class_record(2, 1, 1, 1),  # one without a source, one accepted
        "c": class_record(2, 0, 1, 0),  # one beta-rejected, one failed gamma
    }
    assert log.class_stats("abc")["c"]["n_rejected_beta"] == 1
    # counts accumulate over epochs (the history keeps each epoch's) and reset at the
    # next fit
    net.history.new_epoch()
    log.on_epoch_begin(net)
    log.add(result, 7, 0.0, labels=[y0, y1], n_classes=3)
    log.on_epoch_end(net)
    assert log.pair_counts(3)["accepted"][0, 1] == 2
    assert net.history[-1, PAIRS_KEY] == [[0, 1, 0], [0, 0, 0], [0, 0, 0]]
    assert log.class_stats("abc")["b"]["n_fallback"] == 2
    log.on_train_begin(net)
    assert log.pair_counts(3)["sourced"].sum() == 0
    assert log.class_stats("abc")["b"] == class_record(0, 0, 0, 0)


class _TranslatedRows(Callback):
    """Count, per class, the trained rows that are not rows of X (accepted translations)."""

    def __init__(self, X):
        self.X = X

    def initialize(self):
        self.real_ = {row.tobytes() for row in self.X}
        self.counts_ = np.zeros(10, dtype=np.int64)
        return self

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training:
            xb, yb = batch
            for row, label in zip(xb.numpy(), yb.numpy()):
                if row.tobytes() not in self.real_:
                    self.counts_[label] += 1


def _fit(X, y, **kwargs):
    torch.manual_seed(0)
    rec = _TranslatedRows(X)
    params = small_m2m_params(max_epochs=5, g_epochs=10)
    extra = kwargs.pop("extra_callbacks", [])
    params.update(kwargs)
    return M2MClassifier(MLP, callbacks=[rec, *extra], **params).fit(X, y), rec


def test_class_stats_match_the_trained_batches_and_the_history(digits):
    X, y, _, _ = digits
    clf, rec = _fit(X, y)
    stats, h = clf.class_stats_, clf.history
    pairs = clf.generation_log().pair_counts(10)
    np.testing.assert_array_equal(clf.accepted_pairs_, pairs["accepted"])
    assert list(stats) == list(range(10))
    # the one schema of both front ends (M2MOverSampler.class_stats_ has the same keys)
    assert all(tuple(s) == CLASS_STATS_KEYS for s in stats.values())
    # accepted per target class = translated rows the net trained on, per label
    assert [s["n_accepted"] for s in stats.values()] == rec.counts_.tolist()
    assert rec.counts_.sum() > 0
    for key, column in (
        ("n_accepted", "m2m_accepted"),
        ("n_translated", "m2m_translated"),
        ("n_rejected_gamma", "m2m_rejected_gamma"),
        ("n_rejected_beta", "m2m_rejected_beta"),
        ("n_fallback", "m2m_no_source"),
        ("n_new", "m2m_targets"),
    ):
        assert sum(s[key] for s in stats.values()) == sum(h[:, column]), key
    assert sum(h[:, "m2m_no_source"]) > 0  # the no-source targets are counted per class
    for s in stats.values():
        assert s["n_new"] == s["n_fallback"] + s["n_rejected_beta"] + s["n_translated"]
        assert s["n_translated"] == s["n_rejected_gamma"] + s["n_accepted"]
    planned = sum(s["n_new"] - s["n_fallback"] for s in stats.values())
    assert accepted_share(stats.values()) == sum(rec.counts_) / planned
    # class 0 is the largest: never a target; the column sums are the per-class stats
    assert stats[0] == dict.fromkeys(CLASS_STATS_KEYS, 0)
    np.testing.assert_array_equal(pairs["accepted"].sum(0), rec.counts_)
    # Eq. (5): sources come only from larger classes (Q(k0|k) = 0 otherwise)
    counts = np.bincount(y)
    not_larger = counts[:, None] <= counts[None, :]
    assert pairs["sourced"][not_larger].sum() == 0
    assert pairs["sourced"][~not_larger].sum() == planned
    # the earlier name is gone (one name for one idea in both front ends)
    assert not hasattr(clf, "pair_stats_")


def test_gamma_zero_accepts_every_translation_and_no_generation_gives_none(digits):
    X, y, _, _ = digits
    clf, _ = _fit(X, y, gamma=0.0, max_epochs=4)
    for s in clf.class_stats_.values():
        assert s["n_rejected_gamma"] == 0 and s["n_accepted"] == s["n_translated"]
    drs, _ = _fit(X, y, generation=False, max_epochs=4)
    assert drs.class_stats_ is None and drs.accepted_pairs_ is None


def test_deferred_phase_on_the_decay_of_a_short_run_warns(digits):
    X, y, _, _ = digits
    # 15 epochs, the paper's shape: start 12 = first milestone; the phase gets
    # 0.01 + 0.01 + 1e-4 = 0.0201 base-rate epochs
    with pytest.warns(
        DeferredPhaseWarning,
        match=r"epochs 12-14 of 15.*0\.01, 0\.01, 0\.0001 x .*: 0\.0201 epochs",
    ):
        _fit(
            X,
            y,
            max_epochs=15,
            start_epoch=None,
            g_epochs=2,
            n_steps=1,
            extra_callbacks=[("lr", paper_lr_scheduler(max_epochs=15))],
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeferredPhaseWarning)
        # an earlier start (3 epochs at the full rate) and a run without a schedule: quiet
        _fit(
            X,
            y,
            max_epochs=15,
            start_epoch=9,
            g_epochs=2,
            n_steps=1,
            extra_callbacks=[("lr", paper_lr_scheduler(max_epochs=15))],
        )
        _fit(X, y, max_epochs=5, start_epoch=3)


def test_one_record_and_one_share_rule_for_both_front_ends():
    from sklearn.datasets import make_classification

    from m2m_sampler import M2MOverSampler
    from m2m_sampler._torch_utils import to_builtin
    from m2m_sampler.engine.acceptance import (
        LOW_ACCEPTANCE_SHARE,
        acceptance_totals,
        low_acceptance_cause,
    )

    X, y = make_classification(n_samples=300, n_classes=3, n_informative=4,
                               weights=[0.7, 0.2, 0.1], random_state=0)
    sampler = M2MOverSampler(beta=0.9, step_size=0.5, random_state=0)
    sampler.fit_resample(X, y)
    stats = sampler.class_stats_
    assert all(tuple(s) == CLASS_STATS_KEYS for s in stats.values())
    assert all(type(k) is int for k in stats)  # labels as Python scalars
    for k, s in stats.items():
        assert s["n_new"] == s["n_fallback"] + s["n_rejected_beta"] + s["n_translated"]
        assert s["n_translated"] == s["n_rejected_gamma"] + s["n_accepted"]
        assert s["n_accepted"] == sampler.accepted_pairs_[:, k].sum()
    assert accepted_share(stats.values()) == sampler.is_translated_.mean()
    # the share leaves out the rows that had no class to translate from
    fallback = [class_record(10, 4, 6, 1), class_record(10, 0, 10, 1)]
    assert accepted_share(fallback) == 2 / 16 > LOW_ACCEPTANCE_SHARE
    tot = acceptance_totals(fallback)
    assert tot == {"planned": 16, "accepted": 2, "rejected_gamma": 14, "rejected_beta": 0}
    assert low_acceptance_cause(tot) is None
    low = acceptance_totals([class_record(40, 0, 30, 1)])
    assert low_acceptance_cause(low) == "gamma"
    assert low_acceptance_cause(acceptance_totals([class_record(40, 0, 3, 1)])) == "beta"
    assert np.isnan(accepted_share([class_record(5, 5, 0, 0)]))
    assert to_builtin(np.int64(3)) == 3 and type(to_builtin(np.float32(0.5))) is float
    assert to_builtin("a") == "a"
