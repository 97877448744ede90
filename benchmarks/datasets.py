"""The project's shared data sets, for the lab (not part of the installed package).

* :func:`load_cifar10_lt` reads CIFAR-LT-10 (the ``.npz`` files of M2m / LDAM-DRW);
* :func:`list_tabular`, :func:`load_tabular` read the UCI / KEEL tabular sets;
* ``benchmarks.text_datasets`` reads Reuters and Twitter POS from the same folder.

The shared data directory is found by :func:`get_data_dir`: the ``data_dir`` argument, else
the environment variable ``M2M_DATA_DIR``, else ``../shared/data`` relative to the current
working directory. The library itself (:mod:`m2m_sampler.datasets`) only has offline data
(long-tailed digits) and :func:`m2m_sampler.datasets.load_csv` for a user's CSV file.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import DTypeLike
from sklearn.utils import Bunch

__all__ = [
    "DATA_DIR_ENV",
    "get_data_dir",
    "has_data_dir",
    "list_tabular",
    "load_cifar10_lt",
    "load_tabular",
]

DATA_DIR_ENV = "M2M_DATA_DIR"
"""Name of the environment variable that points at the shared data directory."""

# name -> (file under tabular/, columns that are neither features nor the label)
_TABULAR: dict[str, tuple[str, tuple[str, ...]]] = {
    "dermatology": ("dermatology.csv", ()),
    "ecoli": ("ecoli.csv", ()),
    "glass": ("glass.csv", ()),
    "letter": ("letter.csv", ()),
    "optdigits": ("optdigits.csv", ()),
    "pendigits": ("pendigits.csv", ()),
    "satimage": ("satimage.csv", ("uci_split",)),
}


# --------------------------------------------------------------------------------------
# Data directory
# --------------------------------------------------------------------------------------


def _candidate_dirs() -> list[tuple[str, Path]]:
    # Only the working directory: an installed package (site-packages, a wheel, an
    # editable checkout elsewhere) must find the same folder from the same place.
    return [
        ("../shared/data relative to the current directory", Path.cwd() / ".." / "shared" / "data"),
    ]


def get_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Locate the shared data directory.

    The first of these that applies wins:

    1. the ``data_dir`` argument;
    2. the environment variable ``M2M_DATA_DIR``;
    3. ``../shared/data`` relative to the current working directory (for a checkout
       next to the project's ``shared/`` folder, run from the checkout's root).

    Where the package is installed (site-packages, an editable checkout) plays no part:
    from any other working directory, pass ``data_dir`` or set ``M2M_DATA_DIR``.

    An explicit argument or environment variable that names a missing directory is an error
    (there is no silent fall-back past it).

    Parameters
    ----------
    data_dir : str or path-like, default=None
        Directory to use.

    Returns
    -------
    path : pathlib.Path
        The resolved, existing directory.

    Raises
    ------
    FileNotFoundError
        If no directory is found; the message lists the places searched.
    """
    if data_dir is not None:
        path = Path(data_dir).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"The data directory {str(path)!r} does not exist.")
        return path.resolve()
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(
                f"The environment variable {DATA_DIR_ENV}={env!r} names a directory that "
                "does not exist; point it at the shared data directory or unset it."
            )
        return path.resolve()
    searched = []
    for what, path in _candidate_dirs():
        if path.is_dir():
            return path.resolve()
        searched.append(f"{path} ({what})")
    raise FileNotFoundError(
        "Cannot find the shared data directory. Pass data_dir=... or set the environment "
        f"variable {DATA_DIR_ENV} to the folder that holds cifar10_test.npz and tabular/. "
        "Searched: " + "; ".join(searched) + "."
    )


