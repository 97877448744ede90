"""The engine call: translate a plan's survivors, test them with ``gamma``, report.

Every front end runs Algorithm 1 as *plan -> translate -> test*:

1. a plan (:mod:`m2m_sampler.engine.planning`) says, for every planned translation, its target
   class ``k``, its source ``x0`` and source class ``k0``, its acceptance probability
   ``1 - beta^((N_k0 - N_k)^+)`` and whether it survived the Bernoulli draw of Eq. (3);
2. :func:`generate` -- **the one engine call** -- translates the survivors (Eq. 2,
   :func:`~m2m_sampler.engine.translation.translate`) in chunks, tests them with ``gamma``
   (:func:`~m2m_sampler.engine.rejection.passes_gamma`) and returns a :class:`Generation`;
3. the front end writes the accepted ``x*`` back: :class:`~m2m_sampler.M2MOverSampler`
   adds rows (a rejected one becomes a copy of a real sample of ``k``),
   :func:`generate_batches` (used by :class:`~m2m_sampler.M2MClassifier`) replaces batch
   slots (a rejected target keeps its real sample).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .._torch_utils import synchronize
from .params import TranslationParams
from .planning import BatchPlan, acceptance_probability, plan_batch_translations
from .rejection import passes_gamma
from .translation import translate

__all__ = ["Generation", "GenerationResult", "generate", "generate_batches"]


@dataclass
class Generation:
    """What :func:`generate` did to a plan.

    Attributes
    ----------
    translated : ndarray or torch.BoolTensor of shape (n_planned,)
        Planned translations that survived the Bernoulli draw and went through the
        engine (the plan's ``survived_beta``); numpy for a numpy plan, a tensor on the
        plan's device otherwise.
    accepted : same type and shape as ``translated``
        Translated and ``g``'s probability of the target class at ``x*`` >= ``gamma``.
    x_star : torch.Tensor of shape ``(n_translated, *sample_shape)``
        The translated points of the ``translated`` entries, in plan order, in the
        dtype of the sources (accepted or not); on the CPU for a numpy plan.
    prob : torch.Tensor of shape (n_translated,)
        ``g``'s probability of the target class at each ``x*``.
    passed_gamma : torch.BoolTensor of shape (n_translated,)
        ``prob >= gamma`` (``accepted`` restricted to the translated entries).
    seconds : float
        Wall time of the engine (synchronised on CUDA).
    """

    translated: Any
    accepted: Any
    x_star: torch.Tensor
    prob: torch.Tensor
    passed_gamma: torch.Tensor
    seconds: float = 0.0

    @property
    def n_translated(self) -> int:
        return int(self.x_star.shape[0])

    @property
    def n_accepted(self) -> int:
        return int(self.passed_gamma.sum())

    @property
    def n_rejected_gamma(self) -> int:
        return self.n_translated - self.n_accepted

    @property
    def accepted_x(self) -> torch.Tensor:
        """``x*`` of the accepted entries, in plan order."""
        return self.x_star[self.passed_gamma.to(self.x_star.device)]


def generate(
    g: nn.Module,
    plan: Any,
    sources: np.ndarray | torch.Tensor,
    params: TranslationParams | None = None,
    *,
    f: nn.Module | None = None,
    sample_shape: Sequence[int] | None = None,
    channels_last: bool = False,
    chunk_size: int | None = None,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
    callback: Callable[[int, int], None] | None = None,
    **overrides: Any,
) -> Generation:
    """Translate the survivors of ``plan`` and test them with ``gamma`` (one engine call).

    Parameters
    ----------
    g : torch.nn.Module
        The pre-trained classifier (logits), on ``device``.
    plan : TranslationPlan or BatchPlan
        Any object with ``source_index`` (rows of ``sources``), ``source_class``,
        ``target`` (class indices) and ``survived_beta``, as numpy arrays (then
        ``sources`` is a numpy array and rows are moved to ``device`` chunk by chunk) or
        as tensors on the device of ``sources``.
    sources : ndarray or torch.Tensor of shape (n, ...)
        The samples the plan's ``source_index`` refers to.
    params : TranslationParams, optional
        ``lam``, ``step_size``, ``n_steps``, ``noise``, ``clip`` (a box or None) and
        ``amp_dtype`` of the translation
        (:func:`~m2m_sampler.engine.translation.translate`) and ``gamma``, the
        acceptance threshold on ``g``'s probability of the target class; default:
        :class:`~m2m_sampler.engine.params.TranslationParams` ``()``.
    f : torch.nn.Module, optional
        As in :func:`~m2m_sampler.engine.translation.translate`.
    sample_shape : sequence of int, optional
        Shape of one sample for the models (rows of ``sources`` are reshaped to it).
    channels_last : bool, default=False
        Give 4-D chunks to the models in the ``channels_last`` memory format.
    chunk_size : int or None, default=None
        Sources translated together (memory bound); ``None``: all at once.
    device : torch.device, optional
        Where a numpy plan is translated (default: the CPU); a tensor plan runs on the
        device of ``sources``.
    generator : torch.Generator, optional
        The random starts, on the translation device.
    callback : callable, optional
        ``callback(n_done, n_total)`` after every chunk.
    **overrides
        Fields of :class:`~m2m_sampler.engine.params.TranslationParams` that replace
        those of ``params`` (e.g. ``gamma=0.5``).

    Returns
    -------
    Generation
    """
    params = TranslationParams.of(params, **overrides)
    on_host = isinstance(plan.survived_beta, np.ndarray)
    if on_host:
        device = torch.device("cpu") if device is None else torch.device(device)
        survivors = np.flatnonzero(plan.survived_beta)
    else:
        device = sources.device
        survivors = torch.nonzero(plan.survived_beta).view(-1)
    n_total = int(survivors.shape[0])
    chunk = n_total if chunk_size is None else int(chunk_size)
    xs, probs, oks = [], [], []
    start_time = time.perf_counter()
    for start in range(0, n_total, max(chunk, 1)):
        pos = survivors[start : start + chunk]
        if on_host:
            x0 = torch.as_tensor(sources[plan.source_index[pos]], device=device)
            k0 = torch.as_tensor(plan.source_class[pos], device=device)
            k = torch.as_tensor(plan.target[pos], device=device)
        else:
            x0, k0, k = sources[plan.source_index[pos]], plan.source_class[pos], plan.target[pos]
        if sample_shape is not None:
            x0 = x0.reshape(len(pos), *sample_shape)
        if channels_last and x0.ndim == 4:
            x0 = x0.contiguous(memory_format=torch.channels_last)
        x_star, prob = translate(
            g, x0, k0, k, f=f, lam=params.lam, step_size=params.step_size,
            n_steps=params.n_steps, clip=params.clip, noise=params.noise, batch_size=None,
            generator=generator, amp_dtype=params.amp_dtype,
        )
        ok = passes_gamma(prob, params.gamma)
        xs.append(x_star.cpu() if on_host else x_star)
        probs.append(prob)
        oks.append(ok)
        if callback is not None:
            callback(min(start + chunk, n_total), n_total)
    synchronize(device)
    seconds = time.perf_counter() - start_time
    shape = tuple(sample_shape) if sample_shape is not None else tuple(sources.shape[1:])
    x_star = torch.cat(xs) if xs else torch.empty((0, *shape))
    prob = torch.cat(probs) if probs else torch.empty(0, device=device)
    passed = torch.cat(oks) if oks else torch.zeros(0, dtype=torch.bool, device=device)
    if on_host:
        accepted = np.zeros(len(plan.survived_beta), dtype=bool)
        accepted[survivors[passed.cpu().numpy()]] = True
    else:
        accepted = torch.zeros_like(plan.survived_beta)
        accepted[survivors[passed]] = True
    return Generation(plan.survived_beta, accepted, x_star, prob, passed, seconds)


@dataclass
class GenerationResult:
    """What :func:`generate_batches` did to each batch.

    Attributes
    ----------
    x : list of torch.Tensor
        The new inputs of every batch: the input batch with accepted translations written
        into their slots (a new tensor where something was accepted; the input tensor
        itself otherwise). Labels never change: slot ``i`` keeps ``y_i``, the target class.
    target_pos : list of torch.LongTensor
        Per batch, the positions chosen as targets that found a source in the batch.
    source_pos : list of torch.LongTensor
        Per batch, the position of each target's source (same length as ``target_pos``).
    survived_beta : list of torch.BoolTensor
        Per batch, whether the Bernoulli draw of Eq. (3) kept the translation (only those
        are translated).
    accepted : list of torch.BoolTensor
        Per batch, whether the translation was accepted (survived beta and passed gamma).
    no_source : list of torch.BoolTensor
        Per batch, of the batch's shape: the entries chosen as targets that found no
        source in the batch.
    n_targets, n_no_source, n_rejected_beta, n_translated, n_rejected_gamma, n_accepted : int
        Totals over the batches. ``n_targets = n_no_source + n_rejected_beta +
        n_translated`` and ``n_translated = n_rejected_gamma + n_accepted``.
    translate_seconds : float
        Wall time of the engine call (synchronised on CUDA).
    """

    x: list[torch.Tensor] = field(default_factory=list)
    target_pos: list[torch.Tensor] = field(default_factory=list)
    source_pos: list[torch.Tensor] = field(default_factory=list)
    survived_beta: list[torch.Tensor] = field(default_factory=list)
    accepted: list[torch.Tensor] = field(default_factory=list)
    no_source: list[torch.Tensor] = field(default_factory=list)
    n_targets: int = 0
    n_no_source: int = 0
    n_rejected_beta: int = 0
    n_translated: int = 0
    n_rejected_gamma: int = 0
    n_accepted: int = 0
    translate_seconds: float = 0.0


def generate_batches(
    batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
    g: nn.Module,
    counts: torch.Tensor,
    params: TranslationParams | None = None,
    *,
    f: nn.Module | None = None,
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
    accept: torch.Tensor | None = None,
    **overrides: Any,
) -> GenerationResult:
    """Apply the paper's batch-wise generation rule to one or several batches.

    For every batch ``(x, y)`` (class indices ``y`` on ``x``'s device): entry ``i`` becomes
    a target with probability ``1 - N_{y_i} / N_max``; its source is drawn from the same
    batch with weights ``1 - beta^((N_{y_j} - N_{y_i})^+)``
    (:func:`~m2m_sampler.engine.planning.plan_batch_translations`); the Bernoulli draw of Eq. (3)
    with probability ``1 - beta^((N_{k0} - N_k)^+)`` is made before translating (it does
    not depend on ``x*``); the survivors of all batches are translated in **one** engine
    call (:func:`~m2m_sampler.engine.translation.translate`); a translation is accepted iff
    ``softmax(g(x*))[k] >= gamma``, and then replaces its target's slot. Targets without
    a source, rejected by beta or by gamma keep their real sample.

    Parameters
    ----------
    batches : sequence of (x, y)
        Inputs ``x`` of shape ``(B, *input_shape)`` (floating point) and class indices
        ``y`` of shape ``(B,)``, on the device of ``g``.
    g : torch.nn.Module
        The pre-trained classifier (logits), frozen.
    counts : torch.Tensor of shape (K,)
        Training samples per class ``N_k`` (logit order).
    params : TranslationParams, optional
        ``beta``, ``lam``, ``gamma``, ``step_size``, ``n_steps``, ``noise``, ``clip`` (a
        box or None) and ``amp_dtype`` (the engine's autocast dtype), as in
        :class:`~m2m_sampler.M2MClassifier`; default:
        :class:`~m2m_sampler.engine.params.TranslationParams` ``()``.
    f : torch.nn.Module, optional
        The network being trained, for the ``lam * f_k0(x)`` term; ``None`` (or
        ``lam == 0``) drops the term. Used in eval mode; its mode is restored.
    batch_size : int or None, default=None
        Chunk size of the engine; ``None`` translates all survivors at once.
    generator : torch.Generator, optional
        On the batches' device: targets, sources, Bernoulli draws and random starts.
    accept : torch.Tensor of shape (K, K), optional
        ``acceptance_probability(counts, beta)`` on the batches' device, if already
        computed (saves a host round-trip per call).
    **overrides
        Fields of :class:`~m2m_sampler.engine.params.TranslationParams` that replace
        those of ``params`` (e.g. ``beta=0.9``).

    Returns
    -------
    GenerationResult
    """
    params = TranslationParams.of(params, **overrides)
    beta = params.beta
    result = GenerationResult()
    if not batches:
        return result
    device = batches[0][0].device
    counts = counts.to(device=device)
    if accept is None:
        accept = torch.as_tensor(
            acceptance_probability(counts.detach().cpu().numpy(), beta), device=device
        )
    plans, offset = [], 0
    for x, y in batches:
        if not torch.is_floating_point(x):
            raise TypeError(
                f"M2m translates the inputs by gradient steps: they must be floating point, "
                f"got a batch of dtype {x.dtype}; convert X (e.g. X.astype('float32')) or "
                "convert on the device in batch_transform."
            )
        y = y.to(device=device, dtype=torch.long)
        plan = plan_batch_translations(y, counts, beta, generator=generator, accept=accept)
        plans.append((plan, offset))
        offset += int(x.shape[0])
        result.target_pos.append(plan.target_pos)
        result.source_pos.append(plan.source_pos)
        result.survived_beta.append(plan.survived_beta)
        result.no_source.append(plan.no_source)
        result.n_targets += plan.n_targets
        result.n_no_source += plan.n_no_source
        result.n_rejected_beta += int((~plan.survived_beta).sum())
    # All batches' plans as one plan over the concatenated batches: one engine call.
    joint = BatchPlan(
        target_pos=torch.cat([p.target_pos + o for p, o in plans]),
        source_pos=torch.cat([p.source_pos + o for p, o in plans]),
        n_targets=result.n_targets,
        n_no_source=result.n_no_source,
        target=torch.cat([p.target for p, _ in plans]),
        source_class=torch.cat([p.source_class for p, _ in plans]),
        accept_probability=torch.cat([p.accept_probability for p, _ in plans]),
        survived_beta=torch.cat(result.survived_beta),
    )
    sources = batches[0][0] if len(batches) == 1 else torch.cat([x for x, _ in batches])
    gen = generate(g, joint, sources, params, f=f, chunk_size=batch_size, generator=generator)
    result.n_translated = gen.n_translated
    result.n_accepted = gen.n_accepted
    result.n_rejected_gamma = gen.n_rejected_gamma
    result.translate_seconds = gen.seconds if gen.n_translated else 0.0
    sizes = [int(p.target_pos.numel()) for p, _ in plans]
    accepted_x = gen.accepted_x
    n_acc = [int(a.sum()) for a in torch.split(gen.accepted, sizes)]
    for (x, _), (plan, _), acc, xs in zip(
        batches, plans, torch.split(gen.accepted, sizes), torch.split(accepted_x, n_acc)
    ):
        result.accepted.append(acc)
        if xs.shape[0]:
            # Out of place: the loader's tensor may alias the training data.
            result.x.append(x.index_put((plan.target_pos[acc],), xs.to(x.dtype)))
        else:
            result.x.append(x)
    return result
