"""Weight laws as records: one :class:`Law` per law, in one registry.

A weight law maps the weight uniform ``u`` of a connection slot (domain 1
of the streams, docs/spec.md §5) to a float64 weight, through two float64
kernel parameters ``(a, b)`` computed once on the host.  Everything a
backend or the public API needs to know about a law is in its record:

========================  ====================================================
field                     used by
========================  ====================================================
``name``, ``params``      the public classes (``Normal(loc, scale)``, and
                          ``JITCNormalR``/``JITCNormalC`` in :mod:`lazyconn.matrix`)
``code``                  :class:`lazyconn.spec.KernelParams` (pinned: spec v1)
``check``                 validation of the user's values
``kernel_params``         ``(a, b)`` for the kernels
``max_abs_weight``        refusing dtypes and scale factors that overflow
``kernel_max_abs_weight``  the same bound from ``(a, b)`` (GPU fixed point)
``reference``             the NumPy backend (the oracle)
``numba``, ``numba_batch``  the CPU backend, compiled into kernels per law
``cuda_type``             the GPU backend's law struct (``jitc_laws.cuh``)
``cost``                  the CPU kernels' weight strategy (see below)
========================  ====================================================

Adding a law: a record here (or in any module) passed to :func:`register`;
its Numba function (a plain Python function the CPU backend compiles, or
one in a kernel module listed in ``_sources.KERNEL_SOURCES``,
such as ``kernels/_cpu_random.py``); the two public matrix classes in
:mod:`lazyconn.matrix` and their names in ``lazyconn/__init__.py``; and its
CUDA struct in ``kernels/jitc_laws.cuh``, named by ``cuda_type`` (until
then ``cuda_type=None``, and the GPU backend refuses the law's matrices:
``kernels/_gpu_launch.law_type``).  Nothing else names a law: the kernels
are compiled per law from the record, on the CPU and on the GPU.

The CPU kernels choose how to apply weights from the record alone: a
*constant* law (``reference is None``: every weight is ``a``) reads no
weight stream and multiplies once per line; a law with ``cost`` below
:data:`DEFER_COST` gets its weights computed per batch of connections;
dearer laws defer them, so that many connections are turned into weights
in one vectorised pass.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import _exp
from ._registry import Registry
from .random import ln, ndtri

__all__ = [
    "Law",
    "register",
    "unregister",
    "get",
    "by_code",
    "registered",
    "law_class",
    "check_finite",
    "DEFER_COST",
    "SCALAR",
    "NORMAL",
    "UNIFORM",
    "LOGNORMAL",
    "EXPONENTIAL",
]

#: Laws whose ``cost`` (ns per weight, one core) is at least this have their
#: weights deferred and computed many at a time on the CPU.
DEFER_COST = 4.0
#: ``|ndtri(u)|`` at the most extreme weight uniform, ``u = 0.5 * 2**-32``
#: (6.2...), rounded up generously: a bound, used only to refuse scale
#: factors that would overflow the dtype.
NDTRI_MAX = 6.5
#: The smallest weight uniform of the streams (docs/spec.md §3): word 0.
U_MIN = 0.5 * 2.0**-32
#: ``-ln(U_MIN)`` by the pinned ``ln`` (``0x1.6dfb516f20bbfp+4``, 22.87...,
#: about ``33 ln 2``): the largest Exponential weight is exactly
#: ``scale * LN_U_MAX``, rounded as the weight itself is.
LN_U_MAX = -float(ln(np.array([U_MIN]))[0])


def short_repr(value, limit=40):
    """``repr(value)``, cut to ``limit`` characters for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "...)" if text.endswith(")") else text[: limit - 3] + "..."


