"""The Numba backend against the NumPy reference: same bits, same products.

Windows and connection lists must be byte-equal to the reference for every
spec and window; products (sums in another order, accumulated in the result
dtype) must agree to float tolerance.  Shapes stay small so that the whole
file runs in seconds once the kernels are compiled.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from lazyconn.kernels import host_backend, reference
from lazyconn import laws
from lazyconn.random import ln, ndtri, philox4x32, round_keys, words_to_uniform
from lazyconn.spec import GAP_CLAMP, Normal, Scalar, Spec, Uniform

cpu = pytest.importorskip("lazyconn.kernels.cpu")
from lazyconn.kernels import _cpu_random, _cpu_specialise  # noqa: E402

EDGE_SEEDS = [0, 2**64 - 1]
LAWS = [Scalar(0.5), Normal(0.2, 1.5), Uniform(-1.0, 2.0)]


@pytest.fixture(autouse=True)
def _auto_backend(monkeypatch):
    """The duck-array tests here must reach the Numba backend."""
    monkeypatch.setenv("LAZYCONN_BACKEND", "cpu")


# ---------------------------------------------------------- random twins
def test_philox_twin_matches_the_known_answers():
    # Random123 kat_vectors, as in test_random.py.
    rk0, rk1 = _cpu_random.round_key_arrays(0xA4093822, 0x299F31D0)
    words = _cpu_random.philox4x32(
        np.uint64(0x243F6A88), np.uint64(0x85A308D3), np.uint64(0x13198A2E), np.uint64(0x03707344), rk0, rk1
    )
    assert tuple(int(w) for w in words) == (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)


@pytest.mark.parametrize("seed", EDGE_SEEDS + [12345])
@pytest.mark.parametrize("inv_log_q", [-99.49916247, -1.0 / 1e-6, -0.0, -2.4663034623764317])
def test_gap_batches_equal_the_numpy_formula(seed, inv_log_q):
    key = (seed & 0xFFFFFFFF, seed >> 32)
    rk0, rk1 = _cpu_random.round_key_arrays(key[0], key[1])
    gaps = np.empty(4 * 64, dtype=np.int64)
    for line, block, t0 in [(0, 0, 0), (7, 3, 5), (2**31 - 1, 2**20, 1000)]:
        _cpu_random.fill_gaps(rk0, rk1, line, block, t0, 64, inv_log_q, gaps, 0)
        draws = np.arange(t0, t0 + 64, dtype=np.uint64)
        words = np.stack(philox4x32((draws, block, line, 0), key), axis=-1).reshape(-1)
        x = ln(words_to_uniform(words)) * inv_log_q
        np.testing.assert_array_equal(gaps, np.floor(np.minimum(x, GAP_CLAMP)).astype(np.int64))


@pytest.mark.parametrize("law, a, b", [(laws.NORMAL, 0.3, 1.7), (laws.UNIFORM, -1.0, 3.0)], ids=["Normal", "Uniform"])
@pytest.mark.parametrize("round32", [False, True])
def test_weight_batches_equal_the_numpy_formula(law, a, b, round32):
    # The law's compiled batch function (its own, or a loop over its Numba
    # function) on the weight stream, against the law's NumPy function.
    weights_of = _cpu_specialise.law_weights(law, "test " + law.name)
    rk0, rk1 = _cpu_random.round_key_arrays(99, 1)
    n = 1000  # a few hundred tail lanes: the compressed tail pass runs vectorised
    uniforms, weights = np.empty(n + 3), np.empty(n + 3)
    scratch = [np.empty(n + 3, dtype=np.int64), np.empty(n + 3)]
    for n_slots in (1, 41, n):
        _cpu_random.fill_uniforms(rk0, rk1, 5, 2, 3, n_slots, uniforms, 0)
        weights_of(n_slots, a, b, round32, uniforms, weights, *scratch)
        draws = np.arange(3, 3 + (n_slots + 3) // 4, dtype=np.uint64)
        words = np.stack(philox4x32((draws, 2, 5, 1), (99, 1)), axis=-1).reshape(-1)[:n_slots]
        expected = law.reference(words_to_uniform(words), a, b)
        if round32:
            expected = expected.astype(np.float32).astype(np.float64)
        np.testing.assert_array_equal(weights[:n_slots], expected)


def test_philox_round_keys_follow_the_schedule_of_the_numpy_generator():
    rk0, rk1 = _cpu_random.round_key_arrays(2**32 - 1, 0x12345678)
    assert rk0.dtype == rk1.dtype == np.uint32
    assert rk0[0] == 2**32 - 1 and rk1[0] == 0x12345678
    assert (rk0[1], rk1[1]) == ((2**32 - 1 + 0x9E3779B9) % 2**32, (0x12345678 + 0xBB67AE85) % 2**32)
    assert (tuple(rk0), tuple(rk1)) == round_keys(2**32 - 1, 0x12345678)


@pytest.mark.parametrize("prob", [1e-3, 0.01, 0.3, 0.7, 0.99])
def test_gap_table_gives_the_exact_gap(prob):
    # Every threshold word and its neighbours, both ends of every bucket, and
    # random words: the table (with its ln fallback) must equal the formula.
    inv_log_q = Spec((1, 1), "R", prob, Scalar(1.0), 0, np.float64).kernel_params().inv_log_q
    base, threshold = _cpu_random.gap_table(inv_log_q)
    shift = 32 - _cpu_random.TABLE_BITS
    starts = np.arange(base.size, dtype=np.uint64) << np.uint64(shift)
    steps = threshold[threshold > 0].astype(np.uint64)
    words = np.concatenate([
        steps, steps - np.uint64(1), steps + np.uint64(1), starts, starts + np.uint64(2**shift - 1),
        np.random.default_rng(4).integers(0, 2**32, 20_000, dtype=np.uint64),
    ])
    expected = np.floor(np.minimum(ln(words_to_uniform(words)) * inv_log_q, GAP_CLAMP)).astype(np.int64)
    ours = np.array([_cpu_random.table_gap(w, inv_log_q, base, threshold) for w in words])
    np.testing.assert_array_equal(ours, expected)
    assert steps.size > 0 and (base >= 0).mean() > 0.9  # the table is really used


def test_ln_and_ndtri_twins_on_extreme_words():
    # The smallest and largest words and the AS241 branch edges.
    words = np.array([0, 1, 2, 322122546, 322122547, 3972844748, 3972844749, 2**31, 2**32 - 2, 2**32 - 1], np.uint64)
    u = words_to_uniform(words)
    ours_ln = np.array([_cpu_random.ln(float(v)) for v in u])
    ours_ndtri = np.array([_cpu_random.ndtri(float(v)) for v in u])
    np.testing.assert_array_equal(ours_ln, ln(u))
    np.testing.assert_array_equal(ours_ndtri, ndtri(u))


# ------------------------------------------------------ products: allclose
@pytest.mark.parametrize("law", LAWS, ids=lambda law: type(law).__name__)
@pytest.mark.parametrize("include_self", [True, False])
def test_products_without_a_gap_table(law, include_self):
    # p = 1e-4: no gap table (fill_gaps and ln), 65,536-entry blocks, and a
    # window that starts off a block edge; with include_self=False the
    # diagonal is dropped too.  Normal batches are walked straight into the
    # deferral buffers at a running offset, so this covers that path as well.
    spec = Spec((6000, 6000), "R", 1e-4, law, 5, np.float32, include_self=include_self)
    params = spec.kernel_params()
    assert cpu._gap_table(float(params.inv_log_q))[0].size == 0
    for n_cols in (1, 2):
        vectors = np.random.default_rng(0).normal(size=(6000 - 7, n_cols))
        np.testing.assert_allclose(
            cpu.gather(params, 3, 6000, 7, 6000, vectors, np.float32),
            reference.gather(params, 3, 6000, 7, 6000, vectors, np.float32),
            rtol=1e-10, atol=1e-9,
        )
        lines = np.arange(0, 6000, 2, dtype=np.int64)
        values = np.random.default_rng(1).normal(size=(lines.size, n_cols))
        np.testing.assert_allclose(
            cpu.scatter(params, lines, values, 7, 6000, np.float32),
            reference.scatter(params, lines, values, 7, 6000, np.float32),
            rtol=1e-10, atol=1e-9,
        )


_BOUNDS_SCRIPT = """
import numpy as np
from lazyconn.kernels import cpu, reference
from lazyconn.spec import Normal, Scalar, Spec, Uniform
for law in (Scalar(0.5), Normal(0.0, 1.0), Uniform(-1.0, 1.0)):
    for shape, include_self, window in (((60_000, 3000), True, (50_000, 50_004, 100, 3000)),
                                        ((3000, 3000), False, (2990, 3000, 7, 2500))):
        params = Spec(shape, "R", 0.05, law, 5, np.float64, include_self).kernel_params()
        k0, k1, j0, j1 = window
        lines = np.arange(k0, k1)
        assert cpu.dense(params, *window, np.float64).tobytes() == reference.dense(params, *window, np.float64).tobytes()
        for a, b in zip(cpu.coo(params, *window, np.float64), reference.coo(params, *window, np.float64)):
            assert a.tobytes() == b.tobytes()
        cpu.degrees(params, *window, np.float64)
        for n_cols in (1, 3):
            y = np.ones((j1 - j0, n_cols))
            assert np.allclose(cpu.gather(params, *window, y, np.float64), reference.gather(params, *window, y, np.float64))
            x = np.ones((k1 - k0, n_cols))
            assert np.allclose(cpu.scatter(params, lines, x, j0, j1, np.float64),
                               reference.scatter(params, lines, x, j0, j1, np.float64))
        assert np.allclose(cpu.scatter(params, lines, None, j0, j1, np.float64),
                           reference.scatter(params, lines, None, j0, j1, np.float64))
