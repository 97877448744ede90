"""Tests of benchmarks.text_datasets (Reuters-21578 and Twitter POS from the shared data)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from benchmarks.datasets import DATA_DIR_ENV, has_data_dir
from benchmarks.text_datasets import (
    DenseTransformer,
    FrequentFeatures,
    TwitterTokenFeatures,
    load_reuters,
    load_twitter_pos,
    reuters_vectorizer,
    token_features,
    twitter_pos_features,
)

needs_reuters = pytest.mark.skipif(
    not has_data_dir("text/reuters21578_parsed.jsonl.gz"),
    reason=f"shared Reuters-21578 file not found (set {DATA_DIR_ENV})",
)
needs_twitter = pytest.mark.skipif(
    not has_data_dir(*(f"text/twitter_pos/oct27.{p}" for p in ("train", "dev", "test"))),
    reason=f"shared Twitter POS files not found (set {DATA_DIR_ENV})",
)

# Reuters, ModApte single-topic, >= 5 test documents: training documents per class
REUTERS_CLASSES = [
    "earn", "acq", "crude", "trade", "money-fx", "interest", "money-supply", "ship", "sugar",
    "coffee", "gold", "gnp", "cpi", "cocoa", "grain", "jobs", "reserves", "ipi", "alum",
    "copper", "rubber", "iron-steel", "nat-gas", "bop", "veg-oil", "tin", "cotton", "wpi",
    "livestock", "orange", "pet-chem", "gas", "strategic-metal", "zinc", "carcass", "fuel",
]  # fmt: skip
REUTERS_COUNTS = [
    2840, 1596, 253, 251, 206, 190, 123, 108, 97, 90, 70, 58, 54, 46, 41, 37, 37, 33, 31, 31,
    31, 26, 24, 22, 19, 17, 15, 14, 13, 13, 13, 10, 9, 8, 6, 4,
]  # fmt: skip
REUTERS_TEST_COUNTS = [
    1083, 696, 121, 75, 87, 81, 28, 36, 25, 22, 20, 15, 17, 15, 10, 12, 12, 11, 19, 13, 9, 12,
    12, 9, 11, 10, 9, 9, 5, 9, 6, 8, 6, 5, 5, 7,
]  # fmt: skip
TWITTER_TAGS = [
    "V", "N", ",", "P", "O", "^", "D", "A", "@", "R", "~", "!", "L", "&", "U", "$", "E", "#",
    "G", "T", "Z", "S", "X", "M", "Y",
]  # fmt: skip
TWITTER_COUNTS = [
    2219, 2003, 1715, 1252, 1063, 890, 869, 755, 713, 689, 538, 406, 252, 239, 223, 216, 148,
    141, 137, 92, 21, 18, 15, 3, 2,
]  # fmt: skip

TWITTER_DEV_COUNTS = [
    751, 660, 500, 440, 333, 311, 312, 239, 243, 209, 170, 99, 65, 91, 91, 86, 52, 52, 65, 36,
    9, 5, 4, 0, 0,
]  # fmt: skip
TWITTER_TEST_COUNTS = [
    1053, 981, 880, 616, 505, 495, 449, 367, 330, 339, 212, 186, 129, 127, 117, 85, 63, 78, 70,
    36, 22, 6, 6, 0, 0,
]  # fmt: skip


# ----------------------------------------------------------------------------- Reuters


@pytest.fixture(scope="module")
def reuters():
    return load_reuters()


@pytest.fixture(scope="module")
def reuters_vectorised(reuters):
    vec = reuters_vectorizer()
    X_train = vec.fit_transform(reuters.text_train)
    vocabulary = dict(vec["tfidf"].vocabulary_)
    X_test = vec.transform(reuters.text_test)
    return vec, vocabulary, X_train, X_test


@pytest.mark.shared_data
@needs_reuters
def test_load_reuters_counts_match_the_paper(reuters):
    d = reuters
    assert len(d.class_names) == 36
    assert len(d.text_train) == d.y_train.shape[0] == d.newid_train.shape[0] == 6436
    assert len(d.text_test) == d.y_test.shape[0] == d.newid_test.shape[0] == 2530
    assert d.class_names == REUTERS_CLASSES
    assert d.counts.tolist() == REUTERS_COUNTS and d.test_counts.tolist() == REUTERS_TEST_COUNTS
    assert d.imbalance_ratio == 710.0  # earn 2840 / fuel 4, M2m Table 2
    for y, counts in ((d.y_train, d.counts), (d.y_test, d.test_counts)):
        labels, n = np.unique(y, return_counts=True)
        assert dict(zip(labels.tolist(), n.tolist())) == dict(zip(d.class_names, counts.tolist()))
    assert np.all(np.diff(d.newid_train) > 0) and np.all(np.diff(d.newid_test) > 0)
    assert d.newid_train[0] == 1 and d.text_train[0].startswith("BAHIA COCOA REVIEW\nShowers")
    # the TYPE="UNPROC" documents have no title/body in the parsed file
    assert sum(t == "\n" for t in d.text_train) == 37 and sum(t == "\n" for t in d.text_test) == 11
    assert "36 classes" in d.DESCR


@pytest.mark.shared_data
@needs_reuters
def test_load_reuters_options(reuters):
    text_train, y_train, text_test, y_test = load_reuters(return_X_y=True)
    assert text_train == reuters.text_train and text_test == reuters.text_test
    np.testing.assert_array_equal(y_train, reuters.y_train)
    np.testing.assert_array_equal(y_test, reuters.y_test)
    loose = load_reuters(min_test_docs=1)
    assert len(loose.class_names) == 52 and len(loose.text_train) == 6532
    assert len(loose.text_test) == 2568 and loose.imbalance_ratio == 2840.0
    with pytest.raises(ValueError, match="min_test_docs"):
        load_reuters(min_test_docs=-1)


@pytest.mark.shared_data
@needs_reuters
def test_reuters_vectorizer_shapes_and_norms(reuters_vectorised):
    vec, _, X_train, X_test = reuters_vectorised
    assert X_train.shape == (6436, 10000) and X_test.shape == (2530, 10000)
    for X, n_empty in ((X_train, 37), (X_test, 11)):
        assert isinstance(X, np.ndarray) and X.dtype == np.float32 and X.flags.c_contiguous
        norms = np.linalg.norm(X, axis=1)
        assert (norms == 0).sum() == n_empty
        np.testing.assert_allclose(norms[norms > 0], 1.0, rtol=1e-5)
        assert X.min() >= 0.0
    assert [name for name, _ in vec.steps] == ["tfidf", "dense"]
    assert vec.get_feature_names_out().shape == (10000,)


@pytest.mark.shared_data
@needs_reuters
def test_reuters_vectorizer_is_fitted_on_train_only_and_deterministic(reuters, reuters_vectorised):
    vec, vocabulary, X_train, X_test = reuters_vectorised
    # transforming the test set leaves the vocabulary (and idf) as fitted on train
    assert vec["tfidf"].vocabulary_ == vocabulary
    again = reuters_vectorizer()
    np.testing.assert_array_equal(again.fit_transform(reuters.text_train), X_train)
    np.testing.assert_array_equal(again.transform(reuters.text_test), X_test)
    assert again["tfidf"].vocabulary_ == vocabulary
    # ... whereas fitting on test documents too would change it
    small = reuters_vectorizer(max_features=2000, dense=False).fit(reuters.text_train[:1000])
    both = reuters_vectorizer(max_features=2000, dense=False).fit(
        reuters.text_train[:1000] + reuters.text_test
    )
    assert small["tfidf"].vocabulary_ != both["tfidf"].vocabulary_
    assert sp.issparse(small.transform(reuters.text_test[:3]))


# ----------------------------------------------------------------------------- Twitter


TINY_TWEET = ("RT", "@bob", ":", "Got", "10:30", "#win", "http://t.co/x")


def test_token_features_exact_dict():
    expected = {
        "w": "Got", "lower": "got", "p1": "g", "s1": "t", "p2": "go", "s2": "ot",
        "p3": "got", "s3": "got", "shape": "Xx",
        "-2:w": "@bob", "-2:lower": "@bob", "-2:p1": "@", "-2:s1": "b", "-2:p2": "@b",
        "-2:s2": "ob", "-2:p3": "@bo", "-2:s3": "bob", "-2:shape": "@x", "-2:mention": 1.0,
        "-1:w": ":", "-1:lower": ":", "-1:p1": ":", "-1:s1": ":", "-1:shape": ":",
        "-1:punct": 1.0,
        "+1:w": "10:30", "+1:lower": "10:30", "+1:p1": "1", "+1:s1": "0", "+1:p2": "10",
        "+1:s2": "30", "+1:p3": "10:", "+1:s3": ":30", "+1:shape": "d:d", "+1:numeric": 1.0,
        "+2:w": "#win", "+2:lower": "#win", "+2:p1": "#", "+2:s1": "n", "+2:p2": "#w",
        "+2:s2": "in", "+2:p3": "#wi", "+2:s3": "win", "+2:shape": "#x", "+2:hashtag": 1.0,
    }  # fmt: skip
    assert token_features(TINY_TWEET, 3) == expected


def test_token_features_flags_and_boundaries():
    flags = [
        {k for k, v in token_features(TINY_TWEET, i, window=0).items() if v == 1.0}
        for i in range(len(TINY_TWEET))
    ]
    assert flags == [set(), {"mention"}, {"punct"}, set(), {"numeric"}, {"hashtag"}, {"url"}]
    assert token_features(("Hi",), 0) == {
        "w": "Hi", "lower": "hi", "p1": "h", "s1": "i", "p2": "hi", "s2": "hi", "shape": "Xx",
        "-2:w": "<s>", "-1:w": "<s>", "+1:w": "</s>", "+2:w": "</s>",
    }  # fmt: skip
    for word, flag in [("www.example.com", "url"), ("hotels.com", "url"), ("$25", "numeric"),
                       ("1,000", "numeric"), ("50%", "numeric"), (":)", "punct"),
                       ("@", "punct"), ("#", "punct")]:  # fmt: skip
        assert token_features((word,), 0, window=0).get(flag) == 1.0, word
    for word in ("@", "#", "2nd", "e-mail", "a.b"):
        f = token_features((word,), 0, window=0)
        assert not {"mention", "hashtag", "numeric", "url"} & f.keys(), word
    samples = [(TINY_TWEET, i) for i in range(len(TINY_TWEET))]
    dicts = TwitterTokenFeatures(window=1).fit(samples).transform(samples)
    assert dicts == [token_features(TINY_TWEET, i, 1) for i in range(len(TINY_TWEET))]


def test_frequent_features_and_dense_transformer():
    X = sp.csr_matrix(
        np.array([[1, 0, 2, 0, 1], [0, 0, 3, 1, 1], [1, 0, 0, 1, 0]], dtype=np.float64)
    )
    # non-zero rows per column: 2, 0, 2, 2, 2
    sel = FrequentFeatures(min_count=1).fit(X)
    assert sel.counts_.tolist() == [2, 0, 2, 2, 2]
    assert sel.get_support().tolist() == [True, False, True, True, True]
    # ties go to the lower column index
    top = FrequentFeatures(max_features=2).fit(X)
    assert top.get_support(indices=True).tolist() == [0, 2]
    assert FrequentFeatures(min_count=3).fit(X).get_support().sum() == 0
    dense = DenseTransformer().fit(X)
    out = dense.transform(X)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, X.toarray().astype(np.float32))
    with pytest.raises(ValueError, match="min_count"):
        FrequentFeatures(min_count=0).fit(X)
    with pytest.raises(ValueError, match="max_features"):
        FrequentFeatures(max_features=0).fit(X)


@pytest.fixture(scope="module")
def twitter():
    return load_twitter_pos()


@pytest.mark.shared_data
@needs_twitter
def test_load_twitter_pos_counts(twitter):
    d = twitter
    sizes = {p: (len(d[f"tweets_{p}"]), len(d[f"X_{p}"]), len(set(d[f"y_{p}"]))) for p in
             ("train", "dev", "test")}  # fmt: skip
    assert sizes == {"train": (1000, 14619, 25), "dev": (327, 4823, 23), "test": (500, 7152, 23)}
    assert d.class_names == TWITTER_TAGS and d.counts.tolist() == TWITTER_COUNTS
    assert d.imbalance_ratio == 2219 / 2
    for p in ("train", "dev", "test"):
        X, y, tweets, tags = d[f"X_{p}"], d[f"y_{p}"], d[f"tweets_{p}"], d[f"tags_{p}"]
        assert [tweet[i] for tweet, i in X] == [tok for tw in tweets for tok in tw]
        assert y.tolist() == [t for tg in tags for t in tg]
    # tokens per tag (in the order of class_names) in dev and test: "M" and "Y" (3 and 2
    # training tokens) never occur there; the other 23 tags give N_1 / N_K = 2219 / 15 =
    # 147.9, the paper's Twitter imbalance ratio (Table 2)
    for p, expected in (("dev", TWITTER_DEV_COUNTS), ("test", TWITTER_TEST_COUNTS)):
        assert [int(np.sum(d[f"y_{p}"] == c)) for c in d.class_names] == expected, p
    in_test = d.counts[[c in set(d.y_test.tolist()) for c in d.class_names]]
    assert len(in_test) == 23 and round(in_test.max() / in_test.min(), 1) == 147.9
    assert d.tweets_train[0][:4] == ("I", "predict", "I", "won't")
    assert d.tags_train[0][:4] == ("O", "V", "O", "V")
    parts = load_twitter_pos(return_X_y=True)
    assert len(parts) == 6 and parts[0] == d.X_train
    np.testing.assert_array_equal(parts[5], d.y_test)
    with pytest.raises(ValueError, match="split"):
        load_twitter_pos(split="daily547")


@pytest.mark.shared_data
@needs_twitter
def test_twitter_pos_features_shapes_train_only_and_deterministic(twitter):
    d = twitter
    feats = twitter_pos_features()
    Z_train = feats.fit_transform(d.X_train)
    names = feats[1:].get_feature_names_out().tolist()
    vocabulary = dict(feats["vectorize"].vocabulary_)
    Z_dev, Z_test = feats.transform(d.X_dev), feats.transform(d.X_test)
    assert Z_train.shape == (14619, 3000)
    assert Z_dev.shape == (4823, 3000) and Z_test.shape == (7152, 3000)
    assert len(vocabulary) == 71933
    for Z in (Z_train, Z_dev, Z_test):
        assert Z.dtype == np.float32 and Z.flags.c_contiguous
        assert set(np.unique(Z).tolist()) == {0.0, 1.0}
    assert Z_train.sum(axis=1).min() >= 4
    # transforming dev/test leaves what was fitted on train unchanged
    assert feats["vectorize"].vocabulary_ == vocabulary
    assert feats[1:].get_feature_names_out().tolist() == names
    assert feats["select"].counts_[feats["select"].support_mask_].min() == 24
    assert "w=I" in names and "shape=Xx" in names and "-1:w=<s>" in names
    test_only = {f"w={t}" for tw in d.tweets_test for t in tw} - {
        f"w={t}" for tw in d.tweets_train for t in tw
    }
    assert test_only and not test_only & vocabulary.keys()
    again = twitter_pos_features().fit(d.X_train)
    np.testing.assert_array_equal(again.transform(d.X_test), Z_test)
    sparse = twitter_pos_features(dense=False, max_features=None).fit(d.X_train)
    assert sp.issparse(sparse.transform(d.X_dev[:5]))
    assert sparse.transform(d.X_dev[:5]).shape == (5, 25013)  # seen in >= 2 training tokens
