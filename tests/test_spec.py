"""Spec validation, the block-size rule and per-matrix constants."""

import math
import pickle

import numpy as np
import pytest

from lazyconn.spec import MAX_SIDE, Normal, Scalar, Spec, Uniform, block_size


@pytest.mark.parametrize(
    "prob, expected",
    [
        (1.0, 256),
        (0.5, 256),
        (0.125, 256),  # 256 * 0.125 = 32 exactly
        (0.12499999999999999, 512),
        (0.01, 4096),
        (32 / 4096, 4096),
        (np.nextafter(32 / 4096, 0), 8192),
        (1e-4, 2**19),
        (1e-6, 2**22),
        (0.0, 2**22),
    ],
)
def test_block_size_rule(prob, expected):
    assert block_size(prob) == expected


def _spec(**overrides):
    base = dict(shape=(10, 12), orientation="R", prob=0.1, law=Scalar(1.0), seed=0, dtype=np.float32)
    base.update(overrides)
    return Spec(**base)


def test_kernel_params_constants():
    params = _spec(seed=2**64 - 1).kernel_params()
    assert (params.key0, params.key1) == (2**32 - 1, 2**32 - 1)
    assert params.block_log2 == 9  # 32 / 0.1 = 320 -> 512
    assert params.inv_log_q == pytest.approx(1 / math.log1p(-0.1), rel=1e-15)
    assert _spec(prob=1.0).kernel_params().inv_log_q == 0.0
    assert _spec(prob=0.0).kernel_params().inv_log_q == -math.inf
    assert _spec(seed=(7 << 32) | 9).kernel_params()[:2] == (9, 7)


def test_uniform_width_rounded_once():
    assert Uniform(-1.5, 2.0).kernel_params() == (-1.5, 3.5)


@pytest.mark.parametrize(
    "overrides, error, match",
    [
        (dict(prob=1.5), ValueError, "prob must be in"),
        (dict(prob=-0.1), ValueError, "prob must be in"),
        (dict(prob=float("nan")), ValueError, "prob must be in"),
        (dict(prob="0.1"), TypeError, "prob must be a real number"),
        (dict(shape=(-1, 5)), ValueError, "num_pre must be >= 0"),
        (dict(shape=(5, 2.5)), TypeError, "num_post must be an integer"),
        (dict(shape=(MAX_SIDE + 1, 5)), ValueError, "num_pre must be <= 2\\*\\*31 - 1"),
        (dict(seed=-1), ValueError, "seed must be in"),
        (dict(seed=2**64), ValueError, "seed must be in"),
        (dict(seed=1.5), TypeError, "seed must be an integer"),
        (dict(dtype=np.int32), TypeError, "dtype must be float32 or float64"),
        (dict(dtype=np.complex64), TypeError, "dtype must be float32 or float64"),
        (dict(orientation="X"), ValueError, "orientation must be"),
        (dict(include_self=False), ValueError, "include_self=False needs a square matrix"),
    ],
)
def test_bad_arguments_are_named(overrides, error, match):
    with pytest.raises(error, match=match):
        _spec(**overrides)


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: Scalar(float("inf")), ValueError, "weight must be finite"),
        (lambda: Scalar(None), TypeError, "weight must be a real number"),
        (lambda: Normal(0.0, -1.0), ValueError, "scale must be >= 0"),
        (lambda: Normal(float("nan"), 1.0), ValueError, "loc must be finite"),
        (lambda: Uniform(2.0, 1.0), ValueError, "low must be <= high"),
        (lambda: Uniform(-1e308, 1e308), ValueError, "high - low overflows"),
    ],
)
def test_bad_law_parameters_are_named(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_spec_is_frozen_hashable_and_picklable():
    spec = _spec(law=Normal(0.5, 2.0), seed=2**63 + 5)
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert hash(spec) == hash(_spec(law=Normal(0.5, 2.0), seed=2**63 + 5))
    with pytest.raises(AttributeError):
        spec.seed = 1


def test_transposed_spec_round_trips():
    spec = _spec(shape=(3, 7), orientation="C")
    assert spec.transposed.shape == (7, 3) and spec.transposed.orientation == "R"
    assert spec.transposed.transposed == spec
    assert spec.major_size == 7 and spec.minor_size == 3