print("ok")
"""


@pytest.mark.slow
def test_kernels_stay_in_bounds(tmp_path):
    # Numba does not check indices by default, so an out-of-bounds read can
    # pass every other test; here every kernel runs with bounds checks on
    # (a fresh process, its own cache: about 20 s of compilation).
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path), LAZYCONN_BACKEND="cpu")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", _BOUNDS_SCRIPT], env=env, cwd=root, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


# -------------------------------------------------------- backend choice
def test_backend_choice_follows_the_environment(monkeypatch):
    monkeypatch.setenv("LAZYCONN_BACKEND", "reference")
    assert host_backend() is reference
    monkeypatch.setenv("LAZYCONN_BACKEND", "auto")
    assert host_backend() is cpu and cpu.NAME == "cpu"
    monkeypatch.delenv("LAZYCONN_BACKEND")
    assert host_backend() is cpu
    assert cpu.num_threads() >= 1


_CONCURRENT_LAUNCHES = """
import threading, numpy as np, lazyconn
conn = lazyconn.JITCScalarR(50_000, 50_000, 0.01, 1.0, seed=0)
x = np.ones(50_000, dtype=np.float32)
expected = conn @ x
results = []
def work():
    for _ in range(3):
        results.append(bool(np.allclose(conn @ x, expected)))
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(all(results), len(results))
"""


@pytest.mark.slow
def test_concurrent_launches_survive_the_workqueue_layer():
    # Dask's threaded scheduler launches kernels from several threads; the
    # workqueue layer aborts the process on that unless launches are serialised.
    env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue", LAZYCONN_BACKEND="cpu")
    out = subprocess.run([sys.executable, "-c", _CONCURRENT_LAUNCHES], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "12"]
