"""The CIFAR-LT-10 reproduction (benchmarks.cifar_lt): the shared-trunk branching it
relies on, its validation-selected epoch, and its --smoke runs."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.cifar_lt import main
from benchmarks.cifar_lt.evaluation import selected_metrics
from benchmarks.cifar_lt.report import render, split_runs
from benchmarks.cifar_lt.selection import ValidationSelection
from benchmarks.datasets import has_data_dir
from m2m_sampler.classifier import M2MClassifier
from m2m_sampler.datasets import load_digits_lt
from m2m_sampler.longtail.models import MLP
from m2m_sampler.training.device_data import DeviceLoader
from m2m_sampler.training.schedules import NEVER, paper_lr_scheduler

HAS_CIFAR = has_data_dir("cifar10_lt_train_r100.npz", "cifar10_test.npz")


def _drs(max_epochs, **kwargs):
    return M2MClassifier(
        MLP, module__n_features=64, module__n_classes=10, module__hidden=(32,),
        generation=False, start_epoch=3, max_epochs=max_epochs,
        optimizer=torch.optim.SGD, lr=0.1, optimizer__momentum=0.9,
        optimizer__weight_decay=2e-4, batch_size=64,
        callbacks=[("lr", paper_lr_scheduler(max_epochs=6, warmup_epochs=2, milestones=(3, 5)))],
        iterator_train=DeviceLoader, verbose=0, random_state=0, **kwargs,
    )


def test_continuing_a_saved_trunk_is_continuing_the_run(tmp_path):
    """What the reproduction does to share the ERM epochs: save_params at the deferral epoch,
    then initialize + load_params + partial_fit a new net. With the RNG state carried
    over, this is bit-for-bit the uninterrupted run (lr schedule, momentum, epoch count,
    sampler switch included)."""
    X, y, _, _ = load_digits_lt(imbalance_ratio=10, return_X_y=True)
    torch.manual_seed(0)
    whole = _drs(6).fit(X, y)

    torch.manual_seed(0)
    trunk = _drs(3).fit(X, y)
    files = dict(f_params=tmp_path / "p.pt", f_optimizer=tmp_path / "o.pt",
                 f_history=tmp_path / "h.json")
    trunk.save_params(**files)
    rng = torch.get_rng_state()
    branch = _drs(3)
    branch.initialize()  # draws a fresh init, then replaced by the trunk's weights
    branch.load_params(**files)
    torch.set_rng_state(rng)
    branch.partial_fit(X, y)

    assert len(branch.history) == 6
    assert branch.history[:, "event_lr"] == pytest.approx(whole.history[:, "event_lr"])
    assert branch.history[:, "train_loss"] == pytest.approx(whole.history[:, "train_loss"],
                                                            rel=1e-6)
    for k, v in whole.module_.state_dict().items():
        torch.testing.assert_close(branch.module_.state_dict()[k], v, rtol=1e-6, atol=1e-7)
    # the lr at the branch's first epoch is the decayed one, not a restarted warm-up
    assert branch.history[3, "event_lr"] == pytest.approx(0.1 * 0.01)


def test_validation_selection_keeps_the_best_epoch_and_restores_the_weights():
    X, y, X_test, y_test = load_digits_lt(imbalance_ratio=10, return_X_y=True)
    val = np.concatenate([np.flatnonzero(y_test == k)[:10] for k in range(10)])
    test = np.setdiff1d(np.arange(len(y_test)), val)
    select = ValidationSelection(X_test[val], y_test[val], from_epoch=2)
    net = M2MClassifier(
        MLP, module__n_features=64, module__n_classes=10, module__hidden=(16,),
        generation=False, max_epochs=8, optimizer=torch.optim.SGD, lr=0.3,
        batch_size=64, callbacks=[("select", select)], verbose=0, random_state=0,
    ).fit(X, y)
    scores = [row.get("valid_bacc") for row in net.history]
    assert scores[:2] == [None, None] and None not in scores[2:]
    tail = np.asarray(scores[2:])
    best = 2 + len(tail) - 1 - int(np.argmax(tail[::-1]))  # last best, 0-based
    assert select.best_epoch_ == best + 1 == net.history[best, "epoch"]
    assert select.best_score_ == max(scores[2:])

    final = {k: v.clone() for k, v in net.module_.state_dict().items()}
    data = {"test900": test, "X_test": X_test, "y_test": y_test, "y": y}
    sel = selected_metrics(net, data)
    for k, v in net.module_.state_dict().items():  # the final weights are back
        torch.testing.assert_close(v, final[k])
    net.module_.load_state_dict(select.best_state_)
    expected = np.mean(net.predict(X_test[test]) == y_test[test])
    assert sel["epoch"] == best + 1 and sel["from_epoch"] == 3
    assert sel["valid_bacc_by_epoch"] == {str(e + 1): scores[e] for e in range(2, 8)}
    assert sel["test900"]["accuracy"] == pytest.approx(expected)


def test_validation_selection_keeps_the_last_of_tied_epochs():
    """As the authors' ``if val_acc >= BEST_VAL``: a later epoch that ties the best wins."""
    from skorch.history import History

    select = ValidationSelection(
        np.zeros((4, 1)), np.array([0, 1, 0, 1]), from_epoch=0).initialize()
    guesses = iter([[0, 0, 0, 0], [0, 1, 0, 0], [0, 1, 1, 1], [0, 1, 0, 0], [1, 1, 1, 1]])

    class Net:
        history = History()
        module_ = torch.nn.Linear(1, 1)

        def predict(self, X):
            return np.array(next(guesses))

    net = Net()
    for _ in range(5):
        net.history.new_epoch()
        net.history.record("epoch", len(net.history))
        select.on_epoch_end(net)
    # balanced accuracies 0.5, 0.75, 0.75, 0.75, 0.5
    assert select.best_score_ == 0.75 and select.best_epoch_ == 4


