"""What a (rule, law) pair compiles into the CPU kernels of :mod:`._cpu_kernels`.

:func:`._cpu_kernels.kernels_for` builds its kernels as closures over the
rule's walk and the law's weight function; this module resolves those
from the records (:func:`resolve`), wraps a law's weights as one batch
function (:func:`law_weights`), names everything the closures compile in
(:func:`specialisation_key`, their Numba cache key) and copies a parallel
kernel for serial use (:func:`serial`).
"""

from __future__ import annotations

import importlib
import types

import numba

from . import _numba_cache
from ._cpu_random import INLINE_OPTIONS, JIT_OPTIONS, round_to_float32

__all__ = ["resolve", "law_weights", "serial", "specialisation_key"]

#: The lazyconn package's own name (it may be imported under another one).
_PACKAGE = __name__.rsplit(".", 2)[0]


def resolve(target):
    """A function given as ``"module:name"`` (imported now), or the function itself.

    A module name starting with a dot is relative to the lazyconn package.
    """
    if isinstance(target, str):
        module, _, name = target.partition(":")
        return getattr(importlib.import_module(module, package=_PACKAGE), name)
    return target


def law_weights(law, key):
    """``weights_of(n, a, b, round32, uniforms, weights, tail_index, tail_r)`` of a law.

    The law's batch function, or a loop over its one-weight function
    (inlined at IR level, so that the loop is vectorised); then the
    rounding to float32 when the matrix is float32.
    """
    if law.constant:
        return no_weights
    if law.numba_batch is not None:
        batch = resolve(law.numba_batch)
    else:
        one = resolve(law.numba)
        one = one if isinstance(one, numba.core.dispatcher.Dispatcher) else numba.njit(**INLINE_OPTIONS)(one)

        def batch(n, a, b, uniforms, weights, tail_index, tail_r):
            for s in range(n):
                weights[s] = one(uniforms[s], a, b)

        batch = numba.njit(**JIT_OPTIONS)(batch)
        _numba_cache.install_closures((batch,), key)

    def weights_of(n, a, b, round32, uniforms, weights, tail_index, tail_r):
        batch(n, a, b, uniforms, weights, tail_index, tail_r)
        if round32:
            round_to_float32(n, weights)

    weights_of = numba.njit(**JIT_OPTIONS)(weights_of)
    _numba_cache.install_closures((weights_of,), key)
    return weights_of


@numba.njit(**JIT_OPTIONS)
def no_weights(n, a, b, round32, uniforms, weights, tail_index, tail_r):
    """The weights of a constant law: nothing to compute (every weight is ``a``)."""


def serial(dispatcher):
    """A parallel kernel compiled without ``parallel`` (``prange`` is ``range``), compiled on first use.

    A copy of its Python function (same code, globals and closure cells),
    so that the cache key set on it does not overwrite the parallel one's.
    """
    function = dispatcher.py_func
    copy = types.FunctionType(function.__code__, function.__globals__, function.__name__, function.__defaults__,
                              function.__closure__)
    copy.__qualname__ = function.__qualname__
    copy.__doc__ = function.__doc__
    return numba.njit(**JIT_OPTIONS)(copy)


def specialisation_key(rule, law):
    """What a (rule, law) closure compiles in besides the kernel sources: names, codes,
    strategy and the source of every function the records point to."""
    parts = [rule.name, rule.code, law.name, law.code, law.constant, law.deferred]
    for target in (rule.numba_walk, rule.numba_lanes or None, law.numba, law.numba_batch):
        parts.append(_numba_cache.function_digest(resolve(target)) if target is not None else None)
    return repr(tuple(parts))


_numba_cache.install(globals())  # last: every njit is defined, none compiled yet
