"""Progress bars (tqdm): M2MOverSampler's translation and M2MClassifier's ERM phase of g."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from m2m_sampler import M2MClassifier, M2MOverSampler
from m2m_sampler.datasets import load_digits_lt
from m2m_sampler.longtail.models import MLP

#: What tqdm draws: ``<desc>: 100%|<bar>| n/n [elapsed<remaining, rate]``.
FULL_BAR = re.compile(r"100%\|[^|]*\| (\d+)/\1 ")


@pytest.fixture(scope="module")
def digits():
    return load_digits_lt(imbalance_ratio=10, return_X_y=True)


@pytest.mark.parametrize("verbose", [0, 1])
def test_over_sampler_bar_only_when_verbose(digits, capsys, verbose):
    X, y, _, _ = digits
    sampler = M2MOverSampler(
        beta=0.99, step_size=0.5, clip=(0, 1), batch_size=64, random_state=0, verbose=verbose
    )
    sampler.fit_resample(X, y)
    captured = capsys.readouterr()
    assert captured.out == ""
    if not verbose:
        assert captured.err == ""
        return
    bars = [line for line in re.split(r"[\r\n]", captured.err) if "translating" in line]
    assert bars and all(line.startswith("[M2MOverSampler] translating") for line in bars)
    # The bar ends full, at the number of translations sent to the engine (the ones that
    # survived the beta draw): accepted + rejected by gamma.
    done = FULL_BAR.search(bars[-1])
    assert done, bars[-1]
    n_translated = sum(
        s["n_accepted"] + s["n_rejected_gamma"] for s in sampler.class_stats_.values()
    )
    assert int(done.group(1)) == n_translated


def _classifier(verbose, **kwargs):
    return M2MClassifier(
        MLP,
        module__n_features=64,
        module__n_classes=10,
        module__hidden=(16,),
        lr=0.05,
        max_epochs=2,
        start_epoch=1,
        g_epochs=3,
        batch_size=128,
        beta=0.9,
        n_steps=2,
        clip=(0.0, 1.0),
        random_state=0,
        verbose=verbose,
        **kwargs,
    )


@pytest.mark.parametrize("verbose", [0, 1])
def test_g_erm_phase_shows_a_bar_when_verbose(digits, capsys, verbose):
    X, y, _, _ = digits
    torch.manual_seed(0)
    clf = _classifier(verbose).fit(X, y)
    err = capsys.readouterr().err
    if not verbose:
        assert "g (ERM)" not in err and "%|" not in err
        return
    # One bar per epoch of g's ERM phase (skorch's ProgressBar), named by epoch.
    for epoch in (1, 2, 3):
        assert f"g (ERM) epoch {epoch}/3" in err
    assert "g (ERM) epoch 4" not in err
    n_batches = int(np.ceil(len(y) / 128))
    assert f"0/{n_batches} [" in err  # the bar counts the epoch's batches
    assert len(clf.g_net_.history) == 3


def test_no_second_bar_when_the_user_adds_one(digits, capsys):
    from skorch.callbacks import ProgressBar

    X, y, _, _ = digits
    clf = _classifier(1, callbacks=[ProgressBar()]).fit(X, y)
    bars = [n for n, cb in clf.g_net_.callbacks_ if isinstance(cb, ProgressBar)]
    assert bars == ["ProgressBar"]  # the user's, copied; no g_progress
    assert "g (ERM)" not in capsys.readouterr().err
    clf = _classifier(1).fit(X, y)
    bars = [n for n, cb in clf.g_net_.callbacks_ if isinstance(cb, ProgressBar)]
    assert bars == ["g_progress"]
