"""M2m's accepted share in a benchmark run, and the command's warning when it is low.

When few of M2m's planned translations pass the gamma test and the beta draw, the rows it
adds are copies of real minority samples: the "M2m" row of the table is then random
over-sampling under another name. :class:`~m2m_sampler.M2MOverSampler` warns at every fit
below :data:`~m2m_sampler.over_sampler.LOW_ACCEPTANCE_SHARE`; :func:`low_acceptance_warning`
gives the one line ``benchmarks.compare`` prints for the whole run, with the parameter to change.
"""

from __future__ import annotations

from typing import Any

from m2m_sampler.engine.acceptance import LOW_ACCEPTANCE_SHARE, low_acceptance_cause
from m2m_sampler.engine.acceptance import acceptance_totals as _fit_totals

__all__ = ["acceptance_totals", "low_acceptance_warning"]


def acceptance_totals(rows: list[dict[str, Any]], method: str = "m2m") -> dict[str, int]:
    """Planned, accepted and rejected translations of ``method`` over every seed.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`~benchmarks.compare.runner.run_benchmark`.
    method : str, default="m2m"

    Returns
    -------
    dict
        ``planned`` (added rows that had a larger class to translate from), ``accepted``,
        ``rejected_gamma`` and ``rejected_beta``; all 0 when no row has ``class_stats``.
    """
    return _fit_totals(
        stats
        for r in rows
        if r["method"] == method and r.get("status") == "ok" and r.get("class_stats")
        for stats in r["class_stats"].values()
    )


def low_acceptance_warning(rows: list[dict[str, Any]], tuned: bool = False) -> str | None:
    """The warning when M2m accepted under ``LOW_ACCEPTANCE_SHARE`` of its translations.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`~benchmarks.compare.runner.run_benchmark`.
    tuned : bool, default=False
        Whether M2m's values were chosen by ``--tune`` (the advice then says that no
        candidate reached the share).

    Returns
    -------
    str or None
        One line, or None when M2m did not run or accepted enough.
    """
    tot = acceptance_totals(rows)
    cause = low_acceptance_cause(tot)
    if cause is None:
        return None
    planned, accepted = tot["planned"], tot["accepted"]
    if cause == "gamma":
        advice = (
            f"{tot['rejected_gamma']} failed the gamma test: lower --gamma, or raise "
            "--step-size or --n-steps (in the units of the features M2m translates)"
        )
    else:
        advice = f"{tot['rejected_beta']} were rejected by the beta draw: lower --beta"
    if tuned:
        advice += " beyond the values --tune tried"
    return (
        f"M2m accepted only {accepted} of its {planned} planned translations "
        f"({100 * accepted / planned:.1f}%, under {100 * LOW_ACCEPTANCE_SHARE:.0f}%): the "
        "other added rows are copies of real samples, so its result is close to random "
        f"over-sampling (ROS). {advice}."
    )
