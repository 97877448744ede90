"""Table 2's rows, the paper's numbers, the validation grids and the training protocol."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from benchmarks.compare.methods import REGISTRY, LossParams, M2mParams, Method, PaperSchedule
from m2m_sampler.training.schedules import paper_milestones

__all__ = ["GRIDS", "PAIRS", "PAIR_TARGETS", "PAPER", "ROWS", "ROW_KEYS", "Config",
           "HyperParams"]  # fmt: skip

#: The rows, in table order (keys of :data:`benchmarks.compare.methods.REGISTRY`).
ROW_KEYS = ("erm", "rs", "smote", "rw", "cbrw", "drs", "m2m", "focal", "ldam", "ldam-drw",
            "ldam-m2m", "la", "la-drs", "la-m2m", "offline")  # fmt: skip

ROWS: dict[str, Method] = {k: REGISTRY[k] for k in ROW_KEYS}
"""Row key -> its :class:`~benchmarks.compare.methods.Method`, in table order."""

#: Table 2 of the paper (mean of 3 runs): bACC, GM.
PAPER: dict[str, dict[str, tuple[float, float]]] = {
    "twitter-pos": {
        "erm": (74.7, 65.2), "rs": (75.8, 70.4), "smote": (75.8, 69.5), "rw": (76.2, 73.5),
        "cbrw": (77.5, 73.6), "drs": (77.8, 74.3), "m2m": (78.2, 74.8),
        "focal": (74.2, 70.4), "ldam": (74.6, 66.1), "ldam-drw": (78.0, 74.4),
        "ldam-m2m": (78.8, 76.0),
    },
    "reuters": {
        "erm": (59.8, 53.8), "rs": (63.3, 57.4), "smote": (62.5, 56.8), "rw": (65.0, 59.2),
        "cbrw": (64.8, 57.6), "drs": (62.4, 56.0), "m2m": (66.3, 60.5),
        "focal": (59.4, 53.0), "ldam": (63.0, 57.6), "ldam-drw": (64.1, 56.9),
        "ldam-m2m": (70.0, 63.9),
    },
}  # fmt: skip

#: The validation grids (small on purpose: the whole suite is meant to fit in minutes).
GRIDS: dict[str, list[dict[str, float]]] = {
    "m2m": [{"beta": b, "gamma": g} for b in (0.9, 0.99, 0.999) for g in (0.9, 0.99)],
    "ldam": [{"s": s} for s in (10.0, 30.0)],
    "focal": [{"gamma": g} for g in (1.0, 2.0)],
    "cbrw": [{"beta": b} for b in (0.999, 0.9999)],
}

#: Paired differences reported (row a - row b).
PAIRS = [
    ("m2m", "drs"), ("m2m", "rs"), ("m2m", "erm"), ("m2m", "rw"), ("ldam-m2m", "ldam-drw"),
    ("la-m2m", "la-drs"), ("offline", "rs"), ("drs", "erm"), ("rw", "rs"),
]  # fmt: skip

PAIR_TARGETS = {("m2m", "drs"): 2.0, ("m2m", "rs"): 2.0, ("ldam-m2m", "ldam-drw"): 3.0}


@dataclass(frozen=True)
class HyperParams:
    """The hyper-parameters chosen on validation (the searched values of :data:`GRIDS`).

    Attributes
    ----------
    m2m_beta, m2m_gamma : float
        M2m's (online and offline).
    ldam_s : float
        LDAM's scale.
    focal_gamma : float
    cbrw_beta : float
        CB-RW's effective-number ``beta``.
    """

    m2m_beta: float
    m2m_gamma: float
    ldam_s: float
    focal_gamma: float
    cbrw_beta: float

    @classmethod
    def of(cls, hp: HyperParams | Mapping[str, Mapping[str, float]]) -> HyperParams:
        """``hp`` itself, or the value of its JSON form (``{"m2m": {"beta": ...}, ...}``)."""
        if isinstance(hp, HyperParams):
            return hp
        return cls(m2m_beta=hp["m2m"]["beta"], m2m_gamma=hp["m2m"]["gamma"],
                   ldam_s=hp["ldam"]["s"], focal_gamma=hp["focal"]["gamma"],
                   cbrw_beta=hp["cbrw"]["beta"])  # fmt: skip

    def to_json(self) -> dict[str, dict[str, float]]:
        """The JSON form (keys of :data:`GRIDS`)."""
        return {"m2m": {"beta": self.m2m_beta, "gamma": self.m2m_gamma},
                "ldam": {"s": self.ldam_s}, "focal": {"gamma": self.focal_gamma},
                "cbrw": {"beta": self.cbrw_beta}}  # fmt: skip

    @property
    def losses(self) -> LossParams:
        """The loss settings (LDAM's margin 0.5, LA's tau 1, DRW's beta 0.9999)."""
        return LossParams(focal_gamma=self.focal_gamma, ldam_s=self.ldam_s,
                          cb_beta=self.cbrw_beta)  # fmt: skip

    def m2m(self, cfg: Config) -> M2mParams:
        """M2m's settings under ``cfg`` (its ``lam``, step size and steps)."""
        return M2mParams(beta=self.m2m_beta, lam=cfg.lam, gamma=self.m2m_gamma,
                         step_size=cfg.eta, n_steps=cfg.n_steps)  # fmt: skip


def first_values() -> dict[str, dict[str, float]]:
    """Every grid's first candidate (the placeholder of a value not searched)."""
    return {k: dict(v[0]) for k, v in GRIDS.items()}


@dataclass
class Config:
    """The training protocol shared by every row.

    Attributes
    ----------
    epochs, warmup, batch_size : int
    lr, lr_decay, weight_decay, momentum : float
    start_frac : float
        Deferral epoch as a share of ``epochs`` (rounded).
    milestones : tuple of int or None
        lr decay epochs; None: 80% and 90% of ``epochs``.
    hidden : int
    eta : float or None
        M2m step size; None: the data set's (1.0 on Reuters, 0.1 on Twitter).
    n_steps : int
    lam : float
    precision : {"fp32", "bf16"}
        ``bf16``: every forward pass (training, ``g``, the translation) under bfloat16
        autocast (``amp_dtype=torch.bfloat16``); weights, optimiser and loss stay float32.
    """

    epochs: int = 15
    warmup: int = 5
    batch_size: int = 64
    lr: float = 0.1
    lr_decay: float = 0.01
    weight_decay: float = 5e-5
    momentum: float = 0.9
    start_frac: float = 0.8
    milestones: tuple[int, ...] | None = None
    hidden: int = 256
    eta: float | None = 1.0
    n_steps: int = 10
    lam: float = 0.5
    precision: str = "fp32"

    @property
    def amp_dtype(self) -> torch.dtype | None:
        """The autocast dtype of :attr:`precision` (None: float32 throughout)."""
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16'; got {self.precision!r}.")
        return torch.bfloat16 if self.precision == "bf16" else None

    @property
    def lr_milestones(self) -> tuple[int, ...]:
        """The lr decay epochs: :attr:`milestones`, or 80% and 90% of :attr:`epochs`."""
        return self.milestones or paper_milestones(self.epochs)

    @property
    def start(self) -> int:
        """The deferral epoch (0-based)."""
        return int(round(self.start_frac * self.epochs))

    @property
    def training(self) -> PaperSchedule:
        """The network factory's training configuration (batches of 4,096 to predict)."""
        return PaperSchedule(
            epochs=self.epochs, start_epoch=self.start, warmup=self.warmup,
            milestones=self.milestones, lr_decay=self.lr_decay, lr=self.lr,
            momentum=self.momentum, weight_decay=self.weight_decay,
            batch_size=self.batch_size, amp_dtype=self.amp_dtype,
            options={"iterator_valid__batch_size": 4096},
        )  # fmt: skip
