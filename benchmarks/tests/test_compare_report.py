"""The comparison command's own warning: a re-run that does not reproduce the translations."""

import numpy as np
import pytest
import torch
from imblearn.pipeline import Pipeline
from torch import nn

from m2m_sampler import M2MOverSampler


class Linear2(nn.Module):
    """Logits ``(-10 x_0, 10 x_0) + b``: class 1 to the right of 0.5."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)
        with torch.no_grad():
            self.lin.weight.copy_(torch.tensor([[-10.0, 0.0], [10.0, 0.0]]))
            self.lin.bias.copy_(torch.tensor([5.0, -5.0]))

    def forward(self, x):
        return self.lin(x)


def test_rerun_mismatch(tmp_path):
    pytest.importorskip("matplotlib")
    from benchmarks.compare.data import Split
    from benchmarks.compare.report import RerunMismatchWarning, write_figures
    from benchmarks.compare.runner import BenchResult

    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(n, 2) * 0.3 + c for c, n in enumerate((60, 20))]).astype(np.float32)
    y = np.repeat(np.arange(2), (60, 20))
    # random_state=None: the re-run for the figure draws other translations
    sampler = M2MOverSampler(g=Linear2(), beta=0.9, gamma=0.6, step_size=0.5, random_state=None)
    pipe = Pipeline([("sampler", sampler), ("clf", nn.Identity())])
    torch.manual_seed(0)
    sampler.fit_resample(X, y)
    summary = {
        "m2m": {
            "n_ok": 1,
            "label": "M2m",
            "balanced_accuracy_mean": 0.9,
            "balanced_accuracy_std": 0.0,
            "per_class_recall": {"0": 0.9, "1": 0.9},
            "cumulative_false_positives": [1, 2],
        }
    }
    result = BenchResult(classes=[0, 1], class_order=[0, 1], summary=summary,
                         m2m_fit=(pipe, Split(X, y, X, y, seed=0)))
    with pytest.warns(RerunMismatchWarning) as record:
        paths = write_figures(tmp_path, result, ["m2m"], "blobs", image_shape=(1, 2))
    messages = [str(w.message) for w in record if w.category is RerunMismatchWarning]
    assert len(messages) == 1
    assert "did not reproduce the benchmarked translations" in messages[0]
    assert issubclass(RerunMismatchWarning, RuntimeWarning)
    assert (tmp_path / "m2m_translations.png") in paths
