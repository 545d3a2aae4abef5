"""The ``lazyconn`` command line: every sub-command runs and reports."""

import json
import math
import re

import numpy as np
import pytest

import lazyconn
from lazyconn.cli import build_parser, main


def test_info_lists_backends_and_versions(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"lazyconn {lazyconn.__version__}" in out
    assert f"numpy        {np.__version__}" in out
    assert re.search(r"reference \(NumPy\)\s+available", out)
    assert "NumPy operands use:" in out


def test_info_json_matches_the_function(capsys):
    assert main(["info", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts == json.loads(json.dumps(lazyconn.info()))
    assert facts["versions"]["numpy"] == np.__version__
    assert set(facts["backends"]) == {"reference", "cpu", "gpu", "dask"}
    assert facts["host_backend"] == lazyconn.kernels.host_backend().NAME


def test_info_reports_a_bad_backend_variable(monkeypatch):
    monkeypatch.setenv("LAZYCONN_BACKEND", "fortran")
    facts = lazyconn.info()
    assert facts["host_backend"].startswith("error:")
    assert facts["backend_env"] == "fortran"


def test_demo_quick_writes_pictures_and_positive_rates(tmp_path, capsys):
    out_dir = tmp_path / "pictures"
    status = main(["demo", "--quick", "--neurons", "2000", "--steps", "300", "--out", str(out_dir),
                   "--device", "cpu", "--no-progress"])
    assert status == 0
    out = capsys.readouterr().out
    rates = re.search(r"E ([0-9.]+) Hz, I ([0-9.]+) Hz", out)
    assert rates, out
    for value in map(float, rates.groups()):
        assert math.isfinite(value) and value > 0
    assert re.search(r"JITC \d+ B \(pickled\), CSR would need [0-9.]+ KiB, dense [0-9.]+ MiB", out)
    for name in ("raster.png", "connectivity.png"):
        data = (out_dir / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_bench_quick_prints_ratios(capsys):
    assert main(["bench", "--quick", "--sizes", "400", "--runs", "1", "--per-connection-n", "0"]) == 0
    out = capsys.readouterr().out
    assert "ns per connection" not in out
    assert "N = 400, p = 0.01" in out
    for product in ("x @ M", "M @ y", "spikes @ M"):
        for impl in ("scipy CSR", "dense NumPy", "reference R", "reference C"):
            assert re.search(rf"{re.escape(product)}\s+{impl}\s+\S+ \S+\s+[0-9.]+x", out), (product, impl)
    # Every baseline is its own reference: ratio exactly 1.
    assert re.search(r"x @ M\s+scipy CSR\s+\S+ \S+\s+1\.00x", out)


def test_bench_prints_ns_per_connection_of_every_law(capsys):
    pytest.importorskip("numba")
    assert main(["bench", "--sizes", "200", "--runs", "1", "--no-gpu", "--per-connection-n", "600"]) == 0
    out = capsys.readouterr().out
    assert "ns per connection, one thread: N = 600, p = 0.01" in out
    table = out[out.index("ns per connection"):]
    values = {}
    for law in ("Scalar", "Normal", "Uniform"):
        row = re.search(rf"^  {law}\s+([0-9.]+) ns(?: \(([0-9.]+)x Scalar\))?\s+([0-9.]+) ns(?: \(([0-9.]+)x Scalar\))?$",
                        table, re.MULTILINE)
        assert row, law
        values[law] = row.groups()
    assert values["Scalar"][1] is None and values["Scalar"][3] is None  # no ratio to itself
    for law in ("Normal", "Uniform"):
        gather, gather_ratio, scatter, scatter_ratio = values[law]
        # Each ratio is the row's figure over Scalar's (to the printed rounding).
        assert float(gather_ratio) == pytest.approx(float(gather) / float(values["Scalar"][0]), abs=0.02)
        assert float(scatter_ratio) == pytest.approx(float(scatter) / float(values["Scalar"][2]), abs=0.02)


def test_per_connection_covers_every_registered_law():
    pytest.importorskip("numba")
    import numba

    from lazyconn import laws
    from lazyconn.bench import per_connection

    threads = numba.get_num_threads()
    figures = per_connection(n=300, prob=0.05, n_runs=1)
    assert numba.get_num_threads() == threads  # the thread count is restored
    assert {"Scalar", "Normal", "Uniform"} <= set(figures) <= {law.name for law in laws.registered()}
    for gather, scatter in figures.values():
        assert gather > 0 and scatter > 0
    assert per_connection(n=50, prob=0.0, n_runs=1) == {}  # no connection: nothing to divide by
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        per_connection(n=0)


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "info" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["bench", "--prob", "2"], ["demo", "--neurons", "0"], ["frobnicate"]])
def test_bad_arguments_exit_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code == 2
    assert "usage: lazyconn" in capsys.readouterr().err


def test_demo_errors_are_reported_not_raised(capsys):
    # 40 neurons cannot hold an inhibitory in-degree at p = 0.02.
    assert main(["demo", "--neurons", "40", "--steps", "10", "--device", "cpu", "--no-progress"]) == 1
    assert "too small" in capsys.readouterr().err


def test_parser_documents_every_command():
    text = build_parser().format_help()
    for command in ("info", "demo", "bench"):
        assert command in text
