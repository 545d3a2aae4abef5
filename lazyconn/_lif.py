"""The demo network's neuron model: parameters and the arithmetic of one step.

Shared by the one-process loop (:func:`lazyconn.demo.simulate`) and the
per-worker blocks of :mod:`lazyconn.distributed`, so both take the same
float32 operations in the same order and give the same spikes, bit for bit.
Everything here is elementwise over neurons: a slice of the neurons, with
the same slice of the noise and inputs, gives the same slice of the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np


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
        Connection probability of both projections; with ``fixed_indegree``,
        the fraction of each population that projects to every neuron.
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
    fixed_indegree : bool
        Every neuron receives exactly ``K_E = round(prob * N_E)`` excitatory
        and ``K_I = round(prob * N_I)`` inhibitory inputs (``num_conn``
        ``C`` matrices) instead of Bernoulli(``prob``) ones.
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
    fixed_indegree: bool = False


def fixed_indegree_parameters(params=None):
    """Brunel's fixed in-degree variant: ``prob = 0.1`` (K = 0.1 N_E, 0.1 N_I).

    Parameters
    ----------
    params : NetworkParameters, optional
        Kept, with ``fixed_indegree=True``; when left out, the defaults with
        ``prob=0.1`` (Brunel 2000's epsilon).

    Returns
    -------
    NetworkParameters
    """
    if params is None:
        return NetworkParameters(prob=0.1, fixed_indegree=True)
    return replace(params, fixed_indegree=True)


def _in_degrees(n_exc, n_inh, params):
    """Excitatory and inhibitory in-degrees: exact integers with ``fixed_indegree``, else expected."""
    if params.fixed_indegree:
        return int(round(params.prob * n_exc)), int(round(params.prob * n_inh))
    return params.prob * n_exc, params.prob * n_inh


@dataclass(frozen=True)
class _LIFConstants:
    """Float32 constants of the neuron update."""

    leak: np.float32
    drive: np.float32
    noise: np.float32
    theta: np.float32
    reset: np.float32
    delay_steps: int
    refractory_steps: int

    @classmethod
    def of(cls, derived, params):
        """Constants of the network ``derived`` (:func:`derive_network`) under ``params``."""
        dt, tau = params.dt_ms, params.tau_m_ms
        return cls(
            leak=np.float32(dt / tau), drive=np.float32(derived["drive_mv"]),
            noise=np.float32(params.sigma_ext_mv * math.sqrt(dt / tau)),
            theta=np.float32(params.theta_mv), reset=np.float32(params.reset_mv),
            delay_steps=max(1, int(round(params.delay_ms / dt))),
            refractory_steps=int(round(params.refractory_ms / dt)),
        )


def _initial_potentials(derived, lif, rng, n, xp):
    """Potentials of all ``n`` neurons at step 0 (draws ``n`` normals from ``rng``)."""
    # Start from the stationary spread around the target mean input; draws
    # above threshold count as neurons that have just fired (at reset), so
    # the run does not begin with a synchronous volley.
    v = (derived["mu_mv"] + derived["sigma_mv"] / math.sqrt(2.0) * rng.standard_normal(n, dtype=xp.float32))
    return xp.where(v >= lif.theta, lif.reset, v).astype(xp.float32)


def _initial_inputs(derived, params, lif, n, xp):
    """The ring buffer of delayed inputs at step 0, shape ``(delay_steps, n)``."""
    # Spikes of step t arrive at step t + delay_steps, in slot t % delay_steps.
    # The first slots hold the mean recurrent input of the target state: from
    # zero, the (large, balanced) drive alone would fire most neurons together.
    per_step = (derived["mu_mv"] - derived["drive_mv"]) * params.dt_ms / params.tau_m_ms
    return xp.full((lif.delay_steps, n), per_step, dtype=xp.float32)


def _lif_step(v, refractory, normals, inputs, lif, xp):
    """One LIF step, ``(v, refractory, spiking)``; elementwise, so slices give slices, bit for bit."""
    v += lif.leak * (lif.drive - v) + lif.noise * normals + inputs
    # Refractory neurons stay at reset and ignore their input.
    v = xp.where(refractory > 0, lif.reset, v)
    spiking = v >= lif.theta
    v = xp.where(spiking, lif.reset, v)
    refractory = xp.where(spiking, xp.int16(lif.refractory_steps), xp.maximum(refractory - 1, 0).astype(xp.int16))
    return v, refractory, spiking


def _recorded_counts(n_exc, n_inh, n_record):
    """Recorded excitatory and inhibitory neurons for ``n_record`` (80% E)."""
    n_rec_exc = min(n_exc, int(round(n_record * 0.8)))
    return n_rec_exc, min(n_inh, n_record - n_rec_exc)
