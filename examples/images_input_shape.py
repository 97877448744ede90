"""
Image input: a CNN as g, flattened rows for imbalanced-learn
============================================================

imbalanced-learn works on 2-D ``X``; ``input_shape`` tells the sampler how to reshape
each row for ``g`` (here a small CNN on 8x8 digits), and ``clip=(0, 1)`` keeps the
translated pixels in range. Run with ``python examples/images_input_shape.py``.
"""

# %%
import sys

import numpy as np
import torch
from torch import nn

from m2m_sampler import M2MOverSampler, NetClassifier
from m2m_sampler.datasets import load_digits_lt

QUICK = "--quick" in sys.argv
data = load_digits_lt(imbalance_ratio=10)  # pixels in [0, 1], rows of 64 values


class SmallCNN(nn.Module):
    def __init__(self, n_classes: int = 10) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(128, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


torch.manual_seed(0)
X_img = data.X_train.reshape(-1, 1, 8, 8)
g = NetClassifier(SmallCNN, max_epochs=3 if QUICK else 40, lr=0.05, batch_size=64,
                  optimizer__momentum=0.9, iterator_train__shuffle=True, verbose=0)
g.fit(X_img, data.y_train)

sampler = M2MOverSampler(g, input_shape=(1, 8, 8), clip=(0.0, 1.0), beta=0.99,
                         step_size=0.1, random_state=0)
X_res, y_res = sampler.fit_resample(data.X_train, data.y_train)
print("class counts after M2m:", np.bincount(y_res))
print("accepted translations:", int(sampler.is_translated_.sum()), "of",
      len(sampler.is_translated_), "added rows")
moved = X_res[len(data.X_train):][sampler.is_translated_]
seeds = data.X_train[sampler.source_indices_[sampler.is_translated_]]
if len(moved):
    print(f"mean L2 distance to the seed: {np.linalg.norm(moved - seeds, axis=1).mean():.3f}"
          f" (step_size x n_steps = {0.1 * 10:.1f})")
