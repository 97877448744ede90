"""Pictures of what M2m does (matplotlib, an optional dependency).

* :func:`plot_translations` -- translated images next to their sources and the change
  (source | translated | difference; the paper's Figure 6);
* :func:`acceptance_matrix` / :func:`plot_acceptance_matrix` -- accepted translations per
  source class and target class, from a fitted :class:`~m2m_sampler.M2MOverSampler`
  (``accepted_pairs_``) or :class:`~m2m_sampler.M2MClassifier` (the history column
  ``m2m_accepted_pairs``, summed over epochs);
* :func:`plot_per_class_recall` and :func:`plot_cumulative_false_positives` -- per-class
  recall and the cumulative number of false positives along the classes (the paper's
  Figure 5) of several models, with the values of :mod:`m2m_sampler.longtail.metrics`.

matplotlib is imported when a function is called (``pip install "m2m-sampler[plot]"``);
without it every function raises an :class:`ImportError` that says so. The functions draw
on a given ``ax`` (or a new figure) and return it; none of them calls ``plt.show``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Integral
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "acceptance_matrix",
    "matplotlib_available",
    "plot_acceptance_matrix",
    "plot_cumulative_false_positives",
    "plot_per_class_recall",
    "plot_translations",
]

#: What to install when matplotlib is missing.
INSTALL_HINT = 'pip install "m2m-sampler[plot]" (or pip install matplotlib)'


def matplotlib_available() -> bool:
    """Whether matplotlib can be imported (what this module needs).

    Returns
    -------
    bool
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot() -> Any:
    """``matplotlib.pyplot``, or an ImportError that says what to install."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"m2m_sampler.plotting needs matplotlib, which is not installed: {INSTALL_HINT}."
        ) from exc
    return plt


def _new_ax(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots(figsize=figsize)
    return ax


# ---------------------------------------------------------------- translated samples
def plot_translations(
    sampler: Any,
    X: ArrayLike,
    y: ArrayLike,
    X_resampled: ArrayLike,
    y_resampled: ArrayLike,
    *,
    image_shape: Sequence[int] | None = None,
    n_samples: int = 8,
    random_state: int | np.random.RandomState | None = 0,
    cmap: str = "gray_r",
) -> Figure:
    """Accepted translations next to their sources and the change (the paper's Fig. 6).

    Three rows: the source ``x0`` (class ``k0``), the translated sample ``x*`` (labelled
    ``k``) and the difference ``x* - x0`` (red: increased, blue: decreased, on a scale
    symmetric around 0); one column per translation, titled ``k0 → k``.

    Parameters
    ----------
    sampler : M2MOverSampler
        Fitted; its ``source_indices_`` and ``is_translated_`` pair the added rows of
        ``X_resampled`` with the rows of ``X`` they started from.
    X, y : array-like of shape (n_samples, n_features), (n_samples,)
        What ``sampler.fit_resample`` was given.
    X_resampled, y_resampled : array-like
        What it returned (the added rows follow the ``len(X)`` original ones).
    image_shape : sequence of int, optional
        ``(H, W)`` or ``(C, H, W)`` of one sample (C = 1 or 3); default: the sampler's
        ``input_shape``, else a square of the number of features.
    n_samples : int, default=8
        Number of translations shown (fewer if fewer were accepted), spread over the
        target classes and sorted by target class.
    random_state : int, RandomState instance or None, default=0
        Which translations are shown.
    cmap : str, default='gray_r'
        Colormap of single-channel sources and translations.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes[r * n + j]`` holds row ``r`` (0: source, 1: translated,
        2: difference) of column ``j`` (``n`` columns); the images are ``H x W`` (the
        difference: mean over colour channels).

    Raises
    ------
    ValueError
        If the sampler accepted no translation, the shapes do not fit, or ``n_samples``
        is not a positive integer.
    sklearn.exceptions.NotFittedError
        If ``sampler`` has not been fitted.
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, Integral) or n_samples < 1:
        raise ValueError(
            f"n_samples must be a positive integer (the number of translations shown); "
            f"got {n_samples!r}."
        )
    if not hasattr(sampler, "is_translated_") or not hasattr(sampler, "source_indices_"):
        raise NotFittedError(
            f"this {type(sampler).__name__} is not fitted: call sampler.fit_resample(X, y) "
            "first and pass its output as X_resampled, y_resampled."
        )
    plt = _pyplot()
    X, X_res = np.asarray(X), np.asarray(X_resampled)
    y, y_res = np.asarray(y), np.asarray(y_resampled)
    n_orig = len(X)
    translated = np.flatnonzero(sampler.is_translated_)
    if len(X_res) != n_orig + len(sampler.is_translated_):
        raise ValueError(
            f"X_resampled has {len(X_res)} rows; expected {n_orig} original rows followed "
            f"by the sampler's {len(sampler.is_translated_)} added ones (pass the X and "
            "the output of the same fit_resample call)."
        )
    if len(translated) == 0:
        raise ValueError("the sampler accepted no translation: there is nothing to show.")
    shape = _image_shape(image_shape, sampler, X.shape[1])

    rng = check_random_state(random_state)
    targets = y_res[n_orig + translated]
    # Round-robin over target classes, in random order within each class.
    per_class = [rng.permutation(translated[targets == c]) for c in np.unique(targets)]
    chosen: list[int] = []
    depth = 0
    while len(chosen) < min(n_samples, len(translated)):
        chosen += [int(rows[depth]) for rows in per_class if depth < len(rows)]
        depth += 1
    chosen = sorted(chosen[:n_samples], key=lambda i: (y_res[n_orig + i], i))

    n = len(chosen)
    fig, axes = plt.subplots(3, n, figsize=(max(1.5 * n + 1.2, 7.0), 4.8), squeeze=False)
    src_rows = X[sampler.source_indices_[chosen]]
    new_rows = X_res[n_orig + np.asarray(chosen)]
    diff = new_rows.astype(float) - src_rows.astype(float)
    scale = float(np.abs(diff).max()) or 1.0
    low = float(min(src_rows.min(), new_rows.min()))
    high = float(max(src_rows.max(), new_rows.max()))
    for j, i in enumerate(chosen):
        k0, k = y[sampler.source_indices_[i]], y_res[n_orig + i]
        for r, (row, kw) in enumerate(
            [
                (src_rows[j], {"cmap": cmap, "vmin": low, "vmax": high}),
                (new_rows[j], {"cmap": cmap, "vmin": low, "vmax": high}),
                (diff[j], {"cmap": "RdBu_r", "vmin": -scale, "vmax": scale}),
            ]
        ):
            ax = axes[r, j]
            img = _to_image(row, shape)
            if r == 2 and img.ndim == 3:  # colour difference: mean over channels
                img = img.mean(axis=2)
            if r < 2 and img.ndim == 3:
                img = np.clip((img - low) / ((high - low) or 1.0), 0.0, 1.0)
            ax.imshow(img, interpolation="nearest", **kw)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, j].set_title(f"{k0} → {k}", fontsize=11)
    for r, name in enumerate(["source", "translated", "difference"]):
        axes[r, 0].set_ylabel(name)
    fig.suptitle("M2m translations: source class → target class")
    fig.tight_layout()
    return fig


