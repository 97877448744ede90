"""The multi-process checks of tests/test_distributed.py, run under ``torchrun``.

Launched by the test as::

    torchrun --standalone --nproc_per_node 2 tests/distributed_scripts/ddp_checks.py OUT

(CPU, gloo). Every rank writes what it saw to ``OUT/rank<r>.npz`` and
``OUT/rank<r>.json``; the test compares them with single-process runs. Kept small:
the whole script runs in seconds per rank.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from skorch.callbacks import Callback

from m2m_sampler import M2MOverSampler
from m2m_sampler.datasets import load_digits_lt
from m2m_sampler.distributed import AcceleratedM2MClassifier, AcceleratedNetClassifier
from m2m_sampler.longtail.models import MLP

#: The settings shared with tests/test_distributed.py (imported from there).
SAMPLER = dict(beta=0.9, step_size=0.5, batch_size=48, random_state=0)
NET = dict(
    module__n_features=64,
    module__n_classes=10,
    optimizer=torch.optim.SGD,
    optimizer__momentum=0.9,
    lr=0.1,
    max_epochs=2,
    classes=np.arange(10),
    verbose=0,
    callbacks__print_log__sink=print,
)
M2M = dict(
    module__n_features=64,
    module__n_classes=10,
    optimizer=torch.optim.SGD,
    optimizer__momentum=0.9,
    lr=0.05,
    batch_size=32,
    beta=0.9,
    gamma=0.5,
    step_size=0.5,
    n_steps=3,
    clip=(0.0, 1.0),
    random_state=0,
    verbose=0,
    callbacks__print_log__sink=print,
)  # print obeys verbose=0
N_NET = 512  # rows of the NetClassifier run: whole batches of 64


def no_target_data(X, y):
    """256 rows whose odd batches of 32 hold only the largest class (never a target):
    rank 1 of 2 gets only those batches. The even batches mix the other classes."""
    major = np.flatnonzero(y == 0)[:128]
    minor = np.flatnonzero(y != 0)[:128]
    order = np.concatenate(
        [np.concatenate([minor[i : i + 32], major[i : i + 32]]) for i in range(0, 128, 32)]
    )
    return X[order], y[order]


class BatchLabels(Callback):
    """Records the labels of every training batch, per epoch."""

    def initialize(self):
        self.epochs_ = []
        self.seed_ = None
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.epochs_.append([])
        if net.generator_ is not None:  # the rank's generation stream
            self.seed_ = int(net.generator_.initial_seed())

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.epochs_[-1].extend(np.asarray(batch[1].cpu()).tolist())


def history_columns(net, keys):
    return {k: [row[k] for row in net.history] for k in keys}


def main(out: Path) -> None:
    accelerator = Accelerator(cpu=True)
    rank = accelerator.process_index
    X, y, _, _ = load_digits_lt(imbalance_ratio=10, return_X_y=True)
    arrays, report = {}, {"world": accelerator.num_processes}

    # 1. M2MOverSampler: rank shards, gathered on every rank.
    sampler = M2MOverSampler(**SAMPLER)
    X_res, y_res = sampler.fit_resample(X, y)
    arrays.update(sampler_X=X_res, sampler_y=y_res, sampler_translated=sampler.is_translated_)
    report["sampler_n_shards"] = sampler.n_shards_
    # random_state=None: rank 0's seed for everyone, the same output on every rank.
    X_none, _ = M2MOverSampler(**{**SAMPLER, "random_state": None}).fit_resample(X, y)
    arrays["sampler_X_none"] = X_none
    # Ranks that plan differently (a random_state per rank) are told so, all of them.
    try:
        M2MOverSampler(**{**SAMPLER, "random_state": rank}).fit_resample(X, y)
        report["sampler_mismatch"] = None
    except ValueError as exc:
        report["sampler_mismatch"] = str(exc)
    # Ranks given different X (one value changed on rank 1) are told so, all of them.
    X_other = X.copy()
    if rank == 1:
        X_other[0, 0] += 1.0
    try:
        M2MOverSampler(**SAMPLER).fit_resample(X_other, y)
        report["sampler_data_mismatch"] = None
    except ValueError as exc:
        report["sampler_data_mismatch"] = str(exc)

    # 2. NetClassifier: 2 processes x batch 32, sequential order.
    torch.manual_seed(0)
    net = AcceleratedNetClassifier(MLP, accelerator=accelerator, batch_size=32, **NET)
    net.fit(X[:N_NET], y[:N_NET])
    for name, p in net.module_.named_parameters():
        arrays[f"net/{name}"] = p.detach().cpu().numpy()
    arrays["net_proba"] = net.predict_proba(X[:100])  # sharded, gathered on every rank
    net.save_params(f_params=out / f"net_rank{rank}.pt")  # only the main process writes

    # 3. M2MClassifier, generation on, rank 1's batches never have a target.
    X_nt, y_nt = no_target_data(X, y)
    torch.manual_seed(0)
    g = MLP(64, 10)
    # f standardises its inputs with buffers: a DDP forward would broadcast them, a
    # collective that rank 1 (which never translates) would not join.
    m2m = AcceleratedM2MClassifier(
        MLP,
        g=g,
        accelerator=accelerator,
        start_epoch=0,
        max_epochs=2,
        balanced_batches=False,
        module__mean=X_nt.mean(0),
        module__std=X_nt.std(0),
        gamma=0.0,
        **{k: v for k, v in M2M.items() if k != "gamma"},
    ).fit(X_nt, y_nt)
    keys = [
        "m2m_targets",
        "m2m_no_source",
        "m2m_rejected_beta",
        "m2m_translated",
        "m2m_rejected_gamma",
        "m2m_accepted",
        "m2m_entries",
        "m2m_accepted_pairs",
    ]
    report["no_target"] = {
        "history": history_columns(m2m, keys),
        "local": m2m.callbacks_[[n for n, _ in m2m.callbacks_].index("reduce_history")][
            1
        ].local_history_,
        "class_counts": m2m.class_counts_.tolist(),
    }

    # 4. M2MClassifier with its defaults: g by ERM, class-balanced batches from epoch 2.
    runs = []
    for _ in range(2):  # twice: deterministic for (random_state, processes)
        torch.manual_seed(1)
        labels = BatchLabels()
        m2m = AcceleratedM2MClassifier(
            MLP,
            accelerator=accelerator,
            max_epochs=4,
            start_epoch=2,
            g_epochs=8,
            callbacks=[("labels", labels)],
            **M2M,
        ).fit(X, y)
        runs.append((m2m, labels))
    (m2m, labels), (again, labels_again) = runs
    report["balanced"] = {
        "history": history_columns(
            m2m, ["m2m_targets", "m2m_accepted", "m2m_active", "train_loss", "train_loss_best"]
        ),
        "history_again": history_columns(again, ["m2m_targets", "m2m_accepted", "train_loss"]),
        "labels": labels.epochs_,
        "seeds": [labels.seed_, labels_again.seed_],
        "sampler_balanced": bool(m2m.sampler_.balanced),
    }
    for name, p in m2m.module_.named_parameters():
        arrays[f"m2m/{name}"] = p.detach().cpu().numpy()
        arrays[f"m2m_again/{name}"] = dict(again.module_.named_parameters())[name].detach().numpy()
    for name, p in m2m.g_.named_parameters():
        arrays[f"g/{name}"] = p.detach().cpu().numpy()

    np.savez(out / f"rank{rank}.npz", **arrays)
    (out / f"rank{rank}.json").write_text(json.dumps(report, default=float))
    accelerator.wait_for_everyone()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
