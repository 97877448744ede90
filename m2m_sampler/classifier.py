"""``M2MClassifier``: the paper's online, batch-wise M2m as a skorch classifier.

The paper's "practical implementation via re-sampling": the target network ``f`` trains
as usual until ``start_epoch``; from it on, batches are class-balanced (deferred
re-sampling, DRS) and every batch goes through the generation rule before its SGD step.
What this module adds to a :class:`~m2m_sampler.net.NetClassifier` (skorch with
scikit-learn labels and the speed options of :class:`~m2m_sampler.training.speed.SpeedMixin`):

* ``g``'s lifecycle: given (converted, frozen copy) or trained by plain ERM in ``fit``
  (:meth:`M2MClassifier.get_g_net`); kept out of the optimizer and of train mode;
  saved and loaded with ``f_g``;
* the generation hook: :meth:`M2MClassifier.get_iterator` wraps the net's own training
  iterator in a :class:`~m2m_sampler.training.generation_iterator.GenerationIterator`, which
  calls :func:`~m2m_sampler.engine.generation.generate_batches` (planning, translation,
  rejection: :mod:`~m2m_sampler.engine.planning`, :mod:`~m2m_sampler.engine.translation`,
  :mod:`~m2m_sampler.engine.rejection`);
* its default callbacks: ``resampling`` (:class:`~m2m_sampler.training.callbacks.DeferredResampling`
  at ``start_epoch``, driving ``sampler_``), ``generation_log``
  (:class:`~m2m_sampler.training.generation_log.GenerationLog`, the acceptance counts) and
  ``timer`` (:class:`~m2m_sampler.training.timing.TrainingTimer`, data and step time).
"""

from __future__ import annotations

import contextlib
import copy
import numbers
import warnings

import numpy as np
import torch
from sklearn.base import clone
from skorch.callbacks import LRScheduler, PrintLog, ProgressBar
from torch import nn

from ._compat import Interval, Substitution, validate_parameter_constraints
from ._stacklevel import caller_stacklevel
from ._torch_utils import frozen_copy
from .engine.checks import check_clip_box, probe_rows, warn_low_acceptance
from .engine.converters import as_torch_classifier
from .engine.params import (
    DEFAULT_TRANSLATION_PARAMS,
    TRANSLATION_PARAMETER_DOCS,
    TranslationParams,
    check_step_size,
    validate_translation_params,
)
from .engine.translation import resolve_clip
from .exceptions import DeferredPhaseNotReachedWarning
from .net import NetClassifier
from .training.callbacks import DeferredResampling, DeferredReweighting
from .training.generation_iterator import GenerationIterator, check_g_output
from .training.generation_log import HISTORY_KEYS, PAIRS_KEY, GenerationLog
from .training.sampling import ClassBalancedSampler, get_dataset_labels
from .training.schedules import (
    MIN_DEFERRED_LR_BUDGET,
    NEVER,
    DeferredPhaseWarning,
    default_start_epoch,
    deferred_lr_budget,
)
from .training.seeding import g_random_state, generation_seed, seed_torch, seeded_torch, torch_seed
from .training.speed import training_device
from .training.timing import TIMING_KEYS, TrainingTimer

__all__ = ["M2MClassifier", "HISTORY_KEYS", "TIMING_KEYS"]

_DEFAULTS = DEFAULT_TRANSLATION_PARAMS  # the translation parameters' defaults

