"""The compared methods: one registry of typed method values and one network factory.

A method is a :class:`Method`: what comes before the network (an offline over-sampler,
``sampler``), the loss, how the loss is weighted (``weighting``), how batches are drawn
(``batches``), whether M2m generates minority samples while the network trains
(``generation``) and whether the method continues the shared "trunk" of its loss from
the deferral epoch (``trunk``). :data:`REGISTRY` holds every method of the three front
ends (this ``benchmarks.compare`` command, the lab's Table 2 and CIFAR-LT reproductions), one key
for one method; :func:`build_net` is the one network factory: a method, a training
configuration (:class:`TrainParams`: Adam through :class:`SeededNetClassifier`, the
command's; :class:`PaperSchedule`: the paper's SGD schedule through
:class:`~m2m_sampler.M2MClassifier`, the reproductions'), the module, the class counts,
``g`` and the seed give the skorch network. :func:`make_sampler` gives a method's
over-sampler.

The ``python -m benchmarks.compare`` command compares :data:`METHODS`, each built as an
``imblearn.pipeline.Pipeline`` (:func:`build_pipeline`): the same network,
:class:`m2m_sampler.longtail.models.MLP` through :class:`SeededNetClassifier`, with the
same optimiser settings and the same initialisation for a given seed; the methods differ
only in what comes before the network (an over-sampler or nothing) and in the loss
weights:

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

The command's ``m2m`` is the registry's ``offline`` method (``M2MOverSampler``, then
ERM; the command trains a plain network, so M2m runs once, before it); the registry's
``m2m`` is the paper's online M2m (generation in the deferred phase of
:class:`~m2m_sampler.M2MClassifier`). ``[scaler]`` is a ``StandardScaler`` for tabular
data and absent for digit pixels (for a CSV text column it is the TF-IDF featuriser);
``n_min`` is the size of the smallest training class. The 5 neighbours and the inverse
frequency (``n_k ** -power`` with ``power=1``) are the defaults of :data:`METHOD_PARAMS`,
which ``--tune`` chooses on validation instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

import numpy as np
import torch
from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline
from sklearn.base import clone
from sklearn.preprocessing import StandardScaler

from m2m_sampler._torch_utils import to_builtin
from m2m_sampler.classifier import M2MClassifier
from m2m_sampler.longtail.class_weights import inverse_frequency_weights
from m2m_sampler.longtail.losses import BalancedSoftmaxLoss, FocalLoss, LDAMLoss, LogitAdjustedLoss
from m2m_sampler.longtail.models import MLP
from m2m_sampler.net import NetClassifier
from m2m_sampler.over_sampler import M2MOverSampler
from m2m_sampler.training.callbacks import DeferredReweighting
from m2m_sampler.training.device_data import DeviceLoader
from m2m_sampler.training.sampling import ClassBalancedSampler
from m2m_sampler.training.schedules import NEVER, paper_lr_scheduler

__all__ = [
    "METHODS",
    "METHOD_PARAMS",
    "REGISTRY",
    "LossParams",
    "M2mParams",
    "Method",
    "MethodContext",
    "NetModule",
    "NotApplicable",
    "PaperSchedule",
    "SeededNetClassifier",
    "TrainParams",
    "build_net",
    "build_pipeline",
    "make_net",
    "make_sampler",
    "method_param",
]

Sampler = Literal["ros", "smote", "adasyn", "borderline-smote", "m2m"]
Loss = Literal["ce", "focal", "ldam", "la", "bs"]
Weighting = Literal["inverse", "effective", "deferred-effective"]
Batches = Literal["shuffle", "deferred", "balanced"]


@dataclass(frozen=True)
class Method:
    """A compared method (a typed value; :data:`REGISTRY` holds them all).

    Attributes
    ----------
    key : str
        Name on the command lines and in result files.
    label : str
        Name in tables and figures.
    description : str
    sampler : {None, "ros", "smote", "adasyn", "borderline-smote", "m2m"}
        Offline over-sampler fitted before the network (``"m2m"``:
        :class:`~m2m_sampler.M2MOverSampler` with ``g``); None: the data as it is.
    loss : {"ce", "focal", "ldam", "la", "bs"}
        Cross-entropy, focal, LDAM (with a cosine head), logit-adjusted, Balanced Softmax.
    weighting : {None, "inverse", "effective", "deferred-effective"}
        Class weights of the loss: inverse frequency, effective number (from epoch 0), or
        effective number from the deferral epoch (DRW).
    batches : {"shuffle", "deferred", "balanced"}
        A random permutation every epoch; class-balanced batches from the deferral epoch;
        from epoch 0.
    generation : bool
        Online M2m (:class:`~m2m_sampler.M2MClassifier`) in the deferred phase.
    trunk : bool
        Continues, from the deferral epoch, the shared trunk of its loss (the same net
        trained with that loss and no re-balancing until then).
    """

    key: str
    label: str
    description: str = ""
    sampler: Sampler | None = None
    loss: Loss = "ce"
    weighting: Weighting | None = None
    batches: Batches = "shuffle"
    generation: bool = False
    trunk: bool = False

    def __post_init__(self) -> None:
        for name, kind in (("sampler", Sampler), ("loss", Loss), ("weighting", Weighting),
                           ("batches", Batches)):  # fmt: skip
            value = getattr(self, name)
            allowed = get_args(kind)
            if not (value in allowed or (value is None and name in ("sampler", "weighting"))):
                raise ValueError(f"{self.key}: {name} must be one of {allowed}; got {value!r}.")
        if self.generation and self.batches != "deferred":
            raise ValueError(f"{self.key}: generation runs in the deferred phase only.")
        if self.sampler is not None and (self.generation or self.trunk):
            raise ValueError(f"{self.key}: an offline sampler trains from scratch.")

    @property
    def needs_g(self) -> bool:
        """Whether it needs the ERM network of the seed (M2m's ``g``)."""
        return self.generation or self.sampler == "m2m"

    def as_trunk(self) -> Method:
        """The trunk this method continues: its loss, no re-balancing, no generation."""
        return replace(self, weighting=None, batches="shuffle", generation=False)


def _m(key: str, label: str, description: str = "", **fields: Any) -> Method:
    return Method(key, label, description, **fields)


_SMOTE_TEXT = "k_neighbors=min(5, n_min-1)"
#: Every method of every front end, one key for one method: the ``benchmarks.compare`` command's
#: (:data:`METHODS`), Table 2's rows (``benchmarks.table2.ROW_KEYS``) and CIFAR-LT's
#: (``benchmarks.cifar_lt.methods.METHOD_KEYS``).
REGISTRY: dict[str, Method] = {
    m.key: m
    for m in (
        _m("erm", "ERM", "no re-balancing (plain cross-entropy)", trunk=True),
        _m("ros", "ROS", "RandomOverSampler (random copies)", sampler="ros"),
        _m("rs", "RS", "class-balanced batches from epoch 0", batches="balanced"),
        _m("smote", "SMOTE", f"SMOTE, {_SMOTE_TEXT}", sampler="smote"),
        _m("adasyn", "ADASYN", "ADASYN, n_neighbors=min(5, n_min-1)", sampler="adasyn"),
        _m("borderline-smote", "BorderlineSMOTE",
           f"BorderlineSMOTE (borderline-1), {_SMOTE_TEXT}", sampler="borderline-smote"),
        _m("reweight", "RW", "cross-entropy weighted by inverse class frequency",
           weighting="inverse"),
        _m("rw", "RW", "cross-entropy weighted by inverse class frequency",
           weighting="inverse"),
        _m("cbrw", "CB-RW", "cross-entropy weighted by the effective number",
           weighting="effective"),
        _m("drs", "DRS", "class-balanced batches from the deferral epoch", batches="deferred",
           trunk=True),
        _m("drw", "DRW", "effective-number weights from the deferral epoch",
           weighting="deferred-effective", trunk=True),
        _m("m2m", "M2m", "online M2m in the deferred phase, g = the ERM network of the seed",
           batches="deferred", generation=True, trunk=True),
        _m("focal", "Focal", "focal loss", loss="focal"),
        _m("ldam", "LDAM", "LDAM loss, cosine head", loss="ldam", trunk=True),
        _m("ldam-drw", "LDAM-DRW", "LDAM with effective-number weights from the deferral epoch",
           loss="ldam", weighting="deferred-effective", trunk=True),
        _m("ldam-m2m", "LDAM + M2m", "LDAM with online M2m in the deferred phase", loss="ldam",
           batches="deferred", generation=True, trunk=True),
        _m("la", "LA", "logit-adjusted loss (tau 1)", loss="la", trunk=True),
        _m("la-drs", "LA-DRS", "logit-adjusted loss, deferred re-sampling", loss="la",
           batches="deferred", trunk=True),
        _m("la-m2m", "LA + M2m", "logit-adjusted loss with online M2m", loss="la",
           batches="deferred", generation=True, trunk=True),
        _m("bs", "BS", "Balanced Softmax", loss="bs", trunk=True),
        _m("bs-drs", "BS-DRS", "Balanced Softmax, deferred re-sampling", loss="bs",
           batches="deferred", trunk=True),
        _m("bs-m2m", "BS + M2m", "Balanced Softmax with online M2m", loss="bs",
           batches="deferred", generation=True, trunk=True),
        _m("offline", "M2MOverSampler + ERM",
           "M2MOverSampler, g = the ERM network of the same seed", sampler="m2m"),
    )
}  # fmt: skip

#: The ``benchmarks.compare`` command's methods (its name -> the registry's method), in the order
#: of its tables; its ``m2m`` is the registry's ``offline`` under the command's name.
METHODS: dict[str, Method] = {
    **{k: REGISTRY[k] for k in ("erm", "ros", "smote", "adasyn", "borderline-smote",
                                "reweight")},
    "m2m": replace(REGISTRY["offline"], key="m2m", label="M2m"),
}  # fmt: skip


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
        CSV path's speed rule, :mod:`~benchmarks.compare.speed_rule`).
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
        return to_builtin(lab)


@dataclass(frozen=True)
class LossParams:
    """Hyper-parameters of the losses and class weights.

    Attributes
    ----------
    focal_gamma : float
        Focal loss exponent.
    ldam_s, ldam_max_m : float
        LDAM's logit scale and largest margin.
    la_tau : float
        Logit adjustment strength.
    cb_beta : float
        Effective-number ``beta`` of ``weighting="effective"`` (CB-RW).
    drw_beta : float
        Effective-number ``beta`` of ``weighting="deferred-effective"`` (DRW).
    rw_power : float
        ``weighting="inverse"`` of a :class:`TrainParams` net: ``n_k ** -rw_power``.
    """

    focal_gamma: float = 1.0
    ldam_s: float = 30.0
    ldam_max_m: float = 0.5
    la_tau: float = 1.0
    cb_beta: float = 0.9999
    drw_beta: float = 0.9999
    rw_power: float = 1.0


@dataclass(frozen=True)
class PaperSchedule:
    """The paper's training: SGD, warm-up and step lr decay, a deferral epoch.

    Networks built with it are :class:`~m2m_sampler.M2MClassifier`-s (Table 2, CIFAR-LT).

    Attributes
    ----------
    epochs : int
        Length of the whole schedule.
    start_epoch : int
        The deferral epoch (0-based).
    warmup : int
        Linear warm-up epochs.
    milestones : tuple of int or None
        lr decay epochs; None: 80% and 90% of ``epochs``.
    lr_decay, lr, momentum, weight_decay : float
    batch_size : int
    device : str
    amp_dtype : torch.dtype or None
        Autocast dtype of every forward pass.
    options : mapping
        Further :class:`~m2m_sampler.M2MClassifier` parameters (loaders, clip, speed
        switches), passed as they are.
    """

    epochs: int
    start_epoch: int
    warmup: int = 5
    milestones: tuple[int, ...] | None = None
    lr_decay: float = 0.01
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 2e-4
    batch_size: int = 128
    device: str = "cpu"
    amp_dtype: torch.dtype | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NetModule:
    """The torch module a network trains: its class and its ``module__`` arguments.

    Attributes
    ----------
    cls : type
        E.g. :class:`~m2m_sampler.longtail.models.MLP` or ``ResNet32``.
    kwargs : mapping
    """

    cls: type
    kwargs: Mapping[str, Any] = field(default_factory=dict)


def _criterion(loss: Loss, counts: np.ndarray, p: LossParams) -> dict[str, Any]:
    if loss == "focal":
        return {"criterion": FocalLoss, "criterion__gamma": p.focal_gamma}
    if loss == "ldam":
        return {"criterion": LDAMLoss, "criterion__class_counts": counts,
                "criterion__max_m": p.ldam_max_m, "criterion__s": p.ldam_s}  # fmt: skip
    if loss == "la":
        return {"criterion": LogitAdjustedLoss, "criterion__class_counts": counts,
                "criterion__tau": p.la_tau}  # fmt: skip
    if loss == "bs":
        return {"criterion": BalancedSoftmaxLoss, "criterion__class_counts": counts}
    return {"criterion": torch.nn.CrossEntropyLoss}


def _inverse_weights(counts: np.ndarray, power: float) -> np.ndarray:
    if power == 1.0:
        return inverse_frequency_weights(counts)
    w = np.asarray(counts, dtype=np.float64) ** -power  # summing to the number of classes
    return w * (len(w) / w.sum())


def build_net(
    method: Method,
    training: TrainParams | PaperSchedule,
    module: NetModule,
    counts: np.ndarray,
    *,
    seed: int,
    g: Any = None,
    trunk: bool = False,
    max_epochs: int | None = None,
    losses: LossParams | None = None,
    m2m: M2mParams | None = None,
    classes: np.ndarray | None = None,
    callbacks: Sequence[tuple[str, Any]] = (),
    uniform_epoch: int | None = None,
    labels: np.ndarray | None = None,
    class_weight: np.ndarray | None = None,
) -> NetClassifier:
    """The one network factory: ``method``'s skorch network.

    Parameters
    ----------
    method : Method
    training : TrainParams or PaperSchedule
        :class:`TrainParams`: a :class:`SeededNetClassifier` (Adam; the cross-entropy
        loss, ``weighting="inverse"`` as fixed criterion weights, shuffled batches);
        :class:`PaperSchedule`: an :class:`~m2m_sampler.M2MClassifier` (any loss,
        weighting, batches and generation).
    module : NetModule
    counts : ndarray of shape (n_classes,)
        Training samples per class (class-dependent losses and weights).
    seed : int
        ``random_state`` of the network.
    g : torch.nn.Module or None
        M2m's ``g`` (online generation).
    trunk : bool, default=False
        The shared trunk of ``method`` (:meth:`Method.as_trunk`).
    max_epochs : int or None
        Epochs of this ``fit`` / ``partial_fit``; None: ``training.epochs``.
    losses : LossParams or None
        None: the defaults.
    m2m : M2mParams or None
        Online M2m's settings; None: the defaults.
    classes : ndarray or None
        The class labels (:class:`TrainParams` nets).
    callbacks : sequence of (name, Callback)
        Appended after the re-weighting and lr callbacks (:class:`PaperSchedule`).
    uniform_epoch : int or None
        :class:`PaperSchedule`: draw this many indices per epoch uniformly (with
        replacement) from the re-sampled set given to ``fit`` (its ``labels``), instead of
        the method's batches.
    labels : ndarray or None
        Labels of that re-sampled set.
    class_weight : ndarray or None
        :class:`TrainParams`: criterion weights in sorted class order (instead of the
        method's weighting).

    Returns
    -------
    NetClassifier
        A :class:`SeededNetClassifier` or an :class:`~m2m_sampler.M2MClassifier`.
    """
    spec = method.as_trunk() if trunk else method
    losses = LossParams() if losses is None else losses
    m2m = M2mParams() if m2m is None else m2m
    module_kwargs = {f"module__{k}": v for k, v in module.kwargs.items()}
    if isinstance(training, TrainParams):
        return _adam_net(spec, training, module.cls, module_kwargs, counts, seed, losses,
                         classes, class_weight)  # fmt: skip
    t = training
    start = {"deferred": t.start_epoch, "balanced": 0}.get(spec.batches, NEVER)
    lr = paper_lr_scheduler(max_epochs=t.epochs, warmup_epochs=t.warmup,
                            milestones=t.milestones, gamma=t.lr_decay)  # fmt: skip
    cbs: list[tuple[str, Any]] = [("lr", lr), *callbacks]
    if spec.weighting is not None:
        deferred = spec.weighting == "deferred-effective"
        beta = losses.cb_beta if spec.weighting == "effective" else losses.drw_beta
        kind = "inverse" if spec.weighting == "inverse" else "effective"
        rw = DeferredReweighting(start_epoch=t.start_epoch if deferred else 0, weights=kind,
                                 beta=beta)  # fmt: skip
        cbs.insert(0, ("reweight", rw))
    if uniform_epoch is not None:
        batches: dict[str, Any] = {
            "balanced_batches": False,
            "iterator_train__sampler": ClassBalancedSampler(
                labels=labels, balanced=True, num_samples=uniform_epoch),
        }  # fmt: skip
    else:
        batches = {"balanced_batches": True}
    return M2MClassifier(
        module.cls,
        **module_kwargs,
        module__head="cosine" if spec.loss == "ldam" else "linear",
        **_criterion(spec.loss, counts, losses),
        g=g,
        generation=spec.generation,
        start_epoch=start,
        beta=m2m.beta,
        lam=m2m.lam,
        gamma=m2m.gamma,
        step_size=m2m.step_size,
        n_steps=m2m.n_steps,
        random_state=seed,
        amp_dtype=t.amp_dtype,
        optimizer=torch.optim.SGD,
        lr=t.lr,
        optimizer__momentum=t.momentum,
        optimizer__weight_decay=t.weight_decay,
        batch_size=t.batch_size,
        max_epochs=t.epochs if max_epochs is None else max_epochs,
        device=t.device,
        train_split=None,
        callbacks=cbs,
        verbose=0,
        **{"iterator_train": DeviceLoader, "iterator_valid": DeviceLoader, **t.options},
        **batches,
    )


def _adam_net(spec, tp, cls, module_kwargs, counts, seed, losses, classes, class_weight):
    if spec.loss != "ce" or spec.batches != "shuffle" or spec.generation:
        raise ValueError(f"{spec.key}: a TrainParams net trains the plain cross-entropy on "
                         "shuffled batches; use a PaperSchedule")  # fmt: skip
    if spec.weighting not in (None, "inverse"):
        raise ValueError(f"{spec.key}: a TrainParams net weights by inverse frequency only")
    if class_weight is None and spec.weighting == "inverse":
        class_weight = _inverse_weights(counts, losses.rw_power)
    kwargs: dict[str, Any] = {}
    if class_weight is not None:
        kwargs["criterion__weight"] = torch.as_tensor(class_weight, dtype=torch.float32)
    if tp.tensor_loader:
        kwargs.update(iterator_train=DeviceLoader, iterator_valid=DeviceLoader)
    return SeededNetClassifier(
        cls,
        **module_kwargs,
        max_epochs=tp.epochs,
        batch_size=tp.batch_size,
        lr=tp.lr,
        optimizer=torch.optim.Adam,
        optimizer__weight_decay=tp.weight_decay,
        iterator_train__shuffle=True,
        classes=classes,
        device=tp.device,
        random_state=seed,
        verbose=0,
        **kwargs,
    )


def _mlp(ctx: MethodContext) -> NetModule:
    return NetModule(MLP, {"n_features": ctx.n_features, "n_classes": len(ctx.classes),
                           "hidden": tuple(ctx.train.hidden)})  # fmt: skip


def make_net(ctx: MethodContext, class_weight: np.ndarray | None = None) -> SeededNetClassifier:
    """The network every ``python -m benchmarks.compare`` method trains: an MLP through skorch.

    Parameters
    ----------
    ctx : MethodContext
    class_weight : ndarray of shape (n_classes,) or None
        Weights of the cross-entropy loss, in sorted class order.

    Returns
    -------
    SeededNetClassifier
    """
    return build_net(REGISTRY["erm"], ctx.train, _mlp(ctx), ctx.train_counts, seed=ctx.seed,
                     classes=ctx.classes, class_weight=class_weight)  # fmt: skip


#: Each ``benchmarks.compare`` method's hyper-parameters (name -> default) beyond the shared
#: training ones; ``--tune`` chooses them on validation (:mod:`~benchmarks.compare.tuning`).
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


_NEIGHBOURS = {"smote": ("SMOTE", SMOTE, "k_neighbors"),
               "adasyn": ("ADASYN", ADASYN, "n_neighbors"),
               "borderline-smote": ("BorderlineSMOTE", BorderlineSMOTE, "k_neighbors")}  # fmt: skip


def make_sampler(
    method: Method,
    counts: np.ndarray,
    *,
    seed: int,
    neighbours: int = 5,
    g: Any = None,
    m2m: M2mParams | None = None,
    clip: tuple[float, float] | None = None,
    device: str = "auto",
    amp_dtype: torch.dtype | None = None,
    smallest_class: Any = None,
) -> Any:
    """The offline over-sampler of ``method`` (``method.sampler`` must be set).

    Parameters
    ----------
    method : Method
    counts : ndarray
        Training samples per class.
    seed : int
    neighbours : int, default=5
        SMOTE / ADASYN / BorderlineSMOTE: ``min(neighbours, n_min - 1)`` neighbours.
    g : torch.nn.Module or fitted net or None
        ``"m2m"``: M2m's ``g`` (required).
    m2m : M2mParams or None
        ``"m2m"``: its settings (None: the defaults); ``f="g"`` makes ``g`` serve as ``f``.
    clip : tuple or None
    device : str, default="auto"
    amp_dtype : torch.dtype or None
    smallest_class : object
        Named in the :class:`NotApplicable` message.

    Returns
    -------
    imblearn sampler

    Raises
    ------
    NotApplicable
        A neighbour method with a class of one sample, or ``"m2m"`` without ``g``.
    """
    if method.sampler == "ros":
        return RandomOverSampler(random_state=seed)
    if method.sampler in _NEIGHBOURS:
        what, cls, name = _NEIGHBOURS[method.sampler]
        n_min = int(np.min(counts))
        if n_min < 2:
            raise NotApplicable(
                f"the smallest training class ({smallest_class!r}) has {n_min} sample; "
                f"{what} interpolates between two samples of a class and needs at least 2"
            )
        return cls(**{name: min(int(neighbours), n_min - 1)}, random_state=seed)
    if method.sampler == "m2m":
        if g is None:
            raise NotApplicable("no fitted ERM network to serve as g")
        p = M2mParams() if m2m is None else m2m
        return M2MOverSampler(g=g, f=g if p.f == "g" else None, beta=p.beta, lam=p.lam,
                              gamma=p.gamma, step_size=p.step_size, n_steps=p.n_steps,
                              clip=clip, device=device, random_state=seed,
                              amp_dtype=amp_dtype)  # fmt: skip
    raise ValueError(f"{method.key} has no offline sampler")


def _pipeline(ctx: MethodContext, sampler: Any, net: NetClassifier) -> Pipeline:
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


def build_pipeline(key: str, ctx: MethodContext) -> Pipeline:
    """Build the (unfitted) pipeline of the ``python -m benchmarks.compare`` method ``key``.

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
    method = METHODS[key]
    sampler = None
    if method.sampler is not None:
        name = _NEIGHBOURS[method.sampler][2] if method.sampler in _NEIGHBOURS else None
        sampler = make_sampler(
            method, ctx.train_counts, seed=ctx.seed,
            neighbours=5 if name is None else method_param(ctx, key, name),
            g=ctx.g, m2m=ctx.m2m, clip=ctx.clip, device=ctx.train.device,
            smallest_class=ctx.smallest_class,
        )  # fmt: skip
    losses = LossParams(rw_power=float(method_param(ctx, key, "power"))) if (
        key == "reweight") else None  # fmt: skip
    net = build_net(method, ctx.train, _mlp(ctx), ctx.train_counts, seed=ctx.seed,
                    classes=ctx.classes, losses=losses)  # fmt: skip
    return _pipeline(ctx, sampler, net)
