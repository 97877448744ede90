"""``M2MClassifier``: the paper's online, batch-wise M2m as a skorch classifier.

The paper's "practical implementation via re-sampling": the target network ``f`` trains
as usual until ``start_epoch``; from it on, batches are class-balanced (deferred
re-sampling, DRS) and every batch goes through the generation rule before its SGD step.
Where each piece lives:

* which entries become targets and which entries are their sources:
  :func:`m2m_sampler.planning.plan_batch_translations`;
* the translation (Eq. 2), with ``g`` and the live ``f`` in eval mode:
  :func:`m2m_sampler.translation.translate`;
* acceptance (``g``'s probability of the target class ``>= gamma`` and a Bernoulli draw
  of probability ``1 - beta^((N_k0 - N_k)^+)``): :mod:`m2m_sampler.rejection`;
* all three applied to one or several batches with a single engine call:
  :func:`~m2m_sampler.generation.generate_batches` (usable from any training loop);
* the class-balanced sampling: :class:`~m2m_sampler.sampling.ClassBalancedSampler`,
  switched at ``start_epoch`` exactly as :class:`~m2m_sampler.callbacks.DeferredResampling`
  does.

Design: ``train_step`` stays skorch's. The generation sits in the data path: the training
iterator (:meth:`M2MClassifier.get_iterator`) wraps skorch's loader; it moves each batch
to the device, applies ``batch_transform``, runs the generation rule and yields the batch
with the accepted translations in their slots. Consumed lazily by skorch's epoch loop,
batch ``i`` is translated right before its step, with ``f`` as left by step ``i - 1``:
the paper's per-batch rule. Everything downstream (the loss, the optimizer, callbacks,
the cached train-side scorers) sees the batch that is really trained on.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import numbers
import time
from collections.abc import Iterator, Mapping

import numpy as np
import torch
from sklearn.base import clone
from skorch.callbacks import LRScheduler, PrintLog
from skorch.utils import to_tensor
from torch import nn

from ._torch_utils import check_amp_dtype, frozen_copy, module_device
from .callbacks import DeferredResampling
from .converters import as_torch_classifier
from .cuda_graphs import GraphedTrainingForward
from .device_data import DeviceLoader
from .generation import generate_batches
from .net import NetClassifier
from .planning import acceptance_probability
from .sampling import ClassBalancedSampler, get_dataset_labels
from .translation import resolve_clip

__all__ = [
    "M2MClassifier",
    "HISTORY_KEYS",
    "TIMING_KEYS",
]

#: Per-epoch history columns written by :class:`M2MClassifier` (every epoch, zeros
#: while generation is off).
HISTORY_KEYS = (
    "m2m_active",
    "m2m_entries",
    "m2m_targets",
    "m2m_no_source",
    "m2m_rejected_beta",
    "m2m_translated",
    "m2m_rejected_gamma",
    "m2m_accepted",
    "m2m_translate_time",
    "m2m_generation_time",
)

#: Per-epoch timing columns written by :class:`M2MClassifier` (every epoch): seconds
#: spent producing the training batches (loader, device transfer, ``batch_transform``;
#: not the generation) and seconds in skorch's ``train_step`` (forward, loss, backward,
#: optimizer step). On CUDA both end with a synchronisation, so they are device time
#: too. With ``dur`` (skorch's epoch wall time) and ``m2m_generation_time`` they
#: account for the epoch; the rest is callbacks and bookkeeping.
TIMING_KEYS = ("m2m_data_time", "m2m_step_time")

# Parameters of M2MClassifier that NetClassifier does not know (dropped for the ERM g net).
_M2M_PARAMS = (
    "g",
    "beta",
    "lam",
    "gamma",
    "step_size",
    "n_steps",
    "noise",
    "clip",
    "start_epoch",
    "generation",
    "balanced_batches",
    "translate_ahead",
    "translation_batch_size",
    "batch_transform",
    "amp_dtype",
    "channels_last",
    "cuda_graph",
    "g_epochs",
    "random_state",
)

_NEVER = 2**62  # a start_epoch that is never reached


# ----------------------------------------------------------------------------- data path
class _GenerationIterator:
    """The training iterator of :class:`M2MClassifier`: skorch's loader plus generation.

    Re-iterable (one pass per epoch); reads the net's state at the start of every pass.
    """

    def __init__(self, net: M2MClassifier, loader) -> None:
        self.net = net
        self.loader = loader

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator:
        net = self.net
        active = bool(net._m2m_active_)
        # Plain skorch training: the loader's batches go to train_step untouched.
        plain = not active and net.batch_transform is None and not net.channels_last
        device = net._batch_device()
        stats = net._m2m_stats_
        ahead = int(net.translate_ahead) if active else 1
        batches = iter(self.loader)
        while True:
            start = time.perf_counter()
            group = list(itertools.islice(batches, ahead))
            if group and not plain:
                group = [net._prepare_batch(batch, device) for batch in group]
            _synchronize(device)
            stats["m2m_data_time"] += time.perf_counter() - start
            if not group:
                return
            if active:
                group = net._generate(group)
            yield from group


# ----------------------------------------------------------------------------- classifier
class M2MClassifier(NetClassifier):
    """A skorch classifier trained with M2m's online, batch-wise generation (deferred).

    Until ``start_epoch`` the target network ``f`` (``module``) is trained as usual
    (a fresh random order every epoch). From ``start_epoch`` on, batches are
    class-balanced (deferred re-sampling) and every batch goes through the paper's
    generation before its SGD step: entry ``i`` becomes a target with probability
    ``1 - N_{y_i}/N_max``; its source ``x0`` is drawn from the same batch among strictly
    larger classes with weights ``1 - beta^((N_{y_j} - N_{y_i})^+)``; ``x0`` is moved by
    ``n_steps`` normalised gradient steps of length ``step_size`` on
    ``CE(g(x), y_i) + lam * f_{k0}(x)`` (Eq. 2; ``g`` frozen, ``f`` the live network,
    both in eval mode); the result replaces entry ``i`` iff ``g``'s probability of
    ``y_i`` is at least ``gamma`` and a Bernoulli draw of probability
    ``1 - beta^((N_{k0} - N_{y_i})^+)`` succeeds. Rejected targets keep their real sample.

    A scikit-learn classifier (any labels; ``predict`` returns them, ``predict_proba``'s
    columns follow ``classes_``) built on :class:`~m2m_sampler.net.NetClassifier`: every
    skorch parameter (``optimizer``, ``lr``, ``max_epochs``, ``batch_size``, ``callbacks``,
    ``device``, ``criterion``, ``iterator_train``, ...) works as there.

    Read more in the README, section "M2MClassifier".

    Parameters
    ----------
    module : torch.nn.Module class or instance
        The target network ``f``; returns one logit per class.
    g : torch.nn.Module, fitted skorch net, fitted scikit-learn classifier or None, \
