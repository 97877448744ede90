"""Text data sets of the M2m paper's non-image experiments (Table 2), with featurisers.

* :func:`load_reuters` -- Reuters-21578, ModApte split, single-topic documents, topics
  with at least 5 test documents: 36 classes, imbalance ratio 710 (as in M2m, Table 2);
  :func:`reuters_vectorizer` turns the texts into dense float32 TF-IDF vectors.
* :func:`load_twitter_pos` -- Twitter part-of-speech tagging of Gimpel et al. (2011),
  Oct27 train/dev/test split, as token classification (one sample per token, 25 tags);
  :func:`twitter_pos_features` turns each token and its +-2 context into dense float32
  indicator features (:func:`token_features` lists them).

Both featurisers are scikit-learn pipelines, so they are fitted on the training split
only and can be the first steps of a larger (imbalanced-learn) pipeline that ends in an
M2m sampler or :class:`~m2m_sampler.M2MClassifier`; their output is dense because M2m
translates inputs by gradient steps in input space.

The files are read from the shared data directory (``text/`` folder), located by
:func:`benchmarks.datasets.get_data_dir`; nothing is downloaded.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import DTypeLike
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.feature_selection import SelectorMixin
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted, validate_data

from benchmarks.datasets import _data_file
from m2m_sampler.longtail.metrics import class_frequency_order

__all__ = [
    "DenseTransformer",
    "FrequentFeatures",
    "TwitterTokenFeatures",
    "load_reuters",
    "load_twitter_pos",
    "reuters_vectorizer",
    "token_features",
    "twitter_pos_features",
]


class DenseTransformer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Convert a (sparse) matrix to a dense C-contiguous array of one dtype.

    Stateless apart from recording ``n_features_in_``; feature names pass through.

    Parameters
    ----------
    dtype : dtype, default=np.float32
        dtype of the output (float32 is what the library's networks train in).
    """

    def __init__(self, dtype: DTypeLike = np.float32) -> None:
        self.dtype = dtype

    def fit(self, X: Any, y: Any = None) -> DenseTransformer:
        """Record the number of input features.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        validate_data(self, X, accept_sparse=True, dtype="numeric")
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Densify.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features), dtype ``self.dtype``
        """
        check_is_fitted(self, "n_features_in_")
        X = validate_data(self, X, accept_sparse=True, dtype="numeric", reset=False)
        if sp.issparse(X):
            X = X.toarray()
        return np.ascontiguousarray(X, dtype=self.dtype)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = [np.dtype(self.dtype).name]
        return tags

_REUTERS_FILE = "text/reuters21578_parsed.jsonl.gz"
_TWITTER_DIR = "text/twitter_pos"
_TWITTER_SPLITS = {"oct27": ("oct27.train", "oct27.dev", "oct27.test")}


# --------------------------------------------------------------------------------------
# Generic transformers
# --------------------------------------------------------------------------------------