def _image_shape(image_shape: Sequence[int] | None, sampler: Any, n_features: int) -> tuple:
    shape = image_shape if image_shape is not None else getattr(sampler, "input_shape", None)
    if shape is None:
        side = int(round(np.sqrt(n_features)))
        if side * side != n_features:
            raise ValueError(
                f"cannot show samples of {n_features} features as square images; pass "
                "image_shape=(H, W) or (C, H, W)."
            )
        shape = (side, side)
    shape = tuple(int(s) for s in shape)
    if int(np.prod(shape)) != n_features or len(shape) not in (2, 3):
        raise ValueError(
            f"image_shape={shape} does not describe an image of {n_features} features; "
            "pass (H, W) or (C, H, W)."
        )
    if len(shape) == 3 and shape[0] not in (1, 3):
        raise ValueError(f"image_shape={shape}: the channel count must be 1 or 3.")
    return shape


def _to_image(row: np.ndarray, shape: tuple) -> np.ndarray:
    img = np.asarray(row, dtype=float).reshape(shape)
    if img.ndim == 3:
        img = img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1)
    return img


# ---------------------------------------------------------------- acceptance matrix
def acceptance_matrix(
    source: Any, classes: Sequence | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Accepted translations per (source class, target class).

    Parameters
    ----------
    source : M2MOverSampler, M2MClassifier or skorch History
        A fitted sampler (``accepted_pairs_``), a fitted classifier or its ``history``
        (the column ``m2m_accepted_pairs``, summed over the epochs).
    classes : sequence, optional
        Class labels in index order; default: ``source.classes_`` (required for a bare
        history).

    Returns
    -------
    counts : ndarray of shape (n_classes, n_classes), int
        ``counts[i, j]``: accepted translations from class ``classes[i]`` to
        ``classes[j]``.
    classes : ndarray of shape (n_classes,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from m2m_sampler import M2MOverSampler
    >>> from m2m_sampler.plotting import acceptance_matrix
    >>> X, y = make_classification(n_samples=300, n_classes=3, n_informative=4,
    ...                            weights=[0.7, 0.2, 0.1], random_state=0)
    >>> sampler = M2MOverSampler(beta=0.9, step_size=0.5, random_state=0)
    >>> _, y_res = sampler.fit_resample(X, y)
    >>> counts, classes = acceptance_matrix(sampler)
    >>> int(counts.sum()) == int(sampler.is_translated_.sum())
    True
    >>> np.diag(counts).tolist()  # never from a class to itself
    [0, 0, 0]
    """
    if classes is None:
        classes = getattr(source, "classes_", None)
    if hasattr(source, "accepted_pairs_") and not hasattr(source, "history"):
        counts = np.asarray(source.accepted_pairs_)
    else:  # a net: every epoch of its history (accepted_pairs_ holds the last fit's)
        history = getattr(source, "history", source)
        try:
            per_epoch = history[:, "m2m_accepted_pairs"]
        except (KeyError, TypeError, IndexError) as exc:
            raise ValueError(
                "expected a fitted M2MOverSampler (accepted_pairs_) or a fitted "
                "M2MClassifier / its history (column 'm2m_accepted_pairs'); got "
                f"{type(source).__name__}."
            ) from exc
        counts = np.asarray(per_epoch, dtype=np.int64).sum(axis=0)
    if classes is None:
        raise ValueError("pass classes=... (the class labels in index order).")
    classes = np.asarray(classes)
    if counts.shape != (len(classes), len(classes)):
        raise ValueError(
            f"the counts have shape {counts.shape} but there are {len(classes)} classes."
        )
    return counts.astype(np.int64), classes


def plot_acceptance_matrix(
    source: Any,
    classes: Sequence | None = None,
    *,
    ax: Axes | None = None,
    cmap: str = "Blues",
    annotate: bool = True,
) -> Axes:
    """Heat map of :func:`acceptance_matrix`: rows source class, columns target class.

    Parameters
    ----------
    source : M2MOverSampler, M2MClassifier or skorch History
        See :func:`acceptance_matrix`.
    classes : sequence, optional
        See :func:`acceptance_matrix`.
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    cmap : str, default='Blues'
    annotate : bool, default=True
        Write the count in each cell.

    Returns
    -------
    matplotlib.axes.Axes
        Its image (``ax.images[0].get_array()``) holds the counts.
    """
    counts, classes = acceptance_matrix(source, classes)
    k = len(classes)
    ax = _new_ax(ax, (0.45 * k + 2.5, 0.45 * k + 2.0))
    im = ax.imshow(counts, cmap=cmap, interpolation="nearest")
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    labels = [str(c) for c in classes]
    ax.set_xticks(np.arange(k), labels, rotation=90 if k > 12 else 0)
    ax.set_yticks(np.arange(k), labels)
    ax.set_xlabel("target class k (minority)")
    ax.set_ylabel("source class k0 (majority)")
    ax.set_title(f"accepted translations ({int(counts.sum())} in all)")
    if annotate and k <= 20:
        threshold = counts.max() / 2 if counts.size else 0
        for i in range(k):
            for j in range(k):
                if counts[i, j]:
                    ax.text(
                        j,
                        i,
                        str(counts[i, j]),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if counts[i, j] > threshold else "black",
                    )
    return ax


# ---------------------------------------------------------------- per-class curves
def _class_curves(
    values: Mapping[str, Sequence[float] | None],
    classes: Sequence,
    ax: Axes | None,
    ylabel: str,
    scale: float,
) -> Axes:
    if not isinstance(values, Mapping):
        raise TypeError(
            f"expected a mapping of model name -> per-class values; got "
            f"{type(values).__name__} (wrap one model's values as {{'name': values}})."
        )
    labels = [str(c) for c in classes]
    x = np.arange(len(labels))
    ax = _new_ax(ax, (max(6.0, 0.45 * len(labels) + 3), 4))
    colors = _pyplot().get_cmap("tab10")(np.arange(max(len(values), 1)) % 10)
    for (name, v), color in zip(values.items(), colors):
        if v is None:
            continue
        if isinstance(v, Mapping):  # class label -> value: put in the order of classes
            missing = [c for c in classes if c not in v]
            if missing:
                raise ValueError(
                    f"{name!r} maps classes to values but has no value for the classes "
                    f"{missing[:10]}; its keys are {list(v)[:10]}."
                )
            v = [v[c] for c in classes]
        elif np.ndim(v) == 0 or isinstance(v, str):
            raise TypeError(
                f"{name!r} maps to a single {type(v).__name__}; each model needs one value per "
                "class (a sequence in the order of classes, or a dict class -> value). Did "
                "you pass one model's per-class dict instead of {'name': values}?"
            )
        v = np.asarray([np.nan if e is None else e for e in v], dtype=float)
        if v.shape != (len(labels),):
            raise ValueError(
                f"{name!r} has {v.size} values; expected one per class ({len(labels)})."
            )
        ax.plot(x, scale * v, "o-", label=str(name), color=color, ms=3)
    ax.set_xticks(x, labels, rotation=90 if len(labels) > 12 else 0)
    ax.set_xlabel("class (most to least frequent in training)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if values:
        ax.legend(fontsize=8)
    return ax


def plot_per_class_recall(
    recall: Mapping[str, Sequence[float] | None],
    classes: Sequence,
    *,
    ax: Axes | None = None,
    percent: bool = True,
) -> Axes:
    """Per-class recall of several models, one line each, along ``classes``.

    Parameters
    ----------
    recall : mapping of str to sequence of float (or to a mapping class -> float)
        Model name -> recall of each class of ``classes`` (in that order, or keyed by
        class label), e.g. from :func:`m2m_sampler.longtail.metrics.per_class_recall`
        with ``labels=classes``. None entries (a model or a class value) are skipped.
    classes : sequence
        Class labels, usually from the most to the least frequent
        (:func:`m2m_sampler.longtail.metrics.class_frequency_order`).
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    percent : bool, default=True
        Show recall in percent.

    Returns
    -------
    matplotlib.axes.Axes
        One line per model (``ax.lines``), x = class position, y = recall.
    """
    return _class_curves(
        recall, classes, ax, "recall (%)" if percent else "recall", 100.0 if percent else 1.0
    )


def plot_cumulative_false_positives(
    counts: Mapping[str, Sequence[float] | None],
    classes: Sequence,
    *,
    ax: Axes | None = None,
) -> Axes:
    """Cumulative number of false positives along the classes (the paper's Figure 5).

    Parameters
    ----------
    counts : mapping of str to sequence of float
        Model name -> cumulative false positives along ``classes``, e.g. from
        :func:`m2m_sampler.longtail.metrics.cumulative_false_positives`.
    classes : sequence
        Class labels in the order the counts accumulate over (most to least frequent).
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
        One line per model (``ax.lines``).
    """
    return _class_curves(counts, classes, ax, "cumulative false positives", 1.0)
