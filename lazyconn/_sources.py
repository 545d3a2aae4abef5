"""The files compiled into the CPU kernels, and their digest as this process imported them.

The Numba cache of the kernels (``kernels/_numba_cache.py``) keys every entry
on one digest of these files.  The digest must describe the code this
process runs, which Python read when it imported each module: ``lazyconn``
imports this module first, so :data:`AT_IMPORT` is taken before any other
lazyconn module is read.  If the files differ when the kernels are imported
(an upgrade or an edit while the process ran), the process runs a mix of
versions and its kernels are not cached at all.

Standard library only: importing lazyconn must not import Numba.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["KERNEL_SOURCES", "digest", "AT_IMPORT"]

_PACKAGE = Path(__file__).resolve().parent

#: Every file, relative to the ``lazyconn`` package, whose contents are
#: compiled into a cached kernel or decide how it is cached: the modules that
#: hold ``cache=True`` functions and every lazyconn module they import
#: (constants are frozen into the machine code).
#: ``tests/test_numba_cache.py`` checks that this covers the kernel modules'
#: lazyconn imports.
KERNEL_SOURCES = (
    "kernels/cpu.py",
    "kernels/_cpu_kernels.py",
    "kernels/_cpu_specialise.py",
    "kernels/_cpu_random.py",
    "kernels/_ndtri_fast.py",
    "spec.py",
    "random.py",
    "laws.py",
    "rules.py",
    "_registry.py",
    "_exp.py",
    "kernels/_cpu_exp.py",
    "_rule_fixed.py",
    "kernels/_cpu_fixed.py",
    "kernels/_cpu_fixed_lanes.py",
    "kernels/_numba_cache.py",
    "_sources.py",
)


def digest():
    """sha256 of the current contents of every file in :data:`KERNEL_SOURCES`.

    Returns
    -------
    str or None
        Hex digest, or None when a source cannot be read (a zipped install).
    """
    hasher = hashlib.sha256()
    try:
        for name in KERNEL_SOURCES:
            data = (_PACKAGE / name).read_bytes()
            # Length-prefixed, so that moving bytes between files changes it.
            hasher.update(f"{name}\0{len(data)}\0".encode())
            hasher.update(data)
    except OSError:
        return None
    return hasher.hexdigest()


#: :func:`digest` when this process imported lazyconn.
AT_IMPORT = digest()
