"""Measure the CPU targets of issue 3 as same-run ratios; print a markdown table.

Usage (from the repository root)::

    python asv_benchmarks/cpu_targets.py                 # N = 100,000, p = 0.01
    python asv_benchmarks/cpu_targets.py --big           # also 1e6 x 1e6 (1e10 synapses)
    python asv_benchmarks/cpu_targets.py --n 20000 --repeat 3 --no-subprocess   # quick look
    python asv_benchmarks/cpu_targets.py --per-law       # laws on one thread, ns per connection (~20 s)

Every ratio compares two timings taken in the same process, interleaved
(lazy, baseline, lazy, baseline, ...), and reports medians: the machine may
be shared, so absolute times are noisy while same-run ratios hold up.  The
baseline is scipy.sparse CSR of *exactly the same matrix* (built with
``conn.tocsr()``, whose time and bytes are reported).  Peak memory and the
start-up times are measured in fresh subprocesses.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

import numba
import numpy as np

import lazyconn
from lazyconn.kernels import host_backend

SEED = 20240601
MiB = 2.0**20


def _pair_times(first, second, repeat):
    """Interleaved wall times of two callables (seconds), ``repeat`` each."""
    first()
    second()
    a, b = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        first()
        a.append(time.perf_counter() - start)
        start = time.perf_counter()
        second()
        b.append(time.perf_counter() - start)
    return np.array(a), np.array(b)


def _median_pair(first, second, repeat):
    """Interleaved median wall times of two callables (seconds)."""
    a, b = _pair_times(first, second, repeat)
    return float(np.median(a)), float(np.median(b))


def _dense_row(table, label, lazy, base):
    """A dense-product row: the median ratio decides; the best-of-runs ratio
    is shown too, since this VM's cores slow down for seconds at a time
    (after large frees, for instance) and medians then move by up to 1.5x."""
    ratio = np.median(lazy) / np.median(base)
    table.add(
        label,
        f"{_ms(np.median(lazy))} / {_ms(np.median(base))} = {ratio:.2f}x (best of runs: {lazy.min() / base.min():.2f}x)",
        "<= 3.0x (stretch 2.0x)",
        ratio <= 3.0,
    )


def _median(call, repeat):
    call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _spikes(n, rate, seed=1):
    active = np.zeros(n, dtype=bool)
    active[np.random.default_rng(seed).choice(n, size=max(1, int(round(rate * n))), replace=False)] = True
    return active


def _ms(seconds):
    return f"{seconds * 1e3:,.1f} ms" if seconds < 10 else f"{seconds:,.1f} s"


class Table:
    """Rows of (measure, value, target, holds)."""

    def __init__(self):
        self.rows = []

    def add(self, measure, value, target="", holds=None):
        mark = "" if holds is None else ("yes" if holds else "**no**")
        self.rows.append((measure, value, target, mark))
        print(f"  {measure}: {value}  {target} {mark}", file=sys.stderr, flush=True)

    def markdown(self):
        lines = ["| measure | result | target | holds |", "|---|---|---|---|"]
        lines += [f"| {m} | {v} | {t} | {h} |" for m, v, t, h in self.rows]
        return "\n".join(lines)


def products(table, n, p, repeat):
    """Dense-vector, law, event-driven and batched ratios at ``n x n``."""
    import scipy.sparse

    rng = np.random.default_rng(0)
    scalar = lazyconn.JITCScalarR(n, n, p, 0.5, seed=SEED)
    normal = lazyconn.JITCNormalR(n, n, p, 0.0, 1.0, seed=SEED)
    uniform = lazyconn.JITCUniformR(n, n, p, 0.0, 1.0, seed=SEED)
    x = rng.standard_normal(n).astype(np.float32)
    for conn in (scalar, normal, uniform):  # compile or load every kernel first
        small = conn[:64, :64]
        small @ x[:64], x[:64] @ small, np.ones((2, 64), np.float32) @ small, small @ np.ones((64, 2), np.float32)
        lazyconn.BinaryArray(x[:64] > 0) @ small

    start = time.perf_counter()
    with lazyconn.set_options(max_dense_size=2**40):
        csr = scipy.sparse.csr_matrix(scalar.tocsr())
    build = time.perf_counter() - start
    csr_bytes = csr.data.nbytes + csr.indices.nbytes + csr.indptr.nbytes
    table.add("scipy CSR of the same matrix: build (`tocsr()`), bytes", f"{build:.1f} s, {csr_bytes / MiB:,.0f} MiB")
    csc_view = csr.T  # x @ M as CSR's transpose product, the way scipy does it

    _dense_row(table, "`M @ y` Scalar (lazy / CSR)", *_pair_times(lambda: scalar @ x, lambda: csr @ x, repeat))
    _dense_row(table, "`x @ M` Scalar (lazy / CSR)", *_pair_times(lambda: x @ scalar, lambda: csc_view @ x, repeat))

    # The same two ratios per core (both sides on one thread): less sensitive
    # to how many of the machine's cores other jobs leave free.
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        one_g, base = _median_pair(lambda: scalar @ x, lambda: csr @ x, max(3, repeat // 2))
        one_s, base_t = _median_pair(lambda: x @ scalar, lambda: csc_view @ x, max(3, repeat // 2))
    finally:
        numba.set_num_threads(threads)
    table.add(
        "per core: `M @ y`, `x @ M` Scalar on 1 thread / CSR",
        f"{one_g / base:.2f}x, {one_s / base_t:.2f}x ({one_g / (csr.nnz) * 1e9:.1f}, {one_s / csr.nnz * 1e9:.1f} ns per synapse)",
        "(information)",
    )

    for name, conn in (("Normal", normal), ("Uniform", uniform)):
        law_g, scalar_g = _median_pair(lambda: conn @ x, lambda: scalar @ x, repeat)
        table.add(f"`M @ y` {name} / Scalar", f"{_ms(law_g)} / {_ms(scalar_g)} = {law_g / scalar_g:.2f}x", "<= 2.0x (stretch 1.5x)", law_g / scalar_g <= 2.0)
        law_s, scalar_s = _median_pair(lambda: x @ conn, lambda: x @ scalar, repeat)
        table.add(f"`x @ M` {name} / Scalar", f"{_ms(law_s)} / {_ms(scalar_s)} = {law_s / scalar_s:.2f}x", "<= 2.0x (stretch 1.5x)", law_s / scalar_s <= 2.0)

    counts, times = [], []
    for rate in (0.005, 0.01, 0.02, 0.04):
        active = _spikes(n, rate)
        events = lazyconn.BinaryArray(active)
        rows = np.flatnonzero(active)
        lazy, base = _median_pair(lambda: events @ scalar, lambda: csr[rows].sum(axis=0), 3 * repeat)
        counts.append(rows.size)
        times.append(lazy)
        if rate == 0.01:
            table.add("1% spikes @ M (lazy / CSR `csr[active].sum(0)`)", f"{_ms(lazy)} / {_ms(base)} = {lazy / base:.2f}x", "<= 1.0x", lazy / base <= 1.0)
    # Linear in the active rows: an affine fit time = fixed + per_row * rows.
    per_row, fixed = np.polyfit(counts, times, 1)
    residual = max(abs(t - (fixed + per_row * c)) / t for c, t in zip(counts, times))
    table.add(
        "spikes @ M at 0.5/1/2/4 % active rows: times; affine fit",
        " / ".join(_ms(t) for t in times)
        + f"; {per_row * 1e6:.2f} us per row + {fixed * 1e3:.2f} ms fixed, worst residual {residual:.0%}",
        "linear in active rows",
        residual <= 0.15,
    )

    xs = rng.standard_normal((64, n)).astype(np.float32)
    batched, single = _median_pair(lambda: xs @ scalar, lambda: x @ scalar, max(2, repeat // 2))
    table.add("`(64, N) @ M` / one `x @ M`", f"{_ms(batched)} / {_ms(single)} = {batched / single:.2f}x", "<= 8x", batched / single <= 8.0)
    ys = np.ascontiguousarray(xs.T)
    batched, single = _median_pair(lambda: scalar @ ys, lambda: scalar @ x, max(2, repeat // 2))
    table.add("`M @ (N, 64)` / one `M @ y`", f"{_ms(batched)} / {_ms(single)} = {batched / single:.2f}x", "<= 8x", batched / single <= 8.0)
    del csr, csc_view


_MEMORY_CODE = """
import sys, numpy as np, lazyconn
n, p, product = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
law = sys.argv[4]
cls = {"scalar": lambda: lazyconn.JITCScalarR(n, n, p, 0.5, seed=1),
       "normal": lambda: lazyconn.JITCNormalR(n, n, p, 0.0, 1.0, seed=1)}[law]