def test_split_runs_separates_phases_by_long_idle_gaps():
    ph = [{"start_unix": a, "end_unix": b} for a, b in
          [(0, 100), (50, 400), (405, 500), (2000, 2100), (2050, 2200)]]
    runs = split_runs(ph[::-1])  # any order in, time order out
    assert [len(r) for r in runs] == [3, 2] and runs[1][0]["start_unix"] == 2000
    assert split_runs([]) == []


def _run(argv):
    return main(argv)


@pytest.mark.skipif(not HAS_CIFAR, reason="CIFAR-10 files not found in the shared data dir")
def test_smoke_run_phases_cache_and_report(tmp_path):
    cache = str(tmp_path / "cache")
    common = ["--smoke", "--threads", "1", "--beta", "0.99", "--cache-dir", cache]
    # the GPU script's order: g and the trunk (parallel there), then the branches, then
    # the report from the cache
    only_g = _run([*common, "--only", "g"])
    assert set(only_g["phases"]) == {"g"} and only_g["results"].keys() == {"erm"}
    partial = _run([*common, "--only", "report"])  # trains nothing
    assert partial["results"].keys() == {"erm"}
    assert partial["missing"] == ["trunk-ce", "drs", "m2m"]
    # --only methods never trains a missing trunk (a parallel process may be on it)
    no_trunk = _run([*common, "--only", "methods", "--method", "drs"])
    assert no_trunk["missing"] == ["trunk-ce", "drs"] and not no_trunk["results"]
    only_trunk = _run([*common, "--only", "trunk"])
    assert set(only_trunk["phases"]) == {"trunk-ce"}
    only_drs = _run([*common, "--only", "methods", "--method", "drs"])
    assert only_drs["results"].keys() == {"drs"} and "missing" not in only_drs
    out = tmp_path / "r.json"
    report = _run([*common, "--out", str(out)])
    assert json.loads(out.read_text())["results"].keys() == {"erm", "drs", "m2m"}
    phases = report["phases"]
    assert phases["g"]["cached"] and phases["trunk-ce"]["cached"]
    assert phases["drs"]["cached"] and not phases["m2m"]["cached"]

    counts = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    assert report["data"]["train_counts"] == [max(2, math.ceil(n / 100)) for n in counts]
    assert report["data"]["n_test"] == 200 and report["data"]["n_test900"] == 180
    assert phases["g"]["train"]["epochs"] == 2
    assert phases["trunk-ce"]["train"]["epochs"] == 1
    for m in ("drs", "m2m"):
        assert phases[m]["first_epoch"] == 1 and phases[m]["train"]["epochs"] == 1
        assert phases[m]["train"]["images"] == sum(report["data"]["train_counts"])
        for part in ("data_s", "step_s", "generation_s", "epochs_s"):
            assert phases[m]["train"][part] >= 0
    m2m = phases["m2m"]["train"]
    assert m2m["translated"] > 0 and m2m["generation_s"] > 0
    assert m2m["targets"] == m2m["no_source"] + m2m["rejected_beta"] + m2m["translated"]
    assert phases["drs"]["train"]["generation_s"] == 0
    for m in ("erm", "drs", "m2m"):
        rep = report["results"][m]
        for split in ("test", "test900"):
            assert 0 <= rep[split]["balanced_accuracy"] <= 1
            assert set(rep[split]) >= {"balanced_accuracy", "gmean", "major_acc", "minor_acc"}
            recalls = list(rep[split]["per_class_recall"].values())
            assert rep[split]["balanced_accuracy"] == pytest.approx(np.mean(recalls))
    assert report["paper"]["m2m"] == {"bacc": 78.3, "gm": 77.8}
    assert "checks" not in report  # targets are only checked on full runs

    # the authors' protocol: the 900-per-class split at the validation-selected epoch
    selected = _run([*common, "--select-epoch", "--method", "drs"])
    sel = selected["results"]["drs"]["selected"]
    assert sel["epoch"] == 2 and sel["from_epoch"] == 2  # the branch's only epoch
    assert sel["test900"] == selected["results"]["drs"]["test900"]  # = the final weights
    assert "selected" not in report["results"]["drs"]  # separate cache keys
    # g is reused from the run without selection (same weights), not retrained
    reused = _run([*common, "--select-epoch", "--only", "methods", "--method", "erm,m2m"])
    assert "missing" not in reused and reused["phases"]["g"]["cached"]
    assert "selected" not in reused["results"]["erm"]  # g was not scored while training
    assert reused["results"]["m2m"]["selected"]["from_epoch"] == 2
    assert not reused["phases"]["m2m"]["cached"]
    # a g trained with selection is cached under its own key (weights and record)
    sel_g = [*common, "--seed", "1", "--select-epoch", "--method", "erm"]
    _run([*sel_g, "--only", "g"])
    sel_report = _run([*sel_g, "--only", "report"])
    assert "missing" not in sel_report and sel_report["phases"]["g"]["cached"]
    assert sel_report["results"]["erm"]["selected"]["from_epoch"] == 1

    again = _run([*common, "--only", "report"])  # everything from the cache
    assert all(p["cached"] for p in again["phases"].values()) and "missing" not in again
    assert again["results"] == report["results"]
    assert again["wall_s"]["phases_span"] == pytest.approx(report["wall_s"]["phases_span"])
    assert again["wall_s"]["runs"] == 1
    assert "g + f span" in render(again)

    # g and the trunk from an earlier session's cache (carried to the device): no g + f
    # span across the two sessions, only this run's
    for path in Path(cache).glob("*.json"):
        if path.name.startswith(("g-", "trunk-")):
            rec = json.loads(path.read_text())
            rec["start_unix"] -= 3600.0
            rec["end_unix"] -= 3600.0
            path.write_text(json.dumps(rec))
    carried = _run([*common, "--only", "report"])
    w = carried["wall_s"]
    assert w["phases_span"] is None and w["runs"] == 2
    assert 0 < w["phases_span_last_run"] < 3600
    assert "no g + f span" in render(carried)


