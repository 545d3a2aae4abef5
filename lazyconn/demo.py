"""A balanced excitatory/inhibitory spiking network on JITC connectivity.

The network is Brunel's (2000) model A -- leaky integrate-and-fire neurons,
80% excitatory and 20% inhibitory, connection probability 0.02, delta
synapses with a 1.5 ms delay, an external drive -- with the synaptic scaling
of balanced networks (van Vreeswijk & Sompolinsky 1996): weights shrink as
``1/sqrt(K)`` with the in-degree K, the external drive grows as ``sqrt(K)``,
and recurrent inhibition cancels most of it.  The parameters are derived,
for every network size, from a target state (rate ``rate_hz``, input noise
``sigma_rec_mv`` and ``sigma_ext_mv``) through the Siegert formula, so a
10,000-neuron and a 1,000,000-neuron network fire at similar, asynchronous
and irregular rates.

Each time step costs only the rows of the neurons that spiked::

    inputs = BinaryArray(spikes_E) @ conn_E + BinaryArray(spikes_I) @ conn_I

where ``conn_E`` (``N_E x N``, Normal weights) and ``conn_I`` (``N_I x N``,
one inhibitory weight) are JITC matrices of a few hundred bytes each.  The
same code runs on NumPy (Numba kernels) or on CuPy (GPU kernels).

References
----------
N. Brunel, "Dynamics of sparsely connected networks of excitatory and
inhibitory spiking neurons", J. Comput. Neurosci. 8, 183-208 (2000).
C. van Vreeswijk and H. Sompolinsky, "Chaos in neuronal networks with
balanced excitatory and inhibitory activity", Science 274, 1724 (1996).
"""

from __future__ import annotations

import math
import os
import pickle
import sys
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "NetworkParameters",
    "DemoResult",
    "derive_network",
    "build_network",
    "simulate",
    "memory_report",
    "plot_raster",
    "plot_connectivity",
    "run_demo",
    "default_neurons",
]


@dataclass(frozen=True)
class NetworkParameters:
    """Neuron, synapse and target-state parameters of the demo network.

    Attributes
    ----------
    dt_ms : float
        Time step (ms).
    tau_m_ms : float
        Membrane time constant (ms).
    theta_mv, reset_mv : float
        Threshold and reset potential (mV, relative to rest).
    refractory_ms : float
        Absolute refractory period (ms).
    delay_ms : float
        Synaptic delay (ms); a multiple of ``dt_ms``.
    prob : float
        Connection probability of both projections.
    excitatory_fraction : float
        Fraction of excitatory neurons.
    g : float
        Relative strength of inhibition: an inhibitory weight is ``-g`` times
        the mean excitatory one.  ``g > 4`` makes the network
        inhibition-dominated (4 = N_E / N_I).
    weight_cv : float
        Coefficient of variation of the Normal excitatory weights.
    rate_hz : float
        Target firing rate from which the drive is derived.
    sigma_rec_mv, sigma_ext_mv : float
        Recurrent and external input noise at the target rate (mV).
    """

    dt_ms: float = 0.1
    tau_m_ms: float = 20.0
    theta_mv: float = 20.0
    reset_mv: float = 10.0
    refractory_ms: float = 2.0
    delay_ms: float = 1.5
    prob: float = 0.02
    excitatory_fraction: float = 0.8
    g: float = 5.0
    weight_cv: float = 0.25
    rate_hz: float = 8.0
    sigma_rec_mv: float = 4.0
    sigma_ext_mv: float = 3.0


def _erfcx_neg(u):
    """``exp(u**2) * (1 + erf(u))``, stable for negative ``u``."""
    if u > -5.0:
        return math.exp(u * u) * math.erfc(-u)
    # Asymptotic series of erfcx(-u) for -u >= 5: relative error < 1e-5.
    v = -u
    return (1.0 - 0.5 / v**2 + 0.75 / v**4 - 1.875 / v**6) / (v * math.sqrt(math.pi))


