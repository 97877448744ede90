"""M2MClassifier: the batch-wise generation rule, g's isolation, and the sklearn contract."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch
from _loaders import SliceLoader, small_m2m_params
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from skorch.callbacks import Callback, EpochScoring
from torch import nn

from m2m_sampler.classifier import HISTORY_KEYS, M2MClassifier
from m2m_sampler.datasets import load_digits_lt
from m2m_sampler.engine.generation import generate_batches
from m2m_sampler.engine.planning import acceptance_probability
from m2m_sampler.longtail.losses import LDAMLoss
from m2m_sampler.longtail.models import MLP
from m2m_sampler.net import NetClassifier
from m2m_sampler.training.callbacks import DeferredResampling, DeferredReweighting
from m2m_sampler.training.sampling import ClassBalancedSampler

# ----------------------------------------------------------------------------- helpers


def _params(**kwargs):
    """Small, fast settings on digits-LT (see ``_loaders.small_m2m_params``)."""
    return small_m2m_params(**kwargs)


@pytest.fixture(scope="module")
def g_module(digits):
    """A g trained by ERM on digits-LT (a plain torch module)."""
    X, y, _, _ = digits
    torch.manual_seed(0)
    net = NetClassifier(
        MLP,
        module__n_features=64,
        module__n_classes=10,
        module__hidden=(64,),
        optimizer=torch.optim.SGD,
        optimizer__momentum=0.9,
        lr=0.05,
        max_epochs=25,
        batch_size=64,
        iterator_train__shuffle=True,
        verbose=0,
    ).fit(X, y)
    return net.module_.eval()


class _BatchRecorder(Callback):
    """Per epoch: the training batches (X, y) as trained and the predictions made on them."""

    def initialize(self):
        self.batches_ = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.batches_.append([])

    def on_batch_end(self, net, batch=None, training=None, y_pred=None, **kwargs):
        if training:
            X, y = batch
            self.batches_[-1].append(
                (X.detach().cpu().numpy(), y.cpu().numpy(), y_pred.argmax(1).cpu().numpy())
            )


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


# ----------------------------------------------------------------------------- the rule


COUNTS = np.array([200, 100, 50, 20, 10])


class _Linear(nn.Module):
    def __init__(self, d, k, seed):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.w = nn.Parameter(torch.randn(d, k, generator=gen))

    def forward(self, x):
        return x @ self.w


def _balanced_batches(n_batches, batch, d, seed):
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        y = torch.randint(len(COUNTS), (batch,), generator=gen)
        out.append((torch.randn(batch, d, generator=gen), y))
    return out


def test_batch_rule_targets_seeds_acceptance():
    beta, gamma, d = 0.99, 0.6, 6
    g = _Linear(d, len(COUNTS), seed=1).requires_grad_(False)
    batches = _balanced_batches(400, 50, d, seed=2)
    gen = torch.Generator().manual_seed(3)
    res = generate_batches(batches, g, torch.as_tensor(COUNTS), beta=beta, gamma=gamma,
                           step_size=0.5, n_steps=3, generator=gen)
    n_entries = np.zeros(len(COUNTS))
    n_target = np.zeros(len(COUNTS))
    seed_freq_expected, source_classes = [], []
    p_accept, survived = [], []
    w = acceptance_probability(COUNTS, beta)  # [k, k0]
    for (x, y), x_new, tp, sp, surv, acc in zip(batches, res.x, res.target_pos, res.source_pos,
                                               res.survived_beta, res.accepted):
        y = y.numpy()
        tp, sp, surv, acc = tp.numpy(), sp.numpy(), surv.numpy(), acc.numpy()
        n_entries += np.bincount(y, minlength=len(COUNTS))
        n_target += np.bincount(y[tp], minlength=len(COUNTS))
        # seeds always from strictly larger classes; the largest class is never a target
        assert np.all(COUNTS[y[sp]] > COUNTS[y[tp]])
        assert not np.any(y[tp] == 0)
        # source class given the batch: proportional to (entries of the class) x weight
        per_class = np.bincount(y, minlength=len(COUNTS))
        for k in y[tp]:
            q = per_class * w[k]
            seed_freq_expected.append(q / q.sum())
        source_classes.extend(y[sp].tolist())
        p_accept.extend(w[y[tp], y[sp]].tolist())
        survived.extend(surv.tolist())
        # rejected targets (and every other entry) keep their real sample ...
        keep = np.ones(len(y), dtype=bool)
        keep[tp[acc]] = False
        np.testing.assert_array_equal(x_new.numpy()[keep], x.numpy()[keep])
        # ... accepted ones are translations that g puts in their class with prob >= gamma
        if acc.any():
            assert not np.allclose(x_new.numpy()[tp[acc]], x.numpy()[tp[acc]])
            prob = g(x_new[tp[acc]]).softmax(1)[torch.arange(int(acc.sum())), y[tp[acc]]]
            assert torch.all(prob >= gamma - 1e-6)
        assert not np.any(acc & ~surv)
    # every batch holds class 0, so every target found a source
    assert res.n_no_source == 0
    share = n_target / n_entries
    # ~4000 entries per class: binomial s.e. <= 0.008; 5 sigma
    np.testing.assert_allclose(share, 1 - COUNTS / COUNTS.max(), atol=0.04)
    freq = np.bincount(source_classes, minlength=len(COUNTS)) / len(source_classes)
    np.testing.assert_allclose(freq, np.mean(seed_freq_expected, axis=0), atol=0.02)
    assert np.mean(survived) == pytest.approx(np.mean(p_accept), abs=0.02)
    # totals are consistent
    assert res.n_targets == res.n_no_source + res.n_rejected_beta + res.n_translated
    assert res.n_translated == res.n_rejected_gamma + res.n_accepted
    assert res.n_accepted == sum(int(a.sum()) for a in res.accepted)
    assert 0 < res.n_accepted < res.n_translated  # gamma rejected some, accepted others


def test_targets_without_a_larger_class_in_the_batch_keep_their_sample():
    g = _Linear(3, len(COUNTS), seed=0)
    x = torch.randn(40, 3)
    y = torch.full((40,), 3)
    y[:20] = 4  # only classes 3 and 4 present; class 4 can be seeded by class 3 only
    res = generate_batches([(x, y)], g, torch.as_tensor(COUNTS), beta=0.0, gamma=0.0,
                           generator=torch.Generator().manual_seed(0))
    assert np.all(y[res.source_pos[0]].numpy() == 3)
    # class 3 entries become targets (p = 0.9) but have no larger class in the batch
    assert res.n_no_source > 0 and res.n_no_source + len(res.target_pos[0]) == res.n_targets
    assert np.all(y[res.target_pos[0]].numpy() == 4)


def test_one_engine_call_for_several_batches_is_the_per_batch_rule():
    """With noise=0 and no f term, translating M batches together gives exactly the
    per-batch result (same random draws, same translations)."""
    g = _Linear(5, len(COUNTS), seed=4)
    batches = _balanced_batches(6, 30, 5, seed=5)
    kw = dict(beta=0.99, gamma=0.5, step_size=0.3, n_steps=3, noise=0.0)
    together = generate_batches(batches, g, torch.as_tensor(COUNTS),
                                generator=torch.Generator().manual_seed(7), **kw)
    gen = torch.Generator().manual_seed(7)
    for i, batch in enumerate(batches):
        alone = generate_batches([batch], g, torch.as_tensor(COUNTS), generator=gen, **kw)
        torch.testing.assert_close(alone.x[0], together.x[i])
        assert torch.equal(alone.accepted[0], together.accepted[i])


# ----------------------------------------------------------------------------- end to end


def test_fit_digits_lt_generation_history_and_honest_train_scores(digits):
    X, y, X_test, y_test = digits
    torch.manual_seed(0)
    rec = _BatchRecorder()
    clf = M2MClassifier(
        MLP,
        **_params(max_epochs=8, start_epoch=5, g_epochs=15),
        callbacks=[rec, EpochScoring("accuracy", on_train=True, name="train_acc")],
    ).fit(X, y)
    h = clf.history
    assert clf.start_epoch_ == 5 and clf.g_fitted_ and clf.g_net_ is not None
    assert len(clf.g_net_.history) == 15
    np.testing.assert_array_equal(clf.class_counts_, np.bincount(y))
    assert h[:, "m2m_active"] == [False] * 5 + [True] * 3
    assert all(h[e, key] == 0 for e in range(5) for key in HISTORY_KEYS[1:])
    for e in range(5, 8):
        row = h[e]
        assert row["m2m_entries"] == len(y)
        assert row["m2m_targets"] == (row["m2m_no_source"] + row["m2m_rejected_beta"]
                                      + row["m2m_translated"])
        assert row["m2m_translated"] == row["m2m_rejected_gamma"] + row["m2m_accepted"]
        assert row["m2m_accepted"] > 0 and row["m2m_translate_time"] > 0
        # share of targets ~ mean over classes of 1 - N_k / N_max (balanced batches)
        expected = 1 - np.mean(np.bincount(y)) / np.bincount(y).max()
        assert row["m2m_targets"] / len(y) == pytest.approx(expected, abs=0.08)
    # The trained batches: real rows carry their dataset label; the other rows are
    # exactly the accepted translations of the epoch.
    real = {row.tobytes(): label for row, label in zip(X, y)}
    for e, batches in enumerate(rec.batches_):
        n_translated_rows = 0
        for xb, yb, _ in batches:
            for row, label in zip(xb, yb):
                if row.tobytes() in real:
                    assert real[row.tobytes()] == label
                else:
                    n_translated_rows += 1
                    assert np.all((row >= 0) & (row <= 1))  # clip=(0, 1)
        assert n_translated_rows == h[e, "m2m_accepted"]
        # the cached train-side score pairs each prediction with the label trained on
        acc = np.mean(np.concatenate([p == yb for _, yb, p in batches]))
        assert h[e, "train_acc"] == pytest.approx(acc)
    # balanced from start_epoch on: the smallest class is drawn ~ 1/10 of the time
    late = np.concatenate([yb for b in rec.batches_[5:] for _, yb, _ in b])
    early = np.concatenate([yb for b in rec.batches_[:5] for _, yb, _ in b])
    assert np.mean(late == 9) > 0.06 and np.mean(early == 9) == pytest.approx(12 / 519)
    assert clf.score(X_test, y_test) > 0.5


def test_g_frozen_in_eval_and_outside_the_optimizer_through_fit(digits):
    X, y, _, _ = digits
    torch.manual_seed(1)
    g = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(),
                      nn.Dropout(0.3), nn.Linear(32, 10))
    with torch.no_grad():  # a g with non-trivial BatchNorm statistics
        g.train()(torch.as_tensor(X))
    g.train()  # the caller's g in train mode, trainable: neither may change
    before = _state(g)

    class Watch(Callback):
        def initialize(self):
            self.checks_ = 0
            return self

        def on_grad_computed(self, net, named_parameters, **kwargs):
            assert all(not m.training for m in net.g_.modules())
            assert all(not p.requires_grad and p.grad is None for p in net.g_.parameters())
            assert net.module_.training
            opt_params = {p for grp in net.optimizer_.param_groups for p in grp["params"]}
            assert not opt_params & set(net.g_.parameters())
            assert not {p for _, p in named_parameters} & set(net.g_.parameters())
            self.checks_ += 1

    watch = Watch()
    clf = M2MClassifier(MLP, g=g, **_params(max_epochs=4, start_epoch=2, gamma=0.0),
                        callbacks=[watch]).fit(X, y)
    assert watch.checks_ == 4 * 9  # every step of every epoch
    assert sum(clf.history[:, "m2m_accepted"]) > 0
    _assert_same_state(before, _state(clf.g_))  # g_ never trained nor its BN updated
    # the caller's g is untouched: weights, buffers, modes, requires_grad
    _assert_same_state(before, _state(g))
    assert all(m.training for m in g.modules())
    assert all(p.requires_grad for p in g.parameters())
    assert clf.g_ is not g


def test_user_given_skorch_g_is_not_mutated_and_classes_are_checked(digits):
    X, y, _, _ = digits
    labels = np.array([f"d{i}" for i in range(10)])
    torch.manual_seed(2)
    g_net = NetClassifier(MLP, module__n_features=64, module__n_classes=10, max_epochs=3,
                          lr=0.1, verbose=0).fit(X, labels[y])
    before = _state(g_net.module_)
    g_net.module_.train()
    clf = M2MClassifier(MLP, g=g_net, **_params(max_epochs=2, start_epoch=1)).fit(X, labels[y])
    _assert_same_state(before, _state(g_net.module_))
    assert g_net.module_.training
    assert all(p.requires_grad for p in g_net.module_.parameters())
    assert clf.g_net_ is None
    with pytest.raises(ValueError, match="fitted on classes"):
        M2MClassifier(MLP, g=g_net, **_params(max_epochs=2, start_epoch=1)).fit(
            X, np.char.add("e", y.astype(str)))


def test_translate_ahead_with_no_f_term_trains_exactly_the_same(digits, g_module):
    """lam=0, noise=0: the f snapshot does not matter and the random draws are the same,
    so reading 3 batches ahead must give the very same network as the per-batch rule."""
    X, y, X_test, _ = digits
    nets = []
    for ahead in (1, 3):
        torch.manual_seed(3)
        nets.append(M2MClassifier(MLP, g=g_module, **_params(lam=0.0, noise=0.0,
                                                            translate_ahead=ahead)).fit(X, y))
    a, b = nets
    assert a.history[:, "m2m_accepted"] == b.history[:, "m2m_accepted"]
    assert sum(a.history[:, "m2m_accepted"]) > 0
    _assert_same_state(_state(a.module_), _state(b.module_))


def test_drs_is_the_same_run_without_generation(digits):
    """generation=False equals NetClassifier + DeferredResampling (same sampler logic)."""
    X, y, _, _ = digits
    common = {k: v for k, v in _params().items()
              if k not in ("start_epoch", "beta", "gamma", "step_size", "n_steps", "clip",
                           "random_state")}
    torch.manual_seed(4)  # random_state=None: torch's global stream, as the reference
    drs = M2MClassifier(MLP, generation=False, start_epoch=3, random_state=None, **common)
    drs.fit(X, y)
    torch.manual_seed(4)
    ref = NetClassifier(MLP, callbacks=[DeferredResampling(start_epoch=3)],
                        iterator_train__sampler=ClassBalancedSampler(), **common).fit(X, y)
    _assert_same_state(_state(drs.module_), _state(ref.module_))
    assert drs.g_net_ is None and not drs.g_fitted_  # no g is trained for DRS
    assert sum(drs.history[:, "m2m_targets"]) == 0


def test_ldam_drw_plus_m2m(digits, g_module):
    X, y, _, _ = digits
    torch.manual_seed(5)
    clf = M2MClassifier(
        MLP, g=g_module, criterion=LDAMLoss, criterion__class_counts=np.bincount(y),
        criterion__s=5.0, callbacks=[DeferredReweighting(start_epoch=3)], **_params(),
    ).fit(X, y)
    assert clf.criterion_.weight is not None
    assert sum(clf.history[:, "m2m_accepted"]) > 0
    assert np.all(np.isfinite(clf.history[:, "train_loss"]))


def test_custom_loader_batch_transform_and_amp(digits, g_module):
    X, y, _, _ = digits
    seen = []

    def transform(x):  # on the device, every training batch, before the generation
        seen.append(x.shape[0])
        return x.flip(-1)

    torch.manual_seed(10)
    clf = M2MClassifier(MLP, g=g_module, iterator_train=SliceLoader, batch_transform=transform,
                        amp_dtype=torch.bfloat16, **_params(max_epochs=3, start_epoch=1))
    clf.fit(X, y)
    assert sum(seen) == 3 * len(y)
    assert clf.history[-1, "m2m_accepted"] > 0


# ----------------------------------------------------------------------------- sklearn API


def test_string_labels_match_integer_labels(digits, g_module):
    X, y, X_test, y_test = digits
    labels = np.array([f"d{i}" for i in range(10)])
    out = []
    for yy in (y, labels[y]):
        torch.manual_seed(6)
        out.append(M2MClassifier(MLP, g=g_module, **_params()).fit(X, yy))
    ints, strs = out
    np.testing.assert_array_equal(strs.classes_, labels)
    np.testing.assert_allclose(strs.predict_proba(X_test), ints.predict_proba(X_test))
    np.testing.assert_array_equal(strs.predict(X_test), labels[ints.predict(X_test)])
    assert strs.score(X_test, labels[y_test]) == ints.score(X_test, y_test)


def test_grid_search_in_sklearn_and_imblearn_pipelines_shares_g(digits, g_module):
    X, y, _, _ = digits
    clf = M2MClassifier(MLP, g=g_module, **_params(max_epochs=3, start_epoch=2))
    torch.manual_seed(7)
    search = GridSearchCV(
        ImbPipeline([("id", FunctionTransformer()), ("clf", clf)]),
        {"clf__gamma": [0.5, 0.9], "clf__beta": [0.9]},
        cv=2,
        scoring="balanced_accuracy",
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 2
    best = search.best_estimator_.named_steps["clf"]
    assert best.g is g_module and best.gamma in (0.5, 0.9)
    assert sum(best.history[:, "m2m_accepted"]) > 0
    pipe = make_pipeline(StandardScaler(), clone(clf).set_params(clip=None, max_epochs=2))
    assert pipe.fit(X, y).predict(X[:5]).shape == (5,)


def test_clone_set_params_pickle_save_load(digits, g_module, tmp_path):
    X, y, X_test, _ = digits
    torch.manual_seed(8)
    clf = M2MClassifier(MLP, g=g_module, **_params(max_epochs=3, start_epoch=2)).fit(X, y)
    proba = clf.predict_proba(X_test)

    c = clone(clf)
    assert c.g is g_module and not c.initialized_
    assert c.get_params()["gamma"] == clf.gamma and c.translate_ahead == 1
    # set_params on a fitted net: names starting with 'g' are plain parameters
    clf.set_params(gamma=0.7, g_epochs=3, generation=True)
    assert clf.gamma == 0.7
    clf.set_params(gamma=0.5)

    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(restored.predict_proba(X_test), proba)
    _assert_same_state(_state(restored.g_), _state(clf.g_))
    assert not restored.g_.training and not any(p.requires_grad for p in restored.g_.parameters())

    clf.save_params(f_params=tmp_path / "f.pt", f_g=tmp_path / "g.pt")
    fresh = M2MClassifier(MLP, **_params(max_epochs=3, start_epoch=2)).initialize()
    assert not fresh.g_fitted_
    fresh.load_params(f_params=tmp_path / "f.pt", f_g=tmp_path / "g.pt")
    assert fresh.g_fitted_
    _assert_same_state(_state(fresh.g_), _state(clf.g_))
    _assert_same_state(_state(fresh.module_), _state(clf.module_))
    out = fresh.forward(torch.as_tensor(X_test)).softmax(1).numpy()
    np.testing.assert_allclose(out, proba, rtol=1e-5, atol=1e-6)


def test_g_none_round_trips_f_and_g(digits, tmp_path):
    X, y, _, _ = digits
    torch.manual_seed(9)
    clf = M2MClassifier(MLP, **_params(max_epochs=3, start_epoch=2, g_epochs=4)).fit(X, y)
    # g_ is the ERM net's module, not f
    _assert_same_state(_state(clf.g_), _state(clf.g_net_.module_))
    assert not torch.equal(clf.g_.net[0].weight, clf.module_.net[0].weight)
    clf.save_params(f_params=tmp_path / "f.pt", f_g=tmp_path / "g.pt")
    fresh = M2MClassifier(MLP, **_params(max_epochs=3, start_epoch=2)).initialize()
    fresh.load_params(f_params=tmp_path / "f.pt", f_g=tmp_path / "g.pt")
    _assert_same_state(_state(fresh.g_), _state(clf.g_))
    restored = pickle.loads(pickle.dumps(clf))
    _assert_same_state(_state(restored.g_), _state(clf.g_))
    assert clone(clf).g is None


def test_errors(digits, g_module):
    X, y, _, _ = digits
    with pytest.raises(ValueError, match="beta"):
        M2MClassifier(MLP, g=g_module, **_params(beta=1.5)).fit(X, y)
    with pytest.raises(ValueError, match="translate_ahead"):
        M2MClassifier(MLP, g=g_module, **_params(translate_ahead=0)).fit(X, y)
    for amp_dtype in (torch.float32, "bf16"):
        with pytest.raises(TypeError, match="'amp_dtype' parameter of M2MClassifier"):
            M2MClassifier(MLP, g=g_module, **_params(amp_dtype=amp_dtype)).fit(X, y)
    with pytest.raises(ValueError, match="balanced_batches=False"):
        M2MClassifier(MLP, g=g_module, iterator_train__sampler=ClassBalancedSampler(),
                      **_params()).fit(X, y)
    wrong = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    with pytest.raises(ValueError, match="one logit per class"):
        M2MClassifier(MLP, g=wrong, **_params(max_epochs=2, start_epoch=0)).fit(X, y)
    with pytest.raises(TypeError, match="floating point"):
        M2MClassifier(MLP, g=g_module, batch_transform=lambda x: (x * 16).to(torch.uint8),
                      **_params(max_epochs=1, start_epoch=0)).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a valid configuration warns about nothing
        M2MClassifier(MLP, g=copy.deepcopy(g_module), iterator_train__shuffle=True,
                      **_params(max_epochs=1, start_epoch=0)).fit(X, y)


def test_bad_input_fails_early_with_clear_messages():
    X, y, _, _ = load_digits_lt(return_X_y=True)
    base = dict(module__n_features=64, module__n_classes=10, max_epochs=2, verbose=0)
    X_nan = X.copy()
    X_nan[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        M2MClassifier(MLP, **base).fit(X_nan, y)
    with pytest.raises(ValueError, match="single class"):
        M2MClassifier(MLP, **base).fit(X[y == 0], y[y == 0])
    # g is checked before the first epoch, not at start_epoch (here never reached)
    wide = nn.Linear(64, 7)
    state = {k: v.clone() for k, v in wide.state_dict().items()}
    with pytest.raises(ValueError, match="one logit per class"):
        M2MClassifier(MLP, g=wide, **base).fit(X, y)
    for key, value in wide.state_dict().items():
        torch.testing.assert_close(value, state[key])
    with pytest.raises(RuntimeError, match="g failed on a training batch"):
        M2MClassifier(MLP, g=nn.Linear(60, 10), **base).fit(X, y)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            M2MClassifier(MLP, device="cuda", **base).fit(X, y)


# ----------------------------------------------------------------------------- structure


def test_grid_search_with_g_none_on_float32_input():
    """sklearn >= 1.9 searches set private attributes on the estimator
    (``_parent_callback_ctx``); g's ERM net must not take them for parameters."""
    rng = np.random.default_rng(0)
    X32 = rng.normal(size=(90, 5)).astype(np.float32)
    y = np.repeat([0, 1, 2], [50, 30, 10])
    torch.manual_seed(0)
    search = GridSearchCV(
        M2MClassifier(MLP, module__n_features=5, module__n_classes=3, max_epochs=3, verbose=0),
        {"gamma": [.5, .9]}, cv=2, error_score="raise",
    ).fit(X32, y)
    assert search.best_estimator_.g_net_ is not None


