"""The fixed-number rule (spec v2 extension): exactly K distinct entries per line.

Checked on the NumPy reference (the CPU backend is checked against it in
tests/test_backends.py and at the end of this file): exact counts, the uniform law over K-subsets (chi-square and binomial
tests, fixed seeds, significance level ALPHA), edges, windows, transposes,
the weight slots, pinned test vectors and a golden checksum, the work per
line, and a transcription of docs/spec.md's algorithm written from the text.
"""

import math
import pickle
import re
from fractions import Fraction
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from golden import checksum
from scipy import stats

import lazyconn
from lazyconn import _rule_fixed, rules
from lazyconn.kernels import reference
from lazyconn.random import ln, philox4x32, words_to_uniform
from lazyconn.spec import Normal, Scalar, Spec, Uniform
from lazyconn.testing import assert_same_bits

#: Significance level of every statistical test here (their seeds are fixed,
#: so each passes or fails deterministically).
ALPHA = 1e-3


def _spec(shape=(30, 40), orientation="R", num_conn=5, law=Scalar(1.0), seed=0, dtype=np.float64,
          include_self=True):
    return Spec(shape, orientation, None, law, seed, dtype, include_self, num_conn=num_conn)


def _dense(spec, window=None):
    k0, k1, j0, j1 = window or (0, spec.major_size, 0, spec.minor_size)
    return reference.dense(spec.kernel_params(), k0, k1, j0, j1, spec.dtype)


def _lines(seed, n_minor, num_conn, n_lines, include_self=True, first_line=0):
    """Line-space positions: a list of sorted arrays, one per line."""
    key = (seed & 0xFFFFFFFF, seed >> 32)
    lines = np.arange(first_line, first_line + n_lines)
    item, pos, slot = _rule_fixed.walk_lines(key, lines, n_minor, num_conn, not include_self, n_minor)
    order = np.lexsort((slot, item))
    item, pos, slot = item[order], pos[order], slot[order]
    assert np.array_equal(slot, np.concatenate([np.arange(c) for c in np.bincount(item, minlength=n_lines)]))
    return np.split(pos, np.cumsum(np.bincount(item, minlength=n_lines))[:-1])


# ------------------------------------------------------------ the transcription
def _uniform(word):
    return (float(word) + 0.5) * 2.0**-32


def _ln(x):
    return float(ln(np.array([x]))[0])


