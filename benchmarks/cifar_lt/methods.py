"""The methods of the CIFAR-LT-10 reproduction, and the network each one trains.

Every method trains a ResNet-32 through :class:`~m2m_sampler.M2MClassifier` with the
authors' schedule; a method is a loss, a shared trunk (or none) and how its last phase
(or its whole run) re-balances:

============  ======  =======  ==========  ====================  ==========
key           loss    trunk    sampling    re-weighting          generation
============  ======  =======  ==========  ====================  ==========
``erm``       CE      (g)      shuffle     -                     -
``drs``       CE      CE       deferred    -                     -
``m2m``       CE      CE       deferred    -                     M2m
``drw``       CE      CE       shuffle     deferred, effective   -
``rs``        CE      -        balanced    -                     -
``smote``     CE      -        SMOTE       -                     -
``rw``        CE      -        shuffle     inverse frequency     -
``cbrw``      CE      -        shuffle     effective number      -
``focal``     focal   -        shuffle     -                     -
``ldam``      LDAM    LDAM     shuffle     -                     -
``ldam-drw``  LDAM    LDAM     shuffle     deferred, effective   -
``ldam-m2m``  LDAM    LDAM     deferred    -                     M2m
``la``        LA      LA       shuffle     -                     -
``la-drs``    LA      LA       deferred    -                     -
``la-m2m``    LA      LA       deferred    -                     M2m
``bs``        BS      BS       shuffle     -                     -
``bs-drs``    BS      BS       deferred    -                     -
``bs-m2m``    BS      BS       deferred    -                     M2m
============  ======  =======  ==========  ====================  ==========

``erm`` is ``g`` itself (plain ERM for the whole schedule). A method with a trunk
continues, from the deferral epoch on, a network trained with its loss and no
re-balancing until then ("shuffle": a new random permutation every epoch); "deferred"
switches to class-balanced batches there, "balanced" uses them from epoch 0. M2m
generation uses the CE ``g`` whatever the loss (as the authors do for LDAM + M2m, the
paper's "LDAM, M2m" row). Losses: cross-entropy; focal loss (gamma 1); LDAM (max margin
0.5, scale 30, cosine head); logit-adjusted cross-entropy (``LA``,
:class:`~m2m_sampler.longtail.losses.LogitAdjustedLoss`, tau 1) and Balanced Softmax (``BS``,
:class:`~m2m_sampler.longtail.losses.BalancedSoftmaxLoss`); the last two rows are beyond the
paper, and with tau 1 the two losses are equal up to float rounding. Both correct for the
training prior, so with deferred re-sampling the prior is corrected twice in the last
phase (the loss still adds the long-tailed prior while the batches are balanced): the
``-drs`` / ``-m2m`` rows measure that combination as asked, the plain ``la`` / ``bs`` rows
the loss alone.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from skorch.callbacks import Callback

from benchmarks.compare.methods import (
    REGISTRY,
    M2mParams,
    Method,
    NetModule,
    PaperSchedule,
    build_net,
    make_sampler,
)
from m2m_sampler.classifier import M2MClassifier
from m2m_sampler.longtail.augment import RandomCropFlip
from m2m_sampler.longtail.models import ResNet32

__all__ = [
    "METHODS",
    "PAPER",
    "PAPER_M2M",
    "PAPER_TRIO",
    "METHOD_KEYS",
    "PLAIN_LOOP_H100",
    "Progress",
    "add_m2m_arguments",
    "amp_dtype",
    "make_net",
    "phase_chains",
    "smote",
    "trunk_of",
    "training",
]


#: The methods, in the order of the reports (keys of
#: :data:`benchmarks.compare.methods.REGISTRY`).
METHOD_KEYS = (
    "erm", "drs", "m2m", "drw", "rs", "smote", "rw", "cbrw", "focal", "ldam", "ldam-drw",
    "ldam-m2m", "la", "la-drs", "la-m2m", "bs", "bs-drs", "bs-m2m",
)  # fmt: skip

METHODS: dict[str, Method] = {k: REGISTRY[k] for k in METHOD_KEYS}
"""Method key -> its :class:`~benchmarks.compare.methods.Method`, in report order."""


def trunk_of(method: str) -> str | None:
    """The loss of the trunk ``method`` continues; None for ``erm`` (``g`` itself, the
    whole schedule) and the methods trained from scratch."""
    spec = METHODS[method]
    return spec.loss if spec.trunk and method != "erm" else None


PAPER_TRIO = ("erm", "drs", "m2m")

#: Table 1 of the paper (CIFAR-LT-10, mean of 3 runs): bACC / GM.
PAPER = {
    100: {
        "erm": (68.7, 66.4), "rs": (70.4, 69.0), "smote": (71.5, 70.2), "rw": (72.8, 72.0),
        "cbrw": (71.2, 70.0), "drs": (75.2, 73.9), "drw": (75.0, 74.0), "m2m": (78.3, 77.8),
        "focal": (68.3, 65.5), "ldam": (72.8, 70.8), "ldam-drw": (77.1, 76.7),
        "ldam-m2m": (79.1, 78.6),
    },
    10: {
        "erm": (86.0, 85.8), "smote": (85.7, 85.5), "drs": (87.1, 87.0), "m2m": (87.9, 87.5),
        "ldam-drw": (87.1, 86.9), "ldam-m2m": (87.5, 87.4),
    },
}

#: gpu.md: a plain eager PyTorch loop on one H100 (bf16, channels_last, batch 128).
PLAIN_LOOP_H100 = {
    "erm_200_epochs_s": 304,
    "drs_40_epochs_s": 59,
    "m2m_40_epochs_s_estimated": 600,
    "erm_bacc": 71.2,
    "drs_bacc": 75.0,
}

#: The paper's M2m hyper-parameters for CIFAR-LT-10.
PAPER_M2M = {"beta": 0.999, "lam": 0.5, "gamma": 0.9, "step_size": 0.1, "n_steps": 10}


def add_m2m_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--beta --lam --gamma --step-size --n-steps`` with the paper's defaults.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    """
    for name, value in PAPER_M2M.items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=type(value), default=value)


