"""skorch callbacks for deferred re-balancing (DRW, DRS).

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
* :class:`DeferredResampling` (DRS) with
  :class:`~m2m_sampler.training.sampling.ClassBalancedSampler`: class-balanced batches from
  ``start_epoch`` on, drawn from the dataset skorch actually trains on (its internal
  train split included).

The learning-rate schedule of the paper is in :mod:`m2m_sampler.training.schedules`, the sampler
and dataset labels in :mod:`m2m_sampler.training.sampling`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from skorch.callbacks import Callback

from ..longtail.class_weights import effective_number_weights, inverse_frequency_weights
from .sampling import ClassBalancedSampler, get_dataset_labels

__all__ = [
    "DeferredResampling",
    "DeferredReweighting",
]


# ----------------------------------------------------------------------------- DRS


class DeferredResampling(Callback):
    """Deferred re-sampling (DRS): class-balanced batches from ``start_epoch`` on.

    Before ``start_epoch`` the training data are shuffled as usual (a random permutation
    per epoch); from it on, each epoch draws ``len(train set)`` indices with replacement
    with probability ``∝ 1 / N_y`` (class-balanced), as M2m's and LDAM-DRW's DRS do.

    The callback drives a :class:`ClassBalancedSampler` that must be the net's training
    sampler (what ``net.get_params_for('iterator_train')`` gives as ``sampler``)::

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
    start_epoch : int or None, default=160
        0-based index of the first class-balanced epoch (see the module docstring).
        ``None``: the net's own resolved start epoch, its ``start_epoch_`` attribute
        (how :class:`~m2m_sampler.M2MClassifier` registers this callback).

    Notes
    -----
    Randomness comes from the sampler's ``generator``, or the global torch RNG, so runs
    are reproducible under ``torch.manual_seed``. Labels are read once per ``fit`` and
    cached for the training dataset object.
    """

    def __init__(self, start_epoch: int | None = 160) -> None:
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

    def _start_epoch(self, net: Any) -> int:
        if self.start_epoch is not None:
            return int(self.start_epoch)
        start = getattr(net, "start_epoch_", None)
        if start is None:
            raise ValueError(
                "DeferredResampling(start_epoch=None) takes the net's start_epoch_ (set by "
                f"M2MClassifier), but {type(net).__name__} has none; give start_epoch=<int>."
            )
        return int(start)

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        """Check the net's iterator settings before skorch builds its DataLoader."""
        if self._start_epoch(net) < 0:
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
        sampler.balanced = (len(net.history) - 1) >= self._start_epoch(net)

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
    :class:`torch.nn.NLLLoss` and all losses of :mod:`m2m_sampler.longtail.losses` (their
    ``weight`` buffer).

    Parameters
    ----------
    start_epoch : int, default=160
        0-based index of the first re-weighted epoch.
    weights : {'effective', 'inverse'} or array-like of shape (n_classes,), default='effective'
        ``'effective'``: :func:`~m2m_sampler.longtail.class_weights.effective_number_weights`
        with ``beta``; ``'inverse'``:
        :func:`~m2m_sampler.longtail.class_weights.inverse_frequency_weights`; an array: these
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
                "loss that takes weight= (CrossEntropyLoss, m2m_sampler.longtail.losses.*)."
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
