"""Toy data shared by the lab's tests."""

import numpy as np


def table2_toy_data(name, max_features):
    """A 4-class, 8-feature Gaussian stand-in for a Table 2 data set (any ``name``):
    120/40/12/6 training and 20 test rows per class; module level, so that the suite's
    spawned workers can import it."""
    rng = np.random.RandomState(0 if name == "reuters" else 1)
    counts = [120, 40, 12, 6]
    centres = rng.normal(size=(4, 8)) * 2
    X = np.vstack([centres[k] + rng.normal(size=(n, 8)) for k, n in enumerate(counts)])
    y = np.repeat(np.arange(4), counts)
    Xt = np.vstack([centres[k] + rng.normal(size=(20, 8)) for k in range(4)])
    yt = np.repeat(np.arange(4), 20)
    return {"X": X.astype(np.float32), "y": y, "X_test": Xt.astype(np.float32), "y_test": yt,
            "class_names": ["a", "b", "c", "d"], "eta": 0.1, "features": "toy"}
