"""The translation engine (Eq. 2, Algorithm 1 lines 7-11) against hand computations."""

import numpy as np
import pytest
import torch
from torch import nn

from m2m_sampler.engine.translation import random_start, target_probability, translate


def _linear(weight, bias, dtype=torch.float64):
    layer = nn.Linear(weight.shape[1], weight.shape[0]).to(dtype)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight))
        layer.bias.copy_(torch.as_tensor(bias))
    return layer


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _numpy_translate(W, b, x0, k0, k, *, Wf=None, lam=0.0, eta, T, clip=None):
    """Algorithm 1 lines 8-11 for linear g (and f), written out with the closed-form gradient.

    d/dx CE(Wx+b, k) = W^T (softmax(Wx+b) - e_k);  d/dx f_k0(x) = Wf[k0].
    """
    x = x0.astype(np.float64).copy()
    n = len(x)
    for _ in range(T):
        p = _softmax(x @ W.T + b)
        p[np.arange(n), k] -= 1.0
        d = p @ W
        if Wf is not None:
            d = d + lam * Wf[k0]
        norm = np.linalg.norm(d, axis=1, keepdims=True)
        x = x - eta * d / np.maximum(norm, 1e-300)
        if clip is not None:
            x = np.clip(x, *clip)
    return x


@pytest.fixture
def linear_problem():
    rng = np.random.RandomState(0)
    W = rng.randn(4, 6)
    b = rng.randn(4)
    Wf = rng.randn(4, 6)
    x0 = rng.randn(9, 6)
    k0 = rng.randint(0, 4, size=9)
    k = (k0 + 1 + rng.randint(0, 3, size=9)) % 4
    return W, b, Wf, x0, k0, k


def test_linear_g_steps_match_closed_form(linear_problem):
    W, b, _, x0, k0, k = linear_problem
    g = _linear(W, b)
    x_star, prob = translate(
        g, torch.tensor(x0), k0, k, step_size=0.3, n_steps=7, noise=0.0
    )
    expected = _numpy_translate(W, b, x0, k0, k, eta=0.3, T=7)
    np.testing.assert_allclose(x_star.numpy(), expected, atol=1e-10)
    np.testing.assert_allclose(
        prob.numpy(), _softmax(expected @ W.T + b)[np.arange(len(k)), k], atol=1e-10
    )
    # every step has length eta exactly (no clip): the path length is T * eta at most
    assert np.all(np.linalg.norm(x_star.numpy() - x0, axis=1) <= 7 * 0.3 + 1e-9)


def test_lambda_term_uses_f_logit_of_seed_class(linear_problem):
    W, b, Wf, x0, k0, k = linear_problem
    g, f = _linear(W, b), _linear(Wf, np.zeros(4))
    x_star, _ = translate(
        g, torch.tensor(x0), k0, k, f=f, lam=0.7, step_size=0.2,
        n_steps=5, noise=0.0,
    )
    expected = _numpy_translate(W, b, x0, k0, k, Wf=Wf, lam=0.7, eta=0.2, T=5)
    np.testing.assert_allclose(x_star.numpy(), expected, atol=1e-10)
    # lam=0 or f=None: the f term is skipped
    no_f, _ = translate(g, torch.tensor(x0), k0, k, step_size=0.2,
                        n_steps=5, noise=0.0)
    lam0, _ = translate(g, torch.tensor(x0), k0, k, f=f, lam=0.0,
                        step_size=0.2, n_steps=5, noise=0.0)
    np.testing.assert_array_equal(no_f.numpy(), lam0.numpy())
    assert not np.allclose(no_f.numpy(), x_star.numpy())


