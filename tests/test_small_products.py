"""Small CPU products: the shortcuts that cut their fixed cost change no bit.

A tiny job runs the kernels compiled without ``parallel``, a small one the
parallel kernels on one thread, a large one on every thread; the driver
memoises the kernel-side record of a matrix, the result dtype and the host
backend's choice.  Each is checked here against the other path or the
dense matrix of the same window.
"""

import numpy as np
import pytest

import lazyconn

pytest.importorskip("numba")
from lazyconn.kernels import cpu  # noqa: E402

MATRICES = [
    lambda: lazyconn.JITCScalarR(300, 260, 0.05, 0.5, seed=11),
    lambda: lazyconn.JITCNormalC(300, 260, 0.05, 0.0, 1.0, seed=12),
    lambda: lazyconn.JITCUniformR(280, 280, 0.05, -1.0, 2.0, seed=13, include_self=False),
]


@pytest.mark.parametrize("make", MATRICES)
def test_serial_kernels_give_the_parallel_kernels_bits(make, monkeypatch):
    conn = make()
    rng = np.random.default_rng(0)
    y = rng.standard_normal(conn.shape[1]).astype(np.float32)
    x = rng.standard_normal(conn.shape[0]).astype(np.float32)
    xs = rng.standard_normal((3, conn.shape[0])).astype(np.float64)
    xs_right = rng.standard_normal((3, conn.shape[1])).astype(np.float64)
    runs = []
    for below in (1 << 40, 0):  # every job on the serial kernels, then none
        monkeypatch.setattr(cpu, "_SERIAL_KERNEL_BELOW", below)
        runs.append([conn @ y, x @ conn, xs @ conn, conn @ xs_right.T])
    dense = conn.todense().astype(np.float64)
    for serial, parallel, expected in zip(runs[0], runs[1], [dense @ y, x @ dense, xs @ dense, dense @ xs_right.T]):
        assert serial.dtype == parallel.dtype
        assert serial.tobytes() == parallel.tobytes()
        np.testing.assert_allclose(serial, expected, rtol=1e-4, atol=1e-4)


def test_tiny_products_take_the_serial_kernels(monkeypatch):
    conn = lazyconn.JITCScalarR(40, 40, 0.1, 0.5, seed=1)
    calls = []
    real = cpu._launch

    def spy(kernel, expected, *args, serial_kernel=None):
        calls.append(serial_kernel is not None and expected < cpu._SERIAL_KERNEL_BELOW)
        return real(kernel, expected, *args, serial_kernel=serial_kernel)

    y = np.ones(40, np.float32)
    dense = conn.todense()
    monkeypatch.setattr(cpu, "_launch", spy)
    np.testing.assert_allclose(conn @ y, dense @ y, rtol=1e-6)
    np.testing.assert_allclose(y @ conn, y @ dense, rtol=1e-6)
    assert calls == [True, True]


def test_memoised_record_tells_signed_zero_weights_apart():
    # 0.0 == -0.0, so these two KernelParams compare equal: a record memoised
    # by value would give the second the first one's weight.
    positive = lazyconn.JITCScalarR(50, 50, 0.2, 1.0, seed=4)._spec.kernel_params()._replace(a=0.0)
    negative = positive._replace(a=-0.0)
    assert positive == negative
    connections = lazyconn.JITCScalarR(50, 50, 0.2, 1.0, seed=4).count_nonzero()
    assert connections > 0
    for params, signed in ((positive, 0), (negative, connections), (positive, 0)):
        assert np.signbit(cpu.dense(params, 0, 50, 0, 50, np.float32)).sum() == signed


def test_memoised_record_follows_the_dtype():
    y = np.ones(64, np.float64)
    a32 = lazyconn.JITCScalarR(64, 64, 0.3, 0.1, seed=5)
    a64 = lazyconn.JITCScalarR(64, 64, 0.3, 0.1, seed=5, dtype=np.float64)
    for conn in (a32, a64, a32, a64):
        # float32 weights are 0.1 rounded to float32; float64 ones are not.
        np.testing.assert_allclose(conn @ y, conn.todense().astype(np.float64) @ y, rtol=1e-12)
    assert not np.allclose(a32 @ y, a64 @ y, rtol=1e-9, atol=0)


def test_backend_choice_follows_the_environment(monkeypatch):
    conn = lazyconn.JITCScalarR(30, 30, 0.2, 0.5, seed=6)
    y = np.ones(30, np.float32)
    seen = []
    for choice in ("cpu", "reference", "cpu"):
        monkeypatch.setenv("LAZYCONN_BACKEND", choice)
        real = lazyconn.products.matmul

        def spy(view, x, side, binary, kernels, xp, capabilities=frozenset(), real=real):
            seen.append(kernels.NAME if hasattr(kernels, "NAME") else kernels.__name__.rsplit(".", 1)[-1])
            return real(view, x, side, binary, kernels, xp, capabilities)

        monkeypatch.setattr(lazyconn.products, "matmul", spy)
        conn @ y
        monkeypatch.setattr(lazyconn.products, "matmul", real)
    assert seen[0] == seen[2] == "cpu" and seen[1] != "cpu"
    monkeypatch.setenv("LAZYCONN_BACKEND", "nonsense")
    with pytest.raises(ValueError, match="LAZYCONN_BACKEND"):
        conn @ y


def test_result_dtype_memo_keeps_the_checks():
    from lazyconn.products import result_dtype

    f32 = np.dtype(np.float32)
    for _ in range(2):  # the second call would come from the memo
        assert result_dtype(np.dtype(np.int16), f32, False) == np.dtype(np.float32)
        assert result_dtype(np.dtype(np.float64), f32, False) == np.dtype(np.float64)
        assert result_dtype(np.dtype(np.float64), f32, True) == f32
        with pytest.raises(TypeError, match="not supported"):
            result_dtype(np.dtype(object), f32, False)
        with pytest.raises(TypeError, match="not supported"):
            result_dtype(np.dtype(np.longdouble) if np.dtype(np.longdouble).itemsize > 8 else np.dtype("U3"), f32,
                         False)