def phase_chains(methods: list[str]) -> list[tuple[str | None, list[str], list[str]]]:
    """Group methods by the trunk they continue, for running the groups side by side.

    ``benchmarks/gpu/run_cifar_lt.sh`` runs ``g`` in one process and, beside it, one
    chain of processes per group: the trunk, then the group's methods without
    generation, then (once ``g`` is done) those with generation. For ERM, DRS and M2m
    this is the chain trunk -> DRS -> M2m beside ``g``.

    Parameters
    ----------
    methods : list of str
        Keys of :data:`METHODS` (``"erm"`` is ``g`` itself and belongs to no group).

    Returns
    -------
    list of (trunk, without_g, with_g)
        ``trunk``: the trunk's loss, or None for the methods trained from scratch;
        ``without_g`` / ``with_g``: the group's methods without / with generation, in
        the order given. Groups in the order of their first method.
    """
    groups: dict[str | None, tuple[list[str], list[str]]] = {}
    for m in methods:
        if m == "erm":
            continue
        groups.setdefault(trunk_of(m), ([], []))[1 if METHODS[m].generation else 0].append(m)
    return [(trunk, plain, with_g) for trunk, (plain, with_g) in groups.items()]


class Progress(Callback):
    """Print one line every ``every`` epochs (and at the last one)."""

    def __init__(self, phase: str, every: int, total: int) -> None:
        self.phase = phase
        self.every = every
        self.total = total

    def on_epoch_end(self, net, **kwargs):
        """Print the epoch's loss, learning rate and time split."""
        row = net.history[-1]
        epoch = row["epoch"]
        if epoch % self.every and epoch != self.total:
            return
        msg = (
            f"[{self.phase}] epoch {epoch:3d}/{self.total} loss {row['train_loss']:.4f} "
            f"lr {row.get('event_lr', float('nan')):.2e} {row['dur']:.2f}s "
            f"(data {row['m2m_data_time']:.2f} step {row['m2m_step_time']:.2f} "
            f"generation {row['m2m_generation_time']:.2f})"
        )
        if row["m2m_active"] and net.generation:
            msg += f" accepted {row['m2m_accepted']}/{row['m2m_translated']}"
        print(msg, flush=True)


