"""``M2MOverSampler``: Algorithm 1 of the paper as an imbalanced-learn over-sampler.

Where each step of Algorithm 1 lives:

* lines 2-6 (how many samples per class, source class ``k0 ~ Q(k0|k)``, source ``x0``):
  :func:`m2m_sampler.engine.planning.plan_translations`;
* lines 7-11 (random start and ``T`` normalised gradient steps):
  :func:`m2m_sampler.engine.translation.translate`, through the engine call
  :func:`m2m_sampler.engine.generation.generate`, in shards over devices and processes
  (:func:`m2m_sampler.engine.sharding.generate_sharded`);
* lines 12-15 (rejection by ``gamma`` and ``beta``, replacement by a real sample):
  :mod:`m2m_sampler.engine.rejection`, applied in :meth:`M2MOverSampler._fit_resample`;
* line 16 (the balanced data set): the rows returned by ``fit_resample``.
"""

from __future__ import annotations

import math
import numbers
import sys
import warnings

import numpy as np
import torch
from imblearn.over_sampling.base import BaseOverSampler
from imblearn.utils import check_target_type
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data
from torch import nn
from tqdm.auto import tqdm

from ._compat import Interval, StrOptions, Substitution
from ._stacklevel import caller_stacklevel
from ._torch_utils import (
    PORTABLE_STATE,
    device_is_available,
    dumps_portable,
    eval_mode,
    floating_dtype,
    frozen_copy,
    loads_portable,
    resolve_device,
)
from .engine.acceptance import LOW_ACCEPTANCE_SHARE, accepted_pairs, plan_class_stats
from .engine.checks import (
    PROBE_ROWS_PER_CLASS,  # noqa: F401 -- importable here, as before
    check_clip_box,
    check_model_output,
    probe_rows,
    warn_low_acceptance,
)
from .engine.converters import as_torch_classifier, default_g, fit_quietly
from .engine.memory import check_resampled_size
from .engine.params import (
    DEFAULT_TRANSLATION_PARAMS,
    TRANSLATION_PARAMETER_CONSTRAINTS,
    TRANSLATION_PARAMETER_DOCS,
    TranslationParams,
    check_step_size,
)
from .engine.planning import plan_translations
from .engine.sharding import (
    broadcast_seed,
    check_same_data,
    check_same_plan,
    distributed_world,
    generate_sharded,
)
from .engine.translation import resolve_clip
from .exceptions import FallbackCopiesWarning, NoProcessGroupWarning, RestoredOnCPUWarning

__all__ = ["LOW_ACCEPTANCE_SHARE", "M2MOverSampler"]

_DEFAULTS = DEFAULT_TRANSLATION_PARAMS  # the translation parameters' defaults


