"""Datasets for imbalanced / long-tailed classification.

* :func:`make_long_tailed` builds the exponential ("long-tailed") class profile of M2m and
  LDAM-DRW from any labelled data set.
* :func:`load_digits_lt` is an offline long-tailed image task built from scikit-learn's
  bundled 8x8 digits.
* :func:`load_csv` reads any CSV file with a label column.

The project's shared data (CIFAR-LT, the UCI tables, Reuters, Twitter) are read by the
repository's lab (``benchmarks.datasets``), not by the installed package.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import Bunch, check_random_state

from ._torch_utils import to_builtin
from .longtail.metrics import class_frequency_order

__all__ = [
    "load_csv",
    "load_digits_lt",
    "long_tailed_counts",
    "make_long_tailed",
]

# --------------------------------------------------------------------------------------
# Long-tailed subsets
# --------------------------------------------------------------------------------------


def long_tailed_counts(n_max: int, n_classes: int, imbalance_ratio: float) -> np.ndarray:
    """Per-class sizes of the exponential long-tailed profile.

    Class ``k`` (0-based position in the class order) keeps
    ``n_k = int(n_max * (1 / imbalance_ratio) ** (k / (n_classes - 1)))`` samples: the
    closed form of LDAM-DRW, which equals M2m's ``int(n_max * mu ** k)`` with
    ``mu = (1 / rho) ** (1 / (K - 1))`` on CIFAR-10. (For CIFAR-100, ``n_max=500``, M2m's
    form rounds the last class down to 4 / 49 where this one gives 5 / 50.)

    Parameters
    ----------
    n_max : int
        Size of the first (largest) class.
    n_classes : int
        Number of classes ``K``.
    imbalance_ratio : float
        ``rho = n_0 / n_{K-1}`` (before flooring), at least 1.

    Returns
    -------
    counts : ndarray of int64, shape (n_classes,)

    Examples
    --------
    >>> long_tailed_counts(5000, 10, 100).tolist()
    [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    """
    rho = float(imbalance_ratio)
    if not np.isfinite(rho) or rho < 1:
        raise ValueError(f"imbalance_ratio must be a finite number >= 1; got {imbalance_ratio!r}.")
    n_max = int(n_max)
    if n_max < 1:
        raise ValueError(f"n_max must be a positive integer; got {n_max}.")
    n_classes = int(n_classes)
    if n_classes < 1:
        raise ValueError(f"n_classes must be a positive integer; got {n_classes}.")
    if n_classes == 1:
        return np.array([n_max], dtype=np.int64)
    return np.array(
        [int(n_max * (1.0 / rho) ** (k / (n_classes - 1))) for k in range(n_classes)],
        dtype=np.int64,
    )


def _take(data: Any, indices: np.ndarray) -> Any:
    """Rows ``indices`` of an array, a pandas object or a list (pandas keeps its index)."""
    if hasattr(data, "iloc"):
        return data.iloc[indices]
    if isinstance(data, np.ndarray):
        return data[indices]
    return np.asarray(data)[indices]


def make_long_tailed(
    X: Any,
    y: ArrayLike,
    imbalance_ratio: float,
    *,
    class_order: Literal["frequency"] | Sequence[Hashable] | None = None,
    n_max: int | None = None,
    selection: Literal["first", "random"] = "first",
    random_state: int | np.random.RandomState | None = None,
    return_indices: bool = False,
) -> Any:
    """Sub-sample a data set to the exponential long-tailed profile of M2m / LDAM-DRW.

    The class at position ``k`` of ``class_order`` keeps
    ``n_k = int(n_max * (1 / imbalance_ratio) ** (k / (K - 1)))`` samples (see
    :func:`long_tailed_counts`). By default these are the **first** ``n_k`` samples of the
    class in the given order, the rule of the M2m reference code (which built CIFAR-LT this
    way); ``selection="random"`` draws them without replacement instead (LDAM-DRW shuffles
    before taking ``n_k``).

    Parameters
    ----------
    X : array-like of shape (n_samples, ...) or None
        Samples: a numpy array of any number of dimensions (e.g. images ``(N, C, H, W)``), a
        pandas DataFrame / Series or a list. May be ``None`` when ``return_indices=True``.
    y : array-like of shape (n_samples,)
        Class labels.
    imbalance_ratio : float
        ``rho >= 1``: ratio between the first and the last class size (before flooring).
    class_order : "frequency", sequence of labels or None, default=None
        Order of the classes along the profile (largest first). ``None`` / ``"frequency"``:
        by decreasing frequency in ``y``, ties by sorted label. A sequence must list every
        class of ``y`` exactly once (the paper uses ``0, 1, ..., K-1`` on CIFAR).
    n_max : int, default=None
        Size of the first class; by default the number of samples of the first class in
        ``class_order``.
    selection : {"first", "random"}, default="first"
        Which samples of each class to keep.
    random_state : int, RandomState instance or None, default=None
        Seed for ``selection="random"`` (ignored otherwise).
    return_indices : bool, default=False
        Return the kept indices instead of the data.

    Returns
    -------
    indices : ndarray of int64
        If ``return_indices``: positions of the kept samples, sorted increasingly, so the
        subset keeps the original order (classes interleaved).
    X_lt, y_lt
        Otherwise: the kept rows of ``X`` and ``y`` in the original order (pandas inputs stay
        pandas, with their index).

    Raises
    ------
    ValueError
        If ``imbalance_ratio < 1``, if a class would keep 0 samples (lower the ratio or raise
        ``n_max``), or if a class has fewer samples than its ``n_k``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.repeat(np.arange(3), 100)
    >>> X = np.zeros((300, 1, 4, 4))
    >>> X_lt, y_lt = make_long_tailed(X, y, imbalance_ratio=4)
    >>> np.bincount(y_lt).tolist(), X_lt.shape
    ([100, 50, 25], (175, 1, 4, 4))
    """
    y_arr = np.asarray(y)
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        y_arr = y_arr.ravel()
    if y_arr.ndim != 1 or y_arr.shape[0] == 0:
        raise ValueError(f"y must be a non-empty 1-D array of labels; got shape {y_arr.shape}.")
    if X is None:
        if not return_indices:
            raise ValueError("X=None is only allowed with return_indices=True.")
    elif len(X) != y_arr.shape[0]:
        raise ValueError(f"X and y have different lengths ({len(X)} and {y_arr.shape[0]}).")
    if selection not in ("first", "random"):
        raise ValueError(f"selection must be 'first' or 'random'; got {selection!r}.")

    labels = np.unique(y_arr)
    if class_order is None or (isinstance(class_order, str) and class_order == "frequency"):
        order = class_frequency_order(y_arr)
    elif isinstance(class_order, str):
        raise ValueError(
            f"class_order must be 'frequency' or a sequence of labels; got {class_order!r}."
        )
    else:
        order = np.asarray(list(class_order))
        if order.ndim != 1 or np.unique(order).shape[0] != order.shape[0]:
            raise ValueError("class_order must list each class label exactly once.")
        missing = np.setdiff1d(labels, order)
        extra = np.setdiff1d(order, labels)
        if missing.shape[0] or extra.shape[0]:
            raise ValueError(
                "class_order must be a permutation of the classes in y; "
                f"missing: {missing.tolist()}, not in y: {extra.tolist()}."
            )

    members = [np.flatnonzero(y_arr == lab) for lab in order]
    if n_max is None:
        n_max = members[0].shape[0]
    counts = long_tailed_counts(n_max, len(order), imbalance_ratio)
    if counts[-1] < 1:
        zero = [to_builtin(order[i]) for i in np.flatnonzero(counts == 0)]
        raise ValueError(
            f"With n_max={n_max} and imbalance_ratio={imbalance_ratio} the classes {zero} "
            f"would keep 0 samples; use an imbalance_ratio of at most {n_max} or a larger "
            "n_max."
        )
    short = [
        f"{to_builtin(order[i])!r} has {m.shape[0]} < {n}"
        for i, (m, n) in enumerate(zip(members, counts))
        if m.shape[0] < n
    ]
    if short:
        raise ValueError(
            "Some classes have fewer samples than the long-tailed profile asks for: "
            + ", ".join(short)
            + ". Lower n_max, or reorder the classes with class_order."
        )

    if selection == "first":
        kept = [m[:n] for m, n in zip(members, counts)]
    else:
        rng = check_random_state(random_state)
        kept = [rng.choice(m, size=int(n), replace=False) for m, n in zip(members, counts)]
    indices = np.sort(np.concatenate(kept)).astype(np.int64)
    if return_indices:
        return indices
    return _take(X, indices), _take(y, indices)


# --------------------------------------------------------------------------------------
# Digits (scikit-learn, offline)
# --------------------------------------------------------------------------------------


def load_digits_lt(
    imbalance_ratio: float = 10,
    *,
    test_per_class: int = 50,
    selection: Literal["first", "random"] = "first",
    random_state: int | np.random.RandomState | None = None,
    flatten: bool = True,
    return_X_y: bool = False,
) -> Any:
    """Long-tailed 8x8 digits: a small, offline image task shaped like CIFAR-LT-10.

    Built from :func:`sklearn.datasets.load_digits` (1,797 images, 174-183 per class):

    * **test**: the *last* ``test_per_class`` images of every class in the original order
      (balanced, deterministic);
    * **train**: the remaining images (128-133 per class with the default 50) sub-sampled by
      :func:`make_long_tailed` with the classes in the order 0, 1, ..., 9, so class 0 is the
      largest (``n_max`` = its pool size, 128) and class 9 the smallest, as on CIFAR-LT.

    With the default ``imbalance_ratio=10`` the training counts are
    128, 99, 76, 59, 46, 35, 27, 21, 16, 12 (519 images); ``imbalance_ratio=100`` gives
    128, 76, 46, 27, 16, 9, 5, 3, 2, 1 (313 images).

    Parameters
    ----------
    imbalance_ratio : float, default=10
        ``rho``: ratio between the largest and the smallest training class.
    test_per_class : int, default=50
        Number of test images per class.
    selection : {"first", "random"}, default="first"
        Which training images of each class to keep (see :func:`make_long_tailed`).
    random_state : int, RandomState instance or None, default=None
        Seed for ``selection="random"``.
    flatten : bool, default=True
        Return ``X`` as ``(n, 64)`` (scikit-learn / imbalanced-learn friendly) instead of
        ``(n, 1, 8, 8)``.
    return_X_y : bool, default=False
        Return ``(X_train, y_train, X_test, y_test)`` instead of a Bunch.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X_train``, ``y_train``, ``X_test``, ``y_test`` (float32 pixels in [0, 1], i.e. the
        original 0-16 values divided by 16; int64 labels), ``train_indices`` and
        ``test_indices`` (rows of ``load_digits()``), ``image_shape=(1, 8, 8)``,
        ``class_names`` (``"0"`` ... ``"9"``), ``counts`` (training images per class) and
        ``DESCR``.

    Examples
    --------
    >>> d = load_digits_lt()
    >>> d.X_train.shape, d.X_test.shape, d.counts.tolist()[:3]
    ((519, 64), (500, 64), [128, 99, 76])
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    X_all = (digits.data / 16.0).astype(np.float32)
    y_all = digits.target.astype(np.int64)
    classes = np.unique(y_all)
    per_class = np.bincount(y_all)
    test_per_class = int(test_per_class)
    if not 1 <= test_per_class < per_class.min():
        raise ValueError(
            f"test_per_class must be between 1 and {per_class.min() - 1} (the smallest digits "
            f"class has {per_class.min()} images); got {test_per_class}."
        )
    test_idx = np.sort(
        np.concatenate([np.flatnonzero(y_all == c)[-test_per_class:] for c in classes])
    )
    pool_idx = np.setdiff1d(np.arange(y_all.shape[0]), test_idx)
    lt = make_long_tailed(
        None,
        y_all[pool_idx],
        imbalance_ratio,
        class_order=classes.tolist(),
        selection=selection,
        random_state=random_state,
        return_indices=True,
    )
    train_idx = pool_idx[lt]
    shape = (1, 8, 8)

    def _x(idx: np.ndarray) -> np.ndarray:
        x = X_all[idx]
        return x if flatten else x.reshape((-1, *shape))

    X_train, y_train = _x(train_idx), y_all[train_idx]
    X_test, y_test = _x(test_idx), y_all[test_idx]
    if return_X_y:
        return X_train, y_train, X_test, y_test
    counts = np.bincount(y_train, minlength=len(classes))
    descr = (
        "Long-tailed digits (m2m_sampler.datasets.load_digits_lt): scikit-learn's 8x8 digits; "
        f"test = last {test_per_class} images of each class; train = the rest, sub-sampled "
        f"to imbalance ratio {imbalance_ratio} (classes 0..9 from largest to smallest, "
        f"selection={selection!r}); per-class train counts {counts.tolist()}."
    )
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        train_indices=train_idx,
        test_indices=test_idx,
        image_shape=shape,
        class_names=[str(c) for c in classes],
        counts=counts,
        imbalance_ratio=imbalance_ratio,
        DESCR=descr,
    )


