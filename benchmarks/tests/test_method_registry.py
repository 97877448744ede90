"""One method registry and one network factory for the CLI, Table 2 and CIFAR-LT; one
tuning loop for the lab's searches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.cifar_lt.methods import METHOD_KEYS, trunk_of
from benchmarks.compare.methods import (
    METHODS,
    REGISTRY,
    LossParams,
    Method,
    NetModule,
    NotApplicable,
    PaperSchedule,
    SeededNetClassifier,
    TrainParams,
    build_net,
    make_sampler,
)
from benchmarks.compare.validation import carve_validation
from benchmarks.search import CandidateEstimator, FoldFit, Folds, search_grids
from benchmarks.table2 import ROW_KEYS, HyperParams
from m2m_sampler.classifier import M2MClassifier
from m2m_sampler.longtail.losses import FocalLoss, LDAMLoss
from m2m_sampler.longtail.models import MLP
from m2m_sampler.training.callbacks import DeferredReweighting
from m2m_sampler.training.schedules import NEVER


def test_every_front_end_names_methods_of_the_one_registry():
    assert set(ROW_KEYS) <= set(REGISTRY) and set(METHOD_KEYS) <= set(REGISTRY)
    assert list(METHODS) == ["erm", "ros", "smote", "adasyn", "borderline-smote", "reweight",
                             "m2m"]  # fmt: skip
    shared = set(ROW_KEYS) & set(METHOD_KEYS)
    assert len(shared) == 14  # Table 2 and CIFAR-LT: same key, same method value
    # the command's m2m: the registry's offline M2MOverSampler + ERM under its name
    cli_m2m, offline = METHODS["m2m"], REGISTRY["offline"]
    assert (cli_m2m.sampler, offline.sampler) == ("m2m", "m2m") and cli_m2m.needs_g
    assert cli_m2m.label == "M2m" and not cli_m2m.generation
    assert REGISTRY["m2m"].generation and REGISTRY["m2m"].batches == "deferred"
    assert [trunk_of(k) for k in ("erm", "drs", "ldam-drw", "bs-m2m", "rs")] == [
        None, "ce", "ldam", "bs", None]  # fmt: skip


def test_a_method_is_validated_when_it_is_made():
    with pytest.raises(ValueError, match="loss must be one of"):
        Method("x", "X", loss="hinge")
    with pytest.raises(ValueError, match="batches must be one of"):
        Method("x", "X", batches="sometimes")
    with pytest.raises(ValueError, match="deferred phase"):
        Method("x", "X", generation=True)
    with pytest.raises(ValueError, match="from scratch"):
        Method("x", "X", sampler="smote", trunk=True)
    trunk = REGISTRY["ldam-m2m"].as_trunk()
    assert (trunk.loss, trunk.batches, trunk.generation) == ("ldam", "shuffle", False)


def test_the_factory_builds_what_the_method_names():
    counts = np.array([50, 20, 5])
    sched = PaperSchedule(epochs=10, start_epoch=8, lr_decay=0.1, batch_size=16)
    mlp = NetModule(MLP, {"n_features": 4, "n_classes": 3, "hidden": (8,)})
    net = build_net(REGISTRY["ldam-drw"], sched, mlp, counts, seed=3,
                    losses=LossParams(ldam_s=10.0))  # fmt: skip
    assert isinstance(net, M2MClassifier) and net.criterion is LDAMLoss
    assert net.criterion__s == 10.0 and net.module__head == "cosine"
    assert net.start_epoch == NEVER and not net.generation  # shuffled batches: never reached
    names = [n for n, _ in net.callbacks]
    assert names == ["reweight", "lr"]
    rw = dict(net.callbacks)["reweight"]
    assert isinstance(rw, DeferredReweighting) and rw.start_epoch == 8 and rw.beta == 0.9999
    m2m = build_net(REGISTRY["m2m"], sched, mlp, counts, seed=3, trunk=True)
    assert not m2m.generation and m2m.start_epoch == NEVER  # its trunk
    m2m = build_net(REGISTRY["m2m"], sched, mlp, counts, seed=3)
    assert m2m.generation and m2m.start_epoch == 8 and m2m.random_state == 3
    focal = build_net(REGISTRY["focal"], sched, mlp, counts, seed=0,
                      losses=HyperParams.of({"m2m": {"beta": 0.9, "gamma": 0.9},
                                             "ldam": {"s": 30.0}, "focal": {"gamma": 2.0},
                                             "cbrw": {"beta": 0.999}}).losses)  # fmt: skip
    assert focal.criterion is FocalLoss and focal.criterion__gamma == 2.0
    # the command's nets: Adam through SeededNetClassifier, inverse weights as fixed weights
    rw = build_net(REGISTRY["reweight"], TrainParams(epochs=2), mlp, counts, seed=1,
                   classes=np.arange(3))  # fmt: skip
    assert isinstance(rw, SeededNetClassifier) and rw.optimizer is torch.optim.Adam
    w = 1.0 / counts
    np.testing.assert_allclose(rw.criterion__weight.numpy(), w * 3 / w.sum(), rtol=1e-6)
    with pytest.raises(ValueError, match="PaperSchedule"):
        build_net(REGISTRY["drs"], TrainParams(), mlp, counts, seed=0)


def test_table2_hyper_parameters_round_trip_their_json_form():
    from benchmarks.table2 import GRIDS, Config

    first = {k: dict(v[0]) for k, v in GRIDS.items()}
    hp = HyperParams.of(first)
    assert hp.to_json() == first and HyperParams.of(hp) is hp
    m2m = hp.m2m(Config(eta=0.1, lam=0.5, n_steps=3))
    assert (m2m.beta, m2m.gamma, m2m.step_size, m2m.lam, m2m.n_steps) == (0.9, 0.9, 0.1, 0.5, 3)
    assert (hp.losses.ldam_s, hp.losses.cb_beta, hp.losses.drw_beta) == (10.0, 0.999, 0.9999)


def test_samplers_of_the_registry():
    counts = np.array([30, 10, 3])
    smote = make_sampler(REGISTRY["smote"], counts, seed=0)
    assert smote.k_neighbors == 2 and smote.random_state == 0
    with pytest.raises(NotApplicable, match="needs at least 2"):
        make_sampler(REGISTRY["adasyn"], np.array([5, 1]), seed=0, smallest_class="b")
    with pytest.raises(NotApplicable, match="no fitted ERM"):
        make_sampler(REGISTRY["offline"], counts, seed=0)
    with pytest.raises(ValueError, match="no offline sampler"):
        make_sampler(REGISTRY["erm"], counts, seed=0)


class _Fixed:
    """A fitted 'net' that predicts fixed probabilities."""

    classes_ = np.array([0, 1])

    def __init__(self, proba):
        self.proba = np.asarray(proba, dtype=float)

    def predict_proba(self, X):
        return np.repeat(self.proba[None], len(X), axis=0)


def test_search_grids_averages_over_folds_prepares_once_per_fold_and_ranks():
    X = np.arange(8.0)[:, None]
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    folds = [(np.array([0, 1, 4, 5]), np.array([2, 3, 6, 7])),
             (np.array([2, 3, 6, 7]), np.array([0, 1, 4, 5]))]  # fmt: skip
    prepared, calls = [], []

    def prepare(fold, Xf, yf):
        prepared.append((fold, Xf[:, 0].tolist(), yf.tolist()))
        return 10 * (fold + 1)

    def fit(kind, p, Xf, yf, fold, state):
        calls.append((kind, p["c"], fold, state, Xf[:, 0].tolist()))
        # every candidate predicts class 0 (bACC 0.5); the log-loss ranks them
        return _Fixed([p["c"], 1 - p["c"]]), {"extra": float(fold + 1)}

    grids = {"a": [{"c": 0.6}, {"c": 0.5}, {"c": 0.9}], "b": [{"c": 0.8}]}
    tables, chosen = search_grids(grids, X, y, Folds(folds, prepare), fit)
    # the fold's state is prepared once, at its first fit, and shared by every kind
    assert prepared == [(0, [0.0, 1.0, 4.0, 5.0], [0, 0, 1, 1]),
                        (1, [2.0, 3.0, 6.0, 7.0], [0, 0, 1, 1])]  # fmt: skip
    assert calls[0] == ("a", 0.6, 0, 10, [0.0, 1.0, 4.0, 5.0])
    assert calls[1] == ("a", 0.6, 1, 20, [2.0, 3.0, 6.0, 7.0])
    assert calls[-1] == ("b", 0.8, 1, 20, [2.0, 3.0, 6.0, 7.0]) and len(calls) == 8
    assert [r["val_bacc"] for r in tables["a"]] == [0.5, 0.5, 0.5]
    assert tables["a"][0]["extra"] == 1.5  # the mean over the two folds
    assert tables["a"][1]["val_log_loss"] == pytest.approx(0.5 * (-np.log(0.5) - np.log(0.5)))
    assert tables["a"][2]["val_log_loss"] == pytest.approx(0.5 * (-np.log(0.9) - np.log(0.1)))
    assert set(tables["a"][0]) == {"c", "val_bacc", "val_log_loss", "extra", "cpu_s"}
    assert chosen == {"a": {"c": 0.5}, "b": {"c": 0.8}}  # the lowest log-loss among ties


def test_folds_carve_the_training_data_and_candidates_clone():
    from sklearn.base import clone

    y = np.repeat([0, 1, 2], [20, 8, 3])
    folds = Folds.carved(y, 0.25, [100, 101])
    assert folds.get_n_splits() == 2
    for seed, (fit_idx, val_idx) in zip((100, 101), folds.split()):
        ref = carve_validation(y, 0.25, seed)
        np.testing.assert_array_equal(fit_idx, ref[0])
        np.testing.assert_array_equal(val_idx, ref[1])
    assert np.bincount(y[folds.folds[0][1]]).tolist() == [5, 2]  # 3 // 4 = 0 of class 2
    with pytest.raises(ValueError, match="no fold"):
        folds.fold(np.arange(3))
    est = FoldFit(fit_fold=print, folds=folds, values={"c": 1})
    twin = clone(est)
    assert twin.get_params() == est.get_params() and twin.folds is folds
    cand = clone(CandidateEstimator(build=print, values=2))
    assert cand.get_params() == {"build": print, "values": 2}
