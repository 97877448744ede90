"""Benchmark data sets and their per-seed train/test splits.

Three kinds of data set, each with its own split rule (documented in ``docs/benchmarks.md``):

* ``digits-lt``: :func:`m2m_sampler.datasets.load_digits_lt`; its fixed, balanced test set
  (the last 50 images of every digit) and its long-tailed training set (ratio
  ``imbalance_ratio``, default 10). The split is the same for every seed; seeds only drive
  the network initialisation and the samplers. Pixels stay in ``[0, 1]`` (no scaler), and
  M2m translations are clipped to that range, as for images in the paper.
* a CSV file (:func:`m2m_sampler.datasets.load_csv`), or arrays a caller loaded (the
  lab's shared tables, ``python -m benchmarks.tabular``), **made long-tailed**
  (``imbalance_ratio`` given):
  for each seed, ``test_per_class`` random samples of every class are held out as a
  balanced test set first; the rest is sub-sampled by
  :func:`m2m_sampler.datasets.make_long_tailed` (classes ordered by the size of what is
  left, largest first; samples drawn at random with the seed).
* the same **as they are** (no ``imbalance_ratio``): a stratified train/test split per seed
  (``test_size`` of the samples in the test set).

Tabular features are standardised by a ``StandardScaler``, the first step of every
pipeline (fitted on the training split only). A CSV file may instead hold a column of
texts (``text_column``): every pipeline then starts with their TF-IDF
(:func:`text_features`, fitted on the training split only).

CSV files are checked when loaded: at least one feature column, no infinite value, and
class labels (integers or names; numbers such as ``1.0`` are taken as the integer ``1``,
numbers with a fractional part are refused as a continuous target).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from m2m_sampler.datasets import load_csv, load_digits_lt, make_long_tailed

__all__ = [
    "DIGITS",
    "TEXT_FEATURES",
    "BenchData",
    "NamedData",
    "Split",
    "load_bench_data",
    "text_features",
]

DIGITS = "digits-lt"

#: Named data sets a caller adds to ``--dataset`` (``python -m benchmarks.compare`` itself has only
#: digits-LT and CSV files): name -> a function returning ``(X, y, source)``, ``source``
#: saying in a few words what the data are (it starts the description).
NamedData = Mapping[str, Callable[[], tuple[Any, Any, str]]]


@dataclass
class Split:
    """One train/test split of a benchmark data set.

    Attributes
    ----------
    X_train, y_train, X_test, y_test : ndarray
        The split (float features; labels as loaded).
    seed : int
        The seed that made it (it only matters for the tabular kinds).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    seed: int

    def counts(self, which: str = "train") -> dict[Any, int]:
        """Samples per class of the training or the test part.

        Parameters
        ----------
        which : {"train", "test"}

        Returns
        -------
        dict
            Label (Python builtin) -> count, in sorted label order.
        """
        y = self.y_train if which == "train" else self.y_test
        labels, n = np.unique(y, return_counts=True)
        return {lab.item(): int(c) for lab, c in zip(labels, n)}


@dataclass
class BenchData:
    """A benchmark data set and the rule that splits it for a seed.

    Attributes
    ----------
    name : str
        ``"digits-lt"``, a named data set or the CSV file name.
    kind : {"digits", "long-tailed", "natural"}
        Which split rule applies (see the module docstring).
    X, y : ndarray
        The full data (for ``kind="digits"``, the training part).
    standardize : bool
        Whether pipelines start with a ``StandardScaler``.
    clip : tuple or None
        Range M2m translations are clipped to (``(0, 1)`` for digit pixels).
    imbalance_ratio : float or None
        ``rho`` when the data are made long-tailed.
    test_per_class : int or None
        Balanced test samples per class (long-tailed kinds).
    test_size : float or None
        Test fraction of the stratified split (natural kind).
    description : str
        One line saying what the data and the split are.
    features : transformer or None
        For text data (``X`` holds strings): the unfitted featuriser every pipeline
        starts with (see :func:`text_features`); cloned per pipeline, so it is fitted on
        the training part only.
    feature_width : int or None
        Number of columns ``features`` outputs.
    """

    name: str
    kind: str
    X: np.ndarray
    y: np.ndarray
    standardize: bool
    clip: tuple[float, float] | None = None
    imbalance_ratio: float | None = None
    test_per_class: int | None = None
    test_size: float | None = None
    description: str = ""
    features: Any = None
    feature_width: int | None = None
    _fixed: Split | None = field(default=None, repr=False)

    @property
    def classes(self) -> np.ndarray:
        """Sorted class labels."""
        return np.unique(self.y)

    @property
    def n_features(self) -> int:
        """Number of features the network receives (``feature_width`` for text)."""
        if self.feature_width is not None:
            return int(self.feature_width)
        return int(self.X.shape[1])

    def split(self, seed: int) -> Split:
        """The train/test split of ``seed``.

        Parameters
        ----------
        seed : int

        Returns
        -------
        Split
        """
        if self.kind == "digits":
            assert self._fixed is not None
            f = self._fixed
            return Split(f.X_train, f.y_train, f.X_test, f.y_test, seed)
        rng = np.random.RandomState(seed)
        if self.kind == "natural":
            X_tr, X_te, y_tr, y_te = train_test_split(
                self.X, self.y, test_size=self.test_size, stratify=self.y, random_state=rng
            )
            return Split(X_tr, y_tr, X_te, y_te, seed)
        # long-tailed: balanced test set first, then the long-tailed training set
        test_idx = np.concatenate(
            [
                rng.choice(np.flatnonzero(self.y == c), size=self.test_per_class, replace=False)
                for c in self.classes
            ]
        )
        test_idx = np.sort(test_idx)
        pool = np.setdiff1d(np.arange(len(self.y)), test_idx)
        kept = make_long_tailed(
            None,
            self.y[pool],
            self.imbalance_ratio,
            class_order="frequency",
            selection="random",
            random_state=rng,
            return_indices=True,
        )
        train_idx = pool[kept]
        return Split(self.X[train_idx], self.y[train_idx], self.X[test_idx], self.y[test_idx], seed)


