"""Registers and spills of every GPU kernel instance, from nvcc, without a GPU.

Usage (from the repository root, on a machine with nvcc; no GPU needed)::

    python asv_benchmarks/gpu_registers.py                        # this tree
    python asv_benchmarks/gpu_registers.py --match FixedNumberWalk
    python asv_benchmarks/gpu_registers.py --tree /tmp/base --tree .   # side by side

For each tree, compiles the kernel instances that CuPy would compile
(``tests/kernel_instances.py``: the products of a Bernoulli and a
fixed-number matrix of each law, the deterministic scatter and the small
kernels) for sm_90 with ``_gpu_launch``'s options, and prints each
kernel's registers and spill stores / loads in bytes (``ptxas -v``), one
column per tree.  A kernel that spills inside its walk, or that needs more
registers than its ``__launch_bounds__`` allow for the CTAs it asks, shows
here before any device time is spent (``docs/developing.md``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from kernel_instances import instantiated, source_and_instances


def registers(tree, match):
    """``{kernel (demangled-ish name): (registers, spill stores, spill loads)}`` for a tree."""
    source, names, options = source_and_instances(Path(tree).resolve())
    names = [name for name in names if match in name]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "jitc_all.cu"
        path.write_text(instantiated(source, names))
        fmad = ["-fmad=false"] if "--fmad=false" in options else []
        result = subprocess.run(["nvcc", "-arch=sm_90", "-std=c++17", *fmad, "-DJITC_WITH_UTILS", "-ftz=true",
                                 "-cubin", "-Xptxas", "-v", str(path), "-o", str(Path(tmp) / "jitc_all.cubin")],
                                capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-4000:])
    found, kernel, spill = {}, None, (0, 0)
    for line in result.stderr.splitlines():
        entry = re.search(r"Compiling entry function '(\w+)'", line)
        if entry:
            kernel, spill = entry.group(1), (0, 0)
            continue
        spilled = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if spilled and kernel:
            spill = (int(spilled.group(1)), int(spilled.group(2)))
            continue
        used = re.search(r"Used (\d+) registers", line)
        if used and kernel:
            found[_short(kernel)] = (int(used.group(1)), *spill)
            kernel = None
    return found


def _short(mangled):
    """The kernel's name and template arguments as they read in the mangled name, parameters dropped."""
    return re.sub(r"Ev8jitc_gen.*$", "", mangled)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", action="append", help="a lazyconn checkout (repeat to compare); default: this one")
    parser.add_argument("--match", default="", help="only instances whose name expression contains this")
    args = parser.parse_args(argv)
    if shutil.which("nvcc") is None:
        raise SystemExit("nvcc is not installed")
    trees = args.tree or [str(Path(__file__).resolve().parents[1])]
    tables = [registers(tree, args.match) for tree in trees]
    print("registers, spill stores / loads (bytes); sm_90; columns: " + ", ".join(trees))
    for kernel in tables[0]:
        cells = [f"{t[kernel][0]:>3} {t[kernel][1]:>4}/{t[kernel][2]:<4}" if kernel in t else "-" for t in tables]
        print(f"{kernel:72s} " + "   ".join(cells))


if __name__ == "__main__":
    main()
