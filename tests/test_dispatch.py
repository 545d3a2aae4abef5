"""The backend interface and the operand registry (lazyconn.backends, lazyconn.dispatch)."""

from __future__ import annotations

import ast
import pathlib
import pickle
import subprocess
import sys

import numpy as np
import pytest

import lazyconn
from lazyconn import dispatch
from lazyconn.backends import SCATTER_ROWS, ArrayBackend, Backend, check_backend
from lazyconn.kernels import reference
from lazyconn.products import View

ROOT = pathlib.Path(lazyconn.__file__).resolve().parent


def test_every_host_kernel_module_satisfies_the_protocol():
    assert isinstance(reference, Backend)
    check_backend(reference)
    cpu = pytest.importorskip("lazyconn.kernels.cpu")
    assert isinstance(cpu, Backend)


def test_a_declared_capability_must_be_provided():
    with pytest.raises(TypeError, match="scatter_rows"):
        ArrayBackend("toy", lambda *a: None, kernels=reference, xp=np, capabilities=[SCATTER_ROWS])
    with pytest.raises(ValueError, match="unknown backend capabilit"):
        ArrayBackend("toy", lambda *a: None, kernels=reference, xp=np, capabilities=["on_the_moon"])
    with pytest.raises(TypeError, match="not a lazyconn kernel backend"):
        ArrayBackend("toy", lambda *a: None, kernels=np, xp=np)


def test_one_function_finds_the_backend_of_an_array_a_type_or_a_namespace():
    host = dispatch.backend_for(np)
    assert host is dispatch.backend_for(None) is dispatch.backend_for(np.ndarray) is dispatch.backend_for(np.ones(2))
    assert host.xp is np and not host.supports(SCATTER_ROWS)
    assert host.kernels() is lazyconn.kernels.host_backend()
    with pytest.raises(TypeError, match="no backend for array namespace 'pathlib'"):
        dispatch.backend_for(pathlib)
    with pytest.raises(TypeError, match="no backend for arrays of type builtins.dict"):
        dispatch.backend_for({})


def test_todense_refuses_a_namespace_without_kernels():
    conn = lazyconn.JITCScalarR(10, 10, prob=0.5, weight=1.0, seed=0)
    with pytest.raises(TypeError, match="no backend for array namespace 'pathlib'"):
        conn.todense(xp=pathlib)


class _Toy:
    """An array type of a made-up library, served through the host kernels."""

    def __init__(self, data):
        self.data = np.asarray(data)


def test_a_new_library_registers_like_the_others():
    calls = []

    def toy_matmul(view, x, side, binary):
        calls.append(view)
        return _Toy(dispatch.backend_for(np).matmul(view, x.data, side, binary))

    dispatch.register(ArrayBackend("toy", toy_matmul), _Toy)
    conn = lazyconn.JITCNormalR(30, 20, prob=0.3, loc=0.0, scale=1.0, seed=4)[2:25, 1:19] * 2.0
    x = np.arange(18.0)
    out = conn @ _Toy(x)
    assert isinstance(out, _Toy)
    np.testing.assert_allclose(out.data, conn.todense().astype(np.float64) @ x, rtol=1e-5)
    assert calls == [conn.as_view()]


@pytest.mark.parametrize("cls", [lazyconn.JITCScalarR, lazyconn.JITCScalarC])
def test_the_view_is_the_generator_window_and_scale(cls):
    conn = cls(50, 40, prob=0.2, weight=0.5, seed=3)
    view = conn[5:30, 2:38].as_view() if cls is lazyconn.JITCScalarR else (conn[5:30, 2:38] * 3.0).as_view()
    assert view.spec == conn.spec and view.window == (5, 30, 2, 38)
    assert view.shape == (25, 36) and view.dtype == conn.dtype and view.prob == conn.prob
    assert view.subwindow(1, 4, 2, 3) == (conn[5:30, 2:38][1:4, 2:3] * view.scale).as_view()
    assert pickle.loads(pickle.dumps(view)) == view and len(pickle.dumps(view)) < 600
    # Rows are the lines of R, columns those of C: contracting lines scatters.
    assert view.scatters("left") is (cls is lazyconn.JITCScalarR)
    assert view.scatters("right") is (cls is lazyconn.JITCScalarC)


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            yield "." * node.level + (node.module or ""), [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


@pytest.mark.parametrize("name", ["products.py", "dispatch.py", "backends.py"])
def test_the_driver_and_the_table_import_no_kernels(name):
    for module, names in _imports(ROOT / name):
        assert "kernels" not in module and "kernels" not in names, (name, module)


def test_the_gpu_kernels_import_no_dispatch_and_no_products():
    for module, names in _imports(ROOT / "kernels" / "gpu.py"):
        assert not {"dispatch", "products", "_cupy"} & ({module.strip(".")} | set(names)), module


def test_importing_lazyconn_imports_no_array_library():
    code = (
        "import sys, numpy as np, lazyconn; c = lazyconn.JITCScalarR(20, 20, 0.5, 1.0, seed=1); c @ np.ones(20); "
        "print(sorted(m for m in ('cupy', 'dask', 'torch', 'jax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT.parent)
    assert out.stdout.strip() == "[]"


def test_threads_that_meet_a_library_at_once_all_find_its_backend():
    # Dask's threaded scheduler looks up NumPy chunks from several threads at
    # once, in a fresh process: none may find the registry still empty.
    code = (
        "import threading, numpy as np, lazyconn\n"
        "from lazyconn.dispatch import backend_for\n"
        "barrier = threading.Barrier(8); errors = []\n"
        "def look(i):\n"
        "    barrier.wait()\n"
        "    try:\n"
        "        backend_for(np) if i % 2 else backend_for(np.ones(1))\n"
        "    except Exception as exc:\n"
        "        errors.append(repr(exc))\n"
        "threads = [threading.Thread(target=look, args=(i,)) for i in range(8)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "print(errors)\n"
    )
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             cwd=ROOT.parent)
        assert out.stdout.strip() == "[]"
