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
