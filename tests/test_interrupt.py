"""Ctrl-C interrupts a long Numba product within about a second.

The CPU backend launches bounded parts one after another, so the
interpreter can raise KeyboardInterrupt between two of them.  A child
process compiles the kernels on small products, says "ready", then starts
a product of 5e10 expected connections (minutes on one thread); SIGINT
follows half a second later and the child must be gone within 3 seconds.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("lazyconn.kernels.cpu")

_CHILD = """
import sys
import numpy as np
import lazyconn

n = 1_000_000
conn = getattr(lazyconn, sys.argv[2])(n, n, 0.05, 0.1, 1.0, seed=1) if sys.argv[2] != "JITCScalarR" \\
    else lazyconn.JITCScalarR(n, n, 0.05, 0.5, seed=1)
x = np.ones(n, dtype=np.float32)
small = conn[:64, :64]
small @ x[:64], x[:64] @ small, small.count_nonzero()
# Eight full rows (4e5 connections) take the threaded kernels the long
# product runs: compiled here, before "ready", since a SIGINT that lands
# inside Numba's compiler can be swallowed (CPython ignores exceptions
# raised in the weakref callbacks it runs).
rows = conn[:8]
rows @ x, x[:8] @ rows, rows.count_nonzero()
operations = {"gather": lambda: conn @ x, "scatter": lambda: x @ conn, "degrees": lambda: conn.count_nonzero()}
print("ready", flush=True)
try:
    operations[sys.argv[1]]()
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(3)
print("finished", flush=True)
"""


@pytest.mark.parametrize(
    "operation, law",
    [("gather", "JITCScalarR"), ("scatter", "JITCScalarR"), ("degrees", "JITCScalarR"),
     ("gather", "JITCNormalR"), ("scatter", "JITCUniformR")],
)
def test_ctrl_c_interrupts_a_long_product(operation, law):
    env = dict(os.environ, NUMBA_NUM_THREADS="1", LAZYCONN_BACKEND="cpu")
    child = subprocess.Popen([sys.executable, "-c", _CHILD, operation, law], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()[-2000:]
        time.sleep(0.5)
        child.send_signal(signal.SIGINT)
        sent = time.monotonic()
        try:
            out, err = child.communicate(timeout=3.0)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{operation} still running 3 s after SIGINT")
        assert (child.returncode, out.strip()) == (3, "interrupted"), err[-2000:]
        assert time.monotonic() - sent < 3.0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_ctrl_c_swallowed_while_numba_compiles_still_stops_the_launch():
    # A kernel whose call compiles and meets a SIGINT inside a weakref
    # callback, where CPython drops the KeyboardInterrupt: the launch still
    # raises it once the kernel returns, and SIGINT's handler is Python's again.
    import signal

    from lazyconn.kernels import cpu

    listener = cpu._COMPILE_INTERRUPTS
    ran = []

    def compiling_kernel(*args):
        listener.on_start(None)
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            pass  # what CPython does with it inside a weakref callback
        listener.on_end(None)
        ran.append(args)

    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        cpu._launch(compiling_kernel, 0, 1, 2)
    assert ran == [(1, 2)]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    cpu._launch(lambda *args: ran.append(args), 0, 3)  # nothing pending afterwards
    assert ran[-1] == (3,)