def _import_pandas() -> Any:
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "load_csv needs pandas: pip install pandas (or pip install 'm2m-sampler[bench]')."
        ) from exc
    return pd


#: A non-numeric feature column with more distinct values than this, and more than
#: :data:`MAX_CATEGORY_SHARE` of the rows, is refused by :func:`load_csv` with
#: ``categorical="auto"`` (an identifier or free text, not a category).
MAX_CATEGORIES = 50
#: See :data:`MAX_CATEGORIES`.
MAX_CATEGORY_SHARE = 0.5

#: ``read_csv`` options that change which line is the header or which columns are read:
#: with any of them, :func:`load_csv` does not re-read the header to find repeated names.
_HEADER_OPTIONS = frozenset(
    {"header", "names", "usecols", "index_col", "nrows", "chunksize", "iterator"}
)


def _repeated_label(
    pd: Any, path: Any, columns: Sequence[Any], label_column: str, kwargs: dict
) -> list[str]:
    """Columns pandas renamed ``<label>.N`` because the header repeats the label column."""
    renamed = [
        str(c) for c in columns
        if isinstance(c, str) and c.startswith(f"{label_column}.")
        and c[len(label_column) + 1:].isdigit()
    ]
    if not renamed or not isinstance(path, str | os.PathLike) or _HEADER_OPTIONS & set(kwargs):
        return renamed
    try:
        raw = pd.read_csv(path, header=None, nrows=1, dtype=str, **kwargs).iloc[0].tolist()
    except Exception:  # the header cannot be re-read: keep the renamed columns suspect
        return renamed
    n_label = sum(str(v) == label_column for v in raw)
    return [c for c in renamed if c not in map(str, raw)] if n_label > 1 else []


