"""skorch callbacks for deferred re-balancing and the paper's learning-rate schedule.

Epoch convention
----------------
``start_epoch`` and ``milestones`` are **0-based epoch indices**, as in the authors'
``for epoch in range(200)`` loops: ``start_epoch=160`` switches on for the 161st epoch.
In skorch, the epoch being trained has index ``len(net.history) - 1`` once
``on_epoch_begin`` has run (skorch appends the history row first), and its
``net.history[-1, 'epoch']`` is that index plus one. ``partial_fit`` continues counting.

Contents
--------
* :class:`DeferredReweighting` (DRW, Cao et al. 2019): sets the criterion's per-class
  ``weight`` from ``start_epoch`` on.
* :class:`DeferredResampling` (DRS) with :class:`ClassBalancedSampler`: class-balanced
  batches from ``start_epoch`` on, drawn from the dataset skorch actually trains on (its
  internal train split included).
* :class:`WarmupStepLambda` / :func:`paper_lr_scheduler`: linear warm-up then step decay
  (0.1 -> 1e-3 at epoch 160 -> 1e-5 at epoch 180 with base lr 0.1).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from skorch.callbacks import Callback, LRScheduler
from torch.utils.data import Sampler

from .class_weights import effective_number_weights, inverse_frequency_weights

__all__ = [
    "ClassBalancedSampler",
    "DeferredResampling",
    "DeferredReweighting",
    "WarmupStepLambda",
    "get_dataset_labels",
    "paper_lr_scheduler",
    "warmup_step_lambda",
]


# ----------------------------------------------------------------------------- labels


def get_dataset_labels(dataset: Any) -> np.ndarray:
    """Return the class label of every item of a dataset, without loading inputs if possible.

    Handled without touching the inputs: :class:`skorch.dataset.Dataset` (its ``y``),
    :class:`torch.utils.data.Subset` (recursively, e.g. the splits of skorch's
    ``ValidSplit``), :class:`torch.utils.data.TensorDataset` (its second tensor) and
    datasets with a ``targets`` attribute (torchvision style). Any other map-style
    dataset is indexed item by item, ``dataset[i][1]`` being the label (a warning says so).

    Parameters
    ----------
    dataset : torch.utils.data.Dataset

    Returns
    -------
    labels : ndarray of shape (len(dataset),)

    Raises
    ------
    ValueError
        If the dataset carries no labels (e.g. a skorch ``Dataset`` built with ``y=None``).
    """
    labels = _labels(dataset)
    if labels.ndim != 1:
        raise ValueError(
            f"class labels must be 1-D, got shape {labels.shape}; one-hot or multi-output "
            "targets cannot be re-balanced by class."
        )
    return labels


def _labels(dataset: Any) -> np.ndarray:
    from skorch.dataset import Dataset as SkorchDataset

    if isinstance(dataset, torch.utils.data.Subset):
        return _labels(dataset.dataset)[np.asarray(dataset.indices, dtype=np.int64)]
    if isinstance(dataset, SkorchDataset):
        if dataset.y is None:
            raise ValueError(
                "the training dataset has no targets (y=None); class re-balancing needs "
                "the labels: pass y to fit."
            )
        return _to_numpy(dataset.y)
    if isinstance(dataset, torch.utils.data.TensorDataset):
        if len(dataset.tensors) < 2:
            raise ValueError("a TensorDataset needs (inputs, labels) tensors to be re-balanced.")
        return _to_numpy(dataset.tensors[1])
    if hasattr(dataset, "targets"):
        return _to_numpy(dataset.targets)
    warnings.warn(
        f"reading the labels of a {type(dataset).__name__} by indexing every item; give the "
        "dataset a `targets` attribute to avoid loading all inputs.",
        UserWarning,
        stacklevel=3,
    )
    return np.asarray([_to_numpy(dataset[i][1]).item() for i in range(len(dataset))])


def _to_numpy(a: Any) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    if hasattr(a, "to_numpy"):  # pandas
        return a.to_numpy()
    return np.asarray(a)


# ----------------------------------------------------------------------------- sampler


class ClassBalancedSampler(Sampler[int]):
    """Sampler that is either class-balanced or a plain shuffle, switchable between epochs.

    ``balanced=True``: ``num_samples`` indices drawn with replacement, item ``i`` with
    probability proportional to ``1 / N_{y_i}`` (every class equally likely; drawn as a
    uniform class, then a uniform item of that class). ``balanced=False``: a random
    permutation of all items (what ``shuffle=True`` does).

    With skorch, pass an instance as ``iterator_train__sampler`` together with a
    :class:`DeferredResampling` callback, which binds it to the training dataset skorch
    really iterates (after its internal validation split) and switches it on at
    ``start_epoch``. In plain PyTorch, pass ``labels``.

    Parameters
    ----------
    labels : array-like of shape (n_samples,) or None, default=None
        Labels of the dataset items, in dataset order; may be (re)set by
        :meth:`set_labels`.
    balanced : bool, default=True
        Mode of the next epoch.
    num_samples : int or None, default=None
        Indices per epoch in balanced mode; ``None`` means ``len(labels)`` (the epoch
        length of plain training).
    generator : torch.Generator or None, default=None
        CPU generator; ``None`` uses the global torch RNG (reproducible under
        ``torch.manual_seed``).
    """

    def __init__(
        self,
        labels: ArrayLike | None = None,
        balanced: bool = True,
        num_samples: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.labels = None if labels is None else _to_numpy(labels)
        self.balanced = balanced
        self.num_samples = num_samples
        self.generator = generator

    def set_labels(self, labels: ArrayLike) -> ClassBalancedSampler:
        """Bind the sampler to a dataset by its labels.

        Parameters
        ----------
        labels : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        labels = _to_numpy(labels)
        if labels.ndim != 1:
            raise ValueError(f"labels must be 1-D, got shape {labels.shape}.")
        self.labels = labels
        return self

    def _n_items(self) -> int:
        if self.labels is None:
            raise RuntimeError(
                "ClassBalancedSampler has no labels. In skorch, add a DeferredResampling "
                "callback (it binds the sampler to the training data); in PyTorch, pass "
                "labels=... ."
            )
        return len(self.labels)

    def __len__(self) -> int:
        n = self._n_items()
        if self.balanced and self.num_samples is not None:
            return int(self.num_samples)
        return n

    def indices(self) -> torch.Tensor:
        """Draw one epoch of indices at once, as a tensor (no per-item Python).

        This is what iterating the sampler yields, drawn with the same random numbers:
        ``list(sampler)`` equals ``sampler.indices().tolist()`` under the same RNG state.
        Device-side loaders (:class:`~m2m_sampler.device_data.DeviceLoader`) call it once
        per epoch and move the result to their device.

        Returns
        -------
        torch.LongTensor of shape (len(self),), on the CPU
        """
        n = self._n_items()
        if n == 0:
            return torch.empty(0, dtype=torch.long)
        if not self.balanced:
            return torch.randperm(n, generator=self.generator)
        m = len(self)
        _, inverse, counts = np.unique(self.labels, return_inverse=True, return_counts=True)
        order = torch.from_numpy(np.argsort(inverse.reshape(-1), kind="stable"))
        counts_t = torch.from_numpy(counts.astype(np.int64))
        starts_t = torch.cumsum(counts_t, 0) - counts_t
        k = torch.randint(len(counts), (m,), generator=self.generator)
        u = torch.rand(m, generator=self.generator, dtype=torch.float64)
        within = torch.minimum((u * counts_t[k]).long(), counts_t[k] - 1)
        return order[starts_t[k] + within]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __repr__(self) -> str:
        n = None if self.labels is None else len(self.labels)
        return (
            f"ClassBalancedSampler(n_labels={n}, balanced={self.balanced!r}, "
            f"num_samples={self.num_samples!r})"
        )


