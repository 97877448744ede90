"""``NetClassifier``: a skorch ``NeuralNetClassifier`` that behaves as a scikit-learn classifier.

skorch's ``NeuralNetClassifier`` returns argmax *indices* from ``predict``, needs ``y``
as integer indices and float32 ``X``, applies a softmax in ``predict_proba`` only for
``CrossEntropyLoss``, and holds out 20% of the data (stratified) by default, which fails
on long-tailed data whose smallest classes have a handful of samples. ``NetClassifier``
fixes these for the long-tailed setting, and is the base of
:class:`~m2m_sampler.M2MClassifier`:

* any labels (strings included): ``y`` is encoded to indices in ``fit``; ``predict``
  returns the original labels, ``classes_`` holds them and ``predict_proba``'s columns
  follow ``classes_``;
* ``X`` given as float64 numpy or pandas is passed to the module as float32;
* the module returns logits: the default criterion is ``CrossEntropyLoss`` and
  ``predict_proba`` applies a softmax for every criterion but ``NLLLoss`` / BCE (so the
  losses of :mod:`m2m_sampler.losses` work out of the box);
* ``train_split=None`` by default (no internal validation split);
* the speed options of :class:`~m2m_sampler.speed.SpeedMixin` (``amp_dtype``,
  ``channels_last``, ``cuda_graph``, ``batch_transform``, a ``DeviceLoader`` on the
  net's device), so ERM and DRS baselines train as fast as M2m.
"""

from __future__ import annotations

import copy
import functools

import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import BatchScoring, EpochScoring
from skorch.utils import _identity, to_numpy

from .speed import SpeedMixin

__all__ = ["NetClassifier"]


def _to_float32(X):
    """float64 numpy / pandas input -> float32 numpy; anything else unchanged."""
    if hasattr(X, "to_numpy") and hasattr(X, "columns"):  # pandas DataFrame
        X = X.to_numpy()
    if isinstance(X, np.ndarray) and X.dtype == np.float64:
        return X.astype(np.float32)
    return X


class _DecodeTarget:
    """Target extractor for scorers: skorch's datasets hold label indices, ``predict``
    returns labels, so scorers compare ``classes_[y]`` with the predictions."""

    def __init__(self, net: NeuralNetClassifier) -> None:
        self.net = net

    def __call__(self, y):
        return np.asarray(self.net.classes_)[to_numpy(y).astype(np.int64)]


