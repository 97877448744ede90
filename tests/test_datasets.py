"""Tests of m2m_sampler.datasets (synthetic data, sklearn digits and a user's CSV)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from m2m_sampler.datasets import (
    load_csv,
    load_digits_lt,
    long_tailed_counts,
    make_long_tailed,
)

CIFAR_R100 = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
CIFAR_R10 = [5000, 3871, 2997, 2320, 1796, 1391, 1077, 834, 645, 500]

@pytest.fixture(scope="module")
def balanced_cifar_like_labels():
    """5000 labels per class for 10 classes, shuffled (like CIFAR-10's training order)."""
    rng = np.random.RandomState(0)
    return rng.permutation(np.repeat(np.arange(10), 5000))


# ------------------------------------------------------------------ long-tailed profile


def test_long_tailed_counts_cifar():
    assert long_tailed_counts(5000, 10, 100).tolist() == CIFAR_R100
    assert long_tailed_counts(5000, 10, 10).tolist() == CIFAR_R10
    assert long_tailed_counts(7, 1, 50).tolist() == [7]
    assert long_tailed_counts(100, 3, 1).tolist() == [100, 100, 100]


@pytest.mark.parametrize("rho, expected", [(100, CIFAR_R100), (10, CIFAR_R10)])
def test_make_long_tailed_first_n_reproduces_cifar_lt(balanced_cifar_like_labels, rho, expected):
    y = balanced_cifar_like_labels
    idx = make_long_tailed(None, y, rho, class_order=range(10), return_indices=True)
    assert np.bincount(y[idx]).tolist() == expected
    assert np.all(np.diff(idx) > 0)  # sorted: original order kept, classes interleaved
    for k, n_k in enumerate(expected):  # the FIRST n_k of each class
        np.testing.assert_array_equal(idx[y[idx] == k], np.flatnonzero(y == k)[:n_k])
    # ties in frequency are broken by label, so the default order is 0..9 here too
    np.testing.assert_array_equal(make_long_tailed(None, y, rho, return_indices=True), idx)


def test_make_long_tailed_random_selection(balanced_cifar_like_labels):
    y = balanced_cifar_like_labels
    a = make_long_tailed(None, y, 100, selection="random", random_state=0, return_indices=True)
    b = make_long_tailed(None, y, 100, selection="random", random_state=0, return_indices=True)
    c = make_long_tailed(None, y, 100, selection="random", random_state=1, return_indices=True)
    first = make_long_tailed(None, y, 100, return_indices=True)
    assert np.bincount(y[a]).tolist() == CIFAR_R100
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, first)
    assert np.all(np.diff(a) > 0) and np.unique(a).shape == a.shape


def test_make_long_tailed_frequency_order_and_n_max():
    y = np.repeat([0, 1, 2], [30, 50, 40])  # frequency order: 1, 2, 0
    idx = make_long_tailed(None, y, 4, return_indices=True)
    # n_max = 50 (class 1): 50, int(50 / 2) = 25, int(50 / 4) = 12
    assert np.bincount(y[idx]).tolist() == [12, 50, 25]
    idx = make_long_tailed(None, y, 4, class_order="frequency", n_max=40, return_indices=True)
    assert np.bincount(y[idx]).tolist() == [10, 40, 20]
    idx = make_long_tailed(None, y, 2, class_order=[2, 0, 1], return_indices=True)
    # n_max = 40 (class 2): 40, int(40 / sqrt 2) = 28, 20
    assert np.bincount(y[idx]).tolist() == [28, 20, 40]


def test_make_long_tailed_images_and_labels():
    rng = np.random.RandomState(0)
    y = rng.permutation(np.repeat(np.arange(3), 20))
    X = rng.rand(60, 3, 4, 5).astype(np.float32)
    X_lt, y_lt = make_long_tailed(X, y, 4)
    idx = make_long_tailed(X, y, 4, return_indices=True)
    assert X_lt.shape == (20 + 10 + 5, 3, 4, 5) and X_lt.dtype == np.float32
    np.testing.assert_array_equal(X_lt, X[idx])
    np.testing.assert_array_equal(y_lt, y[idx])
    assert np.bincount(y_lt).tolist() == [20, 10, 5]


def test_make_long_tailed_pandas_and_string_labels():
    pd = pytest.importorskip("pandas")
    y = pd.Series(["b", "a", "a", "b", "a", "c", "a", "b", "c", "a"], index=np.arange(10) * 10)
    X = pd.DataFrame({"f": np.arange(10.0)}, index=y.index)
    X_lt, y_lt = make_long_tailed(X, y, 5)  # order a (5), b (3), c (2): keep 5, 2, 1
    assert isinstance(X_lt, pd.DataFrame) and isinstance(y_lt, pd.Series)
    assert y_lt.value_counts().to_dict() == {"a": 5, "b": 2, "c": 1}
    assert y_lt.index.tolist() == [0, 10, 20, 30, 40, 50, 60, 90]
    assert X_lt["f"].tolist() == [0, 1, 2, 3, 4, 5, 6, 9]


