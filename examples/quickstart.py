"""Quickstart: a 100,000 x 100,000 JITC matrix and an event-driven product.

The README's ten lines, then a check that the event-driven product equals
the sum of the dense rows of the active spikes (generated one by one, a
different code path).

    python examples/quickstart.py                 # 100,000 neurons
    python examples/quickstart.py --neurons 2000  # a small run
"""

import argparse
import pickle
import time

import numpy as np

import lazyconn


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=100_000, help="matrix side (default: %(default)s)")
    args = parser.parse_args(argv)
    n = args.neurons

    # --- the README snippet -------------------------------------------------
    conn = lazyconn.JITCScalarR(num_pre=n, num_post=n, prob=0.01, weight=0.5, seed=0)
    spikes = lazyconn.BinaryArray(np.random.default_rng(1).random(n) < 0.01)
    start = time.perf_counter()
    currents = spikes @ conn  # only the ~1% active rows are generated
    elapsed = time.perf_counter() - start
    print(conn)
    print(f"{n:,} x {n:,} matrix, ~{0.01 * n * n:,.0f} synapses, pickled in {len(pickle.dumps(conn))} bytes")
    print(conn[:5, :8].todense())  # any window, materialised on demand
    print(conn.T)  # the same generator, column-major: exact

    # --- check: currents == sum of the dense rows of the active neurons ----
    active = np.flatnonzero(np.asarray(spikes))
    expected = np.zeros(n, dtype=np.float64)
    for i in active:
        expected += conn[int(i)]  # one dense row, generated on demand
    np.testing.assert_allclose(currents, expected, rtol=1e-5, atol=1e-4)
    print(f"{active.size:,} active rows: spikes @ conn took {elapsed * 1e3:.1f} ms and equals the sum "
          f"of their dense rows (max |difference| {np.abs(currents - expected).max():.2e})")
    print(f"mean current {currents.mean():.4f} (expected 0.5 * 0.01 * {active.size} = "
          f"{0.5 * 0.01 * active.size:.4f})")


if __name__ == "__main__":
    main()