conn = cls()
rng = np.random.default_rng(0)
if product in ("M @ y", "x @ M"):
    x = rng.standard_normal(n).astype(np.float32)
elif product == "spikes @ M":
    x = lazyconn.BinaryArray(rng.random(n) < 0.01)
else:
    x = rng.standard_normal((64, n)).astype(np.float32)
    if product == "M @ Y64":
        x = np.ascontiguousarray(x.T)
small = conn[:64, :64]
xs = x[:64] if product != "spikes @ M" else lazyconn.BinaryArray(x.data[:64])
if product in ("X64 @ M",):
    xs = x[:, :64]
if product == "M @ Y64":
    xs = x[:64]
(small @ xs) if product in ("M @ y", "M @ Y64") else (xs @ small)
def status(field):
    # /proc/self/status, in bytes.  VmHWM is this process's peak resident set
    # (ru_maxrss is not: Linux carries the parent's over fork and exec).
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
before = status("VmRSS")
out = (conn @ x) if product in ("M @ y", "M @ Y64") else (x @ conn)
after = status("VmHWM")
# Peak minus the resident set just before: an upper bound on what the
# product added (an earlier, higher peak can only inflate it).
print(after - before, np.asarray(out).nbytes)
"""


def peak_memory(table, n, p):
    """Peak RSS of each product above the resident set before it, beyond its output (Linux)."""
    worst = 0.0
    parts = []
    for product, law in (("M @ y", "scalar"), ("x @ M", "scalar"), ("M @ y", "normal"), ("x @ M", "normal"),
                         ("spikes @ M", "scalar"), ("X64 @ M", "scalar"), ("M @ Y64", "scalar")):
        out = subprocess.run(
            [sys.executable, "-c", _MEMORY_CODE, str(n), str(p), product, law],
            capture_output=True, text=True, check=True,
        )
        grown, out_bytes = (int(v) for v in out.stdout.split())
        extra = max(grown - out_bytes, 0) / MiB
        worst = max(worst, extra)
        parts.append(f"{product} {law[0].upper()}: {extra:.1f}")
    table.add("peak RSS above the resident set before the product, minus its output, MiB (fresh process each)",
              "; ".join(parts), "< 64 MiB", worst < 64)


_START_CODE = """
import time
start = time.perf_counter()
import numpy as np, lazyconn
conn = lazyconn.JITCScalarR(10_000, 10_000, 0.01, 0.5, seed=1)
conn @ np.ones(10_000, dtype=np.float32)
first = time.perf_counter() - start
for c in (conn, lazyconn.JITCNormalC(100, 100, 0.1, 0.0, 1.0, seed=1)):
    for x in (np.ones(100, np.float32), np.ones(100)):
        c[:100, :100] @ x, x @ c[:100, :100]
    lazyconn.BinaryArray(np.ones(100, bool)) @ c[:100, :100]
    c[:10, :10].todense(), c[:10, :10].tocoo_arrays(), c[:10, :10].count_nonzero()
