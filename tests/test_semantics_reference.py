"""The paper's semantics, pinned against independent numpy references (issue 10, item 8).

Every expected value here is computed in plain numpy from the paper (Eq. 2-5, Algorithm 1)
and the authors' batch-wise rule, never with the library's own helpers:

* Eq. (2) for a linear ``g`` (logits ``W x + b``) and a linear ``f``: the gradient of
  ``CE(g(x), k) + lam * f_k0(x)`` is ``W^T (softmax(W x + b) - e_k) + lam * W_f[k0]``;
  every step is ``x <- clip(x - eta * d / ||d||_2)`` (per-sample L2 norm, clip after
  every step), from ``x0`` itself when ``noise=0``;
* acceptance: ``softmax(g(x*))[k] >= gamma`` for the *target* class ``k``, and a
  Bernoulli draw of probability ``1 - beta^((N_k0 - N_k)^+)``;
* the online rule: entry ``i`` of a batch is a target with probability
  ``1 - N_{y_i}/N_max``, its source drawn in the batch among strictly larger classes with
  weights ``1 - beta^gap``.

The same checks run through every front end (``translate``, ``M2MOverSampler``,
``generate_batches``, ``M2MClassifier``). ``tools/mutation_check.py`` shows that each of
them fails when the corresponding piece of the semantics is broken.
"""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from torch import nn

from m2m_sampler import M2MOverSampler
from m2m_sampler.classifier import M2MClassifier
from m2m_sampler.engine.generation import generate_batches
from m2m_sampler.engine.translation import translate

# --------------------------------------------------------------------- numpy references


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def ref_translate(x0, k0, k, Wg, bg, *, Wf=None, lam=0.0, eta, T, clip=None,
                  clip_every_step=True):
    """Eq. (2), T steps, for linear g (and f), in float64 numpy. Returns (x*, p_k(x*))."""
    x = np.array(x0, dtype=np.float64)
    k0 = np.asarray(k0)
    k = np.asarray(k)
    n, n_classes = len(x), Wg.shape[0]
    onehot = np.eye(n_classes)[k]
    if clip is not None:
        x = np.clip(x, *clip)
    for _ in range(T):
        d = (_softmax(x @ Wg.T + bg) - onehot) @ Wg
        if Wf is not None and lam:
            d = d + lam * Wf[k0]
        norm = np.sqrt((d * d).sum(axis=1, keepdims=True))
        x = x - eta * np.where(norm > 0, d / np.where(norm > 0, norm, 1.0), 0.0)
        if clip is not None and clip_every_step:
            x = np.clip(x, *clip)
    if clip is not None:
        x = np.clip(x, *clip)
    return x, _softmax(x @ Wg.T + bg)[np.arange(n), k]


def _linear(W, b, dtype=torch.float64):
    layer = nn.Linear(W.shape[1], W.shape[0])
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(W))
        layer.bias.copy_(torch.as_tensor(b))
    return layer.to(dtype)


def _binomial_ok(successes, trials, p, n_sigma=4.0):
    """|successes - trials p| within n_sigma binomial standard deviations (+1 for p in {0,1})."""
    sd = np.sqrt(trials * p * (1 - p))
    return abs(successes - trials * p) <= n_sigma * sd + 1.0


@pytest.fixture(scope="module")
def linear_problem():
    """K=4 classes, D=6 features, 12 sources with k0 != k."""
    rng = np.random.RandomState(7)
    Wg, bg = rng.randn(4, 6), rng.randn(4)
    Wf = 3.0 * rng.randn(4, 6)
    x0 = rng.uniform(-0.8, 0.8, size=(12, 6))
    k0 = rng.randint(0, 4, size=12)
    k = (k0 + 1 + rng.randint(0, 3, size=12)) % 4
    return Wg, bg, Wf, x0, k0, k


def _translate(g, f, x0, k0, k, **kw):
    x, p = translate(g, torch.as_tensor(x0), torch.as_tensor(k0), torch.as_tensor(k), f=f,
                     noise=0.0, **kw)
    return x.numpy(), p.numpy()


