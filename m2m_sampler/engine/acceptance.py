"""What the planned translations came to: the acceptance record of both front ends.

:class:`~m2m_sampler.M2MOverSampler` and :class:`~m2m_sampler.M2MClassifier` report
their translations the same way, after every fit:

* ``class_stats_`` -- per target class label, one record with the keys
  :data:`CLASS_STATS_KEYS` (:func:`class_record`): ``n_new`` translations planned for
  the class (the sampler's added rows; the classifier's batch entries drawn as targets),
  of which ``n_fallback`` had no strictly larger class to translate from (a copy of a
  real sample; a kept batch entry), ``n_rejected_beta`` were dropped by the Bernoulli
  draw of Eq. (3), ``n_translated`` went through the engine, and of those
  ``n_rejected_gamma`` failed the ``gamma`` test and ``n_accepted`` were kept.
  ``n_new = n_fallback + n_rejected_beta + n_translated`` and ``n_translated =
  n_rejected_gamma + n_accepted``;
* ``accepted_pairs_`` -- accepted translations per (source class, target class)
  (:func:`accepted_pairs`);
* the accepted share (:func:`accepted_share`): accepted translations over those that had
  a class to translate from, ``n_accepted / (n_new - n_fallback)`` summed over classes;
  under :data:`LOW_ACCEPTANCE_SHARE` both front ends warn (:func:`low_acceptance_cause`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .._torch_utils import to_builtin

__all__ = [
    "CLASS_STATS_KEYS",
    "LOW_ACCEPTANCE_SHARE",
    "accepted_pairs",
    "accepted_share",
    "acceptance_totals",
    "class_record",
    "low_acceptance_cause",
    "pair_class_stats",
    "plan_class_stats",
]

#: Below this share of accepted translations among the planned ones, ``fit_resample``
#: warns that its output is close to random over-sampling (and says what to change).
LOW_ACCEPTANCE_SHARE = 0.1

#: The keys of one class's record in ``class_stats_``, in order.
CLASS_STATS_KEYS = (
    "n_new",
    "n_fallback",
    "n_rejected_beta",
    "n_translated",
    "n_rejected_gamma",
    "n_accepted",
)


def class_record(
    n_new: int, n_fallback: int, n_translated: int, n_accepted: int
) -> dict[str, int]:
    """One class's entry of ``class_stats_`` (keys :data:`CLASS_STATS_KEYS`, Python ints).

    Parameters
    ----------
    n_new : int
        Translations planned for the class.
    n_fallback : int
        Of those, the ones without a strictly larger class to translate from.
    n_translated : int
        Those that survived the beta draw and went through the engine.
    n_accepted : int
        Those that passed the ``gamma`` test too.

    Returns
    -------
    dict
        The rejections follow: ``n_rejected_beta = n_new - n_fallback - n_translated``,
        ``n_rejected_gamma = n_translated - n_accepted``.

    Examples
    --------
    >>> class_record(10, 2, 6, 5)
    {'n_new': 10, 'n_fallback': 2, 'n_rejected_beta': 2, 'n_translated': 6, \
'n_rejected_gamma': 1, 'n_accepted': 5}
    """
    n_new, n_fallback, n_translated, n_accepted = (
        int(n_new), int(n_fallback), int(n_translated), int(n_accepted)
    )
    return {
        "n_new": n_new,
        "n_fallback": n_fallback,
        "n_rejected_beta": n_new - n_fallback - n_translated,
        "n_translated": n_translated,
        "n_rejected_gamma": n_translated - n_accepted,
        "n_accepted": n_accepted,
    }


def plan_class_stats(
    classes: np.ndarray, target: np.ndarray, fallback: np.ndarray, survived: np.ndarray,
    accepted: np.ndarray,
) -> dict[Any, dict[str, int]]:
    """``class_stats_`` of planned translations, per target class that has some.

    Parameters
    ----------
    classes : ndarray of shape (n_classes,)
        Class labels (keys of the result, as Python scalars).
    target : ndarray of shape (n_planned,)
        Target class index of every planned translation.
    fallback, survived, accepted : bool ndarrays of shape (n_planned,)
        No larger class to translate from; survived the beta draw (translated);
        accepted.

    Returns
    -------
    dict
        Label -> :func:`class_record`, in class order.
    """
    stats = {}
    for c in np.unique(target):
        sel = target == c
        stats[to_builtin(classes[c])] = class_record(
            sel.sum(), fallback[sel].sum(), survived[sel].sum(), accepted[sel].sum()
        )
    return stats


def accepted_pairs(
    source_class: np.ndarray, target_class: np.ndarray, n_classes: int
) -> np.ndarray:
    """Accepted translations per (source class, target class).

    Parameters
    ----------
    source_class, target_class : int ndarrays of shape (n_accepted,)
        Class indices of every accepted translation.
    n_classes : int

    Returns
    -------
    ndarray of shape (n_classes, n_classes), int64
        ``[i, j]``: accepted translations from class ``i`` to class ``j``.
    """
    pairs = np.asarray(source_class) * n_classes + np.asarray(target_class)
    return np.bincount(pairs, minlength=n_classes**2).reshape(n_classes, n_classes)


def acceptance_totals(class_stats: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Planned, accepted and rejected translations summed over ``class_stats_`` records.

    ``planned``: translations that had a larger class to translate from (``n_new -
    n_fallback``); ``accepted``, ``rejected_gamma``, ``rejected_beta``. Also used for the
    benchmark command's warning over several fits (:mod:`benchmarks.compare.acceptance`).
    """
    tot = dict.fromkeys(("planned", "accepted", "rejected_gamma", "rejected_beta"), 0)
    for s in class_stats:
        tot["planned"] += int(s["n_new"]) - int(s.get("n_fallback", 0))
        tot["accepted"] += int(s["n_accepted"])
        tot["rejected_gamma"] += int(s["n_rejected_gamma"])
        tot["rejected_beta"] += int(s["n_rejected_beta"])
    return tot


