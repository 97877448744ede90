"""The rejection rule: Eq. (3) and Algorithm 1 lines 12-15.

A translated sample ``x*`` (source class ``k0``, target class ``k``) is **accepted** iff

1. ``g`` is confident enough: ``softmax(g(x*))[k] >= gamma``, and
2. a Bernoulli draw with success probability ``1 - beta^((N_k0 - N_k)^+)`` succeeds
   (Eq. 3 rejects with probability ``beta^((N_k0 - N_k)^+)``).

A rejected sample is replaced by a random real sample of class ``k`` (Algorithm 1
line 14), so the class sizes are exactly what was asked for.

On ``gamma``: the paper's text writes the test as a loss threshold,
"reject if ``L(g; x*, k) > gamma``"; the authors' code compares ``g``'s *probability*
of ``k`` with ``gamma`` (0.9 in their CIFAR runs). This library follows the code:
``gamma`` is a probability in [0, 1]. The two are equivalent through
``CE = -log p``: accepting ``p >= gamma`` is accepting ``CE <= -log(gamma)``
(``gamma = 0.9`` is a loss threshold of 0.105). To use a loss threshold ``c`` from the
paper's text, pass ``gamma = exp(-c)`` (see :func:`gamma_from_loss_threshold`).

The Bernoulli draw does not depend on ``x*``, so the front ends draw it *before*
translating and translate only the samples that survive it: the output has the same
distribution, and no time is spent on samples bound to be rejected.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["draw_beta_survivors", "passes_gamma", "gamma_from_loss_threshold"]


def draw_beta_survivors(
    accept_probability: np.ndarray | torch.Tensor,
    random_state: np.random.RandomState | None = None,
    generator: torch.Generator | None = None,
) -> np.ndarray | torch.Tensor:
    """Bernoulli draws of Eq. (3): True where the sample is *not* rejected by ``beta``.

    Parameters
    ----------
    accept_probability : ndarray or tensor
        ``1 - beta^((N_k0 - N_k)^+)`` per sample (see
        :func:`m2m_sampler.engine.planning.acceptance_probability`).
    random_state : numpy.random.RandomState, optional
        Used for a numpy input.
    generator : torch.Generator, optional
        Used for a tensor input (on its device).
    """
    if isinstance(accept_probability, torch.Tensor):
        u = torch.rand(
            accept_probability.shape,
            generator=generator,
            device=accept_probability.device,
            dtype=torch.float64,
        )
        return u < accept_probability
    rng = random_state if random_state is not None else np.random.mtrand._rand
    p = np.asarray(accept_probability, dtype=np.float64)
    return rng.random_sample(p.shape) < p


def passes_gamma(prob: np.ndarray | torch.Tensor, gamma: float) -> np.ndarray | torch.Tensor:
    """True where ``g``'s probability of the target class is at least ``gamma``."""
    return prob >= gamma


def gamma_from_loss_threshold(loss_threshold: float) -> float:
    """Convert the paper's loss threshold ``L(g; x*, k) <= c`` to this library's ``gamma``.

    >>> round(gamma_from_loss_threshold(0.10536), 4)
    0.9
    """
    if loss_threshold < 0:
        raise ValueError("a cross-entropy threshold is non-negative.")
    return math.exp(-loss_threshold)