def siegert_rate(mu, sigma, params):
    """Stationary rate (Hz) of a LIF neuron driven by white noise.

    Brunel (2000), eq. 21: ``1/nu = tau_ref + tau_m sqrt(pi)
    integral_{(V_r - mu)/sigma}^{(theta - mu)/sigma} exp(u^2)(1 + erf u) du``.

    Parameters
    ----------
    mu, sigma : float
        Mean and noise amplitude of the input (mV).
    params : NetworkParameters

    Returns
    -------
    float
    """
    lower = (params.reset_mv - mu) / sigma
    upper = (params.theta_mv - mu) / sigma
    if upper > 12.0:  # exp(144): a silent neuron, and no overflow
        return 0.0
    n = 400  # Simpson intervals; the integrand is smooth
    h = (upper - lower) / n
    total = _erfcx_neg(lower) + _erfcx_neg(upper)
    for i in range(1, n):
        total += (4 if i % 2 else 2) * _erfcx_neg(lower + i * h)
    integral = total * h / 3.0
    period_ms = params.refractory_ms + params.tau_m_ms * math.sqrt(math.pi) * integral
    return 1000.0 / period_ms


def _mean_input_for_rate(rate_hz, sigma, params):
    """The mean input (mV) at which :func:`siegert_rate` gives ``rate_hz``."""
    low, high = -10.0 * sigma, params.theta_mv + 10.0 * sigma
    for _ in range(80):  # bisection: the rate increases with mu
        mid = 0.5 * (low + high)
        if siegert_rate(mid, sigma, params) < rate_hz:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def derive_network(n_neurons, params=None):
    """Population sizes, weights and drive of an ``n_neurons`` network.

    The excitatory weight ``J`` gives recurrent noise ``sigma_rec_mv`` at
    the target rate; the external mean drive is the Siegert mean input of
    the target state minus the (negative, inhibition-dominated) mean
    recurrent input, so the target rate is a fixed point at every size.

    Parameters
    ----------
    n_neurons : int
        Total neurons, at least 10.
    params : NetworkParameters, optional

    Returns
    -------
    dict
        ``n_exc``, ``n_inh``, ``k_exc``, ``k_inh`` (expected in-degrees),
        ``j_exc`` (mean excitatory weight, mV), ``j_inh`` (inhibitory weight,
        mV, negative), ``drive_mv`` (external mean), ``mu_mv`` (target mean
        input), ``sigma_mv`` (target total noise).

    Raises
    ------
    ValueError
        If ``n_neurons`` is too small to have both populations connected.
    """
    params = NetworkParameters() if params is None else params
    n_exc = int(round(params.excitatory_fraction * n_neurons))
    n_inh = n_neurons - n_exc
    k_exc, k_inh = params.prob * n_exc, params.prob * n_inh
    if n_inh < 1 or k_inh <= 0.5:
        raise ValueError(
            f"n_neurons={n_neurons} is too small: each neuron would receive "
            f"{k_inh:.2f} inhibitory inputs; use at least {int(math.ceil(1.0 / params.prob / (1 - params.excitatory_fraction)))} neurons"
        )
    rate_khz = params.rate_hz / 1000.0
    # sigma^2 = tau * nu * sum_k K_k E[w_k^2] (Brunel 2000, eq. 5 with Normal weights).
    second_moment = k_exc * (1.0 + params.weight_cv**2) + k_inh * params.g**2
    j_exc = params.sigma_rec_mv / math.sqrt(params.tau_m_ms * rate_khz * second_moment)
    j_inh = -params.g * j_exc
    sigma = math.hypot(params.sigma_rec_mv, params.sigma_ext_mv)
    mu = _mean_input_for_rate(params.rate_hz, sigma, params)
    recurrent_mean = params.tau_m_ms * rate_khz * (k_exc * j_exc + k_inh * j_inh)
    return {
        "n_exc": n_exc,
        "n_inh": n_inh,
        "k_exc": k_exc,
        "k_inh": k_inh,
        "j_exc": j_exc,
        "j_inh": j_inh,
        "drive_mv": mu - recurrent_mean,
        "mu_mv": mu,
        "sigma_mv": sigma,
    }


def _derived_seeds(seed, count):
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(count, np.uint64)]


