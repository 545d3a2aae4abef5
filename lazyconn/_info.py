"""What this installation can do: versions, backends, threads, GPU.

:func:`info` gathers the facts into a plain dict (easy to log, compare or
serialise); :func:`format_info` turns that dict into the text printed by
``lazyconn info``.  Nothing here changes a setting: optional packages are
only imported to ask whether they work.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import sys

__all__ = ["info", "format_info", "gpu_status"]

_PACKAGES = ("numpy", "numba", "scipy", "dask", "distributed", "cupy", "matplotlib", "tqdm")


def _version(name):
    """Installed version of a distribution, or None (without importing it)."""
    # cupy is published under wheel names such as cupy-cuda12x.
    candidates = (name,) if name != "cupy" else ("cupy", "cupy-cuda12x", "cupy-cuda11x", "cupy-cuda13x")
    for candidate in candidates:
        try:
            return importlib.metadata.version(candidate)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _short_error(exc):
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _cpu_backend():
    entry = {"available": False, "threads": None, "detail": None}
    try:
        cpu = importlib.import_module("lazyconn.kernels.cpu")
    except Exception as exc:  # ImportError, or a Numba error while importing
        entry["detail"] = _short_error(exc)
        return entry
    entry["available"] = True
    num_threads = getattr(cpu, "num_threads", None)
    if callable(num_threads):
        entry["threads"] = int(num_threads())
    else:
        try:
            import numba

            entry["threads"] = int(numba.get_num_threads())
        except Exception:  # noqa: BLE001 - a thread count is only informative
            entry["threads"] = None
    return entry


def gpu_status():
    """Whether CuPy, a CUDA device and lazyconn's GPU kernels all work.

    Returns
    -------
    dict
        ``"available"`` (bool), ``"device"`` (GPU model or None),
        ``"memory_gib"`` and ``"detail"`` (why not, or None).
    """
    entry = {"available": False, "device": None, "memory_gib": None, "detail": None}
    try:
        import cupy
    except Exception as exc:
        entry["detail"] = _short_error(exc)
        return entry
    try:
        if not cupy.is_available():
            entry["detail"] = "cupy is installed but sees no usable CUDA device"
            return entry
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"]
        entry["device"] = name.decode() if isinstance(name, bytes) else str(name)
        entry["memory_gib"] = round(props["totalGlobalMem"] / 2**30, 1)
    except Exception as exc:
        entry["detail"] = _short_error(exc)
        return entry
    try:
        importlib.import_module("lazyconn.kernels.gpu")
    except Exception as exc:
        entry["detail"] = f"a GPU is present but lazyconn.kernels.gpu failed to import ({_short_error(exc)})"
        return entry
    entry["available"] = True
    return entry


def _dask_backend():
    entry = {"available": False, "detail": None}
    try:
        importlib.import_module("lazyconn.dask")
    except Exception as exc:
        entry["detail"] = _short_error(exc)
        return entry
    entry["available"] = True
    return entry


def info():
    """Versions, available backends and the backend chosen for NumPy operands.

    Optional packages (Numba kernels, CuPy, Dask) are imported to check that
    they work; nothing is configured.

    Returns
    -------
    dict
        ``"versions"``: package name -> version string, or None when not
        installed (lazyconn, python, numpy, numba, scipy, dask, distributed,
        cupy, matplotlib, tqdm).
        ``"platform"``: a short description of the machine.
        ``"cpu_count"``: logical CPUs seen by the OS.
        ``"backends"``: ``"reference"``, ``"cpu"``, ``"gpu"`` and ``"dask"``
        -> a dict with ``"available"`` (bool), ``"detail"`` (why not, or
        None) and backend facts (``"threads"`` for cpu; ``"device"`` and
        ``"memory_gib"`` for gpu).
        ``"host_backend"``: ``NAME`` of the kernel module used for NumPy
        operands, or an error message if ``LAZYCONN_BACKEND`` is invalid.
        ``"backend_env"``: the value of ``LAZYCONN_BACKEND``, or None.

    Examples
    --------
    >>> import lazyconn
    >>> facts = lazyconn.info()
    >>> facts["backends"]["reference"]["available"]
    True
    """
    from . import __version__
    from .kernels import host_backend

    versions = {"lazyconn": __version__, "python": platform.python_version()}
    versions.update({name: _version(name) for name in _PACKAGES})
    backends = {
        "reference": {"available": True, "detail": "NumPy oracle: exact, slow"},
        "cpu": _cpu_backend(),
        "gpu": gpu_status(),
        "dask": _dask_backend(),
    }
    try:
        chosen = getattr(host_backend(), "NAME", "unknown")
    except (ImportError, ValueError) as exc:
        chosen = f"error: {_short_error(exc)}"
    return {
        "versions": versions,
        "platform": f"{platform.system()} {platform.machine()}, Python {sys.implementation.name}",
        "cpu_count": os.cpu_count(),
        "backends": backends,
        "host_backend": chosen,
        "backend_env": os.environ.get("LAZYCONN_BACKEND"),
    }


def format_info(facts):
    """The text that ``lazyconn info`` prints for a dict from :func:`info`.

    Parameters
    ----------
    facts : dict
        As returned by :func:`info`.

    Returns
    -------
    str
    """
    lines = [f"lazyconn {facts['versions']['lazyconn']} on {facts['platform']}, {facts['cpu_count']} CPUs", ""]
    lines.append("versions")
    for name, version in facts["versions"].items():
        lines.append(f"  {name:<12} {version if version else '(not installed)'}")
    lines += ["", "backends"]
    labels = {"reference": "reference (NumPy)", "cpu": "cpu (Numba)", "gpu": "gpu (CuPy)", "dask": "dask"}
    for key, label in labels.items():
        entry = facts["backends"][key]
        status = "available" if entry["available"] else "not available"
        extra = []
        if key == "cpu" and entry.get("threads"):
            extra.append(f"{entry['threads']} threads")
        if key == "gpu" and entry.get("device"):
            extra.append(f"{entry['device']}, {entry['memory_gib']} GiB")
        if entry.get("detail"):
            extra.append(entry["detail"])
        suffix = f"  ({'; '.join(extra)})" if extra else ""
        lines.append(f"  {label:<18} {status}{suffix}")
    env = facts["backend_env"]
    lines += [
        "",
        f"NumPy operands use: {facts['host_backend']}"
        + (f"  (LAZYCONN_BACKEND={env})" if env else "  (set LAZYCONN_BACKEND=reference|cpu to force)"),
        "CuPy operands use the gpu backend, Dask arrays the dask backend, when available.",
    ]
    return "\n".join(lines)
