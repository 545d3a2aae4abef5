"""Two layers of E/I populations with fixed in-degrees and log-normal weights.

Four populations of leaky integrate-and-fire neurons -- L2/3 E, L2/3 I,
L4 E, L4 I -- connected by eleven projections.  Every projection gives each
neuron of its target population exactly ``K = round(fraction * N_pre)``
inputs: a ``C`` matrix (column j lists the inputs of neuron j) with
``num_conn=K``.  Excitatory weights are log-normal (``JITCLogNormalC``),
inhibitory ones a single negative weight (``JITCScalarC``).  Within a layer
the weights and drive are those of ``lazyconn demo --fixed-indegree``
(:func:`lazyconn.demo.derive_network`); L4 E drives L2/3 and L2/3 E feeds
back to L4 E on top of that, their mean taken off the external drive.  Nothing is stored: each step regenerates the
columns it needs from eleven seeds.

    python examples/multi_population.py                      # 4,000 neurons, 50 ms
    python examples/multi_population.py --neurons 20000 --steps 3000
"""

import argparse
import math

import numpy as np

import lazyconn
from lazyconn import BinaryArray, demo

POPULATIONS = ("L23E", "L23I", "L4E", "L4I")
SHARES = {"L23E": 0.4, "L23I": 0.1, "L4E": 0.4, "L4I": 0.1}  # of all neurons
# (pre, post): the fraction of the presynaptic population each postsynaptic neuron hears.
FRACTIONS = {
    ("L23E", "L23E"): 0.1, ("L23E", "L23I"): 0.1, ("L23I", "L23E"): 0.1, ("L23I", "L23I"): 0.1,
    ("L4E", "L4E"): 0.1, ("L4E", "L4I"): 0.1, ("L4I", "L4E"): 0.1, ("L4I", "L4I"): 0.1,
    ("L4E", "L23E"): 0.02, ("L4E", "L23I"): 0.02,  # feedforward
    ("L23E", "L4E"): 0.01,  # feedback
}
LOGNORMAL_SIGMA = 0.5  # weight CV sqrt(exp(sigma^2) - 1) = 0.53


def build(n_neurons, seed):
    """Population slices, the projections and the within-layer parameters."""
    sizes = {pop: int(round(SHARES[pop] * n_neurons)) for pop in POPULATIONS}
    starts = np.cumsum([0] + [sizes[pop] for pop in POPULATIONS])
    slices = {pop: slice(int(starts[i]), int(starts[i + 1])) for i, pop in enumerate(POPULATIONS)}
    cv = math.sqrt(math.expm1(LOGNORMAL_SIGMA**2))
    params = demo.NetworkParameters(prob=0.1, fixed_indegree=True, weight_cv=cv)
    layer = demo.derive_network(sizes["L23E"] + sizes["L23I"], params)  # one layer's J_E, J_I, drive
    mu = math.log(layer["j_exc"]) - LOGNORMAL_SIGMA**2 / 2  # mean weight exp(mu + sigma^2 / 2) = J_E
    seeds = np.random.SeedSequence(seed).generate_state(len(FRACTIONS), np.uint64)
    projections = {}
    for (pre, post), fraction, projection_seed in zip(FRACTIONS, FRACTIONS.values(), seeds):
        k = int(round(fraction * sizes[pre]))
        if pre.endswith("E"):
            projections[pre, post] = lazyconn.JITCLogNormalC(
                sizes[pre], sizes[post], mu=mu, sigma=LOGNORMAL_SIGMA, num_conn=k, seed=int(projection_seed))
        else:
            projections[pre, post] = lazyconn.JITCScalarC(
                sizes[pre], sizes[post], weight=layer["j_inh"], num_conn=k, seed=int(projection_seed))
    return slices, projections, params, layer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=4_000, help="network size (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=500, help="steps of 0.1 ms (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    slices, projections, params, layer = build(args.neurons, args.seed)
    n = args.neurons
    for (pre, post), conn in projections.items():
        # Exactly K nonzeros in every column, counted on a window of columns.
        degrees = conn[:, :50].count_nonzero(axis=0)
        assert (degrees == conn.num_conn).all(), (pre, post, degrees)
        print(f"{pre:>4} -> {post:<4} K = {conn.num_conn:4d}  {type(conn).__name__}")

    # Per target population, one lazy matrix stacking its sources (in POPULATIONS order).
    sources = {post: [pre for pre in POPULATIONS if (pre, post) in projections] for post in POPULATIONS}
    stacked = {post: np.vstack([projections[pre, post] for pre in sources[post]]) for post in POPULATIONS}
    rows = {post: np.concatenate([np.arange(n)[slices[pre]] for pre in sources[post]]) for post in POPULATIONS}

    dt, tau = params.dt_ms, params.tau_m_ms
    delay = int(round(params.delay_ms / dt))
    rng = np.random.default_rng(args.seed)
    v = (layer["mu_mv"] + layer["sigma_mv"] / math.sqrt(2) * rng.standard_normal(n)).astype(np.float32)
    v[v >= params.theta_mv] = params.reset_mv  # as if just fired: no synchronous start-up volley
    refractory = np.zeros(n, dtype=np.int16)
    # Inputs of the next `delay` steps; at first the mean recurrent input of one layer.
    pending = np.full((delay, n), (layer["mu_mv"] - layer["drive_mv"]) * dt / tau, dtype=np.float32)
    block = np.zeros((delay, n), dtype=bool)
    spikes = np.zeros(n, dtype=np.int64)
    transient = min(args.steps // 4, int(round(50.0 / dt)))  # left out of the rates
    # The external drive of each population, less the mean input its inter-layer
    # excitation brings at the target rate: the target stays a fixed point.
    drive = np.empty(n, dtype=np.float32)
    for post in POPULATIONS:
        extra = sum(tau * params.rate_hz / 1000.0 * conn.num_conn * layer["j_exc"]
                    for (pre, target), conn in projections.items() if target == post and pre[:-1] != post[:-1])
        drive[slices[post]] = layer["drive_mv"] - extra
    leak, noise = np.float32(dt / tau), np.float32(params.sigma_ext_mv * math.sqrt(dt / tau))
    for t in range(args.steps):
        slot = t % delay
        v += leak * (drive - v) + noise * rng.standard_normal(n, dtype=np.float32)
        v += pending[slot]
        v[refractory > 0] = params.reset_mv
        spiking = v >= params.theta_mv
        v[spiking] = params.reset_mv
        refractory = np.where(spiking, int(round(params.refractory_ms / dt)), np.maximum(refractory - 1, 0))
        if t >= transient:
            spikes += spiking
        block[slot] = spiking
        if slot == delay - 1:
            # Spikes of one delay arrive during the next: one batched product per
            # target population generates each of its columns once.
            for post in POPULATIONS:
                pending[:, slices[post]] = BinaryArray(block[:, rows[post]]) @ stacked[post]

    seconds = (args.steps - transient) * dt / 1000.0
    rates = {pop: spikes[slices[pop]].mean() / seconds for pop in POPULATIONS}
    print(f"{n:,} neurons, {args.steps} steps of {dt} ms: rates "
          + ", ".join(f"{pop} {rate:.2f} Hz" for pop, rate in rates.items()))
    if not all(0.0 < rate < 200.0 for rate in rates.values()):
        raise SystemExit("a population is silent or saturated: check the parameters")


if __name__ == "__main__":
    main()
