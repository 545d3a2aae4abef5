"""A balanced E/I spiking network whose connectivity is never stored.

Uses the building blocks of ``lazyconn demo`` (:mod:`lazyconn.demo`) step by
step: derive the parameters for a network size, build the two JITC
projections, stack them into the recurrent matrix, simulate, then read rates
and memory.  The inner loop of :func:`lazyconn.demo.simulate` is the whole
idea::

    W = np.vstack([conn_E, conn_I])       # N x N, nothing generated
    inputs = BinaryArray(spikes) @ W      # only the rows of neurons that spiked

    python examples/ei_network.py                          # 100,000 neurons, 200 ms
    python examples/ei_network.py --neurons 4000 --steps 500
"""

import argparse

import numpy as np

from lazyconn import demo


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=100_000, help="network size (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=2_000, help="steps of 0.1 ms (default: %(default)s)")
    parser.add_argument("--out", default=None, help="folder for raster.png (default: no picture)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    params = demo.NetworkParameters()  # Brunel (2000) model A, balanced scaling
    conn_exc, conn_inh, derived = demo.build_network(args.neurons, seed=args.seed, params=params)
    weights = np.vstack([conn_exc, conn_inh])  # the N x N recurrent matrix, still lazy
    print(weights)
    print(f"target {params.rate_hz} Hz: J_E = {derived['j_exc']:.4f} mV, J_I = {derived['j_inh']:.4f} mV, "
          f"external drive {derived['drive_mv']:.2f} mV")

    sim = demo.simulate(conn_exc, conn_inh, derived, args.steps, seed=args.seed, params=params, xp=np)
    transient = min(args.steps // 4, int(50.0 / params.dt_ms))  # leave out the start-up volley
    seconds = (args.steps - transient) * params.dt_ms / 1000.0
    spikes_exc, spikes_inh = sim["counts"][transient:].sum(axis=0)
    rate_exc = spikes_exc / derived["n_exc"] / seconds
    rate_inh = spikes_inh / derived["n_inh"] / seconds
    print(f"rates: E {rate_exc:.2f} Hz, I {rate_inh:.2f} Hz in {sim['wall_s']:.1f} s of wall time")

    memory = demo.memory_report(conn_exc, conn_inh)
    print(f"memory: JITC {demo.format_bytes(memory['jitc_bytes'])}, CSR {demo.format_bytes(memory['csr_bytes'])}, "
          f"dense {demo.format_bytes(memory['dense_bytes'])}")
    if not (0.5 < rate_exc < 50.0 and 0.5 < rate_inh < 50.0):
        raise SystemExit("rates outside the asynchronous irregular range: check the parameters")

    if args.out:
        import os

        step_index, neuron_index = np.nonzero(sim["raster"])
        result = demo.DemoResult(
            n_neurons=args.neurons, n_steps=args.steps, n_exc=derived["n_exc"], backend="numpy",
            rate_exc_hz=rate_exc, rate_inh_hz=rate_inh, cv_isi=float("nan"), wall_s=sim["wall_s"],
            raster_times_ms=step_index * params.dt_ms, raster_neurons=neuron_index,
            n_recorded_exc=sim["n_rec_exc"], n_recorded_inh=sim["n_rec_inh"],
            population_counts=sim["counts"], memory=memory, warmup_ms=transient * params.dt_ms,
            dt_ms=params.dt_ms,
        )
        os.makedirs(args.out, exist_ok=True)
        demo.plot_raster(result, os.path.join(args.out, "raster.png"))
        print(f"wrote {os.path.join(args.out, 'raster.png')}")


if __name__ == "__main__":
    main()
