"""The translation engine: Eq. (2) of the paper, Algorithm 1 lines 7-11.

One function, :func:`translate`, written once in plain torch and used by both front ends
(:class:`~m2m_sampler.M2MOverSampler` and :class:`~m2m_sampler.M2MClassifier`).

Starting from sources ``x0`` of classes ``k0``, it takes ``n_steps`` normalised gradient
steps

    x <- clip(x - eta * d / ||d||_2),   d = grad_x [ CE(g(x), k) + lam * f_k0(x) ]

from ``x0 + delta`` (a small random start, Algorithm 1 line 7), and returns the final
points ``x*`` together with ``g``'s probability of the target class ``k`` at ``x*``
(what the rejection rule of :mod:`m2m_sampler.engine.rejection` compares with ``gamma``).

Properties the front ends rely on:

* vectorised over a chunk of sources; chunks of ``batch_size`` bound the memory whatever
  the number of sources;
* any input shape (``x0`` is ``(n, *input_shape)``), any device (the device of ``x0``),
  float32 master copy of ``x`` so that bf16 models (or ``amp_dtype=torch.bfloat16``
  autocast) keep the step direction exact enough;
* ``g`` and ``f`` run in eval mode (BatchNorm running statistics, no dropout) and every
  sub-module's mode is restored afterwards;
* gradients are taken with respect to the input only (:func:`torch.autograd.grad`), so
  nothing accumulates in the models' ``.grad`` and no ``requires_grad`` flag is touched.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._torch_utils import eval_mode, floating_dtype
from .converters import require_logits_tensor
from .params import DEFAULT_TRANSLATION_PARAMS as _DEFAULTS

__all__ = [
    "translate",
    "target_probability",
    "random_start",
    "skip_random_starts",
    "resolve_clip",
]

ClipRange = tuple[float | torch.Tensor, float | torch.Tensor] | None

#: Values per block of torch's CPU normal sampler; see :func:`random_start`.
RANDN_BLOCK = 16


def translate(
    g: nn.Module,
    x0: torch.Tensor,
    k0: torch.Tensor | Sequence[int],
    k: torch.Tensor | Sequence[int],
    *,
    f: nn.Module | None = None,
    lam: float = _DEFAULTS.lam,
    step_size: float = _DEFAULTS.step_size,
    n_steps: int = _DEFAULTS.n_steps,
    clip: ClipRange = _DEFAULTS.clip,
    noise: float = _DEFAULTS.noise,
    batch_size: int | None = 512,
    generator: torch.Generator | None = None,
    amp_dtype: torch.dtype | None = _DEFAULTS.amp_dtype,
    callback: Callable[[int, int], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Translate sources ``x0`` of classes ``k0`` towards target classes ``k`` (Eq. 2).

    The defaults of ``lam``, ``step_size``, ``n_steps``, ``clip``, ``noise`` and
    ``amp_dtype`` are those of :class:`~m2m_sampler.engine.params.TranslationParams`.

    Parameters
    ----------
    g : torch.nn.Module
        The pre-trained classifier: maps ``(m, *input_shape)`` to ``(m, K)`` logits.
    x0 : torch.Tensor of shape ``(n, *input_shape)``
        The sources. The computation runs on ``x0.device``; ``g`` and ``f`` must live there.
    k0 : tensor or sequence of int, shape (n,)
        Class index (0..K-1) of each source; used by the ``lam * f_k0(x)`` term.
    k : tensor or sequence of int, shape (n,)
        Target class index of each source.
    f : torch.nn.Module, optional
        The target classifier. ``None`` skips the ``lam`` term (the paper's
        ``lambda = 0`` ablation), as does ``lam == 0``.
    lam : float, default=0.5
        Weight of ``f``'s raw logit of the source class (``lambda`` in Eq. 2).
    step_size : float, default=0.1
        ``eta``: L2 length of every step, in input units.
    n_steps : int, default=10
        ``T``: number of steps.
    clip : (low, high) or None, default=None
        Box the iterate is clamped to after the random start and after every step (for
        instance ``(0.0, 1.0)`` for images in pixel space). ``low`` and ``high`` may be
        scalars or tensors broadcastable to one sample (per-feature bounds).
        ``None`` leaves it unbounded (tabular data).
    noise : float, default=0.5
        L2 norm of the random start ``delta``, relative to ``step_size``: ``delta`` is a
        uniformly random direction of length ``noise * step_size`` (Algorithm 1 line 7).
    batch_size : int or None, default=512
        Number of sources translated together. ``None`` translates all at once.
    generator : torch.Generator, optional
        Source of the random start, on ``x0``'s device, for reproducible output.
    amp_dtype : torch.dtype, optional
        Run the forward passes under :func:`torch.autocast` with this dtype
        (``torch.bfloat16`` on GPUs). The iterate itself stays float32.
    callback : callable, optional
        Called as ``callback(n_done, n_total)`` after every chunk (progress reports).

    Returns
    -------
    x_star : torch.Tensor of shape ``(n, *input_shape)``
        The translated points, in the dtype of ``x0``.
    prob : torch.Tensor of shape (n,)
        ``softmax(g(x_star))[k]`` in float32.

    Notes
    -----
    The per-sample L2 norm runs over all input values of the sample; a sample whose
    gradient is exactly zero does not move. There is no epsilon-ball projection, as in
    the authors' code. Per-sample gradients are obtained from one backward pass of the
    summed loss, which is exact because ``g`` and ``f`` act on samples independently in
    eval mode.
    """
    _check_sources(x0)
    n = x0.shape[0]
    if n_steps < 0 or step_size < 0 or noise < 0:
        raise ValueError("n_steps, step_size and noise must be non-negative.")
    use_f = f is not None and lam != 0
    chunk = n if batch_size is None else int(batch_size)
    if chunk < 1:
        raise ValueError(f"batch_size must be a positive integer or None; got {batch_size}.")

    xs: list[torch.Tensor] = []
    probs: list[torch.Tensor] = []
    with contextlib.ExitStack() as stack:
        stack.enter_context(eval_mode(g, f if use_f else None))
        stack.enter_context(torch.inference_mode(False))
        device = x0.device
        k0_t = _as_index(k0, device)
        k_t = _as_index(k, device)
        if k0_t.numel() != n or k_t.numel() != n:
            raise ValueError(
                f"x0 has {n} sources but k0 has {k0_t.numel()} and k has {k_t.numel()} entries."
            )
        for name, idx in (("k0", k0_t), ("k", k_t)):
            if idx.numel() and int(idx.min()) < 0:
                raise ValueError(
                    f"{name} holds the class index {int(idx.min())}; class indices are "
                    "0..K-1 (columns of g's logits)."
                )
        for start in range(0, n, max(chunk, 1)):
            stop = min(start + chunk, n)
            x_star, prob = _translate_chunk(
                g,
                f if use_f else None,
                x0[start:stop],
                k0_t[start:stop],
                k_t[start:stop],
                lam=lam,
                step_size=step_size,
                n_steps=n_steps,
                clip=clip,
                noise=noise,
                generator=generator,
                amp_dtype=amp_dtype,
            )
            xs.append(x_star.to(x0.dtype))
            probs.append(prob)
            if callback is not None:
                callback(stop, n)
    if not xs:
        return x0.clone(), torch.empty(0, device=x0.device)
    return torch.cat(xs), torch.cat(probs)


