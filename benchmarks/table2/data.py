"""Table 2's data sets: features and integer labels, loaded once per process."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["cached_data", "load_table2_data"]


def load_table2_data(name: str, max_features: int = 2000) -> dict[str, Any]:
    """Features and integer labels of a Table 2 data set.

    Parameters
    ----------
    name : {"reuters", "twitter-pos"}
    max_features : int, default=2000
        Reuters' TF-IDF vocabulary size (Twitter: 3,000 indicator features).

    Returns
    -------
    dict
        ``X``, ``y``, ``X_test``, ``y_test`` (float32 / int64), ``class_names`` (label
        ``k`` is ``class_names[k]``, from the largest training class), ``eta`` (the
        paper's M2m step size for it) and ``features`` (a description).
    """
    from benchmarks.text_datasets import (
        load_reuters,
        load_twitter_pos,
        reuters_vectorizer,
        twitter_pos_features,
    )

    if name == "reuters":
        d = load_reuters()
        vec = reuters_vectorizer(max_features=max_features)
        X, X_test = vec.fit_transform(d.text_train), vec.transform(d.text_test)
        names, y_raw, yt_raw, eta = list(d.class_names), d.y_train, d.y_test, 1.0
        features = f"sublinear TF-IDF, {max_features} terms, L2-normalised"
    elif name == "twitter-pos":
        d = load_twitter_pos()
        in_test = set(d.y_test.tolist())
        names = [c for c in d.class_names if c in in_test]
        keep = np.isin(d.y_train, names)
        X_train = [x for x, k in zip(d.X_train, keep) if k]
        feats = twitter_pos_features()
        X, X_test = feats.fit_transform(X_train), feats.transform(d.X_test)
        y_raw, yt_raw, eta = d.y_train[keep], d.y_test, 0.1
        features = "token, affix, shape and flag indicators of a +-2 window, 3000 features"
    else:
        raise ValueError(f"dataset must be 'reuters' or 'twitter-pos'; got {name!r}.")
    code = {c: i for i, c in enumerate(names)}
    y = np.array([code[c] for c in y_raw], dtype=np.int64)
    y_test = np.array([code[c] for c in yt_raw], dtype=np.int64)
    return {
        "X": np.ascontiguousarray(X, dtype=np.float32),
        "y": y,
        "X_test": np.ascontiguousarray(X_test, dtype=np.float32),
        "y_test": y_test,
        "class_names": names,
        "eta": eta,
        "features": features,
    }


_DATA_CACHE: dict[tuple, dict] = {}


def cached_data(loader, name: str, max_features: int) -> dict:
    """``loader(name, max_features)``, once per process (a pool worker loads each set once)."""
    key = (getattr(loader, "__qualname__", repr(loader)), name, max_features)
    if key not in _DATA_CACHE:
        _DATA_CACHE[key] = loader(name, max_features)
    return _DATA_CACHE[key]


def load(name: str, max_features: int) -> dict:
    """The default loader (:func:`load_table2_data`; module level, for the workers)."""
    return load_table2_data(name, max_features=max_features)
