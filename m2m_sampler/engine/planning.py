"""Planning: Eq. (5), Algorithm 1 lines 2-6 (and the Bernoulli draw of line 12), and the
paper's batch-wise rule.

* :func:`acceptance_probability` -- ``P_accept(k0|k) = 1 - beta^((N_k0 - N_k)^+)``,
  the complement of the rejection probability of Eq. (3);
* :func:`source_class_distribution` -- ``Q(k0|k)`` of Eq. (5), proportional to it;
* :func:`plan_translations` -- Algorithm 1 lines 2-6 for a whole data set: for every
  sample to add, its target class ``k``, its source class ``k0 ~ Q(.|k)`` and a source drawn
  uniformly among the samples of ``k0`` (used by :class:`~m2m_sampler.M2MOverSampler`);
* :func:`plan_batch_translations` -- the "practical implementation via re-sampling"
  paragraph, for one mini-batch (used by :class:`~m2m_sampler.M2MClassifier`).

A plan carries, for every planned translation, its acceptance probability
``1 - beta^((N_k0 - N_k)^+)`` (computed once, by :func:`acceptance_probability`) and the
outcome of the Bernoulli draw of Eq. (3) made with it (``survived_beta``): the draw does
not depend on ``x*``, so it is made when planning and only the survivors are translated
(:func:`m2m_sampler.engine.generation.generate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from .rejection import draw_beta_survivors

__all__ = [
    "acceptance_probability",
    "source_class_distribution",
    "TranslationPlan",
    "plan_translations",
    "BatchPlan",
    "plan_batch_translations",
]


def acceptance_probability(counts: np.ndarray, beta: float) -> np.ndarray:
    """Matrix ``A[k, k0] = 1 - beta ** max(N_k0 - N_k, 0)``.

    The probability that a sample translated from class ``k0`` to class ``k`` survives the
    random rejection of Eq. (3). Zero whenever ``N_k0 <= N_k``: only strictly larger
    classes can be sources of a class.

    Parameters
    ----------
    counts : array-like of shape (K,)
        Training samples per class, ``N_k``.
    beta : float in [0, 1]

    Returns
    -------
    ndarray of shape (K, K), float64
    """
    counts = np.asarray(counts, dtype=np.float64)
    gap = np.maximum(counts[None, :] - counts[:, None], 0.0)
    with np.errstate(under="ignore"):
        return np.where(gap > 0, 1.0 - np.power(float(beta), gap), 0.0)


def source_class_distribution(counts: np.ndarray, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """``Q(k0|k)`` of Eq. (5), one row per target class ``k``.

    Returns
    -------
    Q : ndarray of shape (K, K)
        Row ``k`` sums to one where ``has_source[k]``; all zeros otherwise.
    has_source : ndarray of shape (K,), bool
        False for a class with no strictly larger class to translate from (the largest class,
        classes tied with it) or when ``beta == 1`` (every translation would be rejected).
    """
    accept = acceptance_probability(counts, beta)
    total = accept.sum(axis=1)
    has_source = total > 0
    q = np.zeros_like(accept)
    q[has_source] = accept[has_source] / total[has_source, None]
    return q, has_source


@dataclass
class TranslationPlan:
    """What Algorithm 1 lines 2-6 decide for every sample to add.

    Attributes
    ----------
    target : ndarray of shape (n_new,)
        Target class index ``k`` of each new sample (grouped by class, in the order of the
        strategy).
    source_class : ndarray of shape (n_new,)
        Source class index ``k0``; -1 where the target class has no larger class to
        translate from.
    source_index : ndarray of shape (n_new,)
        Row of the data set used as source ``x0``; for a fallback it is a random real sample
        of the target class.
    fallback : ndarray of shape (n_new,), bool
        True where the class has no possible source class: the new sample is a copy.
    accept_probability : ndarray of shape (n_new,)
        ``1 - beta^((N_k0 - N_k)^+)`` of each planned translation (0 for fallbacks).
    survived_beta : ndarray of shape (n_new,), bool
        The Bernoulli draw of Eq. (3) with ``accept_probability``: True where the sample
        is translated (never for a fallback).
    """

    target: np.ndarray
    source_class: np.ndarray
    source_index: np.ndarray
    fallback: np.ndarray
    accept_probability: np.ndarray
    survived_beta: np.ndarray


def plan_translations(
    y_index: np.ndarray,
    n_new: Mapping[int, int],
    beta: float,
    random_state: np.random.RandomState,
) -> TranslationPlan:
    """Algorithm 1 lines 2-6: source class and source sample for every sample to add.

    Then the Bernoulli draw of line 12 for every planned translation, with the same
    ``random_state`` (``survived_beta``).

    Parameters
    ----------
    y_index : ndarray of shape (n_samples,)
        Class index (0..K-1) of every training sample.
    n_new : mapping class index -> int
        How many samples to add to each class (imbalanced-learn's ``sampling_strategy_``
        for an over-sampler, keyed by class index).
    beta : float in [0, 1]
    random_state : numpy.random.RandomState

    Returns
    -------
    TranslationPlan
    """
    y_index = np.asarray(y_index)
    n_classes = int(y_index.max()) + 1 if y_index.size else 0
    counts = np.bincount(y_index, minlength=n_classes)
    members = [np.flatnonzero(y_index == c) for c in range(n_classes)]
    q, has_source = source_class_distribution(counts, beta)
    accept = acceptance_probability(counts, beta)

    targets, source_classes, source_indices, fallbacks = [], [], [], []
    for k, n in n_new.items():
        n = int(n)
        if n <= 0:
            continue
        targets.append(np.full(n, k, dtype=np.int64))
        if has_source[k]:
            k0 = random_state.choice(n_classes, size=n, p=q[k])
            # Uniform source within its class: one uniform draw mapped to a member index.
            u = random_state.random_sample(n)
            source = np.empty(n, dtype=np.int64)
            for c in np.unique(k0):
                sel = k0 == c
                pos = np.minimum((u[sel] * counts[c]).astype(np.int64), counts[c] - 1)
                source[sel] = members[c][pos]
            source_classes.append(k0.astype(np.int64))
            source_indices.append(source)
            fallbacks.append(np.zeros(n, dtype=bool))
        else:
            source_classes.append(np.full(n, -1, dtype=np.int64))
            source_indices.append(random_state.choice(members[k], size=n))
            fallbacks.append(np.ones(n, dtype=bool))
    if not targets:
        empty = np.empty(0, dtype=np.int64)
        return TranslationPlan(
            empty, empty, empty, np.empty(0, bool), np.empty(0), np.empty(0, bool)
        )
    target = np.concatenate(targets)
    source_class = np.concatenate(source_classes)
    fallback = np.concatenate(fallbacks)
    p_accept = np.where(fallback, 0.0, accept[target, np.maximum(source_class, 0)])
    survived = draw_beta_survivors(p_accept, random_state=random_state) & ~fallback
    return TranslationPlan(
        target=target,
        source_class=source_class,
        source_index=np.concatenate(source_indices),
        fallback=fallback,
        accept_probability=p_accept,
        survived_beta=survived,
    )


@dataclass
class BatchPlan:
    """The batch-wise generation rule applied to one mini-batch.

    Attributes
    ----------
    target_pos : torch.LongTensor of shape (m,)
        Positions in the batch chosen as generation targets that found a source.
    source_pos : torch.LongTensor of shape (m,)
        For each of them, the position of its source in the same batch.
    n_targets : int
        Positions chosen as targets, including those that found no eligible source.
    n_no_source : int
        Targets with no strictly larger class in the batch (they keep their real sample).
    target : torch.LongTensor of shape (m,)
        Target class of each (the class of the entry at ``target_pos``).
    source_class : torch.LongTensor of shape (m,)
        Class of each source.
    accept_probability : torch.Tensor of shape (m,)
        ``1 - beta^((N_k0 - N_k)^+)`` of each planned translation.
    survived_beta : torch.BoolTensor of shape (m,)
        The Bernoulli draw of Eq. (3) with ``accept_probability``: True where the
        translation is made.
    no_source : torch.BoolTensor of shape (B,) or None
        Batch entries chosen as targets that found no eligible source (``n_no_source``
        of them).
    """

    target_pos: torch.Tensor
    source_pos: torch.Tensor
    n_targets: int
    n_no_source: int
    target: torch.Tensor
    source_class: torch.Tensor
    accept_probability: torch.Tensor
    survived_beta: torch.Tensor
    no_source: torch.Tensor | None = None

    @property
    def source_index(self) -> torch.Tensor:
        """Rows of the batch the sources are taken from (``source_pos``)."""
        return self.source_pos


def plan_batch_translations(
    y: torch.Tensor,
    counts: torch.Tensor,
    beta: float,
    generator: torch.Generator | None = None,
    *,
    accept: torch.Tensor | None = None,
) -> BatchPlan:
    """The paper's batch-wise rule ("Practical implementation via re-sampling").

    Entry ``i`` of a (class-balanced) batch becomes a generation target with probability
    ``1 - N_{y_i} / N_max``; its source is drawn from the same batch with weights
    ``1 - beta^((N_{y_j} - N_{y_i})^+)`` (strictly larger classes only). A target with no
    eligible source in the batch keeps its real sample. Each translation then survives
    the Bernoulli draw of Eq. (3) with probability ``1 - beta^((N_k0 - N_k)^+)``, the same
    matrix as the source weights. Runs on ``y``'s device, with no host synchronisation
    other than the two returned counts.

    Parameters
    ----------
    y : torch.LongTensor of shape (B,)
        Class indices of the batch.
    counts : torch.Tensor of shape (K,)
        Training samples per class ``N_k``, on ``y``'s device.
    beta : float in [0, 1]
    generator : torch.Generator, optional
        On ``y``'s device: the targets, the sources and the Bernoulli draws.
    accept : torch.Tensor of shape (K, K), optional
        ``acceptance_probability(counts, beta)`` on ``y``'s device, if already computed
        (a caller planning many batches computes it once).

    Returns
    -------
    BatchPlan
    """
    if accept is None:
        accept = acceptance_probability(counts.detach().cpu().numpy(), beta)
    accept = torch.as_tensor(accept, dtype=torch.float64, device=y.device)
    counts = counts.to(device=y.device, dtype=torch.float64)
    n_y = counts[y]
    p_target = 1.0 - n_y / counts.max()
    is_target = torch.rand(y.shape, generator=generator, device=y.device, dtype=torch.float64)
    is_target = is_target < p_target
    weights = accept[y[:, None], y[None, :]]  # [i, j] = 1 - beta^((N_{y_j} - N_{y_i})^+)
    has_source = weights.sum(dim=1) > 0
    chosen = is_target & has_source
    target_pos = torch.nonzero(chosen).view(-1)
    if target_pos.numel():
        source_pos = torch.multinomial(weights[target_pos], 1, generator=generator).view(-1)
    else:
        source_pos = target_pos.clone()
    n_targets = int(is_target.sum())
    target, source_class = y[target_pos], y[source_pos]
    p_accept = accept[target, source_class]
    return BatchPlan(
        target_pos=target_pos,
        source_pos=source_pos,
        n_targets=n_targets,
        n_no_source=n_targets - int(target_pos.numel()),
        target=target,
        source_class=source_class,
        accept_probability=p_accept,
        survived_beta=draw_beta_survivors(p_accept, generator=generator),
        no_source=is_target & ~has_source,
    )
