"""The compared methods, each built as an ``imblearn.pipeline.Pipeline``.

Every method trains the same network, :class:`m2m_sampler.longtail.models.MLP`, through
:class:`m2m_sampler.net.NetClassifier` (skorch), with the same optimiser settings and the
same initialisation for a given seed. The methods differ only in what comes before the
network (an over-sampler or nothing) and in the loss weights:

=================  ===================================================================
key                pipeline
=================  ===================================================================
``erm``            [scaler] -> net (plain cross-entropy on the imbalanced data)
``ros``            [scaler] -> ``RandomOverSampler`` -> net
``smote``          [scaler] -> ``SMOTE(k_neighbors=min(5, n_min - 1))`` -> net
``adasyn``         [scaler] -> ``ADASYN(n_neighbors=min(5, n_min - 1))`` -> net
``borderline-smote``  [scaler] -> ``BorderlineSMOTE(k_neighbors=min(5, n_min - 1))`` -> net
``reweight``       [scaler] -> net with ``CrossEntropyLoss(weight=inverse frequency)``
``m2m``            [scaler] -> ``M2MOverSampler(g=the ERM net of the same seed)`` -> net
=================  ===================================================================

``[scaler]`` is a ``StandardScaler`` for tabular data and absent for digit pixels (for
a CSV text column it is the TF-IDF featuriser); ``n_min`` is the size of the smallest
training class. The 5 neighbours and the inverse frequency (``n_k ** -power`` with
``power=1``) are the defaults of :data:`METHOD_PARAMS`, which ``--tune`` chooses on
validation instead (:func:`~m2m_sampler.bench.tuning.tune_methods`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline
from sklearn.base import clone
from sklearn.preprocessing import StandardScaler

from ..longtail.class_weights import inverse_frequency_weights
from ..longtail.models import MLP
from ..net import NetClassifier
from ..over_sampler import M2MOverSampler
from ..training.device_data import DeviceLoader

__all__ = [
    "METHODS",
    "METHOD_PARAMS",
    "M2mParams",
    "MethodContext",
    "MethodSpec",
    "NotApplicable",
    "SeededNetClassifier",
    "TrainParams",
    "build_pipeline",
    "make_net",
    "method_param",
]


class NotApplicable(Exception):
    """A method cannot run on this training split; the message says why."""


class SeededNetClassifier(NetClassifier):
    """:class:`~m2m_sampler.net.NetClassifier` that seeds torch when it initialises.

    ``torch.manual_seed(random_state)`` runs right before the module is built, so the
    initial weights and the mini-batch order depend only on ``random_state``, whatever ran
    before in the pipeline (e.g. a sampler). This sets torch's global seed.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Passed to :class:`~m2m_sampler.net.NetClassifier`.
    *args
        Passed on.
    random_state : int or None, default=None
        None leaves torch's global generator alone.
    **kwargs
        Passed on.
    """

    def __init__(self, module, *args, random_state: int | None = None, **kwargs) -> None:
        super().__init__(module, *args, **kwargs)
        self.random_state = random_state

    def initialize(self):
        """Seed torch (if ``random_state`` is set), then initialise as skorch does."""
        if self.random_state is not None:
            torch.manual_seed(int(self.random_state))
        return super().initialize()


@dataclass
class TrainParams:
    """How the network is built and trained (the same for every method).

    Attributes
    ----------
    epochs : int
        Passes over the (re-sampled) training set.
    batch_size : int
    lr : float
        Adam learning rate.
    weight_decay : float
        Adam weight decay (the paper's 5e-5 for its fully connected networks).
    hidden : tuple of int
        Hidden layer widths of :class:`~m2m_sampler.longtail.models.MLP`.
    device : str
        Torch device of the network and of the M2m translation.
    tensor_loader : bool
        Batches are slices of the training tensors
        (:class:`~m2m_sampler.training.device_data.DeviceLoader`) instead of torch's
        ``DataLoader`` collating one sample at a time: the same epochs, several times
        faster for small networks, but another shuffling stream, so other numbers (the
        CSV path's speed rule, :mod:`~m2m_sampler.bench.speed_rule`).
    """

    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 5e-5
    hidden: tuple[int, ...] = (256,)
    device: str = "cpu"
    tensor_loader: bool = False


@dataclass
class M2mParams:
    """Hyper-parameters of :class:`~m2m_sampler.M2MOverSampler` in the benchmark.

    The defaults are the values ``benchmarks.tune_m2m`` chose on a validation split of
    the digits-LT training data (see ``docs/benchmarks.md``); other data sets need their
    own values (the tuning script prints the matching command-line options).

    Attributes
    ----------
    beta, lam, gamma, step_size : float
        See :class:`~m2m_sampler.M2MOverSampler`.
    n_steps : int
    f : {"none", "g"}
        ``"none"``: no ``lam * f_k0`` term; ``"g"``: a snapshot of ``g`` serves as ``f``.
    """

    beta: float = 0.99
    lam: float = 0.1
    gamma: float = 0.99
    step_size: float = 0.1
    n_steps: int = 10
    f: str = "none"


@dataclass
class MethodContext:
    """What a method needs to build its pipeline for one split and seed.

    Attributes
    ----------
    n_features : int
    classes : ndarray
        Sorted class labels of the training split.
    train_counts : ndarray
        Training samples per class, in the order of ``classes``.
    seed : int
    standardize : bool
        Start the pipeline with a ``StandardScaler``.
    clip : tuple or None
        Range of M2m translations.
    train : TrainParams
    m2m : M2mParams
    g : object or None
        The fitted ERM network of this seed (M2m's ``g``).
    features : transformer or None
        Unfitted featuriser (text data) cloned as the first step of every pipeline.
    params : dict
        Method key -> its hyper-parameters (see :data:`METHOD_PARAMS`); a missing key
        means the default values.
    """

    n_features: int
    classes: np.ndarray
    train_counts: np.ndarray
    seed: int
    standardize: bool
    clip: tuple[float, float] | None
    train: TrainParams
    m2m: M2mParams = field(default_factory=M2mParams)
    g: Any = None
    features: Any = None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def for_training_set(
        cls,
        data: Any,
        y_train: np.ndarray,
        seed: int,
        train: TrainParams,
        m2m: M2mParams | None = None,
    ) -> MethodContext:
        """The context of a training set drawn from ``data`` (its counts per class).

        Parameters
        ----------
        data : BenchData
            Gives ``n_features``, ``classes``, ``standardize`` and ``clip``.
        y_train : ndarray
            Labels of the training set (a split's, or a fit part carved from it).
        seed : int
        train : TrainParams
        m2m : M2mParams or None
            None: the defaults.

        Returns
        -------
        MethodContext
        """
        counts = np.array([int(np.sum(y_train == c)) for c in data.classes])
        return cls(
            n_features=data.n_features,
            classes=data.classes,
            train_counts=counts,
            seed=seed,
            standardize=data.standardize,
            clip=data.clip,
            train=train,
            m2m=M2mParams() if m2m is None else m2m,
            features=getattr(data, "features", None),
        )

    @property
    def n_min(self) -> int:
        """Size of the smallest training class."""
        return int(self.train_counts.min())

    @property
    def smallest_class(self) -> Any:
        """Label of the smallest training class."""
        lab = self.classes[int(np.argmin(self.train_counts))]
        return lab.item() if isinstance(lab, np.generic) else lab


def make_net(ctx: MethodContext, class_weight: np.ndarray | None = None) -> SeededNetClassifier:
    """The network every method trains: an MLP through skorch.

    Parameters
    ----------
    ctx : MethodContext
    class_weight : ndarray of shape (n_classes,) or None
        Weights of the cross-entropy loss, in sorted class order.

    Returns
    -------
    SeededNetClassifier
    """
    tp = ctx.train
    kwargs: dict[str, Any] = {}
    if class_weight is not None:
        kwargs["criterion__weight"] = torch.as_tensor(class_weight, dtype=torch.float32)
    if tp.tensor_loader:
        kwargs.update(iterator_train=DeviceLoader, iterator_valid=DeviceLoader)
    return SeededNetClassifier(
        MLP,
        module__n_features=ctx.n_features,
        module__n_classes=len(ctx.classes),
        module__hidden=tuple(tp.hidden),
        max_epochs=tp.epochs,
        batch_size=tp.batch_size,
        lr=tp.lr,
        optimizer=torch.optim.Adam,
        optimizer__weight_decay=tp.weight_decay,
        iterator_train__shuffle=True,
        classes=ctx.classes,
        device=tp.device,
        random_state=ctx.seed,
        verbose=0,
        **kwargs,
    )


def _pipeline(ctx: MethodContext, sampler: Any, net: SeededNetClassifier) -> Pipeline:
    steps: list[tuple[str, Any]] = []
    if ctx.features is not None:  # its steps, since imblearn does not nest pipelines
        features = clone(ctx.features)
        steps.extend(features.steps if hasattr(features, "steps") else [("features", features)])
    if ctx.standardize:
        steps.append(("scaler", StandardScaler()))
    if sampler is not None:
        steps.append(("sampler", sampler))
    steps.append(("net", net))
    return Pipeline(steps)


#: Each method's hyper-parameters (name -> default) beyond the shared training ones;
#: ``--tune`` chooses them on validation (:mod:`~m2m_sampler.bench.tuning`).
METHOD_PARAMS: dict[str, dict[str, Any]] = {
    "smote": {"k_neighbors": 5},
    "adasyn": {"n_neighbors": 5},
    "borderline-smote": {"k_neighbors": 5},
    "reweight": {"power": 1.0},
}


def method_param(ctx: MethodContext, key: str, name: str) -> Any:
    """Hyper-parameter ``name`` of method ``key``: ``ctx.params``, else the default.

    Parameters
    ----------
    ctx : MethodContext
    key, name : str
        A method and one of its entries in :data:`METHOD_PARAMS`.

    Returns
    -------
    object
    """
    return ctx.params.get(key, {}).get(name, METHOD_PARAMS[key][name])


def _neighbours(ctx: MethodContext, what: str, key: str, name: str) -> int:
    if ctx.n_min < 2:
        raise NotApplicable(
            f"the smallest training class ({ctx.smallest_class!r}) has {ctx.n_min} sample; "
            f"{what} interpolates between two samples of a class and needs at least 2"
        )
    return min(int(method_param(ctx, key, name)), ctx.n_min - 1)


def _erm(ctx: MethodContext) -> Pipeline:
    return _pipeline(ctx, None, make_net(ctx))


def _ros(ctx: MethodContext) -> Pipeline:
    return _pipeline(ctx, RandomOverSampler(random_state=ctx.seed), make_net(ctx))


def _smote(ctx: MethodContext) -> Pipeline:
    k = _neighbours(ctx, "SMOTE", "smote", "k_neighbors")
    return _pipeline(ctx, SMOTE(k_neighbors=k, random_state=ctx.seed), make_net(ctx))


def _adasyn(ctx: MethodContext) -> Pipeline:
    k = _neighbours(ctx, "ADASYN", "adasyn", "n_neighbors")
    return _pipeline(ctx, ADASYN(n_neighbors=k, random_state=ctx.seed), make_net(ctx))


def _borderline(ctx: MethodContext) -> Pipeline:
    k = _neighbours(ctx, "BorderlineSMOTE", "borderline-smote", "k_neighbors")
    sampler = BorderlineSMOTE(k_neighbors=k, random_state=ctx.seed)
    return _pipeline(ctx, sampler, make_net(ctx))


def _reweight(ctx: MethodContext) -> Pipeline:
    power = float(method_param(ctx, "reweight", "power"))
    if power == 1.0:
        weight = inverse_frequency_weights(ctx.train_counts)
    else:  # w_k proportional to n_k ** -power, summing to the number of classes
        w = np.asarray(ctx.train_counts, dtype=np.float64) ** -power
        weight = w * (len(w) / w.sum())
    return _pipeline(ctx, None, make_net(ctx, class_weight=weight))


def _m2m(ctx: MethodContext) -> Pipeline:
    if ctx.g is None:
        raise NotApplicable("no fitted ERM network to serve as g")
    p = ctx.m2m
    sampler = M2MOverSampler(
        g=ctx.g,
        f=ctx.g if p.f == "g" else None,
        beta=p.beta,
        lam=p.lam,
        gamma=p.gamma,
        step_size=p.step_size,
        n_steps=p.n_steps,
        clip=ctx.clip,
        device=ctx.train.device,
        random_state=ctx.seed,
    )
    return _pipeline(ctx, sampler, make_net(ctx))


@dataclass(frozen=True)
class MethodSpec:
    """A compared method.

    Attributes
    ----------
    key : str
        Name on the command line.
    label : str
        Name in tables and figures.
    description : str
    build : callable
        ``MethodContext -> Pipeline``; raises :class:`NotApplicable` when it cannot run.
    needs_g : bool
        Whether it needs the ERM network of the seed.
    """

    key: str
    label: str
    description: str
    build: Callable[[MethodContext], Pipeline]
    needs_g: bool = False


METHODS: dict[str, MethodSpec] = {
    s.key: s
    for s in (
        MethodSpec("erm", "ERM", "no re-balancing (plain cross-entropy)", _erm),
        MethodSpec("ros", "ROS", "RandomOverSampler (random copies)", _ros),
        MethodSpec("smote", "SMOTE", "SMOTE, k_neighbors=min(5, n_min-1)", _smote),
        MethodSpec("adasyn", "ADASYN", "ADASYN, n_neighbors=min(5, n_min-1)", _adasyn),
        MethodSpec(
            "borderline-smote",
            "BorderlineSMOTE",
            "BorderlineSMOTE (borderline-1), k_neighbors=min(5, n_min-1)",
            _borderline,
        ),
        MethodSpec(
            "reweight", "RW", "cross-entropy weighted by inverse class frequency", _reweight
        ),
        MethodSpec(
            "m2m",
            "M2m",
            "M2MOverSampler, g = the ERM network of the same seed",
            _m2m,
            needs_g=True,
        ),
    )
}
"""Method key -> :class:`MethodSpec`, in the order of the tables."""


def build_pipeline(key: str, ctx: MethodContext) -> Pipeline:
    """Build the (unfitted) pipeline of method ``key``.

    Parameters
    ----------
    key : str
        A key of :data:`METHODS`.
    ctx : MethodContext

    Returns
    -------
    imblearn.pipeline.Pipeline

    Raises
    ------
    NotApplicable
        When the method cannot run on this split (e.g. a class with a single sample).
    """
    return METHODS[key].build(ctx)