#: Columns of the TF-IDF features of a CSV text column (hashed terms, see
#: :func:`text_features`).
TEXT_FEATURES = 4096


def _dense_float32(X: Any) -> np.ndarray:
    """A (sparse) matrix as a dense C-contiguous float32 array (what the networks train on)."""
    return np.ascontiguousarray(X.toarray() if sp.issparse(X) else X, dtype=np.float32)


def text_features(n_features: int = TEXT_FEATURES) -> Pipeline:
    """The unfitted TF-IDF featuriser of a CSV text column, as a scikit-learn pipeline.

    The choices of the lab's Reuters featuriser (lower-cased
    tokens of two or more word characters, sublinear term frequency ``1 + log(tf)``,
    smoothed idf, L2-normalised rows, dense float32 output since M2m translates dense
    inputs), except that terms are hashed into a fixed number of columns
    (:class:`~sklearn.feature_extraction.text.HashingVectorizer`, no alternate sign)
    instead of a vocabulary: the network's input width is known before any fit, and the
    idf weights are still learned from the training part only.

    Parameters
    ----------
    n_features : int, default=TEXT_FEATURES
        Number of hashed columns.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``"hash"``, ``"tfidf"`` and ``"dense"``.

    Examples
    --------
    >>> X = text_features(16).fit_transform(["oil prices rise", "wheat prices"])
    >>> X.shape, X.dtype.name
    ((2, 16), 'float32')
    """
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.preprocessing import FunctionTransformer

    return Pipeline(
        [
            (
                "hash",
                HashingVectorizer(n_features=n_features, alternate_sign=False, norm=None),
            ),
            ("tfidf", TfidfTransformer(sublinear_tf=True)),
            ("dense", FunctionTransformer(_dense_float32, accept_sparse=True)),
        ]
    )


def cli_advice(message: str) -> str:
    """``load_csv``'s advice in command-line words: ``drop_columns=[...]`` becomes
    ``--drop-columns ...``, ``dropna=True`` becomes ``--dropna``.

    Examples
    --------
    >>> cli_advice("drop it with drop_columns=['id', 'x'], or pass dropna=True")
    'drop it with --drop-columns id,x, or pass --dropna'
    >>> cli_advice("Drop it with drop_columns=['id'], or list it in categorical= to "
    ...            "encode it anyway.")
    'Drop it with --drop-columns id.'
    """
    import re

    def columns(match: re.Match) -> str:
        names = re.findall(r"'((?:[^'\\]|\\.)*)'|\"([^\"]*)\"", match.group(1))
        return "--drop-columns " + ",".join(a or b for a, b in names)

    message = re.sub(r"drop_columns=\[([^\]]*)\]", columns, message)
    message = message.replace("drop_columns=", "--drop-columns ")
    message = message.replace("dropna=True", "--dropna")
    return message.replace(", or list it in categorical= to encode it anyway", "")


