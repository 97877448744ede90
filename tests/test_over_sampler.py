"""M2MOverSampler: Algorithm 1 end to end, the imblearn API, errors and non-mutation."""

import copy
import math
import pickle
from collections import Counter

import numpy as np
import pytest
import torch
from imblearn.pipeline import Pipeline
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from torch import nn

from m2m_sampler import M2MOverSampler
from m2m_sampler._compat import InvalidParameterError
from m2m_sampler._torch_utils import module_device
from m2m_sampler.engine.planning import acceptance_probability, source_class_distribution


def _blobs(counts, n_features=2, seed=0, scale=0.3):
    """Gaussian blobs of the given sizes, class c centred at c along every axis."""
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(n, n_features) * scale + c for c, n in enumerate(counts)])
    y = np.repeat(np.arange(len(counts)), counts)
    return X, y


class TowardsX1(nn.Module):
    """Linear logits ``z_c = c * 10 * x_1``: a step towards a higher class moves along +x_1.

    For a target class ``k`` the CE gradient w.r.t. ``x`` is ``(E_p[c] - k) * 10 * e_1``,
    so each normalised step is exactly ``+e_1`` while g's expected class is below ``k``.
    """

    def __init__(self, n_classes, n_features=2):
        super().__init__()
        self.register_buffer("w", torch.arange(n_classes, dtype=torch.float32) * 10)
        self.n_features = n_features

    def forward(self, x):
        return x[:, :1] * self.w


def _confident_sampler(**kw):
    params = dict(g=TowardsX1(3), step_size=0.5, n_steps=6, noise=0.0, random_state=0)
    params.update(kw)
    return M2MOverSampler(**params)


def test_known_direction_and_output_layout():
    X, y = _blobs([60, 30, 10])
    X[:, 0] = -5.0  # every seed starts far on the "class 0" side: all steps go along +x_1
    sampler = _confident_sampler(gamma=0.0, beta=0.0, device="cpu")
    X_res, y_res = sampler.fit_resample(X, y)
    assert Counter(y_res) == {0: 60, 1: 60, 2: 60}
    np.testing.assert_array_equal(X_res[: len(X)], X)  # originals kept, in order
    np.testing.assert_array_equal(y_res[: len(y)], y)
    new_X, new_y = X_res[len(X):], y_res[len(y):]
    assert np.all(sampler.is_translated_)  # beta=0, gamma=0: every translation accepted
    seeds = sampler.source_indices_
    assert np.all(y[seeds] < new_y)  # sources come from strictly larger classes
    np.testing.assert_allclose(new_X, X[seeds] + np.array([6 * 0.5, 0.0]), atol=1e-6)
    assert list(np.unique(new_y)) == [1, 2]  # grouped by class, largest never a target
    assert np.all(np.diff(new_y) >= 0)


