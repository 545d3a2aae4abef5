"""Every example runs in a small configuration, as a user would run it."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
# The examples import the lazyconn of this checkout, not whichever one is installed.
PYTHONPATH = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))


def run_example(name, *args, cwd=None):
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True, text=True, timeout=300, cwd=cwd,
        env={**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": PYTHONPATH},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def test_quickstart_checks_currents_against_dense_rows():
    out = run_example("quickstart.py", "--neurons", "2000")
    assert "JITCScalarC(num_pre=2000, num_post=2000" in out
    assert re.search(r"\d+ active rows: .* equals the sum of their dense rows", out)


def test_ei_network_fires_and_plots(tmp_path):
    out = run_example("ei_network.py", "--neurons", "2000", "--steps", "300", "--out", str(tmp_path))
    rates = re.search(r"rates: E ([0-9.]+) Hz, I ([0-9.]+) Hz", out)
    assert rates and all(float(r) > 0 for r in rates.groups())
    assert (tmp_path / "raster.png").stat().st_size > 10_000


def test_spectral_radius_matches_the_circular_law():
    out = run_example("spectral_radius.py", "--neurons", "600", "--degree", "60")
    radius = float(re.search(r"spectral radius ([0-9.]+)", out).group(1))
    assert 0.85 < radius < 1.15


def test_multi_population_has_fixed_in_degrees_and_fires():
    out = run_example("multi_population.py", "--neurons", "2000", "--steps", "300")
    # Every projection's columns were counted: exactly K = fraction * N_pre.
    assert "L23E -> L23E K =   80  JITCLogNormalC" in out
    assert "L23I -> L23E K =   20  JITCScalarC" in out
    assert " L4E -> L23E K =   16  JITCLogNormalC" in out
    rates = re.search(r"rates L23E ([0-9.]+) Hz, L23I ([0-9.]+) Hz, L4E ([0-9.]+) Hz, L4I ([0-9.]+) Hz", out)
    assert rates and all(0.0 < float(r) < 50.0 for r in rates.groups())


def _gpu_usable():
    try:
        import cupy

        return bool(cupy.is_available())
    except Exception:  # noqa: BLE001 - no CuPy or no driver
        return False


@pytest.mark.gpu
@pytest.mark.skipif(not _gpu_usable(), reason="needs CuPy and a CUDA GPU")
def test_gpu_quickstart():
    out = run_example("gpu_quickstart.py", "--neurons", "20000")
    assert "equals the CPU one: True" in out


def test_gpu_quickstart_explains_a_missing_gpu():
    if _gpu_usable():
        pytest.skip("a GPU is present")
    completed = subprocess.run([sys.executable, str(EXAMPLES / "gpu_quickstart.py")],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0
    assert "no GPU run:" in completed.stderr