def _read_text_csv(path: Path, label_column: str, text_column: str) -> tuple[np.ndarray, Any]:
    """The texts (object array, missing texts as "") and labels of a CSV file."""
    import pandas as pd

    header = pd.read_csv(path, nrows=0).columns
    if text_column not in header:
        raise ValueError(
            f"text column {text_column!r} not found in {path.name}; columns are "
            f"{list(map(str, header))}."
        )
    if text_column == label_column:
        raise ValueError("--text-column and --label-column name the same column.")
    others = [c for c in header if c not in (label_column, text_column)]
    y = load_csv(path, label_column, drop_columns=[*others, text_column], return_X_y=True)[1]
    texts = pd.read_csv(path, usecols=[text_column])[text_column]
    return texts.fillna("").astype(str).to_numpy(dtype=object), y


def _check_csv_features(X: np.ndarray, names: list[str], source: str) -> None:
    """Refuse a CSV without feature columns or with infinite values (one clear line)."""
    if X.shape[1] == 0:
        raise ValueError(
            f"{source} has no feature column besides the label column; add feature columns "
            "(or name a column of texts with --text-column)."
        )
    bad = ~np.isfinite(X)
    if bad.any():
        cols = [names[j] for j in np.flatnonzero(bad.any(axis=0))]
        rows = np.flatnonzero(bad.any(axis=1))
        raise ValueError(
            f"{source} has infinite values in {len(rows)} row(s) (first data row "
            f"{int(rows[0]) + 1}) of column(s) {cols[:10]}; replace or drop them first."
        )


def _class_labels(y: np.ndarray, source: str) -> np.ndarray:
    """Labels as classes: integral floats (1.0) become integers; other numbers are refused."""
    y = np.asarray(y)
    if y.dtype.kind != "f":
        return y
    integral = np.isfinite(y) & (y == np.round(y))
    if not integral.all():
        bad = np.unique(y[~integral])[:5].tolist()
        raise ValueError(
            f"{source}: the labels are numbers with fractional parts (e.g. {bad}), which "
            "look like a continuous target; this benchmark compares classifiers, so give "
            "class labels (integers or names), e.g. by binning the target."
        )
    return y.astype(np.int64)


def _check_ratio(imbalance_ratio: float | None) -> None:
    if imbalance_ratio is not None and not (np.isfinite(imbalance_ratio) and imbalance_ratio >= 1):
        raise ValueError(f"the imbalance ratio must be a number >= 1; got {imbalance_ratio}.")