def build_network(n_neurons, seed=0, params=None):
    """The two JITC projections of the network.

    Parameters
    ----------
    n_neurons : int
    seed : int
        Root seed; the projections get independent 64-bit seeds from it.
    params : NetworkParameters, optional

    Returns
    -------
    conn_exc : JITCNormalR
        ``N_E x N``: row i holds the outgoing synapses of excitatory neuron i.
    conn_inh : JITCScalarR
        ``N_I x N``: the same for inhibitory neurons.
    derived : dict
        As returned by :func:`derive_network`.
    """
    import lazyconn

    params = NetworkParameters() if params is None else params
    derived = derive_network(n_neurons, params)
    seed_exc, seed_inh = _derived_seeds(seed, 2)
    j = derived["j_exc"]
    conn_exc = lazyconn.JITCNormalR(
        derived["n_exc"], n_neurons, params.prob, j, params.weight_cv * j, seed=seed_exc
    )
    conn_inh = lazyconn.JITCScalarR(derived["n_inh"], n_neurons, params.prob, derived["j_inh"], seed=seed_inh)
    return conn_exc, conn_inh, derived


@dataclass
class DemoResult:
    """What a demo run measured.

    Attributes
    ----------
    n_neurons, n_steps : int
    n_exc : int
        Excitatory neurons (the first ``n_exc`` indices).
    backend : str
        ``"numpy"`` or ``"cupy"``, and the kernel module used.
    rate_exc_hz, rate_inh_hz : float
        Mean firing rates after the first ``warmup_ms``.
    cv_isi : float
        Irregularity of the recorded neurons: mean CV2 of their inter-spike
        intervals (1 for Poisson firing, 0 for clock-like; NaN if too few
        spikes).
    wall_s : float
        Wall time of the simulation loop.
    raster_times_ms, raster_neurons : numpy.ndarray
        Spikes of the recorded neurons (excitatory first, then inhibitory).
    n_recorded_exc, n_recorded_inh : int
    population_counts : numpy.ndarray
        Spikes per step, shape ``(n_steps, 2)`` (excitatory, inhibitory).
    memory : dict
        As returned by :func:`memory_report`.
    warmup_ms, dt_ms : float
        Transient left out of the rates; time step.
    files : list of str
        Pictures written.
    """

    n_neurons: int
    n_steps: int
    n_exc: int
    backend: str
    rate_exc_hz: float
    rate_inh_hz: float
    cv_isi: float
    wall_s: float
    raster_times_ms: np.ndarray
    raster_neurons: np.ndarray
    n_recorded_exc: int
    n_recorded_inh: int
    population_counts: np.ndarray
    memory: dict
    warmup_ms: float
    dt_ms: float
    files: list = field(default_factory=list)


def _cupy_if_usable():
    """The cupy module when a GPU and lazyconn's GPU kernels work, else None."""
    from ._info import gpu_status

    if not gpu_status()["available"]:
        return None
    import cupy

    return cupy


def default_neurons(xp_name):
    """Default network size: 1,000,000 on a GPU, 100,000 on the CPU.

    Parameters
    ----------
    xp_name : {"numpy", "cupy"}

    Returns
    -------
    int
    """
    return 1_000_000 if xp_name == "cupy" else 100_000


