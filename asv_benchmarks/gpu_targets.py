"""GPU targets of issue 5, measured in one run and printed as a markdown table.

Usage::

    python asv_benchmarks/gpu_targets.py            # N = 1,000,000 and 100,000
    python asv_benchmarks/gpu_targets.py --quick    # smaller sizes, a smoke test

At N = 1,000,000, p = 0.01 (10**10 synapses), float32: the gather ``M @ y``,
the dense scatter ``x @ M``, 1% binary spikes ``BinaryArray(s) @ M``, for the
Scalar, Normal and Uniform laws.  At N = 100,000 the same products against
``cupyx.scipy.sparse`` CSR holding the very same matrix, in the same run.
Times are CUDA-event medians after warm-up.  GPU memory beyond inputs and
outputs is the peak of CuPy's pool during one product minus the operand and
the result.  First-call compile time is measured in a fresh process with an
empty CuPy kernel cache.  Also checks the float32 gap fast path against the
float64 gap on all 2**32 words, the float32 Normal route's candidate on
all 2**31 folded words, and a few windows of the large matrix against the
NumPy reference, bit for bit.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import cupy as cp

import lazyconn
from lazyconn.bench import device_extra_bytes
from lazyconn.kernels import _gpu_launch, _ndtri_fast, gpu, reference

LAWS = {
    "Scalar": lambda n, seed: lazyconn.JITCScalarR(n, n, prob=0.01, weight=0.1, seed=seed),
    "Normal": lambda n, seed: lazyconn.JITCNormalR(n, n, prob=0.01, loc=0.0, scale=0.1, seed=seed),
    "Uniform": lambda n, seed: lazyconn.JITCUniformR(n, n, prob=0.01, low=0.0, high=0.2, seed=seed),
}


def cuda_time(fn, repeat=10, warmup=2):
    """Median and minimum milliseconds of ``fn()`` by CUDA events."""
    for _ in range(warmup):
        fn()
    cp.cuda.Device().synchronize()
    times = []
    for _ in range(repeat):
        start, end = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, end))
    return float(np.median(times)), float(np.min(times))


def compile_time():
    """First-call seconds in a fresh process with an empty kernel cache, then with a warm one."""
    code = (
        "import time, numpy as np, cupy as cp; t = time.perf_counter();"
        "import lazyconn; c = lazyconn.JITCScalarR(1000, 1000, prob=0.01, weight=1.0, seed=0);"
        "y = cp.ones(1000, cp.float32); (c @ y).sum().item();"
        "print(time.perf_counter() - t)"
    )
    results = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, CUPY_CACHE_DIR=cache)
        for _ in range(2):  # cold cache, then warm cache
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            results.append(float(out.stdout.strip().splitlines()[-1]))
    return results


def check_windows(n, seed):
    """A few windows of the large matrix, GPU bytes == reference bytes."""
    ok = True
    for law in LAWS.values():
        conn = law(n, seed)
        params = conn.spec.kernel_params()
        for k0, j0, j1 in ((0, 0, n), (n - 7, n - 5000, n), (n // 2, 12345, 12345 + 4096 * 3 + 17)):
            k1 = min(k0 + 5, n)
            a = gpu.dense(params, k0, k1, j0, j1, np.float32).get()
            b = reference.dense(params, k0, k1, j0, j1, np.float32)
            ok &= a.tobytes() == b.tobytes()
    return ok


def csr_of(conn):
    """The same matrix as a cupyx CSR (int32 indices), built from the GPU coo kernel."""
    import cupyx.scipy.sparse as sparse

    m, n = conn.shape
    params = conn.spec.kernel_params()
    k, j, w = gpu.coo(params, 0, m, 0, n, conn.dtype)
    indptr = cp.zeros(m + 1, cp.int64)
    indptr[1:] = cp.cumsum(cp.bincount(k, minlength=m))
    del k
    csr = sparse.csr_matrix((w, j.astype(cp.int32), indptr.astype(cp.int32)), shape=(m, n))
    del j, w
    return csr


def sweep(n, seed, y, x, events):
    """Time the Scalar products over a few launch geometries (tuning aid)."""
    conn = LAWS["Scalar"](n, seed)
    names = ("_THREADS", "_TILE_BYTES", "_MAX_TILE_BLOCKS", "_CTAS_PER_SM", "_MIN_LINES_PER_SEGMENT")
    saved = [getattr(_gpu_launch, name) for name in names]  # the tunables the kernels read
    print("\nthreads tile_bytes max_tile_blocks ctas_per_sm min_lines | gather ms | scatter ms | spikes ms")
    for geometry in ((256, 16384, 1, 64, 1024), (256, 16384, 1, 16, 1024), (256, 16384, 1, 32, 1024),
                     (256, 32768, 2, 64, 1024), (256, 16384, 1, 64, 512), (256, 16384, 1, 64, 2048)):
        for name, value in zip(names, geometry):
            setattr(_gpu_launch, name, value)
        times = [cuda_time(fn, repeat=5, warmup=1)[0] for fn in (lambda: conn @ y, lambda: conn.__rmatmul__(x), lambda: events @ conn)]
        print(geometry, "| " + " | ".join(f"{t:.3f}" for t in times))
    for name, value in zip(names, saved):
        setattr(_gpu_launch, name, value)


def checks(n_big, seed):
    """First-call compile time, a window check against the reference, the gap and ndtri fast paths."""
    cold, warm = compile_time()
    print(f"first call in a fresh process: {cold:.2f} s with an empty kernel cache (NVRTC), {warm:.2f} s with CuPy's disk cache")

    print("window check vs NumPy reference at N =", n_big, ":", "bit-identical" if check_windows(n_big, seed) else "MISMATCH")
    for prob in (0.99, 0.3, 0.05, 0.01, 0.001, 1e-4):
        c = lazyconn.Spec((1, 1), "R", prob, lazyconn.Scalar(1.0), 0, np.float32).kernel_params().inv_log_q
        t = time.perf_counter()
        mismatches, fallbacks = gpu.gap_check(c)
        print(f"gap fast path, p = {prob}, all 2**32 words: {mismatches} mismatches, {fallbacks} float64 fallbacks "
              f"({fallbacks / 2**32:.4%}), {time.perf_counter() - t:.2f} s")

    t = time.perf_counter()
    violations, worst = gpu.ndtri_check()
    bound = float(_ndtri_fast.load_table()[:, -1].max())
    print(f"float32 Normal candidate, all 2**31 folded words: {violations} beyond half the bound, worst error "
          f"{worst / bound:.3f} x the bound, {time.perf_counter() - t:.2f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--sweep", action="store_true", help="also time launch geometries (Scalar law)")
    parser.add_argument("--products-only", action="store_true",
                        help="only the product rows at the large N (no compile time, checks or CSR section): "
                             "for before/after runs of two trees in one device call")
    args = parser.parse_args()
    n_big = 100_000 if args.quick else 1_000_000
    n_small = 20_000 if args.quick else 100_000
    rng = np.random.default_rng(0)
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    print(f"GPU: {name}; CuPy {cp.__version__}; CUDA runtime {cp.cuda.runtime.runtimeGetVersion()}")

    if not args.products_only:
        checks(n_big, args.seed)

    y = cp.asarray(rng.standard_normal(n_big).astype(np.float32))
    x = cp.asarray(rng.standard_normal(n_big).astype(np.float32))
    spikes = cp.asarray(rng.random(n_big) < 0.01)
    events = lazyconn.BinaryArray(spikes)
    rows = []
    for law_name, make in LAWS.items():
        conn = make(n_big, args.seed)
        # conn_c: a matrix of the same law and size generated column by column
        # ('C': conn's transpose), where x @ M is a gather: the layout to pick
        # for dense x @ M workloads, as brainevent's corder picks its own.
        conn_c = lazyconn.from_spec(conn.spec.transposed)
        assert conn_c.spec.orientation == "C"
        cases = {
            "gather M @ y": lambda: conn @ y,
            "dense scatter x @ M": lambda: conn.__rmatmul__(x),
            "1% binary spikes s @ M": lambda: events @ conn,
            "x @ M with M generated by columns (gather)": lambda: conn_c.__rmatmul__(x),
        }
        if law_name == "Scalar":
            # The event kernel alone, active lines precomputed: what the
            # product driver (event detection, dtype handling) adds on top.
            params = conn.spec.kernel_params()
            active = cp.flatnonzero(spikes).astype(cp.int64)
            med, best = cuda_time(lambda: gpu.scatter(params, active, None, 0, n_big, conn.dtype), repeat=50)
            print(f"1% spikes, gpu.scatter alone on precomputed lines: {med:.3f} ms (min {best:.3f})")
            if args.sweep:
                names = ("_MAX_TILE_BLOCKS", "_EVENT_LINES_PER_THREAD", "_CTAS_PER_SM_EVENTS")
                saved = [getattr(_gpu_launch, name) for name in names]
                for geometry in ((1, 4, 16), (2, 4, 16), (1, 2, 16), (1, 8, 16), (1, 4, 8), (1, 4, 32)):
                    for name, value in zip(names, geometry):
                        setattr(_gpu_launch, name, value)
                    t, _ = cuda_time(lambda: events @ conn, repeat=30)
                    print(f"  1% spikes, (max_tile_blocks, lines_per_thread, ctas_per_sm_events) = {geometry}: {t:.3f} ms")
                for name, value in zip(names, saved):
                    setattr(_gpu_launch, name, value)
        for case, fn in cases.items():
            med, best = cuda_time(fn, repeat=10 if "spikes" not in case else 50)
            mem = device_extra_bytes(fn)[1]  # the operand is held before
            rows.append((f"N = {n_big:,}", law_name, case, med, best, mem))

    if args.sweep:
        sweep(n_big, args.seed, y, x, events)

    print()
    print(f"| GPU: {name} | law | product | lazyconn median ms | min ms | GPU memory beyond in/out |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    for size, law, case, med, best, mem in rows:
        print(f"| {size} | {law} | {case} | {med:.3f} | {best:.3f} | {mem / 2**20:.1f} MiB |")
    if args.products_only:
        return

    # Same run, N = 100,000: our kernels and a cupyx CSR holding the same matrix.
    conn = LAWS["Scalar"](n_small, args.seed)
    csr = csr_of(conn)
    csr_t = csr.T.tocsr()
    csr_bytes = csr.data.nbytes + csr.indices.nbytes + csr.indptr.nbytes
    ys = cp.asarray(rng.standard_normal(n_small).astype(np.float32))
    xs = cp.asarray(rng.standard_normal(n_small).astype(np.float32))
    ss = cp.asarray(rng.random(n_small) < 0.01)
    sf = ss.astype(cp.float32)
    ev = lazyconn.BinaryArray(ss)
    agree = all(
        bool(cp.allclose(a, b, rtol=1e-4, atol=1e-3))
        for a, b in ((conn @ ys, csr @ ys), (conn.__rmatmul__(xs), csr_t @ xs), (ev @ conn, csr_t @ sf))
    )
    small = [
        ("gather M @ y", lambda: conn @ ys, lambda: csr @ ys),
        ("dense scatter x @ M", lambda: conn.__rmatmul__(xs), lambda: csr_t @ xs),
        ("1% binary spikes s @ M", lambda: ev @ conn, lambda: csr_t @ sf),
    ]
    print()
    print(f"| N = {n_small:,}, p = 0.01, Scalar, {name} | lazyconn ms | cupyx CSR ms (transposed CSR for x @ M) | ratio CSR / lazyconn |")
    print("| --- | ---: | ---: | ---: |")
    for case, ours, theirs in small:
        a, _ = cuda_time(ours, repeat=20)
        b, _ = cuda_time(theirs, repeat=20)
        print(f"| {case} | {a:.3f} | {b:.3f} | {b / a:.2f}x |")
    print(f"\nCSR storage at N = {n_small:,}: {csr_bytes / 2**20:.0f} MiB (each of CSR and its transpose); "
          f"lazyconn and CSR products agree: {agree}")
    print("compile seconds by module (this process):", gpu.compile_seconds())


if __name__ == "__main__":
    main()
