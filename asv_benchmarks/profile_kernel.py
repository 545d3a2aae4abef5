"""Where a CPU product spends its time: ``perf`` samples mapped onto the Numba kernels.

Usage (from the repository root; needs Linux ``perf`` and ``objdump``)::

    python asv_benchmarks/profile_kernel.py                          # Scalar M @ y, p = 0.01
    python asv_benchmarks/profile_kernel.py --law Exponential --product scatter --annotate 6

``perf`` cannot name JIT code by itself.  This script compiles the kernels
in its own process (a fresh, temporary Numba cache), runs the product on one
thread through the serial kernel (so that the walk is in a function of the
kernel's own library, not in a parfor body), writes ``/tmp/perf-PID.map``
with the address and size of every function of that library, records the
process with ``perf record -p`` for ``--seconds`` while the product runs in a
loop, and prints the share of samples per function; with ``--annotate K``
also the K hottest 128-byte windows of machine code, each instruction with
its share (``objdump`` of the library's object code; samples land on the
instruction after a slow one).  Shares only: no timing is printed.  The
temporary cache, object code and ``perf.data`` are removed at the end.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

LAWS = {
    "Scalar": ("Scalar", (0.5,)),
    "Uniform": ("Uniform", (0.0, 1.0)),
    "Normal": ("Normal", (0.0, 1.0)),
    "LogNormal": ("LogNormal", (0.0, 1.0)),
    "Exponential": ("Exponential", (1.0,)),
}


def _serial_kernel(lazyconn, cpu, args):
    """Build the matrix, run the product once through the serial kernel; return (call, dispatcher)."""
    import numpy as np

    cls, law_args = LAWS[args.law]
    prob, num_conn = (None, args.num_conn) if args.num_conn is not None else (args.p, None)
    conn = lazyconn.from_spec(lazyconn.Spec((args.n, args.n), "R", prob, getattr(lazyconn, cls)(*law_args),
                                            20240601, np.float32, num_conn=num_conn))[:args.lines]
    used = []

    def launch(kernel, expected, *kernel_args, serial_kernel=None):
        used.append(serial_kernel)
        serial_kernel(*kernel_args)

    cpu._launch = launch
    x = np.random.default_rng(0).standard_normal(args.n).astype(np.float32)
    call = (lambda: conn @ x) if args.product == "gather" else (lambda: x[:args.lines] @ conn)
    call()
    return call, used[-1]


def _functions(library, object_path):
    """``[(address, size, name, offset in the object)]`` of the library's functions."""
    with open(object_path, "wb") as out:
        out.write(library._get_compiled_object())
    table = subprocess.run(["objdump", "-t", object_path], capture_output=True, text=True, check=True).stdout
    found = []
    for line in table.splitlines():
        if " F .ltext" not in line and " F .text" not in line:
            continue
        parts = line.split()
        name, size, offset = parts[-1], int(parts[-2], 16), int(parts[0], 16)
        try:
            address = library.get_pointer_to_function(name)
        except Exception:  # a symbol the engine does not export
            continue
        if address and size:
            found.append((address, size, name, offset))
    return found


def main(argv=None):
    """Profile one product and print the shares.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--law", default="Scalar", choices=sorted(LAWS))
    parser.add_argument("--product", default="gather", choices=["gather", "scatter"])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--p", type=float, default=0.01)
    parser.add_argument("--num-conn", type=int, default=None, metavar="K",
                        help="the fixed-number rule with K entries per line, in place of --p")
    parser.add_argument("--lines", type=int, default=4000)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--annotate", type=int, default=0, metavar="K", help="also the K hottest code windows")
    args = parser.parse_args(argv)

    work = tempfile.mkdtemp(prefix="lazyconn_profile_")
    os.environ["NUMBA_CACHE_DIR"] = os.path.join(work, "numba")  # compile here: object code available
    os.environ["LAZYCONN_BACKEND"] = "cpu"
    import numba

    import lazyconn
    from lazyconn.kernels import cpu

    numba.set_num_threads(1)
    call, dispatcher = _serial_kernel(lazyconn, cpu, args)
    library = dispatcher.overloads[dispatcher.signatures[0]].library
    object_path = os.path.join(work, "kernel.o")
    functions = _functions(library, object_path)
    perf_map = f"/tmp/perf-{os.getpid()}.map"
    with open(perf_map, "w") as out:
        for address, size, name, _ in functions:
            out.write(f"{address:x} {size:x} {name}\n")
    data = os.path.join(work, "perf.data")
    perf = subprocess.Popen(["perf", "record", "-o", data, "-p", str(os.getpid())],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    start = time.time()
    while time.time() - start < args.seconds:
        call()
    perf.send_signal(2)
    perf.wait()
    ips = subprocess.run(["perf", "script", "-i", data, "-F", "ip"], capture_output=True, text=True).stdout.split()
    os.remove(perf_map)
    per_function = collections.Counter()
    per_offset = collections.Counter()
    for ip in (int(value, 16) for value in ips):
        for address, size, name, offset in functions:
            if address <= ip < address + size:
                per_function[name] += 1
                per_offset[ip - address + offset] += 1
                break
        else:
            per_function["(outside the kernel's library)"] += 1
    total = max(len(ips), 1)
    print(f"{args.law} {args.product}, N = {args.n:,}, " + (f"K = {args.num_conn}" if args.num_conn is not None else f"p = {args.p}") + f", {args.lines} lines, 1 thread, "
          f"{len(ips)} samples")
    for name, count in per_function.most_common(12):
        print(f"  {100 * count / total:5.1f}%  {name[:110]}")
    if args.annotate:
        listing = subprocess.run(["objdump", "-d", "--no-show-raw-insn", object_path], capture_output=True,
                                 text=True, check=True).stdout
        code = {}
        for line in listing.splitlines():
            match = re.match(r"\s+([0-9a-f]+):\s+(.*)", line)
            if match:
                code[int(match.group(1), 16)] = match.group(2)[:90]
        windows = collections.Counter()
        for offset, count in per_offset.items():
            windows[offset // 128 * 128] += count
        for window, count in windows.most_common(args.annotate):
            print(f"\nwindow {window:#x}: {100 * count / total:.1f}% of samples")
            for offset in sorted(a for a in code if window <= a < window + 128):
                print(f"  {100 * per_offset[offset] / total:5.2f}%  {offset:6x}: {code[offset]}")
    shutil.rmtree(work, ignore_errors=True)
    return per_function


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