@Substitution(**TRANSLATION_PARAMETER_DOCS)
class M2MOverSampler(BaseOverSampler):
    """Over-sample minority classes by translating majority samples (M2m, Algorithm 1).

    For every sample to add to a class ``k``, a source class ``k0`` is drawn among the
    strictly larger classes with ``Q(k0|k) ∝ 1 - beta^(N_k0 - N_k)`` (Eq. 5), a source
    ``x0`` uniformly among the samples of ``k0``, and ``x0`` is moved by ``n_steps``
    normalised gradient steps of length ``step_size`` on
    ``CE(g(x), k) + lam * f_k0(x)`` (Eq. 2) until ``g`` sees class ``k``. The result is
    labelled ``k`` and **accepted** iff ``g``'s probability of ``k`` is at least ``gamma``
    and a Bernoulli draw of probability ``1 - beta^(N_k0 - N_k)`` succeeds (Eq. 3); a
    rejected sample is replaced by a random real sample of class ``k``. The original
    samples are kept; translations are added, so the class counts are exactly those
    ``sampling_strategy`` asks for.

    Read more in the README, section "M2MOverSampler".

    Parameters
    ----------
    g : torch.nn.Module, skorch NeuralNetClassifier, scikit-learn classifier or None, \
default=None
        The pre-trained classifier that drives the translation (the paper's ``g``,
        trained by plain ERM on the imbalanced data). Accepted:

        - a :class:`torch.nn.Module` mapping ``(n, *input_shape)`` to ``(n, K)`` logits,
          one per class in sorted-label order;
        - a fitted skorch ``NeuralNetClassifier``;
        - a fitted scikit-learn ``LogisticRegression``, ``SGDClassifier(loss='log_loss')``
          or ``MLPClassifier`` (or a ``Pipeline`` of StandardScaler/MinMaxScaler/
          MaxAbsScaler steps ending in one), converted exactly to torch;
        - ``None``: the sampler fits its own ``g`` on ``(X, y)`` by ERM, a
          ``StandardScaler`` + ``MLPClassifier(hidden_layer_sizes=(100,), max_iter=300)``
          seeded from ``random_state`` (see :func:`m2m_sampler.engine.converters.default_g`),
          so the sampler is a drop-in replacement for SMOTE in any pipeline.

        The caller's object is never modified: a frozen copy is used.
    f : same kinds as ``g`` or None, default=None
        A snapshot of the target classifier for the ``lam * f_k0(x)`` term of Eq. (2),
        which keeps the translated sample away from what ``f`` sees as the source class.
        ``None`` skips the term (the paper's ``lambda = 0`` ablation, Table 4: 76.9 vs
        78.3 bACC on CIFAR-LT-10).
    sampling_strategy : float, str, dict or callable, default='auto'
        How many samples each class should have after resampling; see
        imbalanced-learn's documentation. ``'auto'`` balances every class with the
        largest one, as the paper does. The output is dense: when it would exceed
        :data:`m2m_sampler.engine.memory.OUTPUT_MEMORY_BUDGET` (1 GiB) a
        :class:`~m2m_sampler.engine.memory.MemoryBudgetWarning` gives its size before anything
        is trained or translated.
    {beta}
    {lam}
        Used only with ``f``.
    {gamma}
    {step_size}
        Put a ``StandardScaler`` before the sampler for tabular data.
    {n_steps}
    {noise}
    {clip}
    input_shape : tuple of int or None, default=None
        Shape of one sample as ``g`` and ``f`` expect it, e.g. ``(3, 32, 32)``; ``X``
        stays 2-D (rows of ``prod(input_shape)`` values, C order). None: vectors.
        Non-integer entries are an error.
    batch_size : int, default=512
        Number of sources translated together (memory is bounded by one batch). Larger is
        faster on a GPU. Also the unit of sharding (see ``device`` and ``distributed``); see
        ``random_state`` for what it changes in the output.
    device : str, torch.device or list of them, default='auto'
        Where translation runs; ``'auto'`` picks CUDA when present. A list, e.g.
        ``['cuda:0', 'cuda:1']``, shards the translation of the planned rows across
        these devices (whole chunks of ``batch_size`` sources each, one thread per CUDA
        device, see :mod:`m2m_sampler.engine.sharding`); the plan is drawn once and the output
        is the same as on one device (bit-identical on the CPU).
    distributed : 'auto' or bool, default='auto'
        Shard the translation across the ranks of a ``torch.distributed`` process group
        (a run started with ``torchrun`` or ``accelerate launch``): each process
        translates its shard on its ``device`` and every process returns the whole,
        gathered output, identical to a single-process run with the same int
        ``random_state`` (bit-identical on the CPU). Every rank must call
        ``fit_resample`` with the same ``X``, ``y`` (checked: a hash of their bytes) and
        ``random_state`` (checked);
        a call in one process only (e.g. on the main process) waits for the others
        forever: pass ``distributed=False`` there. ``'auto'``: when a process group is
        initialised; ``False``: every process translates everything on its own.
    {amp_dtype}
        The output has ``X``'s dtype either way.
    channels_last : bool, default=False
        Give ``g`` and ``f`` (copies of them) and their image batches the
        ``channels_last`` memory format: faster convolutions on GPUs, with
        ``amp_dtype``. Numerically the same models; ignored unless ``input_shape`` has
        3 dimensions (C, H, W).
    random_state : int, RandomState instance or None, default=None
        Controls source choice, random starts, rejection draws and the default ``g``. The
        same ``random_state`` with the same parameters, ``X``, device, torch version and
        number of threads gives the same output, bit for bit. On the CPU the random
        draws do not depend on ``batch_size`` either (the output then differs by float
        round-off at most, e.g. 3e-6 on 5-feature Gaussian blobs, which can flip a
        ``gamma`` test that is exactly at the threshold); on CUDA they do.
        The number of shards (``device`` list, ``distributed``) does not change it.
        On some CPUs (seen on an AVX-512 AMD EPYC) "the same number of threads" also
        means set the same way: a process started with ``OMP_NUM_THREADS=1`` (as
        ``torchrun`` does) and one that called ``torch.set_num_threads(1)`` later can
        differ by float round-off, which the translation steps amplify.
        ``None``: one draw from torch's global generator seeds every draw, so
        ``torch.manual_seed`` before ``fit_resample`` makes the output reproducible
        (numpy's global generator is not used).
    verbose : int, default=0
        0: silent; 1 or more: a progress bar (tqdm, on stderr) during translation, then
        a summary per class.

    Attributes
    ----------
    sampling_strategy_ : dict
        Class label -> number of samples to add.
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels (the order of ``g``'s logits).
    g_ : torch.nn.Module
        Frozen copy of the resolved ``g`` (logits), on ``device_``.
    g_estimator_ : object
        The estimator ``g`` came from: the fitted default pipeline when ``g=None``,
        otherwise the caller's ``g``.
    f_ : torch.nn.Module or None
        Frozen copy of the resolved ``f``.
    device_ : torch.device
        The device translation ran on (the first one of a ``device`` list; ``g_`` and
        ``f_`` live there).
    n_shards_ : int
        Shards the translation was split into (devices of this process times ranks).
    translation_params_ : TranslationParams
        The translation parameters the fit ran with
        (:class:`~m2m_sampler.engine.params.TranslationParams`), ``clip`` resolved to
        its box (or None).
    class_stats_ : dict
        Class label -> the acceptance record of the class (the same keys as
        :class:`~m2m_sampler.M2MClassifier`'s, see :mod:`m2m_sampler.engine.acceptance`):
        ``n_new`` (samples added), ``n_fallback`` (copies because the class has no larger
        class to translate from), ``n_rejected_beta`` (rejected by the Bernoulli draw of
        Eq. 3, not translated), ``n_translated``, ``n_rejected_gamma`` (translations
        below ``gamma``, replaced by copies) and ``n_accepted`` (translations kept).
        ``n_new = n_fallback + n_rejected_beta + n_translated`` and ``n_translated =
        n_rejected_gamma + n_accepted``; the accepted share is
        :func:`~m2m_sampler.engine.acceptance.accepted_share` ``(class_stats_.values())``.
    source_indices_ : ndarray of shape (n_new_samples,)
        For each added row (in output order, after the original rows), the row of ``X``
        it started from: the source ``x0`` of a translation, or the real sample copied in
        place of a rejected or fallback one.
    is_translated_ : ndarray of shape (n_new_samples,), bool
        True for the added rows that are accepted translations.
    accepted_pairs_ : ndarray of shape (n_classes, n_classes), int
        ``accepted_pairs_[i, j]``: accepted translations from source class
        ``classes_[i]`` to target class ``classes_[j]`` (what
        :func:`m2m_sampler.plotting.plot_acceptance_matrix` shows).
    translation_time_ : float
        Seconds spent translating (the engine only).
    n_features_in_ : int
        Number of features seen in ``fit_resample``.
    feature_names_in_ : ndarray of shape ``(n_features_in_,)``
        Defined only when ``X`` has string feature names.

    See Also
    --------
    m2m_sampler.M2MClassifier : the paper's online, batch-wise variant for skorch.
    imblearn.over_sampling.SMOTE : interpolation between minority neighbours.

    Notes
    -----
    **In front of a model unlike g** (``benchmarks/results/downstream/``; docs/benchmarks.md, "In
    front of other models"): with the defaults few translations pass the ``gamma`` test
    (0-7% of the added rows on four tabular sets), and the sampler ties
    ``RandomOverSampler`` before a logistic regression, gradient boosting or an MLP.
    Accepting most of them (``beta=0.9, step_size=0.5``: 80-97%) cost a logistic
    regression 0.06-0.09 balanced accuracy against random over-sampling where
    re-balancing mattered, and a ``g`` of its own kind (the fitted logistic regression)
    did not win it back; gradient boosting and the MLP were not hurt. Before a linear
    model, keep the accepted share (``is_translated_.mean()``) low or choose the setting
    on a validation split.

    References
    ----------
    J. Kim, J. Jeong and J. Shin. M2m: Imbalanced Classification via Major-to-minor
    Translation. CVPR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from m2m_sampler import M2MOverSampler
    >>> X, y = make_classification(n_samples=300, n_classes=3, n_informative=4,
    ...                            weights=[0.7, 0.2, 0.1], random_state=0)
    >>> sampler = M2MOverSampler(beta=0.9, step_size=0.5, random_state=0)
    >>> X_res, y_res = sampler.fit_resample(X, y)
    >>> np.bincount(y_res).tolist()
    [209, 209, 209]
    >>> bool(sampler.is_translated_.mean() > 0.5)  # most added rows are translations
    True
    """

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "g": "no_validation",
        "f": "no_validation",
        **TRANSLATION_PARAMETER_CONSTRAINTS,
        "input_shape": [None, tuple, list],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": [str, torch.device, list, tuple],
        "distributed": ["boolean", StrOptions({"auto"})],
        "channels_last": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        g=None,
        *,
        f=None,
        sampling_strategy="auto",
        beta=_DEFAULTS.beta,
        lam=_DEFAULTS.lam,
        gamma=_DEFAULTS.gamma,
        step_size=_DEFAULTS.step_size,
        n_steps=_DEFAULTS.n_steps,
        noise=_DEFAULTS.noise,
        clip=_DEFAULTS.clip,
        input_shape=None,
        batch_size=512,
        device="auto",
        distributed="auto",
        amp_dtype=_DEFAULTS.amp_dtype,
        channels_last=False,
        random_state=None,
        verbose=0,
    ):
        super().__init__(sampling_strategy=sampling_strategy)
        self.g = g
        self.f = f
        self.beta = beta
        self.lam = lam
        self.gamma = gamma
        self.step_size = step_size
        self.n_steps = n_steps
        self.noise = noise
        self.clip = clip
        self.input_shape = input_shape
        self.batch_size = batch_size
        self.device = device
        self.distributed = distributed
        self.amp_dtype = amp_dtype
        self.channels_last = channels_last
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_clone__(self):
        """Clone the hyper-parameters, but share ``g`` and ``f``.

        ``g`` and ``f`` are pre-trained models, not estimators to refit: scikit-learn's
        default ``clone`` would return them *unfitted* (scikit-learn and skorch models)
        and break ``GridSearchCV`` and ``cross_validate``. They are shared instead, which
        is safe because the sampler never modifies them (it works on frozen copies).
        """
        params = self.get_params(deep=False)
        shared = {"g": params.pop("g"), "f": params.pop("f")}
        cloned = {name: clone(value, safe=False) for name, value in params.items()}
        return type(self)(**shared, **cloned)

    # ------------------------------------------------------------------ validation
    def _check_X_y(self, X, y, accept_sparse=None):
        # Translations are real-valued: integer input is converted to float64, and sparse
        # input is refused (gradient steps make every value non-zero).
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        X, y = validate_data(
            self,
            X=X,
            y=y,
            reset=True,
            accept_sparse=False,
            dtype=[np.float64, np.float32, np.float16],
        )
        return X, y, binarize_y

    def _sample_shape(self, n_features: int) -> tuple[int, ...]:
        if self.input_shape is None:
            return (n_features,)
        if not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool)
            for s in self.input_shape
        ):
            raise ValueError(
                f"input_shape must be a tuple of positive ints; got {self.input_shape!r}."
            )
        shape = tuple(int(s) for s in self.input_shape)
        if any(s < 1 for s in shape) or math.prod(shape) != n_features:
            raise ValueError(
                f"input_shape={tuple(self.input_shape)} holds {math.prod(shape)} values per "
                f"sample but X has {n_features} features; X must hold one flattened sample "
                "per row (C order), e.g. X.reshape(len(X), -1)."
            )
        return shape

    def _resolve_model(self, est, name, X, y_idx, classes, shape, device, channels_last=False):
        """Frozen torch copy of ``g`` or ``f`` on ``device``, checked on a few rows of X.

        The probe holds up to :data:`PROBE_ROWS_PER_CLASS` rows of every class, in the
        model's floating dtype. With ``channels_last``, the copy and the probe batch are
        in that memory format, so a model that cannot take such batches fails here, with
        context. The outputs must be logits (not probabilities), one per class, and
        ``g``'s in sorted label order (:func:`~m2m_sampler.engine.checks.check_model_output`).
        """
        if est is None:
            return None, None
        module, checkable = as_torch_classifier(est, classes=classes, name=name)
        module = frozen_copy(module, device)
        rows = probe_rows(y_idx, len(classes))
        probe = X[rows]
        x = torch.as_tensor(np.array(probe, dtype=np.float32), device=device).reshape(-1, *shape)
        x = x.to(floating_dtype(module))
        if channels_last:  # the frozen copy, not the caller's model
            module = module.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        try:
            with torch.no_grad():
                out = module(x)
        except Exception as exc:  # re-raised with context
            hint = (
                " With channels_last=True the batches are not contiguous in NCHW order: the "
                "model must reshape (not view) them, or pass channels_last=False."
                if channels_last
                else ""
            )
            raise RuntimeError(
                f"{name} failed on a batch of {len(probe)} rows of X reshaped to "
                f"{tuple(x.shape)} on {device}: {type(exc).__name__}: {exc}. Check that "
                f"input_shape matches the input {name} expects and that {name} accepts "
                f"{x.dtype} tensors.{hint}"
            ) from exc
        check_model_output(out, classes, name, y_idx[rows])
        if checkable:
            self._check_probabilities(est, module, probe, x, name)
        return module, est

    @staticmethod
    def _check_probabilities(est, module, probe, x, name):
        """The converted module must reproduce the estimator's predict_proba."""
        modules = [getattr(est, "module_", None), getattr(est, "criterion_", None)]
        with eval_mode(*[m for m in modules if isinstance(m, nn.Module)]), torch.no_grad():
            if hasattr(est, "module_"):  # skorch: feed the shape the net was trained on
                expected = est.predict_proba(x.cpu().numpy())
            else:
                expected = est.predict_proba(probe)
            got = module(x).float().softmax(dim=1).cpu().numpy()
        err = float(np.max(np.abs(np.asarray(expected, dtype=np.float64) - got)))
        if not err <= 1e-3:
            raise ValueError(
                f"the torch module derived from {name} ({type(est).__name__}) does not "
                f"reproduce its predict_proba (max abs difference {err:.3g}); pass the torch "
                "module that returns logits directly."
            )

    # ------------------------------------------------------------------ resampling
    def _devices(self) -> list[torch.device]:
        """The resolved ``device`` parameter: one device, or the list of shard devices."""
        if isinstance(self.device, list | tuple):
            if not self.device:
                raise ValueError(
                    "device=[] gives no device to translate on; pass one device, e.g. "
                    "'cpu', or a list of devices such as ['cuda:0', 'cuda:1']."
                )
            return [resolve_device(d) for d in self.device]
        return [resolve_device(self.device)]

    def _fit_resample(self, X, y, **params):
        if params:
            raise TypeError(
                f"M2MOverSampler.fit_resample takes X and y only; got {sorted(params)}. "
                "Sample weights are not supported: drop sample_weight (in a Pipeline, pass "
                "it to the final estimator's step, e.g. clf__sample_weight=...)."
            )
        devices = self._devices()
        device = devices[0]
        world_size = distributed_world()[1]
        if isinstance(self.distributed, str):  # 'auto'
            distributed = world_size > 1
        else:
            distributed = bool(self.distributed)
        if distributed and world_size == 1:
            warnings.warn(
                "distributed=True but no torch.distributed process group is initialised: "
                "translating in this process only.",
                NoProcessGroupWarning,
                stacklevel=caller_stacklevel(),
            )
        random_state = self.random_state
        if random_state is None:
            # One draw from torch's global generator seeds everything (reproducible under
            # torch.manual_seed); distributed: rank 0's draw for every rank.
            random_state = int(torch.randint(2**31 - 1, (1,)).item())
            if distributed:
                random_state = broadcast_seed(random_state)
        rng = check_random_state(random_state)
        classes, y_idx = np.unique(y, return_inverse=True)
        if distributed:
            check_same_data(X, y_idx, classes)
        if len(classes) < 2:
            raise ValueError(
                f"y has a single class ({classes[0]!r}); M2m needs at least two classes."
            )
        shape = self._sample_shape(X.shape[1])
        params = TranslationParams.from_estimator(self, clip=resolve_clip(self.clip, X, shape))
        self.translation_params_ = params
        clip_outside = check_clip_box(params.clip, X, shape)
        check_step_size(self, X)
        # before g is trained or anything is translated: the output's size
        n_added = int(sum(self.sampling_strategy_.values()))
        check_resampled_size(len(y) + n_added, X.shape[1], X.dtype, n_new=n_added)

        g = self.g
        if g is None:
            g = fit_quietly(
                default_g(random_state=rng.randint(np.iinfo(np.int32).max)), X, y
            )
        self.classes_ = classes
        self.device_ = device
        channels_last = self.channels_last and len(shape) == 3
        self.g_, self.g_estimator_ = self._resolve_model(
            g, "g", X, y_idx, classes, shape, device, channels_last
        )
        self.f_, _ = self._resolve_model(
            self.f, "f", X, y_idx, classes, shape, device, channels_last
        )

        # Algorithm 1, lines 2-6: targets, source classes and sources for every new sample.
        n_new = {
            int(np.searchsorted(classes, label)): int(n)
            for label, n in self.sampling_strategy_.items()
        }
        plan = plan_translations(y_idx, n_new, params.beta, rng)  # + line 12's Bernoulli draw
        n_total = len(plan.target)
        # Line 14's replacement, one random real sample of class k per new row.
        members = [np.flatnonzero(y_idx == c) for c in range(len(classes))]
        replacement = np.empty(n_total, dtype=np.int64)
        for c in np.unique(plan.target):
            sel = plan.target == c
            replacement[sel] = rng.choice(members[c], size=int(sel.sum()))
        torch_seed = int(rng.randint(np.iinfo(np.int32).max))
        if distributed:
            check_same_plan(plan, torch_seed, len(X))
        self.n_shards_ = len(devices) * (world_size if distributed else 1)

        # Lines 7-11 and the gamma test of line 13: the engine call, in chunks (sharded
        # over the devices and ranks, the same output as one device).
        bar = _ProgressBar(int(np.sum(plan.survived_beta))) if self.verbose else None
        try:
            generation = generate_sharded(
                self.g_, plan, X, params, f=self.f_, sample_shape=shape,
                channels_last=channels_last, chunk_size=self.batch_size, devices=devices,
                seed=torch_seed, distributed=distributed, callback=bar,
            )
        finally:
            if bar is not None:
                bar.close()
        accepted = generation.accepted
        new_rows = X[replacement].copy()
        new_rows[plan.fallback] = X[plan.source_index[plan.fallback]]
        new_rows[accepted] = (
            generation.accepted_x.reshape(-1, X.shape[1]).numpy().astype(X.dtype, copy=False)
        )
        self.translation_time_ = generation.seconds

        self.source_indices_ = np.where(
            accepted | plan.fallback, plan.source_index, replacement
        ).astype(np.int64)
        self.is_translated_ = accepted
        self.accepted_pairs_ = accepted_pairs(
            y_idx[plan.source_index[accepted]], plan.target[accepted], len(classes)
        )
        self.class_stats_ = plan_class_stats(
            classes, plan.target, plan.fallback, plan.survived_beta, accepted
        )
        self._report(clip_outside)

        X_resampled = np.vstack([X, new_rows]) if n_total else X.copy()
        y_resampled = np.hstack([y, classes[plan.target]]) if n_total else y.copy()
        return X_resampled, y_resampled

    def _report(self, clip_outside: float = 0.0) -> None:
        fallback = {c: s["n_fallback"] for c, s in self.class_stats_.items() if s["n_fallback"]}
        if fallback:
            warnings.warn(
                "no strictly larger class to translate from for class(es) "
                f"{list(fallback)}; added {sum(fallback.values())} copies of real samples "
                "instead (see class_stats_['n_fallback']). With 'auto' this cannot happen; "
                "it does when sampling_strategy asks to grow the largest class, or beta=1.",
                FallbackCopiesWarning,
                stacklevel=caller_stacklevel(),
            )
        warn_low_acceptance(self.class_stats_, clip_outside=clip_outside)
        if self.verbose >= 1:
            n_acc = int(self.is_translated_.sum())
            print(
                f"[M2MOverSampler] added {len(self.is_translated_)} samples, {n_acc} accepted "
                f"translations in {self.translation_time_:.2f}s on {self.device_}",
                file=sys.stderr,
            )
            for c, s in self.class_stats_.items():
                print(f"  class {c!r}: {s}", file=sys.stderr)

    def __getstate__(self):
        # Pickled through torch-aware bytes, so that a sampler fitted on CUDA (its g_,
        # f_, a CUDA g given as parameter) loads on a machine without that GPU.
        return {PORTABLE_STATE: dumps_portable(super().__getstate__())}

    def __setstate__(self, state):
        if PORTABLE_STATE in state:
            state = loads_portable(state[PORTABLE_STATE])
        device = state.get("device_")
        if isinstance(device, torch.device) and not device_is_available(device):
            warnings.warn(
                f"this M2MOverSampler was fitted on {device}, which is not available here; "
                "its torch attributes (g_, f_) were loaded on the CPU and device_ is now "
                "'cpu'.",
                RestoredOnCPUWarning,
                stacklevel=2,
            )
            state = {**state, "device_": torch.device("cpu")}
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        tags.non_deterministic = False
        return tags


class _ProgressBar:
    """A tqdm bar over the sources translated, fed by the engine's ``callback``."""

    def __init__(self, total: int) -> None:
        self.bar = tqdm(
            total=total, desc="[M2MOverSampler] translating", unit="source", file=sys.stderr
        )

    def __call__(self, done: int, total: int) -> None:
        if self.bar.total != total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        self.bar.close()
