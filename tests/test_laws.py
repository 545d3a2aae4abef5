"""Weight laws and connection rules as records (issue 13, items 1 and 2).

The registry, the public classes generated from the records, and a toy law
registered from outside the package: the reference and CPU backends must
agree on it bit for bit (windows) and to float tolerance (products), and
its kernels, compiled per law, must never be confused with another law's
in Numba's on-disk cache (same process, then a fresh one).
"""

import inspect
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import lazyconn
from lazyconn import laws, rules
from lazyconn.matrix import CLASS_FOR, classes_for_law
from lazyconn.spec import LAW_NORMAL, LAW_SCALAR, LAW_UNIFORM, Normal, Scalar, Spec, Uniform

ROOT = Path(lazyconn.__file__).resolve().parent.parent


def test_the_codes_of_spec_v1_are_pinned():
    assert (LAW_SCALAR, LAW_NORMAL, LAW_UNIFORM) == (0, 1, 2)
    assert [law.name for law in laws.registered()[:3]] == ["Scalar", "Normal", "Uniform"]
    for law in laws.registered()[:3]:
        assert laws.by_code(law.code) is law and laws.get(law.name) is law
        assert laws.law_class(law.name).code == law.code
    assert rules.by_code(0) is rules.BERNOULLI and rules.BERNOULLI.cuda_type == "BernoulliWalk"
    assert [law.cuda_type for law in laws.registered()[:3]] == ["ScalarLaw", "NormalLaw", "UniformLaw"]


def test_the_weight_strategies_follow_the_records():
    assert laws.SCALAR.constant and not laws.SCALAR.deferred
    assert not laws.UNIFORM.constant and not laws.UNIFORM.deferred
    assert laws.NORMAL.deferred


def test_registry_refuses_taken_names_and_codes_and_names_unknown_ones():
    with pytest.raises(ValueError, match="already registered"):
        laws.register(laws.NORMAL)
    with pytest.raises(ValueError, match="unknown weight law code 99"):
        laws.by_code(99)
    with pytest.raises(KeyError, match="no weight law named 'Gamma'"):
        laws.get("Gamma")
    with pytest.raises(ValueError, match="unknown connection rule code 7"):
        rules.by_code(7)


def test_laws_and_rules_share_one_registry_whose_messages_name_the_kind():
    # One name/code registry (lazyconn._registry) serves both: a rule looked
    # up by an unknown name is named in the error as a law is, and a refused
    # registration leaves both registries, and the law classes, unchanged.
    with pytest.raises(KeyError, match="no connection rule named 'Gap'; registered: .*'Bernoulli'"):
        rules.get("Gap")
    with pytest.raises(ValueError, match="a connection rule named 'Bernoulli' or with code 0 is already registered"):
        rules.register(rules.BERNOULLI)
    with pytest.raises(ValueError, match="a weight law named 'Normal' or with code 1 is already registered"):
        laws.register(laws.NORMAL)
    taken_code = laws.Law(**{**vars(laws.NORMAL), "name": "Other"})
    with pytest.raises(ValueError, match="already registered"):
        laws.register(taken_code)
    assert not hasattr(laws, "Other")
    with pytest.raises(KeyError, match="no weight law named 'Other'"):
        laws.get("Other")
    with pytest.raises(KeyError, match="no weight law named 'Other'"):
        laws.unregister("Other")
    assert rules.get("Bernoulli") is rules.by_code(0) is rules.BERNOULLI
    assert laws.law_class("Normal") is Normal and laws.get("Normal") is laws.by_code(1) is laws.NORMAL


def test_law_classes_keep_their_names_signatures_reprs_and_pickles():
    for cls, params in ((Scalar, ["weight"]), (Normal, ["loc", "scale"]), (Uniform, ["low", "high"])):
        assert cls.__module__ == "lazyconn.spec" and getattr(lazyconn, cls.__name__) is cls
        assert list(inspect.signature(cls).parameters) == params
        assert "Parameters\n    ----------" in cls.__doc__
    law = Normal(0.25, 1.5)
    assert repr(law) == "Normal(loc=0.25, scale=1.5)"
    assert pickle.dumps(law)[:40].count(b"lazyconn.spec") == 1
    assert pickle.loads(pickle.dumps(law)) == law and hash(law) == hash(Normal(0.25, 1.5))
    assert law.kernel_params() == (0.25, 1.5) and Uniform(-1.0, 2.0).kernel_params() == (-1.0, 3.0)
    with pytest.raises(ValueError, match="scale must be >= 0"):
        Normal(0.0, -1.0)
    with pytest.raises(ValueError, match="low must be <= high"):
        Uniform(2.0, 1.0)
    with pytest.raises(TypeError, match="weight must be a real number"):
        Scalar("1")


def test_matrix_classes_are_generated_from_laws_times_orientations():
    for law in ("Scalar", "Normal", "Uniform"):
        row, col = classes_for_law(law)
        assert (row, col) == (getattr(lazyconn, f"JITC{law}R"), getattr(lazyconn, f"JITC{law}C"))
        assert row._mirror is col and col._mirror is row
        assert CLASS_FOR[(laws.law_class(law), "R")] is row
        params = list(inspect.signature(row).parameters)
        assert params == ["num_pre", "num_post", "prob", *laws.get(law).params, "seed", "dtype", "include_self",
                          "num_conn"]
        assert laws.get(law).summary in row.__doc__ and "row by row" in row.__doc__
    conn = lazyconn.JITCUniformC(5, 6, 0.3, -1.0, 2.0, seed=3)
    assert repr(conn) == "JITCUniformC(num_pre=5, num_post=6, prob=0.3, low=-1.0, high=2.0, seed=3, dtype=float32)"
    assert pickle.loads(pickle.dumps(conn)).same_generator(conn)
    with pytest.raises(TypeError, match=r"JITCNormalR.__init__\(\) missing 1 required positional argument: 'scale'"):
        lazyconn.JITCNormalR(5, 5, 0.1, 1.0)


