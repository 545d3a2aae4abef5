"""The deterministic GPU scatter's driver (_gpu_fixed.py) with its levels, on the CPU.

_gpu_fixed splits an operand whose columns span many exponents into levels,
launches the fixed-point kernel once per level and adds the levels in its
final kernel (issue 11, item 11).  Its CUDA kernels run only on a GPU
(tests/test_gpu_determinism.py); here, in a child process, a NumPy stand-in
for CuPy and an emulation of jitc_fixed.cu's kernels (exponents, the
fixed-point scatter with exact rounding, the final kernel's arithmetic)
run the real driver, so that its plan, its split of the operand, its
finer launches (lines, line offsets, exponents) and its chunks are checked
against exact sums on every machine.  The emulation unpacks the kernels'
arguments as _gpu_fixed passes them: a change of those arguments must
change it too.
"""

import math
import os
import subprocess
import sys
import types
from fractions import Fraction
from pathlib import Path

import numpy as np


def test_driver_of_the_levels_on_the_cpu():
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    run = subprocess.run([sys.executable, __file__], env=env, capture_output=True, text=True, timeout=600,
                         check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert run.stdout.strip().endswith("ok")


# ---------------------------------------------------------------- the child
def _signed(u):
    u = int(u)
    return u - 2**64 if u >= 2**63 else u


def _template_args(expr):
    return [a.strip() for a in expr[expr.index("<") + 1 : expr.rindex(">")].split(",")]


class _Device:
    id = 0
    attributes = {"MultiProcessorCount": 132}  # noqa: RUF012

    def __init__(self, device_id=0):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _LevelKernel:
    """_gpu_fixed._level_of: the level of each entry."""

    def __init__(self, *args, **kwargs):
        assert args[3] == "lazyconn_fixed_level"

    def __call__(self, x, emax, bits, top):
        v = x.astype(np.float64)
        ok = np.isfinite(v) & (v != 0)
        d = emax[None, :] - np.frexp(np.where(ok, v, 1.0))[1]
        assert d[ok].min(initial=0) >= 0
        return np.where(ok, np.minimum(d // int(bits), int(top)), 0).astype(np.int8)


def _exponents(grid, block, args):
    part, _, _, _, n_cols, emax, emin = args
    for c in range(int(n_cols)):
        v = part[:, c].astype(np.float64)
        v = v[np.isfinite(v) & (v != 0)]
        if v.size:
            emax[c] = max(emax[c], np.frexp(v)[1].max())
            emin[c] = min(emin[c], np.frexp(v)[1].min())


def _scatter(expr, calls):
    """jitc_scatter_fixed: each term w * x * 2**S rounded as the kernel does (hi, then lo at 31 more bits)."""
    from lazyconn.kernels import reference

    w_type, _, _, _, _, _, events, nw, _, _ = _template_args(expr)  # ..., MIN_CTAS, Rule
    nw = int(nw)
    w_dtype = np.float32 if w_type == "float" else np.float64

    def run(grid, block, args, shared_mem=0):
        params = args[0]
        (rows, n_rows, chunk_rows, line0, values, _, _, values_by_row, col0, nc, j0, j1, _, _, _, acc, acc_ld, _,
         emax, shift0, _, _) = args[1:]
        calls.append((int(n_rows[0]), int(line0), emax.copy()))
        n = int(n_rows[0])
        flat = acc.reshape(-1)
        assert np.shares_memory(flat, acc)
        for li in range(n):
            row = li if n == int(chunk_rows) else int(rows[li])
            line = int(line0) + row
            w = reference.dense(params, line, line + 1, int(j0), int(j1), w_dtype)[0]
            for c in range(int(nc)):
                x = 1.0 if events == "true" else float(values[row if values_by_row else li, int(col0) + c])
                xs = math.ldexp(x, int(shift0) - max(int(emax[int(col0) + c]), -1080))
                for j in np.flatnonzero(w):
                    exact = Fraction(float(w[j])) * Fraction(xs)
                    hi = round(float(exact))
                    at = (j * int(acc_ld) + int(col0) + c) * nw
                    flat[at] = (int(flat[at]) + hi) % 2**64
                    if nw == 2:
                        flat[at + 1] = (int(flat[at + 1]) + round((exact - hi) * 2**31)) % 2**64

    return run


def _two_sum(s, err, v):
    t = s + v
    bv = t - s
    return t, err + ((s - (t - bv)) + (v - bv))


def _finish(expr):
    """jitc_fixed_finish without flags, in the same double operations."""
    nw = int(_template_args(expr)[1])

    def run(grid, block, args):
        acc, _, _, emax, shift0, n, n_cols, out, fine, plane, levels, bits = args
        a, f, o = acc.reshape(-1), fine.reshape(-1), out.reshape(-1)
        for e in range(int(n)):
            h = _signed(a[e * nw])
            head = float(h)
            rest = float(h - int(head))
            if nw == 2:
                rest += math.ldexp(float(_signed(a[e * nw + 1])), -31)
            total = head + rest
            if int(levels) > 1:
                s, err = _two_sum(head, 0.0, rest)
                for k in range(1, int(levels)):
                    at = (k - 1) * int(plane) + e * nw
                    scale = math.ldexp(1.0, -k * int(bits))
                    fh = float(_signed(f[at]))
                    s, err = _two_sum(s, err, fh * scale)
                    s, err = _two_sum(s, err, float(_signed(f[at]) - int(fh)) * scale)
                    if nw == 2:
                        s, err = _two_sum(s, err, math.ldexp(float(_signed(f[at + 1])), -31) * scale)
                total = s + err
            o[e] = math.ldexp(total, -(int(shift0) - max(int(emax[e % int(n_cols)]), -1080)))

    return run


def _install():
    """Install the NumPy stand-in as ``cupy`` and the kernel emulation into _gpu_launch; return the launch log."""
    cp = types.ModuleType("cupy")
    for name in ("zeros", "full", "empty", "asarray", "ascontiguousarray", "flatnonzero", "where", "int8", "int32",
                 "uint32", "uint64", "int64", "ndarray"):
        setattr(cp, name, getattr(np, name))
    cp.asnumpy = np.asarray
    cp.cuda = types.SimpleNamespace(Device=_Device)
    cp.ElementwiseKernel = _LevelKernel
    sys.modules["cupy"] = cp
    from lazyconn.kernels import _gpu_launch

    calls = []

    def function(expr, device_id):
        if expr.startswith("jitc_fixed_exponents"):
            return _exponents
        if expr.startswith("jitc_scatter_fixed"):
            return _scatter(expr, calls)
        assert expr.startswith("jitc_fixed_finish"), expr
        return _finish(expr)

    def find_events(part, active, n_active):
        rows = np.flatnonzero((part != 0).any(axis=1))
        active[: rows.size] = rows
        n_active[0] = rows.size

    _gpu_launch._function = function
    _gpu_launch._gen_args = lambda params: params  # the kernel takes one generator record
    _gpu_launch._find_events = find_events
    return calls


def _exact_sums(dense, x):
    out = np.empty(dense.shape[1])
    for j in range(dense.shape[1]):
        rows = np.flatnonzero(dense[:, j])
        out[j] = float(sum((Fraction(float(dense[i, j])) * Fraction(float(x[i])) for i in rows), Fraction(0)))
    return out


def _check(got, dense, x, params, dtype):
    """Every output within 2**-(p + 1) * 2**ew * sum|x_i| of the exact sum, plus its final rounding."""
    from lazyconn.kernels import _gpu_fixed

    exact = np.stack([_exact_sums(dense, x[:, c]) for c in range(x.shape[1])], axis=1)
    reach = (dense != 0).T.astype(np.float64) @ np.abs(x.astype(np.float64))
    u = 2.0 ** -(np.finfo(dtype).nmant + 1)
    bound = (u / 2 * 2.0 ** _gpu_fixed.weight_exponent(params) * reach + u * np.abs(exact)) * (1 + 2**-20)
    err = np.abs(got.astype(np.float64) - exact)
    assert np.all(err <= bound + 2.0**-1074), float(np.max(err / bound))


def _main():
    calls = _install()
    from lazyconn.kernels import _gpu_fixed, _gpu_launch, reference
    from lazyconn.spec import Normal, Scalar, Spec

    for dtype in (np.float32, np.float64):
        for law in (Normal(0.0, 1.0), Scalar(0.5)):
            params = Spec((120, 300), "R", 0.1, law, 12, dtype).kernel_params()
            rng = np.random.default_rng(7)
            x = rng.standard_normal((120, 2))
            x[17] = 1e12
            x[30:40] *= 1e-12
            x[50:55] *= 1e-30
            x = x.astype(dtype)
            dense = reference.dense(params, 0, 120, 0, 300, dtype)
            # Lines in another order (values by line), then rows in chunks of 50.
            calls.clear()
            perm = rng.permutation(120)
            got = _gpu_fixed.scatter(params, perm.astype(np.int64), x[perm], 0, 300, dtype)
            _check(got, dense, x, params, dtype)
            assert len(calls) >= 4  # level 0 and finer levels
            _gpu_launch._ROWS_PER_CHUNK = 50
            rows = _gpu_fixed.scatter_rows(params, 0, x, False, 0, 300, dtype, dtype)
            assert rows.tobytes() == got.tobytes()  # integers: the same bits by either route
            # A window: lines 10..110, columns 20..280.
            sub = _gpu_fixed.scatter_rows(params, 10, x[10:110], False, 20, 280, dtype, dtype)
            _check(sub, dense[10:110, 20:280], x[10:110], params, dtype)
            _gpu_launch._ROWS_PER_CHUNK = 1 << 21
    # A narrow column: one level, one launch (the single-resolution sum).
    params = Spec((120, 300), "R", 0.1, Normal(0.0, 1.0), 12, np.float32).kernel_params()
    calls.clear()
    _gpu_fixed.scatter_rows(params, 0, np.linspace(1, 2, 120, dtype=np.float32)[:, None], False, 0, 300,
                            np.float32, np.float32)
    assert len(calls) == 1
    # Beyond the levels: refused before any launch.
    calls.clear()
    y = np.ones((120, 1), np.float32)
    y[3], y[4] = 3e38, 1e-45
    try:
        _gpu_fixed.scatter_rows(params, 0, y, False, 0, 300, np.float32, np.float32)
    except ValueError as exc:
        assert "operand column 0 spans 2**276" in str(exc) and "deterministic=False" in str(exc)
    else:
        raise AssertionError("no ValueError")
    assert not calls
    print("ok")


if __name__ == "__main__":
    _main()
