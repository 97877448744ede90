import math
import pickle

import pytest
import torch
from torch import nn

from m2m_sampler.longtail.models import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    MLP,
    BasicBlock,
    NormedLinear,
    ResNet32,
    resnet32_ldam,
)


def _n_params(m):
    return sum(p.numel() for p in m.parameters())


def _x(n=2, seed=0, dtype=torch.float32):
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ----------------------------------------------------------------------------- ResNet-32


def test_parameter_count_matches_the_cifar_resnet32():
    # conv1 432 + bn 32; stage1 5*(2*2304+64); stage2 (4608+9216+128) + 4*(2*9216+128);
    # stage3 (18432+36864+256) + 4*(2*36864+256); linear 64*K + K
    stages = 432 + 32 + 5 * 4672 + (13952 + 4 * 18560) + (55552 + 4 * 73984)
    assert _n_params(ResNet32(10)) == stages + 650 == 464154
    assert _n_params(ResNet32(100)) == stages + 6500
    assert _n_params(ResNet32(10, head="cosine")) == stages + 640
    # ResNet-20 (0.27M): 464 + 3*4672 + (13952 + 2*18560) + (55552 + 2*73984) + 650
    assert _n_params(ResNet32(10, num_blocks=3)) == 269722


def test_architecture_layout_and_shapes():
    net = ResNet32(7).eval()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    blocks = [m for m in net.modules() if isinstance(m, BasicBlock)]
    assert len(convs) == 31 and len(blocks) == 15  # 31 conv + 1 linear = 32 layers
    assert all(c.kernel_size == (3, 3) and c.bias is None for c in convs)
    assert isinstance(net.linear, nn.Linear) and net.linear.in_features == 64
    shapes = {}
    for name in ("layer1", "layer2", "layer3"):
        getattr(net, name).register_forward_hook(
            lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape))
        )
    out = net(_x(3))
    assert out.shape == (3, 7)
    assert shapes == {"layer1": (3, 16, 32, 32), "layer2": (3, 32, 16, 16), "layer3": (3, 64, 8, 8)}
    assert net.features(_x(3)).shape == (3, 64)
    # other image sizes work too (global average pooling)
    assert net(torch.rand(2, 3, 20, 20)).shape == (2, 7)


def test_option_a_shortcut():
    block = BasicBlock(16, 32, stride=2)
    x = torch.randn(2, 16, 32, 32)
    s = block.shortcut(x)
    assert s.shape == (2, 32, 16, 16)
    assert torch.count_nonzero(s[:, :8]) == 0
    assert torch.count_nonzero(s[:, 24:]) == 0
    torch.testing.assert_close(s[:, 8:24], x[:, :, ::2, ::2])
    assert not any(p.requires_grad for p in block.shortcut.parameters())  # no parameters
    assert isinstance(BasicBlock(16, 16).shortcut, nn.Identity)
    with pytest.raises(ValueError, match="option-A"):
        BasicBlock(16, 64, stride=2)


def test_kaiming_init_as_ldam_drw():
    torch.manual_seed(0)
    net = ResNet32(10)
    convs = [m for m in net.layer3.modules() if isinstance(m, nn.Conv2d)]
    w = torch.cat([c.weight.flatten() for c in convs[1:]])  # 64 -> 64 convs, fan_in 576
    assert w.std().item() == pytest.approx(math.sqrt(2 / 576), rel=0.03)
    assert w.mean().abs().item() < 0.002
    # linear weight: kaiming normal with fan_in 64 -> std sqrt(2/64) (10*64 values: loose)
    assert net.linear.weight.std().item() == pytest.approx(math.sqrt(2 / 64), rel=0.15)