# --------------------------------------------------------------------- Eq. (2): translate


@pytest.mark.parametrize("scale", [1e-4, 1.0, 20.0])
def test_every_step_has_length_eta(linear_problem, scale):
    """Normalised steps: ||x_t - x_{t-1}||_2 == eta whatever the gradient's magnitude."""
    Wg, bg, _, x0, k0, k = linear_problem
    g = _linear(scale * Wg, scale * bg)
    prev = x0
    for t in range(1, 4):
        x, _ = _translate(g, None, x0, k0, k, step_size=0.15, n_steps=t)
        np.testing.assert_allclose(np.linalg.norm(x - prev, axis=1), 0.15, rtol=1e-6)
        prev = x


def test_lambda_term_is_f_logit_of_the_source_class(linear_problem):
    """With a constant g (no CE gradient) one step moves x by -eta * W_f[k0] / ||W_f[k0]||."""
    _, _, Wf, x0, k0, k = linear_problem
    g = _linear(np.zeros((4, 6)), np.zeros(4))
    x, _ = _translate(g, _linear(Wf, np.zeros(4)), x0, k0, k, lam=0.5, step_size=0.25,
                      n_steps=1)
    unit = Wf / np.linalg.norm(Wf, axis=1, keepdims=True)
    np.testing.assert_allclose(x, x0 - 0.25 * unit[k0], atol=1e-6, rtol=0)
    assert np.abs(x - (x0 - 0.25 * unit[k])).max() > 0.05  # the target's row would differ
    # and through several steps with a real g, against the reference
    Wg, bg = linear_problem[0], linear_problem[1]
    x_ref, _ = ref_translate(x0, k0, k, Wg, bg, Wf=Wf, lam=2.0, eta=0.2, T=5)
    x, _ = _translate(_linear(Wg, bg), _linear(Wf, np.zeros(4)), x0, k0, k, lam=2.0,
                      step_size=0.2, n_steps=5)
    np.testing.assert_allclose(x, x_ref, atol=1e-5, rtol=0)
    x_wrong, _ = ref_translate(x0, k, k, Wg, bg, Wf=Wf, lam=2.0, eta=0.2, T=5)
    assert np.abs(x - x_wrong).max() > 1e-2


def test_clip_is_applied_after_every_step(linear_problem):
    Wg, bg, Wf, x0, k0, k = linear_problem
    clip = (-0.3, 0.3)
    g, f = _linear(Wg, bg), _linear(Wf, np.zeros(4))
    for t in range(1, 7):
        x, _ = _translate(g, f, x0, k0, k, lam=0.7, step_size=0.4, n_steps=t, clip=clip)
        assert x.min() >= clip[0] - 1e-12 and x.max() <= clip[1] + 1e-12
        x_ref, _ = ref_translate(x0, k0, k, Wg, bg, Wf=Wf, lam=0.7, eta=0.4, T=t, clip=clip)
        np.testing.assert_allclose(x, x_ref, atol=1e-5, rtol=0)
    # the scenario discriminates: clipping only at the end gives another x*
    x_end, _ = ref_translate(x0, k0, k, Wg, bg, Wf=Wf, lam=0.7, eta=0.4, T=6, clip=clip,
                             clip_every_step=False)
    assert np.abs(x - x_end).max() > 1e-2


def test_returned_probability_is_g_of_the_target_class(linear_problem):
    Wg, bg, _, x0, k0, k = linear_problem
    x, p = _translate(_linear(Wg, bg), None, x0, k0, k, step_size=0.1, n_steps=2)
    probs = _softmax(x @ Wg.T + bg)
    np.testing.assert_allclose(p, probs[np.arange(len(k)), k], atol=1e-6, rtol=0)
    assert np.abs(p - probs[np.arange(len(k)), k0]).max() > 1e-2