def accepted_share(class_stats: Iterable[Mapping[str, int]]) -> float:
    """The accepted share of planned translations: ``accepted / (n_new - n_fallback)``.

    The one rule both front ends and the benchmark command report and warn on.

    Parameters
    ----------
    class_stats : iterable of dict
        ``class_stats_.values()`` (of one fit, or several fits together).

    Returns
    -------
    float
        NaN when no translation was planned from a larger class.

    Examples
    --------
    >>> accepted_share([class_record(10, 2, 6, 4), class_record(5, 0, 5, 0)])
    0.3076923076923077
    """
    tot = acceptance_totals(class_stats)
    return tot["accepted"] / tot["planned"] if tot["planned"] else float("nan")


def low_acceptance_cause(
    totals: Mapping[str, int], clip_outside_share: float = 0.0
) -> str | None:
    """``'clip'``, ``'gamma'`` or ``'beta'`` when under the accepted share.

    ``None`` when nothing was planned or at least :data:`LOW_ACCEPTANCE_SHARE` of the
    planned translations were accepted (``totals`` from :func:`acceptance_totals`).
    Otherwise ``'clip'`` when over half of the training rows lie outside the clip box
    (``clip_outside_share``, from
    :func:`~m2m_sampler.engine.checks.clip_outside_share`): the box is then in other units
    than ``X``, the translations squashed into it fail the ``gamma`` test or are
    accepted as near-constant rows, and it is the first thing to fix whatever the other
    rejections were. Else the larger rejection, ``'gamma'`` or ``'beta'``.

    Examples
    --------
    >>> low = acceptance_totals([class_record(40, 0, 40, 1)])
    >>> low_acceptance_cause(low), low_acceptance_cause(low, clip_outside_share=0.9)
    ('gamma', 'clip')
    """
    planned = totals["planned"]
    if not planned or totals["accepted"] / planned >= LOW_ACCEPTANCE_SHARE:
        return None
    if clip_outside_share > 0.5:
        return "clip"
    return "gamma" if totals["rejected_gamma"] >= totals["rejected_beta"] else "beta"


def pair_class_stats(
    classes: Sequence[Any], sourced: np.ndarray, translated: np.ndarray,
    accepted: np.ndarray, no_source: np.ndarray,
) -> dict[Any, dict[str, int]]:
    """``class_stats_`` from counts per (source class, target class), for every class.

    Parameters
    ----------
    classes : sequence of shape (n_classes,)
        Class labels (keys of the result, as Python scalars).
    sourced, translated, accepted : int ndarrays of shape (n_classes, n_classes)
        ``[source, target]``: planned translations that found a source; that survived
        the beta draw; that were accepted.
    no_source : int ndarray of shape (n_classes,)
        Per target class, planned translations without a larger class to translate from.

    Returns
    -------
    dict
        Label -> :func:`class_record`, every class in order.
    """
    return {
        to_builtin(label): class_record(
            sourced[:, k].sum() + no_source[k], no_source[k], translated[:, k].sum(),
            accepted[:, k].sum(),
        )
        for k, label in enumerate(classes)
    }
