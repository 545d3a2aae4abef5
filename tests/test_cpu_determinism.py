"""Numba products: the same bits on any thread count and any work split.

Every product of the CPU backend is computed in a fresh process with
``NUMBA_NUM_THREADS`` = 1, 2 and 3 (Numba allows more threads than cores) and
must be byte-equal across them: the work split, and so the order in which an
output entry's terms are added, must not depend on the threads.  The same
holds for the size of the parts launched one after another (so that Ctrl-C
is seen between them): a tiny part size gives the same bits.
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lazyconn

cpu = pytest.importorskip("lazyconn.kernels.cpu")

#: (rows, cols, p): above _SERIAL_BELOW expected connections with few blocks
#: (private scatter groups), with many blocks, and a small serial one.
SHAPES = [(3000, 5000, 0.05), (600, 20000, 0.1), (40, 70, 0.2)]


def _matrices(shape):
    m, n, p = shape
    for orientation in "RC":
        yield f"Scalar{orientation}", getattr(lazyconn, f"JITCScalar{orientation}")(m, n, p, 0.75, seed=11)
        yield f"Normal{orientation}", getattr(lazyconn, f"JITCNormal{orientation}")(m, n, p, 0.1, 1.3, seed=12)
        yield f"Uniform{orientation}", getattr(lazyconn, f"JITCUniform{orientation}")(m, n, p, -0.5, 1.5, seed=13)


def _operands(size, rng):
    x = rng.standard_normal(size)
    spikes = np.where(rng.random(size) < 0.1, x, 0.0)
    yield "f32", x.astype(np.float32)
    yield "f64", x
    yield "spikes", spikes.astype(np.float32)
    yield "2d-f32", rng.standard_normal((size, 3)).astype(np.float32)
    yield "2d-f64", rng.standard_normal((size, 2))
    yield "events", lazyconn.BinaryArray(rng.random(size) < 0.2)


def digests(shapes=SHAPES, windows=True):
    """sha256 of every product (and degree count) of the cases, by name."""
    out = {}
    rng = np.random.default_rng(5)
    for shape in shapes:
        for name, conn in _matrices(shape):
            views = [("full", conn)]
            if windows:
                views.append(("window", conn[7:-3, 13:-5]))
            for view_name, view in views:
                m, n = view.shape
                key = f"{shape}/{name}/{view_name}"
                for op_name, x in _operands(n, rng):
                    result = view @ x
                    out[f"{key}/M@{op_name}"] = hashlib.sha256(np.ascontiguousarray(result).tobytes()).hexdigest()
                for op_name, x in _operands(m, rng):
                    if isinstance(x, lazyconn.BinaryArray) or x.ndim == 1:
                        result = x @ view
                    else:
                        result = x.T @ view
                    out[f"{key}/{op_name}@M"] = hashlib.sha256(np.ascontiguousarray(result).tobytes()).hexdigest()
                counts = (view.count_nonzero(axis=0), view.count_nonzero(axis=1))
                out[f"{key}/degrees"] = hashlib.sha256(b"".join(c.tobytes() for c in counts)).hexdigest()
    return out


_CHILD = """
import json, sys
sys.path.insert(0, {tests!r})
from test_cpu_determinism import digests
print(json.dumps(digests()))
"""


def _digests_with_threads(threads):
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), LAZYCONN_BACKEND="cpu")
    code = _CHILD.format(tests=str(Path(__file__).resolve().parent))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])


def test_products_have_the_same_bits_on_1_2_and_3_threads():
    results = {threads: _digests_with_threads(threads) for threads in (1, 2, 3)}
    one = results[1]
    assert len(one) == len(SHAPES) * 6 * 2 * (2 * 6 + 1)
    for threads in (2, 3):
        differ = sorted(key for key in one if results[threads][key] != one[key])
        assert not differ, f"{len(differ)} results differ between 1 and {threads} threads, e.g. {differ[:5]}"


def test_scatter_groups_do_not_depend_on_the_thread_count(monkeypatch):
    # The summation order of a scatter is fixed by its groups.
    import numba

    def groups():
        return cpu._scatter_groups(3000, 5, 5000, 4, 750_000.0)

    before = groups()
    monkeypatch.setattr(numba, "get_num_threads", lambda: 64)
    assert groups() == before > 1


@pytest.mark.parametrize("part_work", [64, 5000])
def test_tiny_parts_give_the_same_bits(monkeypatch, part_work):
    monkeypatch.setenv("LAZYCONN_BACKEND", "cpu")
    shapes = [(3000, 5000, 0.05), (40, 70, 0.2)]
    default = digests(shapes, windows=part_work != 64)
    monkeypatch.setattr(cpu, "_PART_WORK", part_work)
    tiny = digests(shapes, windows=part_work != 64)
    differ = sorted(key for key in default if tiny[key] != default[key])
    assert not differ, f"{len(differ)} results differ with parts of {part_work}, e.g. {differ[:5]}"


def test_degrees_with_fewer_private_rows_than_threads(monkeypatch):
    # A wide window leaves room for fewer per-minor rows than threads: then
    # chunks, not threads, own the rows (at most one chunk per row).
    from lazyconn.kernels import reference
    from lazyconn.products import line_space

    conn = lazyconn.JITCNormalR(3000, 5000, 0.05, 0.0, 1.0, seed=3)
    params, (k0, k1), (j0, j1) = line_space(conn)
    monkeypatch.setattr(cpu, "_PRIVATE_BYTES", 1)  # one row
    monkeypatch.setattr(cpu, "_PART_WORK", 100_000)
    ours = cpu.degrees(params, k0, k1, j0, j1, np.float32, scale=1e-44)
    expected = reference.degrees(params, k0, k1, j0, j1, np.float32, scale=1e-44)
    for a, b in zip(ours, expected):
        np.testing.assert_array_equal(a, b)
