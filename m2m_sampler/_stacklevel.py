"""``stacklevel`` for warnings: the caller's line, not a line inside the ecosystem."""

from __future__ import annotations

import os
import sys

__all__ = ["caller_stacklevel"]


def caller_stacklevel() -> int:
    """``stacklevel`` of the first frame outside this library, scikit-learn, imblearn,
    skorch and torch (for :func:`warnings.warn` called by the function calling this)."""
    import imblearn
    import sklearn
    import skorch
    import torch

    inside = tuple(
        os.path.dirname(m.__file__)
        for m in (sys.modules[__package__], sklearn, imblearn, skorch, torch)
    )
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(inside):
        frame, level = frame.f_back, level + 1
    return level
