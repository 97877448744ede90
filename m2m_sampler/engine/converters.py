"""Turn the classifiers a user may pass as ``g`` or ``f`` into torch modules.

Translation needs gradients of ``g``'s cross-entropy with respect to the input, so every
classifier becomes a :class:`torch.nn.Module` that maps ``(n, *input_shape)`` inputs to
``(n, K)`` logits whose softmax is the classifier's ``predict_proba``, columns in
sorted-label order. Accepted:

* a :class:`torch.nn.Module` returning one logit per class (used as it is, on a frozen
  copy; a module returning a tuple such as ``(logits, features)`` is refused with a clear
  message, as are TorchScript modules);
* a fitted skorch ``NeuralNetClassifier`` (its ``module_``, with the output turned into
  logits according to its criterion / ``predict_nonlinearity``);
* a fitted scikit-learn ``LogisticRegression``, ``SGDClassifier(loss='log_loss')`` or
  ``MLPClassifier``, converted *exactly* (same ``predict_proba`` up to float32 rounding);
* a fitted scikit-learn ``Pipeline`` of ``StandardScaler`` / ``MinMaxScaler`` /
  ``MaxAbsScaler`` steps ending in one of those classifiers;
* any of these wrapped in :class:`sklearn.frozen.FrozenEstimator`.

:func:`default_g` builds the ``g`` that :class:`~m2m_sampler.M2MOverSampler` fits
when none is given.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler
from sklearn.utils.validation import check_is_fitted
from torch import nn

__all__ = [
    "as_torch_classifier",
    "sklearn_to_torch",
    "default_g",
    "SUPPORTED_KINDS",
    "require_logits_tensor",
]

SUPPORTED_KINDS = (
    "a torch.nn.Module returning one logit per class in sorted-label order, a fitted skorch "
    "NeuralNetClassifier, a fitted scikit-learn LogisticRegression, SGDClassifier("
    "loss='log_loss') or MLPClassifier, or a Pipeline of StandardScaler/MinMaxScaler/"
    "MaxAbsScaler steps ending in one of those"
)


# --------------------------------------------------------------------------- modules
class _Reshape(nn.Module):
    """Flatten the input to (n, d): scikit-learn models see vectors."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1)


class _Affine(nn.Module):
    """``x * scale + shift`` per feature, optionally clamped (the scikit-learn scalers)."""

    def __init__(
        self,
        scale: np.ndarray,
        shift: np.ndarray,
        clamp: tuple[float, float] | None = None,
    ) -> None:
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
        self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float32))
        self.clamp = clamp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x * self.scale + self.shift
        if self.clamp is not None:
            out = out.clamp(*self.clamp)
        return out