def test_make_long_tailed_errors():
    y = np.repeat([0, 1], [100, 30])
    with pytest.raises(ValueError, match=">= 1"):
        make_long_tailed(None, y, 0.5, return_indices=True)
    with pytest.raises(ValueError, match="keep 0 samples.*at most 10"):
        make_long_tailed(None, y, 20, n_max=10, return_indices=True)
    with pytest.raises(ValueError, match="fewer samples.*1 has 30 < 50"):
        make_long_tailed(None, y, 2, return_indices=True)
    with pytest.raises(ValueError, match="permutation"):
        make_long_tailed(None, y, 2, class_order=[0, 2], return_indices=True)
    with pytest.raises(ValueError, match="exactly once"):
        make_long_tailed(None, y, 2, class_order=[0, 0, 1], return_indices=True)
    with pytest.raises(ValueError, match="return_indices"):
        make_long_tailed(None, y, 2)
    with pytest.raises(ValueError, match="different lengths"):
        make_long_tailed(np.zeros(5), y, 2)
    with pytest.raises(ValueError, match="selection"):
        make_long_tailed(None, y, 2, selection="last", return_indices=True)


# ------------------------------------------------------------------ digits


def test_load_digits_lt_counts_split_and_pixels():
    d = load_digits_lt()
    expected = [128, 99, 76, 59, 46, 35, 27, 21, 16, 12]
    assert d.counts.tolist() == expected
    assert np.bincount(d.y_train).tolist() == expected
    assert d.X_train.shape == (sum(expected), 64) and d.X_train.dtype == np.float32
    assert d.X_test.shape == (500, 64) and np.bincount(d.y_test).tolist() == [50] * 10
    assert d.image_shape == (1, 8, 8) and d.class_names == [str(i) for i in range(10)]
    assert np.intersect1d(d.train_indices, d.test_indices).size == 0

    raw = load_digits()
    np.testing.assert_array_equal(d.X_train, (raw.data[d.train_indices] / 16).astype(np.float32))
    np.testing.assert_array_equal(d.y_test, raw.target[d.test_indices])
    assert d.X_train.min() == 0.0 and d.X_train.max() == 1.0
    for k in range(10):  # test = the last 50 of each class; train = the first n_k of the rest
        members = np.flatnonzero(raw.target == k)
        np.testing.assert_array_equal(d.test_indices[d.y_test == k], members[-50:])
        np.testing.assert_array_equal(d.train_indices[d.y_train == k], members[: expected[k]])


def test_load_digits_lt_options():
    a = load_digits_lt(100, flatten=False)
    assert a.counts.tolist() == [128, 76, 46, 27, 16, 9, 5, 3, 2, 1]
    assert a.X_train.shape == (313, 1, 8, 8)
    b = load_digits_lt(100, flatten=False)
    np.testing.assert_array_equal(a.X_train, b.X_train)  # deterministic
    X_tr, y_tr, X_te, y_te = load_digits_lt(10, test_per_class=30, return_X_y=True)
    assert X_te.shape == (300, 64) and np.bincount(y_te).tolist() == [30] * 10
    assert np.bincount(y_tr)[0] == 178 - 30
    r = load_digits_lt(10, selection="random", random_state=0)
    assert r.counts.tolist() == load_digits_lt(10).counts.tolist()
    assert not np.array_equal(r.train_indices, load_digits_lt(10).train_indices)
    with pytest.raises(ValueError, match="test_per_class"):
        load_digits_lt(test_per_class=174)


# ------------------------------------------------------------------ generic CSV


def test_load_csv_categorical_and_string_labels(tmp_path):
    pytest.importorskip("pandas")
    path = tmp_path / "toy.csv"
    path.write_text(
        "id,size,colour,n_legs,label\n"
        "1,1.5,red,4,cat\n"
        "2,2.0,blue,2,bird\n"
        "3,0.5,red,4,cat\n"
        "4,3.0,green,0,fish\n"
    )
    d = load_csv(path, "label", drop_columns=["id"])
    assert d.feature_names == ["size", "colour=blue", "colour=green", "colour=red", "n_legs"]
    np.testing.assert_array_equal(
        d.data,
        [[1.5, 0, 0, 1, 4], [2.0, 1, 0, 0, 2], [0.5, 0, 0, 1, 4], [3.0, 0, 1, 0, 0]],
    )
    assert d.data.dtype == np.float64
    assert d.target.tolist() == ["cat", "bird", "cat", "fish"]
    assert d.target_names.tolist() == ["bird", "cat", "fish"]
    assert d.categories == {"colour": ["blue", "green", "red"]}

    # an integer-coded categorical column, listed explicitly; integer labels stay int64
    path2 = tmp_path / "toy2.csv"
    path2.write_text("a,code,y\n0.1,3,1\n0.2,1,0\n0.3,3,1\n")
    X, y = load_csv(path2, "y", categorical=["code"], return_X_y=True)
    np.testing.assert_array_equal(X, [[0.1, 0, 1], [0.2, 1, 0], [0.3, 0, 1]])
    assert y.dtype == np.int64 and y.tolist() == [1, 0, 1]


def test_load_csv_errors_and_dropna(tmp_path):
    pytest.importorskip("pandas")
    path = tmp_path / "missing.csv"
    path.write_text("a,b,c,label\n1,,x,p\n2,3,,q\n4,5,y,p\n")
    with pytest.raises(ValueError, match="Missing values in columns 'b' \\(1\\), 'c' \\(1\\)"):
        load_csv(path, "label")
    d = load_csv(path, "label", dropna=True)
    assert d.n_dropped == 2 and d.data.tolist() == [[4.0, 5.0, 1.0]]
    with pytest.raises(ValueError, match="Label column 'target' not found"):
        load_csv(path, "target")
    with pytest.raises(ValueError, match="Non-numeric feature columns \\['c'\\]"):
        load_csv(path, "label", categorical=None, dropna=True)
    with pytest.raises(ValueError, match="unknown columns"):
        load_csv(path, "label", drop_columns=["zzz"])