def test_known_direction_binary_linear():
    # logits = [-x_1, x_1]: towards class 1 the normalised step is exactly +e_1.
    g = _linear(np.array([[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]), np.zeros(2))
    x0 = torch.tensor([[-2.0, 0.5, 3.0], [-1.0, -4.0, 0.0]])
    x_star, _ = translate(g, x0, [0, 0], [1, 1], step_size=0.25, n_steps=4, noise=0.0)
    np.testing.assert_allclose(x_star.numpy(), x0.numpy() + np.array([1.0, 0.0, 0.0]), atol=1e-6)


def test_clip_and_per_feature_bounds(linear_problem):
    W, b, _, x0, k0, k = linear_problem
    g = _linear(W, b)
    x_star, _ = translate(
        g, torch.tensor(x0), k0, k, step_size=0.5, n_steps=10,
        noise=0.0, clip=(-0.5, 0.5),
    )
    expected = _numpy_translate(W, b, np.clip(x0, -0.5, 0.5), k0, k, eta=0.5, T=10,
                                clip=(-0.5, 0.5))
    np.testing.assert_allclose(x_star.numpy(), expected, atol=1e-10)
    low = torch.full((6,), -0.1)
    low[0] = -5.0
    x_star, _ = translate(g, torch.tensor(x0), k0, k, step_size=0.5,
                          n_steps=10, clip=(low, None))
    assert torch.all(x_star >= low - 1e-7)


def test_chunking_does_not_change_the_result(linear_problem):
    W, b, Wf, x0, k0, k = linear_problem
    g, f = _linear(W, b), _linear(Wf, np.zeros(4))
    x = torch.tensor(x0)
    a, pa = translate(g, x, k0, k, f=f, noise=0.0, batch_size=None)
    c, pc = translate(g, x, k0, k, f=f, noise=0.0, batch_size=2)
    torch.testing.assert_close(a, c)
    torch.testing.assert_close(pa, pc)
    calls = []
    translate(g, x, k0, k, batch_size=4, callback=lambda done, total: calls.append(done))
    assert calls == [4, 8, 9]


def test_random_start_has_the_requested_radius_and_is_reproducible():
    x0 = torch.zeros(5, 3, 4, 4)
    a = random_start(x0, 0.05, torch.Generator().manual_seed(3))
    b = random_start(x0, 0.05, torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a.flatten(1).norm(dim=1), torch.full((5,), 0.05))
    x_star, _ = translate(nn.Sequential(nn.Flatten(), nn.Linear(48, 3)), x0, [0] * 5, [1] * 5,
                          n_steps=0, step_size=0.1, noise=0.5,
                          generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(x_star, a)


def test_zero_gradient_sample_does_not_move():
    g = nn.Linear(3, 2)
    with torch.no_grad():
        g.weight.zero_()
        g.bias.zero_()
    x0 = torch.randn(4, 3)
    x_star, prob = translate(g, x0, [0] * 4, [1] * 4, noise=0.0)
    torch.testing.assert_close(x_star, x0)
    torch.testing.assert_close(prob, torch.full((4,), 0.5))


class _BNNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(4 * 16, 3)

    def forward(self, x):
        h = self.drop(torch.relu(self.bn(self.conv(x))))
        return self.head(h.flatten(1))


def test_models_run_in_eval_mode_and_are_restored_untouched():
    torch.manual_seed(0)
    g, f = _BNNet(), _BNNet()
    for m in (g, f):  # give BN non-trivial running statistics
        m.train()
        with torch.no_grad():
            m(torch.randn(32, 1, 4, 4) * 3 + 1)
    g.train()
    g.bn.eval()  # a deliberately mixed state must come back as it was
    f.eval()
    f.head.weight.requires_grad_(False)
    state_g = {k: v.clone() for k, v in g.state_dict().items()}
    state_f = {k: v.clone() for k, v in f.state_dict().items()}
    modes_g = [m.training for m in g.modules()]
    flags_f = [p.requires_grad for p in f.parameters()]
    x0 = torch.rand(6, 1, 4, 4)
    x1, p1 = translate(g, x0, [0] * 6, [2] * 6, f=f, noise=0.0)
    assert [m.training for m in g.modules()] == modes_g
    assert not f.training
    assert [p.requires_grad for p in f.parameters()] == flags_f
    for model, state in ((g, state_g), (f, state_f)):
        for key, value in model.state_dict().items():
            torch.testing.assert_close(value, state[key])  # running stats untouched too
        assert all(p.grad is None for p in model.parameters())
    # eval mode was used: deterministic (no dropout) and identical to an eval-mode model
    g.eval()
    x2, p2 = translate(g, x0, [0] * 6, [2] * 6, f=f, noise=0.0)
    torch.testing.assert_close(x1, x2)
    torch.testing.assert_close(p1, p2)


def test_works_under_no_grad_and_inference_mode(linear_problem):
    W, b, _, x0, k0, k = linear_problem
    g = _linear(W, b)
    x = torch.tensor(x0)
    ref, _ = translate(g, x, k0, k, noise=0.0)
    with torch.no_grad():
        a, _ = translate(g, x, k0, k, noise=0.0)
    with torch.inference_mode():
        xi = torch.tensor(x0)
        c, _ = translate(g, xi, k0, k, noise=0.0)
    torch.testing.assert_close(a, ref)
    torch.testing.assert_close(c.clone(), ref)


def test_bfloat16_model_and_autocast():
    torch.manual_seed(0)
    g32 = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    g16 = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    g16.load_state_dict(g32.state_dict())
    g16 = g16.to(torch.bfloat16)
    x0 = torch.randn(10, 8)
    ref, pref = translate(g32, x0, [0] * 10, [1] * 10, noise=0.0)
    for model, amp in ((g16, None), (g32, torch.bfloat16)):
        x_star, prob = translate(model, x0, [0] * 10, [1] * 10, noise=0.0, amp_dtype=amp)
        assert x_star.dtype == torch.float32 and prob.dtype == torch.float32
        assert torch.isfinite(x_star).all()
        # each step keeps its exact length, only the direction carries bf16 error
        assert (x_star - ref).norm(dim=1).max() < 0.3
        assert (prob - pref).abs().max() < 0.1


def test_output_dtype_follows_input_and_prob_matches_g(linear_problem):
    W, b, _, x0, k0, k = linear_problem
    g = _linear(W, b)
    x_star, prob = translate(g, torch.tensor(x0), k0, k)  # float64 sources
    assert x_star.dtype == torch.float64
    torch.testing.assert_close(
        prob, target_probability(g, x_star.float(), torch.as_tensor(k)), atol=1e-6, rtol=0
    )


def test_bad_arguments():
    g = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="k0 has"):
        translate(g, torch.zeros(4, 3), [0, 0], [1, 1, 1, 1])
    with pytest.raises(ValueError, match="shape"):
        translate(g, torch.zeros(3), [0], [1])
    with pytest.raises(ValueError, match="logits of shape"):
        translate(nn.Identity(), torch.zeros(2, 2, 2), [0, 0], [1, 1])
    with pytest.raises(ValueError, match="clip"):
        translate(g, torch.zeros(2, 3), [0, 0], [1, 1], clip=(0.0,))
