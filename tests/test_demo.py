"""The demo network: derived parameters, memory report, plots optional."""

import io
import math

import numpy as np
import pytest

from lazyconn import demo


def test_siegert_inverts_the_derived_mean_input():
    params = demo.NetworkParameters()
    derived = demo.derive_network(100_000, params)
    assert demo.siegert_rate(derived["mu_mv"], derived["sigma_mv"], params) == pytest.approx(params.rate_hz, rel=1e-6)


def test_siegert_rate_increases_with_the_mean_input():
    params = demo.NetworkParameters()
    rates = [demo.siegert_rate(mu, 5.0, params) for mu in (0.0, 10.0, 15.0, 20.0, 30.0)]
    assert all(a < b for a, b in zip(rates, rates[1:]))
    # A strongly suprathreshold neuron fires at its deterministic rate:
    # 1 / (t_ref + tau ln((mu - V_r) / (mu - theta))).
    mu = 200.0
    deterministic = 1000.0 / (params.refractory_ms + params.tau_m_ms * math.log((mu - 10.0) / (mu - 20.0)))
    assert demo.siegert_rate(mu, 0.5, params) == pytest.approx(deterministic, rel=1e-3)


def test_balanced_scaling_of_weights_and_drive():
    small, large = demo.derive_network(10_000), demo.derive_network(1_000_000)
    # Weights shrink as 1/sqrt(K): 100x the in-degree, a tenth of the weight.
    assert small["j_exc"] / large["j_exc"] == pytest.approx(10.0)
    assert large["j_inh"] == pytest.approx(-5.0 * large["j_exc"])
    # Inhibition dominates, so a larger network needs more external drive.
    assert large["drive_mv"] > small["drive_mv"] > small["mu_mv"]
    assert (small["n_exc"], small["n_inh"]) == (8000, 2000)


def test_too_small_network_is_refused():
    with pytest.raises(ValueError, match="too small"):
        demo.derive_network(50)


def test_memory_report_counts_csr_and_dense():
    conn_exc, conn_inh, _ = demo.build_network(1000, seed=3)
    memory = demo.memory_report(conn_exc, conn_inh)
    assert memory["synapses"] == pytest.approx(0.02 * 1000 * 1000)
    # float32 values and int32 indices: 8 bytes per synapse, plus row pointers.
    assert memory["csr_bytes"] == int(0.02 * 800 * 1000 * 8 + 801 * 4) + int(0.02 * 200 * 1000 * 8 + 201 * 4)
    assert memory["dense_bytes"] == 1000 * 1000 * 4
    assert memory["jitc_bytes"] < 1000


def test_build_network_is_reproducible_and_seeded():
    a_exc, a_inh, _ = demo.build_network(1000, seed=1)
    b_exc, _, _ = demo.build_network(1000, seed=1)
    c_exc, _, _ = demo.build_network(1000, seed=2)
    assert a_exc.seed == b_exc.seed != c_exc.seed
    assert a_exc.seed != a_inh.seed
    assert np.array_equal(a_exc[:20].todense(), b_exc[:20].todense())


def test_run_completes_without_matplotlib(tmp_path, monkeypatch, capsys):
    def missing():
        raise ImportError("No module named 'matplotlib'")

    monkeypatch.setattr(demo, "_pyplot", missing)
    result = demo.run_demo(neurons=1000, steps=200, out=tmp_path, device="cpu", progress=False)
    assert result.files == []
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert result.population_counts.shape == (200, 2)
    assert result.raster_neurons.size == result.raster_times_ms.size
    assert np.isfinite(result.rate_exc_hz) and result.rate_exc_hz >= 0
    assert list(tmp_path.iterdir()) == []


def test_gpu_request_without_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(demo, "_cupy_if_usable", lambda: None)
    with pytest.raises(RuntimeError, match="lazyconn info"):
        demo.run_demo(neurons=1000, steps=10, device="gpu", progress=False)


def test_cv2_is_one_for_poisson_and_zero_for_a_clock():
    rng = np.random.default_rng(0)
    poisson = rng.random((20_000, 50)) < 0.002
    assert demo._mean_cv2(poisson, 0.1, 0) == pytest.approx(1.0, abs=0.05)
    clock = np.zeros((2_000, 5), dtype=bool)
    clock[::100] = True
    assert demo._mean_cv2(clock, 0.1, 0) == 0.0
    assert math.isnan(demo._mean_cv2(clock[:150], 0.1, 0))


def test_simulation_with_the_stacked_matrix_keeps_its_spikes():
    # Pinned before simulate() multiplied by np.vstack([conn_exc, conn_inh])
    # instead of adding the two population products: the same bits.
    conn_exc, conn_inh, derived = demo.build_network(2000, seed=3)
    sim = demo.simulate(conn_exc, conn_inh, derived, 300, seed=3, progress=False)
    assert sim["counts"].sum(axis=0).tolist() == [292, 70]
    assert int(np.flatnonzero(sim["raster"].ravel()).sum()) == 5571017


# --- fixed in-degree (lazyconn demo --fixed-indegree) ---


def _no_pictures(monkeypatch):
    def missing():
        raise ImportError("No module named 'matplotlib'")

    monkeypatch.setattr(demo, "_pyplot", missing)