def test_kernel_params_carry_prob_and_the_rule():
    params = Spec((10, 20), "R", 0.25, Normal(0.0, 1.0), 7, np.float32).kernel_params()
    assert params.prob == 0.25 and params.rule == rules.BERNOULLI.code
    assert params.inv_log_q == rules.inv_log_q(0.25) and params.law == LAW_NORMAL


# ----------------------------------------------------------------- a toy law
_TOY_LAWS = '''
"""Two toy laws, registered from outside lazyconn: what adding a law takes."""
from lazyconn import laws
from lazyconn.matrix import classes_for_law


def square_weight(u, a, b):
    return a + b * u * u


def cube_weight(u, a, b):
    return a - b * u * u * u


def _check(low, width):
    low, width = laws.check_finite("low", low), laws.check_finite("width", width)
    if width < 0:
        raise ValueError(f"width must be >= 0, got {width!r}")
    return low, width


def _law(name, code, function, cost):
    return laws.Law(
        name=name, code=code, params=("low", "width"), check=_check,
        kernel_params=lambda low, width: (low, width),
        max_abs_weight=lambda low, width: abs(low) + width,
        reference=function, numba=function, cuda_type=name + "Law", cost=cost,
        summary=name + " weights", doc=name + " weights.\\n",
        matrix_params_doc="    low, width : float\\n        The toy parameters.\\n",
    )


Square = laws.register(_law("Square", 90, square_weight, 1.0))  # weights per batch
Cube = laws.register(_law("Cube", 91, cube_weight, 10.0))  # weights deferred
SquareR, SquareC = classes_for_law("Square")
CubeR, CubeC = classes_for_law("Cube")
'''

_PROBE = '''
import hashlib
import numpy as np
import toy_laws
from lazyconn import laws, rules
from lazyconn.kernels import _cpu_kernels, cpu, reference

rng = np.random.default_rng(0)
hits = misses = 0
for conn in (toy_laws.SquareR(70, 900, 0.2, 0.5, 2.0, seed=5), toy_laws.CubeC(900, 70, 0.2, -1.0, 3.0, seed=5)):
    dense = conn.todense()
    params = conn.spec.kernel_params()
    k1, j1 = conn.spec.major_size, conn.spec.minor_size
    expected = reference.dense(params, 0, k1, 0, j1, conn.dtype)
    assert cpu.dense(params, 0, k1, 0, j1, conn.dtype).tobytes() == expected.tobytes()
    assert dense.tobytes() == (expected if conn.spec.orientation == "R" else expected.T).tobytes()
    vectors = rng.standard_normal((j1, 1)).astype(np.float32)
    np.testing.assert_allclose(cpu.gather(params, 0, k1, 0, j1, vectors, conn.dtype),
                               reference.gather(params, 0, k1, 0, j1, vectors, conn.dtype), rtol=1e-4, atol=1e-4)
    lines = np.flatnonzero(rng.random(k1) < 0.3)
    values = rng.standard_normal((lines.size, 1)).astype(np.float32)
    np.testing.assert_allclose(cpu.scatter(params, lines, values, 0, j1, conn.dtype),
                               reference.scatter(params, lines, values, 0, j1, conn.dtype), rtol=1e-4, atol=1e-4)
    kernels = _cpu_kernels.kernels_for(rules.BERNOULLI, laws.by_code(params.law))
    for kernel in kernels:
        hits += sum(kernel._cache_hits.values())
        misses += sum(kernel._cache_misses.values())
    print(type(conn).__name__, hashlib.sha256(dense.tobytes()).hexdigest()[:16])
print("cache", hits, misses)
'''


@pytest.mark.skipif(os.environ.get("LAZYCONN_BACKEND") == "reference", reason="needs the Numba backend")
def test_a_toy_law_registered_outside_the_package_matches_the_reference_and_caches_apart(tmp_path):
    pytest.importorskip("numba")
    (tmp_path / "toy_laws.py").write_text(textwrap.dedent(_TOY_LAWS))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]),
               NUMBA_CACHE_DIR=str(tmp_path / "cache"), LAZYCONN_BACKEND="cpu")
    runs = []
    for _ in range(2):  # the second, fresh process loads every kernel of both laws from the cache
        out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env,
                             cwd=tmp_path, timeout=900)
        assert out.returncode == 0, out.stderr[-3000:]
        runs.append(out.stdout.split("\n"))
    first, second = runs
    assert first[:2] == second[:2]  # the same matrices
    assert first[0].startswith("JITCSquareR") and first[1].startswith("JITCCubeC")
    hits, misses = (int(v) for v in first[2].split()[1:])
    assert misses >= 6 and hits == 0  # compiled: two laws x (lines, gather, scatter)
    hits, misses = (int(v) for v in second[2].split()[1:])
    assert misses == 0 and hits >= 6, second[2]


def test_no_law_is_tested_at_run_time_in_the_cpu_kernels():
    # Kernels are specialised per (rule, law) when compiled (kernels_for):
    # the hot loops branch on the law's strategy constants, never on its code.
    import re

    for name in ("_cpu_kernels.py", "_cpu_random.py"):
        source = (ROOT / "lazyconn" / "kernels" / name).read_text()
        assert not re.search(r"\blaw\s*[!=]=|LAW_[A-Z]+|gen\[", source), name
