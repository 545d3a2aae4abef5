"""Package options: how much a JITC matrix may materialise.

A JITC matrix exists so that its entries are never stored; the options here
are the guard rails that turn an accidental ``np.asarray(conn)`` of a
10**10-entry matrix into a clear error instead of a 40 GB allocation.
"""

from __future__ import annotations

import numbers

__all__ = ["set_options", "get_options", "check_materialise"]

_DEFAULTS = {"max_dense_size": 2**27, "max_dask_chunks": 10**6, "deterministic": False}
_OPTIONS = dict(_DEFAULTS)


def get_options():
    """Return a copy of the current options.

    Returns
    -------
    dict
        ``max_dense_size``: the largest number of elements (dense entries, or
        stored connections for ``tocsr``) that lazyconn will materialise;
        ``max_dask_chunks``: the most chunks ``to_dask`` builds a graph of;
        ``deterministic``: GPU products with the same bits on every run.
    """
    return dict(_OPTIONS)


class set_options:
    """Set options globally, or temporarily as a context manager.

    Parameters
    ----------
    **options
        Options by name.  ``max_dense_size`` (int): the largest number of
        elements ``todense()``, ``np.asarray(conn)``, row indexing and
        ``tocsr()`` may produce, also the longest per-row or per-column
        result of a reduction (default ``2**27``, 512 MiB of float32).
        ``max_dask_chunks`` (int): the most chunks ``to_dask`` makes a graph
        of (default ``10**6``; building a task costs ~10 us and memory).
        ``deterministic`` (bool): every GPU product gives the same bits on
        every run and through ``.T`` (default False: float atomics, whose
        order varies).  Gathers (``conn @ y`` of an R matrix, ``x @ conn``
        of a C matrix) add their partial sums in a fixed order, for 10-17 %
        more time and up to 64 MiB of GPU memory; scatters (``x @ conn`` of
        an R matrix, ``conn @ y`` of a C matrix, Normal or Uniform spikes)
        add in int64 fixed point, for about 1.2-1.5x the time and 12 bytes
        per output entry, with an absolute error set by each operand
        column's largest entry (see the GPU how-to).  CPU products are
        deterministic either way.

    Examples
    --------
    >>> import lazyconn
    >>> with lazyconn.set_options(max_dense_size=2**30):
    ...     pass  # larger todense() calls are allowed in here
    """

    def __init__(self, **options):
        unknown = set(options) - set(_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown option(s) {sorted(unknown)}; known options are {sorted(_DEFAULTS)}")
        if not isinstance(options.get("deterministic", False), (bool,)):
            raise ValueError(f"deterministic must be True or False, got {options['deterministic']!r}")
        for name in ("max_dense_size", "max_dask_chunks"):
            size = options.get(name, _OPTIONS[name])
            if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {size!r}")
        self._previous = dict(_OPTIONS)
        _OPTIONS.update({key: value if key == "deterministic" else int(value) for key, value in options.items()})

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        _OPTIONS.clear()
        _OPTIONS.update(self._previous)


def check_materialise(n_elements, description):
    """Raise ValueError if ``n_elements`` exceeds ``max_dense_size``.

    Parameters
    ----------
    n_elements : int
        Elements that would be allocated.
    description : str
        What would be materialised, for the message (e.g. "todense() of a
        100000 x 100000 window").
    """
    limit = _OPTIONS["max_dense_size"]
    if n_elements > limit:
        raise ValueError(
            f"{description} would materialise {n_elements:,} elements, above "
            f"max_dense_size={limit:,}; take a smaller window (conn[a:b, c:d]), use a "
            "product (conn @ x), or raise the limit with "
            "lazyconn.set_options(max_dense_size=...)"
        )
