"""Networks of the M2m paper: CIFAR ResNet-32 and a 2-layer MLP for vector data.

:class:`ResNet32` is the CIFAR variant of He et al. (2016) as used by LDAM-DRW
(``models/resnet_cifar.py``) and M2m: 3x3 conv(16) + BN + ReLU, three stages of five
basic blocks with 16/32/64 channels and strides 1/2/2, option-A shortcuts (stride-2
subsampling + zero channel padding), global average pooling and ``Linear(64, K)``
(464,154 parameters for ``K = 10``). Per-channel input normalisation happens inside
``forward`` so that the model consumes pixels in ``[0, 1]``: translations and clamping
(M2m) then act in pixel space.

Everything is plain :mod:`torch`; nothing depends on a device.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CIFAR100_MEAN",
    "CIFAR100_STD",
    "MLP",
    "BasicBlock",
    "NormedLinear",
    "ResNet32",
    "resnet32_ldam",
]

#: Per-channel mean of CIFAR-10 training pixels in [0, 1] (the value used by the authors).
CIFAR10_MEAN: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
#: Per-channel standard deviation used with CIFAR-10 by LDAM-DRW and M2m.
CIFAR10_STD: tuple[float, float, float] = (0.2023, 0.1994, 0.2010)
#: Per-channel mean used by M2m for CIFAR-100.
CIFAR100_MEAN: tuple[float, float, float] = (0.5071, 0.4867, 0.4408)
#: Per-channel standard deviation used by M2m for CIFAR-100.
CIFAR100_STD: tuple[float, float, float] = (0.2675, 0.2565, 0.2761)

_DEFAULT_NORMALIZE = (CIFAR10_MEAN, CIFAR10_STD)


class NormedLinear(nn.Module):
    """Cosine-similarity classifier head of LDAM-DRW.

    ``out = normalize(x, dim=1) @ normalize(W, dim=0)``, so every output lies in
    ``[-1, 1]``. The weight has shape ``(in_features, out_features)`` (the layout of the
    reference code, so its checkpoints load) and is initialised as there:
    ``uniform(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5)`` (unit-norm columns).

    Parameters
    ----------
    in_features : int
        Size of each input sample.
    out_features : int
        Number of classes.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = nn.Parameter(torch.empty(self.in_features, self.out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw the weight as in LDAM-DRW."""
        with torch.no_grad():
            self.weight.uniform_(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Cosine similarities between ``x`` and each class weight.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, in_features)

        Returns
        -------
        torch.Tensor of shape (n_samples, out_features), values in ``[-1, 1]``
        """
        return F.normalize(x, dim=1) @ F.normalize(self.weight, dim=0)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


class _ShortcutA(nn.Module):
    """Option-A shortcut: ``x[:, :, ::2, ::2]`` padded with ``pad`` zero channels each side."""

    def __init__(self, pad: int) -> None:
        super().__init__()
        self.pad = int(pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad), "constant", 0.0)

    def extra_repr(self) -> str:
        return f"pad={self.pad}"


class BasicBlock(nn.Module):
    """Basic residual block (two 3x3 convolutions) with an option-A shortcut.

    Parameters
    ----------
    in_planes : int
        Input channels.
    planes : int
        Output channels; when it differs from ``in_planes`` (or ``stride != 1``) the
        shortcut subsamples by 2 and pads ``planes // 4`` zero channels on each side,
        which assumes ``planes == 2 * in_planes`` and ``stride == 2`` (as in ResNet-32).
    stride : int, default=1
        Stride of the first convolution.
    """

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_planes != planes:
            if stride != 2 or in_planes + 2 * (planes // 4) != planes:
                raise ValueError(
                    "the option-A shortcut needs stride 2 and planes == 2 * in_planes, got "
                    f"in_planes={in_planes}, planes={planes}, stride={stride}."
                )
            self.shortcut = _ShortcutA(planes // 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block.

        Parameters
        ----------
        x : torch.Tensor of shape (n, in_planes, h, w)

        Returns
        -------
        torch.Tensor of shape (n, planes, h / stride, w / stride)
        """
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet32(nn.Module):
    """CIFAR ResNet-32 of LDAM-DRW and M2m, normalising its ``[0, 1]`` input itself.

    Parameters
    ----------
    num_classes : int, default=10
        Number of outputs (logits).
    normalize : tuple (mean, std) or None, default=(CIFAR10_MEAN, CIFAR10_STD)
        Per-channel mean and standard deviation subtracted/divided inside ``forward``
        (held as buffers). ``None`` feeds the input to the first convolution unchanged.
    head : {'linear', 'cosine'}, default='linear'
        ``'linear'``: ``nn.Linear(64, num_classes)`` (with bias). ``'cosine'``:
        :class:`NormedLinear`, the head LDAM-DRW pairs with
        :class:`~m2m_sampler.longtail.losses.LDAMLoss`.
    in_channels : int, default=3
        Input channels (1 for grey images; ``normalize`` must then have 1 value each).
    num_blocks : int, default=5
        Basic blocks per stage (5 gives ResNet-32; 3, 7, 9, 18 give ResNet-20/44/56/110).

    Notes
    -----
    Initialisation follows LDAM-DRW's ``_weights_init``: ``kaiming_normal_`` (fan-in,
    ReLU gain) on every convolution and on the linear weight; PyTorch defaults for the
    linear bias and BatchNorm. The M2m repository's own ResNet-32 differs only in ways a
    trained network does not see: zero channels appended after (not around) the
    shortcut, fan-out init for convolutions, and a ``(logits, features)`` return value.
    M2m's normaliser also clamps its input to ``[0, 1]``; here the input is not clamped
    (the authors' pipelines keep it in ``[0, 1]`` anyway).

    Examples
    --------
    >>> import torch
    >>> net = ResNet32(num_classes=10)
    >>> net(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    >>> sum(p.numel() for p in net.parameters())
    464154
    """

    def __init__(
        self,
        num_classes: int = 10,
        normalize: tuple[Sequence[float], Sequence[float]] | None = _DEFAULT_NORMALIZE,
        head: str = "linear",
        in_channels: int = 3,
        num_blocks: int = 5,
    ) -> None:
        super().__init__()
        if head not in ("linear", "cosine"):
            raise ValueError(f"head must be 'linear' or 'cosine', got {head!r}.")
        self.num_classes = int(num_classes)
        self.head = head
        self.in_channels = int(in_channels)
        if normalize is None:
            self.register_buffer("mean", None)
            self.register_buffer("std", None)
        else:
            mean, std = _channel_stats(normalize, self.in_channels)
            self.register_buffer("mean", mean)
            self.register_buffer("std", std)

        self.conv1 = nn.Conv2d(self.in_channels, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self._in_planes = 16
        self.layer1 = self._make_layer(16, num_blocks, stride=1)
        self.layer2 = self._make_layer(32, num_blocks, stride=2)
        self.layer3 = self._make_layer(64, num_blocks, stride=2)
        self.linear: nn.Module
        if head == "cosine":
            self.linear = NormedLinear(64, self.num_classes)
        else:
            self.linear = nn.Linear(64, self.num_classes)
        self.apply(_kaiming_init)

    def _make_layer(self, planes: int, num_blocks: int, stride: int) -> nn.Sequential:
        layers = []
        for s in [stride] + [1] * (num_blocks - 1):
            layers.append(BasicBlock(self._in_planes, planes, s))
            self._in_planes = planes
        return nn.Sequential(*layers)

    def normalize_input(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the per-channel normalisation (identity when ``normalize=None``).

        Parameters
        ----------
        x : torch.Tensor of shape (n, in_channels, h, w), pixels in ``[0, 1]``

        Returns
        -------
        torch.Tensor, same shape
        """
        if self.mean is None:
            return x
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (after global average pooling).

        Parameters
        ----------
        x : torch.Tensor of shape (n, in_channels, h, w), pixels in ``[0, 1]``

        Returns
        -------
        torch.Tensor of shape (n, 64)
        """
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"ResNet32 expects input of shape (n, {self.in_channels}, h, w), "
                f"got {tuple(x.shape)}; reshape flat images with X.reshape(-1, C, H, W)."
            )
        out = F.relu(self.bn1(self.conv1(self.normalize_input(x))))
        out = self.layer3(self.layer2(self.layer1(out)))
        return torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits.

        Parameters
        ----------
        x : torch.Tensor of shape (n, in_channels, h, w), pixels in ``[0, 1]``

        Returns
        -------
        torch.Tensor of shape (n, num_classes)
        """
        return self.linear(self.features(x))


def resnet32_ldam(
    num_classes: int = 10,
    normalize: tuple[Sequence[float], Sequence[float]] | None = _DEFAULT_NORMALIZE,
    in_channels: int = 3,
) -> ResNet32:
    """ResNet-32 with the cosine head, the network LDAM-DRW trains with ``LDAMLoss``.

    Parameters
    ----------
    num_classes : int, default=10
    normalize : tuple (mean, std) or None, default=(CIFAR10_MEAN, CIFAR10_STD)
    in_channels : int, default=3

    Returns
    -------
    ResNet32
        ``ResNet32(num_classes, normalize, head='cosine', in_channels=in_channels)``.
    """
    return ResNet32(num_classes, normalize=normalize, head="cosine", in_channels=in_channels)


class MLP(nn.Module):
    """Fully-connected network for vector data (the paper's Twitter/Reuters model).

    ``[standardise] -> flatten -> (Linear -> ReLU -> Dropout) * len(hidden) -> head``.
    The default, one hidden layer, is the "2-layer fully-connected network" of the M2m
    paper (its width is not stated there; 256 is this library's choice). Inputs of any
    shape ``(n, ...)`` are flattened to ``(n, n_features)``.

    Parameters
    ----------
    n_features : int
        Number of input values per sample (after flattening).
    n_classes : int
        Number of outputs (logits).
    hidden : sequence of int, default=(256,)
        Widths of the hidden layers; ``()`` gives a linear model.
    dropout : float, default=0.0
        Dropout probability after each hidden activation.
    mean, std : array-like of shape (n_features,) or None, default=None
        If given, ``(x - mean) / std`` is applied inside ``forward`` (buffers), so the
        model consumes raw features and input-space operations such as M2m
        translations act on the raw scale. Zero entries of ``std`` are treated as 1.
    head : {'linear', 'cosine'}, default='linear'
        Output layer, ``self.net[-1]``. ``'linear'``: ``nn.Linear(width, n_classes)``
        (with bias, PyTorch's default init). ``'cosine'``: :class:`NormedLinear` (no
        bias, logits are cosine similarities in ``[-1, 1]``), the head LDAM-DRW pairs
        with :class:`~m2m_sampler.longtail.losses.LDAMLoss` (whose scale ``s`` turns them into
        logits), as ``ResNet32(head='cosine')``. The hidden layers are drawn identically
        for both heads (the head is built last).

    Examples
    --------
    >>> import torch
    >>> MLP(20, 3)(torch.randn(4, 20)).shape
    torch.Size([4, 3])
    >>> out = MLP(20, 3, head="cosine")(torch.randn(4, 20))
    >>> bool(out.abs().max() <= 1)
    True
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        hidden: Sequence[int] = (256,),
        dropout: float = 0.0,
        mean: Sequence[float] | torch.Tensor | None = None,
        std: Sequence[float] | torch.Tensor | None = None,
        head: str = "linear",
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
        if head not in ("linear", "cosine"):
            raise ValueError(f"head must be 'linear' or 'cosine', got {head!r}.")
        self.n_features = int(n_features)
        self.n_classes = int(n_classes)
        self.head = head
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std for standardisation, or neither.")
        if mean is None:
            self.register_buffer("mean", None)
            self.register_buffer("std", None)
        else:
            mean_t = torch.as_tensor(mean, dtype=torch.float32).detach().clone().reshape(-1)
            std_t = torch.as_tensor(std, dtype=torch.float32).detach().clone().reshape(-1)
            if mean_t.numel() != self.n_features or std_t.numel() != self.n_features:
                raise ValueError(
                    f"mean and std need {self.n_features} values (n_features), got "
                    f"{mean_t.numel()} and {std_t.numel()}."
                )
            std_t = torch.where(std_t == 0, torch.ones_like(std_t), std_t)
            self.register_buffer("mean", mean_t)
            self.register_buffer("std", std_t)
        layers: list[nn.Module] = []
        width = self.n_features
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = int(h)
        if head == "cosine":
            layers.append(NormedLinear(width, self.n_classes))
        else:
            layers.append(nn.Linear(width, self.n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits.

        Parameters
        ----------
        x : torch.Tensor of shape (n, ...) with ``n_features`` values per sample

        Returns
        -------
        torch.Tensor of shape (n, n_classes)
        """
        x = torch.flatten(x, 1) if x.ndim != 2 else x
        if x.shape[1] != self.n_features:
            raise ValueError(
                f"MLP was built for {self.n_features} features, got {x.shape[1]} "
                f"(input shape {tuple(x.shape)})."
            )
        if self.mean is not None:
            x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        return self.net(x)


def _channel_stats(
    normalize: tuple[Sequence[float], Sequence[float]], in_channels: int
) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        mean, std = normalize
    except (TypeError, ValueError) as exc:
        raise ValueError("normalize must be a (mean, std) pair or None.") from exc
    mean_t = torch.as_tensor(mean, dtype=torch.float32).detach().clone().reshape(-1)
    std_t = torch.as_tensor(std, dtype=torch.float32).detach().clone().reshape(-1)
    if mean_t.numel() != in_channels or std_t.numel() != in_channels:
        raise ValueError(
            f"normalize needs {in_channels} means and stds (one per channel), got "
            f"{mean_t.numel()} and {std_t.numel()}."
        )
    if torch.any(std_t <= 0):
        raise ValueError("normalize std values must be positive.")
    return mean_t.reshape(1, -1, 1, 1), std_t.reshape(1, -1, 1, 1)


def _kaiming_init(m: nn.Module) -> None:
    if isinstance(m, (nn.Linear, nn.Conv2d)):
        nn.init.kaiming_normal_(m.weight)
