"""lazyconn vs brainevent 0.3.0 vs scipy.sparse CSR, in one process, on the CPU.

brainevent (the JAX peer) needs Python 3.12 and JAX; it is not a lazyconn
dependency.  Set up a side environment once::

    python3.12 -m venv /tmp/bevenv
    /tmp/bevenv/bin/pip install brainevent==0.3.0 jax numba scipy -e .
    /tmp/bevenv/bin/python asv_benchmarks/peer_brainevent.py [--n 100000]

Every operation is timed interleaved with its CSR baseline (median of
``--repeat`` runs), and reported as a ratio to CSR measured in the same run.
The CSR is built from the very same lazyconn matrix (``conn.tocsr()``).
brainevent draws a different matrix (its own generator; density
2/ceil(2/p)), with the same shape and p.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import lazyconn


def _median(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--prob", type=float, default=0.01)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    import brainevent
    import jax
    import jax.numpy as jnp
    import numba

    n, p = args.n, args.prob
    rng = np.random.default_rng(0)
    x = rng.random(n).astype(np.float32)
    active = rng.random(n) < 0.01
    xj, activej = jnp.asarray(x), jnp.asarray(active)

    ours = {
        "Scalar": lazyconn.JITCScalarR(n, n, p, 0.5, seed=1),
        "Normal": lazyconn.JITCNormalR(n, n, p, 0.0, 1.0, seed=1),
    }
    # brainevent's two layouts (corder) favour different products: time both
    # and report the faster one, as a brainevent user would choose.
    peers = {
        "Scalar": [brainevent.JITCScalarR(0.5, p, 1, shape=(n, n), corder=c) for c in (False, True)],
        "Normal": [brainevent.JITCNormalR(0.0, 1.0, p, 1, shape=(n, n), corder=c) for c in (False, True)],
    }
    start = time.perf_counter()
    with lazyconn.set_options(max_dense_size=2**31):
        csr = ours["Scalar"].tocsr()
    build = time.perf_counter() - start
    csr_t = csr.T.tocsr()
    rows = np.flatnonzero(active)
    spikes = lazyconn.BinaryArray(active)

    def jitted(fn, operand):
        # jit once per matrix, as a brainevent user would inside a simulation step.
        compiled = jax.jit(fn)
        return lambda: jax.block_until_ready(compiled(operand))

    print(f"N = {n:,}, p = {p}, float32, {numba.get_num_threads()} Numba threads, jax {jax.__version__}")
    print(f"CSR: built from the lazyconn matrix in {build:.1f} s, "
          f"{(csr.data.nbytes + csr.indices.nbytes + csr.indptr.nbytes) / 2**20:.0f} MiB\n")
    print("| product | law | CSR | lazyconn | lazyconn / CSR | brainevent | brainevent / CSR | brainevent / lazyconn |")
    print("|---|---|---|---|---|---|---|---|")
    cases = [
        ("x @ M (dense x)", lambda: csr_t @ x, lambda c: (lambda: x @ c), lambda c: jitted(lambda v: v @ c, xj)),
        ("M @ y (dense y)", lambda: csr @ x, lambda c: (lambda: c @ x), lambda c: jitted(lambda v: c @ v, xj)),
        ("1% spikes @ M", lambda: csr[rows].sum(axis=0), lambda c: (lambda: spikes @ c),
         lambda c: jitted(lambda s: brainevent.BinaryArray(s) @ c, activej)),
    ]
    for name, baseline, lazy, peer in cases:
        for law in ("Scalar", "Normal"):
            t_csr = _median(baseline, args.repeat)
            t_ours = _median(lazy(ours[law]), args.repeat)
            t_layouts = [_median(peer(c), args.repeat) for c in peers[law]]
            t_peer = min(t_layouts)
            layout = f"corder={bool(np.argmin(t_layouts))}"
            print(f"| {name} | {law} | {t_csr * 1e3:.1f} ms | {t_ours * 1e3:.1f} ms | {t_ours / t_csr:.2f} | "
                  f"{t_peer * 1e3:.1f} ms ({layout}) | {t_peer / t_csr:.2f} | {t_peer / t_ours:.2f} |")


if __name__ == "__main__":
    main()
