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


GPU_MODULES = ["gpu.py", "_gpu_fixed.py", "_gpu_launch.py"]


@pytest.mark.parametrize("name", GPU_MODULES)
def test_the_gpu_kernels_import_no_dispatch_and_no_products(name):
    for module, names in _imports(ROOT / "kernels" / name):
        assert not {"dispatch", "products", "_cupy"} & ({module.strip(".")} | set(names)), module


def _imported_modules(path, package="lazyconn.kernels"):
    """Absolute names of the modules that ``path`` (a module of ``package``) may import: ``a.b`` and ``a.b.name``."""
    for module, names in _imports(path):
        level = len(module) - len(module.lstrip("."))
        if level:
            base = package.rsplit(".", level - 1)[0] if level > 1 else package
            module = base + ("." + module.lstrip(".") if module.lstrip(".") else "")
        yield module
        yield from (f"{module}.{name}" for name in names)


@pytest.mark.parametrize("name, forbidden", [
    ("_gpu_fixed.py", {"lazyconn.kernels.gpu"}),
    ("_gpu_launch.py", {"lazyconn.kernels.gpu", "lazyconn.kernels._gpu_fixed"}),
])
def test_the_gpu_modules_import_one_way(name, forbidden):
    # gpu -> _gpu_fixed -> _gpu_launch: an import back up would be a cycle.
    assert not forbidden & set(_imported_modules(ROOT / "kernels" / name))


def test_an_import_back_up_is_seen(tmp_path):
    # The check above must catch the cycle this layering removed.
    for line in ("from . import gpu", "from .gpu import _THREADS", "from lazyconn.kernels import gpu",
                 "import lazyconn.kernels.gpu", "from .. import kernels"):
        (tmp_path / "m.py").write_text(line + "\n")
        found = set(_imported_modules(tmp_path / "m.py"))
        assert "lazyconn.kernels.gpu" in found or line.endswith("kernels"), line
    (tmp_path / "m.py").write_text("from ..spec import LAW_SCALAR\n")
    assert set(_imported_modules(tmp_path / "m.py")) == {"lazyconn.spec", "lazyconn.spec.LAW_SCALAR"}


def _package_imports():
    """Module -> the package's modules it imports, anywhere in its code (functions too).

    The package itself (``lazyconn``, whose ``__init__`` only hands names
    on) is left out: every submodule's import runs it first anyway.
    """
    places = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            name = package = ".".join(parts[:-1])
        else:
            name = ".".join(parts)
            package = name.rpartition(".")[0]
        places[name] = (path, package)

    def targets(path, package):
        # ``from .kernels import host_backend`` imports the kernels package;
        # ``from . import _cpu_random`` only that submodule.
        for module, names in _imports(path):
            level = len(module) - len(module.lstrip("."))
            if level:
                base = package.rsplit(".", level - 1)[0] if level > 1 else package
                module = base + ("." + module.lstrip(".") if module.lstrip(".") else "")
            submodules = {f"{module}.{n}" for n in names} & places.keys()
            yield from submodules
            if len(submodules) < max(len(names), 1):
                yield module

    return {
        name: {m for m in targets(path, package) if m in places and m not in (name, "lazyconn")}
        for name, (path, package) in places.items()
    }


def _circles(imports):
    """The sets of modules that import each other in a loop (two or more modules)."""
    def reach(start):
        seen, todo = set(), [start]
        while todo:
            for module in imports.get(todo.pop(), ()):
                if module not in seen:
                    seen.add(module)
                    todo.append(module)
        return seen

    reachable = {name: reach(name) for name in imports}
    return {frozenset({name} | {m for m in reachable[name] if name in reachable[m]})
            for name in imports if name in reachable[name]}


def test_the_package_has_no_import_circle():
    # Issue 13: the matrix, its composites, the NumPy protocols and Dask
    # imported each other in a circle of 7 modules.  composite hands its
    # ``add`` to _operators (set_add), the shared product message lives in
    # _protocols, and dask asks the protocols, not lazyconn.matrix, what a
    # matrix is; imports inside functions count too.
    assert _circles(_package_imports()) == set()


def test_an_import_circle_is_seen():
    imports = _package_imports()
    assert "lazyconn.matrix" in imports["lazyconn.composite"]
    assert "lazyconn.dask" in imports["lazyconn.matrix"]  # inside to_dask
    imports["lazyconn.dask"] = imports["lazyconn.dask"] | {"lazyconn.composite"}
    assert frozenset({"lazyconn.dask", "lazyconn.matrix", "lazyconn.composite"}) in _circles(imports)


def _launch_attributes(path):
    """Names that ``path`` reads as ``_launch.NAME`` or imports ``from ._gpu_launch``."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "_launch":
            yield node.attr
        elif isinstance(node, ast.ImportFrom) and node.module == "_gpu_launch":
            yield from (alias.name for alias in node.names)


def _module_names(path):
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        for target in targets:
            names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


TUNABLES = {"_THREADS", "_TILE_BYTES", "_MAX_TILE_BLOCKS", "_CTAS_PER_SM", "_CTAS_PER_SM_EVENTS",
            "_CTAS_PER_SM_SPREAD", "_EVENT_LINES_PER_THREAD", "_MIN_LINES_PER_SEGMENT", "_MAX_COLUMNS", "_ROWS_PER_CHUNK"}


# _gpu_fixed sizes its integer tiles itself (its own _TILE_BYTES).
@pytest.mark.parametrize("name, own", [("gpu.py", set()), ("_gpu_fixed.py", {"_TILE_BYTES"})])
def test_the_gpu_modules_read_the_launch_layer_s_own_names(name, own):
    # Every name taken from _gpu_launch exists there, and the launch tunables
    # (which tests and sweeps change on _gpu_launch) are read there at each
    # call, never bound to a copy that a change would miss.
    launch = _module_names(ROOT / "kernels" / "_gpu_launch.py")
    assert TUNABLES <= launch
    used = set(_launch_attributes(ROOT / "kernels" / name))
    assert used and used <= launch, used - launch
    tree = ast.parse((ROOT / "kernels" / name).read_text())
    imported = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert TUNABLES & (imported | _module_names(ROOT / "kernels" / name)) == own


def test_the_gpu_modules_import_in_order_without_a_gpu():
    # A stand-in CuPy (no device is touched at import): gpu imports
    # _gpu_fixed and _gpu_launch, and keeps its public names.
    code = (
        "import sys, types; sys.modules['cupy'] = types.ModuleType('cupy')\n"
        "from lazyconn.kernels import gpu, _gpu_fixed, _gpu_launch\n"
        "assert gpu._gpu_fixed is _gpu_fixed and gpu._launch is _gpu_launch and _gpu_fixed._launch is _gpu_launch\n"
        "assert gpu.compile_seconds is _gpu_launch.compile_seconds\n"
        "print(sorted(n for n in gpu.__all__ if not callable(getattr(gpu, n))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT.parent)
    assert out.stdout.strip() == "['NAME']"


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
