"""Numba's on-disk cache of the CPU kernels: never stale, never fatal (issue 11, items 1 and 6).

The subprocess tests run a copy of the package with ``NUMBA_CACHE_DIR`` set,
so that the cache lives outside the source tree (as it does with that
variable, or in a read-only install).  Each compiles only the ``dense``
kernel (10-15 s on 2 cores); the package copy and its filled cache are shared.
"""

import ast
import hashlib
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("numba")

import lazyconn  # noqa: E402
from lazyconn import _sources  # noqa: E402
from lazyconn.kernels import _numba_cache  # noqa: E402

PACKAGE = Path(lazyconn.__file__).resolve().parent

_PROBE = """
import hashlib, sys
import numpy as np
import lazyconn
conn = lazyconn.JITCUniformR(200, 300, 0.1, 0.5, 1.5, seed=7)
window = np.ascontiguousarray(conn[:8, :8].todense())
print(lazyconn.__file__)
print(hashlib.sha256(window.tobytes()).hexdigest())
"""

_WARNING = "unreadable Numba cache entry"


def _run(root, cache, backend="cpu"):
    """Run the probe on the package copy under ``root``; (checksum, stderr)."""
    env = dict(
        os.environ,
        PYTHONPATH=str(root),
        NUMBA_CACHE_DIR=str(cache),
        LAZYCONN_BACKEND=backend,
        PYTHONDONTWRITEBYTECODE="1",
    )
    out = subprocess.run(
        [sys.executable, "-W", "always", "-c", _PROBE],
        capture_output=True, text=True, env=env, cwd=root, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    where, checksum = out.stdout.split()
    assert Path(where).resolve().is_relative_to(root), where  # the copy, not the checkout
    return checksum, out.stderr


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """A copy of the package and a cache directory filled by one run of it."""
    root = tmp_path_factory.mktemp("package")
    shutil.copytree(PACKAGE, root / "lazyconn", ignore=shutil.ignore_patterns("__pycache__"))
    cache = tmp_path_factory.mktemp("filled-cache")
    checksum, _ = _run(root, cache)
    assert checksum == _run(root, cache, "reference")[0]
    assert any(cache.rglob("*.nbc"))
    return SimpleNamespace(root=root, cache=cache, checksum=checksum)


def _fresh_copy(cache, tmp_path):
    target = tmp_path / "cache"
    shutil.copytree(cache, target)
    return target


def test_an_edited_inlined_module_is_not_served_from_numba_cache_dir(warm, tmp_path):
    # lazyconn/random.py's Philox constants are frozen into the kernels of
    # cpu.py (through _cpu_random.py); Numba's own key sees only cpu.py.
    cache = _fresh_copy(warm.cache, tmp_path)
    random_py = warm.root / "lazyconn" / "random.py"
    original, stat = random_py.read_bytes(), random_py.stat()
    edited = original.replace(b"PHILOX_W0 = 0x9E3779B9", b"PHILOX_W0 = 0x9E3779BB", 1)
    assert edited != original
    try:
        random_py.write_bytes(edited)
        expected, _ = _run(warm.root, cache, "reference")  # the edited code's matrix
        assert expected != warm.checksum  # the edit changes the matrix
        assert _run(warm.root, cache)[0] == expected
        # Entries of the old sources were replaced, not left beside the new ones.
        assert len(list(cache.rglob("*.nbc"))) == len(list(warm.cache.rglob("*.nbc")))
    finally:
        random_py.write_bytes(original)
        os.utime(random_py, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_truncated_cache_files_are_dropped_recompiled_and_warned_once(warm, tmp_path):
    # A bad data file (.nbc) of every _cpu_kernels.py kernel and _cpu_specialise.py weight
    # function, and a bad index (.nbi) of every _cpu_random.py function, which the
    # recompiled kernels look up.
    cache = _fresh_copy(warm.cache, tmp_path)
    truncated = {}
    for pattern in ("_cpu_kernels.*.nbc", "_cpu_specialise.*.nbc", "_cpu_random.*.nbi"):
        paths = sorted(cache.rglob(pattern))
        assert paths, pattern
        for path in paths:
            data = path.read_bytes()
            truncated[path] = data[: len(data) // 2]
            path.write_bytes(truncated[path])
    checksum, stderr = _run(warm.root, cache)
    assert checksum == warm.checksum
    assert stderr.count(_WARNING) == 1, stderr[-3000:]  # once, although many files were bad
    for path, data in truncated.items():  # every bad file was replaced or removed
        assert not path.exists() or path.read_bytes() != data, path
    checksum, stderr = _run(warm.root, cache)  # repaired: loads cleanly
    assert checksum == warm.checksum
    assert "Numba cache" not in stderr, stderr[-3000:]


def _lazyconn_imports(relative):
    """Files (relative to the package) that lazyconn module ``relative`` imports."""
    path = PACKAGE / relative
    package = Path(relative).parent.parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            assert not any(alias.name.split(".")[0] == "lazyconn" for alias in node.names), relative
            continue
        if not isinstance(node, ast.ImportFrom):
            continue
        module = node.module.split(".") if node.module else []
        if node.level:
            base = list(package[: len(package) - node.level + 1])
        elif module[:1] == ["lazyconn"]:
            base, module = [], module[1:]
        else:
            continue
        candidates = [base + module] + [base + module + [alias.name] for alias in node.names]
        for parts in candidates:
            for name in ("/".join(parts) + ".py", "/".join(parts + ["__init__.py"])):
                if (PACKAGE / name).is_file():
                    found.add(name)
    return found


# Imported by the kernel modules but never compiled into a kernel: the cache
# wrapper itself, and the package __init__ files (names imported through them
# resolve to their own modules above).
_NOT_COMPILED = {"kernels/_numba_cache.py", "__init__.py", "kernels/__init__.py"}


def test_kernel_sources_cover_every_lazyconn_module_the_kernels_import():
    numba_modules = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "njit" in path.read_text() and path.name != "_numba_cache.py"
    }
    assert numba_modules <= set(_sources.KERNEL_SOURCES)
    pending, seen = list(numba_modules), set()
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        pending.extend(_lazyconn_imports(module) - _NOT_COMPILED)
    assert seen <= set(_sources.KERNEL_SOURCES), sorted(seen - set(_sources.KERNEL_SOURCES))


def test_every_cached_kernel_is_keyed_on_the_digest_of_the_kernel_sources():
    import numba
    from numba.core.dispatcher import Dispatcher

    from lazyconn.kernels import _cpu_kernels, _cpu_random, _cpu_specialise, _ndtri_fast, cpu

    digest = hashlib.sha256()
    for name in _sources.KERNEL_SOURCES:
        data = (PACKAGE / name).read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    assert _numba_cache.sources_digest() == digest.hexdigest()
    dispatchers = [
        value
        for module in (_cpu_kernels, _cpu_random, _cpu_specialise, _ndtri_fast)
        for value in vars(module).values()
        if isinstance(value, Dispatcher) and value.__module__ == module.__name__
    ]
    assert len(dispatchers) > 20
    for dispatcher in dispatchers:
        assert isinstance(dispatcher._cache, _numba_cache.KernelCache), dispatcher
    codegen = cpu._scratch.targetctx.codegen()
    key = cpu._scratch._cache._index_key(numba.void(), codegen)
    assert key[-1] == ("lazyconn-sources", digest.hexdigest())


def _twice(x):
    return 2 * x


def test_without_numba_s_cache_api_kernels_are_not_cached_and_a_warning_says_so(monkeypatch):
    import numba
    from numba.core.caching import NullCache

    namespace = {"__name__": __name__}
    namespace["cached"] = numba.njit(cache=True)(_twice)
    namespace["uncached"] = numba.njit(_twice)
    assert _numba_cache.install(namespace) == 1
    assert isinstance(namespace["cached"]._cache, _numba_cache.KernelCache)
    assert isinstance(namespace["uncached"]._cache, NullCache)
    monkeypatch.setattr(_numba_cache, "_API", False)
    monkeypatch.setattr(_numba_cache, "_warned", False)
    with pytest.warns(UserWarning, match="compiled in every process"):
        assert _numba_cache.install(namespace) == 0
    assert isinstance(namespace["cached"]._cache, NullCache)
    assert namespace["cached"](21) == 42


def test_factory_closures_of_two_laws_have_distinct_stable_index_keys():
    # Closures of kernels_for share a qualname, bytecode and index file; the
    # specialisation key (not Numba's pickle of the cells, which differs per
    # process) tells their entries apart.  test_laws.py checks a fresh process
    # loads each toy law's kernels from the cache.
    import numba

    from lazyconn import laws, rules
    from lazyconn.kernels import _cpu_kernels, _cpu_specialise

    keys = []
    for law in (laws.NORMAL, laws.UNIFORM, laws.SCALAR):
        gather = _cpu_kernels.kernels_for(rules.BERNOULLI, law).gather
        assert isinstance(gather._cache, _numba_cache.KernelCache)
        key = gather._cache._index_key(numba.void(), gather.targetctx.codegen())
        specialisation = _cpu_specialise.specialisation_key(rules.BERNOULLI, law)
        assert key[2][1] == hashlib.sha256(specialisation.encode()).hexdigest()
        assert law.name in specialisation
        keys.append(key)
    assert len({key[2] for key in keys}) == 3  # one entry per law
    assert len({key[2][0] for key in keys}) == 1  # although the bytecode is the same


_FACTORY = '''
import numba
import numpy as np
from lazyconn.kernels import _numba_cache


def make(c):
    @numba.njit(cache=True)
    def weights(x, out):  # big enough that LLVM keeps it a call, as weights_of
        for i in range(out.size):
            v = x * c + i
            if v > 1e6:
                v = np.sqrt(v) * c
            elif v < -1e6:
                v = np.log(-v) - c
            out[i] = v * np.sin(c) + np.cos(v) * c
        return out[0]

    @numba.njit(cache=True)
    def kernel(x, out):
        total = 0.0
        for r in range(3):
            total += weights(x + r, out)
        return total

    _numba_cache.install_closures((weights, kernel), f"factory c={c!r}")
    return kernel


if __name__ == "__main__":
    import sys
    for c in sys.argv[1:]:
        print(make(float(c))(2.0, np.zeros(5)))
'''


def _factory_sums(tmp_path, *cs):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PACKAGE.parent), str(tmp_path)]),
               NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, str(tmp_path / "factory.py"), *map(str, cs)],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return [float(line) for line in out.stdout.split()]


