"""Several processes on the CPU (gloo): M2MOverSampler, NetClassifier and M2MClassifier.

One ``torchrun --standalone --nproc_per_node 2`` launch of
tests/distributed_scripts/ddp_checks.py (bounded in time) runs every multi-process
case; each rank writes what it saw, and the tests compare it with single-process runs
made here. The single-process behaviour of the accelerated classes is checked in this
process.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

accelerate = pytest.importorskip("accelerate")

from m2m_sampler import M2MClassifier, NetClassifier  # noqa: E402
from m2m_sampler.distributed import (  # noqa: E402
    AcceleratedM2MClassifier,
    AcceleratedNetClassifier,
    ReduceHistory,
)
from m2m_sampler.longtail.models import MLP  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "distributed_scripts" / "ddp_checks.py"
sys.path.insert(0, str(SCRIPT.parent))
import ddp_checks  # noqa: E402

#: Seconds the 2-process launch may take (about 25 s on a busy 2-core machine).
LAUNCH_TIMEOUT = 180


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """Run the script on 2 CPU processes; return each rank's arrays and report."""
    out = tmp_path_factory.mktemp("ddp")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(SCRIPT),
        str(out),
    ]
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=LAUNCH_TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"the 2-process run did not finish in {LAUNCH_TIMEOUT} s (deadlock?): "
            f"{(exc.stderr or b'')[-3000:]!r}"
        )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    arrays = [dict(np.load(out / f"rank{r}.npz")) for r in (0, 1)]
    reports = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    saved = sorted(p.name for p in out.glob("net_rank*.pt"))
    return arrays, reports, saved


# ----------------------------------------------------------------- M2MOverSampler


#: The single-process reference, run like the ranks: a fresh process started with
#: OMP_NUM_THREADS=1 (torchrun sets it). On some CPUs (seen on AVX-512 AMD EPYC) such a
#: process and one that called torch.set_num_threads(1) later differ by float round-off,
#: which 10 normalised translation steps amplify.
_SAMPLER_REFERENCE = """
import sys
import numpy as np
import ddp_checks
from m2m_sampler import M2MOverSampler
from m2m_sampler.datasets import load_digits_lt
X, y, _, _ = load_digits_lt(imbalance_ratio=10, return_X_y=True)
sampler = M2MOverSampler(**ddp_checks.SAMPLER)
X_res, y_res = sampler.fit_resample(X, y)
np.savez(sys.argv[1], X=X_res, y=y_res, translated=sampler.is_translated_)
"""