def test_method_table_builds_the_losses_samplers_and_generation_it_names():
    """la/bs rows: their loss with the training counts, the deferral or not, g or not."""
    from benchmarks.cifar_lt import make_net, parse_args, trunk_of
    from m2m_sampler.longtail.losses import BalancedSoftmaxLoss, LDAMLoss, LogitAdjustedLoss

    args = parse_args(["--smoke"])
    counts = np.array([50, 30, 18, 11, 7, 4, 3, 2, 2, 2])
    expected = {  # criterion, trunk, deferred re-sampling, generation
        "la": (LogitAdjustedLoss, "la", False, False),
        "la-drs": (LogitAdjustedLoss, "la", True, False),
        "la-m2m": (LogitAdjustedLoss, "la", True, True),
        "bs": (BalancedSoftmaxLoss, "bs", False, False),
        "bs-drs": (BalancedSoftmaxLoss, "bs", True, False),
        "bs-m2m": (BalancedSoftmaxLoss, "bs", True, True),
        "ldam-m2m": (LDAMLoss, "ldam", True, True),  # the paper's "LDAM, M2m" row
    }
    for method, (criterion, trunk, deferred, generation) in expected.items():
        net = make_net(args, method, method, counts, max_epochs=1)
        assert net.criterion is criterion and trunk_of(method) == trunk
        assert net.start_epoch == (args.start_epoch if deferred else NEVER)
        assert net.generation is generation
        assert np.array_equal(net.criterion__class_counts, counts)
        assert dict(net.callbacks).keys() == {"lr", "progress"}  # no re-weighting
        trunk_net = make_net(args, method, "trunk", counts, max_epochs=1, trunk=True)
        assert trunk_net.criterion is criterion and not trunk_net.generation
        assert trunk_net.start_epoch == NEVER
    assert make_net(args, "la", "la", counts, max_epochs=1).criterion__tau == 1.0
    # LDAM keeps its cosine head; the logit-adjusted losses train the linear one
    assert make_net(args, "ldam-m2m", "x", counts, max_epochs=1).module__head == "cosine"
    assert make_net(args, "la-m2m", "x", counts, max_epochs=1).module__head == "linear"


