"""Losses for long-tailed classification, usable as a skorch ``criterion``.

All losses take raw logits of shape ``(n_samples, n_classes)`` and integer targets of
shape ``(n_samples,)``. They subclass :class:`torch.nn.CrossEntropyLoss`, so that

* per-class weights live in the ``weight`` buffer (``None`` = uniform): it follows
  ``.to(device)``/``.to(dtype)``, appears in the ``state_dict`` when set, and can be
  replaced during training (:class:`~m2m_sampler.training.callbacks.DeferredReweighting` does);
* skorch's ``NeuralNetClassifier(predict_nonlinearity='auto')`` recognises them as
  cross-entropy losses and applies ``softmax`` in ``predict_proba`` (skorch 1.4 only
  checks ``isinstance(criterion, CrossEntropyLoss)``; a custom loss that is not a
  subclass would get the identity, i.e. raw logits as "probabilities").

Buffers are created on the CPU and moved with the module; in ``forward`` the weight
and per-class constants are cast to the logits' dtype, so nothing is tied to a device.
Targets are cast to ``int64``; half-precision logits (float16/bfloat16, e.g. under
autocast) are computed in float32, as autocast does for cross-entropy, so the loss is
float32 for them and the logits' dtype otherwise. ``ignore_index`` and
``label_smoothing`` of the parent class are not supported (left at their defaults and
unused).

With ``reduction='mean'`` the per-sample losses are averaged the way
:func:`torch.nn.functional.cross_entropy` does: ``sum_i w_{y_i} l_i / sum_i w_{y_i}``
(weighted mean), except :class:`FocalLoss`, which follows the LDAM-DRW code and takes
the plain mean ``sum_i w_{y_i} l_i / n``.

Probabilities at prediction time
--------------------------------
``predict`` (argmax) is what matters for balanced accuracy and needs nothing. For
``predict_proba``, skorch's ``'auto'`` gives ``softmax(logits)``. With
:class:`LDAMLoss` the training probabilities are ``softmax(s * logits)``: pass
``predict_nonlinearity=ScaledSoftmax(s)`` for those. To re-balance a network trained
with plain cross-entropy post hoc, pass
``predict_nonlinearity=LogitAdjustedSoftmax(class_counts, tau)``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from torch import nn

__all__ = [
    "BalancedSoftmaxLoss",
    "FocalLoss",
    "LDAMLoss",
    "LogitAdjustedLoss",
    "LogitAdjustedSoftmax",
    "ScaledSoftmax",
    "ldam_margins",
    "logit_adjust",
]

_REDUCTIONS = ("mean", "sum", "none")


def ldam_margins(class_counts: ArrayLike, max_m: float = 0.5) -> np.ndarray:
    """Per-class LDAM margins ``m_k ∝ n_k^(-1/4)``, the largest equal to ``max_m``.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Positive number of training samples per class.
    max_m : float, default=0.5
        Margin of the smallest class.

    Returns
    -------
    margins : ndarray of shape (n_classes,), dtype float64

    Examples
    --------
    >>> ldam_margins([16, 1], max_m=0.5).tolist()
    [0.25, 0.5]
    """
    n = _positive_counts(class_counts)
    if max_m < 0:
        raise ValueError(f"max_m must be >= 0, got {max_m}.")
    m = n**-0.25
    return m * (float(max_m) / m.max())


def logit_adjust(
    logits: torch.Tensor | np.ndarray, class_counts: ArrayLike, tau: float = 1.0
) -> torch.Tensor | np.ndarray:
    """Post-hoc logit adjustment (Menon et al., ICLR 2021): ``logits - tau * log(prior)``.

    The argmax of the adjusted logits is the balanced-error decision for a model trained
    with plain cross-entropy on the imbalanced distribution.

    Parameters
    ----------
    logits : torch.Tensor or ndarray of shape (n_samples, n_classes)
        Raw scores. A tensor keeps its device and floating dtype.
    class_counts : array-like of shape (n_classes,)
        Positive training counts; the prior is ``n_k / sum(n)``.
    tau : float, default=1.0
        Strength of the adjustment (0 returns the logits unchanged).

    Returns
    -------
    adjusted : same type as ``logits``
    """
    log_prior = _log_prior(class_counts)
    n_classes = len(log_prior)
    if logits.shape[-1] != n_classes:
        raise ValueError(
            f"logits have {logits.shape[-1]} columns but class_counts has {n_classes} entries."
        )
    if isinstance(logits, torch.Tensor):
        dtype = logits.dtype if logits.is_floating_point() else torch.get_default_dtype()
        offset = torch.as_tensor(log_prior, dtype=dtype, device=logits.device)
        return logits.to(dtype) - tau * offset
    return np.asarray(logits, dtype=np.float64) - tau * log_prior


class ScaledSoftmax:
    """``softmax(scale * logits)`` over the last dimension; picklable.

    For skorch's ``predict_nonlinearity`` with :class:`LDAMLoss` (``scale = s``), so
    that ``predict_proba`` returns the probabilities the loss was trained on.

    Parameters
    ----------
    scale : float, default=1.0
        Inverse temperature.
    """

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.scale * logits, dim=-1)

    def __repr__(self) -> str:
        return f"ScaledSoftmax(scale={self.scale!r})"


class LogitAdjustedSoftmax:
    """``softmax(logits - tau * log(prior))``: post-hoc logit adjustment; picklable.

    Use as skorch ``predict_nonlinearity`` of a net trained with plain cross-entropy to
    get balanced predictions (see :func:`logit_adjust`).

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Positive training counts.
    tau : float, default=1.0
        Strength of the adjustment.
    """

    def __init__(self, class_counts: ArrayLike, tau: float = 1.0) -> None:
        self.class_counts = class_counts
        self.tau = tau

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.softmax(logit_adjust(logits, self.class_counts, self.tau), dim=-1)

    def __repr__(self) -> str:
        return f"LogitAdjustedSoftmax(class_counts={self.class_counts!r}, tau={self.tau!r})"


class _WeightedCE(nn.CrossEntropyLoss):
    """Shared plumbing: weight buffer, reduction check, target/weight casting."""

    def __init__(self, weight: ArrayLike | torch.Tensor | None = None, reduction: str = "mean"):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}.")
        super().__init__(weight=_as_weight(weight), reduction=reduction)

    def _prepare(
        self, logits: torch.Tensor, target: torch.Tensor, n_classes: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        if logits.ndim != 2:
            raise ValueError(
                f"{type(self).__name__} expects logits of shape (n_samples, n_classes), "
                f"got {tuple(logits.shape)}."
            )
        if n_classes is not None and logits.shape[1] != n_classes:
            raise ValueError(
                f"{type(self).__name__} was built for {n_classes} classes (len(class_counts)) "
                f"but the logits have {logits.shape[1]} columns."
            )
        if not logits.is_floating_point():
            raise TypeError(f"logits must be floating point, got {logits.dtype}.")
        if logits.dtype in (torch.float16, torch.bfloat16):
            # what autocast does for cross-entropy anyway; keeps weight/offset dtypes simple
            logits = logits.float()
        target = target.to(device=logits.device, dtype=torch.long).reshape(-1)
        weight = self.weight
        if weight is not None:
            weight = weight.to(device=logits.device, dtype=logits.dtype)
        return logits, target, weight


class FocalLoss(_WeightedCE):
    r"""Focal loss (Lin et al., ICCV 2017) in the form used by LDAM-DRW and M2m.

    ``l_i = (1 - p_i)^gamma * ce_i`` with ``ce_i = w_{y_i} * (-log softmax(z_i)_{y_i})``
    and ``p_i = exp(-ce_i)``. The class weight sits *inside* the cross-entropy, so with
    non-uniform weights ``p_i`` is not the model's probability; this reproduces the
    reference code (``gamma=0`` is cross-entropy).

    Parameters
    ----------
    gamma : float, default=1.0
        Focusing parameter, ``>= 0`` (LDAM-DRW/M2m use 1.0).
    weight : array-like, tensor or None, default=None
        Per-class weights (``None`` = uniform); may be replaced later via ``.weight``.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        ``'mean'`` is the plain mean over samples (as in LDAM-DRW), not the weighted mean
        of :func:`torch.nn.functional.cross_entropy`.
    """

    def __init__(
        self,
        gamma: float = 1.0,
        weight: ArrayLike | torch.Tensor | None = None,
        reduction: str = "mean",
    ) -> None:
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}.")
        super().__init__(weight=weight, reduction=reduction)
        self.gamma = float(gamma)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Parameters
        ----------
        logits : torch.Tensor of shape (n_samples, n_classes)
        target : torch.Tensor of shape (n_samples,)

        Returns
        -------
        loss : torch.Tensor, scalar or of shape (n_samples,) for ``reduction='none'``
        """
        logits, target, weight = self._prepare(logits, target)
        ce = F.cross_entropy(logits, target, weight=weight, reduction="none")
        loss = (1.0 - torch.exp(-ce)) ** self.gamma * ce if self.gamma != 0 else ce
        return _reduce(loss, self.reduction)