class NetClassifier(SpeedMixin, NeuralNetClassifier):
    """A skorch classifier with scikit-learn label semantics, for modules returning logits.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns one logit per class.
    criterion : loss class or instance, default=torch.nn.CrossEntropyLoss
        Any loss taking logits and integer targets, e.g. those of
        :mod:`m2m_sampler.losses`.
    train_split : callable or None, default=None
        skorch's internal validation split; None trains on all the data.
    classes : array-like or None, default=None
        The labels, in the order of the module's logits. None: ``np.unique(y)``.
    amp_dtype, channels_last, cuda_graph, batch_transform
        The speed options of :class:`~m2m_sampler.speed.SpeedMixin` (all off by
        default).
    **kwargs
        Everything :class:`skorch.NeuralNetClassifier` accepts.

    Attributes
    ----------
    classes_ : ndarray
        The labels, in the order of ``predict_proba``'s columns.

    Examples
    --------
    Plain ERM with bf16 autocast and an on-device batch transform:

    >>> import numpy as np, torch
    >>> from m2m_sampler.models import MLP
    >>> X = np.random.default_rng(0).random((60, 4), dtype=np.float32)
    >>> y = np.repeat(["a", "b", "c"], [30, 20, 10])
    >>> net = NetClassifier(MLP, module__n_features=4, module__n_classes=3, max_epochs=2,
    ...                     amp_dtype=torch.bfloat16, batch_transform=lambda x: x * 0.5,
    ...                     iterator_train__shuffle=True, verbose=0).fit(X, y)
    >>> net.predict(X[:3]).tolist()[0] in {"a", "b", "c"}
    True
    """

    def __init__(
        self,
        module,
        *args,
        criterion=torch.nn.CrossEntropyLoss,
        train_split=None,
        classes=None,
        **kwargs,
    ):
        super().__init__(
            module,
            *args,
            criterion=criterion,
            train_split=train_split,
            classes=classes,
            **kwargs,
        )

    def initialize_callbacks(self):
        """Initialise the callbacks; scorers compare predictions with the original labels.

        skorch's datasets hold label *indices* while ``predict`` returns labels, so every
        ``EpochScoring`` / ``BatchScoring`` that uses skorch's default target extractor
        gets (a copy of it with) one that maps indices back to ``classes_``.
        """
        super().initialize_callbacks()
        callbacks = []
        for name, cb in self.callbacks_:
            if isinstance(cb, EpochScoring | BatchScoring) and cb.target_extractor is to_numpy:
                cb = copy.copy(cb)
                cb.target_extractor = _DecodeTarget(self)
            callbacks.append((name, cb))
        self.callbacks_ = callbacks
        return self

    # ----------------------------------------------------------------- labels
    def _encode_y(self, y, reset: bool):
        if y is None:
            return None
        y = np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y)
        if y.ndim != 1:
            y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
        if reset or not hasattr(self, "classes_inferred_"):
            if self.classes is not None and len(self.classes):
                classes = np.asarray(self.classes)
            else:
                classes = np.unique(y)
            if len(classes) < 2:
                raise ValueError(
                    f"y has a single class ({classes.tolist()}); a classifier needs samples "
                    "of at least two classes."
                )
            self.classes_inferred_ = classes
        classes = np.asarray(self.classes_)
        order = np.argsort(classes, kind="stable")
        pos = np.searchsorted(classes, y, sorter=order)
        pos = np.clip(pos, 0, len(classes) - 1)
        idx = order[pos]
        unknown = classes[idx] != y
        if np.any(unknown):
            raise ValueError(
                f"y contains labels {np.unique(y[unknown])[:10].tolist()} that are not among "
                f"the classes {classes.tolist()[:20]}; pass classes=[...] covering every label."
            )
        return idx.astype(np.int64)

    def check_data(self, X, y):
        # Labels were encoded (and classes_ recorded) in fit/partial_fit: skip skorch's
        # inference of classes from the encoded indices.
        super(NeuralNetClassifier, self).check_data(X, y)

    @property
    def classes_(self):
        return super().classes_

    def _check_inputs(self, X) -> None:
        """Fail early on what would otherwise train silently or fail deep inside torch."""
        if self.device is not None:
            dev = torch.device(self.device)
            if dev.type == "cuda" and not torch.cuda.is_available():
                raise ValueError(
                    f"device={self.device!r} was asked for but CUDA is not available "
                    "(torch.cuda.is_available() is False); use device='cpu'."
                )
        values = X.detach() if isinstance(X, torch.Tensor) else X
        if isinstance(values, np.ndarray | torch.Tensor) and (
            values.dtype.is_floating_point if isinstance(values, torch.Tensor)
            else np.issubdtype(values.dtype, np.floating)
        ):
            finite = torch.isfinite(values).all() if isinstance(values, torch.Tensor) else (
                np.isfinite(values).all()
            )
            if not bool(finite):
                raise ValueError(
                    "Input X contains NaN or infinity; impute or drop those values first "
                    "(e.g. sklearn.impute.SimpleImputer in the pipeline)."
                )

    def fit(self, X, y, **fit_params):
        """Initialise and fit the module on ``X`` and labels ``y`` (any label type)."""
        X = _to_float32(X)
        self._check_inputs(X)
        if not self.warm_start or not self.initialized_:
            self.__dict__.pop("classes_inferred_", None)  # classes are read from this y
        return super().fit(_to_float32(X), y, **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Fit without re-initialising; labels are encoded with the known classes."""
        X = _to_float32(X)
        self._check_inputs(X)
        y_idx = self._encode_y(y, reset=not hasattr(self, "classes_inferred_"))
        return super().partial_fit(_to_float32(X), y_idx, classes=classes, **fit_params)

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        return super().predict_proba(_to_float32(X))

    def predict(self, X):
        """Predicted labels (elements of ``classes_``)."""
        return np.asarray(self.classes_)[self.predict_proba(X).argmax(axis=1)]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy on ``(X, y)`` with the original labels."""
        from sklearn.metrics import accuracy_score

        return accuracy_score(y, self.predict(X), sample_weight=sample_weight)

    def _get_predict_nonlinearity(self):
        if self.predict_nonlinearity != "auto":
            return super()._get_predict_nonlinearity()
        nonlin = super()._get_predict_nonlinearity()
        if nonlin is _identity and not isinstance(
            self.criterion_, torch.nn.NLLLoss | torch.nn.BCELoss
        ):
            return functools.partial(torch.softmax, dim=-1)
        return nonlin
