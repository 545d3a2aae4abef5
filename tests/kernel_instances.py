"""The GPU kernels' CUDA source and the instances that CuPy compiles, without a GPU.

:func:`source_and_instances` prints, in a child process with CuPy stubbed
(no device is touched), ``_gpu_launch._source()`` and the name expressions
that ``_gpu_launch._kernel`` forms for a Bernoulli and a fixed-number matrix
of each law (the strings NVRTC compiles on a GPU), plus the deterministic
scatter's kernels and the small kernels beside the products.  Used by the
nvcc and NVRTC compile tests (``tests/test_gpu_fixed_number.py``) and by
``asv_benchmarks/gpu_registers.py``.
"""

import os
import subprocess
import sys
from pathlib import Path

#: The repository whose lazyconn the child imports by default.
ROOT = Path(__file__).resolve().parents[1]

#: The child: the source, then the names, then _gpu_launch._OPTIONS, split by
#: separator lines.
CHILD = r"""
import sys, types
import numpy as np
cupy = types.ModuleType("cupy")
cupy.cuda = types.SimpleNamespace(Device=lambda *args: types.SimpleNamespace(id=0))
sys.modules["cupy"] = cupy
from lazyconn.kernels import _gpu_launch as launch
from lazyconn.laws import Exponential, LogNormal
from lazyconn.spec import Normal, Scalar, Spec
launch._function = lambda expression, device_id: expression
names = []
for spec in (Spec((50, 60), "R", 0.1, Normal(0.0, 1.0), 1, np.float32),
             Spec((50, 60), "R", None, Normal(0.0, 1.0), 1, np.float32, num_conn=7),
             Spec((60, 60), "C", None, LogNormal(0.0, 1.0), 1, np.float64, False, num_conn=7),
             Spec((50, 60), "R", None, Scalar(2.0), 1, np.float32, num_conn=7),
             Spec((50, 60), "R", None, Exponential(1.0), 1, np.float32, num_conn=7)):
    params, dtype = spec.kernel_params(), spec.dtype
    law, rule, plain = launch.law_type(params), launch.rule_type(params), launch._plain(params, 0)
    names += [launch._kernel("jitc_dense", dtype, law=law, rule=rule),
              launch._kernel("jitc_coo_count", dtype, rule=rule),
              launch._kernel("jitc_coo_fill", dtype, law=law, rule=rule),
              launch._kernel("jitc_degrees", dtype, law=law, rule=rule),
              launch._kernel("jitc_gather", dtype, dtype, 1, True, law, plain, rule=rule),
              launch._kernel("jitc_gather", dtype, np.float64, 8, False, law, plain, rule=rule)]
    names += [launch._kernel("jitc_scatter", dtype, dtype, 1, True, law, plain, mode, rule)
              for mode in ((0, 1, 2) if law == "ScalarLaw" else (0, 1))]
names = list(dict.fromkeys(names))  # once each
sys.stdout.write(launch._source() + "\n//@@\n" + "\n".join(names) + "\n//@@\n" + "\n".join(launch._OPTIONS))
"""

#: The deterministic scatter's kernels, as _gpu_fixed._scatter_into names
#: them, and the small kernels beside the products (event finding, count
#: scaling, partial sums, the fixed-point passes, the route checks).
FIXED_POINT_INSTANCES = [
    f"jitc_scatter_fixed<{args}, {rule}>"
    for rule in ("BernoulliWalk", "FixedNumberWalk")
    for args in ("float, float, 1, true, NormalLaw, false, false, 1, 4",
                 "float, float, 1, true, ScalarLaw, false, false, 1, 4",
                 "double, float, 1, true, ScalarLaw, false, false, 1, 4",
                 "double, double, 8, false, ExponentialLaw, false, true, 2, 4")
] + [f"jitc_find_events<{t}>" for t in ("float", "double", "unsigned char")] + [
    f"{name}<{t}>" for name in ("jitc_scale_counts", "jitc_sum_partials", "jitc_fixed_exponents")
    for t in ("float", "double")
] + ["jitc_fixed_finish<float, 1>", "jitc_fixed_finish<double, 2>"] + [
    f"jitc_law32_check<{law}>" for law in ("NormalLaw", "LogNormalLaw", "ExponentialLaw")
]


def source_and_instances(root=ROOT):
    """``(source, names, options)`` of the lazyconn tree at ``root``.

    ``source`` is the CUDA source CuPy compiles, ``names`` every kernel
    instance (name expressions), ``options`` ``_gpu_launch._OPTIONS``.
    """
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, check=False,
                            cwd=str(root))
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-4000:])
    source, names, options = result.stdout.split("\n//@@\n")
    return source, names.split("\n") + FIXED_POINT_INSTANCES, tuple(options.split("\n"))


def instantiated(source, names):
    """``source`` followed by a table that takes the address of every kernel in ``names``.

    nvcc then compiles each of those template instances (NVRTC is given the
    names instead).
    """
    table = "\n".join(f"    (void *)&{name}," for name in names)
    return (source + f"\nstatic void *jitc_instances[] = {{\n{table}\n}};\n"
            "void *jitc_instance(int i) { return jitc_instances[i]; }\n")