def simulate(conn_exc, conn_inh, derived, n_steps, seed=0, params=None, xp=np, n_record=500,
             progress=True):
    """Run the network for ``n_steps`` steps of ``params.dt_ms``.

    Parameters
    ----------
    conn_exc, conn_inh : JITCMatrix
        From :func:`build_network`.
    derived : dict
        From :func:`derive_network`.
    n_steps : int
    seed : int
        Seeds the initial potentials and the external noise.
    params : NetworkParameters, optional
    xp : module
        ``numpy`` or ``cupy``: where the state lives and the products run.
    n_record : int
        Neurons whose spikes are kept for the raster (80% excitatory).
    progress : bool
        Show a tqdm progress bar (on stderr) when tqdm is installed.

    Returns
    -------
    dict
        ``raster`` (bool, ``(n_steps, n_rec)``), ``counts`` (int,
        ``(n_steps, 2)``), ``wall_s``, ``n_rec_exc``, ``n_rec_inh`` -- NumPy
        arrays on the host.
    """
    from .events import BinaryArray

    params = NetworkParameters() if params is None else params
    n_exc, n_inh = derived["n_exc"], derived["n_inh"]
    n = n_exc + n_inh
    dt, tau = params.dt_ms, params.tau_m_ms
    delay_steps = max(1, int(round(params.delay_ms / dt)))
    refractory_steps = int(round(params.refractory_ms / dt))
    leak = np.float32(dt / tau)
    drive = np.float32(derived["drive_mv"])
    noise = np.float32(params.sigma_ext_mv * math.sqrt(dt / tau))
    theta, reset = np.float32(params.theta_mv), np.float32(params.reset_mv)

    rng = xp.random.default_rng(seed)
    # Start from the stationary spread around the target mean input; draws
    # above threshold count as neurons that have just fired (at reset), so
    # the run does not begin with a synchronous volley.
    v = (derived["mu_mv"] + derived["sigma_mv"] / math.sqrt(2.0) * rng.standard_normal(n, dtype=xp.float32))
    v = xp.where(v >= theta, reset, v).astype(xp.float32)
    refractory = xp.zeros(n, dtype=xp.int16)
    # Ring buffer of delayed inputs: what spikes of step t send arrives at
    # step t + delay_steps, which reuses slot t % delay_steps.
    # Its first delay_steps slots hold the mean recurrent input of the
    # target state: starting from zero, the (large, balanced) external drive
    # alone would push most neurons over threshold together.
    per_step = (derived["mu_mv"] - derived["drive_mv"]) * dt / tau
    pending = xp.full((delay_steps, n), per_step, dtype=xp.float32)

    n_rec_exc = min(n_exc, int(round(n_record * 0.8)))
    n_rec_inh = min(n_inh, n_record - n_rec_exc)
    recorded = xp.concatenate([xp.arange(n_rec_exc), n_exc + xp.arange(n_rec_inh)])
    raster = xp.zeros((n_steps, recorded.size), dtype=bool)
    counts = xp.zeros((n_steps, 2), dtype=xp.int32)

    # One product per projection before the clock starts: compiling the
    # kernels (Numba, CUDA) is not simulation time.
    for conn in (conn_exc, conn_inh):
        warm = xp.zeros(conn.shape[0], dtype=bool)
        warm[0] = True
        BinaryArray(warm) @ conn

    steps = range(n_steps)
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(steps, desc=f"{n:,} neurons", unit="step", file=sys.stderr, mininterval=0.5)
            steps = bar
        except ImportError:
            pass

    start = time.perf_counter()
    for t in steps:
        slot = t % delay_steps
        v += leak * (drive - v) + noise * rng.standard_normal(n, dtype=xp.float32) + pending[slot]
        # Refractory neurons stay at reset and ignore their input.
        v = xp.where(refractory > 0, reset, v)
        spiking = v >= theta
        v = xp.where(spiking, reset, v)
        refractory = xp.where(spiking, xp.int16(refractory_steps), xp.maximum(refractory - 1, 0).astype(xp.int16))
        spikes_exc, spikes_inh = spiking[:n_exc], spiking[n_exc:]
        # The event-driven products: only the rows of neurons that spiked.
        pending[slot] = BinaryArray(spikes_exc) @ conn_exc + BinaryArray(spikes_inh) @ conn_inh
        raster[t] = spiking[recorded]
        counts[t, 0] = spikes_exc.sum()
        counts[t, 1] = spikes_inh.sum()
    if xp.__name__ == "cupy":
        xp.cuda.Device().synchronize()
    wall = time.perf_counter() - start
    if bar is not None:
        bar.close()
    to_host = (lambda a: a.get()) if xp.__name__ == "cupy" else np.asarray
    return {
        "raster": to_host(raster),
        "counts": to_host(counts),
        "wall_s": wall,
        "n_rec_exc": n_rec_exc,
        "n_rec_inh": n_rec_inh,
    }


def _mean_cv2(raster, dt_ms, first_step):
    """Mean CV2 of inter-spike intervals (Holt et al. 1996), NaN if too few.

    CV2 = 2 |I_{k+1} - I_k| / (I_{k+1} + I_k) compares neighbouring
    intervals only, so unlike the CV it is not biased low by short runs or
    by rate differences between neurons; it is 1 for Poisson spike trains.
    """
    values = []
    for column in raster[first_step:].T:
        intervals = np.diff(np.flatnonzero(column) * dt_ms)
        if intervals.size >= 2:
            values.append(2.0 * np.abs(np.diff(intervals)) / (intervals[1:] + intervals[:-1]))
    if not values:
        return float("nan")
    values = np.concatenate(values)
    return float(values.mean()) if values.size >= 20 else float("nan")


