"""The reference backend: the walk, the law, the identities, golden checksums."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import lazyconn
from golden import GOLDEN, checksum
from lazyconn.kernels import reference
from lazyconn.random import philox4x32
from lazyconn.spec import Normal, Scalar, Spec, Uniform
from lazyconn.testing import specs


def _dense(spec, window=None):
    params = spec.kernel_params()
    k1, j1 = spec.major_size, spec.minor_size
    k0, kk, j0, jj = window or (0, k1, 0, j1)
    return reference.dense(params, k0, kk, j0, jj, spec.dtype)


def _spec(shape=(20, 30), orientation="R", prob=0.2, law=Scalar(1.0), seed=0, dtype=np.float64, include_self=True):
    return Spec(shape, orientation, prob, law, seed, dtype, include_self)


def test_first_connections_follow_from_the_philox_known_answer():
    # Seed 0 is key (0, 0); line 0, block 0, draw 0 is counter (0, 0, 0, 0),
    # whose Random123 output is known.  Derive the first four gaps by hand.
    words = (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)
    prob = 0.5
    pos, expected = -1, []
    for w in words:
        pos += math.floor(math.log((w + 0.5) * 2.0**-32) / math.log1p(-prob)) + 1
        expected.append(pos)
    row = _dense(_spec(shape=(1, 64), prob=prob), (0, 1, 0, 64))[0]
    connected = list(np.flatnonzero(row))
    assert connected[:4] == expected == [1, 2, 3, 4]


def test_weights_use_the_weight_domain_stream():
    # Connection slot s of block 0 of line 0 takes word s % 4 of counter (s // 4, 0, 0, 1).
    spec = _spec(shape=(1, 256), prob=1.0, law=Uniform(0.0, 1.0), seed=99)
    row = _dense(spec, (0, 1, 0, 8))[0]
    words = np.concatenate([np.array(philox4x32((t, 0, 0, 1), (99, 0)), dtype=np.float64) for t in (0, 1)])
    np.testing.assert_array_equal(row, (words + 0.5) * 2.0**-32)


@pytest.mark.parametrize("cls, kwargs, expected", GOLDEN, ids=[g[0].__name__ for g in GOLDEN])
def test_golden_checksums(cls, kwargs, expected, monkeypatch):
    monkeypatch.setenv("LAZYCONN_BACKEND", "reference")
    assert checksum(cls(**kwargs).todense()) == expected


def test_golden_checksum_from_a_fresh_process():
    cls, kwargs, expected = GOLDEN[1]
    code = (
        "import sys, numpy as np; sys.path.insert(0, 'tests');"
        "from golden import GOLDEN, checksum;"
        "cls, kwargs, _ = GOLDEN[1]; print(checksum(cls(**kwargs).todense()))"
    )
    env = dict(os.environ, LAZYCONN_BACKEND="reference")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, env=env, check=True)
    assert out.stdout.strip() == expected


@given(specs(max_side=30))
def test_transpose_is_the_other_orientation(spec):
    np.testing.assert_array_equal(_dense(spec), _dense(spec.transposed))
    # Same generator, same lines: the C matrix's dense block is the R block transposed.
    m, n = spec.shape
    conn = lazyconn.from_spec(spec)
    np.testing.assert_array_equal(conn.T.todense(), conn.todense().T)


@given(specs(max_side=25), st.integers(0, 40), st.integers(0, 40))
def test_prefix_property(spec, extra_lines, extra_minor):
    big = Spec(
        (spec.shape[0] + extra_lines, spec.shape[1] + extra_minor) if spec.include_self else
        (spec.shape[0] + extra_lines, spec.shape[1] + extra_lines),
        spec.orientation, spec.prob, spec.law, spec.seed, spec.dtype, spec.include_self,
    )
    small = _dense(spec)
    k, j = small.shape
    np.testing.assert_array_equal(_dense(big)[:k, :j], small)


@given(specs(max_side=30), st.data())
def test_windows_equal_slices_of_the_full_block(spec, data):
    full = _dense(spec)
    k, j = full.shape
    k0 = data.draw(st.integers(0, k))
    k1 = data.draw(st.integers(k0, k))
    j0 = data.draw(st.integers(0, j))
    j1 = data.draw(st.integers(j0, j))
    np.testing.assert_array_equal(_dense(spec, (k0, k1, j0, j1)), full[k0:k1, j0:j1])


@given(specs(max_side=30))
def test_coo_lists_exactly_the_nonzeros_in_order(spec):
    full = _dense(spec)
    k, j, w = reference.coo(spec.kernel_params(), 0, full.shape[0], 0, full.shape[1], spec.dtype)
    assert np.all(np.diff(k * max(1, full.shape[1]) + j) > 0)  # sorted, no duplicates
    rebuilt = np.zeros_like(full)
    rebuilt[k, j] = w
    np.testing.assert_array_equal(rebuilt, full)


def test_connectivity_does_not_depend_on_the_law():
    masks = [
        _dense(_spec(shape=(60, 90), prob=0.15, law=law, seed=5)) != 0
        for law in (Scalar(1.0), Normal(0.0, 1.0), Uniform(1.0, 2.0))
    ]
    assert masks[0].sum() > 0
    np.testing.assert_array_equal(masks[0], masks[1])
    np.testing.assert_array_equal(masks[0], masks[2])


def test_long_lines_cross_many_blocks():
    # p = 0.05 gives B = 1024: 20 blocks per line, each its own stream.
    spec = _spec(shape=(4, 20_000), prob=0.05, seed=3)
    dense = _dense(spec)
    blocks = dense.reshape(4, -1, 1000).sum(axis=2)
    assert np.all(blocks > 0)
    assert abs(dense.sum() - 4 * 20_000 * 0.05) < 4 * math.sqrt(4 * 20_000 * 0.05)


def test_edge_probabilities():
    assert not _dense(_spec(prob=0.0)).any()
    assert _dense(_spec(prob=1.0)).all()
    no_self = _dense(_spec(shape=(25, 25), prob=1.0, include_self=False))
    np.testing.assert_array_equal(no_self != 0, ~np.eye(25, dtype=bool))
    with_self = _dense(_spec(shape=(25, 25), prob=0.4, seed=8))
    without = _dense(_spec(shape=(25, 25), prob=0.4, seed=8, include_self=False))
    np.testing.assert_array_equal(without, with_self * ~np.eye(25, dtype=bool))


@pytest.mark.parametrize("prob", [0.001, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 1.0])
def test_density_is_prob_within_four_sigma(prob):
    spec = _spec(shape=(400, 1500), prob=prob, seed=11)
    count = (_dense(spec) != 0).sum()
    expected = 400 * 1500 * prob
    sigma = math.sqrt(400 * 1500 * prob * (1 - prob))
    assert abs(count - expected) <= 4 * sigma + 1e-9


@pytest.mark.parametrize("prob", [0.05, 0.3, 0.7, 0.95])
def test_row_degrees_are_binomial(prob):
    rows, n = 3000, 400
    degrees = (_dense(_spec(shape=(rows, n), prob=prob, seed=21)) != 0).sum(axis=1)
    mean, var = n * prob, n * prob * (1 - prob)
    assert abs(degrees.mean() - mean) < 5 * math.sqrt(var / rows)
    # The sample variance has relative standard error ~ sqrt(2 / rows) = 2.6%.
    assert 0.87 < degrees.var(ddof=1) / var < 1.13


def test_weights_follow_their_laws():
    stats = pytest.importorskip("scipy.stats")
    normal = _dense(_spec(shape=(300, 300), prob=0.3, law=Normal(1.0, 2.0), seed=4))
    w = normal[normal != 0]
    assert stats.kstest(w, "norm", args=(1.0, 2.0)).pvalue > 1e-3
    uniform = _dense(_spec(shape=(300, 300), prob=0.3, law=Uniform(-1.0, 3.0), seed=4))
    w = uniform[uniform != 0]
    assert stats.kstest(w, "uniform", args=(-1.0, 4.0)).pvalue > 1e-3
    assert w.min() >= -1.0 and w.max() <= 3.0


def test_products_match_dense_in_line_space():
    spec = _spec(shape=(37, 53), prob=0.2, law=Normal(0.0, 1.0), seed=6)
    params, dense = spec.kernel_params(), _dense(spec)
    rng = np.random.default_rng(0)
    v = rng.normal(size=(53, 3))
    np.testing.assert_allclose(reference.gather(params, 0, 37, 0, 53, v, spec.dtype), dense @ v, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(reference.gather(params, 5, 20, 10, 40, v[10:40], spec.dtype), dense[5:20, 10:40] @ v[10:40], atol=1e-12)
    lines = np.array([1, 4, 30], dtype=np.int64)
    values = rng.normal(size=(3, 2))
    np.testing.assert_allclose(reference.scatter(params, lines, values, 0, 53, spec.dtype), dense[lines].T @ values, atol=1e-12)
    np.testing.assert_allclose(reference.scatter(params, lines, None, 7, 50, spec.dtype)[:, 0], dense[lines, 7:50].sum(0), atol=1e-12)
    per_line, per_minor = reference.degrees(params, 2, 30, 3, 45, spec.dtype)
    np.testing.assert_array_equal(per_line, (dense[2:30, 3:45] != 0).sum(1))
    np.testing.assert_array_equal(per_minor, (dense[2:30, 3:45] != 0).sum(0))
