"""Numba's on-disk cache for the CPU kernels: never stale, never fatal.

Numba keys a cached function on its own bytecode and on a stamp of its own
source file only.  The kernels of ``cpu.py`` also compile in functions and
constants of other modules (``_cpu_random.py`` inlined at IR level, the
Philox and ``ln`` constants of ``lazyconn.random``, the law codes and gap
clamp of ``lazyconn.spec``): an upgrade or an edit that touches only those
would keep loading the old machine code, and the CPU backend would realise a
different matrix from the one the code describes.  Where Numba keeps the
cache (``__pycache__`` beside the module, ``NUMBA_CACHE_DIR``, the per-user
directory of a read-only install, IPython's) does not matter here: the
digest of every kernel source is part of each entry's index key, so machine
code compiled from other sources is never found.

A cache file that cannot be read (a truncated ``.nbi`` index or ``.nbc``
data file, a disk that filled up) would make every later process fail at its
first product.  Instead the bad entry (or the whole index of that function)
is dropped, the kernel is compiled again and saved, and one
:class:`UserWarning` per process says so.

Machine code from several processes meets in one: each process names the
functions it compiles after their qualname and a per-process counter
(``FunctionIdentity._unique_ids``), and LLVM merges same-named symbols when
it loads cached libraries.  Two closures of one factory compiled by two
processes (the ``weights_of`` of two laws, the parfor loops of their
kernels) can then share a name, and a third process loading both runs one
law's code for the other (numba/numba#10486).  So the counter is replaced by
64 random bits per function (:class:`_RandomUids`; fork-safe, as it reads
``os.urandom``), and this module is one of the kernel sources, so entries
named by the counter are never found again.

All of this rests on Numba's private API (``FunctionCache._index_key``,
``IndexDataCacheFile``, ``FunctionIdentity._unique_ids``); where it is
missing or different, the kernels are compiled in every process instead
(``NullCache``): slower to start, never wrong.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import os
import threading
import warnings

import numba

from .. import _sources

__all__ = ["sources_digest", "install", "install_closures", "function_digest"]

try:  # private API: see the module docstring
    from numba.core.bytecode import FunctionIdentity
    from numba.core.caching import FunctionCache, IndexDataCacheFile, NullCache
    from numba.core.dispatcher import Dispatcher

    _API = all(hasattr(FunctionCache, name) for name in ("_index_key", "load_overload", "save_overload")) and all(
        hasattr(IndexDataCacheFile, name) for name in ("_load_index", "_save_index", "_data_path", "save")
    )
except ImportError:  # pragma: no cover - depends on the installed Numba
    FunctionCache = IndexDataCacheFile = NullCache = Dispatcher = FunctionIdentity = None
    _API = False


class _RandomUids:
    """Iterator of random 64-bit function uids, in place of Numba's per-process counter.

    A counter gives the same uid to the n-th function compiled in every
    process (and in forked siblings), so two processes compiling different
    closures of one factory give them the same symbol name; random uids make
    such a meeting about as likely as a 64-bit collision.
    """

    def __iter__(self):
        return self

    def __next__(self):
        return int.from_bytes(os.urandom(8), "little")


def _randomise_uids():
    """Make Numba draw function uids at random; True if it now does."""
    if FunctionIdentity is None or not hasattr(FunctionIdentity, "_unique_ids"):
        return False
    if not isinstance(FunctionIdentity._unique_ids, _RandomUids):
        FunctionIdentity._unique_ids = _RandomUids()
    return True


if _API:
    _API = _randomise_uids()

_warned = False
_warn_lock = threading.Lock()


@functools.lru_cache(maxsize=None)
def sources_digest():
    """Digest of the kernel sources this process runs, if it may key the cache.

    Returns
    -------
    str or None
        :data:`lazyconn._sources.AT_IMPORT`, or None (nothing is cached)
        when a source cannot be read or the files changed since lazyconn was
        imported: then the modules in memory may mix two versions, which no
        digest of the files describes.
    """
    if _sources.AT_IMPORT is None or _sources.digest() != _sources.AT_IMPORT:
        return None
    return _sources.AT_IMPORT


def _warn_once(message):
    global _warned
    with _warn_lock:
        if _warned:
            return
        _warned = True
    warnings.warn(f"lazyconn: {message} (this warning is shown once per process)", UserWarning, stacklevel=3)


def _entry_message(cache, exc, what, then):
    return (
        f"{what} Numba cache entry of {cache._py_func.__qualname__} in {cache.cache_path} "
        f"({type(exc).__name__}: {exc}); {then}"
    )


if _API:

    class _IndexDataFile(IndexDataCacheFile):
        """Numba's index and data files, pruning entries of other sources on save.

        An entry keyed on another sources digest can never be loaded again by
        this code; without pruning, every edit of a kernel source would leave
        one more data file behind.
        """

        def save(self, key, data):
            try:
                overloads = self._load_index()
            except Exception:  # unreadable: start afresh rather than fail the save
                overloads = {}
                self._save_index(overloads)
            stale = [other for other in overloads if _same_but_sources(other, key)]
            if stale:
                for other in stale:
                    with contextlib.suppress(OSError):  # a read-only or vanished cache
                        os.unlink(self._data_path(overloads.pop(other)))
                self._save_index(overloads)
            super().save(key, data)

    class KernelCache(FunctionCache):
        """A ``FunctionCache`` keyed on every kernel source, recovering from bad files."""

        def __init__(self, py_func):
            super().__init__(py_func)
            old = self._cache_file
            self._cache_file = _IndexDataFile(
                cache_path=old._cache_path,
                filename_base=self._impl.filename_base,
                source_stamp=old._source_stamp,
            )

        def _index_key(self, sig, codegen):
            py_func = self._py_func
            key = getattr(py_func, _CLOSURE_KEY, None)
            if py_func.__closure__ is None or key is None:
                return (*super()._index_key(sig, codegen), ("lazyconn-sources", sources_digest()))
            # A closure of a kernel factory: Numba would hash its cells' pickles,
            # which for dispatchers differ from process to process (never
            # found again).  The factory's key names what the cells hold.
            return (
                sig,
                codegen.magic_tuple(),
                (_sha(py_func.__code__.co_code), _sha(key.encode())),
                ("lazyconn-sources", sources_digest()),
            )

        def load_overload(self, sig, target_context):
            try:
                return super().load_overload(sig, target_context)
            except Exception as exc:  # a truncated or corrupt .nbi/.nbc: recompile
                self._drop(sig, target_context, exc)
                return None

        def save_overload(self, sig, data):
            try:
                super().save_overload(sig, data)
            except Exception as exc:  # the compiled kernel is fine; only caching failed
                _warn_once(_entry_message(self, exc, "could not save the", "it is compiled again by the next process"))

        def _drop(self, sig, target_context, exc):
            """Remove the entry of ``sig`` (or the whole index if unreadable), then warn."""
            cache_file = self._cache_file
            with contextlib.suppress(OSError):  # a read-only or vanished cache
                try:
                    overloads = cache_file._load_index()
                except Exception:
                    cache_file._save_index({})
                else:
                    name = overloads.pop(self._index_key(sig, target_context.codegen()), None)
                    if name is not None:
                        cache_file._save_index(overloads)
                        os.unlink(cache_file._data_path(name))
            _warn_once(_entry_message(self, exc, "dropped an unreadable", "the kernel is compiled again and re-cached"))


def _same_but_sources(other, key):
    """Whether index key ``other`` is ``key`` compiled from other kernel sources."""
    return (
        isinstance(other, tuple)
        and len(other) == len(key)
        and other[:-1] == key[:-1]
        and other[-1] != key[-1]
    )


#: Attribute of a factory closure's Python function holding its specialisation key.
_CLOSURE_KEY = "_lazyconn_specialisation"


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def function_digest(function):
    """sha256 of a function's source (or, without a source file, of its bytecode).

    Parameters
    ----------
    function : function or numba dispatcher

    Returns
    -------
    str
    """
    function = getattr(function, "py_func", function)
    try:
        data = inspect.getsource(function).encode()
    except (OSError, TypeError):
        code = function.__code__
        data = code.co_code + repr((code.co_consts, code.co_names)).encode()
    return _sha(data)


def install_closures(dispatchers, key):
    """Give the closures of a kernel factory the kernel cache, keyed on ``key``.

    Closures of one factory share their qualname and bytecode, so their
    cache entries share an index file; ``key`` (a string naming everything
    the factory closed over: the rule, the law, the digests of their
    functions) tells the entries apart, in this process and the next.

    Parameters
    ----------
    dispatchers : iterable of numba dispatcher
        Caching dispatchers (``cache=True``) not compiled yet.
    key : str

    Returns
    -------
    int
        How many were given the kernel cache.
    """
    count = 0
    for dispatcher in dispatchers:
        setattr(dispatcher.py_func, _CLOSURE_KEY, key)
        count += _give_cache(dispatcher)
    return count


def install(namespace):
    """Give every caching Numba dispatcher defined in ``namespace`` the kernel cache.

    Call at the end of each kernel module (``install(globals())``), before
    any of its functions is compiled.

    Parameters
    ----------
    namespace : dict
        A module's globals; dispatchers imported from other modules are left
        to their own module's call.

    Returns
    -------
    int
        How many dispatchers were given the kernel cache.
    """
    module = namespace.get("__name__")
    count = 0
    for value in list(namespace.values()):
        if getattr(value, "__module__", None) == module:
            count += _give_cache(value)
    return count


def _give_cache(value):
    """Give one caching dispatcher the kernel cache (or none at all); 1 if it got it."""
    if not _caching_dispatcher(value):
        return 0
    try:
        if not _API:
            raise RuntimeError("no usable Numba cache API")
        if sources_digest() is None:
            raise RuntimeError("lazyconn's kernel sources are unreadable or changed since it was imported")
        value._cache = KernelCache(value.py_func)
        return 1
    except Exception as exc:  # never stale: compile in every process instead
        value._cache = NullCache() if NullCache is not None else _no_cache()
        _warn_once(
            f"Numba {numba.__version__}'s cache cannot be keyed on the kernel sources "
            f"({type(exc).__name__}: {exc}); the CPU kernels are compiled in every process"
        )
        return 0


def _caching_dispatcher(value):
    """Whether ``value`` is a Numba dispatcher with an on-disk cache."""
    if Dispatcher is not None:
        if not isinstance(value, Dispatcher):
            return False
    elif not hasattr(value, "py_func"):
        return False
    cache = getattr(value, "_cache", None)
    return cache is not None and type(cache).__name__ != "NullCache"


def _no_cache():  # pragma: no cover - only without numba.core.caching
    class _Null:
        cache_path = None

        def load_overload(self, sig, target_context):
            return None

        def save_overload(self, sig, data):
            pass

        def flush(self):
            pass

    return _Null()