def has_data_dir(*files: str, data_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether the shared data directory exists (and holds ``files``, if given).

    Meant for ``pytest.mark.skipif`` and for examples that need optional data.

    Parameters
    ----------
    *files : str
        Paths relative to the data directory that must exist, e.g. ``"cifar10_test.npz"``.
    data_dir : str or path-like, default=None
        Passed to :func:`get_data_dir`.

    Returns
    -------
    bool
    """
    try:
        root = get_data_dir(data_dir)
    except FileNotFoundError:
        return False
    return all((root / f).exists() for f in files)


def _data_file(relpath: str, data_dir: str | os.PathLike[str] | None) -> Path:
    root = get_data_dir(data_dir)
    path = root / relpath
    if not path.is_file():
        raise FileNotFoundError(
            f"Missing data file {relpath!r} in the data directory {str(root)!r}. Pass "
            f"data_dir=... or set {DATA_DIR_ENV} to a directory that holds it."
        )
    return path


# --------------------------------------------------------------------------------------
# CIFAR-10-LT (shared data)
# --------------------------------------------------------------------------------------


def _convert_images(
    x: np.ndarray, dtype: DTypeLike, channels_first: bool, flatten: bool
) -> np.ndarray:
    if channels_first:
        x = x.transpose(0, 3, 1, 2)
    dt = np.dtype(dtype)
    if dt == np.uint8:
        out = np.ascontiguousarray(x)
    elif np.issubdtype(dt, np.floating):
        out = np.ascontiguousarray(x).astype(dt)
        np.divide(out, dt.type(255), out=out)
    else:
        raise ValueError(f"dtype must be a floating dtype or uint8; got {dt}.")
    return out.reshape(out.shape[0], -1) if flatten else out


def load_cifar10_lt(
    imbalance_ratio: int = 100,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    val_per_class: int = 0,
    dtype: DTypeLike = np.float32,
    channels_first: bool = True,
    flatten: bool = False,
) -> Bunch:
    """CIFAR-LT-10 of M2m / LDAM-DRW, read from the shared data directory.

    Reads ``cifar10_lt_train_r{imbalance_ratio}.npz`` (first ``n_k`` images of class ``k``
    in the original training order, see :func:`m2m_sampler.datasets.make_long_tailed`) and
    ``cifar10_test.npz`` (the full balanced test set, 1,000 images per class).

    Memory: as float32, the training set takes about 152 MB (rho=100, 12,406 images) or
    251 MB (rho=10, 20,431 images) and the test set 123 MB; ``dtype=np.uint8`` keeps the raw
    bytes (4x less).

    Parameters
    ----------
    imbalance_ratio : {100, 10}, default=100
        Which long-tailed training set to read.
    data_dir : str or path-like, default=None
        See :func:`get_data_dir`.
    val_per_class : int, default=0
        If positive, the first ``val_per_class`` test images of each class (in the original
        test order) form a validation set and the test set keeps the rest: M2m's reference
        code uses 100 (and reports on the remaining 900 per class).
    dtype : dtype, default=np.float32
        A floating dtype gives pixels scaled to [0, 1]; ``np.uint8`` keeps 0-255.
    channels_first : bool, default=True
        Images as ``(N, 3, 32, 32)`` (PyTorch layout); ``False`` keeps ``(N, 32, 32, 3)``.
    flatten : bool, default=False
        Return each image as one row of 3,072 values (in the chosen layout).

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X_train``, ``y_train`` (int64), ``X_test``, ``y_test``, and with
        ``val_per_class > 0`` also ``X_val``, ``y_val``; ``counts`` (training images per
        class), ``orig_index`` (rows of the original 50,000-image training set),
        ``class_names``, ``image_shape`` (``(3, 32, 32)`` or ``(32, 32, 3)``) and ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If the data directory or a file is missing (the message says what to set).
    """
    if imbalance_ratio not in (10, 100):
        raise ValueError(
            f"imbalance_ratio must be 10 or 100 (the shared files); got {imbalance_ratio!r}. "
            "For another ratio, apply make_long_tailed to a full training set."
        )
    val_per_class = int(val_per_class)
    if not 0 <= val_per_class < 1000:
        raise ValueError(f"val_per_class must be in [0, 1000); got {val_per_class}.")
    train_path = _data_file(f"cifar10_lt_train_r{imbalance_ratio}.npz", data_dir)
    test_path = _data_file("cifar10_test.npz", data_dir)
    with np.load(train_path) as z:
        x_train, y_train = z["x"], z["y"].astype(np.int64)
        orig_index, counts = z["orig_index"], z["counts"]
        class_names = [str(c) for c in z["class_names"]]
    with np.load(test_path) as z:
        x_test, y_test = z["x"], z["y"].astype(np.int64)

    out = Bunch(
        X_train=_convert_images(x_train, dtype, channels_first, flatten),
        y_train=y_train,
        counts=counts,
        orig_index=orig_index,
        class_names=class_names,
        image_shape=(3, 32, 32) if channels_first else (32, 32, 3),
        imbalance_ratio=imbalance_ratio,
    )
    del x_train
    if val_per_class:
        val_idx = np.sort(
            np.concatenate([np.flatnonzero(y_test == k)[:val_per_class] for k in np.unique(y_test)])
        )
        test_idx = np.setdiff1d(np.arange(y_test.shape[0]), val_idx)
        out.X_val = _convert_images(x_test[val_idx], dtype, channels_first, flatten)
        out.y_val = y_test[val_idx]
        x_test, y_test = x_test[test_idx], y_test[test_idx]
    out.X_test = _convert_images(x_test, dtype, channels_first, flatten)
    out.y_test = y_test
    out.DESCR = (
        f"CIFAR-LT-10, imbalance ratio {imbalance_ratio}: {y_train.shape[0]} training images "
        f"(per class {counts.tolist()}), {out.y_test.shape[0]} test images"
        + (f", {out.y_val.shape[0]} validation images" if val_per_class else "")
        + f"; read from {train_path.parent}."
    )
    return out


# --------------------------------------------------------------------------------------
# Tabular data
# --------------------------------------------------------------------------------------


def list_tabular() -> list[str]:
    """Names of the shared tabular data sets accepted by :func:`load_tabular`.

    Returns
    -------
    names : list of str

    Examples
    --------
    >>> list_tabular()
    ['dermatology', 'ecoli', 'glass', 'letter', 'optdigits', 'pendigits', 'satimage']
    """
    return sorted(_TABULAR)


def _parse_labels(values: list[str]) -> np.ndarray:
    """Integers if every label is an integer literal, otherwise strings."""
    try:
        return np.array([int(v) for v in values], dtype=np.int64)
    except ValueError:
        return np.array(values, dtype=str)


def load_tabular(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    return_X_y: bool = False,
) -> Any:
    """Load one of the shared UCI / KEEL tabular data sets (no pandas needed).

    Parameters
    ----------
    name : str
        One of :func:`list_tabular`: ``dermatology``, ``ecoli``, ``glass``, ``letter``,
        ``optdigits``, ``pendigits``, ``satimage``.
    data_dir : str or path-like, default=None
        See :func:`get_data_dir`; the files live in its ``tabular/`` folder.
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``data`` (float64, ``(n_samples, n_features)``), ``target`` (the labels as in the
        file: int64 when all are integers, else str), ``feature_names``, ``target_names``
        (sorted classes), ``counts`` (dict class -> size) and ``DESCR``. For ``satimage``
        also ``uci_split`` (``"train"`` / ``"test"``: the original UCI split, 4,435 / 2,000
        rows), which is not a feature.

    Examples
    --------
    >>> X, y = load_tabular("ecoli", return_X_y=True)  # doctest: +SKIP
    >>> X.shape                                          # doctest: +SKIP
    (336, 7)
    """
    if name not in _TABULAR:
        raise ValueError(f"Unknown tabular data set {name!r}; choose one of {list_tabular()}.")
    filename, extra_cols = _TABULAR[name]
    path = _data_file(f"tabular/{filename}", data_dir)
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], [r for r in rows[1:] if r]
    if "label" not in header:
        raise ValueError(f"{path} has no 'label' column.")
    label_pos = header.index("label")
    extra_pos = [header.index(c) for c in extra_cols]
    feat_pos = [i for i in range(len(header)) if i != label_pos and i not in extra_pos]
    X = np.array([[float(r[i]) for i in feat_pos] for r in body], dtype=np.float64)
    y = _parse_labels([r[label_pos] for r in body])
    if return_X_y:
        return X, y
    classes, sizes = np.unique(y, return_counts=True)
    out = Bunch(
        data=X,
        target=y,
        feature_names=[header[i] for i in feat_pos],
        target_names=classes,
        counts={c.item(): int(n) for c, n in zip(classes, sizes)},
        DESCR=f"{name}: {X.shape[0]} samples, {X.shape[1]} features, {classes.shape[0]} "
        f"classes (max/min class size {sizes.max() / sizes.min():.1f}); from {path}.",
    )
    for c, pos in zip(extra_cols, extra_pos):
        out[c] = np.array([r[pos] for r in body], dtype=str)
    return out
