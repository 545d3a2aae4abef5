"""CPU fixed-number products of lines in unusual orders against the reference (issue 14).

Scatter walks ``lines`` in the caller's order (repeats included), gather
and dense walk chunks of lines, windows start mid-line and may hold one
line: with integer operands every sum is exact, so one moved entry shows.
"""

import numpy as np
import pytest

from lazyconn.kernels import reference
from lazyconn.spec import Normal, Scalar, Spec

cpu = pytest.importorskip("lazyconn.kernels.cpu")


@pytest.mark.parametrize("include_self, law", [(True, Scalar(1.0)), (False, Normal(0.0, 1.0))])
def test_products_of_lines_in_any_order_equal_the_reference(include_self, law):
    n = 1500
    spec = Spec((n, n), "R", None, law, 11, np.float64, include_self, num_conn=600)
    params = spec.kernel_params()
    rng = np.random.default_rng(0)
    dense = reference.dense(params, 0, 40, 0, n, np.float64)
    for j0, j1 in [(0, n), (700, 1200), (1499, 1500)]:
        assert np.array_equal(cpu.dense(params, 0, 40, j0, j1, np.float64), dense[:, j0:j1])
        assert np.array_equal(cpu.dense(params, 17, 18, j0, j1, np.float64), dense[17:18, j0:j1])
        # Integer operands: every sum is exact, so a single moved entry shows.
        x = rng.integers(0, 1 << 20, size=(j1 - j0, 1)).astype(np.float64)
        expected = (dense[:, j0:j1] != 0).astype(np.float64) @ x if isinstance(law, Scalar) else dense[:, j0:j1] @ x
        ours = cpu.gather(params, 0, 40, j0, j1, x, np.float64)
        if isinstance(law, Scalar):
            assert np.array_equal(ours, expected)
        else:
            np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-6)
        lines = rng.permutation(np.r_[np.arange(40), [3, 3, 39, 0]]).astype(np.int64)
        values = rng.integers(0, 1 << 20, size=(lines.size, 1)).astype(np.float64)
        ours = cpu.scatter(params, lines, values, j0, j1, np.float64)
        expected = reference.scatter(params, lines, values, j0, j1, np.float64)
        if isinstance(law, Scalar):
            assert np.array_equal(ours, expected)
        else:
            np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-6)
