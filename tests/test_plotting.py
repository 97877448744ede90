"""m2m_sampler.plotting: the figures draw the numbers they are given (checked on the axes)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from _loaders import small_m2m_params

pytest.importorskip("matplotlib", reason="m2m_sampler.plotting needs matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from m2m_sampler import M2MClassifier, M2MOverSampler  # noqa: E402
from m2m_sampler.datasets import load_digits_lt  # noqa: E402
from m2m_sampler.longtail.models import MLP  # noqa: E402
from m2m_sampler.plotting import (  # noqa: E402
    acceptance_matrix,
    plot_acceptance_matrix,
    plot_cumulative_false_positives,
    plot_per_class_recall,
    plot_translations,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def resampled():
    """digits-LT (ratio 10) resampled by M2MOverSampler with its default g."""
    X, y, _, _ = load_digits_lt(imbalance_ratio=10, return_X_y=True)
    sampler = M2MOverSampler(beta=0.99, step_size=0.5, clip=(0, 1), random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    return sampler, X, y, X_res, y_res


def _independent_counts(sampler, y, y_res):
    """Accepted translations per (source class, target class), from the fitted rows."""
    added = np.flatnonzero(sampler.is_translated_)
    k0 = y[sampler.source_indices_[added]]
    k = y_res[len(y) + added]
    counts = np.zeros((10, 10), dtype=np.int64)
    for a, b in zip(k0, k):
        counts[a, b] += 1
    return counts


def test_acceptance_matrix_of_a_sampler_shows_the_counts(resampled):
    sampler, X, y, X_res, y_res = resampled
    expected = _independent_counts(sampler, y, y_res)
    assert expected.sum() == sampler.is_translated_.sum() > 50
    counts, classes = acceptance_matrix(sampler)
    np.testing.assert_array_equal(counts, expected)
    np.testing.assert_array_equal(classes, np.arange(10))
    # Per target class, the accepted translations of class_stats_.
    for c, stats in sampler.class_stats_.items():
        assert counts[:, c].sum() == stats["n_accepted"]

    ax = plot_acceptance_matrix(sampler)
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), expected)
    assert "source" in ax.get_ylabel() and "target" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(c) for c in range(10)]
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(c) for c in range(10)]
    # Annotations: one per non-zero cell, at (column = target, row = source).
    cells = {
        (round(t.get_position()[1]), round(t.get_position()[0])): int(t.get_text())
        for t in ax.texts
    }
    assert cells == {(i, j): expected[i, j] for i, j in zip(*np.nonzero(expected))}


def test_translation_grid_pairs_sources_translations_and_differences(resampled, tmp_path):
    sampler, X, y, X_res, y_res = resampled
    fig = plot_translations(sampler, X, y, X_res, y_res, image_shape=(8, 8), n_samples=6)
    n = 6
    assert len(fig.axes) == 3 * n
    added = np.flatnonzero(sampler.is_translated_)
    targets_seen = []
    for j in range(n):
        src = np.asarray(fig.axes[j].images[0].get_array())
        new = np.asarray(fig.axes[n + j].images[0].get_array())
        diff = np.asarray(fig.axes[2 * n + j].images[0].get_array())
        assert src.shape == new.shape == diff.shape == (8, 8)
        # The translated image is an accepted added row and the source is its x0 (some
        # translations saturate to the same clipped image: any of them may be the one).
        match = [
            i
            for i in added
            if np.array_equal(X_res[len(X) + i].reshape(8, 8), new)
            and np.array_equal(X[sampler.source_indices_[i]].reshape(8, 8), src)
        ]
        assert match, f"column {j} is not an accepted translation next to its source"
        i = match[0]
        np.testing.assert_allclose(diff, new - src)
        k0, k = y[sampler.source_indices_[i]], y_res[len(X) + i]
        assert k0 != k
        assert fig.axes[j].get_title() == f"{k0} → {k}"
        targets_seen.append(k)
    assert targets_seen == sorted(targets_seen)
    assert len(set(targets_seen)) == n  # spread over the target classes first
    assert [fig.axes[r * n].get_ylabel() for r in range(3)] == [
        "source",
        "translated",
        "difference",
    ]
    fig.savefig(tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 1000


def test_translation_grid_refuses_mismatched_output(resampled):
    sampler, X, y, X_res, y_res = resampled
    with pytest.raises(ValueError, match="original rows followed"):
        plot_translations(sampler, X, y, X_res[:-1], y_res[:-1])
    with pytest.raises(ValueError, match="image_shape"):
        plot_translations(sampler, X, y, X_res, y_res, image_shape=(4, 4))


def test_acceptance_matrix_of_an_m2m_classifier_history():
    X, y, _, _ = load_digits_lt(imbalance_ratio=10, return_X_y=True)
    torch.manual_seed(0)
    clf = M2MClassifier(
        MLP, **small_m2m_params(module__hidden=(32,), max_epochs=5, g_epochs=10)
    ).fit(X, y)
    h = clf.history
    per_epoch = np.asarray(h[:, "m2m_accepted_pairs"])
    assert per_epoch.shape == (5, 10, 10)
    # Each epoch's matrix splits that epoch's accepted count; zeros before start_epoch.
    np.testing.assert_array_equal(per_epoch.sum(axis=(1, 2)), h[:, "m2m_accepted"])
    assert per_epoch[:3].sum() == 0 and per_epoch[3:].sum() > 0
    # Sources come from strictly larger classes (Eq. 5 / the batch-wise rule).
    counts = clf.class_counts_
    src, tgt = np.nonzero(per_epoch.sum(axis=0))
    assert np.all(counts[src] > counts[tgt])

    total, classes = acceptance_matrix(clf)
    np.testing.assert_array_equal(total, per_epoch.sum(axis=0))
    np.testing.assert_array_equal(classes, clf.classes_)
    ax = plot_acceptance_matrix(h, classes=clf.classes_)
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), total)
    with pytest.raises(ValueError, match="classes="):
        acceptance_matrix(h)
    with pytest.raises(ValueError, match="M2MOverSampler"):
        acceptance_matrix(object(), classes=[0, 1])


def test_per_class_recall_and_cumulative_false_positives_lines():
    classes = ["b", "a", "c"]
    recall = {"ERM": [0.9, 0.5, None], "M2m": [0.8, 0.7, 0.6]}
    ax = plot_per_class_recall(recall, classes)
    assert [line.get_label() for line in ax.lines] == ["ERM", "M2m"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [90.0, 50.0, np.nan])
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [80.0, 70.0, 60.0])
    np.testing.assert_array_equal(ax.lines[1].get_xdata(), [0, 1, 2])
    assert [t.get_text() for t in ax.get_xticklabels()] == classes
    assert ax.get_ylabel() == "recall (%)"

    ax = plot_cumulative_false_positives({"ERM": [3, 5, 9]}, classes)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [3, 5, 9])
    assert ax.get_ylabel() == "cumulative false positives"
    with pytest.raises(ValueError, match="one per class"):
        plot_cumulative_false_positives({"ERM": [3, 5]}, classes)


def test_without_matplotlib_the_error_says_what_to_install(monkeypatch, resampled):
    from m2m_sampler.plotting import matplotlib_available

    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert not matplotlib_available()
    with pytest.raises(ImportError, match=r'pip install "m2m-sampler\[plot\]"'):
        plot_acceptance_matrix(resampled[0])