@pytest.mark.parametrize("clip", [None, (-0.5, 0.5)])
def test_translate_equals_numpy_eq2(linear_problem, clip):
    Wg, bg, Wf, x0, k0, k = linear_problem
    x_ref, p_ref = ref_translate(x0, k0, k, Wg, bg, Wf=Wf, lam=0.7, eta=0.3, T=7, clip=clip)
    x, p = _translate(_linear(Wg, bg), _linear(Wf, np.zeros(4)), x0, k0, k,
                      lam=0.7, step_size=0.3, n_steps=7, clip=clip)
    np.testing.assert_allclose(x, x_ref, atol=1e-5, rtol=0)
    np.testing.assert_allclose(p, p_ref, atol=1e-5, rtol=0)


# --------------------------------------------------------------------- M2MOverSampler


def _oversampler_data(counts, n_features, seed):
    rng = np.random.RandomState(seed)
    centers = rng.randn(len(counts), n_features)
    X = np.vstack([c + 0.6 * rng.randn(n, n_features) for c, n in zip(centers, counts)])
    y = np.repeat(np.arange(len(counts)), counts)
    return X.astype(np.float32), y


def test_over_sampler_rows_are_numpy_translations_of_their_sources():
    counts = np.array([90, 40, 15])
    X, y = _oversampler_data(counts, 5, seed=1)
    rng = np.random.RandomState(2)
    Wg, bg, Wf = rng.randn(3, 5), 0.3 * rng.randn(3), 2.0 * rng.randn(3, 5)
    sampler = M2MOverSampler(
        _linear(Wg, bg, torch.float32), f=_linear(Wf, np.zeros(3), torch.float32),
        beta=0.9, lam=0.8, gamma=0.6, step_size=0.25, n_steps=6, noise=0.0,
        clip="minmax", random_state=0,
    )
    X_res, y_res = sampler.fit_resample(X, y)
    new_x, new_y = X_res[len(X):], y_res[len(X):]
    acc = sampler.is_translated_
    src = sampler.source_indices_[acc]
    assert acc.sum() > 20 and (~acc).sum() > 5  # both outcomes occur
    # sources: real rows of strictly larger classes, never of the target class
    assert np.all(counts[y[src]] > counts[new_y[acc]]), "a source is not of a larger class"
    clip = (X.min(axis=0), X.max(axis=0))
    x_ref, p_ref = ref_translate(X[src], y[src], new_y[acc], Wg, bg, Wf=Wf, lam=0.8,
                                 eta=0.25, T=6, clip=clip)
    np.testing.assert_allclose(new_x[acc], x_ref, atol=2e-5, rtol=0)
    assert np.all(p_ref >= 0.6)
    # rejected rows are real samples of their class
    np.testing.assert_array_equal(new_x[~acc], X[sampler.source_indices_[~acc]])
    assert np.all(y[sampler.source_indices_[~acc]] == new_y[~acc])
    # gamma rejections exist and agree with the reference count of failures
    stats = sampler.class_stats_
    assert sum(s["n_rejected_gamma"] for s in stats.values()) > 0


@pytest.mark.parametrize("target_prob_high", [True, False])
def test_over_sampler_gamma_tests_the_target_class(target_prob_high):
    """g is constant: p = softmax(b). Acceptance follows p[k], not p[k0]."""
    counts = np.array([60, 30, 10])
    X, y = _oversampler_data(counts, 3, seed=3)
    # p = [0.05, 0.15, 0.80] or reversed: the target's (or the source's) probability high
    p = np.array([0.05, 0.15, 0.80]) if target_prob_high else np.array([0.80, 0.15, 0.05])
    g = _linear(np.zeros((3, 3)), np.log(p), torch.float32)
    sampler = M2MOverSampler(g, beta=0.5, gamma=0.5, n_steps=2, noise=0.0, random_state=0)
    sampler.fit_resample(X, y)
    stats = sampler.class_stats_
    translated = {c: s["n_accepted"] + s["n_rejected_gamma"] for c, s in stats.items()}
    assert translated[1] > 0 and translated[2] > 0
    if target_prob_high:  # class 2 (p=0.8) passes, class 1 (p=0.15) fails
        assert stats[2]["n_accepted"] == translated[2]
        assert stats[1]["n_accepted"] == 0
    else:  # sources have p=0.8 or 0.15, targets 0.15 / 0.05: nothing passes
        assert stats[1]["n_accepted"] == 0 and stats[2]["n_accepted"] == 0