def _cv_text(value):
    return f"{value:.2f}" if math.isfinite(value) else "n/a"


def memory_report(conn_exc, conn_inh):
    """Bytes of the JITC projections next to CSR and dense storage.

    CSR bytes count float32 values, column indices and row pointers with the
    index dtype SciPy would choose (int32 below 2**31 stored entries, int64
    above), for the expected number of synapses ``p * rows * columns``.

    Parameters
    ----------
    conn_exc, conn_inh : JITCMatrix

    Returns
    -------
    dict
        ``synapses`` (expected), ``jitc_bytes`` (pickled size of both
        matrices), ``csr_bytes``, ``dense_bytes``.
    """
    synapses = 0.0
    csr = 0
    dense = 0
    for conn in (conn_exc, conn_inh):
        rows, cols = conn.shape
        nnz = conn.prob * rows * cols
        index_bytes = 4 if nnz < 2**31 and max(rows, cols) < 2**31 else 8
        synapses += nnz
        csr += int(nnz * (conn.dtype.itemsize + index_bytes) + (rows + 1) * index_bytes)
        dense += rows * cols * conn.dtype.itemsize
    jitc = len(pickle.dumps(conn_exc)) + len(pickle.dumps(conn_inh))
    return {"synapses": synapses, "jitc_bytes": jitc, "csr_bytes": csr, "dense_bytes": dense}


