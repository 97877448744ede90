"""The paper's learning-rate schedule: linear warm-up, then step decay.

* :class:`WarmupStepLambda` / :func:`warmup_step_lambda` -- the multiplier per epoch;
* :func:`paper_lr_scheduler` -- a skorch ``LRScheduler`` with it (0.1 -> 1e-3 at epoch 160
  -> 1e-5 at epoch 180 with base lr 0.1, as in the LDAM-DRW / M2m CIFAR runs);
* :func:`deferred_lr_budget` -- how much learning a deferred phase (DRS, DRW, M2m from
  ``start_epoch``) gets under such a schedule;
* :func:`default_start_epoch` -- the paper's deferral, the last 20% of the epochs (at the
  first decay of :func:`paper_milestones`); :data:`NEVER` -- a start epoch never reached.

*Deferred phase and decay.* The paper starts its deferred methods exactly at the first
decay (epoch 160 of 200): the deferred phase then trains at ``gamma`` (0.01) times the base
rate. Over 40 epochs that is ``20 * 0.01 + 20 * 1e-4 ~ 0.2`` epochs' worth of base-rate
steps; the same shape scaled to 15 epochs (the paper's Twitter / Reuters runs) leaves
``2 * 0.01 + 1e-4 ~ 0.02``, and the deferred re-balancing changes next to nothing
(``docs/benchmarks.md``, Table 2 diagnosis).
:class:`~m2m_sampler.M2MClassifier` warns (:class:`DeferredPhaseWarning`) when its
deferred phase gets less than :data:`MIN_DEFERRED_LR_BUDGET`.

Epochs are 0-based indices, as in :mod:`m2m_sampler.training.callbacks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from skorch.callbacks import LRScheduler

from ..exceptions import DeferredPhaseWarning

__all__ = [
    "MIN_DEFERRED_LR_BUDGET",
    "NEVER",
    "DeferredPhaseWarning",
    "WarmupStepLambda",
    "default_start_epoch",
    "deferred_lr_budget",
    "paper_lr_scheduler",
    "paper_milestones",
    "warmup_step_lambda",
]

#: Below this many base-rate epochs (sum of the lr multipliers over the deferred epochs)
#: a deferred phase is reported as too weak to matter (the paper's CIFAR protocol has 0.2,
#: its shape scaled to 15 epochs 0.02).
MIN_DEFERRED_LR_BUDGET = 0.1

#: A start epoch that no run reaches: a deferred phase switched off (the net that trains
#: ``g`` by ERM is never class-balanced).
NEVER = 2**62

#: Share of the epochs before the paper's deferred phase and first decay (160 of 200).
_DEFERRAL_SHARE = 0.8


def deferred_lr_budget(lr_lambda: Any, start_epoch: int, max_epochs: int) -> float:
    """Base-rate epochs of a deferred phase: ``sum(lr_lambda(e) for e in [start, max))``.

    Parameters
    ----------
    lr_lambda : callable
        Epoch index -> multiplier of the base rate (e.g. :class:`WarmupStepLambda`).
    start_epoch : int
        First deferred epoch (0-based).
    max_epochs : int
        Epochs of the run.

    Returns
    -------
    float
        0 when the phase is empty.

    Examples
    --------
    >>> round(deferred_lr_budget(WarmupStepLambda(5, (12, 14), 0.01), 12, 15), 6)
    0.0201
    >>> round(deferred_lr_budget(WarmupStepLambda(5, (160, 180), 0.01), 160, 200), 6)
    0.202
    >>> deferred_lr_budget(WarmupStepLambda(5, (12, 14), 0.01), 9, 15)
    3.0201
    """
    return float(sum(lr_lambda(e) for e in range(int(start_epoch), int(max_epochs))))



# ----------------------------------------------------------------------------- LR schedule


class WarmupStepLambda:
    """Learning-rate multiplier: linear warm-up, then step decay (picklable).

    ``f(e) = (e + 1) / warmup_epochs`` for ``e < warmup_epochs``, else
    ``gamma ** (number of milestones <= e)``, for the 0-based epoch index ``e``. With the
    defaults and base lr 0.1: 0.02, 0.04, 0.06, 0.08, 0.1 for epochs 0-4, 0.1 until 159,
    1e-3 for 160-179 and 1e-5 from 180 — the ``adjust_learning_rate`` of LDAM-DRW and of
    M2m (``if epoch < 5: lr = base * (epoch + 1) / 5``).

    Use with :class:`torch.optim.lr_scheduler.LambdaLR` (``lr_lambda=``), e.g. through
    skorch's ``LRScheduler`` (see :func:`paper_lr_scheduler`), stepped once per epoch.

    Parameters
    ----------
    warmup_epochs : int, default=5
        Length of the linear warm-up (0 disables it).
    milestones : sequence of int, default=(160, 180)
        0-based epochs at which the rate is multiplied by ``gamma``.
    gamma : float, default=0.01
        Decay factor per milestone.
    """

    def __init__(
        self,
        warmup_epochs: int = 5,
        milestones: Sequence[int] = (160, 180),
        gamma: float = 0.01,
    ) -> None:
        if warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be >= 0, got {warmup_epochs}.")
        self.warmup_epochs = int(warmup_epochs)
        self.milestones = tuple(sorted(int(m) for m in milestones))
        self.gamma = float(gamma)

    def __call__(self, epoch: int) -> float:
        if epoch < self.warmup_epochs:
            return (epoch + 1) / self.warmup_epochs
        n_decays = sum(1 for m in self.milestones if epoch >= m)
        return self.gamma**n_decays

    def __repr__(self) -> str:
        return (
            f"WarmupStepLambda(warmup_epochs={self.warmup_epochs}, "
            f"milestones={self.milestones}, gamma={self.gamma})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WarmupStepLambda):
            return NotImplemented
        return (self.warmup_epochs, self.milestones, self.gamma) == (
            other.warmup_epochs,
            other.milestones,
            other.gamma,
        )

    def __hash__(self) -> int:
        return hash((self.warmup_epochs, self.milestones, self.gamma))


def warmup_step_lambda(
    warmup_epochs: int = 5, milestones: Sequence[int] = (160, 180), gamma: float = 0.01
) -> WarmupStepLambda:
    """Build the picklable warm-up + step multiplier (see :class:`WarmupStepLambda`).

    Parameters
    ----------
    warmup_epochs : int, default=5
    milestones : sequence of int, default=(160, 180)
    gamma : float, default=0.01

    Returns
    -------
    WarmupStepLambda
    """
    return WarmupStepLambda(warmup_epochs, milestones, gamma)


def paper_milestones(max_epochs: int) -> tuple[int, int]:
    """The paper's decay epochs scaled to a run: 80% and 90% of ``max_epochs`` (rounded).

    Parameters
    ----------
    max_epochs : int

    Returns
    -------
    tuple of int

    Examples
    --------
    >>> paper_milestones(200), paper_milestones(15)
    ((160, 180), (12, 14))
    """
    return default_start_epoch(max_epochs), int(round(0.9 * max_epochs))


def default_start_epoch(max_epochs: int) -> int:
    """The paper's deferral: the deferred phase is the last 20% of the epochs.

    ``round(0.8 * max_epochs)``, the 0-based first deferred epoch (160 of 200): what
    ``start_epoch=None`` means, and the first of :func:`paper_milestones`.

    Parameters
    ----------
    max_epochs : int

    Returns
    -------
    int

    Examples
    --------
    >>> default_start_epoch(200), default_start_epoch(15), default_start_epoch(10)
    (160, 12, 8)
    """
    return int(round(_DEFERRAL_SHARE * max_epochs))


def paper_lr_scheduler(
    max_epochs: int = 200,
    warmup_epochs: int = 5,
    milestones: Sequence[int] | None = None,
    gamma: float = 0.01,
    **kwargs: Any,
) -> LRScheduler:
    """skorch ``LRScheduler`` with the paper's schedule (LDAM-DRW / M2m CIFAR runs).

    Per-epoch :class:`~torch.optim.lr_scheduler.LambdaLR` with a
    :class:`WarmupStepLambda`; the base rate is the net's ``lr`` (0.1 in the paper).

    Parameters
    ----------
    max_epochs : int, default=200
        Run length; when ``milestones`` is None they are placed at 80% and 90% of it
        (160 and 180 for 200 epochs), which scales the schedule to shorter runs.
    warmup_epochs : int, default=5
        Linear warm-up length.
    milestones : sequence of int or None, default=None
        Explicit 0-based decay epochs (overrides the 80%/90% rule).
    gamma : float, default=0.01
        Decay factor per milestone.
    **kwargs
        Passed to :class:`skorch.callbacks.LRScheduler` (e.g. ``event_name``).

    Returns
    -------
    skorch.callbacks.LRScheduler
        Stepped every epoch; the lr used in each epoch is recorded in the history
        column ``event_lr`` (skorch's default ``event_name``).

    Examples
    --------
    >>> sched = paper_lr_scheduler(max_epochs=200)
    >>> sched.lr_lambda
    WarmupStepLambda(warmup_epochs=5, milestones=(160, 180), gamma=0.01)
    """
    if milestones is None:
        milestones = paper_milestones(max_epochs)
    return LRScheduler(
        policy=torch.optim.lr_scheduler.LambdaLR,
        lr_lambda=WarmupStepLambda(warmup_epochs, milestones, gamma),
        step_every="epoch",
        **kwargs,
    )
