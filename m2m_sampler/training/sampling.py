"""Class labels of a dataset and the class-balanced training sampler.

* :func:`get_dataset_labels` -- the label of every item of a dataset (skorch datasets,
  ``Subset``, ``TensorDataset``, torchvision-style ``targets``) without loading inputs;
* :class:`ClassBalancedSampler` -- a torch ``Sampler`` that draws a random permutation
  (``balanced=False``) or class-balanced indices with replacement (``balanced=True``);
  driven by :class:`~m2m_sampler.training.callbacks.DeferredResampling` for deferred re-sampling
  (DRS), also the one :class:`~m2m_sampler.M2MClassifier` registers.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch.utils.data import Sampler

from ..exceptions import ItemByItemReadWarning

__all__ = ["ClassBalancedSampler", "get_dataset_labels"]


# ----------------------------------------------------------------------------- labels


def get_dataset_labels(dataset: Any) -> np.ndarray:
    """Return the class label of every item of a dataset, without loading inputs if possible.

    Handled without touching the inputs: :class:`skorch.dataset.Dataset` (its ``y``),
    :class:`torch.utils.data.Subset` (recursively, e.g. the splits of skorch's
    ``ValidSplit``), :class:`torch.utils.data.TensorDataset` (its second tensor) and
    datasets with a ``targets`` attribute (torchvision style). Any other map-style
    dataset is indexed item by item, ``dataset[i][1]`` being the label (a warning says so).

    Parameters
    ----------
    dataset : torch.utils.data.Dataset

    Returns
    -------
    labels : ndarray of shape (len(dataset),)

    Raises
    ------
    ValueError
        If the dataset carries no labels (e.g. a skorch ``Dataset`` built with ``y=None``).
    """
    labels = _labels(dataset)
    if labels.ndim != 1:
        raise ValueError(
            f"class labels must be 1-D, got shape {labels.shape}; one-hot or multi-output "
            "targets cannot be re-balanced by class."
        )
    return labels


def _labels(dataset: Any) -> np.ndarray:
    from skorch.dataset import Dataset as SkorchDataset

    if isinstance(dataset, torch.utils.data.Subset):
        return _labels(dataset.dataset)[np.asarray(dataset.indices, dtype=np.int64)]
    if isinstance(dataset, SkorchDataset):
        if dataset.y is None:
            raise ValueError(
                "the training dataset has no targets (y=None); class re-balancing needs "
                "the labels: pass y to fit."
            )
        return _to_numpy(dataset.y)
    if isinstance(dataset, torch.utils.data.TensorDataset):
        if len(dataset.tensors) < 2:
            raise ValueError("a TensorDataset needs (inputs, labels) tensors to be re-balanced.")
        return _to_numpy(dataset.tensors[1])
    if hasattr(dataset, "targets"):
        return _to_numpy(dataset.targets)
    warnings.warn(
        f"reading the labels of a {type(dataset).__name__} by indexing every item; give the "
        "dataset a `targets` attribute to avoid loading all inputs.",
        ItemByItemReadWarning,
        stacklevel=3,
    )
    return np.asarray([_to_numpy(dataset[i][1]).item() for i in range(len(dataset))])


def _to_numpy(a: Any) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    if hasattr(a, "to_numpy"):  # pandas
        return a.to_numpy()
    return np.asarray(a)


# ----------------------------------------------------------------------------- sampler


class ClassBalancedSampler(Sampler[int]):
    """Sampler that is either class-balanced or a plain shuffle, switchable between epochs.

    ``balanced=True``: ``num_samples`` indices drawn with replacement, item ``i`` with
    probability proportional to ``1 / N_{y_i}`` (every class equally likely; drawn as a
    uniform class, then a uniform item of that class). ``balanced=False``: a random
    permutation of all items (what ``shuffle=True`` does).

    With skorch, pass an instance as ``iterator_train__sampler`` together with a
    :class:`DeferredResampling` callback, which binds it to the training dataset skorch
    really iterates (after its internal validation split) and switches it on at
    ``start_epoch``. In plain PyTorch, pass ``labels``.

    Parameters
    ----------
    labels : array-like of shape (n_samples,) or None, default=None
        Labels of the dataset items, in dataset order; may be (re)set by
        :meth:`set_labels`.
    balanced : bool, default=True
        Mode of the next epoch.
    num_samples : int or None, default=None
        Indices per epoch in balanced mode; ``None`` means ``len(labels)`` (the epoch
        length of plain training).
    generator : torch.Generator or None, default=None
        CPU generator; ``None`` uses the global torch RNG (reproducible under
        ``torch.manual_seed``).
    """

    def __init__(
        self,
        labels: ArrayLike | None = None,
        balanced: bool = True,
        num_samples: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.labels = None if labels is None else _to_numpy(labels)
        self.balanced = balanced
        self.num_samples = num_samples
        self.generator = generator

    def set_labels(self, labels: ArrayLike) -> ClassBalancedSampler:
        """Bind the sampler to a dataset by its labels.

        Parameters
        ----------
        labels : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        labels = _to_numpy(labels)
        if labels.ndim != 1:
            raise ValueError(f"labels must be 1-D, got shape {labels.shape}.")
        self.labels = labels
        return self

    def _n_items(self) -> int:
        if self.labels is None:
            raise RuntimeError(
                "ClassBalancedSampler has no labels. In skorch, add a DeferredResampling "
                "callback (it binds the sampler to the training data); in PyTorch, pass "
                "labels=... ."
            )
        return len(self.labels)

    def __len__(self) -> int:
        n = self._n_items()
        if self.balanced and self.num_samples is not None:
            return int(self.num_samples)
        return n

    def indices(self) -> torch.Tensor:
        """Draw one epoch of indices at once, as a tensor (no per-item Python).

        This is what iterating the sampler yields, drawn with the same random numbers:
        ``list(sampler)`` equals ``sampler.indices().tolist()`` under the same RNG state.
        Device-side loaders (:class:`~m2m_sampler.training.device_data.DeviceLoader`) call it once
        per epoch and move the result to their device.

        Returns
        -------
        torch.LongTensor of shape (len(self),), on the CPU
        """
        n = self._n_items()
        if n == 0:
            return torch.empty(0, dtype=torch.long)
        if not self.balanced:
            return torch.randperm(n, generator=self.generator)
        m = len(self)
        _, inverse, counts = np.unique(self.labels, return_inverse=True, return_counts=True)
        order = torch.from_numpy(np.argsort(inverse.reshape(-1), kind="stable"))
        counts_t = torch.from_numpy(counts.astype(np.int64))
        starts_t = torch.cumsum(counts_t, 0) - counts_t
        k = torch.randint(len(counts), (m,), generator=self.generator)
        u = torch.rand(m, generator=self.generator, dtype=torch.float64)
        within = torch.minimum((u * counts_t[k]).long(), counts_t[k] - 1)
        return order[starts_t[k] + within]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __repr__(self) -> str:
        n = None if self.labels is None else len(self.labels)
        return (
            f"ClassBalancedSampler(n_labels={n}, balanced={self.balanced!r}, "
            f"num_samples={self.num_samples!r})"
        )