class LDAMLoss(_WeightedCE):
    r"""Label-distribution-aware margin loss (Cao et al., NeurIPS 2019).

    The true-class logit is reduced by ``m_y`` (``m_k ∝ n_k^(-1/4)``, largest margin
    ``max_m``), the logits are multiplied by ``s`` and (weighted) cross-entropy is
    applied: ``CE(s * (z - m_y e_y), y)``. Meant for the cosine-normalised head
    (:class:`~m2m_sampler.longtail.models.NormedLinear`, logits in ``[-1, 1]``), as in the
    reference code (``max_m=0.5, s=30``). ``max_m=0, s=1`` is plain cross-entropy.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Positive training counts per class, in logit order.
    max_m : float, default=0.5
        Largest margin (that of the smallest class).
    s : float, default=30.0
        Logit scale, ``> 0``.
    weight : array-like, tensor or None, default=None
        Per-class weights (``None`` = uniform); DRW replaces it during training.
    reduction : {'mean', 'sum', 'none'}, default='mean'

    Attributes
    ----------
    margins : torch.Tensor of shape (n_classes,)
        Buffer holding ``m_k`` (float32 on the module's device).
    """

    def __init__(
        self,
        class_counts: ArrayLike,
        max_m: float = 0.5,
        s: float = 30.0,
        weight: ArrayLike | torch.Tensor | None = None,
        reduction: str = "mean",
    ) -> None:
        if s <= 0:
            raise ValueError(f"s must be > 0, got {s}.")
        margins = ldam_margins(class_counts, max_m)
        super().__init__(weight=weight, reduction=reduction)
        self.max_m = float(max_m)
        self.s = float(s)
        self.register_buffer("margins", torch.as_tensor(margins, dtype=torch.float32))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Parameters
        ----------
        logits : torch.Tensor of shape (n_samples, n_classes)
        target : torch.Tensor of shape (n_samples,)

        Returns
        -------
        loss : torch.Tensor, scalar or of shape (n_samples,) for ``reduction='none'``
        """
        logits, target, weight = self._prepare(logits, target, n_classes=len(self.margins))
        m_y = self.margins.to(device=logits.device, dtype=logits.dtype)[target]
        shift = torch.zeros_like(logits).scatter(1, target[:, None], m_y[:, None])
        return F.cross_entropy(
            self.s * (logits - shift), target, weight=weight, reduction=self.reduction
        )


class LogitAdjustedLoss(_WeightedCE):
    r"""Logit-adjusted cross-entropy (Menon et al., ICLR 2021).

    ``CE(z + tau * log(pi), y)`` with the training prior ``pi_k = n_k / N``. Train with
    this loss and predict with the raw logits; ``tau=0`` is plain cross-entropy.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Positive training counts per class, in logit order.
    tau : float, default=1.0
        Temperature of the adjustment.
    weight : array-like, tensor or None, default=None
        Per-class weights (``None`` = uniform).
    reduction : {'mean', 'sum', 'none'}, default='mean'

    Attributes
    ----------
    log_prior : torch.Tensor of shape (n_classes,)
        Buffer holding ``log(n_k / N)``.
    """

    def __init__(
        self,
        class_counts: ArrayLike,
        tau: float = 1.0,
        weight: ArrayLike | torch.Tensor | None = None,
        reduction: str = "mean",
    ) -> None:
        log_prior = _log_prior(class_counts)
        super().__init__(weight=weight, reduction=reduction)
        self.tau = float(tau)
        self.register_buffer("log_prior", torch.as_tensor(log_prior, dtype=torch.float32))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Parameters
        ----------
        logits : torch.Tensor of shape (n_samples, n_classes)
        target : torch.Tensor of shape (n_samples,)

        Returns
        -------
        loss : torch.Tensor, scalar or of shape (n_samples,) for ``reduction='none'``
        """
        logits, target, weight = self._prepare(logits, target, n_classes=len(self.log_prior))
        offset = self.tau * self.log_prior.to(device=logits.device, dtype=logits.dtype)
        return F.cross_entropy(logits + offset, target, weight=weight, reduction=self.reduction)


