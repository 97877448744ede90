import pickle

import pytest
import torch
import torch.nn.functional as F

from m2m_sampler.longtail.augment import RandomCropFlip


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _match(out_i, padded_i, padding, h, w):
    """All (dy, dx, flipped) for which out_i is that crop of padded_i (brute force)."""
    hits = []
    for dy in range(2 * padding + 1):
        for dx in range(2 * padding + 1):
            crop = padded_i[:, dy : dy + h, dx : dx + w]
            if torch.equal(out_i, crop):
                hits.append((dy, dx, False))
            if torch.equal(out_i, crop.flip(-1)):
                hits.append((dy, dx, True))
    return hits


def test_shape_dtype_device_and_new_tensor():
    x = torch.rand(8, 3, 32, 32)
    out = RandomCropFlip(generator=_gen())(x)
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    assert out.data_ptr() != x.data_ptr()


def test_identity_without_padding_and_flip():
    x = torch.rand(5, 3, 7, 9)
    out = RandomCropFlip(padding=0, flip=False)(x)
    assert torch.equal(out, x)
    assert out.data_ptr() != x.data_ptr()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.uint8])
def test_every_output_is_a_crop_of_the_padded_input(dtype):
    padding, h, w = 2, 5, 6
    # distinct positive values, so a crop is identified uniquely (zeros only from padding)
    x = (torch.randperm(12 * 2 * h * w, generator=_gen(1))[: 12 * 2 * h * w] % 250 + 1).to(dtype)
    x = x.reshape(12, 2, h, w)
    out = RandomCropFlip(padding=padding, generator=_gen(2))(x)
    assert out.dtype == dtype
    padded = F.pad(x.float(), (padding,) * 4).to(dtype)
    for i in range(len(x)):
        assert _match(out[i], padded[i], padding, h, w), f"sample {i} is not a crop"


def test_offsets_cover_all_positions_uniformly():
    padding, n = 1, 3000
    x = torch.arange(1, 10, dtype=torch.float32).reshape(1, 1, 3, 3).repeat(n, 1, 1, 1)
    out = RandomCropFlip(padding=padding, flip=False, generator=_gen(3))(x)
    padded = F.pad(x[:1], (padding,) * 4)[0]
    counts = torch.zeros(3, 3)
    for i in range(n):
        (dy, dx, _), *_ = _match(out[i], padded, padding, 3, 3)
        counts[dy, dx] += 1
    # 9 offsets, expected 333.3 each, sd ~ 17: allow 5 sd
    assert (counts - n / 9).abs().max() < 5 * (n / 9 * 8 / 9) ** 0.5


def test_flip_probability_is_one_half():
    n = 4000
    x = torch.tensor([1.0, 2.0]).reshape(1, 1, 1, 2).repeat(n, 1, 1, 1)
    out = RandomCropFlip(padding=0, flip=True, generator=_gen(4))(x)
    flipped = out[:, 0, 0, 0] == 2.0
    assert torch.all(out[flipped, 0, 0, 1] == 1.0)
    assert torch.all(out[~flipped] == x[~flipped])
    # sd of the fraction = 0.0079; allow 5 sd
    assert abs(flipped.float().mean().item() - 0.5) < 0.04


def test_generator_makes_it_reproducible_and_global_seed_too():
    x = torch.rand(16, 3, 8, 8)
    a = RandomCropFlip(generator=_gen(5))(x)
    b = RandomCropFlip(generator=_gen(5))(x)
    c = RandomCropFlip(generator=_gen(6))(x)
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(7)
    d = RandomCropFlip()(x)
    torch.manual_seed(7)
    e = RandomCropFlip()(x)
    assert torch.equal(d, e)


def test_channels_last_is_preserved_and_values_agree():
    x = torch.rand(6, 3, 8, 8)
    out = RandomCropFlip(generator=_gen(8))(x)
    out_cl = RandomCropFlip(generator=_gen(8))(x.contiguous(memory_format=torch.channels_last))
    assert out_cl.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(out_cl, out)
    assert out.is_contiguous()


def test_gradients_flow_to_pixels_and_empty_batch():
    x = torch.rand(4, 3, 8, 8, requires_grad=True)
    RandomCropFlip(generator=_gen(9))(x).sum().backward()
    # each output pixel comes from one input pixel or from padding: grads are 0 or 1
    assert set(x.grad.unique().tolist()) <= {0.0, 1.0}
    assert x.grad.sum() > 0
    assert RandomCropFlip()(torch.rand(0, 3, 8, 8)).shape == (0, 3, 8, 8)


def test_errors_and_pickling():
    with pytest.raises(ValueError, match=r"\(n, c, h, w\)"):
        RandomCropFlip()(torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="padding"):
        RandomCropFlip(padding=-1)(torch.rand(1, 3, 8, 8))
    aug = pickle.loads(pickle.dumps(RandomCropFlip(3, generator=_gen(1))))
    assert aug(torch.rand(2, 1, 4, 4)).shape == (2, 1, 4, 4)
    assert "padding=3" in repr(aug)


def test_runs_on_the_batch_device():
    # "meta" stands in for an accelerator: offsets and indices are created on x.device
    out = RandomCropFlip()(torch.rand(4, 3, 8, 8, device="meta"))
    assert out.device.type == "meta" and out.shape == (4, 3, 8, 8)