#: Constraints of the parameters M2MClassifier adds besides the translation parameters
#: (those are :data:`~m2m_sampler.engine.params.TRANSLATION_PARAMETER_CONSTRAINTS`).
_CONSTRAINTS = {
    "start_epoch": [None, Interval(numbers.Integral, 0, None, closed="left")],
    "generation": ["boolean"],
    "balanced_batches": ["boolean"],
    "translate_ahead": [Interval(numbers.Integral, 1, None, closed="left")],
    "translation_batch_size": [None, Interval(numbers.Integral, 1, None, closed="left")],
    "g_epochs": [None, Interval(numbers.Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
}

#: Columns the default PrintLog leaves out (the history keeps them).
_NOT_PRINTED = ("m2m_active", "m2m_entries", "m2m_no_source", "m2m_rejected_beta",
                "m2m_translated", "m2m_rejected_gamma", "m2m_generation_time", PAIRS_KEY,
                *TIMING_KEYS)


@Substitution(**TRANSLATION_PARAMETER_DOCS)
class M2MClassifier(NetClassifier):
    """A skorch classifier trained with M2m's online, batch-wise generation (deferred).

    Until ``start_epoch`` the target network ``f`` (``module``) is trained as usual
    (a fresh random order every epoch). From ``start_epoch`` on, batches are
    class-balanced (deferred re-sampling) and every batch goes through the paper's
    generation before its SGD step: entry ``i`` of class ``k`` becomes a target with
    probability ``1 - N_k / N_max``; its source ``x0`` is drawn from the same batch among
    strictly larger classes ``k0`` with weights ``1 - beta^(N_k0 - N_k)``; ``x0`` is moved
    by ``n_steps`` normalised gradient steps of length ``step_size`` on
    ``CE(g(x), k) + lam * f_k0(x)`` (Eq. 2; ``g`` frozen, ``f`` the live network, both in
    eval mode); the result replaces entry ``i`` iff ``g``'s probability of ``k`` is at
    least ``gamma`` and a Bernoulli draw of probability ``1 - beta^(N_k0 - N_k)``
    succeeds. Rejected targets keep their real sample.

    A :class:`~m2m_sampler.net.NetClassifier` (any labels; every skorch parameter and
    the speed options of :class:`~m2m_sampler.training.speed.SpeedMixin` work as there) plus
    ``g`` and the generation. ERM and DRS baselines are plain ``NetClassifier`` nets.
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
        :func:`~m2m_sampler.engine.converters.as_torch_classifier`. The caller's object is never
        modified: a frozen copy is used. ``None``: ``g`` is first trained by plain ERM
        (:meth:`get_g_net`: this net's own parameters, speed options and callbacks,
        with cross-entropy, no re-balancing and no generation) for ``g_epochs`` epochs
        and kept as ``g_net_``; only when ``generation=True``. In grid searches pass a
        pre-trained ``g``: it is shared by the clones, while ``g=None`` retrains it in
        every fit.
    {beta}
    {lam}
        Here ``f`` is the network being trained, as it is at the batch's step.
    {gamma}
    {step_size}
    {n_steps}
    {noise}
    {clip}
    start_epoch : int >= 0 or None, default=None
        0-based index of the first M2m epoch (class-balanced batches + generation).
        ``None``: ``round(0.8 * max_epochs)``, the last 20% of the epochs as in the
        paper (160 of 200). ``0`` runs M2m from the start (the paper's "M2m-RS"
        ablation). ``partial_fit`` keeps counting epochs. With the paper's schedule
        (:func:`~m2m_sampler.training.schedules.paper_lr_scheduler`: x0.01 at 80% and 90%) the
        default start falls on the first decay, as in the paper; in a short run that
        leaves the deferred phase almost no learning, and ``fit`` warns
        (:class:`~m2m_sampler.training.schedules.DeferredPhaseWarning`) when the phase gets less
        than :data:`~m2m_sampler.training.schedules.MIN_DEFERRED_LR_BUDGET` epochs' worth of
        base-rate steps (see :func:`~m2m_sampler.training.schedules.deferred_lr_budget`).
    generation : bool, default=True
        ``False`` turns the generation off and leaves everything else unchanged (with
        ``balanced_batches=True``: DRS, as ``NetClassifier`` + ``DeferredResampling``).
        ``g`` is then neither needed nor trained.
    balanced_batches : bool, default=True
        Register the ``resampling`` callback (``DeferredResampling`` at ``start_epoch``)
        and give the training loader its sampler ``sampler_``: a random permutation each
        epoch before ``start_epoch``, class-balanced draws with replacement from it on.
        Setting ``iterator_train__sampler`` is then an error and
        ``iterator_train__shuffle`` is ignored. ``False`` leaves the training order to
        ``iterator_train__*`` and runs the generation on whatever batches come (the
        paper's rule assumes class-balanced batches).
    translate_ahead : int >= 1, default=1
        Batches translated together. ``1`` is the paper's rule; ``M > 1`` translates the
        targets of ``M`` batches in one engine call (keeps a GPU busy), with ``f`` stale
        by up to ``M - 1`` steps for the ``lam`` term.
    translation_batch_size : int or None, default=None
        Chunk size of the engine (memory bound); ``None`` translates all the sources of a
        group of ``translate_ahead`` batches at once.
    g_epochs : int >= 1 or None, default=None
        Epochs of the ERM training of ``g`` when ``g=None``; ``None``: ``max_epochs``.
    random_state : int, RandomState instance or None, default=None
        Governs every random draw of ``fit`` / ``partial_fit``
        (:mod:`m2m_sampler.training.seeding`): weight initialisation, the mini-batch order and
        dropout (torch's global generators, seeded for the fit and restored afterwards,
        so the caller's stream is neither read nor moved), the ERM training of ``g``
        (its own derived seed) and the generation (targets, sources, Bernoulli draws,
        random starts, on the training device). Two fits with the same int give the same
        model on the same device with the same parameters (``batch_size`` included),
        torch version and number of threads (set the same way: on some CPUs a process
        started with ``OMP_NUM_THREADS=1`` and one that called
        ``torch.set_num_threads(1)`` differ by float round-off); CUDA kernels may add
        their own non-determinism. ``None``: everything comes from torch's global generator, so
        runs are reproducible under ``torch.manual_seed``, as with any skorch net.
    {amp_dtype}
        In M2MClassifier it is also the autocast dtype of every forward pass of ``f``
        through the net (:class:`~m2m_sampler.training.speed.SpeedMixin`); training under
        ``torch.float16`` uses a :class:`torch.amp.GradScaler` (``grad_scaler_``).
    **kwargs
        Everything :class:`~m2m_sampler.net.NetClassifier` accepts, the other speed
        options included (``channels_last`` also applies to ``g``; ``batch_transform``
        runs before the generation, so sources come from the transformed batch as in
        the paper).

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained target network ``f``.
    g_ : torch.nn.Module
        The frozen ``g`` (eval mode, ``requires_grad=False``, not in the optimizer);
        ``save_params(f_g=...)`` / ``load_params(f_g=...)`` round-trip it, and
        ``skorch.callbacks.Checkpoint(f_g="g.pt", ...)`` saves it with the other files
        (``load_params(checkpoint=...)`` restores it).
    g_loaded_ : bool
        ``g_`` was restored by ``load_params``: with ``g=None`` it is then a pre-trained
        ``g`` that ``fit`` keeps (it re-initialises ``f`` only).
    g_net_ : M2MClassifier or None
        The fitted ERM net when ``g=None`` (``g_`` holds its ``module_``'s weights).
    g_fitted_ : bool
        Whether ``g_`` holds trained weights (``False`` for ``g=None`` until ``fit``).
    class_stats_ : dict or None
        The acceptance record of the last ``fit`` / ``partial_fit`` call, per target
        class, with the keys of :class:`~m2m_sampler.M2MOverSampler`'s ``class_stats_``
        (:mod:`m2m_sampler.engine.acceptance`): class label -> ``n_new`` (batch entries
        drawn as targets), ``n_fallback`` (targets without a larger class in their
        batch: they keep their sample), ``n_rejected_beta`` (dropped by the Bernoulli
        draw of Eq. 3), ``n_translated``, ``n_rejected_gamma`` and ``n_accepted`` (slots
        replaced); ``n_new = n_fallback + n_rejected_beta + n_translated`` and
        ``n_translated = n_rejected_gamma + n_accepted``. The accepted share is
        :func:`~m2m_sampler.engine.acceptance.accepted_share` ``(class_stats_.values())``.
        None when ``generation=False`` or the ``generation_log`` callback is switched
        off.
    accepted_pairs_ : ndarray of shape (n_classes, n_classes), int64, or None
        ``accepted_pairs_[i, j]``: accepted translations of that call from source class
        ``classes_[i]`` to target class ``classes_[j]`` (as the sampler's); the counts
        of translations sourced and translated per pair are
        ``generation_log().pair_counts(n_classes)``. None as ``class_stats_``.
    translation_params_ : TranslationParams
        The translation parameters of the fit
        (:class:`~m2m_sampler.engine.params.TranslationParams`), ``clip`` resolved.
    start_epoch_, clip_ : int, None or (low, high)
        The resolved ``start_epoch`` and ``clip``.
    clip_outside_share_ : float
        Share of the training rows with a value outside ``clip_``
        (:func:`~m2m_sampler.engine.checks.clip_outside_share`); 0.0 without a box, without
        generation, or when ``X`` is not a floating array or tensor (integer images, e.g.
        ``uint8``, are scaled by the loader, so ``X`` is not what the generation sees).
    class_counts_ : ndarray of shape (n_classes,)
        ``N_k`` (logit order) of the data skorch trains on (after ``train_split``).
    sampler_ : ClassBalancedSampler
        The training sampler, driven by the ``resampling`` callback.
    generator_ : torch.Generator or None
        The generation's random generator (during ``fit``).
    classes_ : ndarray
        The labels, in the order of ``predict_proba``'s columns.
    history : skorch History
        Also holds the columns of :class:`~m2m_sampler.training.generation_log.GenerationLog`
        (``m2m_targets``, ``m2m_accepted``, ...) and of
        :class:`~m2m_sampler.training.timing.TrainingTimer`, every epoch.

    See Also
    --------
    m2m_sampler.M2MOverSampler : the offline variant (Algorithm 1) for any pipeline.
    m2m_sampler.training.callbacks.DeferredResampling : DRS for any skorch net.
    m2m_sampler.engine.generation.generate_batches : the generation rule for a custom training loop.

    Notes
    -----
    *Default callbacks* (skorch names): ``resampling`` (with ``balanced_batches``),
    ``generation_log`` and ``timer``; ``callbacks__<name>=None`` switches one off.

    *Inputs.* ``X`` as in :class:`~m2m_sampler.net.NetClassifier`: numpy arrays, torch
    tensors, pandas DataFrames or lists of lists of real numbers (any float, int or bool
    dtype) are trained on as float32; strings and other non-numeric data are refused.
    ``y``: class labels of any type (continuous ``y`` is refused, as by
    :class:`~m2m_sampler.M2MOverSampler`).

    *Checks before the first epoch.* The module must return one logit per class (an
    error says which ``module__n_classes`` to set), ``g`` too, and
    ``step_size * n_steps`` must stay within 100 diagonals of the data's bounding box.
    A given ``g`` gets :class:`~m2m_sampler.M2MOverSampler`'s checks
    (:mod:`m2m_sampler.engine.checks`) on up to 16 training rows of every class: logits,
    not probabilities (an error), in sorted label order
    (:class:`~m2m_sampler.exceptions.LabelOrderWarning`). ``clip`` must have no NaN bound,
    and a box that over half of the rows of a floating ``X`` lie outside warns
    (:class:`~m2m_sampler.exceptions.ClipRangeWarning`; ``uint8`` images are not checked:
    the loader scales them). A fit whose epochs do not reach
    ``start_epoch`` warns (it runs no M2m epoch and does not train ``g``).

    *After the fit.* When under 10% of the planned translations were accepted
    (:func:`~m2m_sampler.engine.acceptance.accepted_share` of ``class_stats_``), one
    :class:`~m2m_sampler.exceptions.LowAcceptanceWarning` names the parameter to change
    (:func:`~m2m_sampler.engine.acceptance.low_acceptance_cause`, as the sampler's).

    *Saving.* ``save_params(f_params=..., f_g=...)`` writes ``f`` with ``classes_`` and
    ``g``; ``load_params`` on a new net gives the same predictions without ``classes=``.
    Pickles load on machines without the training GPU (tensors go to the CPU).

    *Interruption.* ``KeyboardInterrupt`` ends ``fit`` cleanly (skorch); the history row
    of the interrupted epoch has the ``m2m_*`` columns of the batches that ran.

    *Training-side scores.* The loss, ``on_batch_end`` and the cached train-side
    ``EpochScoring`` see the generated batches: a translated slot carries its target
    class. *Custom loaders* get ``sampler=sampler_`` and must yield ``(X, y)`` batches
    with ``X`` one tensor.

    References
    ----------
    J. Kim, J. Jeong and J. Shin. M2m: Imbalanced Classification via Major-to-minor
    Translation. CVPR 2020.

    Examples
    --------
    >>> import torch
    >>> from m2m_sampler.classifier import M2MClassifier
    >>> from m2m_sampler.datasets import load_digits_lt
    >>> from m2m_sampler.longtail.models import MLP
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

    def __init__(self, module, *args, g=None, beta=_DEFAULTS.beta, lam=_DEFAULTS.lam,
                 gamma=_DEFAULTS.gamma, step_size=_DEFAULTS.step_size,
                 n_steps=_DEFAULTS.n_steps, noise=_DEFAULTS.noise, clip=_DEFAULTS.clip,
                 start_epoch=None,
                 generation=True, balanced_batches=True, translate_ahead=1,
                 translation_batch_size=None, g_epochs=None, random_state=None, **kwargs):
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
        params = _public_params(self)
        g = params.pop("g")
        cloned = {name: clone(value, safe=False) for name, value in params.items()}
        return type(self)(g=g, **cloned)

    # ----------------------------------------------------------------- components
    @property
    def _default_callbacks(self):
        # skorch's defaults plus ``resampling`` (DRS at ``start_epoch``, with
        # ``balanced_batches``), ``generation_log`` and ``timer``; the print log leaves the
        # detailed M2m columns out (they stay in the history).
        callbacks = []
        for name, cb in super()._default_callbacks:
            if name == "print_log":
                cb = PrintLog(keys_ignored=list(_NOT_PRINTED))
            callbacks.append((name, cb))
        if self.balanced_batches:
            callbacks.append(("resampling", DeferredResampling(start_epoch=None)))
        callbacks += [("generation_log", GenerationLog()), ("timer", TrainingTimer())]
        return callbacks

    def initialize_callbacks(self):
        """Initialise the callbacks and the training sampler ``sampler_`` they drive."""
        super().initialize_callbacks()
        self.sampler_ = ClassBalancedSampler(balanced=False)
        return self

    def get_params_for(self, prefix):
        """skorch's ``get_params_for``; with ``balanced_batches``, the training loader gets
        the net's ``sampler_`` (and no ``shuffle``)."""
        params = super().get_params_for(prefix)
        if prefix == "iterator_train" and self.balanced_batches and hasattr(self, "sampler_"):
            params.pop("shuffle", None)
            params["sampler"] = self.sampler_
        return params

    def initialize_module(self):
        """Initialise ``module_`` (f) and ``g_``, a frozen module kept out of training.

        ``g_`` is registered with skorch (device moves, pickling, ``save_params``) but
        not as a parameter prefix (``gamma`` or ``g_epochs`` would otherwise be read as
        ``g`` sub-parameters), not in the optimizer, and never in train mode.
        """
        loaded = getattr(self, "g_", None) if getattr(self, "g_loaded_", False) else None
        super().initialize_module()
        if self.g is None and loaded is not None:
            # g_ restored by load_params(f_g=...): a pre-trained g, kept (not retrained).
            self.g_ = loaded
            self.g_fitted_ = True
            self.g_net_ = None
            return self
        self.g_loaded_ = False
        if self.g is None:
            # A placeholder of f's architecture (for load_params(f_g=...)); its weights are
            # replaced by the ERM training in fit. Copied, so that no random draw is spent.
            g, fitted = frozen_copy(self.module_), False
        else:
            g, fitted = frozen_copy(as_torch_classifier(self.g, name="g")[0]), True
        if self.channels_last:
            g = g.to(memory_format=torch.channels_last)
        self.g_ = g  # registered by __setattr__, in the 'module' init context
        self.g_fitted_ = fitted
        self.g_net_ = None
        return self

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("generator_", None)  # device-bound, lives only during fit
        return state

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
        """skorch's ``load_params`` (``classes_`` come with ``f_params``, see
        :meth:`NetClassifier.load_params <m2m_sampler.net.NetClassifier.load_params>`);
        ``f_g=...`` (or a ``Checkpoint`` with ``f_g``) restores ``g_``.

        With ``g=None``, a loaded ``g_`` is a pre-trained ``g``: ``fit`` keeps it (it
        re-initialises ``f`` as skorch does, but does not retrain ``g``) until
        ``set_params(g=...)`` or a new ``load_params``; ``g_loaded_`` says so.
        """
        super().load_params(f_params=f_params, f_optimizer=f_optimizer,
                            f_criterion=f_criterion, f_history=f_history,
                            checkpoint=checkpoint, use_safetensors=use_safetensors, **kwargs)
        loaded_g = kwargs.get("f_g") is not None or (
            checkpoint is not None and getattr(checkpoint, "f_g", None) is not None)
        if loaded_g:
            self.g_.eval()
            self.g_.requires_grad_(False)
            self.g_fitted_ = True
            self.g_loaded_ = True
            self.g_net_ = None

    # ----------------------------------------------------------------- validation
    def _validate_params(self):
        super()._validate_params()
        self._check_m2m_params()

    def _check_m2m_params(self) -> None:
        """The translation parameters against their shared spec, then the others."""
        validate_translation_params(self)
        validate_parameter_constraints(
            _CONSTRAINTS, {name: getattr(self, name) for name in _CONSTRAINTS},
            caller_name=type(self).__name__,
        )
        if self.balanced_batches and "sampler" in super().get_params_for("iterator_train"):
            raise ValueError(
                "M2MClassifier(balanced_batches=True) drives the training sampler itself; "
                "drop iterator_train__sampler, or pass balanced_batches=False to train "
                "with your own sampler."
            )

    # ----------------------------------------------------------------- fit
    def fit(self, X, y, **fit_params):
        """Initialise and fit ``f`` (and ``g`` when ``g=None``) with M2m.

        An int ``random_state`` seeds every random draw of the fit (see
        :mod:`m2m_sampler.training.seeding`); torch's global generators are restored afterwards.
        """
        with self._seeded():
            return super().fit(X, y, **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Continue training (epochs keep counting); seeded as :meth:`fit`.

        Warns when ``start_epoch`` is not reached by the epochs of this call: such a fit
        trains ``f`` as a plain ``NetClassifier`` (no class-balanced batches, no
        generation) and, with ``g=None``, does not train ``g`` (a later ``partial_fit``
        that reaches ``start_epoch`` does).
        """
        with self._seeded():
            if not self.initialized_:
                self.initialize()
            self._check_start_epoch_reached(fit_params.get("epochs"))
            return super().partial_fit(X, y, classes=classes, **fit_params)

    @contextlib.contextmanager
    def _seeded(self):
        """torch's generators seeded from ``random_state`` for one fit (outermost call):
        the initialisation's seed now, every epoch's in :meth:`on_epoch_begin`."""
        if getattr(self, "torch_seeded_", False):  # partial_fit inside fit
            yield
            return
        self.torch_seeded_ = True
        try:
            with seeded_torch(torch_seed(self.random_state), self._seed_device()):
                yield
        finally:
            self.torch_seeded_ = False

    def _seed_device(self) -> torch.device:
        return torch.device(self.device) if self.device is not None else torch.device("cpu")

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """skorch's; with a ``random_state``, re-seed the epoch's random streams.

        torch's generators (mini-batch order, dropout) and the generation's get seeds
        that depend only on ``(random_state, epoch index)``: a run continued with
        ``partial_fit`` (after ``load_params``, say) trains as the uninterrupted run.
        """
        super().on_epoch_begin(net, dataset_train=dataset_train,
                               dataset_valid=dataset_valid, **kwargs)
        if self.random_state is None or not getattr(self, "torch_seeded_", False):
            return
        epoch = len(self.history) - 1
        seed_torch(torch_seed(self.random_state, epoch), self._seed_device())
        if getattr(self, "generator_", None) is not None:
            self.generator_.manual_seed(self.get_generation_seed(epoch))

    def get_generation_seed(self, n_epochs: int) -> int:
        """Seed of the generation's random stream from epoch ``n_epochs`` on.

        :func:`~m2m_sampler.training.seeding.generation_seed` of ``random_state``;
        a subclass that runs on several processes gives each its own stream here.
        """
        return generation_seed(self.random_state, n_epochs)

    def _check_start_epoch_reached(self, epochs) -> None:
        n_epochs = self.max_epochs if epochs is None else int(epochs)
        start = self._resolved_start_epoch()
        self.m2m_reached_ = len(self.history) + n_epochs > start
        deliberate = start >= NEVER  # g's ERM net: never class-balanced
        if not self.m2m_reached_ and not deliberate and (
            self.generation or self.balanced_batches
        ):
            last = len(self.history) + n_epochs - 1
            warnings.warn(
                f"start_epoch={start} is not reached: this fit trains epochs "
                f"{len(self.history)} to {last} (max_epochs={self.max_epochs}), so it runs "
                "no M2m epoch (no class-balanced batches, no generation)"
                + (" and g is not trained" if self.generation and self.g is None
                   and not self.g_fitted_ else "")
                + ". Lower start_epoch (None: the last 20% of the epochs) or raise "
                "max_epochs.",
                DeferredPhaseNotReachedWarning,
                stacklevel=caller_stacklevel(),
            )

    def _resolved_start_epoch(self) -> int:
        if self.start_epoch is None:
            return default_start_epoch(self.max_epochs)
        return int(self.start_epoch)

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Resolve the M2m settings; train ``g`` by ERM first when ``g=None``."""
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self._check_m2m_params()
        self.start_epoch_ = self._resolved_start_epoch()
        if self.balanced_batches and not any(
            isinstance(cb, DeferredResampling) for _, cb in self.callbacks_
        ):
            raise ValueError(
                "balanced_batches=True: the training sampler is driven by the 'resampling' "
                "callback (DeferredResampling), which is switched off; pass "
                "balanced_batches=False to train without re-sampling."
            )
        if not len(self.history):  # a fresh fit (partial_fit continues a schedule)
            self._check_deferred_phase()
        self.clip_ = resolve_clip(self.clip, X) if self.generation else None
        self.translation_params_ = TranslationParams.from_estimator(self, clip=self.clip_)
        self.generator_ = None
        self.clip_outside_share_ = 0.0
        if not self.generation:
            return
        if _is_floating(X):  # integer images are scaled by the loader (DeviceLoader)
            self.clip_outside_share_ = check_clip_box(self.clip_, X)
        check_step_size(self, X)
        if self.g is not None:
            _check_g_classes(self.g, self.classes_)
        elif not self.g_fitted_ and getattr(self, "m2m_reached_", True):
            self._fit_g(X, y)
        if isinstance(X, np.ndarray | torch.Tensor) and len(X) and self.g_fitted_:
            # Fail before the first epoch rather than at start_epoch.
            self._check_g(X, y)
        seed = self.get_generation_seed(len(self.history))
        self.generator_ = torch.Generator(device=training_device(self)).manual_seed(seed)

    def _check_g(self, X, y) -> None:
        """Run ``g_`` on probe rows of the training data; a given ``g`` gets the sampler's
        checks (:func:`~m2m_sampler.engine.checks.check_model_output`: one logit per class,
        no probabilities, sorted label order), a trained one the width check."""
        given = self.g is not None and isinstance(y, np.ndarray | torch.Tensor)
        if given:
            y_idx = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y).astype(np.int64)
            rows = probe_rows(y_idx, len(self.classes_))
            index = torch.as_tensor(rows) if isinstance(X, torch.Tensor) else rows
            probe, labels = torch.as_tensor(X[index]), y_idx[rows]
        else:
            probe, labels = torch.as_tensor(X[:2]), None
        probe = probe.to(training_device(self))
        if torch.is_floating_point(probe):
            check_g_output(self.g_, probe, self.classes_, labels, logits=given)

    def _check_deferred_phase(self) -> None:
        """Warn when the deferred phase falls where the lr schedule leaves it no learning."""
        if not (self.generation or self.balanced_batches):
            return
        start, end = self.start_epoch_, int(self.max_epochs)
        if start >= end or start == 0:
            return
        for _, cb in self.callbacks_:
            lr_lambda = getattr(cb, "lr_lambda", None)
            if not isinstance(cb, LRScheduler) or not callable(lr_lambda):
                continue
            budget = deferred_lr_budget(lr_lambda, start, end)
            if budget < MIN_DEFERRED_LR_BUDGET:
                rates = ", ".join(f"{lr_lambda(e):g}" for e in range(start, end))
                warnings.warn(
                    f"the deferred phase (epochs {start}-{end - 1} of {end}, from start_epoch) "
                    f"trains at {rates} x the base learning rate: {budget:.3g} epochs' worth "
                    f"of base-rate steps, under {MIN_DEFERRED_LR_BUDGET} "
                    "(m2m_sampler.training.schedules.MIN_DEFERRED_LR_BUDGET), so the "
                    "class-balanced "
                    "batches and the generation can hardly change the network. The start "
                    "falls on or after the schedule's decay; with few epochs pass an earlier "
                    "start_epoch (e.g. round(0.6 * max_epochs)) or later milestones, or "
                    "train longer.",
                    DeferredPhaseWarning,
                    stacklevel=caller_stacklevel(),
                )
            return

    def on_train_end(self, net, X=None, y=None, **kwargs):
        """Summarise the generation (``class_stats_``, ``accepted_pairs_``); drop the
        generation's random generator."""
        super().on_train_end(net, X=X, y=y, **kwargs)
        self.generator_ = None
        log = self.generation_log() if self.generation else None
        self.class_stats_ = None if log is None else log.class_stats(self.classes_)
        self.accepted_pairs_ = (
            None if log is None else log.pair_counts(len(self.classes_))["accepted"])
        if self.class_stats_ is not None:
            warn_low_acceptance(
                self.class_stats_, clip_outside=getattr(self, "clip_outside_share_", 0.0),
                where="class_stats_ and the history's m2m_* columns",
                rest="the rejected targets kept their real samples, so the training is "
                "close to class-balanced re-sampling (DRS)",
            )

    def is_generation_epoch(self) -> bool:
        """Whether the epoch being trained runs the generation."""
        return bool(self.generation) and len(self.history) - 1 >= self.start_epoch_

    def get_translation_f(self) -> nn.Module:
        """The network ``f`` of the ``lam * f_k0(x)`` term of the translation: ``module_``.

        The live network, as left by the last step. A subclass whose ``module_`` is
        wrapped for training (e.g. in ``DistributedDataParallel`` by
        :class:`~m2m_sampler.distributed.AcceleratedM2MClassifier`) returns the wrapped
        local module: the translation only takes input gradients through it.
        """
        return self.module_

    def generation_log(self) -> GenerationLog | None:
        """The registered :class:`~m2m_sampler.training.generation_log.GenerationLog`, if any."""
        return next((cb for _, cb in self.callbacks_ if isinstance(cb, GenerationLog)), None)

    def get_iterator(self, dataset, training=False):
        """The net's iterator; for training, wrapped to run the M2m generation."""
        iterator = super().get_iterator(dataset, training=training)
        if not training:
            return iterator
        try:
            labels = np.asarray(get_dataset_labels(dataset)).astype(np.int64)
        except ValueError:  # no labels (skorch's forward(X, training=True)): no generation
            return iterator
        self.class_counts_ = np.bincount(labels, minlength=len(self.classes_))
        return GenerationIterator(self, iterator, self.class_counts_)

    # ----------------------------------------------------------------- g
    def get_g_net(self):
        """The unfitted net that trains ``g`` by plain ERM (``g=None``).

        This net's class with its own parameters (``get_params``: optimizer, learning
        rate, batch size, iterators, device, speed options, ``callbacks``...), except:
        cross-entropy (no ``criterion__*``), no generation, never class-balanced (the
        same sampler, never switched), no warm start, ``g_epochs`` epochs. Its callbacks
        are copies of this net's, without the re-balancing ones
        (:class:`~m2m_sampler.training.callbacks.DeferredReweighting`,
        :class:`~m2m_sampler.training.callbacks.DeferredResampling`) and without the
        ``generation_log``: ``g`` is plain ERM. With ``verbose`` and no
        :class:`skorch.callbacks.ProgressBar` among the callbacks, a progress bar over
        each epoch's batches (described ``g (ERM) epoch N/M``) shows where the ERM phase
        is. Override to train ``g`` otherwise.
        """
        return type(self)(**_erm_params(self))

    def _fit_g(self, X, y) -> None:
        g_net = self.get_g_net().fit(X, y)
        self.g_.load_state_dict(g_net.module_.state_dict())
        self.g_.eval()
        self.g_.requires_grad_(False)
        self.g_net_ = g_net
        self.g_fitted_ = True



def _is_floating(X) -> bool:
    """Whether ``X`` is a floating array or tensor (what the batches hold as given)."""
    if isinstance(X, torch.Tensor):
        return torch.is_floating_point(X)
    return isinstance(X, np.ndarray) and np.issubdtype(X.dtype, np.floating)


def _check_g_classes(g, classes) -> None:
    """A fitted estimator ``g`` must know the labels ``classes`` (or their indices)."""
    est_classes = getattr(g, "classes_", None)
    if est_classes is None or isinstance(g, nn.Module):
        return
    est_classes, mine = np.asarray(est_classes), np.asarray(classes)
    same = len(est_classes) == len(mine) and np.array_equal(est_classes, mine)
    if not (same or np.array_equal(est_classes, np.arange(len(mine)))):
        raise ValueError(
            f"g was fitted on classes {est_classes.tolist()[:20]} but y has classes "
            f"{mine.tolist()[:20]}; g must be fitted on the same labels."
        )


def _erm_params(net) -> dict:
    """The parameters of :meth:`M2MClassifier.get_g_net`'s net, from ``net``'s."""
    excluded = {_callback_name(item) for item in net.callbacks or []
                if _is_rebalancing(_callback(item))}
    dropped = excluded | {"resampling", "generation_log"}  # callbacks__<name>[__*]
    params = {k: v for k, v in _public_params(net).items()
              if not k.startswith("criterion")
              and not (k.startswith("callbacks__") and k.split("__")[1] in dropped)}
    if isinstance(params["module"], nn.Module):
        params["module"] = copy.deepcopy(params["module"])
    has_bar = any(issubclass(_callback_class(item), ProgressBar)
                  for item in net.callbacks or [])
    progress = [("g_progress", GProgressBar())] if net.verbose and not has_bar else []
    params.update(
        g=None, generation=False, start_epoch=NEVER, g_epochs=None, warm_start=False,
        criterion=nn.CrossEntropyLoss, predict_nonlinearity="auto",
        callbacks=[copy.deepcopy(item) for item in net.callbacks or []
                   if _callback_name(item) not in excluded] + progress,
        callbacks__generation_log=None,
        max_epochs=net.g_epochs if net.g_epochs is not None else net.max_epochs,
        classes=np.arange(len(net.classes_)),
        random_state=g_random_state(net.random_state),
    )
    return params


def _public_params(net) -> dict:
    """``get_params(deep=False)`` without private attributes skorch lists as parameters
    (``_params_to_validate``, the ``_parent_callback_ctx`` of scikit-learn's searches)."""
    return {k: v for k, v in net.get_params(deep=False).items() if not k.startswith("_")}


def _callback(item):
    return item[1] if isinstance(item, tuple | list) else item


def _callback_class(item) -> type:
    cb = _callback(item)
    return cb if isinstance(cb, type) else type(cb)


class GProgressBar(ProgressBar):
    """skorch's :class:`~skorch.callbacks.ProgressBar`, described ``g (ERM) epoch N/M``.

    Added to the net that trains ``g`` (:meth:`M2MClassifier.get_g_net`) when
    ``verbose`` is set.
    """

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Open the epoch's bar (skorch) and name the phase and epoch."""
        super().on_epoch_begin(net, dataset_train, dataset_valid, **kwargs)
        self.pbar_.set_description(f"g (ERM) epoch {len(net.history)}/{net.max_epochs}")


def _is_rebalancing(cb) -> bool:
    cls = cb if isinstance(cb, type) else type(cb)
    return issubclass(cls, DeferredReweighting | DeferredResampling)


def _callback_name(item) -> str:
    if isinstance(item, tuple | list):
        return item[0]
    return item.__name__ if isinstance(item, type) else type(item).__name__