def test_normalisation_happens_inside_forward():
    torch.manual_seed(0)
    a = ResNet32(10).eval()
    b = ResNet32(10, normalize=None).eval()
    state = {k: v for k, v in a.state_dict().items() if k not in ("mean", "std")}
    b.load_state_dict(state)
    x = _x(4)
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(a(x), b((x - mean) / std), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(a(x), b(x), atol=1e-3)
    torch.testing.assert_close(a.normalize_input(x), (x - mean) / std)
    assert b.normalize_input(x) is x
    # buffers, not parameters: moved by .to(), not trained
    assert {n for n, _ in a.named_buffers()} >= {"mean", "std"}
    assert "mean" not in dict(a.named_parameters())


def test_custom_normalisation_and_grey_input():
    net = ResNet32(3, normalize=([0.5], [0.25]), in_channels=1).eval()
    assert net(torch.rand(2, 1, 28, 28)).shape == (2, 3)
    with pytest.raises(ValueError, match="one per channel"):
        ResNet32(3, normalize=([0.5, 0.5], [0.2, 0.2]))
    with pytest.raises(ValueError, match="positive"):
        ResNet32(3, normalize=([0.5] * 3, [0.2, 0.0, 0.2]))
    with pytest.raises(ValueError, match="head"):
        ResNet32(3, head="mlp")
    with pytest.raises(ValueError, match=r"\(n, 3, h, w\)"):
        ResNet32(3)(torch.rand(2, 3072))


def test_cosine_head_bounded_and_matches_cosine_similarity():
    torch.manual_seed(0)
    head = NormedLinear(64, 10)
    # LDAM-DRW init: columns of unit norm
    torch.testing.assert_close(head.weight.norm(dim=0), torch.ones(10), rtol=1e-4, atol=1e-4)
    x = torch.randn(5, 64) * 10
    out = head(x)
    expected = nn.functional.cosine_similarity(x[:, None, :], head.weight.T[None], dim=-1)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    net = resnet32_ldam(10).eval()
    assert isinstance(net.linear, NormedLinear)
    logits = net(_x(8))
    assert logits.abs().max() <= 1.0 + 1e-6
    assert net.head == "cosine"


def test_eval_mode_is_deterministic_and_train_mode_updates_bn():
    torch.manual_seed(0)
    net = ResNet32(10)
    x = _x(4)
    net.eval()
    torch.testing.assert_close(net(x), net(x), rtol=0, atol=0)
    before = net.bn1.running_mean.clone()
    net.train()
    net(x)
    assert not torch.allclose(before, net.bn1.running_mean)


def test_gradient_reaches_the_input_pixels():
    net = ResNet32(10).eval()
    x = _x(2).requires_grad_(True)
    net(x)[:, 3].sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_channels_last_float64_and_bf16_autocast():
    torch.manual_seed(0)
    net = ResNet32(10).eval()
    x = _x(2)
    ref = net(x)
    net_cl = ResNet32(10).eval()
    net_cl.load_state_dict(net.state_dict())
    net_cl = net_cl.to(memory_format=torch.channels_last)
    out_cl = net_cl(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out_cl, ref, rtol=1e-4, atol=1e-4)
    net64 = ResNet32(10).eval()
    net64.load_state_dict(net.state_dict())
    net64 = net64.to(torch.float64)
    out64 = net64(x.double())
    assert out64.dtype == torch.float64
    torch.testing.assert_close(out64.float(), ref, rtol=1e-4, atol=1e-4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out_bf = net(x)
    assert out_bf.dtype == torch.bfloat16
    assert torch.isfinite(out_bf.float()).all()
    # bf16 has ~3 significant digits; compare on the scale of the logits
    assert (out_bf.float() - ref).abs().max() < 0.05 * ref.abs().max()


def test_pickle_and_state_dict_round_trip():
    net = resnet32_ldam(10).eval()
    clone = pickle.loads(pickle.dumps(net))
    x = _x(2)
    torch.testing.assert_close(clone(x), net(x))


# ----------------------------------------------------------------------------- MLP


def test_mlp_shapes_and_parameter_count():
    mlp = MLP(20, 3)
    assert _n_params(mlp) == 20 * 256 + 256 + 256 * 3 + 3
    assert mlp(torch.randn(4, 20)).shape == (4, 3)
    # any input shape is flattened
    assert mlp(torch.randn(4, 4, 5)).shape == (4, 3)
    deep = MLP(10, 2, hidden=(32, 16), dropout=0.5)
    assert _n_params(deep) == 10 * 32 + 32 + 32 * 16 + 16 + 16 * 2 + 2
    assert sum(isinstance(m, nn.Dropout) for m in deep.modules()) == 2
    linear = MLP(10, 2, hidden=())
    assert [type(m) for m in linear.net] == [nn.Linear]
    with pytest.raises(ValueError, match="10 features"):
        linear(torch.randn(3, 11))


def test_mlp_standardisation_inside_forward():
    torch.manual_seed(0)
    mean = torch.tensor([1.0, -2.0, 3.0])
    std = torch.tensor([2.0, 0.0, 0.5])  # 0 is treated as 1
    a = MLP(3, 2, hidden=(8,), mean=mean, std=std).eval()
    b = MLP(3, 2, hidden=(8,)).eval()
    b.net.load_state_dict(a.net.state_dict())
    x = torch.randn(6, 3) * 3
    manual = (x - mean) / torch.tensor([2.0, 1.0, 0.5])
    torch.testing.assert_close(a(x), b(manual))
    x.requires_grad_(True)
    a(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    a64 = a.to(torch.float64)
    assert a64(x.detach().double()).dtype == torch.float64
    with pytest.raises(ValueError, match="both"):
        MLP(3, 2, mean=mean)
    with pytest.raises(ValueError, match="3 values"):
        MLP(3, 2, mean=[0.0], std=[1.0])
    with pytest.raises(ValueError, match="dropout"):
        MLP(3, 2, dropout=1.0)


def test_mlp_cosine_head_is_cosine_similarity():
    torch.manual_seed(0)
    lin = MLP(7, 4, hidden=(16,), head="linear")
    torch.manual_seed(0)
    cos = MLP(7, 4, hidden=(16,), head="cosine").eval()
    assert cos.head == "cosine" and lin.head == "linear"
    assert isinstance(cos.net[-1], NormedLinear) and isinstance(lin.net[-1], nn.Linear)
    # the hidden layers are drawn identically; only the head differs (no bias)
    torch.testing.assert_close(cos.net[0].weight, lin.net[0].weight)
    assert _n_params(cos) == 7 * 16 + 16 + 16 * 4
    x = torch.randn(5, 7) * 3
    # independent computation: hidden features by hand, then cosines with weight columns
    h = torch.relu(x @ cos.net[0].weight.T + cos.net[0].bias).detach()
    w = cos.net[-1].weight.detach()  # (in_features, out_features)
    expected = torch.tensor(
        [
            [float(h[i] @ w[:, k] / (h[i].norm() * w[:, k].norm())) for k in range(4)]
            for i in range(5)
        ]
    )
    out = cos(x)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    assert out.abs().max() <= 1.0 + 1e-6
    # scaling the features does not change a cosine
    linear_cos = MLP(7, 4, hidden=(), head="cosine")
    torch.testing.assert_close(linear_cos(x), linear_cos(10 * x), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="head"):
        MLP(7, 4, head="mlp")


def test_no_hard_coded_device():
    # "meta" stands in for an accelerator: CPU tensors created in forward would raise
    for net in (ResNet32(10), resnet32_ldam(4)):
        net = net.to("meta")
        assert net(torch.rand(2, 3, 32, 32, device="meta")).device.type == "meta"
    mlp = MLP(5, 3, mean=[0.0] * 5, std=[1.0] * 5).to("meta")
    assert mlp(torch.rand(2, 5, device="meta")).device.type == "meta"
