"""The memory budget of an over-sampler's output, and the warning when it is exceeded.

:class:`~m2m_sampler.M2MOverSampler` returns a dense array: the original rows plus one row
per new sample. With ``sampling_strategy='auto'`` every class is filled up to the largest,
so a data set with many classes and many features can ask for gigabytes without a word
(Reuters-21578 with 36 classes and 10,000 TF-IDF features: 102,240 rows, 3.8 GiB of
float32). :func:`check_resampled_size` runs before any translation and warns
(:class:`MemoryBudgetWarning`) with the figure when the output would exceed
:data:`OUTPUT_MEMORY_BUDGET`.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import DTypeLike

from ..exceptions import MemoryBudgetWarning

__all__ = ["OUTPUT_MEMORY_BUDGET", "MemoryBudgetWarning", "check_resampled_size"]

#: Bytes of a resampled output above which :func:`check_resampled_size` warns (1 GiB).
#: Change it module-wide with ``m2m_sampler.engine.memory.OUTPUT_MEMORY_BUDGET = n_bytes``.
OUTPUT_MEMORY_BUDGET: int = 2**30


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.2f} GiB"


def check_resampled_size(
    n_rows: int,
    n_features: int,
    dtype: DTypeLike,
    *,
    n_new: int,
    budget: int | None = None,
    what: str = "M2MOverSampler",
) -> int:
    """Warn when a resampled output of ``n_rows`` dense rows would exceed the budget.

    Parameters
    ----------
    n_rows : int
        Rows of the output (original plus new).
    n_features : int
        Values per row.
    dtype : dtype
        dtype of the output.
    n_new : int
        New rows among them (held once more while the output is stacked).
    budget : int or None, default=None
        Bytes; None reads :data:`OUTPUT_MEMORY_BUDGET` (at call time).
    what : str, default="M2MOverSampler"
        Name in the message.

    Returns
    -------
    int
        Bytes of the output.

    Warns
    -----
    MemoryBudgetWarning
        With the output's size, the peak while it is built (the new rows are held twice)
        and what to change.
    """
    budget = OUTPUT_MEMORY_BUDGET if budget is None else int(budget)
    itemsize = np.dtype(dtype).itemsize
    n_bytes = int(n_rows) * int(n_features) * itemsize
    peak = n_bytes + int(n_new) * int(n_features) * itemsize
    if n_bytes > budget:
        warnings.warn(
            f"{what} would return {n_rows:,} rows x {n_features:,} features of "
            f"{np.dtype(dtype).name} = {_gib(n_bytes)} ({n_new:,} new rows; about "
            f"{_gib(peak)} at the peak while they are stacked), above the budget of "
            f"{_gib(budget)} (m2m_sampler.engine.memory.OUTPUT_MEMORY_BUDGET). "
            "sampling_strategy='auto' fills every class up to the largest one: pass a "
            "float ratio or a dict of target counts per class, reduce the number of "
            "features, or raise the budget if the memory is there.",
            MemoryBudgetWarning,
            stacklevel=3,
        )
    return n_bytes
