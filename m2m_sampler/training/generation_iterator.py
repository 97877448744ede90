"""``GenerationIterator``: :class:`~m2m_sampler.M2MClassifier`'s training iterator.

The generation hook of the online variant sits in the data path:
:meth:`M2MClassifier.get_iterator <m2m_sampler.M2MClassifier.get_iterator>` wraps the
net's own training iterator (skorch's loader, with the batches prepared by
:class:`~m2m_sampler.training.speed.SpeedMixin`) in a :class:`GenerationIterator`. In generation
epochs it reads ``translate_ahead`` batches, passes them through
:func:`~m2m_sampler.engine.generation.generate_batches` in one engine call and yields them with
the accepted translations in their slots; it tells the net's
:class:`~m2m_sampler.training.generation_log.GenerationLog` what happened. Consumed lazily by
skorch's epoch loop, batch ``i`` is translated right before its step, with ``f`` as left
by step ``i - 1``: the paper's per-batch rule.
"""

from __future__ import annotations

import dataclasses
import itertools
import numbers
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from .._torch_utils import eval_mode, floating_dtype
from ..engine.checks import check_model_output
from ..engine.generation import generate_batches
from ..engine.params import TranslationParams
from ..engine.planning import acceptance_probability
from .speed import batch_to_device, training_device

__all__ = ["GenerationIterator", "check_g_output"]


def check_g_output(
    g: torch.nn.Module,
    x: torch.Tensor,
    classes: Sequence[Any] | int,
    y_idx: np.ndarray | None = None,
    *,
    logits: bool = False,
) -> None:
    """Check that ``g`` takes inputs like ``x`` and returns one logit per class.

    ``g`` runs on the rows ``x`` in eval mode (its mode is restored), in its own dtype;
    its outputs go through :func:`~m2m_sampler.engine.checks.check_model_output`, the
    sampler's checks: one output per class, and with ``logits`` no probabilities, and
    with ``y_idx`` (the label index of every row of ``x``) the label order.
    """
    if isinstance(classes, numbers.Integral):
        classes = np.arange(int(classes))
    with torch.no_grad(), eval_mode(g):
        try:
            out = g(x.to(floating_dtype(g, x.dtype)))
        except Exception as exc:  # re-raised with context
            raise RuntimeError(
                f"g failed on a training batch of shape {tuple(x.shape[1:])} per sample: "
                f"{type(exc).__name__}: {exc}. g must take the inputs the module takes."
            ) from exc
    if logits or out.ndim != 2 or out.shape[1] != len(classes):
        check_model_output(out, classes, "g", y_idx if logits else None)


class GenerationIterator:
    """An M2m net's training batches: its own iterator plus, in generation epochs, the
    generation rule.

    Holds what the generation needs from one fit's training data: the class counts and
    the acceptance matrix on the training device, and the clip box there. Re-iterable
    (one pass per epoch); asks the net at the start of every pass whether the epoch
    generates (:meth:`~m2m_sampler.M2MClassifier.is_generation_epoch`).

    Parameters
    ----------
    net : M2MClassifier
        Its ``translation_params_`` (the fit's
        :class:`~m2m_sampler.engine.params.TranslationParams`, ``clip`` moved to the
        training device here); read at every engine call: ``g_``, the live ``f``
        (:meth:`~m2m_sampler.M2MClassifier.get_translation_f`), ``translate_ahead``,
        ``translation_batch_size``, ``generator_``.
    batches : iterable of (X, y)
        The net's own training iterator.
    class_counts : ndarray of shape (n_classes,)
        ``N_k`` of the training data (logit order).
    """

    def __init__(self, net: Any, batches: Any, class_counts: np.ndarray) -> None:
        self.net = net
        self.batches = batches
        self.device = training_device(net)
        self.counts = torch.as_tensor(class_counts, device=self.device)
        params = getattr(net, "translation_params_", None)
        if params is None:  # a net not fitted by M2MClassifier.fit
            params = TranslationParams.from_estimator(net, clip=getattr(net, "clip_", None))
        clip = params.clip
        self.params = dataclasses.replace(params, clip=None if clip is None else tuple(
            b.to(self.device) if isinstance(b, torch.Tensor) else b for b in clip))
        self.accept = torch.as_tensor(acceptance_probability(class_counts, self.params.beta),
                                      device=self.device)
        self.g_checked = False

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator:
        if not self.net.is_generation_epoch():
            yield from self.batches
            return
        batches = iter(self.batches)
        while group := list(itertools.islice(batches, int(self.net.translate_ahead))):
            yield from self.generate(group)

    def generate(self, group: list) -> list:
        """Apply the generation rule to a group of batches; return the batches to train."""
        start = time.perf_counter()
        net = self.net
        if not net.g_fitted_:
            raise RuntimeError(
                "g_ holds no trained weights (g=None and no ERM training happened, e.g. "
                "after initialize()); call fit, or load g with load_params(f_g=...)."
            )
        group = [batch_to_device(b, self.device, "M2MClassifier (translating X)")
                 for b in group]
        if any(y is None for _, y in group):
            raise ValueError("M2m needs the labels of the training batches (y is None).")
        if not self.g_checked:
            check_g_output(net.g_, group[0][0][:1], net.classes_)
            self.g_checked = True
        result = generate_batches(
            group,
            net.g_,
            self.counts,
            self.params,
            f=net.get_translation_f() if self.params.lam != 0 else None,
            batch_size=net.translation_batch_size,
            generator=net.generator_,
            accept=self.accept,
        )
        log = net.generation_log()
        if log is not None:
            n_entries = sum(int(y.shape[0]) for _, y in group)
            log.add(result, n_entries, time.perf_counter() - start,
                    labels=[y for _, y in group], n_classes=len(net.classes_))
        return [(x_new, y) for x_new, (_, y) in zip(result.x, group)]
