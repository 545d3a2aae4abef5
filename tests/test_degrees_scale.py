"""``degrees(..., scale)``: nonzero counts of a scaled block, on every CPU backend.

A scaled view's entry of weight ``w`` is ``dtype(float64(w) * scale)`` (as
``todense()`` computes it), so a scale can underflow some weights or all of
them to zero.  The counts must then equal ``np.count_nonzero`` of that dense
block, per line and per minor index, on the reference and the Numba backend.
"""

import numpy as np
import pytest

import lazyconn
from lazyconn.kernels import reference
from lazyconn.products import line_space

cpu = pytest.importorskip("lazyconn.kernels.cpu")

BACKENDS = [reference, cpu]
SCALES = [1.0, 0.5, -2.0, 1e-40, 1e-44, 1e-300, 5e-324, 1e300]


def _matrices(dtype):
    yield lazyconn.JITCScalarR(300, 500, 0.1, 0.5, seed=3, dtype=dtype)
    yield lazyconn.JITCNormalC(400, 300, 0.2, 0.0, 1.0, seed=4, dtype=dtype)
    yield lazyconn.JITCUniformR(350, 450, 0.15, -1.0, 2.0, seed=5, dtype=dtype)


def _expected(params, window, dtype, scale):
    block = reference.dense(params, *window, dtype)
    with np.errstate(over="ignore"):  # float32 times 1e300: inf, a nonzero
        scaled = (block.astype(np.float64) * scale).astype(dtype)
    return np.count_nonzero(scaled, axis=1), np.count_nonzero(scaled, axis=0)


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.NAME)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_degrees_count_the_scaled_entries(backend, dtype):
    dtype = np.dtype(dtype)
    for conn in _matrices(dtype):
        for view in (conn, conn[17:-9, 33:-21]):
            params, (k0, k1), (j0, j1) = line_space(view)
            for window in [(k0, k1, j0, j1), (k0 + 5, k1, j0 + 100, j1 - 7)]:
                for scale in SCALES:
                    per_line, per_minor = backend.degrees(params, *window, dtype, scale=scale)
                    want_line, want_minor = _expected(params, window, dtype, scale)
                    np.testing.assert_array_equal(per_line, want_line, err_msg=f"{conn!r} {window} {scale}")
                    np.testing.assert_array_equal(per_minor, want_minor, err_msg=f"{conn!r} {window} {scale}")


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.NAME)
@pytest.mark.parametrize(
    "dtype, scale, partial",
    [(np.float32, 1e-44, True), (np.float64, 5e-324, True), (np.float32, 1e-40, False),
     (np.float32, 1e-300, None), (np.float64, 1e-300, False)],
)
def test_a_scale_can_underflow_some_or_all_normal_weights(backend, dtype, scale, partial):
    # partial: True = some connections vanish, False = none, None = all of them.
    conn = lazyconn.JITCNormalR(600, 700, 0.3, 0.0, 1.0, seed=9, dtype=dtype)
    params, (k0, k1), (j0, j1) = line_space(conn)
    connections = int(backend.degrees(params, k0, k1, j0, j1, dtype)[0].sum())
    per_line, per_minor = backend.degrees(params, k0, k1, j0, j1, dtype, scale=scale)
    counted = int(per_line.sum())
    assert counted == int(per_minor.sum())
    assert counted == int(_expected(params, (k0, k1, j0, j1), np.dtype(dtype), scale)[0].sum())
    if partial is None:
        assert counted == 0 < connections
    elif partial:
        assert 0 < counted < connections
    else:
        assert counted == connections


def test_the_default_scale_counts_the_nonzero_weights():
    conn = lazyconn.JITCUniformR(200, 300, 0.2, -1.0, 2.0, seed=2)
    params, (k0, k1), (j0, j1) = line_space(conn)
    for backend in BACKENDS:
        per_line, per_minor = backend.degrees(params, k0, k1, j0, j1, np.float32)
        np.testing.assert_array_equal(per_line, conn.todense().astype(bool).sum(axis=1))
        np.testing.assert_array_equal(per_minor, conn.todense().astype(bool).sum(axis=0))