class FrequentFeatures(SelectorMixin, BaseEstimator):
    """Keep the columns that are non-zero in enough training samples.

    A document-frequency cut for any (sparse) feature matrix, e.g. the one-hot output of
    :class:`~sklearn.feature_extraction.DictVectorizer`: a column is kept if it is
    non-zero in at least ``min_count`` training rows; if ``max_features`` is given, only
    the ``max_features`` most frequent of those are kept (ties go to the lower column
    index, so the choice is deterministic). Labels are not used.

    Parameters
    ----------
    min_count : int, default=1
        Minimum number of training rows in which a column is non-zero.
    max_features : int or None, default=None
        Upper bound on the number of kept columns.

    Attributes
    ----------
    counts_ : ndarray of int64, shape ``(n_features_in_,)``
        Training rows in which each column is non-zero.
    support_mask_ : ndarray of bool, shape ``(n_features_in_,)``
        The kept columns (also ``get_support()``).
    """

    def __init__(self, min_count: int = 1, max_features: int | None = None) -> None:
        self.min_count = min_count
        self.max_features = max_features

    def fit(self, X: Any, y: Any = None) -> FrequentFeatures:
        """Count the non-zero rows of every column and choose the kept ones.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        if int(self.min_count) < 1:
            raise ValueError(f"min_count must be a positive integer; got {self.min_count!r}.")
        if self.max_features is not None and int(self.max_features) < 1:
            raise ValueError(
                f"max_features must be a positive integer or None; got {self.max_features!r}."
            )
        X = validate_data(self, X, accept_sparse="csc", dtype="numeric")
        if sp.issparse(X):
            counts = np.diff(sp.csc_matrix(X != 0).indptr)
        else:
            counts = np.count_nonzero(np.asarray(X), axis=0)
        self.counts_ = counts.astype(np.int64)
        mask = self.counts_ >= int(self.min_count)
        if self.max_features is not None and mask.sum() > int(self.max_features):
            order = np.lexsort((np.arange(counts.shape[0]), -self.counts_))
            order = order[mask[order]][: int(self.max_features)]
            mask = np.zeros_like(mask)
            mask[order] = True
        self.support_mask_ = mask
        return self

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_mask_")
        return self.support_mask_

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


# --------------------------------------------------------------------------------------
# Reuters-21578
# --------------------------------------------------------------------------------------


def load_reuters(
    min_test_docs: int = 5,
    data_dir: str | os.PathLike[str] | None = None,
    return_X_y: bool = False,
) -> Any:
    """Reuters-21578 topic classification, ModApte split, single-topic documents.

    The rule: documents of the ModApte split (``lewissplit`` TRAIN or TEST and
    ``topics_attr == "YES"``, 9,603 train / 3,299 test) that carry exactly one topic
    (6,552 / 2,581, over 66 topics); of those, only the topics with at least
    ``min_test_docs`` test documents and at least one training document are kept. With
    the default 5 this gives 36 classes, 6,436 training and 2,530 test documents and an
    imbalance ratio of 2840 / 4 = 710 (``earn`` vs ``fuel``), the 36 classes and ratio
    710 of M2m's Table 2.

    Documents keep the order of the distribution (``NEWID`` ascending). The text of a
    document is its title, a newline, and its body. 37 training and 11 test documents
    have neither title nor body: they are the ``<TEXT TYPE="UNPROC">`` documents of the
    SGML files (tables such as the Federal Reserve weekly reports), whose text has no
    ``<TITLE>``/``<BODY>`` tags and so is not in the parsed file. They are kept (they are
    part of the ModApte split and of the class counts); their TF-IDF vector is zero.

    Parameters
    ----------
    min_test_docs : int, default=5
        Minimum number of test documents for a topic to be kept.
    data_dir : str or path-like, default=None
        See :func:`benchmarks.datasets.get_data_dir`; the file is
        ``text/reuters21578_parsed.jsonl.gz`` in it.
    return_X_y : bool, default=False
        Return ``(text_train, y_train, text_test, y_test)`` instead of a Bunch.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``text_train``, ``text_test`` (lists of str), ``y_train``, ``y_test`` (ndarray of
        str, the topic names), ``newid_train``, ``newid_test`` (int64, the documents'
        ``NEWID``), ``class_names`` (topics from the most to the least frequent in
        training; ties by name), ``counts`` and ``test_counts`` (int64, documents per
        class in ``class_names`` order), ``imbalance_ratio`` (largest / smallest training
        class) and ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If the data directory or the file is missing.

    Examples
    --------
    >>> d = load_reuters()  # doctest: +SKIP
    >>> len(d.class_names), len(d.text_train), len(d.text_test), d.imbalance_ratio  # doctest: +SKIP
    (36, 6436, 2530, 710.0)
    """
    min_test_docs = int(min_test_docs)
    if min_test_docs < 0:
        raise ValueError(f"min_test_docs must be >= 0; got {min_test_docs}.")
    path = _data_file(_REUTERS_FILE, data_dir)
    split: dict[str, list[dict[str, Any]]] = {"TRAIN": [], "TEST": []}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            if (
                doc["topics_attr"] == "YES"
                and doc["lewissplit"] in split
                and len(doc["topics"]) == 1
            ):
                split[doc["lewissplit"]].append(doc)
    n_train: dict[str, int] = {}
    n_test: dict[str, int] = {}
    for docs, n in ((split["TRAIN"], n_train), (split["TEST"], n_test)):
        for doc in docs:
            n[doc["topics"][0]] = n.get(doc["topics"][0], 0) + 1
    kept = {t for t in n_train if n_test.get(t, 0) >= min_test_docs}
    if not kept:
        raise ValueError(f"No topic has at least {min_test_docs} test documents.")
    train = [d for d in split["TRAIN"] if d["topics"][0] in kept]
    test = [d for d in split["TEST"] if d["topics"][0] in kept]
    text_train = [d["title"] + "\n" + d["body"] for d in train]
    text_test = [d["title"] + "\n" + d["body"] for d in test]
    y_train = np.array([d["topics"][0] for d in train], dtype=str)
    y_test = np.array([d["topics"][0] for d in test], dtype=str)
    if return_X_y:
        return text_train, y_train, text_test, y_test
    class_names = class_frequency_order({t: n_train[t] for t in kept}).tolist()
    counts = np.array([n_train[t] for t in class_names], dtype=np.int64)
    test_counts = np.array([n_test[t] for t in class_names], dtype=np.int64)
    ratio = float(counts.max() / counts.min())
    return Bunch(
        text_train=text_train,
        y_train=y_train,
        text_test=text_test,
        y_test=y_test,
        newid_train=np.array([d["newid"] for d in train], dtype=np.int64),
        newid_test=np.array([d["newid"] for d in test], dtype=np.int64),
        class_names=class_names,
        counts=counts,
        test_counts=test_counts,
        imbalance_ratio=ratio,
        DESCR=(
            "Reuters-21578 (Distribution 1.0), ModApte split, single-topic documents, "
            f"topics with >= {min_test_docs} test documents: {len(class_names)} classes, "
            f"{len(text_train)} training and {len(text_test)} test documents, imbalance "
            f"ratio {ratio:g} ({class_names[0]} {counts[0]} vs {class_names[-1]} "
            f"{counts[-1]}); read from {path}."
        ),
    )


def reuters_vectorizer(
    max_features: int = 10000,
    *,
    stop_words: str | Sequence[str] | None = None,
    min_df: int | float = 1,
    dense: bool = True,
    dtype: DTypeLike = np.float32,
) -> Pipeline:
    """TF-IDF features for :func:`load_reuters`, as an unfitted scikit-learn pipeline.

    ``TfidfVectorizer(sublinear_tf=True, max_features=max_features, ...)`` followed by
    :class:`DenseTransformer`. The choices, all scikit-learn defaults except the first
    two:

    * sublinear term frequency ``1 + log(tf)``;
    * vocabulary: the ``max_features`` terms most frequent in the *training* texts
      (the pipeline is fitted on them only; the test texts never change it);
    * lower-cased, tokens of two or more word characters (default ``token_pattern``),
      unigrams, no stop-word list, ``min_df=1``;
    * smoothed idf, rows L2-normalised (every document has unit norm unless it has no
      vocabulary term);
    * output dense, float32 (M2m translates dense inputs): 6,436 x 10,000 floats are
      257 MB.

    Parameters
    ----------
    max_features : int or None, default=10000
        Vocabulary size.
    stop_words : {'english'}, list or None, default=None
        Passed to :class:`~sklearn.feature_extraction.text.TfidfVectorizer`.
    min_df : int or float, default=1
        Passed to :class:`~sklearn.feature_extraction.text.TfidfVectorizer`.
    dense : bool, default=True
        Append :class:`DenseTransformer`; ``False`` returns the sparse matrix.
    dtype : dtype, default=np.float32

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``"tfidf"`` and (if ``dense``) ``"dense"``.

    Examples
    --------
    >>> vec = reuters_vectorizer(max_features=5)
    >>> X = vec.fit_transform(["oil prices rise", "oil output falls", "wheat prices"])
    >>> X.shape, X.dtype.name
    ((3, 5), 'float32')
    """
    steps: list[tuple[str, Any]] = [
        (
            "tfidf",
            TfidfVectorizer(
                sublinear_tf=True,
                max_features=max_features,
                stop_words=stop_words,
                min_df=min_df,
                dtype=dtype,
            ),
        )
    ]
    if dense:
        steps.append(("dense", DenseTransformer(dtype=dtype)))
    return Pipeline(steps)


# --------------------------------------------------------------------------------------
# Twitter part-of-speech tagging
# --------------------------------------------------------------------------------------


def _read_conll(path: os.PathLike[str]) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    tweets: list[tuple[str, ...]] = []
    tags: list[tuple[str, ...]] = []
    toks: list[str] = []
    tgs: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line.strip():
                if toks:
                    tweets.append(tuple(toks))
                    tags.append(tuple(tgs))
                    toks, tgs = [], []
                continue
            tok, tag = line.split("\t")
            toks.append(tok)
            tgs.append(tag)
    if toks:
        tweets.append(tuple(toks))
        tags.append(tuple(tgs))
    return tweets, tags


def load_twitter_pos(
    split: str = "oct27",
    data_dir: str | os.PathLike[str] | None = None,
    return_X_y: bool = False,
) -> Any:
    """Twitter part-of-speech tagging (Gimpel et al., 2011) as token classification.

    Reads the Oct27 train / dev / test split (1,000 / 327 / 500 tweets, 14,619 / 4,823
    / 7,152 tokens; 25 coarse tags in train, 23 in dev and test) of the ARK TweetNLP
    release v0.3. Each sample is one token *in its tweet*: the pair ``(tweet, i)`` with
    ``tweet`` the tuple of the tweet's tokens (shared by all its samples) and ``i`` the
    position; its label is the token's tag. :func:`twitter_pos_features` turns such
    samples into feature vectors.

    Parameters
    ----------
    split : {'oct27'}, default='oct27'
        Which split to read (the only one with a training part).
    data_dir : str or path-like, default=None
        See :func:`benchmarks.datasets.get_data_dir`; the files are in its
        ``text/twitter_pos/`` folder.
    return_X_y : bool, default=False
        Return ``(X_train, y_train, X_dev, y_dev, X_test, y_test)`` instead of a Bunch.

    Returns
    -------
    data : sklearn.utils.Bunch
        For each part ``p`` in ``train``, ``dev``, ``test``: ``X_p`` (list of
        ``(tweet, i)`` samples, tweets in file order, tokens in tweet order), ``y_p``
        (ndarray of str, the tags), ``tweets_p`` and ``tags_p`` (lists of tuples, one per
        tweet). Also ``class_names`` (tags from the most to the least frequent in
        training; ties by tag), ``counts`` (int64, training tokens per class in that
        order), ``imbalance_ratio`` and ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If the data directory or a file is missing.
    """
    if split not in _TWITTER_SPLITS:
        raise ValueError(f"split must be one of {sorted(_TWITTER_SPLITS)}; got {split!r}.")
    out = Bunch()
    sizes = []
    for part, filename in zip(("train", "dev", "test"), _TWITTER_SPLITS[split]):
        path = _data_file(f"{_TWITTER_DIR}/{filename}", data_dir)
        tweets, tags = _read_conll(path)
        out[f"tweets_{part}"] = tweets
        out[f"tags_{part}"] = tags
        out[f"X_{part}"] = [(tw, i) for tw in tweets for i in range(len(tw))]
        out[f"y_{part}"] = np.array([t for tg in tags for t in tg], dtype=str)
        sizes.append(f"{part} {len(tweets)} tweets / {out[f'y_{part}'].shape[0]} tokens")
    if return_X_y:
        return tuple(out[f"{a}_{p}"] for p in ("train", "dev", "test") for a in ("X", "y"))
    classes, n = np.unique(out.y_train, return_counts=True)
    class_names = class_frequency_order(dict(zip(classes.tolist(), n.tolist()))).tolist()
    count_of = dict(zip(classes.tolist(), n.tolist()))
    out.class_names = class_names
    out.counts = np.array([count_of[c] for c in class_names], dtype=np.int64)
    out.imbalance_ratio = float(out.counts.max() / out.counts.min())
    out.DESCR = (
        f"Twitter POS ({split}, Gimpel et al. 2011, ARK TweetNLP v0.3), one sample per "
        f"token: {', '.join(sizes)}; {len(class_names)} training tags, imbalance ratio "
        f"{out.imbalance_ratio:g}; read from {path.parent}."
    )
    return out


_URL_RE = re.compile(
    r"^(https?://|www\.)\S+$|^[\w.-]+\.(com|net|org|edu|gov|co|ly|me|tv|uk|us|info|io)(/\S*)?$",
    re.IGNORECASE,
)
_NUMERIC_RE = re.compile(r"^[+-]?\$?(\d+([.,:/-]\d+)*|\.\d+)%?$")


def _shape(word: str) -> str:
    out: list[str] = []
    for ch in word:
        if ch.isupper():
            c = "X"
        elif ch.islower():
            c = "x"
        elif ch.isdigit():
            c = "d"
        else:
            c = ch
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)


def _word_features(word: str, prefix: str, feats: dict[str, Any]) -> None:
    lower = word.lower()
    feats[prefix + "w"] = word
    feats[prefix + "lower"] = lower
    for k in range(1, min(3, len(lower)) + 1):
        feats[f"{prefix}p{k}"] = lower[:k]
        feats[f"{prefix}s{k}"] = lower[-k:]
    feats[prefix + "shape"] = _shape(word)
    if len(word) > 1 and word[0] == "@":
        feats[prefix + "mention"] = 1.0
    if len(word) > 1 and word[0] == "#":
        feats[prefix + "hashtag"] = 1.0
    if _URL_RE.match(word):
        feats[prefix + "url"] = 1.0
    if _NUMERIC_RE.match(word):
        feats[prefix + "numeric"] = 1.0
    if not any(ch.isalnum() for ch in word):
        feats[prefix + "punct"] = 1.0


def token_features(tweet: Sequence[str], i: int, window: int = 2) -> dict[str, Any]:
    """Feature dict of token ``i`` of ``tweet`` and of its neighbours.

    For the token itself (keys without prefix) and for each neighbour at offset
    ``o = -window .. window, o != 0`` (keys prefixed ``"-2:"``, ``"-1:"``, ``"+1:"``,
    ``"+2:"``):

    * ``w`` -- the word as written; ``lower`` -- lower-cased;
    * ``p1`` .. ``p3`` and ``s1`` .. ``s3`` -- lower-cased prefixes and suffixes of length
      1 to ``min(3, len(word))``;
    * ``shape`` -- upper-case letters as ``X``, lower-case as ``x``, digits as ``d``,
      other characters as themselves, runs of one symbol collapsed (``"Got"`` ->
      ``"Xx"``, ``"10:30"`` -> ``"d:d"``);
    * flags, present (value 1.0) only when true: ``mention`` (``@`` + something),
      ``hashtag`` (``#`` + something), ``url`` (``http(s)://``, ``www.`` or a
      ``name.com``-like domain), ``numeric`` (digits with ``.,:/-`` separators, optional
      sign, ``$`` and ``%``), ``punct`` (no letter or digit: punctuation, most
      emoticons).

    A neighbour position outside the tweet contributes only ``{"<o>:w": "<s>"}`` (before
    the start) or ``"</s>"`` (after the end). String values are categorical (one-hot in
    :class:`~sklearn.feature_extraction.DictVectorizer`).

    Parameters
    ----------
    tweet : sequence of str
        The tweet's tokens.
    i : int
        Position of the token.
    window : int, default=2
        Neighbours on each side.

    Returns
    -------
    dict

    Examples
    --------
    >>> f = token_features(["Got", "@bob", ":)"], 1, window=1)
    >>> f["w"], f["shape"], f["mention"], f["-1:lower"], f["+1:punct"]
    ('@bob', '@x', 1.0, 'got', 1.0)
    """
    feats: dict[str, Any] = {}
    _word_features(tweet[i], "", feats)
    n = len(tweet)
    for off in range(-window, window + 1):
        if off == 0:
            continue
        j = i + off
        prefix = f"{off:+d}:"
        if j < 0:
            feats[prefix + "w"] = "<s>"
        elif j >= n:
            feats[prefix + "w"] = "</s>"
        else:
            _word_features(tweet[j], prefix, feats)
    return feats


class TwitterTokenFeatures(TransformerMixin, BaseEstimator):
    """``(tweet, i)`` samples -> :func:`token_features` dicts (stateless).

    Parameters
    ----------
    window : int, default=2
        Neighbours on each side.
    """

    def __init__(self, window: int = 2) -> None:
        self.window = window

    def fit(self, X: Any, y: Any = None) -> TwitterTokenFeatures:
        """Nothing to learn.

        Parameters
        ----------
        X : sequence of (tweet, i) pairs
        y : ignored

        Returns
        -------
        self
        """
        if int(self.window) < 0:
            raise ValueError(f"window must be >= 0; got {self.window!r}.")
        return self

    def transform(self, X: Any) -> list[dict[str, Any]]:
        """Feature dicts.

        Parameters
        ----------
        X : sequence of (tweet, i) pairs

        Returns
        -------
        list of dict
        """
        w = int(self.window)
        return [token_features(tweet, int(i), w) for tweet, i in X]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags


def twitter_pos_features(
    window: int = 2,
    *,
    min_count: int = 2,
    max_features: int | None = 3000,
    dense: bool = True,
    dtype: DTypeLike = np.float32,
) -> Pipeline:
    """Indicator features for :func:`load_twitter_pos`, as an unfitted pipeline.

    Steps: :class:`TwitterTokenFeatures` (the dicts of :func:`token_features`, token
    and +-``window`` neighbours) -> :class:`~sklearn.feature_extraction.DictVectorizer`
    (one column per feature=value, sparse) -> :class:`FrequentFeatures` (columns seen in
    at least ``min_count`` training tokens, at most the ``max_features`` most frequent)
    -> :class:`DenseTransformer`. Every column is a 0/1 indicator. Fitted on the Oct27
    training tokens with the defaults: 71,933 columns before the cut, 25,013 seen at
    least twice, and the 3,000 kept ones are those seen in at least 24 training tokens
    (14,619 x 3,000 float32 = 175 MB; every token has at least 4 active features, 27.5
    on average).

    Parameters
    ----------
    window : int, default=2
        Neighbours on each side.
    min_count : int, default=2
        See :class:`FrequentFeatures`.
    max_features : int or None, default=3000
        See :class:`FrequentFeatures`.
    dense : bool, default=True
        Append :class:`DenseTransformer`; ``False`` returns the sparse matrix.
    dtype : dtype, default=np.float32

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``"tokens"``, ``"vectorize"``, ``"select"`` and (if ``dense``) ``"dense"``.
        The column names (``"w=I"``, ``"-1:shape=Xx"``, ``"+2:url"``, ...) are
        ``pipeline[1:].get_feature_names_out()`` (the first step outputs dicts).

    Examples
    --------
    >>> tweets = [("I", "won't", "win"), ("Got", "it", ":)")]
    >>> X = [(tw, i) for tw in tweets for i in range(len(tw))]
    >>> feats = twitter_pos_features(min_count=2).fit(X)
    >>> feats.transform(X).shape
    (6, 13)
    """
    steps: list[tuple[str, Any]] = [
        ("tokens", TwitterTokenFeatures(window=window)),
        ("vectorize", DictVectorizer(dtype=dtype)),
        ("select", FrequentFeatures(min_count=min_count, max_features=max_features)),
    ]
    if dense:
        steps.append(("dense", DenseTransformer(dtype=dtype)))
    return Pipeline(steps)