def format_bytes(n_bytes):
    """``1536`` -> ``'1.5 KiB'``.

    Parameters
    ----------
    n_bytes : int or float

    Returns
    -------
    str
    """
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _pyplot():
    import matplotlib

    # Files only: never open a window, even where a display exists.
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_raster(result, path):
    """Spike raster of the recorded neurons above the population rate.

    Parameters
    ----------
    result : DemoResult
    path : str or os.PathLike
        PNG file to write.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    """
    plt = _pyplot()
    fig, (ax_raster, ax_rate) = plt.subplots(
        2, 1, figsize=(10, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    excitatory = result.raster_neurons < result.n_recorded_exc
    size = max(0.5, min(4.0, 4000.0 / max(1, result.raster_times_ms.size)))
    ax_raster.scatter(result.raster_times_ms[excitatory], result.raster_neurons[excitatory],
                      s=size, c="tab:red", marker="|", linewidths=0.6, label="excitatory")
    ax_raster.scatter(result.raster_times_ms[~excitatory], result.raster_neurons[~excitatory],
                      s=size, c="tab:blue", marker="|", linewidths=0.6, label="inhibitory")
    ax_raster.set_ylabel("recorded neuron")
    ax_raster.set_ylim(-1, result.n_recorded_exc + result.n_recorded_inh)
    ax_raster.legend(loc="upper right", markerscale=4, framealpha=0.9)
    ax_raster.set_title(
        f"{result.n_neurons:,} LIF neurons, JITC connectivity (p = 0.02): "
        f"E {result.rate_exc_hz:.1f} Hz, I {result.rate_inh_hz:.1f} Hz, CV2 {_cv_text(result.cv_isi)}"
    )
    # Population rate in 1 ms bins, in Hz per neuron.
    bin_steps = max(1, int(round(1.0 / result.dt_ms)))
    n_bins = result.population_counts.shape[0] // bin_steps
    counts = result.population_counts[: n_bins * bin_steps].reshape(n_bins, bin_steps, 2).sum(axis=1)
    n_exc = result.n_exc
    n_inh = result.n_neurons - n_exc
    centres = (np.arange(n_bins) + 0.5) * bin_steps * result.dt_ms
    ax_rate.plot(centres, counts[:, 0] / n_exc / (bin_steps * result.dt_ms) * 1000.0, c="tab:red", lw=0.8)
    ax_rate.plot(centres, counts[:, 1] / n_inh / (bin_steps * result.dt_ms) * 1000.0, c="tab:blue", lw=0.8)
    ax_rate.set_ylabel("rate (Hz)")
    ax_rate.set_xlabel("time (ms)")
    ax_rate.set_xlim(0, result.n_steps * result.dt_ms)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _binomial_pmf(k, n, p):
    """Binomial(n, p) probabilities at integers ``k`` (log-space, no SciPy)."""
    k = np.asarray(k, dtype=np.float64)
    lgamma = np.vectorize(math.lgamma)
    log_pmf = lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1) + k * math.log(p) + (n - k) * math.log1p(-p)
    return np.exp(log_pmf)


def plot_connectivity(conn_exc, conn_inh, path, sample=2000):
    """Histograms of in-degrees, out-degrees and weights, generated on demand.

    Degrees are exact counts over windows of ``sample`` neurons
    (``count_nonzero`` of a column or row window), drawn against the
    Binomial law of the generator; weights are those of ``sample // 10``
    excitatory rows and all inhibitory weights of ``sample // 10`` rows.

    Parameters
    ----------
    conn_exc, conn_inh : JITCMatrix
    path : str or os.PathLike
        PNG file to write.
    sample : int
        Neurons per degree window.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    """
    plt = _pyplot()
    n = conn_exc.shape[1]
    columns = min(sample, n)
    in_exc = conn_exc[:, :columns].count_nonzero(axis=0)
    in_inh = conn_inh[:, :columns].count_nonzero(axis=0)
    out_exc = conn_exc[: min(sample, conn_exc.shape[0])].count_nonzero(axis=1)
    rows = max(1, min(sample // 10, conn_exc.shape[0], conn_inh.shape[0]))
    _, _, w_exc = conn_exc[:rows].tocoo_arrays()
    _, _, w_inh = conn_inh[:rows].tocoo_arrays()

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, data, n_trials, colour, label in (
        (axes[0], in_exc, conn_exc.shape[0], "tab:red", "from E"),
        (axes[0], in_inh, conn_inh.shape[0], "tab:blue", "from I"),
        (axes[1], out_exc, n, "tab:red", "E neurons"),
    ):
        low, high = int(data.min()), int(data.max())
        edges = np.arange(low, high + 2) - 0.5
        step = max(1, (high - low + 1) // 40)
        edges = edges[::step]
        ax.hist(data, bins=edges, density=True, color=colour, alpha=0.5, label=f"{label} (measured)")
        k = np.arange(low, high + 1)
        ax.plot(k, _binomial_pmf(k, n_trials, conn_exc.prob), c=colour, lw=1.2, label=f"Binomial({n_trials:,}, p)")
    axes[0].set_title(f"in-degree of {columns:,} neurons")
    axes[0].set_xlabel("synapses received")
    axes[1].set_title(f"out-degree of {len(out_exc):,} E neurons")
    axes[1].set_xlabel("synapses sent")
    for ax in axes[:2]:
        ax.set_ylabel("fraction of neurons")
        ax.legend(fontsize=8)
    axes[2].hist(w_exc, bins=60, color="tab:red", alpha=0.6, label=f"E: Normal ({w_exc.size:,} synapses)")
    axes[2].axvline(float(w_inh[0]) if w_inh.size else 0.0, c="tab:blue", lw=2,
                    label=f"I: one weight ({w_inh.size:,} synapses)")
    axes[2].set_title("synaptic weights")
    axes[2].set_xlabel("weight (mV)")
    axes[2].set_ylabel("synapses")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_demo(neurons=None, steps=None, out=".", seed=0, quick=False, device="auto", progress=True,
             params=None, stream=None):
    """Build, simulate, report and plot the balanced network: ``lazyconn demo``.

    Parameters
    ----------
    neurons : int, optional
        Network size.  Default: 10,000 with ``quick``, else 1,000,000 on a
        usable GPU and 100,000 on the CPU.
    steps : int, optional
        Time steps of 0.1 ms.  Default: 3,000 (300 ms of network time).
    out : str or os.PathLike
        Folder for ``raster.png`` and ``connectivity.png`` (created).
    seed : int
        Root seed of connectivity, initial state and noise.
    quick : bool
        Small defaults, for a check that finishes in seconds.
    device : {"auto", "cpu", "gpu"}
        Where to simulate; "auto" takes the GPU when CuPy and lazyconn's GPU
        kernels work.
    progress : bool
        Show a progress bar.
    params : NetworkParameters, optional
    stream : file-like, optional
        Where the report is printed (default ``sys.stdout``).

    Returns
    -------
    DemoResult

    Raises
    ------
    RuntimeError
        If ``device="gpu"`` and no usable GPU is found.
    ValueError
        For a network too small or a non-positive step count.
    """
    stream = sys.stdout if stream is None else stream
    params = NetworkParameters() if params is None else params
    if device not in ("auto", "cpu", "gpu"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'gpu', got {device!r}")
    cupy = None if device == "cpu" else _cupy_if_usable()
    if device == "gpu" and cupy is None:
        raise RuntimeError(
            "device='gpu' needs CuPy with a working CUDA device and lazyconn's GPU kernels; "
            "run `lazyconn info` to see what is missing, or use device='cpu'"
        )
    xp = cupy if cupy is not None else np
    if neurons is None:
        neurons = 10_000 if quick else default_neurons(xp.__name__)
    if steps is None:
        steps = 3_000
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")

    from .kernels import backend_for_namespace

    kernels = getattr(backend_for_namespace(xp), "NAME", "?")
    conn_exc, conn_inh, derived = build_network(neurons, seed, params)
    memory = memory_report(conn_exc, conn_inh)
    print(
        f"lazyconn demo: {neurons:,} LIF neurons ({derived['n_exc']:,} E, {derived['n_inh']:,} I), "
        f"p = {params.prob}, {steps:,} steps of {params.dt_ms} ms on {xp.__name__} ({kernels} kernels)",
        file=stream,
    )
    print(
        f"  in-degree ~{derived['k_exc']:,.0f} E + {derived['k_inh']:,.0f} I; "
        f"J_E = {derived['j_exc']:.4f} mV (Normal, CV {params.weight_cv}), J_I = {derived['j_inh']:.4f} mV; "
        f"external drive {derived['drive_mv']:.1f} mV",
        file=stream, flush=True,
    )
    sim = simulate(conn_exc, conn_inh, derived, steps, seed, params, xp, progress=progress)

    dt = params.dt_ms
    warmup_ms = 50.0 if steps * dt >= 150.0 else 0.0
    first = int(round(warmup_ms / dt))
    duration_s = (steps - first) * dt / 1000.0
    counts = sim["counts"][first:].sum(axis=0)
    rate_exc = float(counts[0]) / derived["n_exc"] / duration_s
    rate_inh = float(counts[1]) / derived["n_inh"] / duration_s
    step_index, neuron_index = np.nonzero(sim["raster"])
    result = DemoResult(
        n_neurons=neurons, n_steps=steps, n_exc=derived["n_exc"], backend=f"{xp.__name__} ({kernels})",
        rate_exc_hz=rate_exc, rate_inh_hz=rate_inh,
        cv_isi=_mean_cv2(sim["raster"], dt, first), wall_s=sim["wall_s"],
        raster_times_ms=step_index * dt, raster_neurons=neuron_index,
        n_recorded_exc=sim["n_rec_exc"], n_recorded_inh=sim["n_rec_inh"],
        population_counts=sim["counts"], memory=memory, warmup_ms=warmup_ms, dt_ms=dt,
    )

    after = f" after {warmup_ms:.0f} ms" if warmup_ms else ""
    cv = _cv_text(result.cv_isi) if math.isfinite(result.cv_isi) else "n/a (too few spikes; run longer)"
    print(f"  firing rates{after}: E {rate_exc:.2f} Hz, I {rate_inh:.2f} Hz; "
          f"irregularity CV2 {cv} (Poisson: 1)", file=stream)
    simulated_s = steps * dt / 1000.0
    print(f"  wall time {result.wall_s:.1f} s for {simulated_s:.2f} s of network time "
          f"({result.wall_s / steps * 1000:.2f} ms per step)", file=stream)
    print(f"  synapses ~{memory['synapses']:,.0f}; stored as JITC {format_bytes(memory['jitc_bytes'])} "
          f"(pickled), CSR would need {format_bytes(memory['csr_bytes'])}, "
          f"dense {format_bytes(memory['dense_bytes'])}", file=stream)

    os.makedirs(out, exist_ok=True)
    try:
        raster_path = os.path.join(out, "raster.png")
        plot_raster(result, raster_path)
        result.files.append(raster_path)
        connectivity_path = os.path.join(out, "connectivity.png")
        plot_connectivity(conn_exc, conn_inh, connectivity_path)
        result.files.append(connectivity_path)
    except ImportError:
        print("  no pictures: matplotlib is not installed (pip install 'lazyconn[plot]')", file=stream)
    else:
        print(f"  wrote {', '.join(result.files)}", file=stream)
    return result
