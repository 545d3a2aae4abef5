"""NVRTC, the compiler CuPy runs on the GPU kernels, called through ctypes.

CuPy compiles ``_gpu_launch._source()`` with NVRTC at the first product on
a device; nvcc (``test_the_kernels_of_both_rules_compile_with_nvcc``) accepts
some code that NVRTC refuses (a member of a template argument written
straight into ``__launch_bounds__``, for one).  With the NVRTC library of
the ``nvidia-cuda-nvrtc`` wheel (a test dependency on Linux x86-64) the
kernels are compiled here exactly as CuPy compiles them, without a GPU.
Use :func:`library` (None without one), then :func:`compile_ptx`.
"""

import ctypes
import ctypes.util
import glob
import os
import sys


def library():
    """The NVRTC shared library, or None if none is installed."""
    candidates = []
    for entry in sys.path:
        for pattern in ("nvidia/*/lib/libnvrtc.so*", "nvidia/cuda_nvrtc/lib/libnvrtc.so*"):
            candidates += sorted(glob.glob(os.path.join(entry, pattern)))
    found = ctypes.util.find_library("nvrtc")
    if found:
        candidates.append(found)
    for path in candidates:
        if "builtins" in os.path.basename(path):
            continue
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def compile_ptx(lib, source, names, options):
    """Compile ``source`` for the name expressions ``names``; ``(ok, log, lowered)``.

    ``lowered`` maps each name expression to its mangled kernel name (empty
    when the compile failed).
    """
    program = ctypes.c_void_p()
    if lib.nvrtcCreateProgram(ctypes.byref(program), source.encode(), b"jitc.cu", 0, None, None) != 0:
        return False, "nvrtcCreateProgram failed", {}
    try:
        for name in names:
            lib.nvrtcAddNameExpression(program, name.encode())
        encoded = [option.encode() for option in options]
        status = lib.nvrtcCompileProgram(program, len(encoded), (ctypes.c_char_p * len(encoded))(*encoded))
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(program, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(program, log)
        if status != 0:
            return False, log.value.decode(errors="replace"), {}
        lowered = {}
        for name in names:
            out = ctypes.c_char_p()
            if lib.nvrtcGetLoweredName(program, name.encode(), ctypes.byref(out)) == 0 and out.value:
                lowered[name] = out.value.decode()
        return True, log.value.decode(errors="replace"), lowered
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(program))