class _Count(Callback):
    """A user callback: counts the epochs it sees."""

    def initialize(self):
        self.epochs_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1


def test_g_net_is_this_net_with_its_parameters_and_callbacks_but_plain_erm(digits):
    from skorch.callbacks import LRScheduler, ProgressBar

    X, y, _, _ = digits
    counter = _Count()
    drw = DeferredReweighting(start_epoch=1)
    clf = M2MClassifier(
        MLP, criterion=LDAMLoss, criterion__class_counts=np.bincount(y), criterion__s=5.0,
        channels_last=True, batch_transform=lambda x: x,
        callbacks=[("count", counter), ("drw", drw), ("bar", ProgressBar()),
                   ("lr", LRScheduler(torch.optim.lr_scheduler.StepLR, step_size=1))],
        callbacks__drw__start_epoch=2,
        **_params(max_epochs=3, start_epoch=1, g_epochs=4),
    )
    torch.manual_seed(11)
    clf.fit(X, y)
    g_net = clf.g_net_
    assert type(g_net) is M2MClassifier and len(g_net.history) == 4
    # the net's own parameters: optimizer, lr, batch size, speed options ...
    for name in ("optimizer", "lr", "batch_size", "optimizer__momentum", "channels_last",
                 "batch_transform", "module__hidden", "device"):
        assert g_net.get_params()[name] is getattr(clf, name) or (
            g_net.get_params()[name] == getattr(clf, name))
    # ... but plain ERM: cross-entropy, no generation, never class-balanced
    assert isinstance(g_net.criterion_, nn.CrossEntropyLoss)
    assert not g_net.generation and g_net.g is None and not g_net.sampler_.balanced
    names = dict(g_net.callbacks_)
    assert {"count", "bar", "lr"} <= names.keys()
    assert "drw" not in names and "generation_log" not in names
    assert "m2m_accepted" not in g_net.history[-1]
    # copies: the net's callbacks saw only its own epochs
    assert counter.epochs_ == 3 and names["count"].epochs_ == 4
    assert g_net.history[:, "event_lr"] == pytest.approx([0.05 * 0.1**e for e in range(4)])
    assert clf.criterion_.weight is not None  # f keeps DRW (from epoch 2)