print(first, time.perf_counter() - start)
"""


def start_up(table):
    """First product in a fresh process: cold (empty cache) and with the cache present."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        run = lambda: subprocess.run(  # noqa: E731
            [sys.executable, "-c", _START_CODE], capture_output=True, text=True, check=True, env=env
        ).stdout.split()
        cold_first, cold_all = (float(v) for v in run())
        warm_first, warm_all = (float(v) for v in run())
    table.add("cold start (empty cache): import + first `M @ y`; + every kernel", f"{cold_first:.1f} s; {cold_all:.1f} s")
    table.add("fresh process, cache present: import + first `M @ y`", f"{warm_first:.2f} s", "< 2 s", warm_first < 2.0)


def big(table, n, repeat):
    """1e6 x 1e6 at p = 0.01 (1e10 synapses): 0.1 % spikes, and one dense-vector product."""
    conn = lazyconn.JITCScalarR(n, n, 0.01, 0.5, seed=SEED)
    events = lazyconn.BinaryArray(_spikes(n, 0.001))
    lazy = _median(lambda: events @ conn, repeat)
    table.add(f"{n:,} x {n:,}, p=0.01: 0.1% spikes @ M", _ms(lazy), "< 1 s", lazy < 1.0)
    y = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    start = time.perf_counter()
    conn @ y
    table.add(f"{n:,} x {n:,}, p=0.01: one `M @ y` (1e10 synapses)", _ms(time.perf_counter() - start), "completes", True)