class BalancedSoftmaxLoss(_WeightedCE):
    r"""Balanced Softmax cross-entropy (Ren et al., NeurIPS 2020): ``CE(z + log n, y)``.

    Equal to :class:`LogitAdjustedLoss` with ``tau=1`` (``log n_k`` and ``log pi_k``
    differ by the constant ``log N``, which softmax ignores).

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Positive training counts per class, in logit order.
    weight : array-like, tensor or None, default=None
        Per-class weights (``None`` = uniform).
    reduction : {'mean', 'sum', 'none'}, default='mean'

    Attributes
    ----------
    log_counts : torch.Tensor of shape (n_classes,)
        Buffer holding ``log(n_k)``.
    """

    def __init__(
        self,
        class_counts: ArrayLike,
        weight: ArrayLike | torch.Tensor | None = None,
        reduction: str = "mean",
    ) -> None:
        log_counts = np.log(_positive_counts(class_counts))
        super().__init__(weight=weight, reduction=reduction)
        self.register_buffer("log_counts", torch.as_tensor(log_counts, dtype=torch.float32))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Parameters
        ----------
        logits : torch.Tensor of shape (n_samples, n_classes)
        target : torch.Tensor of shape (n_samples,)

        Returns
        -------
        loss : torch.Tensor, scalar or of shape (n_samples,) for ``reduction='none'``
        """
        logits, target, weight = self._prepare(logits, target, n_classes=len(self.log_counts))
        offset = self.log_counts.to(device=logits.device, dtype=logits.dtype)
        return F.cross_entropy(logits + offset, target, weight=weight, reduction=self.reduction)


# ----------------------------------------------------------------------------- helpers


def _positive_counts(class_counts: ArrayLike) -> np.ndarray:
    if isinstance(class_counts, torch.Tensor):
        class_counts = class_counts.detach().cpu().numpy()
    n = np.asarray(class_counts, dtype=np.float64)
    if n.ndim != 1 or n.size == 0:
        raise ValueError(f"class_counts must be a non-empty 1-D array, got shape {n.shape}.")
    if not np.all(np.isfinite(n)) or np.any(n <= 0):
        raise ValueError(
            f"class_counts must all be positive, got {n.tolist()}; a class without training "
            "samples has no prior/margin: drop it or pass counts of at least 1."
        )
    return n


def _log_prior(class_counts: ArrayLike) -> np.ndarray:
    n = _positive_counts(class_counts)
    return np.log(n) - np.log(n.sum())


def _as_weight(weight: ArrayLike | torch.Tensor | None) -> torch.Tensor | None:
    if weight is None:
        return None
    if isinstance(weight, torch.Tensor):
        w = weight.detach()
        if not w.is_floating_point():
            w = w.float()
    else:
        w = torch.as_tensor(np.asarray(weight, dtype=np.float32))
    if w.ndim != 1:
        raise ValueError(f"weight must be 1-D (one value per class), got shape {tuple(w.shape)}.")
    return w


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
