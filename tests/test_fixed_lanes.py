"""The fixed-number walk on many lines at once (kernels/_cpu_fixed_lanes.py) keeps every bit.

The lanes walk must give exactly the entries of docs/spec.md F4 (the NumPy
reference's walk), for whole lines and up to a window's end, in groups that
are full or not, through every rare path (the exact test, ``n == 1``,
``n == N_r``, dense steps); and the batches that the product kernels
replay from it must be the rule's batch walk's.
"""

import numpy as np
import pytest

from lazyconn import _rule_fixed
from lazyconn.kernels import _cpu_fixed_lanes as lanes
from lazyconn.kernels._cpu_fixed import fixed_walk
from lazyconn.kernels._cpu_random import round_key_arrays

SEED = 2**64 - 7
KEY = (SEED & 0xFFFFFFFF, SEED >> 32)

#: (minor size N, K, include_self, first line, lines, window end)
CASES = [
    (100_000, 1000, True, 0, 32, 100_000),  # a full group, sparse steps, the exact test now and then
    (100_000, 1000, False, 3, 16, 100_000),  # without the diagonal
    (5000, 300, False, 4990, 10, 2500),  # a partial group, a window's end, the diagonal inside or not
    (1000, 800, True, 0, 5, 1000),  # dense steps (ln1p, scalar) and n == N_r
    (300, 299, False, 0, 16, 300),  # every candidate: n == N_r from the start
    (300, 300, True, 7, 3, 150),
    (5000, 1, True, 0, 16, 5000),  # n == 1 at once
    (5000, 2, False, 100, 16, 5000),
    (10, 0, True, 0, 4, 10),  # empty lines
    (1, 1, True, 0, 2, 1),
]


def _lanes_walked(case):
    """``(rk0, rk1, skip, n_eff, entries, counts)`` after ``lanes_walk`` of the case's lines."""
    n, num_conn, include_self, line0, n_lines, end = case
    skip = not include_self
    n_eff = n - 1 if skip else n
    rk0, rk1 = round_key_arrays(*KEY)
    scratch = lanes.lanes_scratch(num_conn)
    scratch[-1][:n_lines] = np.arange(line0, line0 + n_lines)
    lanes.lanes_walk(rk0, rk1, num_conn, n_eff, skip, n_lines, end, *scratch)
    return rk0, rk1, skip, n_eff, scratch[0], scratch[1]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_lanes_walk_gives_the_reference_entries(case):
    n, num_conn, _, line0, n_lines, end = case
    _, _, skip, _, entries, counts = _lanes_walked(case)
    line_ids = np.arange(line0, line0 + n_lines)
    item, pos, _ = _rule_fixed.walk_lines(KEY, line_ids, n, num_conn, skip, np.full(n_lines, end))
    for lane in range(n_lines):
        expected = pos[item == lane]
        assert counts[lane] == expected.size
        assert np.array_equal(entries[lane, :counts[lane]], expected), lane


@pytest.mark.parametrize("deferred", [False, True])
@pytest.mark.parametrize("case", CASES[2:5] + CASES[6:8], ids=str)
def test_lanes_batches_are_the_batch_walks(case, deferred):
    # The kernels' loop sees the same batches from lanes_batch as from the
    # rule's batch walk (first batch, then 8 draws each), hence the same
    # weights, sums and deferral runs: the same bits.
    n, num_conn, _, line0, n_lines, end = case
    rk0, rk1, skip, n_eff, entries, counts = _lanes_walked(case)
    gaps, words = np.empty(256, dtype=np.int64), np.empty(256, dtype=np.uint64)
    uniforms, dus = np.empty(256), np.empty(256 + 7)
    positions = np.full(256 + 7, -1, dtype=np.int64)
    table = (np.empty(0, dtype=np.int32), np.empty(0, dtype=np.uint32))
    for lane in range(n_lines):
        line = line0 + lane
        t, n_draws, pos, aux, lanes_done = 0, 24, -1, 0, False
        while True:
            walked, pos, aux, done = fixed_walk(rk0, rk1, 0.0, *table, num_conn, n_eff, skip, line, 0, t, n_draws,
                                                pos, aux, end, gaps, words, 0)
            if lanes_done:  # the batch walk may find the end one (empty) batch later
                assert walked == 0 and done
                break
            got, _, _, lanes_done = lanes.lanes_batch(rk0, rk1, line, 0, t, n_draws, -1, 0, entries, counts, lane,
                                                      deferred, not deferred, words.view(np.int64), uniforms,
                                                      positions, dus, 7)
            assert got == walked
            copied = positions[7:7 + got] if deferred else words.view(np.int64)[:got]
            assert np.array_equal(copied, gaps[:walked])
            assert lanes_done or not done
            if done:
                break
            t, n_draws = t + n_draws, 8


def test_constant_weight_products_sum_each_line_in_order():
    # A constant weight with one column sums each line's entries straight
    # from the lanes' buffer: term by term, in the order of the batch walk.
    import lazyconn

    n_lines, n = 40, 2000
    spec = lazyconn.Spec((n_lines, n), "R", None, lazyconn.Scalar(0.5), SEED, np.float64, num_conn=60)
    conn = lazyconn.from_spec(spec)
    item, pos, _ = _rule_fixed.walk_lines(KEY, np.arange(n_lines), n, 60, False, np.full(n_lines, n))
    y = np.random.default_rng(5).standard_normal(n)
    expected = np.zeros(n_lines)
    for i in range(n_lines):
        acc = 0.0
        for p in pos[item == i]:
            if p >= 500:
                acc += y[p]
        expected[i] = acc * 0.5
    assert np.array_equal(conn[:, 500:] @ y[500:], expected)
    x = np.random.default_rng(6).standard_normal(n_lines)
    columns = np.zeros(n)
    for i in range(n_lines):
        for p in pos[item == i]:
            columns[p] += x[i] * 0.5
    assert np.array_equal(x @ conn, columns)