@pytest.fixture(scope="module")
def sampler_reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "sampler.npz"
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join([str(ROOT), str(SCRIPT.parent)]),
    )
    proc = subprocess.run(
        [sys.executable, "-c", _SAMPLER_REFERENCE, str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=LAUNCH_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(np.load(path))


def test_sampler_on_two_processes_equals_one_process(two_processes, sampler_reference):
    arrays, reports, _ = two_processes
    ref = sampler_reference
    for rank in (0, 1):  # every rank returns the whole, gathered output
        assert reports[rank]["world"] == 2 and reports[rank]["sampler_n_shards"] == 2
        np.testing.assert_array_equal(arrays[rank]["sampler_X"], ref["X"])
        np.testing.assert_array_equal(arrays[rank]["sampler_y"], ref["y"])
        np.testing.assert_array_equal(arrays[rank]["sampler_translated"], ref["translated"])
        assert "ranks [1] planned different translations" in reports[rank]["sampler_mismatch"]
    np.testing.assert_array_equal(arrays[0]["sampler_X_none"], arrays[1]["sampler_X_none"])


def test_sampler_ranks_given_different_X_raise_on_every_rank(two_processes):
    # issue 23: rank 1 got an X with one value changed; before, it returned another output
    _, reports, _ = two_processes
    for rank in (0, 1):
        assert reports[rank]["sampler_data_mismatch"] is not None
        assert "ranks [1] passed a different X or y" in reports[rank]["sampler_data_mismatch"]


# ----------------------------------------------------------------- NetClassifier


def _net_weights(batch_size, X, y):
    torch.manual_seed(0)
    net = NetClassifier(MLP, batch_size=batch_size, **ddp_checks.NET)
    net.fit(X[: ddp_checks.N_NET], y[: ddp_checks.N_NET])
    weights = {name: p.detach().numpy() for name, p in net.module_.named_parameters()}
    return weights, net.predict_proba(X[:100])


def test_net_two_processes_of_32_equal_one_process_of_64(two_processes, digits):
    arrays, _, saved = two_processes
    X, y, _, _ = digits
    one_64, proba_64 = _net_weights(64, X, y)
    one_32, _ = _net_weights(32, X, y)
    for rank in (0, 1):
        for name, expected in one_64.items():
            np.testing.assert_allclose(arrays[rank][f"net/{name}"], expected, atol=1e-6)
        # predict_proba: each rank predicts its shard, every rank gets all 100 rows.
        np.testing.assert_allclose(arrays[rank]["net_proba"], proba_64, atol=1e-5)
    assert saved == ["net_rank0.pt"]  # save_params: the main process only
    # The comparison can tell: a single process with batches of 32 ends elsewhere.
    assert max(np.abs(arrays[0][f"net/{n}"] - w).max() for n, w in one_32.items()) > 1e-2


# ----------------------------------------------------------------- M2MClassifier

COUNTS = [
    "m2m_targets",
    "m2m_no_source",
    "m2m_rejected_beta",
    "m2m_translated",
    "m2m_rejected_gamma",
    "m2m_accepted",
    "m2m_entries",
]


def test_m2m_runs_through_when_one_rank_never_has_a_target(two_processes, digits):
    _, reports, _ = two_processes
    X, y, _, _ = digits
    _, y_nt = ddp_checks.no_target_data(X, y)
    local = [reports[r]["no_target"]["local"] for r in (0, 1)]
    assert all(epoch["m2m_targets"] == 0 for epoch in local[1])  # rank 1: no target at all
    assert all(epoch["m2m_targets"] > 0 and epoch["m2m_translated"] > 0 for epoch in local[0])
    for rank in (0, 1):
        history = reports[rank]["no_target"]["history"]
        for key in COUNTS:  # summed over the processes, the same on every rank
            assert history[key] == [a[key] + b[key] for a, b in zip(*local)], key
        pairs = np.array(history["m2m_accepted_pairs"])  # (epoch, source, target)
        local_pairs = [np.array([e["m2m_accepted_pairs"] for e in rank]) for rank in local]
        np.testing.assert_array_equal(pairs, local_pairs[0] + local_pairs[1])
        assert pairs.sum() == sum(history["m2m_accepted"]) > 0
        assert history["m2m_entries"] == [len(y_nt)] * 2
        # N_k of the whole training set, not of the rank's batches.
        assert reports[rank]["no_target"]["class_counts"] == np.bincount(y_nt).tolist()


def test_m2m_class_balanced_epochs_are_sharded(two_processes):
    _, reports, _ = two_processes
    labels = [reports[r]["balanced"]["labels"] for r in (0, 1)]
    for rank in (0, 1):
        assert reports[rank]["balanced"]["sampler_balanced"]
        for epoch, seen in enumerate(labels[rank]):
            counts = np.bincount(seen, minlength=10)
            assert len(seen) == 288  # 9 batches of 32: half of the 17 batches (padded)
            if epoch < 2:  # plain shuffled epochs: the long tail
                assert counts[0] > 4 * counts[9]
            else:  # class-balanced: about 28.8 of each class on every rank
                assert counts.min() >= 12 and counts.max() <= 48, counts
    for epoch in range(4):  # the ranks take different batches
        assert labels[0][epoch] != labels[1][epoch]


def test_m2m_on_two_processes_is_deterministic_and_replicated(two_processes):
    arrays, reports, _ = two_processes
    history = [reports[r]["balanced"]["history"] for r in (0, 1)]
    assert history[0] == history[1]  # reduced: the same on every rank
    assert history[0]["m2m_active"] == [False, False, True, True]
    assert history[0]["m2m_accepted"][2] > 0 and history[0]["m2m_accepted"][3] > 0
    loss = history[0]["train_loss"]  # averaged over ranks; the best flags follow it
    assert history[0]["train_loss_best"] == [
        i == 0 or loss[i] < min(loss[:i]) for i in range(len(loss))
    ]
    for rank in (0, 1):
        again = reports[rank]["balanced"]["history_again"]
        assert {k: history[rank][k] for k in again} == again
    # One generation stream per rank, the same in the run again.
    seeds = [reports[r]["balanced"]["seeds"] for r in (0, 1)]
    assert seeds[0][0] == seeds[0][1] and seeds[1][0] == seeds[1][1]
    assert seeds[0][0] != seeds[1][0]
    for key in arrays[0]:
        if key.startswith(("m2m/", "g/")):  # DDP replicas and the frozen g: identical
            np.testing.assert_array_equal(arrays[0][key], arrays[1][key])
        if key.startswith("m2m/"):  # the same run again: the same weights
            np.testing.assert_array_equal(arrays[0][key], arrays[0]["m2m_again/" + key[4:]])


# ----------------------------------------------------------------- one process


def test_one_process_accelerated_m2m_trains_exactly_like_m2m(digits):
    X, y, _, _ = digits
    nets = []
    for cls, extra in (
        (M2MClassifier, {}),
        (AcceleratedM2MClassifier, {"accelerator": accelerate.Accelerator(cpu=True)}),
    ):
        torch.manual_seed(1)
        nets.append(
            cls(MLP, max_epochs=3, start_epoch=1, g_epochs=4, **extra, **ddp_checks.M2M).fit(X, y)
        )
    plain, accelerated = nets
    for key in ("m2m_targets", "m2m_accepted", "train_loss"):
        assert accelerated.history[:, key] == plain.history[:, key]
    assert sum(plain.history[:, "m2m_accepted"]) > 0
    for a, b in zip(plain.module_.parameters(), accelerated.module_.parameters()):
        assert torch.equal(a, b)
    reduce = dict(accelerated.callbacks_)["reduce_history"]
    assert [e["m2m_targets"] for e in reduce.local_history_] == plain.history[:, "m2m_targets"]


def test_one_process_accelerated_net_trains_exactly_like_net(digits):
    X, y, _, _ = digits
    weights = []
    for cls, extra in (
        (NetClassifier, {}),
        (AcceleratedNetClassifier, {"accelerator": accelerate.Accelerator(cpu=True)}),
    ):
        torch.manual_seed(1)
        net = cls(MLP, batch_size=32, iterator_train__shuffle=True, **extra, **ddp_checks.NET)
        weights.append(list(net.fit(X, y).module_.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(*weights))


def test_reduce_history_is_a_default_callback():
    net = AcceleratedNetClassifier(MLP, accelerator=accelerate.Accelerator(cpu=True))
    assert isinstance(dict(net._default_callbacks)["reduce_history"], ReduceHistory)


@pytest.mark.parametrize("cls", [AcceleratedNetClassifier, AcceleratedM2MClassifier])
def test_one_autocast_only(cls):
    accelerator = SimpleNamespace(mixed_precision="bf16", num_processes=2, device_placement=True)
    net = cls(MLP, accelerator=accelerator, amp_dtype=torch.bfloat16)
    with pytest.raises(ValueError, match="autocast twice"):
        net._validate_params()
    net = cls(MLP, accelerator=accelerator, cuda_graph=True)
    with pytest.raises(ValueError, match="cuda_graph"):
        net._validate_params()
    cls(MLP, accelerator=accelerator)._validate_params()  # accelerate's precision alone


@pytest.fixture
def bf16_accelerator():
    """An ``Accelerator(mixed_precision='bf16')`` on the CPU (accelerate's state is a
    process-wide singleton: reset before and after)."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(True)
    yield accelerate.Accelerator(cpu=True, mixed_precision="bf16")
    AcceleratorState._reset_state(True)


def test_mixed_precision_comes_from_the_accelerator(digits, bf16_accelerator):
    """g and f run under accelerate's autocast in the translation and the training
    step, with the net's own amp_dtype left at None (one autocast)."""
    X, y, _, _ = digits
    calls = {"f": [], "g": []}

    class Spy(MLP):
        role = "f"

        def forward(self, x):
            calls[self.role].append((torch.is_autocast_enabled("cpu"), torch.is_grad_enabled()))
            return super().forward(x)

    class SpyG(Spy):
        role = "g"

    torch.manual_seed(0)
    net = AcceleratedM2MClassifier(
        Spy, g=SpyG(64, 10), accelerator=bf16_accelerator, max_epochs=2, start_epoch=1,
        **{**ddp_checks.M2M, "gamma": 0.0},
    ).fit(X, y)
    assert net.amp_dtype is None and net.history[-1, "m2m_accepted"] > 0
    translating = [c for c in calls["g"] if c[1]]  # g takes input gradients only there
    assert translating and all(autocast for autocast, _ in calls["g"] + calls["f"])
    assert not hasattr(net.g_, "_original_forward")  # unwrapped after training


def test_loaders_accelerate_cannot_shard_are_refused_with_several_processes(digits):
    from m2m_sampler import DeviceLoader

    X, y, _, _ = digits
    accelerator = accelerate.Accelerator(cpu=True)
    net = AcceleratedNetClassifier(MLP, accelerator=accelerator, iterator_train=DeviceLoader,
                                   **ddp_checks.NET).initialize()
    net.accelerator = SimpleNamespace(num_processes=2)  # what a 2-process run reports
    with pytest.raises(TypeError, match="cannot shard it over the 2 processes"):
        net.get_iterator(net.get_dataset(X, y), training=True)
