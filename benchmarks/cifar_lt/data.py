"""CIFAR-LT-10 as the reproduction uses it: uint8 images, the authors' test split, --smoke.

The training set is :func:`m2m_sampler.datasets.load_cifar10_lt` (the first ``n_k``
images of every class, as the authors take them), kept as uint8 channels-first images
(converted to float on the device by the loaders). The first 100 test images of each
class are the authors' validation split; the other 900 per class, ``test900``, their test
split. ``smoke=True`` keeps 1/100 of every class (at least 2), 20 test images per class and
2 of them as validation.
"""

from __future__ import annotations

import math

import numpy as np

from benchmarks.datasets import get_data_dir, load_cifar10_lt

__all__ = ["load_data"]


def load_data(imbalance_ratio: int, data_dir: str | None = None, smoke: bool = False) -> dict:
    """The training and test arrays, the authors' splits and the class counts.

    Parameters
    ----------
    imbalance_ratio : {100, 10}
    data_dir : str or None
        Folder of the CIFAR-10 npz files (None: the library's data-directory rule).
    smoke : bool, default=False
        A tiny subset (see the module docstring).

    Returns
    -------
    dict
        ``X``, ``y`` (training), ``X_test``, ``y_test``, ``test900`` and ``val`` (indices
        into the test set), ``counts`` (training images per class) and ``files`` (the
        data folder).
    """
    data = load_cifar10_lt(
        imbalance_ratio, data_dir=data_dir, dtype=np.uint8, channels_first=True
    )
    X, y = data.X_train, data.y_train
    X_test, y_test = data.X_test, data.y_test
    if smoke:
        keep = []
        for k in range(10):
            idx = np.flatnonzero(y == k)
            keep.append(idx[: max(2, math.ceil(len(idx) / 100))])
        keep = np.sort(np.concatenate(keep))
        X, y = X[keep], y[keep]
        test_keep = np.sort(
            np.concatenate([np.flatnonzero(y_test == k)[:20] for k in range(10)])
        )
        X_test, y_test = X_test[test_keep], y_test[test_keep]
    # The authors' split: the first 100 test images of each class are validation.
    n_val = 2 if smoke else 100
    val = np.concatenate([np.flatnonzero(y_test == k)[:n_val] for k in range(10)])
    test900 = np.setdiff1d(np.arange(len(y_test)), val)
    return {
        "X": X, "y": y, "X_test": X_test, "y_test": y_test, "test900": test900, "val": val,
        "counts": np.bincount(y, minlength=10),
        "files": str(get_data_dir(data_dir)),
    }