def target_probability(
    g: nn.Module,
    x: torch.Tensor,
    k: torch.Tensor,
    *,
    amp_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """``softmax(g(x))[k]`` per sample, in float32, without gradients (g in eval mode)."""
    with eval_mode(g), torch.no_grad():
        logits = _forward(g, x, amp_dtype)
        _check_targets("k", k, logits.shape[1])
        return logits.softmax(dim=1).gather(1, k.view(-1, 1)).squeeze(1)


def random_start(
    x0: torch.Tensor,
    radius: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``x0 + delta`` with ``delta`` uniform on the L2 sphere of ``radius`` (per sample).

    Returned as the engine's master copy: float64 for float64 sources, float32 otherwise
    (float16/bfloat16 sources included).

    Every sample draws its normal values as a row padded to a multiple of
    :data:`RANDN_BLOCK` (the padding is dropped). torch's CPU normal sampler transforms
    its uniform draws in blocks of 16 values, so without padding the values a sample gets
    would depend on where its chunk starts; with it, translating in chunks of any size
    gives the same random starts on the CPU (on CUDA they depend on the chunking).
    """
    master = torch.float64 if x0.dtype == torch.float64 else torch.float32
    x = x0.detach().to(master).clone()
    if radius > 0:
        direction = _random_directions(x.shape, generator, x.device).to(master)
        direction = direction / _per_sample_norm(direction).clamp_min(1e-12)
        x = x + radius * direction
    return x


def skip_random_starts(
    chunk_sizes: Sequence[int],
    sample_shape: Sequence[int],
    radius: float,
    generator: torch.Generator | None,
    device: torch.device | str = "cpu",
) -> None:
    """Advance ``generator`` past the random starts of chunks of sources not translated here.

    :func:`translate` draws the random start of a chunk of ``n`` sources in one call
    (:func:`random_start`). A shard of a translation that starts after other chunks
    (:mod:`m2m_sampler.engine.sharding`) first makes the same draws, chunk by chunk, and drops
    them: its own chunks then get exactly the random starts they get when one device
    translates everything (nothing is drawn when ``radius == 0``).

    Parameters
    ----------
    chunk_sizes : sequence of int
        Sizes of the earlier chunks, in the order they are translated.
    sample_shape : sequence of int
        Shape of one source as the models see it.
    radius : float
        ``noise * step_size``, the radius given to :func:`random_start`.
    generator : torch.Generator or None
        The generator to advance (on ``device``).
    device : torch.device or str, default='cpu'
    """
    if radius <= 0:
        return
    for n in chunk_sizes:
        if n > 0:
            _random_directions((int(n), *sample_shape), generator, torch.device(device))


def _random_directions(
    shape: Sequence[int], generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    """The random draws of one random start (float32 standard normals of ``shape``).

    Each sample's values are drawn as a row padded to a multiple of :data:`RANDN_BLOCK`
    (the padding is dropped), see :func:`random_start`.
    """
    n, n_values = int(shape[0]), math.prod(shape[1:])
    padded = -(-n_values // RANDN_BLOCK) * RANDN_BLOCK
    draws = torch.randn((n, padded), generator=generator, device=device)
    return draws[:, :n_values].reshape(tuple(shape))


def resolve_clip(
    clip,
    X: np.ndarray | torch.Tensor | None = None,
    sample_shape: Sequence[int] | None = None,
) -> ClipRange:
    """Turn a front end's ``clip`` parameter into the ``(low, high)`` bounds of :func:`translate`.

    Parameters
    ----------
    clip : None, 'minmax' or (low, high)
        ``None``: unbounded. ``'minmax'``: the per-feature range observed in ``X``.
        ``(low, high)``: scalars, None (no bound on that side) or per-feature arrays.
    X : array or tensor of shape (n_samples, ...), optional
        The training data; needed for ``'minmax'``.
    sample_shape : sequence of int, optional
        Shape of one sample as the models see it: per-feature bounds with that many
        values are reshaped to it (so flattened rows of images get image-shaped bounds);
        other sizes are an error. Without it, arrays are kept as given (they must
        broadcast against one sample).

    Returns
    -------
    None or (low, high)
        Each bound a float, None, or a float32 CPU tensor (:func:`translate` moves it to
        the sources' device).
    """
    if clip is None:
        return None
    if isinstance(clip, str):
        if clip != "minmax":
            raise ValueError(f"clip must be None, 'minmax' or (low, high); got {clip!r}.")
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        if not isinstance(X, np.ndarray):
            raise TypeError(
                "clip='minmax' needs the training X as an array or tensor; with other "
                "inputs (a Dataset, say) pass clip=(low, high)."
            )
        low, high = X.min(axis=0), X.max(axis=0)
    else:
        try:
            low, high = clip
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"clip must be None, 'minmax' or a (low, high) pair; got {clip!r}."
            ) from exc

    def bound(b):
        if b is None:
            return None
        if isinstance(b, torch.Tensor):
            b = b.detach().cpu().numpy()
        arr = np.asarray(b, dtype=np.float32)
        if arr.ndim == 0:
            return float(arr)
        if sample_shape is not None:
            size = int(np.prod(sample_shape))
            if arr.size != size:
                raise ValueError(
                    f"a per-feature clip bound must have {size} values (one per input "
                    f"value of a sample); got {arr.size}."
                )
            arr = arr.reshape(tuple(sample_shape))
        return torch.as_tensor(arr)

    low, high = bound(low), bound(high)
    for b in (low, high):
        if b is not None and bool(np.isnan(np.asarray(b)).any()):
            raise ValueError(
                f"clip bounds must be numbers or None (no bound on that side); got a NaN in "
                f"{clip!r}. Use None, not NaN, for a side without a bound."
            )
    if low is not None and high is not None and bool(np.any(np.asarray(low) > np.asarray(high))):
        raise ValueError(
            f"clip=(low, high) needs low <= high for every input value; got {clip!r}. "
            "Swap the bounds."
        )
    return low, high


def _translate_chunk(
    g: nn.Module,
    f: nn.Module | None,
    x0: torch.Tensor,
    k0: torch.Tensor,
    k: torch.Tensor,
    *,
    lam: float,
    step_size: float,
    n_steps: int,
    clip: ClipRange,
    noise: float,
    generator: torch.Generator | None,
    amp_dtype: torch.dtype | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    low, high = _clip_bounds(clip, x0)
    x = _clamp(random_start(x0, noise * step_size, generator), low, high)
    for step in range(n_steps):
        x.requires_grad_(True)
        with torch.enable_grad():
            logits = _forward(g, x, amp_dtype)
            if step == 0:
                _check_targets("k", k, logits.shape[1])
            loss = F.cross_entropy(logits, k, reduction="sum")
            if f is not None:
                f_logits = _forward(f, x, amp_dtype)
                if step == 0:
                    _check_targets("k0", k0, f_logits.shape[1])
                loss = loss + lam * f_logits.gather(1, k0.view(-1, 1)).sum()
        (d,) = torch.autograd.grad(loss, x)
        with torch.no_grad():
            d, norm = _scaled_for_norm(d)
            x = _clamp(x.detach() - step_size * d / norm, low, high)
    prob = target_probability(g, x, k, amp_dtype=amp_dtype)
    return x.detach(), prob


def _check_sources(x0: torch.Tensor) -> None:
    """Refuse sources :func:`translate` cannot step: not a tensor, not floating, not 2-D+."""
    if not isinstance(x0, torch.Tensor):
        raise TypeError(
            f"x0 must be a torch.Tensor; got {type(x0).__module__}.{type(x0).__qualname__}. "
            "Convert it first, e.g. torch.as_tensor(x0, dtype=torch.float32)."
        )
    if not (x0.is_floating_point()):
        raise TypeError(
            f"x0 has dtype {x0.dtype}; translation takes gradient steps, so it needs a "
            "floating tensor: pass x0.float() (scaled as g was trained, e.g. pixels / 255)."
        )
    if x0.ndim < 2:
        raise ValueError(f"x0 must have shape (n, *input_shape); got shape {tuple(x0.shape)}.")


def _check_targets(name: str, idx: torch.Tensor, n_classes: int) -> None:
    """Refuse class indices outside ``0..n_classes-1`` (one clear line, not an IndexError)."""
    if idx.numel() and int(idx.max()) >= n_classes:
        raise ValueError(
            f"{name} holds the class index {int(idx.max())}, but the model returns "
            f"{n_classes} logits: class indices must be in 0..{n_classes - 1}."
        )


def _forward(model: nn.Module, x: torch.Tensor, amp_dtype: torch.dtype | None) -> torch.Tensor:
    """Logits of ``model`` at ``x`` as float32 (float64 for a float64 model), shape (n, K).

    ``x`` is cast to the model's floating dtype (a differentiable cast: the gradient comes
    back in the dtype of the master copy)."""
    if amp_dtype is not None:
        # autocast lowers float32 operations only: a float64 iterate (float64 X) would
        # meet half-precision weights, so the model gets float32 inputs.
        x_in = x.float() if x.dtype == torch.float64 else x
        with torch.autocast(device_type=x.device.type, dtype=amp_dtype):
            out = model(x_in)
    else:
        out = model(x.to(floating_dtype(model)))
    require_logits_tensor(out, "the model")
    if out.ndim != 2 or out.shape[0] != x.shape[0]:
        raise ValueError(
            f"the model must return logits of shape (n_samples, n_classes); for an input of "
            f"shape {tuple(x.shape)} it returned shape {tuple(out.shape)}."
        )
    return out if out.dtype == torch.float64 else out.float()


def _as_index(labels: torch.Tensor | Sequence[int], device: torch.device) -> torch.Tensor:
    if isinstance(labels, torch.Tensor):
        return labels.to(device=device, dtype=torch.long).reshape(-1).clone()
    return torch.as_tensor(np.asarray(labels), dtype=torch.long, device=device).reshape(-1)


def _scaled_for_norm(d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(d', ||d'||_2)`` per sample with ``d' / ||d'||`` the direction of ``d``.

    A gradient can be so small (a saturated softmax) that the squares in its norm
    underflow: the norm then comes out as zero or far too small and ``d / norm`` is huge
    (steps of 1e12-1e14 in float32 were observed).

    ``d' = d`` (the norm clamped away from 0), except for samples whose norm is below
    ``sqrt(tiny) * 4096`` of the dtype, where squares may underflow: those are first
    divided by their largest absolute value, which keeps the direction and makes the
    norm exact. Samples with normal gradients are bit-identical to ``d / ||d||``.
    """
    finfo = torch.finfo(d.dtype)
    norm = _per_sample_norm(d)
    small = norm < finfo.tiny ** 0.5 * 4096
    if bool(small.any()):
        peak = d.abs().flatten(1).amax(dim=1).view_as(norm)
        d = torch.where(small, d / peak.clamp_min(finfo.tiny), d)
        norm = torch.where(small, _per_sample_norm(d), norm)
    return d, norm.clamp_min(finfo.tiny)


def _per_sample_norm(t: torch.Tensor) -> torch.Tensor:
    """L2 norm of each sample over all its values, shaped to broadcast against ``t``."""
    norm = t.flatten(1).norm(dim=1)
    return norm.view(-1, *([1] * (t.ndim - 1)))


def _clip_bounds(
    clip: ClipRange, like: torch.Tensor
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    if clip is None:
        return None, None
    try:
        low, high = clip
    except (TypeError, ValueError) as exc:
        raise ValueError(f"clip must be None or a (low, high) pair; got {clip!r}.") from exc

    def as_bound(b: float | torch.Tensor | None) -> torch.Tensor | None:
        if b is None:
            return None
        dtype = torch.float64 if like.dtype == torch.float64 else torch.float32
        return torch.as_tensor(b, dtype=dtype, device=like.device)

    return as_bound(low), as_bound(high)


def _clamp(x: torch.Tensor, low: torch.Tensor | None, high: torch.Tensor | None) -> torch.Tensor:
    if low is None and high is None:
        return x
    return torch.clamp(x, min=low, max=high)