def test_gamma_rejection_replaces_with_real_samples():
    X, y = _blobs([60, 30, 10])
    X[:, 0] = -5.0
    # after 6 steps of 0.5, x_1 = -2: g is certain of class 0, so gamma=0.5 rejects all
    sampler = _confident_sampler(gamma=0.5, beta=0.0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert not sampler.is_translated_.any()
    new_X, new_y = X_res[len(X):], y_res[len(y):]
    seeds = sampler.source_indices_
    np.testing.assert_array_equal(new_X, X[seeds])  # real samples of the target class
    np.testing.assert_array_equal(y[seeds], new_y)
    for c in (1, 2):
        s = sampler.class_stats_[c]
        assert s["n_rejected_gamma"] == s["n_new"] and s["n_accepted"] == 0


def test_accepted_samples_satisfy_gamma():
    X, y = _blobs([80, 30, 10], n_features=4)
    sampler = M2MOverSampler(beta=0.0, gamma=0.9, step_size=0.5, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    translated = X_res[len(X):][sampler.is_translated_]
    target = np.searchsorted(sampler.classes_, y_res[len(y):][sampler.is_translated_])
    with torch.no_grad():
        device = module_device(sampler.g_)  # CUDA on a GPU machine ('auto')
        prob = sampler.g_(torch.as_tensor(translated, dtype=torch.float32, device=device))
        prob = prob.softmax(1).cpu()
    assert translated.shape[0] > 0
    assert torch.all(prob[torch.arange(len(target)), torch.as_tensor(target)] >= 0.9 - 1e-6)


def test_acceptance_rate_and_seed_classes_follow_beta():
    counts = [900, 400, 100, 40]
    X, y = _blobs(counts)
    beta = 0.995
    sampler = _confident_sampler(g=TowardsX1(4), gamma=0.0, beta=beta, n_steps=1)
    X_res, y_res = sampler.fit_resample(X, y)
    acc = acceptance_probability(counts, beta)
    q, _ = source_class_distribution(counts, beta)
    for k in (2, 3):
        s = sampler.class_stats_[k]
        n = s["n_new"]
        assert n == counts[0] - counts[k]
        assert s["n_rejected_gamma"] == 0 and s["n_fallback"] == 0
        # P(accept) = sum_k0 Q(k0|k) * (1 - beta^gap) for a g that always passes gamma
        p = float((q[k] * acc[k]).sum())
        assert abs(s["n_accepted"] / n - p) < 5 * math.sqrt(p * (1 - p) / n)
        # accepted seeds: class k0 with probability proportional to Q * P_accept
        rows = np.flatnonzero(y_res[len(y):] == k)
        acc_rows = rows[sampler.is_translated_[rows]]
        k0 = y[sampler.source_indices_[acc_rows]]
        dist = q[k] * acc[k] / (q[k] * acc[k]).sum()
        freq = np.bincount(k0, minlength=4) / len(k0)
        np.testing.assert_allclose(freq, dist, atol=5 * math.sqrt(0.25 / len(k0)))


@pytest.mark.parametrize(
    "strategy, expected",
    [
        ("auto", {0: 120, 1: 120, 2: 120, 3: 120}),
        ("not majority", {0: 120, 1: 120, 2: 120, 3: 120}),
        ("minority", {0: 120, 1: 60, 2: 30, 3: 120}),
        ("not minority", {0: 120, 1: 120, 2: 120, 3: 12}),
        ("all", {0: 120, 1: 120, 2: 120, 3: 120}),
        ({1: 70, 3: 50}, {0: 120, 1: 70, 2: 30, 3: 50}),
        (lambda y: {2: 40}, {0: 120, 1: 60, 2: 40, 3: 12}),
    ],
    ids=["auto", "not-majority", "minority", "not-minority", "all", "dict", "callable"],
)
def test_exact_counts_for_every_strategy(strategy, expected):
    X, y = _blobs([120, 60, 30, 12])
    sampler = M2MOverSampler(sampling_strategy=strategy, beta=0.9, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert dict(Counter(y_res)) == expected
    assert X_res.shape == (sum(expected.values()), 2)
    for c, s in sampler.class_stats_.items():
        assert s["n_new"] == expected[c] - np.sum(y == c)
        assert s["n_new"] == (s["n_accepted"] + s["n_rejected_gamma"] + s["n_rejected_beta"]
                              + s["n_fallback"])


def test_float_strategy_binary():
    X, y = _blobs([100, 20])
    X_res, y_res = M2MOverSampler(sampling_strategy=0.5, beta=0.9,
                                  random_state=0).fit_resample(X, y)
    assert Counter(y_res) == {0: 100, 1: 50}


def test_largest_class_is_never_translated_into():
    X, y = _blobs([50, 50, 20])  # two classes tied for largest
    sampler = _confident_sampler(sampling_strategy={0: 70, 1: 60, 2: 50}, gamma=0.0, beta=0.0)
    with pytest.warns(UserWarning, match="no strictly larger class"):
        X_res, y_res = sampler.fit_resample(X, y)
    for c in (0, 1):
        s = sampler.class_stats_[c]
        assert s["n_fallback"] == s["n_new"] and s["n_accepted"] == 0
    rows = np.flatnonzero(np.isin(y_res[len(y):], [0, 1]))
    np.testing.assert_array_equal(X_res[len(X):][rows], X[sampler.source_indices_[rows]])
    assert not sampler.is_translated_[rows].any()
    assert sampler.class_stats_[2]["n_accepted"] == 30


def test_same_random_state_same_output_and_different_otherwise():
    X, y = _blobs([100, 40, 15], n_features=5)
    kw = dict(beta=0.9, gamma=0.5, step_size=0.3)
    a = M2MOverSampler(random_state=7, **kw).fit_resample(X, y)
    b = M2MOverSampler(random_state=7, **kw).fit_resample(X, y)
    c = M2MOverSampler(random_state=8, **kw).fit_resample(X, y)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    rs = np.random.RandomState(3)
    d = M2MOverSampler(random_state=rs, **kw).fit_resample(X, y)
    e = M2MOverSampler(random_state=np.random.RandomState(3), **kw).fit_resample(X, y)
    np.testing.assert_array_equal(d[0], e[0])


def test_with_f_the_lambda_term_changes_the_translation():
    X, y = _blobs([80, 30, 10], n_features=3)
    g = LogisticRegression().fit(X, y)
    f = LogisticRegression(C=0.01).fit(X, y)
    kw = dict(beta=0.0, gamma=0.0, noise=0.0, random_state=0)
    a = M2MOverSampler(g, **kw).fit_resample(X, y)[0]
    b = M2MOverSampler(g, f=f, lam=2.0, **kw).fit_resample(X, y)[0]
    c = M2MOverSampler(g, f=f, lam=0.0, **kw).fit_resample(X, y)[0]
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(a, c)


class SmallCNN(nn.Module):
    def __init__(self, n_classes=3, in_channels=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Linear(4, n_classes)

    def forward(self, x):
        if x.ndim != 4:
            raise RuntimeError(f"expected a 4-D image batch, got {x.ndim}-D")
        return self.head(torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3)))


def test_image_input_shape_and_clip():
    rng = np.random.RandomState(0)
    X = rng.rand(90, 16)
    y = np.repeat([0, 1, 2], [60, 20, 10])
    torch.manual_seed(0)
    g = SmallCNN()
    sampler = M2MOverSampler(g, input_shape=(1, 4, 4), clip=(0.0, 1.0), beta=0.0, gamma=0.0,
                             step_size=0.5, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert X_res.shape == (180, 16)
    assert X_res.min() >= 0.0 and X_res.max() <= 1.0
    assert sampler.is_translated_.all()
    lo, hi = np.full(16, 0.2), np.full(16, 0.8)
    X_res, _ = M2MOverSampler(g, input_shape=[1, 4, 4], clip=(lo, hi), beta=0.0, gamma=0.0,
                              step_size=0.5, random_state=0).fit_resample(X, y)
    assert X_res[90:].min() >= 0.2 - 1e-7 and X_res[90:].max() <= 0.8 + 1e-7
    X_res, _ = M2MOverSampler(g, input_shape=(1, 4, 4), clip="minmax", beta=0.0, gamma=0.0,
                              step_size=5.0, random_state=0).fit_resample(X, y)
    assert np.all(X_res[90:] >= X.min(axis=0) - 1e-7)
    assert np.all(X_res[90:] <= X.max(axis=0) + 1e-7)


def _rgb_data():
    rng = np.random.RandomState(0)
    X = rng.rand(90, 3 * 4 * 4)
    y = np.repeat([0, 1, 2], [60, 20, 10])
    torch.manual_seed(0)
    return X, y, SmallCNN(in_channels=3)


def test_channels_last_same_output_and_callers_g_untouched():
    X, y, g = _rgb_data()
    snap = _Snapshot(g)
    kw = dict(input_shape=(3, 4, 4), clip=(0.0, 1.0), beta=0.0, gamma=0.0, step_size=0.5,
              random_state=0, device="cpu")
    plain = M2MOverSampler(g, **kw)
    X_plain, y_plain = plain.fit_resample(X, y)
    fast = M2MOverSampler(g, f=SmallCNN(in_channels=3), lam=0.0, channels_last=True, **kw)
    X_fast, y_fast = fast.fit_resample(X, y)
    np.testing.assert_array_equal(y_fast, y_plain)
    np.testing.assert_allclose(X_fast, X_plain, rtol=0, atol=1e-5)
    assert fast.g_.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert fast.f_.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert g.conv.weight.is_contiguous()  # the caller's g keeps its layout
    snap.assert_unchanged()
    # a model that views its input as NCHW-contiguous fails early, with the hint

    class ViewingMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(48, 3)

        def forward(self, x):
            return self.lin(x.view(len(x), -1))

    with pytest.raises(RuntimeError, match="must reshape \\(not view\\)"):
        M2MOverSampler(ViewingMLP(), channels_last=True, **kw).fit_resample(X, y)
    M2MOverSampler(ViewingMLP(), **kw).fit_resample(X, y)  # fine without the flag
    # vectors: nothing to reorder, the flag is ignored
    Xb, yb = _blobs([60, 20])
    a = M2MOverSampler(beta=0.9, random_state=0, channels_last=True).fit_resample(Xb, yb)
    b = M2MOverSampler(beta=0.9, random_state=0).fit_resample(Xb, yb)
    np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.parametrize("amp_dtype", [torch.bfloat16, torch.float16], ids=str)
def test_amp_dtype_translates_in_half_precision(amp_dtype, monkeypatch):
    X, y, g = _rgb_data()
    X = X.astype(np.float32)
    kw = dict(input_shape=(3, 4, 4), clip=(0.0, 1.0), beta=0.0, gamma=0.0, step_size=0.5,
              random_state=0, device="cpu")
    seen = []
    forward = SmallCNN.forward

    def spy(self, x):
        out = forward(self, x)
        seen.append(out.dtype)
        return out

    monkeypatch.setattr(SmallCNN, "forward", spy)
    sampler = M2MOverSampler(g, amp_dtype=amp_dtype, **kw)
    X_half, y_half = sampler.fit_resample(X, y)
    # the probe of g at fit time runs in full precision; translation under autocast
    assert seen[0] == torch.float32 and amp_dtype in seen[1:]
    monkeypatch.undo()
    assert X_half.dtype == np.float32
    assert X_half.min() >= 0.0 and X_half.max() <= 1.0
    # same random_state: same output; and close to the full-precision translation
    again, _ = M2MOverSampler(g, amp_dtype=amp_dtype, **kw).fit_resample(X, y)
    np.testing.assert_array_equal(again, X_half)
    full = M2MOverSampler(g, **kw)
    X_full, y_full = full.fit_resample(X, y)
    np.testing.assert_array_equal(y_half, y_full)
    np.testing.assert_array_equal(sampler.source_indices_, full.source_indices_)
    moved = np.abs(X_full[90:] - X[full.source_indices_]).mean()
    assert moved > 0.01
    assert np.abs(X_half[90:] - X_full[90:]).mean() < 0.2 * moved


@pytest.mark.parametrize("amp_dtype", [torch.float32, "bf16", True])
def test_amp_dtype_must_be_a_half_precision_dtype(amp_dtype):
    X, y = _blobs([60, 20])
    with pytest.raises(InvalidParameterError, match="'amp_dtype' parameter"):
        M2MOverSampler(beta=0.9, amp_dtype=amp_dtype).fit_resample(X, y)


def test_dtype_float32_preserved_and_int_converted():
    X, y = _blobs([60, 20])
    X_res, _ = M2MOverSampler(beta=0.9, random_state=0).fit_resample(X.astype(np.float32), y)
    assert X_res.dtype == np.float32
    Xi = (X * 10).astype(np.int64)
    X_res, _ = M2MOverSampler(beta=0.9, random_state=0).fit_resample(Xi, y)
    assert X_res.dtype == np.float64


def test_string_labels():
    X, y = _blobs([60, 20, 10])
    labels = np.array(["cat", "dog", "emu"])[y]
    sampler = M2MOverSampler(beta=0.9, random_state=0)
    X_res, y_res = sampler.fit_resample(X, labels)
    assert Counter(y_res) == {"cat": 60, "dog": 60, "emu": 60}
    assert set(sampler.class_stats_) == {"dog", "emu"}


def test_pipeline_gridsearch_clone_pickle():
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=3,
                               weights=[0.7, 0.2, 0.1], random_state=0)
    pipe = Pipeline([
        ("m2m", M2MOverSampler(beta=0.9, random_state=0)),
        ("clf", LogisticRegression(max_iter=300)),
    ])
    search = GridSearchCV(pipe, {"m2m__gamma": [0.5, 0.9], "m2m__step_size": [0.1, 1.0]},
                          cv=2, scoring="balanced_accuracy")
    search.fit(X, y)
    assert set(search.best_params_) == {"m2m__gamma", "m2m__step_size"}
    assert len(search.cv_results_["mean_test_score"]) == 4
    sampler = M2MOverSampler(LogisticRegression().fit(X, y), beta=0.9, gamma=0.5,
                             random_state=1)
    cloned = clone(sampler)
    assert cloned.get_params()["gamma"] == 0.5 and cloned.g is sampler.g
    X_a, _ = sampler.fit_resample(X, y)
    restored = pickle.loads(pickle.dumps(sampler))
    X_b, _ = restored.fit_resample(X, y)
    np.testing.assert_array_equal(X_a, X_b)
    with torch.no_grad():
        x = torch.as_tensor(X[:5], dtype=torch.float32, device=module_device(sampler.g_))
        torch.testing.assert_close(restored.g_(x), sampler.g_(x))


def test_verbose_reports(capsys):
    X, y = _blobs([60, 20])
    M2MOverSampler(beta=0.9, random_state=0, verbose=2, batch_size=8).fit_resample(X, y)
    err = capsys.readouterr().err
    assert "translating" in err and "source/s" in err and "accepted translations" in err


# ----------------------------------------------------------------- bad input, no mutation
class _Snapshot:
    """Weights, per-module modes and requires_grad flags of a module."""

    def __init__(self, module):
        self.module = module
        self.state = copy.deepcopy(module.state_dict())
        self.modes = [m.training for m in module.modules()]
        self.flags = [p.requires_grad for p in module.parameters()]
        self.grads = [None if p.grad is None else p.grad.clone() for p in module.parameters()]

    def assert_unchanged(self):
        for key, value in self.module.state_dict().items():
            torch.testing.assert_close(value, self.state[key], rtol=0, atol=0)
        assert [m.training for m in self.module.modules()] == self.modes
        assert [p.requires_grad for p in self.module.parameters()] == self.flags
        for p, grad in zip(self.module.parameters(), self.grads):
            if grad is None:
                assert p.grad is None
            else:
                torch.testing.assert_close(p.grad, grad, rtol=0, atol=0)


def _mixed_state_cnn():
    torch.manual_seed(0)
    model = SmallCNN()
    model.train()
    model.bn.eval()
    model.conv.weight.requires_grad_(False)
    return model


def test_callers_objects_untouched_after_success():
    rng = np.random.RandomState(0)
    X = rng.rand(90, 16)
    y = np.repeat([0, 1, 2], [60, 20, 10])
    X_before = X.copy()
    g, f = _mixed_state_cnn(), _mixed_state_cnn()
    f.eval()
    snaps = [_Snapshot(g), _Snapshot(f)]
    sampler = M2MOverSampler(g, f=f, input_shape=(1, 4, 4), beta=0.0, gamma=0.0,
                             random_state=0)
    sampler.fit_resample(X, y)
    np.testing.assert_array_equal(X, X_before)
    for s in snaps:
        s.assert_unchanged()
    assert sampler.g_ is not g and not sampler.g_.training


def test_errors_leave_callers_objects_untouched():
    rng = np.random.RandomState(0)
    X = rng.rand(90, 16)
    y = np.repeat([0, 1, 2], [60, 20, 10])
    X_before = X.copy()
    g = _mixed_state_cnn()
    snap = _Snapshot(g)

    wide = SmallCNN(n_classes=4)
    with pytest.raises(ValueError, match="one logit per class"):
        M2MOverSampler(wide, input_shape=(1, 4, 4)).fit_resample(X, y)
    with pytest.raises(ValueError, match="input_shape"):
        M2MOverSampler(g, input_shape=(1, 5, 5)).fit_resample(X, y)
    with pytest.raises(RuntimeError, match="g failed on a batch") as info:
        M2MOverSampler(g).fit_resample(X, y)  # no input_shape: g gets 2-D rows
    assert "expected a 4-D image batch" in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(ValueError, match="f returns outputs"):
        M2MOverSampler(g, f=wide, input_shape=(1, 4, 4)).fit_resample(X, y)
    X_nan = X.copy()
    X_nan[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        M2MOverSampler(g, input_shape=(1, 4, 4)).fit_resample(X_nan, y)
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        M2MOverSampler(g, input_shape=(1, 4, 4)).fit_resample(X_inf, y)
    with pytest.raises(ValueError, match="class"):
        M2MOverSampler(g, input_shape=(1, 4, 4)).fit_resample(X, np.zeros(90))
    np.testing.assert_array_equal(X, X_before)
    snap.assert_unchanged()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_asked_for_but_absent():
    X, y = _blobs([60, 20])
    with pytest.raises(ValueError, match="CUDA is not available"):
        M2MOverSampler(device="cuda").fit_resample(X, y)
    with pytest.raises(ValueError, match="not a torch device"):
        M2MOverSampler(device="gpu please").fit_resample(X, y)


@pytest.mark.parametrize(
    "params",
    [
        {"beta": 1.5}, {"beta": -0.1}, {"gamma": 2.0}, {"lam": -1.0}, {"step_size": 0.0},
        {"n_steps": -1}, {"n_steps": 0}, {"n_steps": 2.5}, {"noise": -0.1}, {"batch_size": 0},
        {"clip": "zero-one"}, {"sampling_strategy": "most"}, {"input_shape": 16},
        {"device": 3}, {"channels_last": "yes"},
    ],
    ids=str,
)
def test_invalid_hyper_parameters(params):
    X, y = _blobs([60, 20])
    with pytest.raises(InvalidParameterError):
        M2MOverSampler(**params).fit_resample(X, y)


def test_bad_clip_and_sparse():
    X, y = _blobs([60, 20])
    with pytest.raises(ValueError, match="clip"):
        M2MOverSampler(clip=(0.0, 1.0, 2.0)).fit_resample(X, y)
    with pytest.raises(ValueError, match="per-feature clip"):
        M2MOverSampler(clip=(np.zeros(3), None)).fit_resample(X, y)
    from scipy import sparse

    with pytest.raises(TypeError, match="[Ss]parse"):
        M2MOverSampler().fit_resample(sparse.csr_matrix(X), y)


def test_prefitted_g_survives_clone_in_grid_search():
    from sklearn.frozen import FrozenEstimator

    from m2m_sampler.net import NetClassifier

    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=3,
                               weights=[0.7, 0.2, 0.1], random_state=0)
    X = X.astype(np.float32)
    torch.manual_seed(0)
    net = NetClassifier(nn.Linear, module__in_features=6, module__out_features=3,
                        max_epochs=5, lr=0.1, verbose=0).fit(X, y)
    snap = _Snapshot(net.module_)
    for g in (net, LogisticRegression().fit(X, y), FrozenEstimator(LogisticRegression().fit(X, y))):
        pipe = Pipeline([("m2m", M2MOverSampler(g, beta=0.9, random_state=0)),
                         ("clf", LogisticRegression(max_iter=300))])
        search = GridSearchCV(pipe, {"m2m__lam": [0.0, 0.5]}, cv=2, error_score="raise")
        search.fit(X, y)
        assert search.best_estimator_.named_steps["m2m"].g is g
    snap.assert_unchanged()
