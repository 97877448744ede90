"""Test helpers shared by several test modules."""

import torch


class SliceLoader:
    """A plain slicing loader over the net's sampler order: tensors held once, no
    per-sample Python (the GPU fast path's shape, and the reference for DeviceLoader)."""

    def __init__(self, dataset, batch_size, sampler=None, **kwargs):
        self.X = torch.as_tensor(dataset.X)
        self.y = torch.as_tensor(dataset.y)
        self.batch_size, self.sampler = batch_size, sampler

    def __len__(self):
        return -(-len(self.y) // self.batch_size)

    def __iter__(self):
        idx = torch.as_tensor(list(self.sampler))
        for i in range(0, len(idx), self.batch_size):
            sel = idx[i:i + self.batch_size]
            yield self.X[sel], self.y[sel]
