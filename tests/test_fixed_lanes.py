"""The fixed-number walk on many lines at once (kernels/_cpu_fixed_lanes.py) keeps every bit.

The lanes walk must give exactly the entries of docs/spec.md F4 (the NumPy
reference's walk), for whole lines and up to a window's end, in groups that
are full or not, through every rare path (the exact test, ``n == 1``,
``n == N_r``, dense steps); and the gather that replays its batches must
give the same bits as the gather with the rule's batch walk.
"""

import dataclasses

import numpy as np
import pytest

import lazyconn
from lazyconn import _rule_fixed, laws, rules
from lazyconn.kernels import _cpu_fixed_lanes as lanes
from lazyconn.kernels import cpu
from lazyconn.kernels._cpu_kernels import kernels_for
from lazyconn.kernels._cpu_random import round_key_arrays

SEED = 2**64 - 7
KEY = (SEED & 0xFFFFFFFF, SEED >> 32)

#: (minor size N, K, include_self, first line, lines, window end)
CASES = [
    (100_000, 1000, True, 0, 16, 100_000),  # a full group, sparse steps, the exact test now and then
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


@pytest.mark.parametrize("case", CASES, ids=str)
def test_lanes_walk_gives_the_reference_entries(case):
    n, num_conn, include_self, line0, n_lines, end = case
    skip = not include_self
    n_eff = n - 1 if skip else n
    rk0, rk1 = round_key_arrays(*KEY)
    scratch = lanes.lanes_scratch(num_conn)
    entries, counts = scratch[0], scratch[1]
    lanes.lanes_walk(rk0, rk1, num_conn, n_eff, skip, line0, n_lines, end, *scratch)
    line_ids = np.arange(line0, line0 + n_lines)
    item, pos, _ = _rule_fixed.walk_lines(KEY, line_ids, n, num_conn, skip, np.full(n_lines, end))
    for lane in range(n_lines):
        expected = pos[item == lane]
        assert counts[lane] == expected.size
        assert np.array_equal(entries[lane, :counts[lane]], expected), lane


def _batch_walk_kernels(params):
    # The same (rule, law) without the lanes walk: the rule's batch walk.
    rule = dataclasses.replace(rules.by_code(params.rule), numba_lanes="")
    return kernels_for(rule, laws.by_code(params.law))


@pytest.mark.parametrize("law", [lazyconn.Scalar(0.5), lazyconn.Normal(0.0, 1.0)], ids=lambda law: type(law).__name__)
def test_gather_by_lanes_is_bit_equal_to_the_batch_walk(law, monkeypatch):
    # 37 lines (two full groups and a partial one) of 300 connections: the
    # Normal law's deferred weights are flushed in the middle of lines.
    spec = lazyconn.Spec((37, 4000), "R", None, law, SEED, np.float32, num_conn=300)
    params = spec.kernel_params()
    rng = np.random.default_rng(3)
    cases = [(0, 37, 0, 4000, rng.standard_normal((4000, 1))), (2, 35, 1000, 3000, rng.standard_normal((2000, 3)))]
    by_lanes = [cpu.gather(params, k0, k1, j0, j1, y, np.float32) for k0, k1, j0, j1, y in cases]
    monkeypatch.setattr(cpu, "_kernels", _batch_walk_kernels)
    for (k0, k1, j0, j1, y), got in zip(cases, by_lanes):
        expected = cpu.gather(params, k0, k1, j0, j1, y, np.float32)
        assert got.dtype == expected.dtype
        assert np.array_equal(got, expected)