def test_fixed_indegree_gives_every_column_exactly_k_entries():
    params = demo.fixed_indegree_parameters()
    conn_exc, conn_inh, derived = demo.build_network(2000, seed=4, params=params)
    assert (derived["k_exc"], derived["k_inh"]) == (160, 40)  # 0.1 N_E, 0.1 N_I
    assert conn_exc.shape == (1600, 2000) and conn_inh.shape == (400, 2000)
    assert conn_exc.num_conn == 160 and conn_inh.num_conn == 40
    assert (conn_exc.count_nonzero(axis=0) == 160).all()
    assert (conn_inh.count_nonzero(axis=0) == 40).all()
    # The same columns, densely: K distinct presynaptic partners, the laws' signs.
    dense_exc, dense_inh = conn_exc[:, :30].todense(), conn_inh[:, :30].todense()
    assert ((dense_exc != 0).sum(axis=0) == 160).all() and (dense_exc >= 0).all()
    assert (dense_inh[dense_inh != 0] == np.float32(derived["j_inh"])).all()


def test_fixed_indegree_scales_weights_as_one_over_sqrt_k():
    params = demo.fixed_indegree_parameters()
    small, large = demo.derive_network(10_000, params), demo.derive_network(1_000_000, params)
    assert (small["k_exc"], small["k_inh"], large["k_exc"]) == (800, 200, 80_000)
    assert isinstance(small["k_exc"], int)
    assert small["j_exc"] / large["j_exc"] == pytest.approx(10.0)
    assert large["j_inh"] == pytest.approx(-5.0 * large["j_exc"])
    # Same formula as the Bernoulli network of the same expected in-degrees.
    bernoulli = demo.derive_network(10_000, demo.NetworkParameters(prob=0.1))
    assert small["j_exc"] == pytest.approx(bernoulli["j_exc"]) and small["drive_mv"] == pytest.approx(bernoulli["drive_mv"])


def test_batched_delay_products_keep_every_spike():
    # The C network multiplies one delay's spikes at once: the same spikes as
    # one product per step, bit for bit.
    params = demo.fixed_indegree_parameters()
    conn_exc, conn_inh, derived = demo.build_network(1000, seed=5, params=params)
    batched = demo.simulate(conn_exc, conn_inh, derived, 200, seed=5, params=params, progress=False)
    stepped = demo.simulate(conn_exc, conn_inh, derived, 200, seed=5, params=params, progress=False, batch=False)
    assert batched["counts"].sum() > 0
    assert np.array_equal(batched["counts"], stepped["counts"])
    assert np.array_equal(batched["raster"], stepped["raster"])


def test_cli_fixed_indegree_quick_reports_k(tmp_path, monkeypatch, capsys):
    from lazyconn.cli import main

    _no_pictures(monkeypatch)
    monkeypatch.setattr(demo, "_cupy_if_usable", lambda: None)  # the CPU, even where a GPU is
    status = main(["demo", "--fixed-indegree", "--quick", "--neurons", "1000", "--steps", "200",
                   "--no-progress", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "K = 80 E + 20 I" in out and "on numpy" in out
    assert "in-degree exactly 80 E + 20 I (fixed: 10% of each population)" in out
    assert "synapses ~100,000;" in out  # N K exactly: 1000 x (80 + 20)


@pytest.mark.parametrize(("quick", "n", "rule"), [(True, 5000, "K = 400 E + 100 I"), (False, 10_000, "K = 800 E + 200 I")])
def test_fixed_indegree_default_sizes(monkeypatch, quick, n, rule):
    seen = {}

    def fake_simulate(conn_exc, conn_inh, derived, n_steps, *args, **kwargs):
        seen["shapes"] = conn_exc.shape, conn_inh.shape
        return {"raster": np.zeros((n_steps, 2), bool), "counts": np.zeros((n_steps, 2), int), "wall_s": 0.0,
                "n_rec_exc": 1, "n_rec_inh": 1}

    _no_pictures(monkeypatch)
    monkeypatch.setattr(demo, "simulate", fake_simulate)
    result = demo.run_demo(steps=10, quick=quick, fixed_indegree=True, progress=False, stream=io.StringIO(), out=".")
    assert seen["shapes"] == ((n * 4 // 5, n), (n // 5, n))
    assert result.rule == rule


@pytest.mark.parametrize("kwargs", [{"gpus": 2}, {"gpus": 2, "device": "cpu"}])
def test_fixed_indegree_on_workers_is_a_clear_error(kwargs):
    with pytest.raises(RuntimeError, match="fixed_indegree runs in one process"):
        demo.run_demo(neurons=1000, steps=10, fixed_indegree=True, progress=False, **kwargs)


def test_fixed_indegree_keeps_the_fraction_of_given_parameters(monkeypatch):
    _no_pictures(monkeypatch)
    stream = io.StringIO()
    result = demo.run_demo(neurons=1000, steps=20, fixed_indegree=True, progress=False, stream=stream,
                           params=demo.NetworkParameters(prob=0.05), out=".")
    assert result.rule == "K = 40 E + 10 I"
    assert "in-degree exactly 40 E + 10 I (fixed: 5% of each population)" in stream.getvalue()