default=None
        The pre-trained classifier that drives the translation (the paper's ``g``,
        trained by plain ERM on the same imbalanced data). A torch module must return
        one logit per class, in the order of ``classes_`` (sorted labels); skorch nets
        and scikit-learn classifiers are converted by
        :func:`~m2m_sampler.converters.as_torch_classifier`. The caller's object is never
        modified: a frozen copy is used. ``None``: a copy of ``module`` is first trained
        by plain ERM (cross-entropy, no re-balancing, a fresh random order every epoch)
        on the same data with the same optimizer, ``lr``, batch size, learning-rate
        schedule (the ``LRScheduler`` callbacks of ``callbacks``; no other callback) for
        ``g_epochs`` epochs, and kept as ``g_net_``. It is trained only when
        ``generation=True``. In grid searches pass a pre-trained ``g``: it is shared by
        the clones, while ``g=None`` retrains it in every fit.
    beta : float in [0, 1], default=0.999
        Reliability of ``g`` for small source classes: the weight of a source of class
        ``k0`` for target ``k`` and the probability that the translation is kept are
        both ``1 - beta^((N_k0 - N_k)^+)``. 0.999 suits gaps in the thousands (CIFAR-LT);
        for gaps of tens of samples take 0.9-0.99. ``beta = 1`` rejects everything.
    lam : float >= 0, default=0.5
        ``lambda`` of Eq. (2): weight of the live ``f``'s raw logit of the source class.
        0 drops the term (the paper's ``lambda = 0`` ablation).
    gamma : float in [0, 1], default=0.9
        Minimum probability ``g`` must give the target class at ``x*``. The authors'
        code compares a probability; the paper's loss threshold ``c`` is
        ``gamma = exp(-c)``.
    step_size : float > 0, default=0.1
        ``eta``: L2 length of every step over all input values of a sample, in the
        units the module consumes (0.1 for images in [0, 1], as in the paper).
    n_steps : int >= 0, default=10
        ``T``: number of gradient steps.
    noise : float >= 0, default=0.5
        L2 norm of the random start, relative to ``step_size``.
    clip : None, 'minmax' or (low, high), default=None
        Box the translated inputs are clamped to: ``(0, 1)`` for images in pixel space;
        ``low``/``high`` may be arrays broadcastable to one sample; ``'minmax'`` takes
        the per-feature range of the ``X`` given to ``fit`` (arrays and tensors only).
        ``None``: unbounded.
    start_epoch : int >= 0 or None, default=None
        0-based index of the first M2m epoch (class-balanced batches + generation).
        ``None``: ``round(0.8 * max_epochs)``, the last 20% of the epochs as in the
        paper (160 of 200). ``0`` runs M2m from the start (the paper's "M2m-RS"
        ablation). ``partial_fit`` keeps counting epochs.
    generation : bool, default=True
        ``False`` turns the generation off and leaves everything else unchanged: with
        ``balanced_batches=True`` this is deferred re-sampling (DRS), the paper's
        baseline for M2m, on exactly the same sampler. ``g`` is then neither needed nor
        trained.
    balanced_batches : bool, default=True
        Drive the training sampler: a random permutation each epoch before
        ``start_epoch``, class-balanced draws with replacement (``len(train set)`` per
        epoch) from it on. The net then owns ``iterator_train__sampler`` (setting it is
        an error) and ignores ``iterator_train__shuffle``. ``False`` leaves the training
        order to ``iterator_train__*`` (e.g. your own sampler; skorch's default does not
        shuffle) and runs the generation on whatever batches come (the paper's rule
        assumes class-balanced batches).
    translate_ahead : int >= 1, default=1
        Batches translated together. ``1`` is the paper's rule: each batch is translated
        right before its step with the current ``f``. ``M > 1`` reads ``M`` batches ahead
        and translates all their targets in one engine call, with ``f`` as it was before
        the first of them (stale by up to ``M - 1`` steps, for the ``lam`` term only):
        larger engine batches keep a GPU busy (per-batch translation of ~100 sources is
        launch-bound). The rule per batch is unchanged. See the benchmark
        ``benchmarks/m2m_classifier.py`` for its effect on accuracy.
    translation_batch_size : int or None, default=None
        Chunk size of the engine (memory bound); ``None`` translates all the sources of a
        group of ``translate_ahead`` batches at once.
    batch_transform : callable or None, default=None
        Applied to every training input batch on the device, in every epoch, before
        the generation (so sources come from the transformed batch, as in the paper),
        e.g. :class:`m2m_sampler.augment.RandomCropFlip`. Must return a tensor of the
        same batch size.
    amp_dtype : torch.bfloat16, torch.float16 or None, default=None
        Mixed precision: :func:`torch.autocast` dtype (``torch.bfloat16`` on GPUs) for
        every forward pass of ``f`` through the net (training steps, validation,
        ``predict``; outputs are returned as float32, so the loss is computed in
        float32) and for the translation's forward passes (whose iterate stays
        float32). ``None``: full precision everywhere. The ERM training of ``g`` when
        ``g=None`` is not affected.
    channels_last : bool, default=False
        Keep ``f`` and ``g`` in the ``channels_last`` memory format and give them 4-D
        batches in it (faster convolutions on GPUs, with ``amp_dtype``). Numerically
        the same model.
    cuda_graph : bool, default=False
        Record ``f``'s training forward and backward pass for the training batch size
        once in a CUDA graph and replay it for every full-size batch
        (:class:`~m2m_sampler.cuda_graphs.GraphedTrainingForward`): removes the kernel
        launch overhead that dominates small networks at batch sizes like 128. Needs a
        CUDA device; the last, smaller batch, evaluation and the translation run
        eagerly. If recording fails, a ``RuntimeWarning`` says why and training goes on
        without graphs. The module's parameters must not be replaced during training
        (in-place updates are fine).
    g_epochs : int >= 1 or None, default=None
        Epochs of the ERM training of ``g`` when ``g=None``; ``None``: ``max_epochs``.
    random_state : int, RandomState instance or None, default=None
        Seeds the generation (targets, sources, Bernoulli draws, random starts), on the
        training device. ``None`` draws the seed from torch's global generator, so runs
        are reproducible under ``torch.manual_seed``. Initialisation, the sampler and
        dropout use torch's global generator as in any skorch net.
    **kwargs
        Everything :class:`~m2m_sampler.net.NetClassifier` (and skorch's
        ``NeuralNetClassifier``) accepts.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained target network ``f``.
    g_ : torch.nn.Module
        The frozen ``g`` (eval mode, ``requires_grad=False``, not in the optimizer, kept in
        eval mode by skorch's mode switches). Saved and loaded with
        ``save_params(f_g=...)`` / ``load_params(f_g=...)``.
    g_net_ : NetClassifier or None
        The fitted ERM net when ``g=None`` (its ``module_`` is where ``g_`` came from).
    g_fitted_ : bool
        Whether ``g_`` holds trained weights (``False`` for ``g=None`` until ``fit``).
    start_epoch_ : int
        The resolved ``start_epoch``.
    class_counts_ : ndarray of shape (n_classes,)
        ``N_k``: training samples per class (logit order), counted on the data skorch
        trains on (after its internal ``train_split``).
    sampler_ : ClassBalancedSampler
        The training sampler (``balanced_batches=True``).
    classes_ : ndarray
        The labels, in the order of ``predict_proba``'s columns.
    history : skorch History
        Besides skorch's columns, every epoch records ``m2m_active`` (generation on),
        ``m2m_entries`` (batch entries trained on), ``m2m_targets`` (entries drawn as
        targets), ``m2m_no_source`` (targets without a larger class in their batch),
        ``m2m_rejected_beta`` (dropped by the Bernoulli draw, not translated),
        ``m2m_translated`` (sent to the engine), ``m2m_rejected_gamma``,
        ``m2m_accepted`` (slots replaced), ``m2m_translate_time`` (seconds in the
        engine) and ``m2m_generation_time`` (seconds of the whole generation: transfer,
        planning, engine, replacement). ``m2m_targets = m2m_no_source +
        m2m_rejected_beta + m2m_translated`` and ``m2m_translated = m2m_rejected_gamma
        + m2m_accepted``.

    See Also
    --------
    m2m_sampler.M2MOverSampler : the offline variant (Algorithm 1) for any pipeline.
    m2m_sampler.callbacks.DeferredResampling : DRS for any skorch net.
    m2m_sampler.generation.generate_batches : the generation rule for a custom training loop.

    Notes
    -----
    *Training-side scores.* The batches skorch passes to the loss, to ``on_batch_end``
    and to the cached train-side ``EpochScoring`` are the generated ones, in sampler
    order: a train-side score pairs every prediction with the label of the entry that was
    trained (the target class for a translated slot), never with the dataset order.

    *Custom loaders.* ``iterator_train`` is called as
    ``iterator_train(dataset, batch_size=..., sampler=<ClassBalancedSampler>, **kwargs)``
    and must yield ``(X, y)`` batches; batches are moved to ``device`` by the net, so a
    loader that yields device-resident slices skips every host transfer.

    References
    ----------
    J. Kim, J. Jeong and J. Shin. M2m: Imbalanced Classification via Major-to-minor
    Translation. CVPR 2020.

    Examples
    --------
    >>> import torch
    >>> from m2m_sampler.classifier import M2MClassifier
    >>> from m2m_sampler.datasets import load_digits_lt
    >>> from m2m_sampler.models import MLP
    >>> X, y, X_test, y_test = load_digits_lt(return_X_y=True)
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> clf = M2MClassifier(MLP, module__n_features=64, module__n_classes=10,
    ...                     optimizer=torch.optim.SGD, optimizer__momentum=0.9, lr=0.05,
    ...                     max_epochs=20, batch_size=64, beta=0.9, clip=(0, 1),
    ...                     verbose=0, random_state=0).fit(X, y)
    >>> int(sum(clf.history[:, "m2m_accepted"])) > 0
    True
    """

    def __init__(
        self,
        module,
        *args,
        g=None,
        beta=0.999,
        lam=0.5,
        gamma=0.9,
        step_size=0.1,
        n_steps=10,
        noise=0.5,
        clip=None,
        start_epoch=None,
        generation=True,
        balanced_batches=True,
        translate_ahead=1,
        translation_batch_size=None,
        batch_transform=None,
        amp_dtype=None,
        channels_last=False,
        cuda_graph=False,
        g_epochs=None,
        random_state=None,
        **kwargs,
    ):
        # Set before skorch's __init__: afterwards skorch refuses torch modules as plain
        # attributes (g may be one).
        self.g = g
        self.beta = beta
        self.lam = lam
        self.gamma = gamma
        self.step_size = step_size
        self.n_steps = n_steps
        self.noise = noise
        self.clip = clip
        self.start_epoch = start_epoch
        self.generation = generation
        self.balanced_batches = balanced_batches
        self.translate_ahead = translate_ahead
        self.translation_batch_size = translation_batch_size
        self.batch_transform = batch_transform
        self.amp_dtype = amp_dtype
        self.channels_last = channels_last
        self.cuda_graph = cuda_graph
        self.g_epochs = g_epochs
        self.random_state = random_state
        super().__init__(module, *args, **kwargs)

    def __setattr__(self, name, attr):
        # ``g`` is a parameter that may hold a torch module (set_params(g=...)); skorch
        # would take it for a component to register.
        if name == "g":
            object.__setattr__(self, name, attr)
            return
        # ``g_`` is a module registered without a parameter prefix: skorch's automatic
        # registration would add the prefix ``g`` and then read ``gamma`` or ``g_epochs``
        # as sub-parameters of ``g``.
        if name == "g_" and isinstance(attr, nn.Module):
            object.__setattr__(self, name, attr)
            if "g" not in self._modules:
                self._register_attribute("g_", attr, prefixes=False)
            return
        super().__setattr__(name, attr)

    def __sklearn_clone__(self):
        """Clone the hyper-parameters, but share ``g``.

        ``g`` is a pre-trained model, not an estimator to refit: scikit-learn's default
        ``clone`` would return a skorch or scikit-learn ``g`` unfitted. Sharing it is safe
        because the classifier never modifies it (it works on a frozen copy).
        """
        params = self.get_params(deep=False)
        g = params.pop("g")
        cloned = {name: clone(value, safe=False) for name, value in params.items()}
        return type(self)(g=g, **cloned)

    @property
    def _default_callbacks(self):
        callbacks = []
        for name, cb in super()._default_callbacks:
            if name == "print_log":
                cb = PrintLog(
                    keys_ignored=[
                        "m2m_active",
                        "m2m_entries",
                        "m2m_no_source",
                        "m2m_rejected_beta",
                        "m2m_translated",
                        "m2m_rejected_gamma",
                        "m2m_generation_time",
                        *TIMING_KEYS,
                    ]
                )
            callbacks.append((name, cb))
        return callbacks

    # ----------------------------------------------------------------- validation
    def _check_m2m_params(self) -> None:
        def real(name, low, high=None, low_open=False):
            value = getattr(self, name)
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
            ok = ok and (value > low if low_open else value >= low)
            ok = ok and (high is None or value <= high)
            if not ok:
                bound = f"({low}, " if low_open else f"[{low}, "
                bound += f"{high}]" if high is not None else "inf)"
                raise ValueError(f"{name} must be a real number in {bound}; got {value!r}.")

        real("beta", 0, 1)
        real("lam", 0)
        real("gamma", 0, 1)
        real("step_size", 0, low_open=True)
        real("noise", 0)

        def integer(name, low, allow_none=False):
            value = getattr(self, name)
            if value is None and allow_none:
                return
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
                none = " or None" if allow_none else ""
                raise ValueError(f"{name} must be an integer >= {low}{none}; got {value!r}.")

        integer("n_steps", 0)
        integer("translate_ahead", 1)
        integer("start_epoch", 0, allow_none=True)
        integer("g_epochs", 1, allow_none=True)
        integer("translation_batch_size", 1, allow_none=True)
        if self.batch_transform is not None and not callable(self.batch_transform):
            raise TypeError(
                f"batch_transform must be a callable or None; got {self.batch_transform!r}."
            )
        check_amp_dtype(self.amp_dtype)
        for name in ("channels_last", "cuda_graph"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise ValueError(f"{name} must be True or False; got {getattr(self, name)!r}.")
        if self.balanced_batches and "sampler" in self.get_params_for("iterator_train"):
            raise ValueError(
                "M2MClassifier(balanced_batches=True) drives the training sampler itself; "
                "drop iterator_train__sampler, or pass balanced_batches=False to train "
                "with your own sampler."
            )

    def initialize(self):
        """Initialise the module, ``g_``, criterion, optimizer and the sampler."""
        self._check_m2m_params()
        super().initialize()
        self.sampler_ = ClassBalancedSampler(balanced=False)
        self._m2m_active_ = False
        self._reset_epoch_stats()
        return self

    # ----------------------------------------------------------------- g
    def initialize_module(self):
        """Initialise ``module_`` (f) and ``g_``, a frozen module kept out of training.

        ``g_`` is registered with skorch (device moves, pickling, ``save_params``) but
        not as a parameter prefix (``gamma`` or ``g_epochs`` would otherwise be read as
        ``g`` sub-parameters), not in the optimizer, and never in train mode.
        """
        super().initialize_module()
        if self.g is None:
            # A placeholder of f's architecture (for load_params(f_g=...)); its weights are
            # replaced by the ERM training in fit. Copied, so that no random draw is spent.
            g = frozen_copy(self.module_)
            fitted = False
        else:
            g_module, _ = as_torch_classifier(self.g, name="g")
            g = frozen_copy(g_module)
            fitted = True
        if self.channels_last:
            self.module_ = self.module_.to(memory_format=torch.channels_last)
            g = g.to(memory_format=torch.channels_last)
        self.g_ = g  # registered by __setattr__, in the 'module' init context
        self._g_checked_ = False
        self.g_fitted_ = fitted
        self.g_net_ = None
        self._graphed_forward_ = None
        return self

    def get_all_learnable_params(self):
        """The learnable parameters of ``f`` and the criteria, never those of ``g_``."""
        g = getattr(self, "g_", None)
        frozen = set(g.parameters()) if isinstance(g, nn.Module) else set()
        for name, param in super().get_all_learnable_params():
            if param not in frozen:
                yield name, param

    def _set_training(self, training=True):
        super()._set_training(training)
        g = getattr(self, "g_", None)
        if isinstance(g, nn.Module):
            g.eval()

    def load_params(self, f_params=None, f_optimizer=None, f_criterion=None, f_history=None,
                    checkpoint=None, use_safetensors=False, **kwargs):
        """skorch's ``load_params``; ``f_g=...`` restores ``g_`` (then not retrained)."""
        super().load_params(
            f_params=f_params,
            f_optimizer=f_optimizer,
            f_criterion=f_criterion,
            f_history=f_history,
            checkpoint=checkpoint,
            use_safetensors=use_safetensors,
            **kwargs,
        )
        if kwargs.get("f_g") is not None:
            self.g_.eval()
            self.g_.requires_grad_(False)
            self.g_fitted_ = True

    def _fit_g(self, X, y) -> None:
        """Train the paper's g: a copy of the module by plain ERM on the same data."""
        params = self.get_params(deep=False)
        for name in (*_M2M_PARAMS, "_params_to_validate", "callbacks", "warm_start"):
            params.pop(name, None)
        for name in [p for p in params if p.startswith("criterion")]:
            params.pop(name)
        if isinstance(params["module"], nn.Module):
            params["module"] = copy.deepcopy(params["module"])
        callbacks = []
        for item in self.callbacks or []:
            cb = item[1] if isinstance(item, tuple) else item
            if isinstance(cb, LRScheduler):
                callbacks.append(copy.deepcopy(item))
        if self.balanced_batches:  # same sampler as f, never balanced
            params.pop("iterator_train__shuffle", None)
            params["iterator_train__sampler"] = ClassBalancedSampler(balanced=False)
            callbacks.append(("g_order", DeferredResampling(start_epoch=_NEVER)))
        params.update(
            criterion=nn.CrossEntropyLoss,
            callbacks=callbacks,
            max_epochs=self.g_epochs if self.g_epochs is not None else self.max_epochs,
            classes=np.arange(self._n_classes(y)),
            predict_nonlinearity="auto",
        )
        g_net = NetClassifier(**params)
        g_net.fit(X, y)
        self.g_.load_state_dict(g_net.module_.state_dict())
        self.g_.eval()
        self.g_.requires_grad_(False)
        self.g_net_ = g_net
        self.g_fitted_ = True

    def _check_g_classes(self) -> None:
        est_classes = getattr(self.g, "classes_", None)
        if est_classes is None or isinstance(self.g, nn.Module):
            return
        est_classes = np.asarray(est_classes)
        mine = np.asarray(self.classes_)
        same = len(est_classes) == len(mine) and np.array_equal(est_classes, mine)
        indices = np.array_equal(est_classes, np.arange(len(mine)))
        if not (same or indices):
            raise ValueError(
                f"g was fitted on classes {est_classes.tolist()[:20]} but y has classes "
                f"{mine.tolist()[:20]}; g must be fitted on the same labels."
            )

    # ----------------------------------------------------------------- training hooks
    def _n_classes(self, labels=None) -> int:
        try:
            return len(self.classes_)
        except (AttributeError, TypeError):
            if labels is None:
                raise
            return int(np.max(np.asarray(labels))) + 1

    def _generation_seed(self) -> int:
        rs = self.random_state
        if rs is None:
            return int(torch.randint(0, 2**62, (1,)).item())
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(0, np.iinfo(np.int32).max))
        if isinstance(rs, numbers.Integral):
            # partial_fit continues with a different stream (the epoch count differs).
            seq = np.random.SeedSequence([int(rs), len(self.history)])
            return int(seq.generate_state(1, dtype=np.uint64)[0] >> np.uint64(2))
        raise ValueError(
            f"random_state must be None, an int or a numpy RandomState; got {rs!r}."
        )

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Resolve the M2m settings; train ``g`` by ERM first when ``g=None``."""
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self._check_m2m_params()
        self.start_epoch_ = (
            int(round(0.8 * self.max_epochs)) if self.start_epoch is None
            else int(self.start_epoch)
        )
        self.clip_ = resolve_clip(self.clip, X) if self.generation else None
        device = self._batch_device()
        if self.cuda_graph and device.type != "cuda":
            raise ValueError(
                f"cuda_graph=True records CUDA graphs but the net trains on {device}; set "
                "device='cuda' or cuda_graph=False."
            )
        self._m2m_clip_ = None if self.clip_ is None else tuple(
            b.to(device) if isinstance(b, torch.Tensor) else b for b in self.clip_
        )
        self._m2m_dataset_ = None
        self._g_checked_ = False
        if self.generation:
            if self.g is not None:
                self._check_g_classes()
            elif not self.g_fitted_:
                self._fit_g(X, y)
            if isinstance(X, np.ndarray | torch.Tensor) and len(X):
                # Fail before the first epoch rather than at start_epoch.
                probe = torch.as_tensor(np.asarray(X[:2]) if isinstance(X, np.ndarray)
                                        else X[:2]).to(device)
                if torch.is_floating_point(probe):
                    self._check_g_output(probe)
        self.generator_ = torch.Generator(device=device).manual_seed(self._generation_seed())

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Count the classes of the training data; pick this epoch's sampling and mode."""
        super().on_epoch_begin(net, dataset_train=dataset_train, dataset_valid=dataset_valid,
                               **kwargs)
        epoch = len(self.history) - 1
        if dataset_train is not None and dataset_train is not self._m2m_dataset_:
            labels = get_dataset_labels(dataset_train)
            labels = np.asarray(labels).astype(np.int64)
            self._m2m_labels_ = labels
            self.class_counts_ = np.bincount(labels, minlength=self._n_classes(labels))
            self._m2m_counts_ = torch.as_tensor(self.class_counts_, device=self._batch_device())
            self._m2m_accept_ = torch.as_tensor(
                acceptance_probability(self.class_counts_, self.beta), device=self._batch_device()
            )
            self._m2m_dataset_ = dataset_train
        if self.balanced_batches:
            self.sampler_.set_labels(self._m2m_labels_)
            self.sampler_.balanced = epoch >= self.start_epoch_
        self._m2m_active_ = bool(self.generation) and epoch >= self.start_epoch_
        self._reset_epoch_stats()

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Record the generation statistics of the epoch in the history."""
        super().on_epoch_end(net, dataset_train=dataset_train, dataset_valid=dataset_valid,
                             **kwargs)
        stats = self._m2m_stats_
        self.history.record("m2m_active", bool(self._m2m_active_))
        for key in (*HISTORY_KEYS[1:], *TIMING_KEYS):
            self.history.record(key, stats[key])

    def on_train_end(self, net, X=None, y=None, **kwargs):
        """Drop references to the training data and the generator."""
        super().on_train_end(net, X=X, y=y, **kwargs)
        self._m2m_dataset_ = None
        self._m2m_labels_ = None
        self._m2m_counts_ = None
        self._m2m_accept_ = None
        self._m2m_clip_ = None
        self.generator_ = None
        self._m2m_active_ = False

    def _reset_epoch_stats(self) -> None:
        self._m2m_stats_ = {key: 0 for key in HISTORY_KEYS[1:]}
        self._m2m_stats_["m2m_translate_time"] = 0.0
        self._m2m_stats_["m2m_generation_time"] = 0.0
        for key in TIMING_KEYS:
            self._m2m_stats_[key] = 0.0

    # ----------------------------------------------------------------- data path
    def get_iterator(self, dataset, training=False):
        """skorch's iterator; for training, wrapped to run the M2m generation.

        With ``balanced_batches=True`` the loader gets the net's
        :class:`~m2m_sampler.sampling.ClassBalancedSampler` (``shuffle`` is dropped).
        A :class:`~m2m_sampler.device_data.DeviceLoader` (as ``iterator_train`` or
        ``iterator_valid``) without an explicit ``device`` gets the net's device.
        """
        prefix = "iterator_train" if training else "iterator_valid"
        iterator = self.iterator_train if training else self.iterator_valid
        kwargs = self.get_params_for(prefix)
        if training and self.balanced_batches:
            kwargs.pop("shuffle", None)
            kwargs["sampler"] = self.sampler_
        if "batch_size" not in kwargs:
            kwargs["batch_size"] = self.batch_size
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        if (
            isinstance(iterator, type)
            and issubclass(iterator, DeviceLoader)
            and kwargs.get("device") is None
        ):
            kwargs["device"] = self._batch_device()
        loader = iterator(dataset, **kwargs)
        if not training:
            return loader
        self._m2m_train_batch_size_ = kwargs["batch_size"]
        return _GenerationIterator(self, loader)

    def train_step(self, batch, **fit_params):
        """skorch's ``train_step``, timed into the history column ``m2m_step_time``."""
        start = time.perf_counter()
        step = super().train_step(batch, **fit_params)
        # skorch reads the loss right after (.item()), so this costs no overlap.
        _synchronize(self._batch_device())
        stats = getattr(self, "_m2m_stats_", None)
        if stats is not None:
            stats["m2m_step_time"] += time.perf_counter() - start
        return step

    def infer(self, x, **fit_params):
        """The module's forward, with ``channels_last``, ``amp_dtype`` and ``cuda_graph``.

        Without these options this is skorch's ``infer``. Otherwise 4-D inputs are made
        ``channels_last`` (``channels_last=True``), full-size training batches replay a
        CUDA graph (``cuda_graph=True``), and the forward runs under
        :func:`torch.autocast` with ``amp_dtype``; half-precision outputs are returned as
        float32, so losses and ``predict_proba`` see float32.
        """
        if self.amp_dtype is None and not self.channels_last and not self.cuda_graph:
            return super().infer(x, **fit_params)
        x = to_tensor(x, device=self.device)
        if isinstance(x, Mapping) or fit_params or not isinstance(x, torch.Tensor):
            with self._autocast(x):
                return _float_output(super().infer(x, **fit_params))
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.cuda_graph:
            out = self._graphed_forward(x)
            if out is not None:
                return _float_output(out)
        with self._autocast(x):
            return _float_output(self.module_(x))

    def _autocast(self, x):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        device = x.device if isinstance(x, torch.Tensor) else self._batch_device()
        return torch.autocast(device_type=device.type, dtype=self.amp_dtype)

    def _graphed_forward(self, x: torch.Tensor):
        graphed = getattr(self, "_graphed_forward_", None)
        batch_size = getattr(self, "_m2m_train_batch_size_", None)
        if (
            graphed is None
            or graphed.module is not self.module_
            or graphed.batch_size != batch_size
            or graphed.amp_dtype != self.amp_dtype
        ):
            graphed = GraphedTrainingForward(
                self.module_, amp_dtype=self.amp_dtype, batch_size=batch_size
            )
            self._graphed_forward_ = graphed
        return graphed(x)

    def _batch_device(self) -> torch.device:
        if self.device is not None:
            return torch.device(self.device)
        return module_device(self.module_)

    def _prepare_batch(self, batch, device: torch.device):
        """Move one training batch to ``device`` and apply ``batch_transform``."""
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise TypeError(
                "M2MClassifier needs training batches of the form (X, y); got "
                f"{type(batch).__name__}."
            )
        x, y = batch
        if not isinstance(x, torch.Tensor):
            raise TypeError(
                "M2MClassifier translates tensor inputs: the training loader must yield X "
                f"as a tensor, got {type(x).__name__} (dict / multi-input X is not supported)."
            )
        x = x.to(device, non_blocking=True)
        if y is not None:
            y = to_tensor(y, device=device)
        if self.batch_transform is not None:
            x = self.batch_transform(x)
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def _generate(self, batches):
        """Run :func:`generate_batches` on prepared batches and account for it."""
        start = time.perf_counter()
        if not self.g_fitted_:
            raise RuntimeError(
                "g_ holds no trained weights (g=None and no ERM training happened, e.g. "
                "after initialize()); call fit, or load g with load_params(f_g=...)."
            )
        if any(y is None for _, y in batches):
            raise ValueError("M2m needs the labels of the training batches (y is None).")
        self._check_g_output(batches[0][0])
        f = self.module_ if self.lam != 0 else None
        result = generate_batches(
            [(x, y) for x, y in batches],
            self.g_,
            self._m2m_counts_,
            f=f,
            beta=self.beta,
            lam=self.lam,
            gamma=self.gamma,
            step_size=self.step_size,
            n_steps=self.n_steps,
            noise=self.noise,
            clip=self._m2m_clip_,
            batch_size=self.translation_batch_size,
            generator=self.generator_,
            amp_dtype=self.amp_dtype,
            accept=self._m2m_accept_,
        )
        stats = self._m2m_stats_
        stats["m2m_entries"] += sum(int(y.shape[0]) for _, y in batches)
        stats["m2m_targets"] += result.n_targets
        stats["m2m_no_source"] += result.n_no_source
        stats["m2m_rejected_beta"] += result.n_rejected_beta
        stats["m2m_translated"] += result.n_translated
        stats["m2m_rejected_gamma"] += result.n_rejected_gamma
        stats["m2m_accepted"] += result.n_accepted
        stats["m2m_translate_time"] += result.translate_seconds
        stats["m2m_generation_time"] += time.perf_counter() - start
        return [(x_new, y) for x_new, (_, y) in zip(result.x, batches)]

    def _check_g_output(self, x: torch.Tensor) -> None:
        if getattr(self, "_g_checked_", False):
            return
        with torch.no_grad():
            was_training = self.g_.training
            self.g_.eval()
            try:
                out = self.g_(x[:1].to(_float_dtype(self.g_, x)))
            except Exception as exc:  # re-raised with context
                raise RuntimeError(
                    f"g failed on a training batch of shape {tuple(x.shape[1:])} per sample: "
                    f"{type(exc).__name__}: {exc}. g must take the inputs the module takes."
                ) from exc
            finally:
                self.g_.train(was_training)
        n_classes = len(self.classes_)
        if out.ndim != 2 or out.shape[1] != n_classes:
            raise ValueError(
                f"g returns outputs of shape {tuple(out.shape)} for one sample, but the data "
                f"has {n_classes} classes; g must return one logit per class, in the order "
                "of classes_."
            )
        self._g_checked_ = True

    # ----------------------------------------------------------------- pickling
    def __getstate__(self):
        state = super().__getstate__()
        # Device-bound helpers that only live during fit; CUDA graphs cannot be pickled
        # (they are recorded again on the next training batch).
        for key in ("generator_", "_m2m_counts_", "_m2m_accept_", "_m2m_clip_",
                    "_graphed_forward_"):
            state.pop(key, None)
        return state


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _float_output(out):
    if isinstance(out, torch.Tensor) and out.dtype in (torch.float16, torch.bfloat16):
        return out.float()
    return out


def _float_dtype(module: nn.Module, x: torch.Tensor) -> torch.dtype:
    for p in itertools.chain(module.parameters(), module.buffers()):
        if p.is_floating_point():
            return p.dtype
    return x.dtype