@pytest.mark.skipif(
    not has_data_dir("cifar10_lt_train_r10.npz", "cifar10_test.npz"),
    reason="CIFAR-10 (ratio 10) files not found in the shared data dir",
)
def test_smoke_run_ratio_10_with_the_beyond_paper_rows(tmp_path):
    """One --smoke run of the next GPU session's new rows: rho = 10 (ERM / DRS / M2m), and
    the logit-adjusted and Balanced Softmax rows with and without M2m, each branching from
    its own trunk (2 translation steps: the smoke run checks the plumbing, not M2m)."""
    methods = ["erm", "drs", "m2m", "la-drs", "la-m2m", "bs-drs", "bs-m2m"]
    report = _run(["--smoke", "--threads", "1", "--beta", "0.99", "--n-steps", "2",
                   "--imbalance-ratio", "10", "--method", ",".join(methods),
                   "--out", str(tmp_path / "r10.json")])
    assert list(report["results"]) == methods and "missing" not in report
    counts = [5000, 3871, 2997, 2320, 1796, 1391, 1077, 834, 645, 500]
    assert report["data"]["train_counts"] == [math.ceil(n / 100) for n in counts]
    phases = report["phases"]
    assert {p for p in phases if p.startswith("trunk")} == {"trunk-ce", "trunk-la", "trunk-bs"}
    for loss in ("ce", "la", "bs"):
        assert phases[f"trunk-{loss}"]["train"]["epochs"] == 1
    for m in methods[1:]:
        assert phases[m]["from_trunk"] == {"drs": "ce", "m2m": "ce"}.get(m, m.split("-")[0])
        assert phases[m]["first_epoch"] == 1 and phases[m]["train"]["epochs"] == 1
        train = phases[m]["train"]
        if m.endswith("m2m"):
            assert train["translated"] > 0
            assert train["targets"] == (train["no_source"] + train["rejected_beta"]
                                        + train["translated"])
            assert train["accepted"] + train["rejected_gamma"] == train["translated"]
        else:
            assert train["generation_s"] == 0 and "translated" not in train
        for split in ("test", "test900"):
            rep = report["results"][m][split]
            assert rep["balanced_accuracy"] == pytest.approx(
                np.mean(list(rep["per_class_recall"].values())))
    assert set(report["paper"]) == {"erm", "drs", "m2m"}  # none for the rows beyond it
    assert report["paper"]["m2m"] == {"bacc": 87.9, "gm": 87.5}
    assert "checks" not in report  # the targets are those of ratio 100


def test_phase_chains_group_the_methods_by_trunk_for_the_gpu_script():
    from benchmarks.cifar_lt.methods import phase_chains

    assert phase_chains(["erm", "drs", "m2m"]) == [("ce", ["drs"], ["m2m"])]
    assert phase_chains(["ldam-drw", "ldam-m2m", "la-drs", "la-m2m", "rs", "drw"]) == [
        ("ldam", ["ldam-drw"], ["ldam-m2m"]), ("la", ["la-drs"], ["la-m2m"]),
        (None, ["rs"], []), ("ce", ["drw"], [])]
    assert phase_chains(["erm"]) == []
