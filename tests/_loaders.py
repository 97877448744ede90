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


def small_m2m_params(**kwargs):
    """Small, fast ``M2MClassifier`` settings on digits-LT (519 training images, 64 pixels
    in [0, 1]); keyword arguments override them."""
    params = dict(
        module__n_features=64,
        module__n_classes=10,
        module__hidden=(64,),
        optimizer=torch.optim.SGD,
        optimizer__momentum=0.9,
        lr=0.05,
        max_epochs=6,
        start_epoch=3,
        batch_size=64,
        beta=0.9,
        gamma=0.5,
        step_size=0.2,
        n_steps=4,
        clip=(0.0, 1.0),
        verbose=0,
        random_state=0,
    )
    params.update(kwargs)
    return params