def load_bench_data(
    dataset: str,
    *,
    imbalance_ratio: float | None = None,
    label_column: str | None = None,
    named: NamedData | None = None,
    test_per_class: int = 100,
    test_size: float = 0.3,
    min_class_count: int = 0,
    text_column: str | None = None,
    drop_columns: Sequence[str] = (),
    dropna: bool = False,
) -> BenchData:
    """Load a benchmark data set and fix its split rule.

    Parameters
    ----------
    dataset : str
        ``"digits-lt"``, a key of ``named`` or the path of a CSV file.
    imbalance_ratio : float or None, default=None
        For digits: ``load_digits_lt``'s ratio (None means 10). For the others: make the
        training part long-tailed with this ratio (None keeps the data as it is).
    label_column : str or None, default=None
        The class column of a CSV file (required for CSV files).
    named : mapping or None, default=None
        Further data sets by name (:data:`NamedData`), e.g. the lab's shared tables.
    test_per_class : int, default=100
        Balanced test samples per class when the data are made long-tailed.
    test_size : float, default=0.3
        Test fraction of the stratified split of data kept as they are.
    min_class_count : int, default=0
        Drop the classes with fewer samples than this before splitting (tabular and CSV
        data only).
    text_column : str or None, default=None
        For a CSV file: the column holding a text per row. The features are then this
        text's TF-IDF (:func:`text_features`, fitted on each training part) and the other
        columns are ignored.
    drop_columns : sequence of str, default=()
        For a CSV file: columns to ignore (ids, free text, ...), passed to ``load_csv``.
    dropna : bool, default=False
        For a CSV file: drop the rows with a missing value (else they are an error).

    Returns
    -------
    BenchData

    Raises
    ------
    ValueError
        Unknown data set, bad ratio, missing label column, classes too small for the split;
        for a CSV file also: no feature column, infinite values, labels that are not
        classes (numbers other than integers).
    FileNotFoundError
        Missing CSV file (or data of a named set).
    """
    _check_ratio(imbalance_ratio)
    if dataset == DIGITS and text_column:
        raise ValueError("--text-column applies to a CSV file only.")
    if dataset == DIGITS:
        rho = 10.0 if imbalance_ratio is None else float(imbalance_ratio)
        d = load_digits_lt(imbalance_ratio=rho)
        fixed = Split(d.X_train, d.y_train, d.X_test, d.y_test, seed=-1)
        return BenchData(
            name=DIGITS,
            kind="digits",
            X=d.X_train,
            y=d.y_train,
            standardize=False,
            clip=(0.0, 1.0),
            imbalance_ratio=rho,
            test_per_class=int(np.bincount(d.y_test).min()),
            description=d.DESCR,
            _fixed=fixed,
        )

    if named and dataset in named:
        if text_column:
            raise ValueError("--text-column applies to a CSV file only.")
        X, y, source = named[dataset]()
        name = dataset
    else:
        looks_like_file = dataset.lower().endswith(".csv") or os.sep in dataset or "/" in dataset
        if not looks_like_file:
            raise ValueError(
                f"unknown dataset {dataset!r}; choose one of {[DIGITS, *(named or ())]} or "
                "give the path of a CSV file (with --label-column)."
            )
        path = Path(dataset)
        if not path.is_file():
            raise FileNotFoundError(f"the CSV file {str(path)!r} does not exist.")
        if not label_column:
            raise ValueError(f"a CSV data set needs --label-column (the class column of {path}).")
        name, source = path.name, f"CSV file {path.name!r} (label column {label_column!r})"
        try:
            if text_column:
                X, y = _read_text_csv(path, label_column, text_column)
                source = f"{source[:-1]}, text column {text_column!r})"
            else:
                bunch = load_csv(
                    path, label_column, drop_columns=list(drop_columns), dropna=dropna
                )
                X, y = bunch.data, bunch.target
        except ValueError as exc:
            raise ValueError(f"{path.name}: {cli_advice(str(exc))}") from exc
        if not text_column:
            _check_csv_features(X, bunch.feature_names, source)
        y = _class_labels(y, source)

    X = np.asarray(X) if text_column else np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    dropped: list[Any] = []
    if min_class_count > 0:
        labels, n = np.unique(y, return_counts=True)
        small = labels[n < min_class_count]
        if len(small):
            dropped = [v.item() for v in small]
            keep = ~np.isin(y, small)
            X, y = X[keep], y[keep]
    labels, n = np.unique(y, return_counts=True)
    if len(labels) < 2:
        raise ValueError(f"{source} has fewer than two classes left; lower --min-class-count.")
    drop_note = f"; classes with < {min_class_count} samples dropped: {dropped}" if dropped else ""
    featuring: dict[str, Any] = {"standardize": True}
    feature_note = f"{X.shape[1] if X.ndim == 2 else 0} features"
    if text_column:
        featuring = {
            "standardize": False,
            "features": text_features(),
            "feature_width": TEXT_FEATURES,
        }
        feature_note = (
            f"features: TF-IDF of the texts ({TEXT_FEATURES} hashed terms, fitted on each "
            "training part)"
        )

    if imbalance_ratio is not None:
        rho = float(imbalance_ratio)
        test_per_class = int(test_per_class)
        if test_per_class < 1:
            raise ValueError(f"--test-per-class must be >= 1; got {test_per_class}.")
        too_small = {lab.item(): int(c) for lab, c in zip(labels, n) if c <= test_per_class}
        if too_small:
            raise ValueError(
                f"{source}: classes {too_small} have at most {test_per_class} samples, so no "
                "balanced test set of --test-per-class samples per class can be held out; "
                "lower --test-per-class, or drop --imbalance-ratio to keep the data as it is."
            )
        return BenchData(
            name=name,
            kind="long-tailed",
            X=X,
            y=y,
            **featuring,
            imbalance_ratio=rho,
            test_per_class=test_per_class,
            description=(
                f"{source}, {len(y)} samples, {feature_note}, {len(labels)} classes"
                f"{drop_note}. Per seed: {test_per_class} random samples of each class held "
                f"out as a balanced test set, the rest made long-tailed with ratio {rho:g} "
                "(make_long_tailed, classes by decreasing size, random selection)."
            ),
        )

    test_size = float(test_size)
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"--test-size must be in (0, 1); got {test_size}.")
    if n.min() < 2:
        single = [lab.item() for lab, c in zip(labels, n) if c < 2]
        raise ValueError(
            f"{source}: classes {single} have a single sample, which a stratified split "
            "cannot place in both parts; drop them with --min-class-count 2."
        )
    return BenchData(
        name=name,
        kind="natural",
        X=X,
        y=y,
        **featuring,
        test_size=test_size,
        description=(
            f"{source}, {len(y)} samples, {feature_note}, {len(labels)} classes "
            f"(counts {dict(zip([v.item() for v in labels], [int(c) for c in n]))}){drop_note}. "
            f"Per seed: stratified split, {test_size:g} of the samples in the test set."
        ),
    )