def load_csv(
    path: str | os.PathLike[str],
    label_column: str,
    *,
    categorical: Literal["auto"] | Sequence[str] | None = "auto",
    drop_columns: Sequence[str] = (),
    dropna: bool = False,
    return_X_y: bool = False,
    **read_csv_kwargs: Any,
) -> Any:
    """Load any CSV file with a label column into a numeric feature matrix.

    Categorical feature columns are one-hot encoded; the new features are named
    ``"<column>=<value>"`` (values sorted as strings) and replace the column in place, so the
    feature order follows the file. Requires pandas (an optional dependency).

    Refused with a ``ValueError`` that says what to do: a file with no data row, a header
    that repeats the label column (pandas would read the copy, renamed ``<label>.1``, as a
    feature holding the answer), and with ``categorical="auto"`` a non-numeric column with
    more than :data:`MAX_CATEGORIES` distinct values making up more than
    :data:`MAX_CATEGORY_SHARE` of the rows (an identifier or free text: one feature per
    value).

    Parameters
    ----------
    path : str or path-like
        The CSV file (read with :func:`pandas.read_csv`).
    label_column : str
        Name of the class column.
    categorical : "auto", sequence of str or None, default="auto"
        Columns to one-hot encode. ``"auto"``: every non-numeric feature column (strings,
        categories); boolean columns become 0/1. ``None`` or ``()``: none (a non-numeric
        column is then an error).
    drop_columns : sequence of str, default=()
        Columns to ignore (ids, split markers, ...).
    dropna : bool, default=False
        Missing values are an error listing the affected columns unless ``dropna=True``,
        which drops the rows with a missing feature or label (``n_dropped`` tells how many).
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.
    **read_csv_kwargs
        Passed to :func:`pandas.read_csv` (e.g. ``sep=";"``).

    Returns
    -------
    data : sklearn.utils.Bunch
        ``data`` (float64), ``target`` (int64 for integer labels, str for text labels, else
        the column's values), ``feature_names``, ``target_names``, ``categories`` (dict column
        -> list of its values, for the encoded columns) and ``n_dropped``.

    Examples
    --------
    >>> import io
    >>> csv_text = "size,colour,label\\n1.5,red,yes\\n2.0,blue,no\\n0.5,red,yes\\n"
    >>> d = load_csv(io.StringIO(csv_text), "label")
    >>> d.feature_names
    ['size', 'colour=blue', 'colour=red']
    >>> d.data.tolist()
    [[1.5, 0.0, 1.0], [2.0, 1.0, 0.0], [0.5, 0.0, 1.0]]
    """
    pd = _import_pandas()
    df = pd.read_csv(path, **read_csv_kwargs)
    if label_column not in df.columns:
        raise ValueError(
            f"Label column {label_column!r} not found; columns are {list(map(str, df.columns))}."
        )
    if len(df) == 0:
        raise ValueError(
            "The CSV file has a header but no data row; give a file with one row per sample."
        )
    repeated = [
        c for c in _repeated_label(pd, path, list(df.columns), label_column, read_csv_kwargs)
        if c not in set(drop_columns)
    ]
    if repeated:
        raise ValueError(
            f"The header names the label column {label_column!r} more than once (pandas "
            f"renamed the copies {repeated}); as features they would give the answer away. "
            f"Remove the repeated column from the file, or drop it with drop_columns={repeated}."
        )
    unknown = [c for c in drop_columns if c not in df.columns]
    if unknown:
        raise ValueError(f"drop_columns names unknown columns: {unknown}.")
    feat_cols = [c for c in df.columns if c != label_column and c not in set(drop_columns)]
    df = df[[*feat_cols, label_column]]

    n_dropped = 0
    na = df.isna().sum()
    na = na[na > 0]
    if len(na):
        if not dropna:
            detail = ", ".join(f"{c!r} ({n})" for c, n in na.items())
            raise ValueError(
                f"Missing values in columns {detail}. Impute them first, drop those columns "
                f"with drop_columns={[str(c) for c in na.index]}, or pass dropna=True to drop "
                "the incomplete rows."
            )
        before = len(df)
        df = df.dropna()
        n_dropped = before - len(df)
        if len(df) == 0:
            raise ValueError("No row is left after dropping the rows with missing values.")

    def _numeric(col: Any) -> bool:
        return pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col])

    if isinstance(categorical, str):
        if categorical != "auto":
            raise ValueError(
                f"categorical must be 'auto', a list of columns or None; got {categorical!r}."
            )
        cat_cols = [c for c in feat_cols if not _numeric(c)]
        for c in cat_cols:
            n_values = int(df[c].astype(str).nunique())
            if n_values > MAX_CATEGORIES and n_values > MAX_CATEGORY_SHARE * len(df):
                raise ValueError(
                    f"Column {c!r} holds text with {n_values} distinct values in {len(df)} "
                    f"rows (an identifier or free text?); one-hot encoding it would add "
                    f"{n_values} features. Drop it with drop_columns={[str(c)]}, or list it "
                    "in categorical= to encode it anyway."
                )
    else:
        cat_cols = list(categorical or ())
        bad = [c for c in cat_cols if c not in feat_cols]
        if bad:
            raise ValueError(f"categorical names columns that are not features: {bad}.")
        non_numeric = [c for c in feat_cols if c not in cat_cols and not _numeric(c)]
        if non_numeric:
            raise ValueError(
                f"Non-numeric feature columns {non_numeric} are not listed in categorical; "
                "add them there or to drop_columns."
            )

    blocks: list[np.ndarray] = []
    names: list[str] = []
    categories: dict[str, list[str]] = {}
    for c in feat_cols:
        if c in cat_cols:
            values = df[c].astype(str).to_numpy()
            cats = sorted(set(values.tolist()))
            categories[str(c)] = cats
            blocks.append((values[:, None] == np.array(cats)[None, :]).astype(np.float64))
            names.extend(f"{c}={v}" for v in cats)
        else:
            blocks.append(df[c].to_numpy(dtype=np.float64)[:, None])
            names.append(str(c))
    X = np.hstack(blocks) if blocks else np.empty((len(df), 0), dtype=np.float64)

    label = df[label_column]
    if pd.api.types.is_integer_dtype(label):
        y = label.to_numpy(dtype=np.int64)
    elif pd.api.types.is_numeric_dtype(label) or pd.api.types.is_bool_dtype(label):
        y = label.to_numpy()
    else:
        y = label.astype(str).to_numpy(dtype=str)
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        feature_names=names,
        target_names=np.unique(y),
        categories=categories,
        n_dropped=n_dropped,
        DESCR=f"{path}: {X.shape[0]} samples, {X.shape[1]} features "
        f"({len(cat_cols)} one-hot encoded columns), label column {label_column!r}.",
    )