def check_finite(name, value):
    """Validate one law parameter: a finite real number, returned as a float.

    Parameters
    ----------
    name : str
        The parameter's name, for the error message.
    value : object
        The user's value.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``value`` is not a real number (booleans are refused).
    ValueError
        If it is not finite.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    try:
        value = float(value)
    except OverflowError:
        raise ValueError(
            f"{name} must be finite, got {short_repr(value)}, which overflows a float64; pass a finite float"
        ) from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}; pass a finite float")
    return value


@dataclass(frozen=True, eq=False)
class Law:
    """The record of one weight law.

    Parameters
    ----------
    name : str
        Public name of the law class (``"Normal"``); also gives the matrix
        classes' names (``JITCNormalR``, ``JITCNormalC``).
    code : int
        The law's code in :class:`lazyconn.spec.KernelParams`; pinned once
        published (docs/spec.md), unique in the registry.
    params : tuple of str
        Parameter names, in constructor order.
    check : callable
        ``check(*values) -> tuple of float``: validated parameters; raises
        TypeError/ValueError naming the parameter and the fix.
    kernel_params : callable
        ``kernel_params(*values) -> (a, b)``: the two float64 kernel
        parameters, rounded here once.
    max_abs_weight : callable
        ``max_abs_weight(*values) -> float``: a bound on ``|weight|``.
    reference : callable or None
        ``reference(u, a, b)``: float64 weights of float64 uniforms (NumPy
        arrays).  None for a constant law: every weight is ``a`` and no
        weight stream is read.
    numba : callable, str or None
        The same function for one float64 ``u``, compiled by Numba into
        the CPU kernels: a plain Python function, or ``"module:name"`` of a
        Numba function (imported only when the CPU backend compiles; a
        module name starting with a dot is relative to ``lazyconn``).
        None for a constant law.
    kernel_max_abs_weight : callable or None
        ``kernel_max_abs_weight(a, b) -> float``: a bound on ``|weight|``
        from the kernel parameters (the GPU's deterministic scatter sizes
        its fixed point with it).  Required with ``cuda_type``.
    numba_batch : str or None
        Optional ``"module:name"`` (as for ``numba``) of a Numba function
        ``(n, a, b, uniforms, weights, tail_index, tail_r)`` filling
        ``weights[:n]`` from ``uniforms[:n]`` (the last two are int64 and
        float64 scratch of size ``n``), bit-equal to ``numba``.  None: a
        loop over ``numba``.
    cuda_type : str or None
        Name of the law's struct in the GPU laws header
        (``kernels/jitc_laws.cuh``), the GPU kernels' template argument;
        None while the GPU backend has no kernel for the law (it then
        refuses the law's matrices with a TypeError that names the host
        route).
    cuda_float32_ndtri_table : bool
        Whether the law's float32 GPU kernels copy the ndtri table into each
        CTA's shared memory (``smem_bytes<float>()`` of its struct in
        ``jitc_laws.cuh``); the launcher reserves that much before the tile.
    cost : float
        Nanoseconds per weight on one CPU core, roughly (0 for a constant
        law); decides the CPU kernels' weight strategy.
    summary : str
        Fragment for the matrix classes' docstrings, e.g.
        ``"Normal(loc, scale) weights"``.
    doc : str
        Docstring of the law class (numpydoc, with a Parameters section).
    matrix_params_doc : str
        The law's lines of the matrix classes' Parameters section.
    """

    name: str
    code: int
    params: tuple
    check: Callable
    kernel_params: Callable
    max_abs_weight: Callable
    reference: Callable | None
    numba: object
    cuda_type: str | None
    cost: float
    summary: str
    doc: str
    matrix_params_doc: str
    numba_batch: str | None = None
    kernel_max_abs_weight: Callable | None = None
    cuda_float32_ndtri_table: bool = False

    @property
    def constant(self):
        """Whether every weight is ``a`` (no weight stream is read)."""
        return self.reference is None

    @property
    def deferred(self):
        """Whether the CPU kernels defer the weights and compute many at once."""
        return not self.constant and self.cost >= DEFER_COST


_LAWS = Registry("weight law")
_CLASSES = {}


def register(law, module=None):
    """Add a law to the registry and build its public class.

    Parameters
    ----------
    law : Law
        A record whose ``name`` and ``code`` are not registered yet.
    module : str, optional
        The module that binds the class under ``law.name``, so that pickles
        find it there (default: ``lazyconn.laws``, which binds it).

    Returns
    -------
    type
        The law class (a frozen dataclass with the record's parameters;
        see :func:`law_class`).

    Raises
    ------
    ValueError
        If the name or code is taken, or a parameter name is not an identifier.
    """
    if not isinstance(law, Law):
        raise TypeError(f"register() takes a lazyconn.laws.Law record, got {type(law).__name__}")
    if not law.name.isidentifier() or not all(p.isidentifier() for p in law.params):
        raise ValueError(f"law name and parameters must be identifiers, got {law.name!r} {law.params!r}")
    with _LAWS.lock:
        _LAWS.check_free(law)  # before the class replaces a bound name
        cls = _make_class(law, module)
        _LAWS.add(law)
        _CLASSES[law.name] = cls
    return cls


def unregister(name):
    """Remove a registered law (for tests and experiments).

    Parameters
    ----------
    name : str
        The law's name.

    Raises
    ------
    KeyError
        If no such law is registered.
    """
    with _LAWS.lock:
        _LAWS.remove(name)
        cls = _CLASSES.pop(name, None)
        if globals().get(name) is cls:
            del globals()[name]


def get(name):
    """The record of the law named ``name``.

    Parameters
    ----------
    name : str

    Returns
    -------
    Law

    Raises
    ------
    KeyError
        If no such law is registered.
    """
    return _LAWS.get(name)


def by_code(code):
    """The record of the law with kernel code ``code``.

    Parameters
    ----------
    code : int

    Returns
    -------
    Law

    Raises
    ------
    ValueError
        If no law has that code.
    """
    return _LAWS.by_code(code)


def registered():
    """Every registered law record, by code.

    Returns
    -------
    tuple of Law
    """
    return _LAWS.records()


def law_class(name):
    """The public class of law ``name`` (e.g. :class:`lazyconn.Normal`).

    Parameters
    ----------
    name : str

    Returns
    -------
    type
    """
    get(name)
    return _CLASSES[name]


def record_of(law_value):
    """The record of a law instance, or None when it is not a registered law's.

    Parameters
    ----------
    law_value : object

    Returns
    -------
    Law or None
    """
    law = getattr(type(law_value), "_record", None)
    if law is None or _CLASSES.get(law.name) is not type(law_value):
        return None
    return law


def _make_class(law, module):
    """A frozen dataclass ``law.name(*law.params)`` validated by ``law.check``."""

    def __post_init__(self):
        values = law.check(*(getattr(self, p) for p in law.params))
        for name, value in zip(law.params, values):
            object.__setattr__(self, name, value)

    def kernel_params(self):
        """Return ``(a, b)``: the two float64 law parameters kernels use.

        Returns
        -------
        tuple of float
        """
        return law.kernel_params(*dataclasses.astuple(self))

    def max_abs_weight(self):
        """Largest ``|weight|`` the law can produce (before rounding to the dtype).

        Returns
        -------
        float
        """
        return law.max_abs_weight(*dataclasses.astuple(self))

    def __reduce__(self):
        # Through the constructor, so that a crafted pickle is validated.
        return (type(self), dataclasses.astuple(self))

    def _bits(self):
        return tuple(int(np.float64(v).view(np.uint64)) for v in dataclasses.astuple(self))

    def __eq__(self, other):
        # By bit pattern: Scalar(-0.0) and Scalar(0.0) give entries that
        # differ in their sign bits, so they are different generators.
        if type(other) is not type(self):
            return NotImplemented
        return self._bits() == other._bits()

    def __hash__(self):
        return hash((type(self).__name__, self._bits()))

    namespace = {
        "__post_init__": __post_init__,
        "kernel_params": kernel_params,
        "max_abs_weight": max_abs_weight,
        "__reduce__": __reduce__,
        "__eq__": __eq__,
        "__hash__": __hash__,
        "_bits": _bits,
        "code": law.code,
        "_record": law,
    }
    cls = dataclasses.make_dataclass(
        law.name, [(p, "float") for p in law.params], namespace=namespace, frozen=True
    )
    cls.__doc__ = law.doc
    cls.__module__ = module or __name__
    if module is None:
        globals()[law.name] = cls  # so that pickle finds it as lazyconn.laws.<name>
    return cls


# ------------------------------------------------------------ the laws of spec v1
def _check_scalar(weight):
    return (check_finite("weight", weight),)


def _check_normal(loc, scale):
    loc = check_finite("loc", loc)
    scale = check_finite("scale", scale)
    if scale < 0:
        raise ValueError(f"scale must be >= 0, got {scale!r}; pass the standard deviation, not the variance")
    return loc, scale


def _check_uniform(low, high):
    low = check_finite("low", low)
    high = check_finite("high", high)
    if low > high:
        raise ValueError(f"low must be <= high, got low={low!r}, high={high!r}; swap them")
    if not math.isfinite(high - low):
        raise ValueError(f"high - low overflows float64 (low={low!r}, high={high!r}); use a narrower range")
    return low, high


def _normal_reference(u, a, b):
    return a + b * ndtri(u)


def _uniform_weight(u, a, b):
    # The same formula on NumPy arrays (reference) and on one float in Numba.
    return a + b * u


SCALAR = Law(
    name="Scalar",
    code=0,
    params=("weight",),
    check=_check_scalar,
    kernel_params=lambda weight: (weight, 0.0),
    max_abs_weight=lambda weight: abs(weight),
    reference=None,
    numba=None,
    cuda_type="ScalarLaw",
    kernel_max_abs_weight=lambda a, b: abs(a),
    cost=0.0,
    summary="one shared weight",
    doc="""Every connection carries the same weight.

    Parameters
    ----------
    weight : float
        The shared weight (finite).
    """,
    matrix_params_doc="    weight : float\n        The weight of every connection.\n",
)

NORMAL = Law(
    name="Normal",
    code=1,
    params=("loc", "scale"),
    check=_check_normal,
    kernel_params=lambda loc, scale: (loc, scale),
    max_abs_weight=lambda loc, scale: abs(loc) + scale * NDTRI_MAX,
    reference=_normal_reference,
    numba=".kernels._cpu_random:normal_weight",
    numba_batch=".kernels._cpu_random:normal_weights",
    cuda_type="NormalLaw",
    cuda_float32_ndtri_table=True,
    kernel_max_abs_weight=lambda a, b: abs(a) + abs(b) * NDTRI_MAX,
    cost=15.0,
    summary="Normal(loc, scale) weights",
    doc="""Weights drawn from Normal(loc, scale): ``loc + scale * ndtri(u)``.

    Parameters
    ----------
    loc : float
        Mean (finite).
    scale : float
        Standard deviation (finite, >= 0).
    """,
    matrix_params_doc="    loc, scale : float\n        Mean and standard deviation of Normal weights.\n",
)

UNIFORM = Law(
    name="Uniform",
    code=2,
    params=("low", "high"),
    check=_check_uniform,
    kernel_params=lambda low, high: (low, high - low),
    max_abs_weight=lambda low, high: max(abs(low), abs(high)),
    reference=_uniform_weight,
    numba=_uniform_weight,
    cuda_type="UniformLaw",
    kernel_max_abs_weight=lambda a, b: abs(a) + abs(b),
    cost=1.0,
    summary="Uniform(low, high) weights",
    doc="""Weights drawn from Uniform(low, high): ``low + (high - low) * u``.

    Parameters
    ----------
    low, high : float
        Bounds (finite, ``low <= high``, and ``high - low`` finite).
    """,
    matrix_params_doc="    low, high : float\n        Bounds of Uniform weights, ``low <= high``.\n",
)

# Their classes live in lazyconn.spec, where pickles of spec v1 name them.
for _law in (SCALAR, NORMAL, UNIFORM):
    register(_law, module="lazyconn.spec")
del _law


# -------------------------------------------- extension laws (docs/spec.md §5.1)
def _check_lognormal(mu, sigma):
    mu = check_finite("mu", mu)
    sigma = check_finite("sigma", sigma)
    if sigma < 0:
        raise ValueError(
            f"sigma must be >= 0, got {sigma!r}; pass the standard deviation of log(weight), not the variance"
        )
    return mu, sigma


def _check_exponential(scale):
    scale = check_finite("scale", scale)
    if not scale > 0:
        raise ValueError(
            f"scale must be > 0, got {scale!r}; pass the mean weight (for negative weights, "
            "scale the matrix: conn * -1.0)"
        )
    return (scale,)


def _lognormal_reference(u, a, b):
    # mu + sigma * z rounded in float64 (the Normal law's value), then the
    # pinned exp of lazyconn._exp.
    return _exp.exp(a + b * ndtri(u))


def _exponential_reference(u, a, b):
    # a = -scale: one correctly rounded product, the same bits as -(scale * ln(u)).
    return a * ln(u)


def _lognormal_bound(mu, sigma):
    # |z| <= |ndtri(U_MIN)| = 6.338 < NDTRI_MAX; the pinned exp is monotone
    # and within 1 ulp, and the check against the dtype leaves 2**-20 of room.
    return _exp.exp_scalar(mu + sigma * NDTRI_MAX)


LOGNORMAL = Law(
    name="LogNormal",
    code=3,
    params=("mu", "sigma"),
    check=_check_lognormal,
    kernel_params=lambda mu, sigma: (mu, sigma),
    max_abs_weight=_lognormal_bound,
    reference=_lognormal_reference,
    numba=".kernels._cpu_random:lognormal_weight",
    numba_batch=".kernels._cpu_random:lognormal_weights",
    cuda_type="LogNormalLaw",
    cuda_float32_ndtri_table=True,  # the float32 route reads the Normal route's table
    kernel_max_abs_weight=lambda a, b: _lognormal_bound(a, abs(b)),  # (a, b) = (mu, sigma)
    cost=24.0,  # Normal's ndtri and one exp: deferred, as Normal
    summary="LogNormal(mu, sigma) weights",
    doc="""Weights drawn from LogNormal(mu, sigma): ``exp(mu + sigma * ndtri(u))``.

    The logarithm of every weight is Normal(mu, sigma), computed as the
    Normal law computes its weights; ``exp`` is the pinned deterministic
    one (:mod:`lazyconn._exp`), so the weights are bit-identical on every
    backend.  Every weight is positive (or +0.0 after underflow); the mean
    weight is ``exp(mu + sigma**2 / 2)``, the median ``exp(mu)``
    (``scipy.stats.lognorm(s=sigma, scale=exp(mu))``).

    Parameters
    ----------
    mu : float
        Mean of the logarithm of the weights (finite).
    sigma : float
        Standard deviation of the logarithm of the weights (finite, >= 0).

    Notes
    -----
    Parameters whose largest weight, bounded by ``exp(mu + 6.5 * sigma)``
    (the streams give ``|ndtri(u)| <= 6.34``), overflows the matrix dtype
    are refused when the matrix is built.
    """,
    matrix_params_doc=(
        "    mu, sigma : float\n        Mean and standard deviation of the logarithm of LogNormal weights.\n"
    ),
)

EXPONENTIAL = Law(
    name="Exponential",
    code=4,
    params=("scale",),
    check=_check_exponential,
    kernel_params=lambda scale: (-scale, 0.0),
    max_abs_weight=lambda scale: scale * LN_U_MAX,
    reference=_exponential_reference,
    numba=".kernels._cpu_random:exponential_weight",
    cuda_type="ExponentialLaw",
    kernel_max_abs_weight=lambda a, b: abs(a) * LN_U_MAX,  # a = -scale
    cost=10.0,  # one ln, with its divide: deferred (per batch is slower, asv_benchmarks/law_speed.py)
    summary="Exponential(scale) weights",
    doc="""Weights drawn from Exponential(scale): ``(-scale) * ln(u)``.

    ``ln`` is the pinned deterministic logarithm of the connectivity walk
    (docs/spec.md §6), so the weights are bit-identical on every backend.
    Every weight is positive, the mean weight is ``scale``
    (``scipy.stats.expon(scale=scale)``).

    Parameters
    ----------
    scale : float
        Mean weight (finite, > 0).

    Notes
    -----
    The largest weight is exactly ``scale * 22.87...`` (``-ln`` of the
    smallest uniform ``2**-33``, about ``33 ln 2``); parameters for which
    it overflows the matrix dtype are refused when the matrix is built.
    """,
    matrix_params_doc="    scale : float\n        Mean of Exponential weights (> 0).\n",
)

# Extension laws: their classes live here (lazyconn.laws.LogNormal, ...),
# where pickles name them.
for _law in (LOGNORMAL, EXPONENTIAL):
    register(_law)
del _law