# ----------------------------------------------------------------------------- DRS


class DeferredResampling(Callback):
    """Deferred re-sampling (DRS): class-balanced batches from ``start_epoch`` on.

    Before ``start_epoch`` the training data are shuffled as usual (a random permutation
    per epoch); from it on, each epoch draws ``len(train set)`` indices with replacement
    with probability ``∝ 1 / N_y`` (class-balanced), as M2m's and LDAM-DRW's DRS do.

    The callback drives a :class:`ClassBalancedSampler` that must be the net's training
    sampler::

        net = NeuralNetClassifier(
            module,
            callbacks=[DeferredResampling(start_epoch=160)],
            iterator_train__sampler=ClassBalancedSampler(),
        )

    Do not also set ``iterator_train__shuffle=True`` (a DataLoader cannot take both; the
    sampler shuffles itself). At every ``on_epoch_begin`` the callback binds the sampler
    to the labels of the ``dataset_train`` skorch passes (the ``Subset`` produced by
    ``train_split``/``ValidSplit``, not the full ``X``), which avoids the index mismatch
    of a sampler built on the full data (skorch issue #753). ``start_epoch=0`` gives
    plain class-balanced re-sampling (RS) for the whole run.

    Parameters
    ----------
    start_epoch : int, default=160
        0-based index of the first class-balanced epoch (see the module docstring).

    Notes
    -----
    Randomness comes from the sampler's ``generator``, or the global torch RNG, so runs
    are reproducible under ``torch.manual_seed``. Labels are read once per ``fit`` and
    cached for the training dataset object.
    """

    def __init__(self, start_epoch: int = 160) -> None:
        self.start_epoch = start_epoch

    def initialize(self) -> DeferredResampling:
        """Reset the label cache."""
        self.dataset_ = None
        self.labels_ = None
        return self

    def _sampler(self, net: Any) -> ClassBalancedSampler:
        params = net.get_params_for("iterator_train")
        sampler = params.get("sampler")
        if not isinstance(sampler, ClassBalancedSampler):
            raise ValueError(
                "DeferredResampling drives the training sampler: create the net with "
                "iterator_train__sampler=ClassBalancedSampler() (and without "
                f"iterator_train__shuffle=True); got sampler={sampler!r}."
            )
        if params.get("shuffle", False):
            raise ValueError(
                "iterator_train__shuffle=True cannot be combined with a sampler; drop it "
                "(ClassBalancedSampler shuffles by itself)."
            )
        return sampler

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        """Check the net's iterator settings before skorch builds its DataLoader."""
        if int(self.start_epoch) < 0:
            raise ValueError(f"start_epoch must be >= 0, got {self.start_epoch}.")
        self._sampler(net)

    def on_epoch_begin(
        self, net: Any, dataset_train: Any = None, dataset_valid: Any = None, **kwargs: Any
    ) -> None:
        """Bind the sampler to ``dataset_train`` and pick this epoch's mode."""
        sampler = self._sampler(net)
        if dataset_train is None:
            raise ValueError("DeferredResampling needs the training dataset (got None).")
        if self.dataset_ is not dataset_train:
            self.labels_ = get_dataset_labels(dataset_train)
            self.dataset_ = dataset_train
        sampler.set_labels(self.labels_)
        sampler.balanced = (len(net.history) - 1) >= int(self.start_epoch)

    def on_train_end(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        """Drop the reference to the training dataset."""
        self.dataset_ = None
        self.labels_ = None


# ----------------------------------------------------------------------------- DRW


class DeferredReweighting(Callback):
    """Deferred re-weighting (DRW): per-class loss weights from ``start_epoch`` on.

    From epoch ``start_epoch`` (0-based) on, the criterion's ``weight`` is set to
    class-balanced weights computed from the training counts; before it, the criterion
    is left as configured (``weight=None`` = uniform by default, which equals the
    ``beta = 0`` phase of LDAM-DRW). Works with :class:`torch.nn.CrossEntropyLoss`,
    :class:`torch.nn.NLLLoss` and all losses of :mod:`m2m_sampler.losses` (their
    ``weight`` buffer).

    Parameters
    ----------
    start_epoch : int, default=160
        0-based index of the first re-weighted epoch.
    weights : {'effective', 'inverse'} or array-like of shape (n_classes,), default='effective'
        ``'effective'``: :func:`~m2m_sampler.class_weights.effective_number_weights`
        with ``beta``; ``'inverse'``:
        :func:`~m2m_sampler.class_weights.inverse_frequency_weights`; an array: these
        weights as given.
    beta : float, default=0.9999
        Effective-number hyper-parameter (LDAM-DRW's value).
    class_counts : array-like of shape (n_classes,) or None, default=None
        Training counts per class, in logit order. ``None`` counts the labels of the
        dataset skorch trains on (``dataset_train``, i.e. after ``train_split``); its
        integer labels ``0 .. K-1`` index the logits, ``K`` being
        ``len(net.classes_)`` when available.
    criterion_name : str, default='criterion'
        Name of the criterion whose weight is set (``net.<name>_``).

    Attributes
    ----------
    weights_ : ndarray of shape (n_classes,) or None
        The weights applied, once ``start_epoch`` is reached (computed at the first
        re-weighted epoch of each ``fit``/``partial_fit`` call).

    Notes
    -----
    The weight tensor is created on the device of the criterion's tensors (or, if it has
    none, of the module's parameters) in the module's floating dtype. With
    :class:`torch.nn.CrossEntropyLoss` and ``reduction='mean'`` torch takes the
    *weighted* mean, as LDAM-DRW's code does.
    """

    def __init__(
        self,
        start_epoch: int = 160,
        weights: str | ArrayLike = "effective",
        beta: float = 0.9999,
        class_counts: ArrayLike | None = None,
        criterion_name: str = "criterion",
    ) -> None:
        self.start_epoch = start_epoch
        self.weights = weights
        self.beta = beta
        self.class_counts = class_counts
        self.criterion_name = criterion_name

    def initialize(self) -> DeferredReweighting:
        """Reset the fitted weights."""
        self.weights_ = None
        return self

    def _criterion(self, net: Any) -> Any:
        criterion = getattr(net, self.criterion_name + "_", None)
        if criterion is None:
            raise ValueError(
                f"net has no initialized criterion {self.criterion_name + '_'!r}; set "
                "criterion_name to the name of the criterion to re-weight."
            )
        criterion = getattr(criterion, "_orig_mod", criterion)  # torch.compile wrapper
        if not hasattr(criterion, "weight"):
            raise TypeError(
                f"{type(criterion).__name__} has no per-class `weight` attribute; use a "
                "loss that takes weight= (CrossEntropyLoss, m2m_sampler.losses.*)."
            )
        return criterion

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        """Validate the settings; the weights are recomputed for every ``fit``/``partial_fit``."""
        self.weights_ = None
        if int(self.start_epoch) < 0:
            raise ValueError(f"start_epoch must be >= 0, got {self.start_epoch}.")
        if isinstance(self.weights, str) and self.weights not in ("effective", "inverse"):
            raise ValueError(
                f"weights must be 'effective', 'inverse' or an array, got {self.weights!r}."
            )
        self._criterion(net)

    def _counts(self, net: Any, dataset_train: Any) -> np.ndarray:
        if self.class_counts is not None:
            return np.asarray(self.class_counts)
        labels = get_dataset_labels(dataset_train)
        if labels.size and not np.issubdtype(labels.dtype, np.integer):
            if np.issubdtype(labels.dtype, np.floating) and np.all(labels == np.round(labels)):
                labels = labels.astype(np.int64)
            else:
                raise ValueError(
                    "DeferredReweighting counts integer labels 0..K-1 (the logit index); got "
                    f"labels of dtype {labels.dtype}. Pass class_counts=... in logit order."
                )
        if labels.size and labels.min() < 0:
            raise ValueError("labels must be non-negative class indices.")
        n_classes = int(labels.max()) + 1 if labels.size else 0
        try:
            n_classes = max(n_classes, len(net.classes_))
        except (AttributeError, TypeError):
            pass
        return np.bincount(labels, minlength=n_classes)

    def _compute_weights(self, counts: np.ndarray) -> np.ndarray:
        if isinstance(self.weights, str):
            if self.weights == "effective":
                return effective_number_weights(counts, beta=self.beta)
            return inverse_frequency_weights(counts)
        return np.asarray(self.weights, dtype=np.float64)

    def on_epoch_begin(
        self, net: Any, dataset_train: Any = None, dataset_valid: Any = None, **kwargs: Any
    ) -> None:
        """Set the criterion's weight once ``start_epoch`` is reached."""
        if (len(net.history) - 1) < int(self.start_epoch):
            return
        criterion = self._criterion(net)
        if self.weights_ is None:
            if isinstance(self.weights, str):
                self.weights_ = self._compute_weights(self._counts(net, dataset_train))
            else:
                self.weights_ = self._compute_weights(np.empty(0))
        device, dtype = _target_device_dtype(net, criterion)
        criterion.weight = torch.as_tensor(self.weights_, dtype=dtype, device=device)


def _target_device_dtype(net: Any, criterion: Any) -> tuple[torch.device, torch.dtype]:
    device = None
    tensors = []
    if isinstance(criterion, torch.nn.Module):
        tensors = [*criterion.buffers(), *criterion.parameters()]
    if tensors:
        device = tensors[0].device
    dtype = torch.float32
    module = getattr(net, "module_", None)
    if isinstance(module, torch.nn.Module):
        for p in module.parameters():
            if p.is_floating_point():
                dtype = p.dtype
                if device is None:
                    device = p.device
                break
    if device is None:
        device = torch.device(net.device if getattr(net, "device", None) else "cpu")
    return device, dtype


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
        milestones = (int(round(0.8 * max_epochs)), int(round(0.9 * max_epochs)))
    return LRScheduler(
        policy=torch.optim.lr_scheduler.LambdaLR,
        lr_lambda=WarmupStepLambda(warmup_epochs, milestones, gamma),
        step_every="epoch",
        **kwargs,
    )