def test_over_sampler_beta_rejection_rate():
    """n_rejected_beta of class k ~ Binomial(n_new, sum_k0 Q(k0|k) beta^(N_k0 - N_k))."""
    counts = np.array([300, 120, 60])
    beta = 0.99
    X, y = _oversampler_data(counts, 2, seed=4)
    g = _linear(np.zeros((3, 2)), np.zeros(3), torch.float32)
    sampler = M2MOverSampler(g, beta=beta, gamma=0.0, n_steps=1, noise=0.0, random_state=0)
    sampler.fit_resample(X, y)
    for k in (1, 2):
        gap = counts - counts[k]
        accept = np.where(gap > 0, 1 - beta ** np.maximum(gap, 0), 0.0)
        q = accept / accept.sum()  # Eq. (5)
        p_reject = float((q * (1 - accept)).sum())
        s = sampler.class_stats_[k]
        assert s["n_new"] == counts[0] - counts[k]
        assert s["n_rejected_beta"] > 0, "no beta rejection at all"
        assert _binomial_ok(s["n_rejected_beta"], s["n_new"], p_reject), (k, s, p_reject)


# --------------------------------------------------------------------- the online rule

ONLINE_COUNTS = np.array([400, 200, 100, 50, 20])
ONLINE_BETA = 0.99


@pytest.fixture(scope="module")
def online_run():
    """400 batches of 50 entries, 10 per class, through generate_batches (one engine call)."""
    K, per_class, n_batches = len(ONLINE_COUNTS), 10, 400
    gen = torch.Generator().manual_seed(0)
    rng = np.random.RandomState(0)
    batches = []
    for _ in range(n_batches):
        y = torch.as_tensor(rng.permutation(np.repeat(np.arange(K), per_class)))
        batches.append((torch.as_tensor(rng.randn(len(y), 2)), y))
    g = _linear(np.zeros((K, 2)), np.zeros(K))
    result = generate_batches(batches, g, torch.as_tensor(ONLINE_COUNTS), beta=ONLINE_BETA,
                              gamma=0.0, n_steps=1, noise=0.0, generator=gen)
    ys = [y.numpy() for _, y in batches]
    tgt = np.concatenate([y[p.numpy()] for y, p in zip(ys, result.target_pos)])
    src = np.concatenate([y[p.numpy()] for y, p in zip(ys, result.source_pos)])
    surv = np.concatenate([s.numpy() for s in result.survived_beta])
    return result, tgt, src, surv, n_batches * per_class


def test_online_target_share_is_one_minus_n_over_nmax(online_run):
    result, tgt, _, _, n_per_class = online_run
    # only the largest class lacks sources, and it is never a target
    assert result.n_no_source == 0, "the largest class was drawn as a target"
    assert result.n_targets == len(tgt)
    assert np.sum(tgt == 0) == 0, "the largest class was drawn as a target"
    for c in range(1, len(ONLINE_COUNTS)):
        p = 1 - ONLINE_COUNTS[c] / ONLINE_COUNTS.max()
        share = np.sum(tgt == c) / n_per_class
        assert _binomial_ok(np.sum(tgt == c), n_per_class, p), f"class {c}: {share} vs {p}"


def test_online_sources_from_strictly_larger_classes_weighted_by_beta(online_run):
    _, tgt, src, _, _ = online_run
    assert np.all(ONLINE_COUNTS[src] > ONLINE_COUNTS[tgt]), "a source is not of a larger class"
    for k in range(1, len(ONLINE_COUNTS)):
        gap = ONLINE_COUNTS - ONLINE_COUNTS[k]
        w = np.where(gap > 0, 1 - ONLINE_BETA ** np.maximum(gap, 0), 0.0)
        q = w / w.sum()  # every class has 10 entries in every batch
        n_k = np.sum(tgt == k)
        for k0 in range(len(ONLINE_COUNTS)):
            hits = np.sum((tgt == k) & (src == k0))
            assert _binomial_ok(hits, n_k, q[k0]), f"{k0}->{k}: {hits / n_k} vs {q[k0]}"


