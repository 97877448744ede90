"""``NetClassifier``: a skorch ``NeuralNetClassifier`` that behaves as a scikit-learn classifier.

skorch's ``NeuralNetClassifier`` returns argmax *indices* from ``predict``, needs ``y``
as integer indices and float32 ``X``, applies a softmax in ``predict_proba`` only for
``CrossEntropyLoss``, and holds out 20% of the data (stratified) by default, which fails
on long-tailed data whose smallest classes have a handful of samples. ``NetClassifier``
fixes these for the long-tailed setting, and is the base of
:class:`~m2m_sampler.M2MClassifier`:

* any labels (strings included): ``y`` is encoded to indices in ``fit``; ``predict``
  returns the original labels, ``classes_`` holds them and ``predict_proba``'s columns
  follow ``classes_``;
* ``X`` as scikit-learn takes it: a numpy array, a torch tensor, a pandas DataFrame or
  a list of lists, of any real dtype (float16/32/64, bfloat16, integers, bool), is
  passed to the module as float32 (:func:`as_float32_inputs`); strings and other
  non-numeric data are refused with a message saying what to do. dicts, skorch
  ``Dataset`` objects and sparse matrices are passed on unchanged, and integer storage
  stays integer when a :class:`~m2m_sampler.training.device_data.DeviceLoader` converts it on
  the device (uint8 images);
* ``save_params(f_params=...)`` also saves ``classes_`` (one ``uint8`` entry,
  ``m2m_sampler_classes``, in the module's file), so a net that loads the file with
  ``load_params`` predicts the original labels without ``classes=``;
* the module's output width is checked against the number of classes before training
  (``module__n_classes`` too large or too small is an error saying what to set), labels
  must be classes (``sklearn.utils.multiclass.check_classification_targets``: continuous
  ``y`` is refused, as by :class:`~m2m_sampler.M2MOverSampler`), and ``predict`` before
  ``fit`` raises skorch's ``NotInitializedError`` (a scikit-learn ``NotFittedError``);
* ``amp_dtype=torch.float16`` trains with a gradient scaler
  (:class:`~m2m_sampler.training.speed.SpeedMixin`);
* the module returns logits: the default criterion is ``CrossEntropyLoss`` and
  ``predict_proba`` applies a softmax for every criterion but ``NLLLoss`` / BCE (so the
  losses of :mod:`m2m_sampler.longtail.losses` work out of the box);
* ``train_split=None`` by default (no internal validation split);
* the speed options of :class:`~m2m_sampler.training.speed.SpeedMixin` (``amp_dtype``,
  ``channels_last``, ``cuda_graph``, ``batch_transform``, a ``DeviceLoader`` on the
  net's device), so ERM and DRS baselines train as fast as M2m.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from sklearn.utils.multiclass import check_classification_targets
from skorch import NeuralNetClassifier
from skorch.callbacks import BatchScoring, EpochScoring
from skorch.exceptions import NotInitializedError
from skorch.utils import to_numpy

from ._compat import is_identity_nonlinearity
from ._torch_utils import PORTABLE_STATE, dumps_portable, eval_mode, loads_portable
from .training.device_data import DeviceLoader, loader_conversion
from .training.speed import SpeedMixin, training_device

__all__ = ["NetClassifier", "as_float32_inputs", "CLASSES_KEY"]

#: Key of the labels in the module file written by ``save_params(f_params=...)``.
CLASSES_KEY = "m2m_sampler_classes"



def as_float32_inputs(X: Any, owner: str = "NetClassifier", keep_integers: bool = False) -> Any:
    """``X`` as the module gets it: numeric arrays, tensors and lists as float32.

    Parameters
    ----------
    X : array-like, torch.Tensor or other
        A numpy array, a torch tensor, a pandas DataFrame or a (nested) list of numbers, of
        any real dtype (float16/32/64, bfloat16, integers, bool), becomes float32 (a numpy
        array for numpy / pandas / list input, a tensor for a tensor, on its device).
        Anything else (a dict of inputs, a skorch ``Dataset``, a sparse matrix) is
        returned unchanged.
    owner : str, default='NetClassifier'
        Named in error messages.
    keep_integers : bool, default=False
        Leave integer and bool storage as it is (a
        :class:`~m2m_sampler.training.device_data.DeviceLoader` converts it on the device).

    Returns
    -------
    X converted

    Raises
    ------
    ValueError
        For strings, complex numbers, ragged lists and other non-numeric data, or ``X``
        with fewer than 2 dimensions.
    """
    if hasattr(X, "to_numpy") and hasattr(X, "columns"):  # pandas DataFrame
        X = X.to_numpy()
    if isinstance(X, list | tuple):
        try:
            X = np.asarray(X)
        except ValueError as exc:  # ragged
            raise ValueError(
                f"{owner} could not make an array of the list X ({exc}); give every sample "
                "the same number of values."
            ) from exc
    if isinstance(X, torch.Tensor):
        dtype = X.dtype
        if dtype == torch.float32 or (keep_integers and not dtype.is_floating_point
                                      and not dtype.is_complex):
            return _check_ndim(X, owner)
        if dtype.is_complex:
            raise ValueError(_non_numeric(owner, f"a tensor of dtype {dtype}"))
        return _check_ndim(X.float(), owner)
    if not isinstance(X, np.ndarray):
        return X
    kind = X.dtype.kind
    if X.dtype == np.float32 or (keep_integers and kind in "iub"):
        return _check_ndim(X, owner)
    if kind in "fiub":
        return _check_ndim(X.astype(np.float32), owner)
    if kind == "O":
        try:
            return _check_ndim(X.astype(np.float32), owner)
        except (TypeError, ValueError) as exc:
            what = "an object array with non-numeric values"
            raise ValueError(_non_numeric(owner, what)) from exc
    raise ValueError(_non_numeric(owner, f"an array of dtype {X.dtype}"))


def _non_numeric(owner: str, what: str) -> str:
    return (
        f"{owner} needs numeric X (real numbers: float, int or bool); got {what}. Encode the "
        "features as numbers first (e.g. sklearn.preprocessing.OneHotEncoder or "
        "OrdinalEncoder in a pipeline)."
    )


def _check_ndim(X: Any, owner: str) -> Any:
    if X.ndim < 2:
        raise ValueError(
            f"{owner} needs X of shape (n_samples, ...) with at least 2 dimensions; got shape "
            f"{tuple(X.shape)}. Use X.reshape(-1, 1) for a single feature."
        )
    return X


def _holds_tensors(value: Any) -> bool:
    """A torch module or tensor, a tuple / list with a tensor (``clip`` bounds), or a
    dataclass instance holding one of those (``translation_params_``)."""
    if isinstance(value, torch.nn.Module | torch.Tensor):
        return True
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return any(_holds_tensors(getattr(value, f.name)) for f in dataclasses.fields(value))
    return isinstance(value, tuple | list) and any(isinstance(v, torch.Tensor) for v in value)


def _check_shapes(module: torch.nn.Module, state_dict: Mapping[str, Any]) -> None:
    """Refuse a state dict whose tensors do not fit ``module`` before anything is copied."""
    own = module.state_dict()
    bad = [
        (key, tuple(value.shape), tuple(own[key].shape))
        for key, value in state_dict.items()
        if key in own and isinstance(value, torch.Tensor) and value.shape != own[key].shape
    ]
    if bad:
        key, saved, here = bad[0]
        raise ValueError(
            f"the module file does not fit this net's module: {key!r} was saved with shape "
            f"{saved} but has shape {here} here ({len(bad)} mismatched tensor(s)). Build the "
            "net with the module parameters it was saved with (e.g. the same "
            "module__n_classes) before load_params; nothing was loaded."
        )


def _encode_classes(classes: np.ndarray) -> torch.Tensor | None:
    """The labels as a uint8 tensor (JSON), or None when they are not JSON-serialisable."""
    try:
        text = json.dumps({"dtype": classes.dtype.str, "values": classes.tolist()})
    except (TypeError, ValueError):
        return None
    return torch.tensor(list(text.encode("utf-8")), dtype=torch.uint8)


def _decode_classes(tensor: torch.Tensor) -> np.ndarray:
    doc = json.loads(bytes(tensor.cpu().tolist()).decode("utf-8"))
    return np.asarray(doc["values"], dtype=np.dtype(doc["dtype"]))


class _DecodeTarget:
    """Target extractor for scorers: skorch's datasets hold label indices, ``predict``
    returns labels, so scorers compare ``classes_[y]`` with the predictions."""

    def __init__(self, net: NeuralNetClassifier) -> None:
        self.net = net

    def __call__(self, y):
        return np.asarray(self.net.classes_)[to_numpy(y).astype(np.int64)]


class NetClassifier(SpeedMixin, NeuralNetClassifier):
    """A skorch classifier with scikit-learn label semantics, for modules returning logits.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns one logit per class.
    criterion : loss class or instance, default=torch.nn.CrossEntropyLoss
        Any loss taking logits and integer targets, e.g. those of
        :mod:`m2m_sampler.longtail.losses`.
    train_split : callable or None, default=None
        skorch's internal validation split; None trains on all the data.
    classes : array-like or None, default=None
        The labels, in the order of the module's logits. None: ``np.unique(y)``.
    amp_dtype, channels_last, cuda_graph, batch_transform
        The speed options of :class:`~m2m_sampler.training.speed.SpeedMixin` (all off by
        default).
    **kwargs
        Everything :class:`skorch.NeuralNetClassifier` accepts.

    Attributes
    ----------
    classes_ : ndarray
        The labels, in the order of ``predict_proba``'s columns (saved with the module
        by :meth:`save_params`).

    Notes
    -----
    ``X``: a numpy array, torch tensor, pandas DataFrame or list of lists of real
    numbers (float, int or bool dtypes) is trained and predicted on as float32
    (:func:`as_float32_inputs`); strings and other non-numeric data, ragged lists, 1-D
    and empty ``X`` are refused with a message. ``y``: class labels of any type (not
    continuous values). Before training, the module's output width must equal the
    number of classes.

    Examples
    --------
    Plain ERM with bf16 autocast and an on-device batch transform:

    >>> import numpy as np, torch
    >>> from m2m_sampler.longtail.models import MLP
    >>> X = np.random.default_rng(0).random((60, 4), dtype=np.float32)
    >>> y = np.repeat(["a", "b", "c"], [30, 20, 10])
    >>> net = NetClassifier(MLP, module__n_features=4, module__n_classes=3, max_epochs=2,
    ...                     amp_dtype=torch.bfloat16, batch_transform=lambda x: x * 0.5,
    ...                     iterator_train__shuffle=True, verbose=0).fit(X, y)
    >>> net.predict(X[:3]).tolist()[0] in {"a", "b", "c"}
    True
    """

    def __init__(
        self,
        module,
        *args,
        criterion=torch.nn.CrossEntropyLoss,
        train_split=None,
        classes=None,
        **kwargs,
    ):
        super().__init__(
            module,
            *args,
            criterion=criterion,
            train_split=train_split,
            classes=classes,
            **kwargs,
        )

    def initialize_callbacks(self):
        """Initialise the callbacks; scorers compare predictions with the original labels.

        skorch's datasets hold label *indices* while ``predict`` returns labels, so every
        ``EpochScoring`` / ``BatchScoring`` that uses skorch's default target extractor
        gets (a copy of it with) one that maps indices back to ``classes_``.
        """
        super().initialize_callbacks()
        callbacks = []
        for name, cb in self.callbacks_:
            if isinstance(cb, EpochScoring | BatchScoring) and cb.target_extractor is to_numpy:
                cb = copy.copy(cb)
                cb.target_extractor = _DecodeTarget(self)
            callbacks.append((name, cb))
        self.callbacks_ = callbacks
        return self

    # ----------------------------------------------------------------- labels
    def _encode_y(self, y, reset: bool):
        if y is None:
            return None
        y = np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y)
        if y.ndim != 1:
            y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
        if y.dtype == object:
            missing = np.flatnonzero(np.equal(y, None))
            if len(missing):
                raise ValueError(
                    f"y contains None at {len(missing)} position(s) (first at index "
                    f"{int(missing[0])}); give every sample a label, or drop the unlabelled "
                    "samples from X and y."
                )
        if reset or not hasattr(self, "classes_inferred_"):
            check_classification_targets(y)  # continuous y: the sampler's error
            if self.classes is not None and len(self.classes):
                classes = np.asarray(self.classes)
            else:
                classes = np.unique(y)
            if len(classes) < 2:
                raise ValueError(
                    f"y has a single class ({classes.tolist()}); a classifier needs samples "
                    "of at least two classes."
                )
            self.classes_inferred_ = classes
        classes = np.asarray(self.classes_)
        order = np.argsort(classes, kind="stable")
        pos = np.searchsorted(classes, y, sorter=order)
        pos = np.clip(pos, 0, len(classes) - 1)
        idx = order[pos]
        unknown = classes[idx] != y
        if np.any(unknown):
            raise ValueError(
                f"y contains labels {np.unique(y[unknown])[:10].tolist()} that are not among "
                f"the classes {classes.tolist()[:20]}; pass classes=[...] covering every label."
            )
        return idx.astype(np.int64)

    def check_data(self, X, y):
        # Labels were encoded (and classes_ recorded) in fit/partial_fit: skip skorch's
        # inference of classes from the encoded indices.
        super(NeuralNetClassifier, self).check_data(X, y)

    @property
    def classes_(self):
        return super().classes_

    # ----------------------------------------------------------------- inputs
    def prepare_X(self, X, training: bool = False):
        """``X`` as the module gets it (:func:`as_float32_inputs`), checked.

        Integer storage is kept when the loader of this phase (``iterator_train`` for
        training, ``iterator_valid`` otherwise) is a
        :class:`~m2m_sampler.training.device_data.DeviceLoader`, which converts on the device.
        An empty ``X`` is an error, and so is, in training, a ``DeviceLoader`` that would
        give the module other values than prediction does (:meth:`_check_loader_scaling`).
        """
        iterators = (self.iterator_train, self.iterator_valid) if training else (
            self.iterator_valid,)
        keep = any(isinstance(it, type) and issubclass(it, DeviceLoader) for it in iterators)
        X = as_float32_inputs(X, type(self).__name__, keep_integers=keep)
        if training and keep:
            self._check_loader_scaling(X)
        if isinstance(X, np.ndarray | torch.Tensor) and len(X) == 0:
            raise ValueError(
                f"X has 0 samples (shape {tuple(X.shape)}); "
                + ("fit needs samples of at least two classes." if training
                   else "pass at least one sample.")
            )
        return X

    def _check_loader_scaling(self, X) -> None:
        """Refuse loaders that convert ``X`` differently in training and in prediction.

        Prediction reads ``X`` through ``iterator_valid``; a ``DeviceLoader`` as
        ``iterator_train`` only (or two with other ``dtype`` / ``scale``) would train on,
        e.g., ``uint8 / 255`` and predict on unscaled values, or feed the module integers.
        """
        if not isinstance(X, np.ndarray | torch.Tensor):
            return
        try:
            src = X.dtype if isinstance(X, torch.Tensor) else torch.from_numpy(X[:0]).dtype
        except TypeError:  # a numpy dtype torch has no counterpart for: the loader refuses it
            return
        phases = {
            name: loader_conversion(getattr(self, name), self.get_params_for(name), src)
            for name in ("iterator_train", "iterator_valid")
        }
        if len(set(phases.values())) == 1:
            return
        (tf, tk), (vf, vk) = phases["iterator_train"], phases["iterator_valid"]
        raise ValueError(
            f"{type(self).__name__}: with X of dtype {src} the module would get "
            f"{'floating' if tf else 'integer'} inputs times {tk:.6g} in training "
            f"(iterator_train) but {'floating' if vf else 'integer'} inputs times {vk:.6g} "
            "in validation and prediction (iterator_valid), so predictions would not match "
            "what was learnt. Use the same DeviceLoader for both (iterator_valid=DeviceLoader "
            "with the same iterator_valid__dtype / __scale as iterator_train), set "
            "iterator_train__dtype=torch.float32 (and iterator_valid__dtype) for integer "
            "images, or pass X already as float."
        )

    def _check_inputs(self, X) -> None:
        """Fail early on what would otherwise train silently or fail deep inside torch."""
        if self.device is not None:
            dev = torch.device(self.device)
            if dev.type == "cuda" and not torch.cuda.is_available():
                raise ValueError(
                    f"device={self.device!r} was asked for but CUDA is not available "
                    "(torch.cuda.is_available() is False); use device='cpu'."
                )
        values = X.detach() if isinstance(X, torch.Tensor) else X
        if isinstance(values, np.ndarray | torch.Tensor) and (
            values.dtype.is_floating_point if isinstance(values, torch.Tensor)
            else np.issubdtype(values.dtype, np.floating)
        ):
            finite = torch.isfinite(values).all() if isinstance(values, torch.Tensor) else (
                np.isfinite(values).all()
            )
            if not bool(finite):
                raise ValueError(
                    "Input X contains NaN or infinity; impute or drop those values first "
                    "(e.g. sklearn.impute.SimpleImputer in the pipeline)."
                )

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Check, on two samples, that the module returns one output per class."""
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self._check_output_width(X)

    def _check_output_width(self, X) -> None:
        if not isinstance(X, np.ndarray | torch.Tensor) or not len(X):
            return
        probe = torch.as_tensor(X[:2]).to(training_device(self))
        if not torch.is_floating_point(probe) or isinstance(
            self.criterion_, torch.nn.BCELoss | torch.nn.BCEWithLogitsLoss
        ):
            return
        try:
            with torch.no_grad(), eval_mode(self.module_), self._autocast(probe):
                out = self.module_(probe)
        except Exception:  # noqa: BLE001 -- the training step reports it as it is
            return
        if not isinstance(out, torch.Tensor) or out.ndim != 2:
            return
        n_out, classes = int(out.shape[1]), np.asarray(self.classes_)
        n_classes = len(classes)
        if n_out == n_classes:
            return
        what = (
            f"predict_proba would have {n_out - n_classes} column(s) that are no class"
            if n_out > n_classes
            else f"labels {classes[n_out:][:10].tolist()} would be out of the module's range"
        )
        raise ValueError(
            f"the module returns {n_out} outputs per sample but y has {n_classes} classes "
            f"{classes[:20].tolist()}: {what}. Set module__n_classes={n_classes} (or make "
            "the module return one logit per class), or pass classes=[...] with every label "
            "in the order of the module's outputs."
        )

    # ----------------------------------------------------------------- fit / predict
    def fit(self, X, y, **fit_params):
        """Initialise and fit the module on ``X`` and labels ``y`` (any label type)."""
        X = self.prepare_X(X, training=True)
        self._check_inputs(X)
        if not self.warm_start or not self.initialized_:
            self.__dict__.pop("classes_inferred_", None)  # classes are read from this y
        return super().fit(X, y, **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Fit without re-initialising; labels are encoded with the known classes."""
        X = self.prepare_X(X, training=True)
        self._check_inputs(X)
        y_idx = self._encode_y(y, reset=not hasattr(self, "classes_inferred_"))
        return super().partial_fit(X, y_idx, classes=classes, **fit_params)

    def _check_predictable(self) -> np.ndarray:
        """The classes; skorch's ``NotInitializedError`` (a ``NotFittedError``) if unknown."""
        self.check_is_fitted()
        try:
            return np.asarray(self.classes_)
        except AttributeError as exc:
            raise NotInitializedError(
                f"This {type(self).__name__} does not know its classes: it was initialised "
                "but not fitted, or loaded from a file without them. Call fit, load a "
                "module file written by save_params, or pass classes=[...]."
            ) from exc

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        self._check_predictable()
        return super().predict_proba(self.prepare_X(X))

    def predict(self, X):
        """Predicted labels (elements of ``classes_``)."""
        classes = self._check_predictable()
        return classes[self.predict_proba(X).argmax(axis=1)]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy on ``(X, y)`` with the original labels."""
        from sklearn.metrics import accuracy_score

        return accuracy_score(y, self.predict(X), sample_weight=sample_weight)

    # ----------------------------------------------------------------- persistence
    def save_params(self, f_params=None, f_optimizer=None, f_criterion=None, f_history=None,
                    use_safetensors=False, **kwargs):
        """skorch's ``save_params``; the module file also holds ``classes_``.

        The labels go into the state dict written for ``f_params`` as one ``uint8``
        tensor under :data:`CLASSES_KEY` (JSON text), so safetensors files work too.
        :meth:`load_params` takes it out again; to load such a file into the bare
        module, drop that key (or use ``load_state_dict(..., strict=False)``).
        """
        handle = None
        # skorch's Checkpoint names the module file f_module
        module_file = f_params if f_params is not None else kwargs.get("f_module")
        if module_file is not None and hasattr(self, "module_"):
            try:
                encoded = _encode_classes(np.asarray(self.classes_))
            except AttributeError:
                encoded = None
            if encoded is not None:
                def add_classes(module, state_dict, prefix, local_metadata):
                    if not prefix:
                        state_dict[CLASSES_KEY] = encoded

                handle = self.module_.register_state_dict_post_hook(add_classes)
        try:
            super().save_params(f_params=f_params, f_optimizer=f_optimizer,
                                f_criterion=f_criterion, f_history=f_history,
                                use_safetensors=use_safetensors, **kwargs)
        finally:
            if handle is not None:
                handle.remove()

    def load_params(self, f_params=None, f_optimizer=None, f_criterion=None, f_history=None,
                    checkpoint=None, use_safetensors=False, **kwargs):
        """skorch's ``load_params``; restores ``classes_`` saved with the module.

        A module file written by :meth:`save_params` holds the labels; they become the
        net's ``classes_`` (an error if ``classes=`` was given and differs). Files
        without them (plain ``torch.save(module.state_dict())``) load as in skorch.
        """
        if checkpoint is not None and not self.initialized_:
            self.initialize()
        found = {}
        handle = None
        if hasattr(self, "module_"):
            def pop_classes(module, state_dict, prefix, *args):
                if not prefix and CLASSES_KEY in state_dict:
                    found["classes"] = _decode_classes(state_dict.pop(CLASSES_KEY))
                if not prefix:
                    _check_shapes(module, state_dict)

            handle = self.module_.register_load_state_dict_pre_hook(pop_classes)
        try:
            super().load_params(f_params=f_params, f_optimizer=f_optimizer,
                                f_criterion=f_criterion, f_history=f_history,
                                checkpoint=checkpoint, use_safetensors=use_safetensors,
                                **kwargs)
        finally:
            if handle is not None:
                handle.remove()
        if "classes" in found:
            classes = found["classes"]
            if self.classes is not None and len(self.classes) and not np.array_equal(
                np.asarray(self.classes), classes
            ):
                raise ValueError(
                    f"the module file was saved with classes {classes.tolist()[:20]} but this "
                    f"net has classes={np.asarray(self.classes).tolist()[:20]}; drop classes= "
                    "or pass the saved ones."
                )
            self.classes_inferred_ = classes

    def __getstate__(self):
        """skorch's state; the attributes skorch pickles as they are go through torch-aware
        bytes, so that CUDA tensors among them load on a machine without CUDA.

        skorch maps its modules, criteria and optimizers to the CPU when CUDA is missing;
        parameters holding torch objects (a CUDA ``g`` or ``module`` instance, a
        ``batch_transform`` module, tensors in ``clip``...) get the same treatment here.
        """
        state = super().__getstate__()
        torch_values = {k: v for k, v in state.items() if _holds_tensors(v)}
        for key in torch_values:
            del state[key]
        state[PORTABLE_STATE] = dumps_portable(torch_values)
        return state

    def __setstate__(self, state):
        state = dict(state)
        if PORTABLE_STATE in state:
            state.update(loads_portable(state.pop(PORTABLE_STATE)))
        super().__setstate__(state)

    def _get_predict_nonlinearity(self):
        if self.predict_nonlinearity != "auto":
            return super()._get_predict_nonlinearity()
        nonlin = super()._get_predict_nonlinearity()
        if is_identity_nonlinearity(nonlin) and not isinstance(
            self.criterion_, torch.nn.NLLLoss | torch.nn.BCELoss
        ):
            return functools.partial(torch.softmax, dim=-1)
        return nonlin