def _spec_line(seed, n_minor, num_conn, k, include_self=True):
    """docs/spec.md, "Fixed-number rule", step by step, one line, scalar Python."""
    key = (seed & 0xFFFFFFFF, seed >> 32)
    big_n = n_minor if include_self else n_minor - 1
    n_r, n, base, tau, out = big_n, num_conn, 0, 0, []

    def trial_words():
        words = philox4x32((tau // 2, 0, k, 2), key)
        return int(words[2 * (tau % 2)]), int(words[2 * (tau % 2) + 1])

    while n > 0:
        if n == n_r:
            out.extend(range(base, base + n))
            break
        w1, w2 = trial_words()
        u1, u2 = _uniform(w1), _uniform(w2)
        tau += 1
        if n == 1:
            skip = (n_r * (w1 * 2**32 + w2)) >> 64  # Python integers: exact
        else:
            a, b = n_r - n, n_r - 1
            t = float(n - 1) / float(b)
            if t <= 0.25:
                lam = -t * (1.0 + 0.5 * t)
                delta_up = ((t * t) * t) / (3.0 * (1.0 - t))
                delta_lo = ((t * t) * t) / 3.0
            else:
                x = -t
                v = 1.0 + x
                lam, delta_up, delta_lo = _ln(v) * (x / (v - 1.0)), 0.0, 0.0
            skip = math.floor(min(_ln(u1) / lam, 2.0**31))
            if skip > a:
                continue
            h = float(skip) * float(skip - 1)
            num = float(n - 1) * h
            den_up = (2.0 * float(b)) * float(a - skip + 1)
            if not (1.0 - u2) * den_up - num >= (float(skip) * delta_up) * den_up:
                den_lo = (2.0 * float(a)) * float(b)
                if u2 * ((den_lo + num) + (float(skip) * delta_lo) * den_lo) > den_lo:
                    continue
                y = 1.0
                if skip <= n - 1:
                    pairs = [(a - i, b - i) for i in range(skip)]
                else:
                    pairs = [(n_r - skip - 1 - i, n_r - 1 - i) for i in range(n - 1)]
                for top, bottom in pairs:
                    y = y * (float(top) / float(bottom))
                    if y < 2.0**-100:
                        break
                if y < 2.0**-100 or not _ln(u2) <= _ln(y) - float(skip) * lam:
                    continue
        out.append(base + skip)
        base += skip + 1
        n_r -= skip + 1
        n -= 1
    return [e + (not include_self and e >= k) for e in out]


def test_the_gpu_squeeze_bound_is_above_delta_up():
    # The GPU walk accepts against up_bound = fl(fl(t3 C) fl(1 + 2 t)) and
    # computes F4's delta_up only when that does not accept
    # (jitc_fixed_proposal, kernels/jitc_rules.cuh): its proof needs C >=
    # (1 + 2**-48) / 3 and up_bound >= delta_up on every series step.
    header = (Path(__file__).resolve().parents[1] / "lazyconn" / "kernels" / "jitc_rules.cuh").read_text()
    scale = float.fromhex(re.search(r"#define JITC_FIXED_DELTA_UP_SCALE (\S+)", header).group(1))
    assert Fraction(scale) >= Fraction(1, 3) * (1 + Fraction(1, 2**48))
    rng = np.random.default_rng(48)
    b = rng.integers(1, 2**31 - 1, 2_000_000).astype(np.float64)
    n = np.floor(b * rng.uniform(0.0, 0.25, b.size) ** rng.uniform(1.0, 4.0, b.size))
    t = np.concatenate([n[n >= 1.0] / b[n >= 1.0], rng.uniform(0.0, 0.25, 1_000_000),
                        np.array([0.25, 2.0**-31, np.nextafter(0.25, 0.0)])])
    t = t[(t > 0.0) & (t <= 0.25)]
    t3 = (t * t) * t
    delta_up = t3 / (3.0 * (1.0 - t))
    up_bound = (t3 * scale) * (1.0 + 2.0 * t)
    assert np.all(up_bound >= delta_up) and t.size > 2_500_000


TRANSCRIBED = [
    (0, 10, 3, True), (5, 20, 5, True), (9, 7, 6, False), (2**64 - 1, 1000, 40, True),
    (123, 100, 2, False), (77, 10**6, 30, True), (3, 50, 49, False), (11, 12, 1, True),
    (5, 100, 50, True), (8, 60, 30, False),
]


@pytest.mark.parametrize("seed, n_minor, num_conn, include_self", TRANSCRIBED)
def test_the_reference_is_the_written_algorithm(seed, n_minor, num_conn, include_self):
    got = _lines(seed, n_minor, num_conn, 40, include_self)
    for k, line in enumerate(got):
        assert line.tolist() == _spec_line(seed, n_minor, num_conn, k, include_self)


def test_the_transcription_takes_the_exact_test():
    # The rare exact test, in both of its product forms, is covered by the
    # transcription above only if some of its lines take it.
    taken = []
    original = _rule_fixed._exact_accept

    def spy(*args):
        taken.append(args)
        return original(*args)

    _rule_fixed._exact_accept = spy
    try:
        for seed, n_minor, num_conn, include_self in TRANSCRIBED:
            _lines(seed, n_minor, num_conn, 40, include_self)
    finally:
        _rule_fixed._exact_accept = original
    assert any(skip <= n - 1 for skip, n, *_ in taken) and any(skip > n - 1 for skip, n, *_ in taken)


# ------------------------------------------------------------- test vectors
TEST_VECTORS = [
    # (seed, N, K): the positions of line 0 (include_self=True), docs/spec.md
    ((0, 10, 3), [0, 1, 7]),
    ((42, 1000, 5), [278, 470, 617, 718, 740]),
    ((2**64 - 1, 10**6, 8), [18362, 78618, 121960, 398483, 437181, 635828, 706688, 743582]),
]


@pytest.mark.parametrize("triple, expected", TEST_VECTORS)
def test_pinned_test_vectors(triple, expected):
    seed, n_minor, num_conn = triple
    assert _lines(seed, n_minor, num_conn, 1)[0].tolist() == expected
    spec = _spec(shape=(1, n_minor), num_conn=num_conn, seed=seed, dtype=np.float32)
    _, j, _ = reference.coo(spec.kernel_params(), 0, 1, 0, n_minor, np.float32)
    assert j.tolist() == expected


def test_first_test_vector_by_hand():
    # Seed 0, line 0: trials 0 and 1 read draw 0 = counter (0, 0, 0, 2),
    # trial 2 reads draw 1.  N = 10, K = 3.
    w0 = philox4x32((0, 0, 0, 2), (0, 0))
    w1 = philox4x32((1, 0, 0, 2), (0, 0))
    # trial 0: n = 3, N_r = 10, t = 2/9 (series): skip floor(ln(u1) / lam) = 0, accepted (num = 0)
    lam = -(2 / 9) * (1 + 0.5 * (2 / 9))
    assert math.floor(math.log(_uniform(w0[0])) / lam) == 0 and 1 - _uniform(w0[1]) >= 0
    # trial 1: n = 2, N_r = 9, t = 1/8: skip 0 again: position 1
    assert math.floor(math.log(_uniform(w0[2])) / (-(1 / 8) * (1 + 0.5 / 8))) == 0
    # trial 2: n = 1, N_r = 8: skip floor(8 W / 2**64) = 5, W = w1 * 2**32 + w2: position 2 + 5 = 7
    assert (8 * (int(w1[0]) * 2**32 + int(w1[1]))) >> 64 == 5


def test_the_last_entry_is_an_exact_64_bit_draw():
    rng = np.random.default_rng(0)
    count = np.concatenate([[1, 2, 3, 2**31 - 1, 2**31 - 1], rng.integers(1, 2**31, 2000)])
    w1 = np.concatenate([[2**32 - 1, 2**32 - 1, 0, 2**32 - 1, 0], rng.integers(0, 2**32, 2000)]).astype(np.uint32)
    w2 = np.concatenate([[2**32 - 1, 0, 2**32 - 1, 2**32 - 1, 0], rng.integers(0, 2**32, 2000)]).astype(np.uint32)
    got = _rule_fixed.uniform_index(count, w1, w2)
    expected = [(int(c) * (int(a) * 2**32 + int(b))) >> 64 for c, a, b in zip(count, w1, w2)]
    assert got.tolist() == expected
    assert np.all((0 <= got) & (got < count))


GOLDEN_FIXED = [
    # Spec arguments, SHA-256 prefix of the dense matrix (user orientation), docs/spec.md
    (dict(shape=(40, 60), num_conn=7, law=Normal(0.0, 1.0), seed=12345, dtype=np.float32), "033521a91f9754b1"),
    (dict(shape=(50, 50), orientation="C", num_conn=20, law=Uniform(-1.0, 2.0), seed=2**64 - 1,
          include_self=False), "35e6c42caaccf9b5"),
]


@pytest.mark.parametrize("kwargs, expected", GOLDEN_FIXED)
def test_golden_checksums(kwargs, expected, monkeypatch):
    monkeypatch.setenv("LAZYCONN_BACKEND", "reference")
    assert checksum(lazyconn.from_spec(_spec(**kwargs)).todense()) == expected


# ------------------------------------------------------------ exact counts
@pytest.mark.parametrize("n_minor, num_conn, include_self", [
    (40, 5, True), (40, 0, True), (40, 40, True), (40, 39, False), (1000, 999, True), (1000, 1, False),
    (64, 32, False), (1, 1, True), (1, 0, True), (2, 1, False),
])
def test_every_line_has_exactly_k_distinct_sorted_entries(n_minor, num_conn, include_self):
    n_lines = n_minor if not include_self else 60
    for k, line in enumerate(_lines(17, n_minor, num_conn, n_lines, include_self)):
        assert line.size == num_conn
        assert np.all(np.diff(line) > 0)
        assert line.size == 0 or (line[0] >= 0 and line[-1] < n_minor)
        if not include_self:
            assert k not in line


@pytest.mark.parametrize("orientation", ["R", "C"])
@pytest.mark.parametrize("include_self", [True, False])
def test_dense_has_k_entries_per_line(orientation, include_self):
    spec = _spec(shape=(37, 37), orientation=orientation, num_conn=9, include_self=include_self, seed=4)
    counts = (_dense(spec) != 0).sum(axis=1)  # line space: one row per line
    assert np.all(counts == 9)
    if not include_self:
        assert np.all(np.diag(_dense(spec)) == 0)


def test_edges():
    assert not _dense(_spec(num_conn=0)).any()
    assert (_dense(_spec(shape=(5, 8), num_conn=8)) != 0).all()
    full = _dense(_spec(shape=(6, 6), num_conn=5, include_self=False))
    assert np.array_equal(full != 0, ~np.eye(6, dtype=bool))
    assert (_dense(_spec(shape=(3, 1), num_conn=1)) != 0).all()
    assert _dense(_spec(shape=(1, 1), num_conn=0, include_self=False)).shape == (1, 1)
    assert _dense(_spec(shape=(4, 0), num_conn=0)).shape == (4, 0)
    # All-chosen lines read no word: K = N needs no trial.
    *_, trials = _rule_fixed.walk_lines((1, 2), np.arange(5), 8, 8, False, 8, count_trials=True)
    assert not trials.any()


@pytest.mark.parametrize("n_minor, num_conn, include_self", [(3000, 100, False), (1000, 800, True),
                                                           (500, 1, True), (40, 40, True), (60, 58, False)])
def test_line_by_line_walk_equals_the_rounds(monkeypatch, n_minor, num_conn, include_self):
    # The NumPy walk takes vectorised rounds while many lines are left and
    # finishes the last ones line by line: entries (in their order), slots
    # and trials must not depend on where it switches.
    rng = np.random.default_rng(n_minor + num_conn)
    lines = np.concatenate([np.arange(20), rng.integers(0, n_minor, 20)])
    ends = rng.integers(0, n_minor + 1, lines.size)
    ends[:10] = n_minor
    walks = []
    for switch in (0, 7, 10**9):  # every line alone, a mix, rounds only
        monkeypatch.setattr(_rule_fixed, "SCALAR_LINES", switch)
        walks.append(_rule_fixed.walk_lines((3, 4), lines, n_minor, num_conn, not include_self, ends,
                                            count_trials=True))
    for walk in walks[:2]:
        for ours, rounds in zip(walk, walks[2]):
            assert_same_bits(ours, rounds)


# --------------------------------------------------------------- the law
def _subset_counts(lines, n_eff, num_conn, include_self=True, lines_per_seed=2**62):
    index = {s: i for i, s in enumerate(combinations(range(n_eff), num_conn))}
    counts = np.zeros(len(index), dtype=np.int64)
    for i, line in enumerate(lines):
        k = i % lines_per_seed  # the line index
        e = line if include_self else line - (line > k)
        counts[index[tuple(e.tolist())]] += 1
    return counts


@pytest.mark.parametrize("n_minor, num_conn, include_self", [(6, 3, True), (9, 2, True), (7, 4, False), (8, 1, True)])
def test_every_k_subset_is_equally_likely(n_minor, num_conn, include_self):
    n_lines = 12000 if include_self else n_minor * 1500
    if include_self:
        lines = _lines(2024, n_minor, num_conn, n_lines)
    else:
        # Lines of a square matrix: every line index k < N, many seeds.
        lines = [line for seed in range(1500) for line in _lines(seed, n_minor, num_conn, n_minor, False)]
    n_eff = n_minor if include_self else n_minor - 1
    counts = _subset_counts(lines, n_eff, num_conn, include_self, n_lines if include_self else n_minor)
    assert stats.chisquare(counts).pvalue > ALPHA


def _corrected_chi2(counts, n_lines, num_conn, n_minor):
    """Chi-square of column counts under exactly K per line (covariance-corrected).

    One line's indicator vector has covariance s2 N/(N-1) (I - 11'/N) with
    s2 = (K/N)(1 - K/N); hence (N-1)/N sum (O - E)^2 / (L s2) ~ chi2(N - 1).
    """
    p = num_conn / n_minor
    stat = (n_minor - 1) / n_minor * np.sum((counts - n_lines * p) ** 2) / (n_lines * p * (1 - p))
    return stats.chi2.sf(stat, n_minor - 1)


@pytest.mark.parametrize("n_minor, num_conn, seed", [(50, 7, 1), (20, 5, 2), (200, 150, 3), (97, 2, 4)])
def test_column_marginals_are_k_over_n(n_minor, num_conn, seed):
    n_lines = 6000
    lines = _lines(seed, n_minor, num_conn, n_lines)
    counts = np.bincount(np.concatenate(lines), minlength=n_minor)
    assert _corrected_chi2(counts, n_lines, num_conn, n_minor) > ALPHA


def test_column_marginals_of_a_long_line():
    # N = 10**6, K = 100: columns in 100 bins of 10**4.  A bin's count in one
    # line is hypergeometric; the bins' covariance has the same shape as above.
    n_minor, num_conn, n_lines, n_bins = 10**6, 100, 3000, 100
    lines = _lines(99, n_minor, num_conn, n_lines)
    counts = np.bincount(np.concatenate(lines) // (n_minor // n_bins), minlength=n_bins)
    b = 1 / n_bins
    var = num_conn * b * (1 - b) * (n_minor - num_conn) / (n_minor - 1)
    # Covariance of one line's bin counts: var / (1 - b) (I - b 11'), a projection of rank n_bins - 1.
    stat = (1 - b) * np.sum((counts - n_lines * num_conn * b) ** 2) / (n_lines * var)
    assert stats.chi2.sf(stat, n_bins - 1) > ALPHA


@pytest.mark.parametrize("num_conn", [3, 50])
def test_first_position_has_the_exact_law(num_conn):
    # P(first >= s) = C(N - s, K) / C(N, K): the skip law Method D samples
    # (small K: many proposals are rejected; large K: few are).
    n_minor, n_lines = 10**6, 4000
    key = (31, 0)
    _, pos, slot = _rule_fixed.walk_lines(key, np.arange(n_lines), n_minor, num_conn, False, n_minor)
    first = np.sort(pos[slot == 0])

    def cdf(s):
        s = np.asarray(s, dtype=np.float64)
        # 1 - prod_{i < K} (N - s - i) / (N - i), through logs
        i = np.arange(num_conn)
        return 1.0 - np.exp(np.sum(np.log1p(-(s[..., None] + 1) / (n_minor - i)), axis=-1))

    result = stats.kstest(first, cdf)
    assert result.pvalue > ALPHA


@pytest.mark.parametrize("n_minor, num_conn, seed", [(20, 5, 6), (12, 2, 7), (15, 12, 8)])
def test_pair_inclusion_is_k_k1_over_n_n1(n_minor, num_conn, seed):
    n_lines = 8000
    lines = _lines(seed, n_minor, num_conn, n_lines)
    pairs = np.zeros((n_minor, n_minor), dtype=np.int64)
    for line in lines:
        pairs[np.ix_(line, line)] += 1
    p = num_conn * (num_conn - 1) / (n_minor * (n_minor - 1))
    upper = pairs[np.triu_indices(n_minor, 1)]
    # Two-sided binomial tests, Bonferroni over the pairs.
    pvalues = [stats.binomtest(int(c), n_lines, p).pvalue for c in upper]
    assert min(pvalues) * upper.size > ALPHA


# ------------------------------------------------------------- the work
def test_work_per_line_is_order_k():
    n_minor, num_conn, n_lines = 10**6, 100, 1000
    *_, trials = _rule_fixed.walk_lines((5, 6), np.arange(n_lines), n_minor, num_conn, False, n_minor,
                                        count_trials=True)
    draws = (trials + 1) // 2  # two trials per Philox draw
    # Expected trials < K + H(K - 1) (c2 = n/(n-1) per step): 105.2 here.
    assert trials.mean() <= num_conn + math.log(num_conn) + 2
    assert draws.mean() <= 0.55 * num_conn + 2
    assert draws.max() <= 0.75 * num_conn + 10


def test_a_window_stops_the_walk():
    # A window [0, j1) walks only the trials before j1: far fewer for a short window.
    key, lines = (5, 6), np.arange(300)
    *_, full = _rule_fixed.walk_lines(key, lines, 10**6, 100, False, 10**6, count_trials=True)
    *_, short = _rule_fixed.walk_lines(key, lines, 10**6, 100, False, 10**5, count_trials=True)
    assert short.mean() < 0.15 * full.mean()


# ----------------------------------------------------- windows, transposes
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("orientation", ["R", "C"])
def test_windows_are_slices_of_the_full_matrix(include_self, orientation):
    spec = _spec(shape=(45, 45), orientation=orientation, num_conn=11, include_self=include_self,
                 law=Normal(1.0, 0.5), seed=8)
    full = _dense(spec)
    for k0, k1, j0, j1 in [(0, 45, 0, 45), (3, 17, 0, 20), (10, 11, 5, 44), (0, 45, 30, 31), (20, 40, 20, 40)]:
        assert np.array_equal(_dense(spec, (k0, k1, j0, j1)), full[k0:k1, j0:j1])


def test_matrix_api_on_the_reference(monkeypatch):
    monkeypatch.setenv("LAZYCONN_BACKEND", "reference")
    spec = _spec(shape=(30, 50), num_conn=6, law=Normal(0.0, 1.0), seed=3, dtype=np.float32)
    conn = lazyconn.from_spec(spec)
    dense = conn.todense()
    assert np.all((dense != 0).sum(axis=1) == 6)
    transposed = lazyconn.from_spec(spec.transposed)
    assert np.array_equal(conn.T.todense(), dense.T)
    assert np.array_equal(transposed.todense(), dense.T)
    assert np.array_equal(conn[5:20, 7:41].todense(), dense[5:20, 7:41])
    x = np.linspace(-1.0, 1.0, 50)
    assert np.allclose(conn @ x, dense.astype(np.float64) @ x)
    events = np.zeros(30)
    events[[2, 9]] = 1.0
    assert np.allclose(events @ conn, events @ dense.astype(np.float64))
    restored = pickle.loads(pickle.dumps(conn))
    assert restored.spec == spec and np.array_equal(restored.todense(), dense)
    assert "num_conn=6" in repr(conn)


def test_connectivity_does_not_depend_on_the_law():
    masks = [_dense(_spec(law=law, num_conn=13, seed=21)) != 0 for law in (Scalar(2.0), Normal(0, 1), Uniform(1, 2))]
    assert np.array_equal(masks[0], masks[1]) and np.array_equal(masks[0], masks[2])


def test_weights_use_the_slot_of_the_chosen_entry():
    # The s-th chosen entry of line k: word s % 4 of counter (s // 4, 0, k, 1).
    spec = _spec(shape=(4, 300), num_conn=10, law=Uniform(0.0, 1.0), seed=2**40 + 3)
    k, _, w = reference.coo(spec.kernel_params(), 0, 4, 0, 300, np.float64)
    for line in range(4):
        s = np.arange(10, dtype=np.uint64)
        words = np.stack(philox4x32((s // 4, 0, line, 1), (3, 2**8)), axis=-1)[np.arange(10), (s % 4).astype(int)]
        assert np.array_equal(w[k == line], words_to_uniform(words))


# ---------------------------------------------------------------- the API
def test_validation_names_the_value_and_the_fix():
    with pytest.raises(ValueError, match=r"num_conn must be <= 40, got 41.*pass num_conn <= 40"):
        _spec(shape=(30, 40), num_conn=41)
    with pytest.raises(ValueError, match=r"<= 29, got 30.*off-diagonal.*include_self=False"):
        _spec(shape=(30, 30), num_conn=30, include_self=False)
    with pytest.raises(ValueError, match=r"<= 30, got 31.*num_pre"):
        _spec(shape=(30, 40), orientation="C", num_conn=31)
    with pytest.raises(ValueError, match="num_conn must be >= 0, got -1"):
        _spec(num_conn=-1)
    with pytest.raises(TypeError, match="num_conn must be an integer"):
        _spec(num_conn=2.5)
    with pytest.raises(TypeError, match="num_conn must be an integer"):
        _spec(num_conn=True)
    with pytest.raises(ValueError, match="either prob or num_conn"):
        Spec((3, 3), "R", 0.5, Scalar(1.0), 0, np.float32, True, num_conn=1)


def test_spec_records():
    spec = _spec(shape=(30, 40), num_conn=8, include_self=True)
    params = spec.kernel_params()
    assert params.rule == _rule_fixed.FIXED_NUMBER.code == 1
    assert rules.by_code(1) is _rule_fixed.FIXED_NUMBER and _rule_fixed.FIXED_NUMBER.domain == 2
    assert (params.num_conn, params.minor_size, params.block_log2) == (8, 40, 31)
    assert spec.prob == 8 / 40 and _spec(shape=(9, 9), num_conn=4, include_self=False).prob == 0.5
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert spec.transposed.transposed == spec and spec.with_dtype(np.float32).num_conn == 8
    assert spec != Spec((30, 40), "R", 0.2, Scalar(1.0), 0, np.float64)
    # The Bernoulli rule's records are unchanged.
    bernoulli = Spec((30, 40), "R", 0.2, Scalar(1.0), 0, np.float64).kernel_params()
    assert (bernoulli.rule, bernoulli.num_conn, bernoulli.minor_size) == (0, 0, 0)


def test_the_cpu_computes_the_rule(monkeypatch):
    # (The GPU's: tests/test_gpu_fixed_number.py.)
    params = _spec().kernel_params()
    cpu = pytest.importorskip("lazyconn.kernels.cpu")
    expected = reference.dense(params, 0, 3, 0, 40, np.float64)
    assert np.array_equal(cpu.dense(params, 0, 3, 0, 40, np.float64), expected)
    assert np.all((expected != 0).sum(axis=1) == 5)
    monkeypatch.setenv("LAZYCONN_BACKEND", "cpu")
    assert np.array_equal(lazyconn.from_spec(_spec()).todense(), reference.dense(params, 0, 30, 0, 40, np.float64))


def test_a_rule_without_a_numba_walk_is_refused_by_the_cpu(monkeypatch):
    cpu = pytest.importorskip("lazyconn.kernels.cpu")
    params = _spec().kernel_params()
    monkeypatch.setattr(cpu.rules, "by_code", lambda code: rules.Rule(
        name="Toy", code=code, params=(), check=None, block_log2=None, reference_walk=None, numba_walk="",
        cuda_type="", domain=9))
    for call in (lambda: cpu.dense(params, 0, 3, 0, 40, np.float64),
                 lambda: cpu.coo(params, 0, 3, 0, 40, np.float64),
                 lambda: cpu.gather(params, 0, 3, 0, 40, np.ones((40, 1)), np.float64),
                 lambda: cpu.scatter(params, np.arange(3), None, 0, 40, np.float64),
                 lambda: cpu.degrees(params, 0, 3, 0, 40, np.float64)):
        with pytest.raises(NotImplementedError, match="no kernels for the Toy connection rule.*LAZYCONN_BACKEND"):
            call()


def test_reductions_sparse_and_dask_on_the_reference(monkeypatch):
    monkeypatch.setenv("LAZYCONN_BACKEND", "reference")
    spec = _spec(shape=(40, 40), orientation="C", num_conn=7, law=Normal(0.5, 1.0), seed=13, include_self=False)
    conn = lazyconn.from_spec(spec)
    dense = conn.todense().astype(np.float64)
    assert np.allclose(conn.sum(axis=0), dense.sum(axis=0)) and np.allclose(conn.sum(axis=1), dense.sum(axis=1))
    assert np.count_nonzero(dense, axis=0).tolist() == [7] * 40
    assert np.array_equal(np.asarray(conn.tocsr().todense()), conn.todense())
    assert np.array_equal(np.diagonal(conn), np.zeros(40, dtype=conn.dtype))
    pytest.importorskip("dask.array")
    assert np.array_equal(conn.to_dask(chunks=16).compute(), conn.todense())


def test_dask_names_tell_a_fixed_number_matrix_from_its_bernoulli_twin():
    # Same shape, seed, law and prob = K / N: only num_conn differs, and a
    # shared Dask task name would hand one matrix the other's chunks.
    from lazyconn.products import View

    fixed = Spec((10, 10), "R", None, Scalar(1.0), 3, np.float32, num_conn=5)
    bernoulli = Spec((10, 10), "R", fixed.prob, Scalar(1.0), 3, np.float32)
    window = (0, 10, 0, 10)
    assert View(fixed, window, 1.0).token() != View(bernoulli, window, 1.0).token()



# --------------------------------------------- CPU and Dask against the reference
def _cpu_or_skip():
    return pytest.importorskip("lazyconn.kernels.cpu")


@pytest.mark.parametrize("kwargs, expected", GOLDEN_FIXED)
def test_golden_checksums_on_the_cpu(kwargs, expected, monkeypatch):
    _cpu_or_skip()
    monkeypatch.setenv("LAZYCONN_BACKEND", "cpu")
    assert checksum(lazyconn.from_spec(_spec(**kwargs)).todense()) == expected


def test_windows_of_long_lines_restart_from_the_line_start():
    # K = 3000 fills many batches of the CPU walk; a window far along the line
    # walks from the line's start and must give the same positions.
    cpu = _cpu_or_skip()
    spec = _spec(shape=(6, 40_000), num_conn=3000, law=Uniform(-1.0, 1.0), seed=99, dtype=np.float32)
    params = spec.kernel_params()
    full = reference.dense(params, 0, 6, 0, 40_000, np.float32)
    assert np.array_equal(cpu.dense(params, 0, 6, 0, 40_000, np.float32), full)
    for j0, j1 in [(1, 40_000), (39_000, 40_000), (12_345, 12_999), (20_000, 20_001)]:
        assert np.array_equal(cpu.dense(params, 2, 5, j0, j1, np.float32), full[2:5, j0:j1])
        k, j, w = cpu.coo(params, 2, 5, j0, j1, np.float32)
        rows, cols = np.nonzero(full[2:5, j0:j1])
        assert np.array_equal(k, rows + 2) and np.array_equal(j, cols + j0)


def test_the_cpu_realises_every_line_with_k_distinct_entries_and_the_marginals():
    _cpu_or_skip()
    conn = lazyconn.from_spec(_spec(shape=(500, 400), orientation="C", num_conn=25, seed=7))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAZYCONN_BACKEND", "cpu")
        dense = conn.todense()
        assert np.all((dense != 0).sum(axis=0) == 25)
        assert conn.count_nonzero() == 25 * 400
        # Each entry is connected with probability K / N: row counts over 400 columns.
        rows = (dense != 0).sum(axis=1)
        chi2 = ((rows - 400 * 25 / 500) ** 2 / (400 * 25 / 500 * (1 - 25 / 500))).sum()
        assert stats.chi2.sf(chi2, 499) > ALPHA


def test_dask_chunks_are_windows_of_the_cpu_matrix():
    _cpu_or_skip()
    da = pytest.importorskip("dask.array")
    import lazyconn.dask

    conn = lazyconn.from_spec(_spec(shape=(90, 70), orientation="C", num_conn=30, law=Normal(0.0, 1.0), seed=5,
                                    dtype=np.float32, include_self=True))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAZYCONN_BACKEND", "reference")
        expected = conn.todense()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAZYCONN_BACKEND", "cpu")
        for chunks in [(16, 25), (90, 7), ((40, 50), (1, 69))]:
            assert conn.to_dask(chunks=chunks).compute(scheduler="synchronous").tobytes() == expected.tobytes()
        x = np.random.default_rng(3).normal(size=(70, 2)).astype(np.float32)
        lazy = lazyconn.dask.matmul(conn, da.from_array(x, chunks=(20, 1)), chunks=(30,))
        np.testing.assert_allclose(lazy.compute(scheduler="synchronous"), expected.astype(np.float64) @ x,
                                   rtol=1e-5, atol=1e-4)
        v = np.random.default_rng(4).normal(size=90).astype(np.float32)
        lazy = lazyconn.dask.matmul(da.from_array(v, chunks=25), conn, chunks=(20,), split_every=2)
        np.testing.assert_allclose(lazy.compute(scheduler="synchronous"), v.astype(np.float64) @ expected,
                                   rtol=1e-5, atol=1e-4)

