"""What a backend is: the kernel interface and one entry of the operand registry.

Two layers serve a product ``conn @ x``:

* a **kernel backend** (:class:`Backend`) generates lines of the matrix in
  line space and applies them to arrays of one namespace.  Every kernel
  module satisfies this Protocol: :mod:`lazyconn.kernels.reference` (the
  oracle, NumPy), :mod:`lazyconn.kernels.cpu` (Numba) and
  :mod:`lazyconn.kernels.gpu` (CuPy).  Functions beyond it are *optional
  capabilities* (:data:`CAPABILITIES`), declared when the backend is
  registered and asked for with :meth:`ArrayBackend.supports` -- never
  probed with ``hasattr``.
* an **array backend** (:class:`ArrayBackend`) says how operands of one
  array library are served: its product handler, and where it has them, its
  kernel backend and array namespace.  :mod:`lazyconn.dispatch` maps array
  types and namespaces to these entries (``dispatch.backend_for``).

Adding a backend: a kernel module satisfying :class:`Backend`, and a module
that builds an :class:`ArrayBackend` for its array types and registers it
with :func:`lazyconn.dispatch.register` (``lazyconn._cupy`` is the
example), named in ``lazyconn.dispatch``'s lazy table so that it is
imported only when an operand of that library is first seen.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

__all__ = ["Backend", "ScatterRows", "ArrayBackend", "SCATTER_ROWS", "CAPABILITIES", "check_backend"]

#: Optional capability: ``scatter_rows``, the scatter that finds the operand's
#: active rows itself (on the device, without a host synchronisation).
SCATTER_ROWS = "scatter_rows"


@runtime_checkable
class Backend(Protocol):
    """The kernel interface every backend module provides (line space).

    Signatures and semantics are documented in
    :mod:`lazyconn.kernels.reference`, the oracle; arrays in and out are of
    the backend's own namespace.  ``params`` is a
    :class:`~lazyconn.spec.KernelParams`, ``[k0, k1)`` a range of lines and
    ``[j0, j1)`` a minor window.
    """

    NAME: str

    def dense(self, params, k0, k1, j0, j1, dtype):
        """The block of lines ``k0:k1``, minor window ``j0:j1``."""

    def coo(self, params, k0, k1, j0, j1, dtype):
        """Its connections ``(k, j, w)``, sorted by ``(k, j)``."""

    def scatter(self, params, lines, values, j0, j1, dtype):
        """``out[j - j0, c] = sum_i values[i, c] * L[lines[i], j]`` (``values=None``: ones)."""

    def gather(self, params, k0, k1, j0, j1, vectors, dtype):
        """``out[k - k0, c] = sum_j L[k, j] * vectors[j - j0, c]``."""

    def degrees(self, params, k0, k1, j0, j1, dtype, scale=1.0):
        """Exact int64 nonzero counts per line and per minor index of the scaled block."""


@runtime_checkable
class ScatterRows(Protocol):
    """Capability :data:`SCATTER_ROWS`: a scatter over the operand's own rows."""

    def scatter_rows(self, params, k0, rows, binary, j0, j1, dtype, value_dtype):
        """``rows.T @ L[k0:k0 + len(rows), j0:j1]`` in ``value_dtype``, shape ``(j1 - j0, n_cols)``.

        ``rows`` is the operand with the contracted axis first, ``(n_rows,
        n_cols)``; only its rows with a nonzero entry are generated
        (``binary``: the entries are 0/1 events, added without a multiply).
        """


#: Optional capability -> the Protocol a backend declaring it satisfies.
CAPABILITIES = {SCATTER_ROWS: ScatterRows}


def check_backend(kernels, capabilities=()):
    """Raise TypeError unless ``kernels`` has the interface and the declared capabilities.

    Parameters
    ----------
    kernels : module or object
        A kernel backend.
    capabilities : iterable of str
        Names from :data:`CAPABILITIES` that it declares.
    """
    if not isinstance(kernels, Backend):
        missing = [name for name in ("NAME", "dense", "coo", "scatter", "gather", "degrees")
                   if not hasattr(kernels, name)]
        raise TypeError(f"{kernels!r} is not a lazyconn kernel backend: it lacks {', '.join(missing)}")
    for name in capabilities:
        protocol = CAPABILITIES.get(name)
        if protocol is None:
            raise ValueError(f"unknown backend capability {name!r}; known: {sorted(CAPABILITIES)}")
        if not isinstance(kernels, protocol):
            raise TypeError(f"{kernels!r} declares capability {name!r} but does not provide it")


class ArrayBackend:
    """How operands of one array library are multiplied (one registry entry).

    Parameters
    ----------
    name : str
        The library, for messages (``"numpy"``, ``"cupy"``, ``"dask"``, ...).
    matmul : callable
        ``matmul(view, x, side, binary)``: ``conn @ x`` (``side="right"``)
        or ``x @ conn`` (``side="left"``) with ``view`` the matrix's
        :class:`~lazyconn.products.View` and ``x`` an operand of this
        library; ``binary`` says ``x`` holds 0/1 events.
    kernels : Backend or callable, optional
        The kernel backend for arrays of this library, or a function
        returning it (looked up at each call: the host's choice follows
        ``LAZYCONN_BACKEND``).  None for libraries served through another
        entry (Dask chunks, SciPy sparse rasters on the host).
    xp : module, optional
        The array namespace the kernels take and return.
    capabilities : iterable of str, optional
        Optional capabilities of the kernels (:data:`CAPABILITIES`).
    """

    __slots__ = ("name", "matmul", "xp", "capabilities", "_kernels")

    def __init__(self, name, matmul, *, kernels=None, xp=None, capabilities=()):
        capabilities = frozenset(capabilities)
        unknown = capabilities - CAPABILITIES.keys()
        if unknown:
            raise ValueError(f"unknown backend capabilities {sorted(unknown)}; known: {sorted(CAPABILITIES)}")
        if kernels is not None and not callable(kernels):
            check_backend(kernels, capabilities)
        self.name = name
        self.matmul: Callable[..., Any] = matmul
        self.xp = xp
        self.capabilities = capabilities
        self._kernels = kernels

    def kernels(self):
        """The kernel backend (:class:`Backend`) of this library's arrays.

        Raises
        ------
        TypeError
            For libraries without kernels of their own.
        """
        kernels = self._kernels
        if kernels is None:
            raise TypeError(f"{self.name} arrays have no lazyconn kernels of their own; use numpy or cupy")
        return kernels() if callable(kernels) else kernels

    def supports(self, capability):
        """True if the kernels have the optional ``capability`` (:data:`CAPABILITIES`)."""
        return capability in self.capabilities

    def __repr__(self):
        return f"ArrayBackend({self.name!r}, capabilities={sorted(self.capabilities)})"
