"""Tests of m2m_sampler.datasets (synthetic data, sklearn digits and the shared data)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from m2m_sampler.datasets import (
    DATA_DIR_ENV,
    get_data_dir,
    has_data_dir,
    list_tabular,
    load_cifar10_lt,
    load_csv,
    load_digits_lt,
    load_tabular,
    long_tailed_counts,
    make_long_tailed,
)

CIFAR_R100 = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
CIFAR_R10 = [5000, 3871, 2997, 2320, 1796, 1391, 1077, 834, 645, 500]

needs_cifar = pytest.mark.skipif(
    not has_data_dir("cifar10_lt_train_r100.npz", "cifar10_lt_train_r10.npz", "cifar10_test.npz"),
    reason=f"shared CIFAR-10 files not found (set {DATA_DIR_ENV})",
)
needs_tabular = pytest.mark.skipif(
    not has_data_dir(*(f"tabular/{n}.csv" for n in list_tabular())),
    reason=f"shared tabular files not found (set {DATA_DIR_ENV})",
)


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


# ------------------------------------------------------------------ data directory


def test_get_data_dir_resolution(tmp_path, monkeypatch):
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "work").mkdir()
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path / "work")
    assert get_data_dir() == (tmp_path / "shared" / "data").resolve()  # cwd-relative
    monkeypatch.setenv(DATA_DIR_ENV, str(other))
    assert get_data_dir() == other.resolve()  # env var beats cwd
    assert get_data_dir(tmp_path) == tmp_path.resolve()  # argument beats env var
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match=DATA_DIR_ENV):
        get_data_dir()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        get_data_dir(tmp_path / "nope")


def test_get_data_dir_nothing_found(tmp_path, monkeypatch):
    import m2m_sampler.datasets as ds

    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(ds, "_candidate_dirs", lambda: [("test", tmp_path / "absent")])
    with pytest.raises(FileNotFoundError, match=f"set the environment variable {DATA_DIR_ENV}"):
        get_data_dir()
    assert not has_data_dir()


def test_missing_file_messages(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_cifar10_lt(10, data_dir=tmp_path)
    msg = str(err.value)
    assert "cifar10_lt_train_r10.npz" in msg and str(tmp_path) in msg and DATA_DIR_ENV in msg
    with pytest.raises(FileNotFoundError, match="tabular/glass.csv"):
        load_tabular("glass", data_dir=tmp_path)
    assert not has_data_dir("cifar10_test.npz", data_dir=tmp_path)
    with pytest.raises(ValueError, match="10 or 100"):
        load_cifar10_lt(50, data_dir=tmp_path)
    with pytest.raises(ValueError, match="Unknown tabular"):
        load_tabular("iris", data_dir=tmp_path)


# ------------------------------------------------------------------ shared data

# name -> (rows, features, classes, a few class counts from shared/data/README.md)
TABULAR_TABLE = {
    "ecoli": (336, 7, 8, {"cp": 143, "im": 77, "pp": 52, "imU": 35, "imL": 2, "imS": 2}),
    "satimage": (6435, 36, 6, {1: 1533, 7: 1508, 3: 1358, 5: 707, 2: 703, 4: 626}),
    "glass": (214, 9, 6, {2: 76, 1: 70, 7: 29, 3: 17, 5: 13, 6: 9}),
    "dermatology": (358, 34, 6, {1: 111, 3: 71, 2: 60, 5: 48, 4: 48, 6: 20}),
    "letter": (20000, 16, 26, {"Z": 734}),
    "optdigits": (5620, 64, 10, {8: 554}),
    "pendigits": (10992, 16, 10, {5: 1055}),
}


@pytest.mark.shared_data
@needs_tabular
@pytest.mark.parametrize("name", sorted(TABULAR_TABLE))
def test_load_tabular_matches_readme(name):
    n, p, k, some_counts = TABULAR_TABLE[name]
    d = load_tabular(name)
    assert d.data.shape == (n, p) and d.data.dtype == np.float64
    assert len(d.feature_names) == p and "label" not in d.feature_names
    assert d.target.shape == (n,) and len(d.target_names) == k
    for label, count in some_counts.items():
        assert d.counts[label] == count
    assert sum(d.counts.values()) == n


@pytest.mark.shared_data
@needs_tabular
def test_load_tabular_satimage_split_is_not_a_feature():
    d = load_tabular("satimage")
    assert "uci_split" not in d.feature_names
    values, counts = np.unique(d.uci_split, return_counts=True)
    assert dict(zip(values.tolist(), counts.tolist())) == {"test": 2000, "train": 4435}
    assert d.target.dtype == np.int64


@pytest.mark.shared_data
@needs_tabular
def test_load_tabular_agrees_with_load_csv():
    pytest.importorskip("pandas")
    d = load_tabular("ecoli")
    c = load_csv(get_data_dir() / "tabular" / "ecoli.csv", "label")
    np.testing.assert_array_equal(d.data, c.data)
    np.testing.assert_array_equal(d.target, c.target)
    assert d.feature_names == c.feature_names
    s = load_csv(get_data_dir() / "tabular" / "satimage.csv", "label", drop_columns=["uci_split"])
    np.testing.assert_array_equal(load_tabular("satimage").data, s.data)


@pytest.fixture(scope="module")
def cifar_r100():
    return load_cifar10_lt(100, val_per_class=100)


@pytest.mark.shared_data
@needs_cifar
def test_load_cifar10_lt_r100(cifar_r100):
    d = cifar_r100
    assert d.X_train.shape == (12406, 3, 32, 32) and d.X_train.dtype == np.float32
    assert np.bincount(d.y_train).tolist() == CIFAR_R100 == d.counts.tolist()
    assert 0.0 <= d.X_train.min() and d.X_train.max() <= 1.0
    assert d.X_val.shape == (1000, 3, 32, 32) and np.bincount(d.y_val).tolist() == [100] * 10
    assert d.X_test.shape == (9000, 3, 32, 32) and np.bincount(d.y_test).tolist() == [900] * 10
    assert d.class_names[0] == "airplane" and d.class_names[9] == "truck"

    raw = load_cifar10_lt(100, val_per_class=0, dtype=np.uint8, channels_first=False)
    assert raw.X_train.shape == (12406, 32, 32, 3) and raw.X_train.dtype == np.uint8
    assert raw.X_test.shape == (10000, 32, 32, 3)
    assert raw.y_test[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]  # official test order
    np.testing.assert_array_equal(
        d.X_train[:5], raw.X_train[:5].transpose(0, 3, 1, 2).astype(np.float32) / 255
    )
    # validation = first 100 test images of each class in the original order; test = rest
    val_idx = np.sort(np.concatenate([np.flatnonzero(raw.y_test == k)[:100] for k in range(10)]))
    np.testing.assert_array_equal(d.y_val, raw.y_test[val_idx])
    np.testing.assert_array_equal(
        d.X_val[-3:], raw.X_test[val_idx[-3:]].transpose(0, 3, 1, 2).astype(np.float32) / 255
    )
    flat = load_cifar10_lt(100, dtype=np.uint8, flatten=True)
    assert flat.X_train.shape == (12406, 3072)
    np.testing.assert_array_equal(flat.X_train[7], raw.X_train[7].transpose(2, 0, 1).ravel())


@pytest.mark.shared_data
@needs_cifar
def test_cifar_r100_is_first_n_subset_of_r10():
    """make_long_tailed's first-n rule applied to the r10 rows rebuilds the r100 file."""
    root = get_data_dir()
    with (
        np.load(root / "cifar10_lt_train_r10.npz") as z10,
        np.load(root / "cifar10_lt_train_r100.npz") as z100,
    ):
        y10, o10, c10 = z10["y"], z10["orig_index"], z10["counts"]
        y100, o100 = z100["y"], z100["orig_index"]
    assert np.bincount(y10).tolist() == CIFAR_R10 == c10.tolist()
    assert np.all(np.diff(o10) > 0)  # rows follow the original training order
    idx = make_long_tailed(None, y10, 100, class_order=range(10), n_max=5000, return_indices=True)
    np.testing.assert_array_equal(o10[idx], o100)
    np.testing.assert_array_equal(y10[idx], y100)