class _BinaryLogits(nn.Module):
    """A single decision value ``z`` -> logits ``[0, z]``: softmax gives ``[1-s(z), s(z)]``."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z.reshape(z.shape[0], -1)[:, :1]
        return torch.cat([torch.zeros_like(z), z], dim=1)


class _OneVsRestLogits(nn.Module):
    """Decision values ``z_k`` -> logits ``log sigmoid(z_k)``.

    Softmax of these is ``sigmoid(z_k) / sum_j sigmoid(z_j)``: scikit-learn's one-vs-rest
    ``predict_proba`` (``SGDClassifier(loss='log_loss')`` with more than two classes).
    """

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.logsigmoid(z)


class _LogOf(nn.Module):
    """Wrap a module that returns probabilities (or a probability-producing nonlinearity)
    so that it returns log-probabilities, usable as logits."""

    def __init__(self, module: nn.Module, nonlinearity=None) -> None:
        super().__init__()
        self.module = module
        self.nonlinearity = nonlinearity

    def forward(self, *args, **kwargs) -> torch.Tensor:
        out = self.module(*args, **kwargs)
        if self.nonlinearity is not None:
            out = self.nonlinearity(out)
        return torch.log(out.float().clamp_min(torch.finfo(torch.float32).tiny))


_ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "identity": nn.Identity,
}


def _linear(coef: np.ndarray, intercept: np.ndarray) -> nn.Linear:
    """An ``nn.Linear`` computing ``x @ coef + intercept`` (coef of shape (d_in, d_out))."""
    coef = np.asarray(coef, dtype=np.float64)
    # skip_init: no random initialisation, so torch's global random stream is untouched.
    layer = torch.nn.utils.skip_init(nn.Linear, coef.shape[0], coef.shape[1])
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(coef.T, dtype=torch.float32))
        layer.bias.copy_(torch.as_tensor(np.ravel(intercept), dtype=torch.float32))
    return layer


def _scaler_module(scaler) -> _Affine:
    n = scaler.n_features_in_
    if isinstance(scaler, StandardScaler):
        mean = scaler.mean_ if scaler.mean_ is not None and scaler.with_mean else np.zeros(n)
        scale = scaler.scale_ if scaler.scale_ is not None and scaler.with_std else np.ones(n)
        return _Affine(1.0 / scale, -mean / scale)
    if isinstance(scaler, MinMaxScaler):
        clamp = tuple(scaler.feature_range) if scaler.clip else None
        return _Affine(scaler.scale_, scaler.min_, clamp)
    if isinstance(scaler, MaxAbsScaler):
        return _Affine(1.0 / scaler.scale_, np.zeros(n))
    raise TypeError(
        f"pipeline step {type(scaler).__name__} cannot be converted to torch; supported "
        "pre-processing steps are StandardScaler, MinMaxScaler and MaxAbsScaler."
    )


def _classifier_module(est) -> nn.Module:
    n_classes = len(est.classes_)
    if isinstance(est, LogisticRegression | SGDClassifier):
        if isinstance(est, SGDClassifier) and est.loss != "log_loss":
            raise TypeError(
                f"SGDClassifier(loss={est.loss!r}) has no predict_proba that translation can "
                "use; fit it with loss='log_loss', or pass another classifier as g."
            )
        linear = _linear(est.coef_.T, est.intercept_)
        if n_classes == 2:
            return nn.Sequential(linear, _BinaryLogits())
        if isinstance(est, SGDClassifier):
            return nn.Sequential(linear, _OneVsRestLogits())
        return linear
    if isinstance(est, MLPClassifier):
        if est.out_activation_ not in ("softmax", "logistic") or (
            est.out_activation_ == "logistic" and est.n_outputs_ != 1
        ):
            raise TypeError(
                "only single-label MLPClassifier models can be converted "
                f"(out_activation_={est.out_activation_!r}, n_outputs_={est.n_outputs_})."
            )
        layers: list[nn.Module] = []
        n_layers = len(est.coefs_)
        for i, (coef, intercept) in enumerate(zip(est.coefs_, est.intercepts_)):
            layers.append(_linear(coef, intercept))
            if i < n_layers - 1:
                layers.append(_ACTIVATIONS[est.activation]())
        if est.out_activation_ == "logistic":
            layers.append(_BinaryLogits())
        return nn.Sequential(*layers)
    raise TypeError(
        f"a {type(est).__name__} cannot be converted to torch; supported scikit-learn "
        "classifiers are LogisticRegression, SGDClassifier(loss='log_loss') and "
        "MLPClassifier (optionally in a Pipeline after StandardScaler/MinMaxScaler/"
        "MaxAbsScaler)."
    )


def sklearn_to_torch(estimator) -> nn.Module:
    """Convert a fitted scikit-learn classifier (or scaler pipeline) to an exact torch module.

    The module takes inputs of any shape ``(n, ...)`` (flattened to ``(n, d)``) and returns
    ``(n, K)`` logits with ``softmax(logits) == estimator.predict_proba(X)`` up to float32
    rounding, columns in the order of ``estimator.classes_``.

    Parameters
    ----------
    estimator : LogisticRegression, SGDClassifier, MLPClassifier or Pipeline
        Fitted.

    Returns
    -------
    torch.nn.Module
    """
    try:
        check_is_fitted(estimator)
    except NotFittedError as exc:
        raise NotFittedError(
            f"the {type(estimator).__name__} passed as a classifier is not fitted; fit it on "
            "your data first, or pass g=None to let M2MOverSampler fit its own."
        ) from exc
    steps: list[nn.Module] = [_Reshape()]
    if isinstance(estimator, Pipeline):
        *pre, (_, last) = estimator.steps
        for _, step in pre:
            if step is None or step == "passthrough":
                continue
            steps.append(_scaler_module(step))
        steps.append(_classifier_module(last))
    else:
        steps.append(_classifier_module(estimator))
    return nn.Sequential(*steps).eval()


def _skorch_to_torch(net) -> nn.Module:
    if not getattr(net, "initialized_", False) or not hasattr(net, "module_"):
        raise NotFittedError(
            f"the {type(net).__name__} passed as a classifier is not initialized/fitted; "
            "call its fit method first."
        )
    module = net.module_
    criterion = getattr(net, "criterion_", None)
    if isinstance(criterion, nn.CrossEntropyLoss):
        return module
    if isinstance(criterion, nn.NLLLoss):
        return _LogOf(module)
    nonlin = net._get_predict_nonlinearity()
    if isinstance(nonlin, functools.partial) and nonlin.func in (torch.softmax, F.softmax):
        return module
    return _LogOf(module, nonlin)


def _is_skorch_net(obj) -> bool:
    try:
        from skorch import NeuralNet
    except ImportError:  # pragma: no cover - skorch is a dependency
        return False
    return isinstance(obj, NeuralNet)


def as_torch_classifier(
    estimator,
    *,
    classes: Sequence | np.ndarray | None = None,
    name: str = "g",
) -> tuple[nn.Module, bool]:
    """Resolve what a user passed as ``g`` or ``f`` into a torch module of logits.

    Parameters
    ----------
    estimator : torch.nn.Module, skorch net or scikit-learn classifier
        See the module docstring for the accepted kinds.
    classes : array-like, optional
        The sorted labels of the data. When the estimator knows its ``classes_``, they
        must match (same labels, same order), else a ``ValueError`` says so.
    name : str
        ``'g'`` or ``'f'``, used in error messages.

    Returns
    -------
    module : torch.nn.Module
        Not yet copied: the caller makes a frozen copy (see
        :func:`m2m_sampler._torch_utils.frozen_copy`).
    checkable : bool
        True when the estimator has a ``predict_proba`` the module can be checked against.
    """
    if isinstance(estimator, torch.jit.ScriptModule):
        raise TypeError(
            f"{name} is a TorchScript module (torch.jit.script / torch.jit.trace), which "
            "translation cannot use: it freezes a copy of the model and differentiates through "
            f"it, and TorchScript modules do not support requires_grad_. Pass {name} as the "
            "original torch.nn.Module (before scripting or tracing)."
        )
    if isinstance(estimator, nn.Module):
        return estimator, False
    if isinstance(estimator, FrozenEstimator):
        estimator = estimator.estimator
    if _is_skorch_net(estimator):
        module = _skorch_to_torch(estimator)
    elif hasattr(estimator, "predict_proba") or isinstance(
        estimator, LogisticRegression | SGDClassifier | MLPClassifier | Pipeline
    ):
        module = sklearn_to_torch(estimator)
    else:
        raise TypeError(f"{name} must be {SUPPORTED_KINDS}; got {type(estimator).__name__}.")
    if classes is not None:
        est_classes = getattr(estimator, "classes_", None)
        if est_classes is not None and not (
            len(est_classes) == len(classes)
            and np.array_equal(np.asarray(est_classes), np.asarray(classes))
        ):
            raise ValueError(
                f"{name} was fitted on classes {np.asarray(est_classes).tolist()} but y has "
                f"classes {np.asarray(classes).tolist()}; {name} must be fitted on the same "
                "labels."
            )
    return module, True


def require_logits_tensor(out, name: str = "g") -> None:
    """Refuse a model output that is not one tensor (e.g. ``(logits, features)``).

    Parameters
    ----------
    out : object
        What the model returned for a batch.
    name : str, default="g"
        The model's name in the message.

    Raises
    ------
    TypeError
        When ``out`` is not a :class:`torch.Tensor`.
    """
    if not isinstance(out, torch.Tensor):
        raise TypeError(
            f"{name} must return one tensor of logits of shape (n_samples, n_classes); it "
            f"returned a {type(out).__name__}. Wrap it in a module whose forward returns the "
            "logits only (for a model returning (logits, features): its first item)."
        )


def default_g(
    hidden_layer_sizes: tuple[int, ...] = (100,),
    max_iter: int = 300,
    random_state: int | None = None,
) -> Pipeline:
    """The ``g`` fitted by :class:`~m2m_sampler.M2MOverSampler` when ``g=None``.

    ``StandardScaler`` followed by ``MLPClassifier(hidden_layer_sizes=(100,),
    activation='relu', solver='adam', max_iter=300)``: plain ERM (cross-entropy) on the
    data, no re-balancing, as the paper's ``g``. Deterministic given ``random_state``.
    Converted to torch exactly by :func:`sklearn_to_torch`.
    """
    return make_pipeline(
        StandardScaler(),
        MLPClassifier(
            hidden_layer_sizes=hidden_layer_sizes,
            max_iter=max_iter,
            random_state=random_state,
        ),
    )


def fit_quietly(estimator, X, y):
    """Fit ``estimator`` with scikit-learn's ConvergenceWarning silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)
