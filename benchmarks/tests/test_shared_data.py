"""Tests of benchmarks.datasets: the shared data directory, CIFAR-LT and the tabular sets."""

from __future__ import annotations

import numpy as np
import pytest

import benchmarks.datasets as ds
from benchmarks.datasets import (
    DATA_DIR_ENV,
    get_data_dir,
    has_data_dir,
    list_tabular,
    load_cifar10_lt,
    load_tabular,
)
from m2m_sampler.datasets import load_csv, make_long_tailed

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


def test_data_dir_ignores_where_the_lab_is(tmp_path, monkeypatch):
    """A checkout at <prefix>/benchmarks must not look in <prefix>/shared/data:
    only the argument, M2M_DATA_DIR and the working directory count."""
    prefix = tmp_path / "prefix"
    (prefix / "shared" / "data").mkdir(parents=True)
    fake_pkg = prefix / "benchmarks"
    fake_pkg.mkdir(parents=True)
    monkeypatch.setattr(ds, "__file__", str(fake_pkg / "datasets.py"))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    work = tmp_path / "elsewhere" / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    with pytest.raises(FileNotFoundError, match=DATA_DIR_ENV) as err:
        get_data_dir()
    assert str(prefix) not in str(err.value)  # not even searched
    # The working directory's ../shared/data is found ...
    (tmp_path / "elsewhere" / "shared" / "data").mkdir(parents=True)
    assert get_data_dir() == (tmp_path / "elsewhere" / "shared" / "data").resolve()
    # ... and M2M_DATA_DIR (documented) wins over it.
    monkeypatch.setenv(DATA_DIR_ENV, str(prefix / "shared" / "data"))
    assert get_data_dir() == (prefix / "shared" / "data").resolve()


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
