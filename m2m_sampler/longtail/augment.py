"""Batch-level data augmentation that runs on the batch's own device.

:class:`RandomCropFlip` is the CIFAR augmentation of the paper (random 32x32 crop of the
image zero-padded by 4, random horizontal flip), applied to a whole ``NCHW`` batch at once
with vectorised indexing: no per-sample Python loop, no host round-trip, any device.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["RandomCropFlip"]


class RandomCropFlip:
    """Random crop of the zero-padded image plus random horizontal flip, per sample.

    Output sample ``i`` is ``P[i, :, dy_i:dy_i+H, dx_i:dx_i+W]`` of the zero-padded batch
    ``P`` (``padding`` on each side), with offsets ``dy_i, dx_i`` drawn uniformly from
    ``{0, ..., 2 * padding}``, then mirrored left-right with probability 1/2 when
    ``flip=True``. This equals torchvision's ``RandomCrop(size, padding)`` followed by
    ``RandomHorizontalFlip()``, drawn independently for every sample.

    Parameters
    ----------
    padding : int, default=4
        Zero padding on each side before cropping back to the input size.
    flip : bool, default=True
        Whether to flip horizontally with probability 0.5.
    generator : torch.Generator or None, default=None
        Source of randomness. ``None`` uses the global RNG of the batch's device
        (reproducible under ``torch.manual_seed``). A generator on another device than
        the batch is fine: the random offsets are drawn on the generator's device and
        moved (a few bytes per sample).

    Notes
    -----
    Works for any dtype (float32, bfloat16, uint8, ...). The output keeps the input's
    dtype and device, and is ``channels_last`` when the input is ``channels_last``
    (otherwise contiguous). It is always a new tensor; the input is not modified.
    Calling it is not differentiable-friendly for the offsets (they are random indices)
    but gradients do flow to the pixel values.

    Examples
    --------
    >>> import torch
    >>> aug = RandomCropFlip(padding=4, generator=torch.Generator().manual_seed(0))
    >>> aug(torch.rand(8, 3, 32, 32)).shape
    torch.Size([8, 3, 32, 32])
    """

    def __init__(
        self, padding: int = 4, flip: bool = True, generator: torch.Generator | None = None
    ) -> None:
        self.padding = padding
        self.flip = flip
        self.generator = generator

    def __repr__(self) -> str:
        return f"RandomCropFlip(padding={self.padding!r}, flip={self.flip!r})"

    def _randint(self, high: int, n: int, device: torch.device) -> torch.Tensor:
        if self.generator is None:
            return torch.randint(high, (n,), device=device)
        draw = torch.randint(high, (n,), generator=self.generator, device=self.generator.device)
        return draw.to(device)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Augment a batch.

        Parameters
        ----------
        x : torch.Tensor of shape (n, c, h, w)

        Returns
        -------
        torch.Tensor of shape (n, c, h, w), same dtype and device
        """
        padding = int(self.padding)
        if padding < 0:
            raise ValueError(f"padding must be >= 0, got {self.padding}.")
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            shape = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
            raise ValueError(f"RandomCropFlip expects an (n, c, h, w) tensor, got {shape}.")
        n, c, h, w = x.shape
        channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        if n == 0 or (padding == 0 and not self.flip):
            out = x.clone()
        else:
            device = x.device
            dy = self._randint(2 * padding + 1, n, device)
            dx = self._randint(2 * padding + 1, n, device)
            cols = torch.arange(w, device=device)
            col_idx = dx[:, None] + cols  # (n, w)
            if self.flip:
                flip = self._randint(2, n, device).bool()
                col_idx = torch.where(flip[:, None], dx[:, None] + (w - 1 - cols), col_idx)
            row_idx = dy[:, None] + torch.arange(h, device=device)  # (n, h)
            padded = F.pad(x, (padding, padding, padding, padding)) if padding else x
            batch_idx = torch.arange(n, device=device)[:, None, None, None]
            chan_idx = torch.arange(c, device=device)[None, :, None, None]
            out = padded[batch_idx, chan_idx, row_idx[:, None, :, None], col_idx[:, None, None, :]]
        if channels_last:
            out = out.contiguous(memory_format=torch.channels_last)
        return out
