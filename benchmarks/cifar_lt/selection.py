"""The authors' evaluation protocol: the epoch picked on a validation split.

The authors' code scores the first 100 test images of each class (the validation split)
after every epoch and reports the other 900 per class (``test900``) at the epoch with the
best validation accuracy, the last one on ties (``if val_acc >= BEST_VAL``).
:class:`ValidationSelection` tracks that epoch during training;
:func:`~benchmarks.cifar_lt.evaluation.selected_metrics` scores the 900-per-class
split with its weights.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score
from skorch.callbacks import Callback

__all__ = ["ValidationSelection", "state_copy"]


def state_copy(module: torch.nn.Module) -> dict:
    """A detached copy of ``module``'s state dict, on its device."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class ValidationSelection(Callback):
    """Track the epoch with the best balanced accuracy on the validation images.

    From epoch ``from_epoch`` (0-based) on, predicts ``X_val`` after every epoch, records
    ``valid_bacc`` in the history and keeps a copy of the weights of the best epoch
    (the last one on ties: the authors' code keeps an epoch when its validation accuracy
    is ``>=`` the best so far).

    Parameters
    ----------
    X_val, y_val : ndarray
        The validation images and labels.
    from_epoch : int
        First epoch scored (0-based).
    """

    def __init__(self, X_val: np.ndarray, y_val: np.ndarray, from_epoch: int) -> None:
        self.X_val = X_val
        self.y_val = y_val
        self.from_epoch = from_epoch

    def initialize(self):
        """Forget the best epoch of an earlier fit."""
        self.best_score_ = None
        self.best_epoch_ = None
        self.best_state_ = None
        return self

    def on_epoch_end(self, net, **kwargs):
        """Score the validation split; keep the weights if the score is the best so far."""
        epoch = len(net.history) - 1  # 0-based index of the epoch that just ended
        if epoch < self.from_epoch:
            return
        score = float(balanced_accuracy_score(self.y_val, net.predict(self.X_val)))
        net.history.record("valid_bacc", score)
        if self.best_score_ is None or score >= self.best_score_:
            self.best_score_ = score
            self.best_epoch_ = epoch + 1  # as the history's "epoch" column counts
            self.best_state_ = state_copy(net.module_)