def _factory_sum(c, x=2.0):
    """What ``make(c)(x, out)`` returns: the first of each call's values."""
    return sum(math.sin(c) * ((x + r) * c) + math.cos((x + r) * c) * c for r in range(3))


def test_closures_cached_by_two_processes_keep_their_own_code_in_a_third(tmp_path):
    # Two processes each compile one closure of a factory, in the same order:
    # with Numba's per-process uid counter both get the same symbol names, and
    # a third process loading both from the cache ran the first one's code
    # for the second (numba/numba#10486; seen with the weights_of of two laws).
    (tmp_path / "factory.py").write_text(_FACTORY)
    expected = {c: pytest.approx(_factory_sum(c), rel=1e-12) for c in (3.0, 5.0)}
    assert _factory_sums(tmp_path, 3.0) == [expected[3.0]]
    assert _factory_sums(tmp_path, 5.0) == [expected[5.0]]
    assert len(list((tmp_path / "cache").rglob("*.nbc"))) == 4  # 2 closures x 2 constants
    assert _factory_sums(tmp_path, 3.0, 5.0) == [expected[3.0], expected[5.0]]
    assert _factory_sums(tmp_path, 5.0, 3.0) == [expected[5.0], expected[3.0]]


def test_numba_draws_function_uids_at_random_once_the_kernels_are_imported():
    # The mechanism of the test above: no counter two processes could share.
    from numba.core.bytecode import FunctionIdentity

    if not _numba_cache._API:
        pytest.skip("this Numba has no usable cache API: nothing is cached")
    uids = [next(FunctionIdentity._unique_ids) for _ in range(4)]
    assert isinstance(FunctionIdentity._unique_ids, _numba_cache._RandomUids)
    assert len(set(uids)) == 4 and max(uids) > 2**40


_EDIT_AFTER_IMPORT = """
import sys, warnings
from pathlib import Path
import lazyconn  # reads spec.py, laws.py, random.py ... now
random_py = Path(lazyconn.__file__).parent / "random.py"
random_py.write_bytes(random_py.read_bytes() + b"\\n# an upgrade lands while the process runs\\n")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from lazyconn.kernels import _cpu_random, _numba_cache
print(type(_cpu_random.philox4x32._cache).__name__, _numba_cache.sources_digest())
print(*[str(w.message) for w in caught], sep="\\n")
"""


def test_sources_edited_after_import_turn_the_cache_off_for_that_process(tmp_path):
    # The modules read at `import lazyconn` and the kernel modules read at the
    # first product would be two versions: no digest describes that code, so
    # nothing may be saved under (or loaded for) either one.
    shutil.copytree(PACKAGE, tmp_path / "lazyconn", ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, PYTHONPATH=str(tmp_path), NUMBA_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, "-c", _EDIT_AFTER_IMPORT], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    first, warning = out.stdout.split("\n", 1)
    assert first == "NullCache None"
    assert "changed since it was imported" in warning and "compiled in every process" in warning