def amp_dtype(args: argparse.Namespace) -> torch.dtype | None:
    """The autocast dtype of ``--amp``."""
    return {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}[args.amp]


def training(args: argparse.Namespace) -> PaperSchedule:
    """The network factory's training configuration of the reproduction's options."""
    return PaperSchedule(
        epochs=args.epochs, start_epoch=args.start_epoch, warmup=args.warmup_epochs,
        lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay,
        batch_size=args.batch_size, device=args.device, amp_dtype=amp_dtype(args),
        options={
            "clip": (0.0, 1.0), "translate_ahead": args.translate_ahead,
            "translation_batch_size": args.translation_batch_size,
            "channels_last": args.channels_last, "cuda_graph": args.cuda_graph,
            "iterator_train__dtype": torch.float32,
            "iterator_train__transform": RandomCropFlip(padding=4),
            "iterator_train__channels_last": args.channels_last,
            "iterator_valid__dtype": torch.float32,
            "iterator_valid__batch_size": args.eval_batch_size,
            "iterator_valid__channels_last": args.channels_last,
        },
    )  # fmt: skip


def smote(X: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """SMOTE on the flattened pixels in [0, 1] (float32 images out)."""
    sampler = make_sampler(REGISTRY["smote"], np.bincount(y), seed=seed)
    flat = X.reshape(len(X), -1).astype(np.float32) / 255.0
    X_res, y_res = sampler.fit_resample(flat, y)
    return X_res.reshape(-1, *X.shape[1:]).astype(np.float32), y_res


def make_net(
    args: argparse.Namespace,
    method: str,
    phase: str,
    counts: np.ndarray,
    *,
    max_epochs: int,
    trunk: bool = False,
    g: torch.nn.Module | None = None,
    seed: int = 0,
    select: Callback | None = None,
) -> M2MClassifier:
    """The net of ``method`` (``trunk=True``: the shared part before the deferral epoch).

    Built by :func:`benchmarks.compare.methods.build_net` (focal gamma 1, LDAM scale 30,
    effective-number beta 0.9999: :class:`~benchmarks.compare.methods.LossParams`).

    Parameters
    ----------
    args : argparse.Namespace
        The reproduction's options (schedule, M2m and speed settings).
    method : str
        A key of :data:`METHODS`.
    phase : str
        Name in the progress lines.
    counts : ndarray of shape (10,)
        Training images per class (for the class-dependent losses).
    max_epochs : int
        Epochs of this ``fit`` / ``partial_fit``.
    trunk : bool, default=False
        The trunk of ``method``'s loss: no re-balancing, no generation, no selection.
    g : torch.nn.Module or None
        M2m's ``g`` (methods with generation).
    seed : int, default=0
        ``random_state`` of the classifier.
    select : Callback or None
        A :class:`~benchmarks.cifar_lt.selection.ValidationSelection` to track
        the validation-selected epoch (not on trunks).

    Returns
    -------
    M2MClassifier
    """
    # the validation split of the authors' protocol, scored from its from_epoch on
    callbacks = [("select", select)] if select is not None and not trunk else []
    callbacks.append(("progress", Progress(phase, args.log_every, args.epochs)))
    m2m = M2mParams(beta=args.beta, lam=args.lam, gamma=args.gamma,
                    step_size=args.step_size, n_steps=args.n_steps)  # fmt: skip
    return build_net(METHODS[method], training(args), NetModule(ResNet32, {"num_classes": 10}),
                     counts, seed=seed, g=g, trunk=trunk, max_epochs=max_epochs, m2m=m2m,
                     callbacks=callbacks)  # fmt: skip
