"""The lab's choice among scored validation candidates (Table 2, the M2MClassifier study).

The rule of :func:`benchmarks.compare.validation.ranking_key` (higher validation bACC, then
lower balanced log-loss, then the first row), with the bACC optionally rounded so that
means equal but for float round-off tie.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["best_candidate"]


def best_candidate(rows: Sequence[dict[str, Any]], decimals: int | None = None) -> dict:
    """The first of the best-ranked rows.

    Parameters
    ----------
    rows : sequence of dict
        Each holds ``val_bacc`` and ``val_log_loss``.
    decimals : int or None, default=None
        Round ``val_bacc`` to this many decimals first (None: compare it as it is).

    Returns
    -------
    dict
        One of ``rows``; on a full tie, the earliest.
    """

    def key(r: dict[str, Any]) -> tuple[float, float]:
        bacc = r["val_bacc"] if decimals is None else round(r["val_bacc"], decimals)
        return (bacc, -r["val_log_loss"])

    return max(rows, key=key)
