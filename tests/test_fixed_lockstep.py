"""The CPU fixed-number walk with a partner line walked ahead (issue 14).

:func:`lazyconn.kernels._cpu_fixed.fixed_walk` advances the line the
kernel will ask for next alongside the one asked for, and serves its
entries later from the ``words`` scratch.  Whatever the partner, the order
of the lines, the batch sizes or the window, every batch must return the
positions and ``(walked, pos, aux, done)`` of the walk without a partner,
and the products must equal the reference's bit for bit.
"""

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from lazyconn.kernels import reference  # noqa: E402
from lazyconn.spec import Normal, Scalar, Spec  # noqa: E402

cpu = pytest.importorskip("lazyconn.kernels.cpu")
from lazyconn.kernels import _cpu_fixed  # noqa: E402

_EMPTY = np.empty(0, dtype=np.float64)


@numba.njit
def _walk_lines(gen, lines, partners, ends, draws, out, states):
    """Every batch of ``lines[i]`` from state ``states[i]`` = ``(t0, pos, aux)``
    (the line's start, or a batch boundary of another run) up to window end
    ``ends[i]``, with partner ``partners[i]``; batch sizes cycle through
    ``draws``.  Appends ``(i, t0, walked, pos, aux, done, positions...)`` to ``out``."""
    words = np.empty(_cpu_fixed.WORDS_SIZE, dtype=np.uint64)
    words[_cpu_fixed.WORDS_STATE] = 0
    positions = np.empty(4 * 64, dtype=np.int64)
    n = 0
    c = 0
    for i in range(lines.size):
        t, pos, aux = states[i, 0], states[i, 1], states[i, 2]
        while True:
            n_draws = draws[c % draws.size]
            c += 1
            walked, pos, aux, done = _cpu_fixed.fixed_walk(
                gen.rk0, gen.rk1, 0.0, _EMPTY, _EMPTY, gen.num_conn, gen.n_eff, gen.skip_diagonal, lines[i], 0, t,
                n_draws, pos, aux, ends[i], partners[i], positions, words, 0)
            out[n] = i
            out[n + 1] = t
            out[n + 2] = walked
            out[n + 3] = pos
            out[n + 4] = aux
            out[n + 5] = done
            for s in range(walked):
                out[n + 6 + s] = positions[s]
            n += 6 + walked
            if done:
                break
            t += n_draws
    return n


def _batches(gen, lines, partners, ends, draws, starts=None):
    """The batches as a list of tuples (walked positions included)."""
    n_lines = len(lines)
    states = np.zeros((n_lines, 3), dtype=np.int64)
    states[:, 1] = -1
    if starts is not None:
        states[:] = starts
    out = np.empty(1_000_000, dtype=np.int64)
    n = _walk_lines(gen, np.asarray(lines, dtype=np.int64), np.asarray(partners, dtype=np.int64),
                    np.asarray(ends, dtype=np.int64), np.asarray(draws, dtype=np.int64), out, states)
    result, at = [], 0
    while at < n:
        walked = int(out[at + 2])
        result.append(tuple(int(v) for v in out[at:at + 6 + walked]))
        at += 6 + walked
    return result


def _generator(shape, num_conn, include_self, seed):
    spec = Spec(shape, "R", None, Scalar(1.0), seed, np.float64, include_self, num_conn=num_conn)
    return cpu._generator(spec.kernel_params(), np.float64)


@pytest.mark.parametrize("shape, num_conn, include_self", [
    ((40, 3000), 1400, True),  # more entries than the partner's buffer holds in one line's walk
    ((3000, 3000), 700, False),
    ((60, 60), 59, False),  # every candidate chosen
    ((50, 9), 1, True),
    ((30, 5000), 2999, True),  # lines longer than the partner's buffer
])
def test_any_partner_gives_the_batches_of_the_walk_alone(shape, num_conn, include_self):
    rng = np.random.default_rng(num_conn)
    gen = _generator(shape, num_conn, include_self, seed=num_conn)
    n_lines = min(shape[0], 25)
    for trial in range(4):
        lines = rng.integers(0, n_lines, size=30)
        lines[5] = lines[4]  # a line asked twice in a row
        ends = np.where(rng.random(30) < 0.3, rng.integers(0, shape[1] + 1, size=30), shape[1])
        ends[7] = ends[8] = ends[9] = rng.integers(1, shape[1])  # a window shared by a run of lines
        draws = rng.choice([1, 2, 8, 16, 64], size=7)
        alone = _batches(gen, lines, -np.ones(30), ends, draws)
        # The next line (as the kernels pass it), random lines, the line itself, none.
        nexts = np.append(lines[1:], -1)
        assert _batches(gen, lines, nexts, ends, draws) == alone
        partners = np.where(rng.random(30) < 0.5, nexts, rng.integers(-1, n_lines, size=30))
        assert _batches(gen, lines, partners, ends, draws) == alone


def test_a_batch_started_from_a_given_state_ignores_stale_entries():
    # Windows restart a line mid-way (a state from another run): the entries
    # walked ahead from the line's start must not be served there, nor later.
    gen = _generator((20, 4000), 1500, True, seed=3)
    full = [f[1:] for f in _batches(gen, [2], [-1], [4000], [8])]
    for b in (1, 3):
        starts = np.array([[0, -1, 0], [full[b][0], full[b - 1][2], full[b - 1][3]], [0, -1, 0]])
        got = _batches(gen, [1, 2, 2], [2, 2, -1], [4000] * 3, [8], starts=starts)
        assert [g[1:] for g in got if g[0] == 1] == full[b:]
        assert [g[1:] for g in got if g[0] == 2] == full


@pytest.mark.parametrize("include_self, law", [(True, Scalar(1.0)), (False, Normal(0.0, 1.0))])
def test_products_of_lines_in_any_order_equal_the_reference(include_self, law):
    # Scatter visits `lines` in the caller's order (partners are its next
    # entries); gather and dense visit chunks of lines; windows start mid-line.
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