def test_online_beta_survival_rate(online_run):
    result, tgt, src, surv, _ = online_run
    assert result.n_rejected_beta == int((~surv).sum()) > 0, "no beta rejection at all"
    assert result.n_translated == int(surv.sum())
    for k in range(1, len(ONLINE_COUNTS)):
        for k0 in range(k):
            pair = (tgt == k) & (src == k0)
            p = 1 - ONLINE_BETA ** (ONLINE_COUNTS[k0] - ONLINE_COUNTS[k])
            rate = surv[pair].mean()
            assert _binomial_ok(surv[pair].sum(), pair.sum(), p), f"{k0}->{k}: {rate} vs {p}"


def test_generate_batches_slots_are_numpy_translations_of_their_sources(linear_problem):
    Wg, bg, Wf, _, _, _ = linear_problem
    counts = torch.tensor([40, 20, 10, 5])
    rng = np.random.RandomState(5)
    batches = []
    for _ in range(6):
        y = rng.permutation(np.repeat(np.arange(4), 4))
        batches.append((torch.as_tensor(rng.uniform(-0.8, 0.8, (16, 6))), torch.as_tensor(y)))
    gamma = 0.5
    result = generate_batches(batches, _linear(Wg, bg), counts, f=_linear(Wf, np.zeros(4)),
                              beta=0.8, lam=0.7, gamma=gamma, step_size=0.3, n_steps=5,
                              noise=0.0, clip=(-1.0, 1.0),
                              generator=torch.Generator().manual_seed(1))
    n_acc = n_rej = 0
    for (x, y), x_new, tp, sp, surv, acc in zip(batches, result.x, result.target_pos,
                                                  result.source_pos, result.survived_beta,
                                                  result.accepted):
        x, y, x_new = x.numpy(), y.numpy(), x_new.numpy()
        tp, sp, surv, acc = tp.numpy(), sp.numpy(), surv.numpy(), acc.numpy()
        assert np.all(counts.numpy()[y[sp]] > counts.numpy()[y[tp]]), "source not larger"
        x_ref, p_ref = ref_translate(x[sp], y[sp], y[tp], Wg, bg, Wf=Wf, lam=0.7, eta=0.3,
                                     T=5, clip=(-1.0, 1.0))
        np.testing.assert_array_equal(acc, surv & (p_ref >= gamma))
        np.testing.assert_allclose(x_new[tp[acc]], x_ref[acc], atol=1e-5, rtol=0)
        untouched = np.setdiff1d(np.arange(len(y)), tp[acc])
        np.testing.assert_array_equal(x_new[untouched], x[untouched])
        n_acc += acc.sum()
        n_rej += (surv & ~acc).sum()
    assert n_acc > 5 and n_rej > 5  # gamma decides both ways


# --------------------------------------------------------------------- M2MClassifier


class _Batches(Callback):
    """Collects the training batches skorch trains on (the generated ones)."""

    def initialize(self):
        self.batches = []
        return self

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training:
            x, y = batch
            self.batches.append((x.detach().cpu().numpy().copy(), y.detach().cpu().numpy()))


def _classifier(f, g, **kwargs):
    params = dict(optimizer=torch.optim.SGD, lr=0.0, batch_size=24, train_split=None,
                  start_epoch=0, noise=0.0, random_state=0, verbose=0)
    params.update(kwargs)
    return M2MClassifier(f, g=g, **params)


class _SetF(Callback):
    """From epoch ``epoch`` on, f's logit of class 0 becomes ``c * x[1]`` (set in place)."""

    def __init__(self, epoch, c):
        self.epoch, self.c = epoch, c

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) - 1 == self.epoch:
            with torch.no_grad():
                net.module_.weight[0] = torch.tensor([0.0, self.c])