def per_law(n, p, repeat, lines=8000):
    """Gather and scatter of each law on one thread: ns per connection and
    ratios to Scalar.

    ``lines`` rows (``M[:lines] @ y``, ``y[:lines] @ M[:lines]``), the laws
    interleaved; CPU time of the process (less sensitive than wall time to
    other jobs on a shared machine) and the minimum over ``repeat`` rounds.
    For comparing kernel variants of one law against Scalar quickly.
    """
    numba.set_num_threads(1)
    conns = {
        "Scalar": lazyconn.JITCScalarR(n, n, p, 0.5, seed=SEED),
        "Normal": lazyconn.JITCNormalR(n, n, p, 0.0, 1.0, seed=SEED),
        "Uniform": lazyconn.JITCUniformR(n, n, p, 0.0, 1.0, seed=SEED),
        "LogNormal": lazyconn.JITCLogNormalR(n, n, p, 0.0, 1.0, seed=SEED),
        "Exponential": lazyconn.JITCExponentialR(n, n, p, 1.0, seed=SEED),
    }
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    times = {name: ([], []) for name in conns}
    for _ in range(repeat + 1):  # the first round compiles or loads the kernels
        for name, conn in conns.items():
            sub = conn[:lines]
            start = time.process_time()
            sub @ x
            middle = time.process_time()
            x[:lines] @ sub
            times[name][0].append(middle - start)
            times[name][1].append(time.process_time() - middle)
    synapses = lines * n * p
    best = {name: (min(g[1:]), min(s[1:])) for name, (g, s) in times.items()}
    print(f"N = {n:,}, p = {p}, {lines:,} lines, 1 thread, min CPU time of {repeat} interleaved rounds, "
          f"load average {os.getloadavg()[0]:.1f}")
    for name, (g, s) in best.items():
        print(f"  {name}: `M @ y` {g / synapses * 1e9:.2f} ns ({g / best['Scalar'][0]:.2f}x Scalar), "
              f"`x @ M` {s / synapses * 1e9:.2f} ns ({s / best['Scalar'][1]:.2f}x Scalar) per connection")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--p", type=float, default=0.01)
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per measure (median)")
    parser.add_argument("--big", action="store_true", help="also the 1e6 x 1e6 targets")
    parser.add_argument("--big-n", type=int, default=1_000_000)
    parser.add_argument("--no-subprocess", action="store_true", help="skip peak memory and start-up")
    parser.add_argument("--per-law", action="store_true",
                        help="only: each law on one thread, ns per connection and ratio to Scalar")
    args = parser.parse_args(argv)
    if args.per_law:
        per_law(args.n, args.p, max(args.repeat, 9))
        return None

    backend = host_backend()
    threads = backend.num_threads() if hasattr(backend, "num_threads") else 1
    table = Table()
    products(table, args.n, args.p, args.repeat)
    if not args.no_subprocess:
        peak_memory(table, args.n, args.p)
        start_up(table)
    if args.big:
        big(table, args.big_n, max(3, args.repeat // 2))
    print(
        f"N = {args.n:,} x {args.n:,}, p = {args.p}, float32, backend `{backend.NAME}`, {threads} threads, "
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), median of {args.repeat} "
        f"interleaved runs, load average at the end {os.getloadavg()[0]:.1f}\n"
    )
    print(table.markdown())
    return table


if __name__ == "__main__":
    main()
