"""The generation rule of the online variant, applied to training batches.

:func:`generate_batches` applies the paper's batch-wise rule to one or several batches
with a single engine call; :class:`~m2m_sampler.M2MClassifier` uses it in its data path,
and any training loop can.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from .planning import acceptance_probability, plan_batch_translations
from .rejection import draw_beta_survivors, passes_gamma
from .translation import translate

__all__ = ["GenerationResult", "generate_batches"]


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
    *,
    f: nn.Module | None = None,
    beta: float = 0.999,
    lam: float = 0.5,
    gamma: float = 0.9,
    step_size: float = 0.1,
    n_steps: int = 10,
    noise: float = 0.5,
    clip=None,
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
    amp_dtype: torch.dtype | None = None,
    accept: torch.Tensor | None = None,
) -> GenerationResult:
    """Apply the paper's batch-wise generation rule to one or several batches.

    For every batch ``(x, y)`` (class indices ``y`` on ``x``'s device): entry ``i`` becomes
    a target with probability ``1 - N_{y_i} / N_max``; its source is drawn from the same
    batch with weights ``1 - beta^((N_{y_j} - N_{y_i})^+)``
    (:func:`~m2m_sampler.planning.plan_batch_translations`); the Bernoulli draw of Eq. (3)
    with probability ``1 - beta^((N_{k0} - N_k)^+)`` is made before translating (it does
    not depend on ``x*``); the survivors of all batches are translated in **one** engine
    call (:func:`~m2m_sampler.translation.translate`); a translation is accepted iff
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
    f : torch.nn.Module, optional
        The network being trained, for the ``lam * f_k0(x)`` term; ``None`` (or
        ``lam == 0``) drops the term. Used in eval mode; its mode is restored.
    beta, lam, gamma, step_size, n_steps, noise, clip
        As in :class:`M2MClassifier`.
    batch_size : int or None, default=None
        Chunk size of the engine; ``None`` translates all survivors at once.
    generator : torch.Generator, optional
        On the batches' device: targets, sources, Bernoulli draws and random starts.
    amp_dtype : torch.dtype, optional
        Autocast dtype for the engine's forward passes.
    accept : torch.Tensor of shape (K, K), optional
        ``acceptance_probability(counts, beta)`` on the batches' device, if already
        computed (saves a host round-trip per call).

    Returns
    -------
    GenerationResult
    """
    result = GenerationResult()
    if not batches:
        return result
    device = batches[0][0].device
    counts = counts.to(device=device)
    if accept is None:
        accept = torch.as_tensor(
            acceptance_probability(counts.detach().cpu().numpy(), beta), device=device
        )
    sources, source_classes, targets, sizes = [], [], [], []
    for x, y in batches:
        if not torch.is_floating_point(x):
            raise TypeError(
                f"M2m translates the inputs by gradient steps: they must be floating point, "
                f"got a batch of dtype {x.dtype}; convert X (e.g. X.astype('float32')) or "
                "convert on the device in batch_transform."
            )
        y = y.to(device=device, dtype=torch.long)
        plan = plan_batch_translations(y, counts, beta, generator=generator)
        tp, sp = plan.target_pos, plan.source_pos
        survive = draw_beta_survivors(accept[y[tp], y[sp]], generator=generator)
        result.target_pos.append(tp)
        result.source_pos.append(sp)
        result.survived_beta.append(survive)
        result.n_targets += plan.n_targets
        result.n_no_source += plan.n_no_source
        tp_s, sp_s = tp[survive], sp[survive]
        n_survive = int(tp_s.numel())
        result.n_rejected_beta += int(tp.numel()) - n_survive
        sources.append(x[sp_s])
        source_classes.append(y[sp_s])
        targets.append(y[tp_s])
        sizes.append(n_survive)
    n_total = sum(sizes)
    result.n_translated = n_total
    if n_total:
        start = time.perf_counter()
        x_star, prob = translate(
            g,
            torch.cat(sources),
            torch.cat(source_classes),
            torch.cat(targets),
            f=f,
            lam=lam,
            step_size=step_size,
            n_steps=n_steps,
            clip=clip,
            noise=noise,
            batch_size=batch_size,
            generator=generator,
            amp_dtype=amp_dtype,
        )
        ok_all = passes_gamma(prob, gamma)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        result.translate_seconds = time.perf_counter() - start
        x_star_parts = torch.split(x_star, sizes)
        ok_parts = torch.split(ok_all, sizes)
    else:
        x_star_parts = [None] * len(batches)
        ok_parts = [None] * len(batches)
    for (x, _), tp, survive, xs, ok in zip(
        batches, result.target_pos, result.survived_beta, x_star_parts, ok_parts
    ):
        accepted = torch.zeros_like(survive)
        if xs is None or xs.shape[0] == 0:
            result.x.append(x)
            result.accepted.append(accepted)
            continue
        accepted[survive] = ok
        n_ok = int(ok.sum())
        result.n_accepted += n_ok
        result.n_rejected_gamma += int(ok.numel()) - n_ok
        result.accepted.append(accepted)
        if n_ok:
            # Out of place: the loader's tensor may alias the training data.
            result.x.append(x.index_put((tp[accepted],), xs[ok].to(x.dtype)))
        else:
            result.x.append(x)
    return result