def test_classifier_lambda_term_uses_the_live_f():
    """g's CE pushes x[0] up to acceptance; f's source logit, once set, turns the steps
    along x[1] and every translation fails gamma. The switch happens mid-training, on
    ``module_`` itself: a classifier ignoring f, or using a snapshot of it, or f's logit of
    the target class (row 1 stays zero), keeps accepting."""
    rng = np.random.RandomState(9)
    X = np.vstack([
        np.c_[-0.5 + 0.05 * rng.randn(40), rng.randn(40)],
        np.c_[1.0 + 0.05 * rng.randn(10), rng.randn(10)],
    ]).astype(np.float32)
    y = np.repeat([0, 1], [40, 10])
    g = _linear(np.array([[0.0, 0.0], [4.0, 0.0]]), np.zeros(2), torch.float32)
    f = _linear(np.zeros((2, 2)), np.zeros(2), torch.float32)
    clf = _classifier(f, g, max_epochs=4, beta=0.5, lam=1.0, gamma=0.9, step_size=0.5,
                      n_steps=4, callbacks=[("set_f", _SetF(epoch=2, c=1000.0))])
    torch.manual_seed(0)  # the class-balanced sampler
    clf.fit(X, y)
    translated = clf.history[:, "m2m_translated"]
    accepted = clf.history[:, "m2m_accepted"]
    assert all(t > 0 for t in translated)
    # f's row of class 0 is zero: CE alone, accepted
    assert accepted[:2] == translated[:2], "CE steps alone should pass gamma"
    # the live f turns the steps away: all rejected
    assert accepted[2:] == [0, 0], "the lambda term does not use the live f's source logit"
    # the same seeds with lam=0: accepted throughout
    f0 = _linear(np.zeros((2, 2)), np.zeros(2), torch.float32)
    clf0 = _classifier(f0, g, max_epochs=4, beta=0.5, lam=0.0, gamma=0.9, step_size=0.5,
                       n_steps=4, callbacks=[("set_f", _SetF(epoch=2, c=1000.0))])
    torch.manual_seed(0)  # the class-balanced sampler
    clf0.fit(X, y)
    assert clf0.history[:, "m2m_accepted"] == clf0.history[:, "m2m_translated"]


def test_classifier_trains_on_numpy_translations_of_larger_class_sources():
    """Every trained row is a real row or the reference x* of a real row of a larger class."""
    counts = np.array([48, 24, 12])
    X, y = _oversampler_data(counts, 3, seed=6)
    rng = np.random.RandomState(8)
    Wg, bg, Wf = rng.randn(3, 3), 0.3 * rng.randn(3), 2.0 * rng.randn(3, 3)
    f = _linear(Wf, np.zeros(3), torch.float32)  # lr=0: f stays what the reference knows
    rec = _Batches()
    clf = _classifier(f, _linear(Wg, bg, torch.float32), max_epochs=2, beta=0.9, lam=0.8,
                      gamma=0.6, step_size=0.3, n_steps=5, callbacks=[("rec", rec)])
    torch.manual_seed(0)  # the class-balanced sampler
    clf.fit(X, y)
    # candidates: every real row translated toward every smaller class
    cand_x, cand_k, cand_p = [], [], []
    for k in range(3):
        larger = np.flatnonzero(counts[y] > counts[k])
        xr, pr = ref_translate(X[larger], y[larger], np.full(len(larger), k), Wg, bg, Wf=Wf,
                               lam=0.8, eta=0.3, T=5)
        cand_x.append(xr)
        cand_k.append(np.full(len(larger), k))
        cand_p.append(pr)
    cand_x, cand_k, cand_p = map(np.concatenate, (cand_x, cand_k, cand_p))
    n_translated = 0
    for xb, yb in rec.batches:
        for row, label in zip(xb, yb):
            if np.any(np.all(X[y == label] == row, axis=1)):
                continue  # a real sample of its class
            dist = np.abs(cand_x - row).max(axis=1)
            dist[cand_k != label] = np.inf
            best = int(np.argmin(dist))
            assert dist[best] < 2e-5, f"a trained row of class {label} matches no reference x*"
            assert cand_p[best] >= 0.6
            n_translated += 1
    assert n_translated == int(sum(clf.history[:, "m2m_accepted"])) > 10
