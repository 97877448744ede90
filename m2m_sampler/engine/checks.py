"""The checks both front ends run on a given ``g`` (and ``f``), on ``clip`` and on the
acceptance of a fit.

:class:`~m2m_sampler.M2MOverSampler` (in ``fit_resample``) and
:class:`~m2m_sampler.M2MClassifier` (before the first epoch and at the end of ``fit``)
call the same functions here:

* :func:`probe_rows` -- the training rows a model is probed on (up to
  :data:`PROBE_ROWS_PER_CLASS` of every class);
* :func:`check_model_output` -- on the probe's outputs: one output per class
  (an error), logits rather than probabilities (an error, :func:`check_logits`), and for
  ``g`` logits in sorted label order (:func:`check_label_order`, a
  :class:`~m2m_sampler.exceptions.LabelOrderWarning`);
* :func:`clip_outside_share` and :func:`check_clip_box` -- the share of the training rows
  outside the ``clip`` box, and a :class:`~m2m_sampler.exceptions.ClipRangeWarning` when it
  is over :data:`CLIP_OUTSIDE_SHARE`;
* :func:`warn_low_acceptance` -- the :class:`~m2m_sampler.exceptions.LowAcceptanceWarning`
  after a fit, naming the parameter to change
  (:func:`~m2m_sampler.engine.acceptance.low_acceptance_cause`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from .._stacklevel import caller_stacklevel
from ..exceptions import ClipRangeWarning, LabelOrderWarning, LowAcceptanceWarning
from .acceptance import LOW_ACCEPTANCE_SHARE, acceptance_totals, low_acceptance_cause
from .converters import require_logits_tensor

__all__ = [
    "CLIP_OUTSIDE_SHARE",
    "LABEL_ORDER_MARGIN",
    "PROBE_ROWS_PER_CLASS",
    "check_clip_box",
    "check_label_order",
    "check_logits",
    "check_model_output",
    "clip_outside_share",
    "probe_rows",
    "warn_low_acceptance",
]

#: Rows of every class that probe ``g`` and ``f`` at fit time.
PROBE_ROWS_PER_CLASS = 16

#: The label-order test warns when relabelling ``g``'s outputs by some permutation raises
#: its agreement with ``y`` on the classes it moves by at least this much (balanced).
LABEL_ORDER_MARGIN = 0.5

#: Share of the training rows outside the ``clip`` box over which ``fit`` warns (and
#: over which a low acceptance is blamed on ``clip``).
CLIP_OUTSIDE_SHARE = 0.5


def probe_rows(y_idx: np.ndarray, n_classes: int) -> np.ndarray:
    """Indices of the first :data:`PROBE_ROWS_PER_CLASS` rows of every class, by class."""
    y_idx = np.asarray(y_idx)
    return np.concatenate(
        [np.flatnonzero(y_idx == c)[:PROBE_ROWS_PER_CLASS] for c in range(n_classes)]
    ).astype(np.int64)


def check_model_output(
    out: torch.Tensor, classes: Sequence[Any], name: str, y_idx: np.ndarray | None = None
) -> None:
    """Check a model's outputs on probe rows: width, logits, and (``g``) label order.

    Parameters
    ----------
    out : tensor of shape (n_rows, ...)
        The model's outputs on the probe rows.
    classes : sequence of shape (n_classes,)
        The sorted labels (the order the outputs must follow).
    name : str
        ``'g'`` or ``'f'`` (in the messages; the label order is checked for ``'g'``).
    y_idx : int ndarray of shape (n_rows,), optional
        The label index of every probe row; without it the label order is not checked.

    Raises
    ------
    TypeError
        When the output is not one tensor (e.g. ``(logits, features)``).
    ValueError
        When the outputs are not one per class, or look like probabilities.
    """
    require_logits_tensor(out, name)
    classes = np.asarray(classes)
    if out.ndim != 2 or out.shape[1] != len(classes):
        raise ValueError(
            f"{name} returns outputs of shape {tuple(out.shape)} for {len(out)} samples, "
            f"but y has {len(classes)} classes {classes[:10].tolist()}; {name} must return "
            "one logit per class, in sorted label order (the order of classes_)."
        )
    check_logits(out.detach().float(), name)
    if name == "g" and y_idx is not None:
        check_label_order(out.argmax(dim=1).cpu().numpy(), np.asarray(y_idx), classes)


def check_logits(out: torch.Tensor, name: str) -> None:
    """Refuse outputs that look like probabilities: every row in [0, 1], summing to 1."""
    if out.shape[1] < 2 or not bool(torch.isfinite(out).all()):
        return
    in_unit = bool(((out >= 0) & (out <= 1)).all())
    ones = torch.ones(len(out), device=out.device)
    if in_unit and bool(torch.allclose(out.sum(dim=1), ones, atol=1e-4)):
        raise ValueError(
            f"{name} seems to return probabilities (every output row is in [0, 1] and sums "
            "to 1), but M2m needs logits: the translation minimises the cross-entropy of "
            f"softmax({name}(x)). Remove the final softmax from {name}."
        )


def check_label_order(pred: np.ndarray, y_idx: np.ndarray, classes: Sequence[Any]) -> None:
    """Warn when ``g``'s logits are most likely not in sorted label order.

    The test: ``R[i, j]``, the share of the probe rows labelled ``i`` on which ``g``'s
    argmax is ``j`` (the row-normalised confusion matrix, so every class counts alike),
    and the permutation ``s`` of the outputs that maximises ``sum_i R[i, s(i)]``
    (``scipy.optimize.linear_sum_assignment``). Every cycle of ``s`` (a set of classes
    that ``s`` moves among themselves) is compared with the identity on those classes.
    "Markedly better" means: on the classes of some cycle, ``s`` agrees with ``y`` on a
    share of their rows at least :data:`LABEL_ORDER_MARGIN` (50 percentage points,
    averaged over the cycle's classes) higher than the identity does. A ``g`` in the
    right order, even a weak one, gains little by any relabelling (it confuses two
    classes in both directions at most, which no permutation fixes); two swapped
    classes of a fair ``g`` gain nearly 100 points. The old rule (``g`` agrees with
    ``y`` less than half as often as chance, balanced) still warns too.

    Parameters
    ----------
    pred : int ndarray of shape (n_rows,)
        ``g``'s argmax on the probe rows.
    y_idx : int ndarray of shape (n_rows,)
        Their label indices.
    classes : sequence of shape (n_classes,)
        The sorted labels.
    """
    classes = np.asarray(classes)
    n_classes = len(classes)
    conf = np.zeros((n_classes, n_classes))
    np.add.at(conf, (np.asarray(y_idx, dtype=np.int64), np.asarray(pred, dtype=np.int64)), 1)
    counts = conf.sum(axis=1)
    present = counts > 0
    if not present.any():
        return
    recall = conf / np.maximum(counts, 1)[:, None]
    bacc, chance = float(np.mean(np.diag(recall)[present])), 1.0 / n_classes
    _, perm = linear_sum_assignment(recall, maximize=True)
    moved = _marked_moves(recall, perm, present)
    if not moved and bacc >= 0.5 * chance:
        return
    best = float(np.mean(recall[np.arange(n_classes), perm][present]))
    examples = "; ".join(
        f"rows labelled {classes[i]!r} mostly get output {perm[i]} ({classes[perm[i]]!r})"
        for i in moved[:4]
    )
    below = (f", far below chance ({100 * chance:.0f}%)" if bacc < 0.5 * chance else "")
    warnings.warn(
        f"g agrees with y on only {100 * bacc:.0f}% (balanced) of the training rows it "
        f"was probed on{below}; relabelling its outputs would make that {100 * best:.0f}%"
        + (f" ({examples})" if examples else "")
        + f": its logits are most likely not in sorted label order {classes[:10].tolist()}, "
        "and the translations would get wrong labels. Reorder g's outputs to "
        "np.unique(y) (or pass g fitted on these labels; a g fitted on integer codes "
        "of string or categorical labels has the codes' order, not the sorted one).",
        LabelOrderWarning,
        stacklevel=caller_stacklevel(),
    )


def _marked_moves(recall: np.ndarray, perm: np.ndarray, present: np.ndarray) -> list[int]:
    """The classes of the cycles of ``perm`` that gain at least LABEL_ORDER_MARGIN."""
    seen = np.zeros(len(perm), dtype=bool)
    moved: list[int] = []
    for start in range(len(perm)):
        if seen[start] or perm[start] == start:
            continue
        cycle, i = [], start
        while not seen[i]:
            seen[i] = True
            cycle.append(i)
            i = int(perm[i])
        rows = [c for c in cycle if present[c]]
        if not rows:
            continue
        gain = float(np.mean([recall[c, perm[c]] - recall[c, c] for c in rows]))
        if gain >= LABEL_ORDER_MARGIN:
            moved.extend(rows)
    return moved


def clip_outside_share(clip: Any, X: Any, sample_shape: Sequence[int] | None = None) -> float:
    """Share of the rows of ``X`` with some value outside the resolved ``clip`` box.

    Parameters
    ----------
    clip : None or (low, high)
        The box as :func:`~m2m_sampler.engine.translation.resolve_clip` returns it.
    X : ndarray or tensor of shape (n_samples, ...)
        The training data; other inputs (a Dataset, say) are not checked (0.0).
    sample_shape : sequence of int, optional
        Shape of one sample as the bounds have it (``X``'s rows are reshaped to it).

    Returns
    -------
    float
        0.0 without a box, without rows, or for inputs that are not arrays. Values are
        compared in float32, the precision of the bounds.
    """
    if clip is None or not isinstance(X, np.ndarray | torch.Tensor) or not len(X):
        return 0.0
    if isinstance(X, torch.Tensor):
        if not torch.is_floating_point(X) and X.dtype not in (torch.int64, torch.int32,
                                                                torch.uint8, torch.int16):
            return 0.0
        X = X.detach().cpu().numpy()
    if not np.issubdtype(X.dtype, np.number):
        return 0.0
    low, high = (None if b is None else np.asarray(b, dtype=np.float32) for b in clip)
    n_outside = 0
    for start in range(0, len(X), 4096):  # bounded memory
        x = np.asarray(X[start:start + 4096], dtype=np.float32)
        if sample_shape is not None:
            x = x.reshape(len(x), *sample_shape)
        out = np.zeros(x.shape, dtype=bool)
        if low is not None:
            out |= x < low
        if high is not None:
            out |= x > high
        n_outside += int(out.reshape(len(x), -1).any(axis=1).sum())
    return n_outside / len(X)


def check_clip_box(clip: Any, X: Any, sample_shape: Sequence[int] | None = None) -> float:
    """Warn when most training rows lie outside the ``clip`` box; return their share.

    A warning (:class:`~m2m_sampler.exceptions.ClipRangeWarning`), not an error: the box
    only bounds the translations (the real rows are kept as they are), and clipping a
    few outliers into it can be deliberate. When over :data:`CLIP_OUTSIDE_SHARE` of the
    rows lie outside, the box is most likely in other units than ``X`` (``(0, 1)`` on
    0..255 pixels, say): every translation would be squashed into it.
    """
    share = clip_outside_share(clip, X, sample_shape)
    if share > CLIP_OUTSIDE_SHARE:
        low, high = (b if b is None or isinstance(b, float) else "per-feature" for b in clip)
        warnings.warn(
            f"{100 * share:.0f}% of the training rows have values outside the clip box "
            f"(low={low}, high={high}); every translation is clipped into that box, so "
            "it is most likely in other units than X (e.g. clip=(0, 1) on 0..255 pixels: "
            "scale X first). Pass clip='minmax' (the range of X), bounds in X's units, or "
            "clip=None.",
            ClipRangeWarning,
            stacklevel=caller_stacklevel(),
        )
    return share


def warn_low_acceptance(
    class_stats: Mapping[Any, Mapping[str, int]],
    *,
    clip_outside: float = 0.0,
    where: str = "class_stats_",
    rest: str = (
        "the other added rows are copies of real samples, so the result is close to "
        "random over-sampling"
    ),
) -> None:
    """Warn when few planned translations are accepted (the rest become copies).

    The cause (:func:`~m2m_sampler.engine.acceptance.low_acceptance_cause`) decides the
    advice: ``clip`` when over :data:`CLIP_OUTSIDE_SHARE` of the training rows lie
    outside the clip box (``clip_outside``), else the larger rejection, ``gamma`` or
    ``beta``.
    """
    tot = acceptance_totals(class_stats.values())
    cause = low_acceptance_cause(tot, clip_outside_share=clip_outside)
    if cause is None:
        return
    planned, accepted = tot["planned"], tot["accepted"]
    gamma, beta = tot["rejected_gamma"], tot["rejected_beta"]
    if cause == "clip":
        advice = (
            f"{100 * clip_outside:.0f}% of the training rows lie outside the clip box, "
            f"which squashes every translation into it ({gamma} failed the gamma test, "
            f"{beta} were rejected by the beta draw): give clip in the units of X (or "
            "clip='minmax', or None)"
        )
    elif cause == "gamma":
        advice = (
            f"{gamma} failed the gamma test: lower gamma, or move further (larger "
            "step_size or n_steps, in the units of X), and check that g returns logits "
            "and fits the training data"
        )
    else:
        advice = f"{beta} were rejected by the beta draw: lower beta"
    warnings.warn(
        f"only {accepted} of {planned} planned translations ({100 * accepted / planned:.1f}%,"
        f" under {100 * LOW_ACCEPTANCE_SHARE:.0f}%) were accepted; {rest}. {advice} "
        f"(see {where}).",
        LowAcceptanceWarning,
        stacklevel=caller_stacklevel(),
    )
