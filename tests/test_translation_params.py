"""The translation parameters are declared once and checked the same way everywhere."""

import numbers

import pytest
import torch

from m2m_sampler import M2MOverSampler
from m2m_sampler._compat import InvalidParameterError
from m2m_sampler.engine.params import (
    TRANSLATION_PARAMETER_CONSTRAINTS,
    TRANSLATION_PARAMETER_DOCS,
    validate_translation_params,
)

NAMES = ("beta", "lam", "gamma", "step_size", "n_steps", "noise", "clip", "amp_dtype")


class _Holder:
    def __init__(self, **params):
        defaults = dict(beta=0.999, lam=0.5, gamma=0.9, step_size=0.1, n_steps=10,
                        noise=0.5, clip=None, amp_dtype=None)
        defaults.update(params)
        self.__dict__.update(defaults)


def test_one_spec_for_every_translation_parameter():
    assert tuple(TRANSLATION_PARAMETER_CONSTRAINTS) == NAMES
    assert tuple(TRANSLATION_PARAMETER_DOCS) == NAMES
    for name in NAMES:
        assert M2MOverSampler._parameter_constraints[name] is (
            TRANSLATION_PARAMETER_CONSTRAINTS[name]
        )
        # the shared numpydoc text is what the sampler's docstring shows
        assert TRANSLATION_PARAMETER_DOCS[name] in M2MOverSampler.__doc__
        assert TRANSLATION_PARAMETER_DOCS[name].startswith(f"{name} : ")


@pytest.mark.parametrize(
    ("name", "bad", "good"),
    [
        ("beta", 1.0001, 1.0), ("beta", -1e-9, 0.0), ("gamma", 1.5, 1.0), ("lam", -0.1, 0.0),
        ("step_size", 0.0, 1e-6), ("n_steps", 0, 1), ("n_steps", 2.0, 2), ("noise", -1.0, 0.0),
        ("clip", "0-1", "minmax"), ("amp_dtype", torch.float32, torch.bfloat16),
        ("amp_dtype", "bf16", torch.float16),
    ],
)
def test_bounds_are_the_documented_ones(name, bad, good):
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of _Holder"):
        validate_translation_params(_Holder(**{name: bad}))
    validate_translation_params(_Holder(**{name: good}))


def test_n_steps_must_be_a_positive_integer():
    (interval,) = TRANSLATION_PARAMETER_CONSTRAINTS["n_steps"]
    assert interval.type is numbers.Integral and interval.left == 1


def test_the_defaults_are_declared_once_and_both_front_ends_take_them():
    import dataclasses
    import inspect

    from m2m_sampler import M2MClassifier, translate
    from m2m_sampler.engine.params import DEFAULT_TRANSLATION_PARAMS, TranslationParams
    from m2m_sampler.longtail.models import MLP

    fields = {f.name: f.default for f in dataclasses.fields(TranslationParams)}
    assert tuple(fields) == NAMES
    assert fields == dict(beta=0.999, lam=0.5, gamma=0.9, step_size=0.1, n_steps=10,
                          noise=0.5, clip=None, amp_dtype=None)
    assert DEFAULT_TRANSLATION_PARAMS == TranslationParams()
    sampler = inspect.signature(M2MOverSampler).parameters
    classifier = inspect.signature(M2MClassifier).parameters
    for name, default in fields.items():
        assert sampler[name].default is default, name
        if name != "amp_dtype":  # a speed option of every net (SpeedMixin)
            assert classifier[name].default is default, name
        # the documented default is the declared one
        assert TRANSLATION_PARAMETER_DOCS[name].split("\n")[0].endswith(f"default={default}")
    # what the estimators hold before fit, as one value
    assert TranslationParams.from_estimator(M2MOverSampler()) == TranslationParams()
    assert TranslationParams.from_estimator(M2MClassifier(MLP)) == TranslationParams()
    translate_defaults = inspect.signature(translate).parameters
    for name in ("lam", "step_size", "n_steps", "noise", "clip", "amp_dtype"):
        assert translate_defaults[name].default is fields[name], name


def test_from_estimator_takes_the_resolved_values_and_of_refuses_unknown_names():
    from m2m_sampler.engine.params import TranslationParams

    est = M2MOverSampler(beta=0.9, clip="minmax", n_steps=3)
    params = TranslationParams.from_estimator(est, clip=(0.0, 1.0))
    assert (params.beta, params.clip, params.n_steps, params.gamma) == (0.9, (0.0, 1.0), 3, 0.9)
    assert TranslationParams.of(params) is params
    assert TranslationParams.of(params, gamma=0.5) == TranslationParams(
        beta=0.9, clip=(0.0, 1.0), n_steps=3, gamma=0.5)
    assert TranslationParams.of(None) == TranslationParams()
    with pytest.raises(TypeError, match=r"\['gama'\]"):
        TranslationParams.of(None, gama=0.5)
    with pytest.raises(TypeError, match="from_estimator"):
        TranslationParams.from_estimator(est, batch_size=3)
    with pytest.raises(AttributeError):  # frozen
        params.beta = 0.5


def test_the_fits_record_the_value_they_ran_with():
    import numpy as np

    from m2m_sampler.engine.params import TranslationParams

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (40, 3)), rng.normal(3, 1, (10, 3))])
    y = np.array([0] * 40 + [1] * 10)
    sampler = M2MOverSampler(beta=0.9, step_size=0.5, clip=(-5, 5), random_state=0)
    sampler.fit_resample(X, y)
    assert sampler.translation_params_ == TranslationParams(
        beta=0.9, step_size=0.5, clip=(-5.0, 5.0))


def test_the_engine_takes_the_value_or_keywords_that_replace_its_fields():
    import numpy as np
    from torch import nn

    from m2m_sampler.engine.generation import generate
    from m2m_sampler.engine.params import TranslationParams
    from m2m_sampler.engine.planning import plan_translations

    torch.manual_seed(0)
    g = nn.Linear(4, 3)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 4)).astype(np.float32)
    y = np.repeat([0, 1, 2], [20, 6, 4])
    plan = plan_translations(y, {1: 14, 2: 16}, 0.9, np.random.RandomState(1))
    params = TranslationParams(gamma=0.4, step_size=0.3, n_steps=3, clip=(-2.0, 2.0))

    def run(*args, **kwargs):
        return generate(g, plan, X, *args, generator=torch.Generator().manual_seed(5),
                        **kwargs)

    a = run(params)
    b = run(gamma=0.4, step_size=0.3, n_steps=3, clip=(-2.0, 2.0))
    c = run(TranslationParams(step_size=0.3, n_steps=3), gamma=0.4, clip=(-2.0, 2.0))
    for other in (b, c):
        assert torch.equal(a.x_star, other.x_star)
        np.testing.assert_array_equal(a.accepted, other.accepted)
    assert a.x_star.abs().max() <= 2.0 and 0 < a.n_accepted < a.n_translated
    with pytest.raises(TypeError, match="gama"):
        run(params, gama=0.4)