def test_default_callbacks_own_the_resampling_and_the_history_columns(digits, g_module):
    from m2m_sampler.training.generation_log import GenerationLog
    from m2m_sampler.training.timing import TIMING_KEYS, TrainingTimer

    X, y, _, _ = digits
    torch.manual_seed(12)
    clf = M2MClassifier(MLP, g=g_module, **_params(max_epochs=3, start_epoch=1)).fit(X, y)
    cbs = dict(clf.callbacks_)
    assert isinstance(cbs["resampling"], DeferredResampling)
    assert isinstance(cbs["generation_log"], GenerationLog)
    assert isinstance(cbs["timer"], TrainingTimer)
    assert cbs["resampling"].start_epoch is None and clf.sampler_.balanced
    assert clf.get_params_for("iterator_train")["sampler"] is clf.sampler_
    assert set(HISTORY_KEYS) | set(TIMING_KEYS) <= set(clf.history[-1])
    # the log's last totals are the last row; initialize resets them
    log = cbs["generation_log"]
    assert log.active_ and log.totals_["m2m_accepted"] == clf.history[-1, "m2m_accepted"]
    log.initialize()
    assert not log.active_ and sum(log.totals_.values()) == 0
    # switching the re-sampling off needs balanced_batches=False
    with pytest.raises(ValueError, match="'resampling'"):
        M2MClassifier(MLP, g=g_module, callbacks__resampling=None,
                      **_params(max_epochs=1)).fit(X, y)
    plain = M2MClassifier(MLP, g=g_module, balanced_batches=False,
                          **_params(max_epochs=2, start_epoch=1)).fit(X, y)
    assert "resampling" not in dict(plain.callbacks_)
    assert plain.history[-1, "m2m_active"]


def test_translation_parameters_share_the_samplers_spec():
    from m2m_sampler import M2MOverSampler
    from m2m_sampler.engine.params import TRANSLATION_PARAMETER_DOCS

    for name, text in TRANSLATION_PARAMETER_DOCS.items():
        assert text in M2MClassifier.__doc__, name
    for name, bad in [("beta", 1.5), ("lam", -1.0), ("gamma", 2.0), ("step_size", 0.0),
                      ("n_steps", 0), ("noise", -0.5), ("clip", "0-1"),
                      ("amp_dtype", torch.float32)]:
        with pytest.raises(ValueError) as clf_err:
            M2MClassifier(MLP, **_params(**{name: bad})).initialize()
        with pytest.raises(ValueError) as sampler_err:
            M2MOverSampler(**{name: bad}).fit_resample(np.zeros((4, 2)), [0, 0, 0, 1])
        assert type(clf_err.value) is type(sampler_err.value)
        assert str(clf_err.value) == str(sampler_err.value).replace(
            "M2MOverSampler", "M2MClassifier")
    with pytest.raises(ValueError, match="'translate_ahead' parameter of M2MClassifier"):
        M2MClassifier(MLP, translate_ahead=0, **_params()).initialize()
