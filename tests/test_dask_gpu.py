"""lazyconn.dask with CuPy chunks: the chunk type follows ``meta``.

Runs only where Dask and CuPy import and CuPy sees a usable GPU.
"""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
from gpu_guard import cupy_or_skip  # noqa: E402

cp = cupy_or_skip()

import lazyconn  # noqa: E402
import lazyconn.dask  # noqa: E402
from lazyconn import BinaryArray  # noqa: E402

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("orientation", ["R", "C"])
def test_to_dask_with_cupy_meta_is_bit_identical(orientation):
    cls = lazyconn.JITCNormalR if orientation == "R" else lazyconn.JITCNormalC
    conn = cls(300, 500, prob=0.05, loc=0.5, scale=0.2, seed=3)[10:290, 7:480]
    blocks = lazyconn.dask.to_dask(conn, (64, 100), meta=cp.empty((0, 0)))
    assert isinstance(blocks._meta, cp.ndarray)
    computed = blocks.compute(scheduler="synchronous")
    assert isinstance(computed, cp.ndarray)
    assert cp.asnumpy(computed).tobytes() == conn.todense().tobytes()


@pytest.mark.parametrize("orientation", ["R", "C"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_products_with_cupy_chunks(orientation, side):
    cls = lazyconn.JITCScalarR if orientation == "R" else lazyconn.JITCScalarC
    conn = cls(600, 400, prob=0.05, weight=0.5, seed=4)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3) if side == "right" else (3, 600)).astype(np.float32)
    lazy_x = da.from_array(cp.asarray(x), chunks=(128, 2) if side == "right" else (2, 128), asarray=False)
    result = conn @ lazy_x if side == "right" else lazy_x @ conn
    assert isinstance(result._meta, cp.ndarray)
    computed = result.compute(scheduler="synchronous")
    assert isinstance(computed, cp.ndarray)
    expected = conn @ x if side == "right" else x @ conn
    np.testing.assert_allclose(cp.asnumpy(computed), expected, rtol=1e-5, atol=1e-4)


def test_binary_events_with_cupy_chunks():
    conn = lazyconn.JITCNormalR(800, 300, prob=0.05, loc=1.0, scale=0.1, seed=5)
    spikes = np.random.default_rng(1).random(800) < 0.1
    lazy = BinaryArray(da.from_array(cp.asarray(spikes), chunks=200, asarray=False))
    computed = (lazy @ conn).compute(scheduler="synchronous")
    np.testing.assert_allclose(cp.asnumpy(computed), BinaryArray(spikes) @ conn, rtol=1e-5, atol=1e-4)
