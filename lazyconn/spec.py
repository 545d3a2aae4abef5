"""The generator contract in code: a frozen, picklable description of one matrix.

A :class:`Spec` is everything that decides the realised matrix: shape,
orientation, connection probability, weight law, seed, output dtype and the
diagonal rule.  It validates its arguments with errors that name the argument
and the fix, derives the per-matrix constants of spec v1 (block size, the
``1 / ln(1 - p)`` factor, the Philox key) and hands kernels a plain tuple of
scalars (:class:`KernelParams`); kernels never see a ``Spec``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .random import ln1p_scalar

__all__ = [
    "Scalar",
    "Normal",
    "Uniform",
    "Spec",
    "KernelParams",
    "block_size",
    "MAX_SIDE",
    "LAW_SCALAR",
    "LAW_NORMAL",
    "LAW_UNIFORM",
]

#: Largest number of rows or columns: line indices are Philox counter words < 2**31.
MAX_SIDE = 2**31 - 1
MIN_BLOCK_LOG2 = 8
MAX_BLOCK_LOG2 = 22
#: Gaps are clamped here before conversion to an integer; any gap this large
#: ends a block, since blocks hold at most 2**22 entries.
GAP_CLAMP = float(2**23)

LAW_SCALAR = 0
LAW_NORMAL = 1
LAW_UNIFORM = 2

_SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
#: The documented default dtype, also what ``dtype=None`` means (as in NumPy).
DEFAULT_DTYPE = np.dtype(np.float32)
#: ``|ndtri(u)|`` at the most extreme weight uniform, ``u = 0.5 * 2**-32``
#: (6.2...), rounded up generously: a bound, used only to refuse scale
#: factors that would overflow the dtype.
_NDTRI_MAX = 6.5


def short_repr(value, limit=40):
    """``repr(value)``, cut to ``limit`` characters for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "...)" if text.endswith(")") else text[: limit - 3] + "..."


def _check_finite(name, value):
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


@dataclass(frozen=True)
class Scalar:
    """Every connection carries the same weight.

    Parameters
    ----------
    weight : float
        The shared weight (finite).
    """

    weight: float

    code = LAW_SCALAR

    def __post_init__(self):
        object.__setattr__(self, "weight", _check_finite("weight", self.weight))

    def kernel_params(self):
        """Return ``(a, b)``: the two float64 law parameters kernels use.

        Returns
        -------
        tuple of float
        """
        return self.weight, 0.0

    def max_abs_weight(self):
        """Largest ``|weight|`` the law can produce (before rounding to the dtype).

        Returns
        -------
        float
        """
        return abs(self.weight)

    def __reduce__(self):
        # Through the constructor, so that a crafted pickle is validated.
        return (Scalar, (self.weight,))


@dataclass(frozen=True)
class Normal:
    """Weights drawn from Normal(loc, scale): ``loc + scale * ndtri(u)``.

    Parameters
    ----------
    loc : float
        Mean (finite).
    scale : float
        Standard deviation (finite, >= 0).
    """

    loc: float
    scale: float

    code = LAW_NORMAL

    def __post_init__(self):
        object.__setattr__(self, "loc", _check_finite("loc", self.loc))
        scale = _check_finite("scale", self.scale)
        if scale < 0:
            raise ValueError(f"scale must be >= 0, got {scale!r}; pass the standard deviation, not the variance")
        object.__setattr__(self, "scale", scale)

    def kernel_params(self):
        """Return ``(a, b)`` = ``(loc, scale)``.

        Returns
        -------
        tuple of float
        """
        return self.loc, self.scale

    def max_abs_weight(self):
        """Largest ``|weight|`` the law can produce (before rounding to the dtype).

        Weight words are 32-bit, so ``|ndtri(u)|`` is at most its value at
        the extreme uniform ``2**-33``, about 6.3.

        Returns
        -------
        float
        """
        return abs(self.loc) + self.scale * _NDTRI_MAX

    def __reduce__(self):
        return (Normal, (self.loc, self.scale))


@dataclass(frozen=True)
class Uniform:
    """Weights drawn from Uniform(low, high): ``low + (high - low) * u``.

    Parameters
    ----------
    low, high : float
        Bounds (finite, ``low <= high``, and ``high - low`` finite).
    """

    low: float
    high: float

    code = LAW_UNIFORM

    def __post_init__(self):
        low = _check_finite("low", self.low)
        high = _check_finite("high", self.high)
        if low > high:
            raise ValueError(f"low must be <= high, got low={low!r}, high={high!r}; swap them")
        if not math.isfinite(high - low):
            raise ValueError(f"high - low overflows float64 (low={low!r}, high={high!r}); use a narrower range")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def kernel_params(self):
        """Return ``(a, b)`` = ``(low, high - low)``; the width is rounded once, here.

        Returns
        -------
        tuple of float
        """
        return self.low, self.high - self.low

    def max_abs_weight(self):
        """Largest ``|weight|`` the law can produce (before rounding to the dtype).

        Returns
        -------
        float
        """
        return max(abs(self.low), abs(self.high))

    def __reduce__(self):
        return (Uniform, (self.low, self.high))


def block_size(prob):
    """Block length B of spec v1 for connection probability ``prob``.

    B is the smallest power of two with ``B * prob >= 32``, clamped to
    ``[2**8, 2**22]``.  ``2**j * prob`` is exact in float64, so B depends on
    the bits of ``prob`` alone.

    Parameters
    ----------
    prob : float
        Connection probability in [0, 1].

    Returns
    -------
    int
    """
    for log2 in range(MIN_BLOCK_LOG2, MAX_BLOCK_LOG2 + 1):
        if math.ldexp(prob, log2) >= 32.0:
            return 1 << log2
    return 1 << MAX_BLOCK_LOG2


def check_size(name, value):
    """Validate one matrix side: an integer in ``[0, 2**31 - 1]``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}")
    value = int(value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    if value > MAX_SIDE:
        raise ValueError(f"{name} must be <= 2**31 - 1 = {MAX_SIDE}, got {value}; split the population into several matrices")
    return value


def check_prob(prob):
    """Validate a connection probability: a real number in [0, 1]."""
    if isinstance(prob, (bool, np.bool_)) or not isinstance(prob, numbers.Real):
        raise TypeError(f"prob must be a real number in [0, 1], got {prob!r} of type {type(prob).__name__}")
    try:
        prob = float(prob)
    except OverflowError:
        raise ValueError(f"prob must be in [0, 1], got {short_repr(prob)}; pass a connection probability such as 0.01") from None
    if not 0.0 <= prob <= 1.0:  # NaN fails this too
        raise ValueError(f"prob must be in [0, 1], got {prob!r}; pass a connection probability such as 0.01")
    return prob


def check_seed(seed):
    """Validate a seed: an integer in ``[0, 2**64)``."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"seed must be an integer in [0, 2**64) or None, got {seed!r} of type {type(seed).__name__}"
        )
    seed = int(seed)
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}; reduce it, e.g. seed % 2**64")
    return seed


def check_dtype(dtype):
    """Validate the matrix dtype: float32 or float64 (None means float32)."""
    if dtype is None:
        return DEFAULT_DTYPE
    try:
        dtype = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from exc
    if dtype not in _SUPPORTED_DTYPES:
        raise TypeError(
            f"dtype must be float32 or float64, got {dtype}; a JITC matrix holds real weights "
            "(cast products afterwards if you need another type)"
        )
    return dtype


class KernelParams(NamedTuple):
    """The scalars every kernel needs, in line space (major x minor).

    Attributes
    ----------
    key0, key1 : int
        Philox key: low and high 32 bits of the seed.
    block_log2 : int
        log2 of the block length B.
    inv_log_q : float
        ``1 / ln1p(-prob)`` (``-inf`` for prob 0, ``-0.0`` for prob 1).
    law : int
        LAW_SCALAR, LAW_NORMAL or LAW_UNIFORM.
    a, b : float
        Law parameters (see the law classes' ``kernel_params``).
    skip_diagonal : bool
        Drop entries whose line index equals their minor index.
    """

    key0: int
    key1: int
    block_log2: int
    inv_log_q: float
    law: int
    a: float
    b: float
    skip_diagonal: bool


@dataclass(frozen=True)
class Spec:
    """A whole JITC matrix, described by its generator (spec v1).

    Parameters
    ----------
    shape : tuple of int
        ``(num_pre, num_post)``.
    orientation : {'R', 'C'}
        'R' generates row by row, 'C' column by column.
    prob : float
        Connection probability in [0, 1].
    law : Scalar, Normal or Uniform
        Weight law.
    seed : int
        In ``[0, 2**64)``.
    dtype : numpy.dtype
        Float32 or float64: weights are computed in float64 and rounded once.
    include_self : bool
        If False (square matrices only) the diagonal is empty.
    """

    shape: tuple
    orientation: str
    prob: float
    law: object
    seed: int
    dtype: np.dtype
    include_self: bool = True

    def __post_init__(self):
        if not isinstance(self.shape, (tuple, list)) or len(self.shape) != 2:
            raise ValueError(f"shape must be a pair (num_pre, num_post), got {self.shape!r}")
        shape = (check_size("num_pre", self.shape[0]), check_size("num_post", self.shape[1]))
        object.__setattr__(self, "shape", shape)
        if self.orientation not in ("R", "C"):
            raise ValueError(f"orientation must be 'R' or 'C', got {self.orientation!r}")
        object.__setattr__(self, "prob", check_prob(self.prob))
        if type(self.law) not in (Scalar, Normal, Uniform):
            raise TypeError(f"law must be Scalar, Normal or Uniform, got {type(self.law).__name__}")
        # Rebuilt through its constructor: a law restored from a crafted
        # pickle (or mutated through object.__setattr__) is validated again.
        object.__setattr__(self, "law", type(self.law)(*dataclasses.astuple(self.law)))
        object.__setattr__(self, "seed", check_seed(self.seed))
        object.__setattr__(self, "dtype", check_dtype(self.dtype))
        if not isinstance(self.include_self, (bool, np.bool_)):
            raise TypeError(f"include_self must be True or False, got {self.include_self!r}")
        object.__setattr__(self, "include_self", bool(self.include_self))
        largest = float(np.finfo(self.dtype).max) * (1.0 - 2.0**-20)
        if not self.law.max_abs_weight() <= largest:
            raise ValueError(
                f"{self.law} can give weights up to {self.law.max_abs_weight():.6g} in magnitude, which overflow "
                f"{self.dtype.name} (largest {largest:.6g}); pass dtype=numpy.float64 or smaller parameters"
            )
        if not self.include_self and shape[0] != shape[1]:
            raise ValueError(
                f"include_self=False needs a square matrix, got shape {shape}; "
                "there is no diagonal to exclude otherwise"
            )

    def __reduce__(self):
        # Through the constructor, so that unpickling validates everything.
        return (Spec, (self.shape, self.orientation, self.prob, self.law, self.seed, self.dtype.name,
                       self.include_self))

    @property
    def major_size(self):
        """Number of generated lines: rows for 'R', columns for 'C'."""
        return self.shape[0] if self.orientation == "R" else self.shape[1]

    @property
    def minor_size(self):
        """Length of each generated line."""
        return self.shape[1] if self.orientation == "R" else self.shape[0]

    @property
    def block_size(self):
        """Block length B (see :func:`block_size`)."""
        return block_size(self.prob)

    @property
    def transposed(self):
        """The spec of the transpose: same generator, other orientation and shape."""
        return Spec(
            shape=(self.shape[1], self.shape[0]),
            orientation="C" if self.orientation == "R" else "R",
            prob=self.prob,
            law=self.law,
            seed=self.seed,
            dtype=self.dtype,
            include_self=self.include_self,
        )

    def with_dtype(self, dtype):
        """The same generator with another output dtype.

        Parameters
        ----------
        dtype : {numpy.float32, numpy.float64}
            The new output dtype.

        Returns
        -------
        Spec
        """
        return Spec(self.shape, self.orientation, self.prob, self.law, self.seed, dtype, self.include_self)

    def kernel_params(self):
        """Return the :class:`KernelParams` of this matrix.

        Returns
        -------
        KernelParams
        """
        return _kernel_params(self)

    def _compute_kernel_params(self):
        if self.prob == 0.0:
            inv_log_q = -math.inf
        else:
            log_q = ln1p_scalar(-self.prob)
            inv_log_q = -0.0 if log_q == -math.inf else 1.0 / log_q
        a, b = self.law.kernel_params()
        return KernelParams(
            key0=self.seed & 0xFFFFFFFF,
            key1=self.seed >> 32,
            block_log2=int(self.block_size).bit_length() - 1,
            inv_log_q=inv_log_q,
            law=self.law.code,
            a=a,
            b=b,
            skip_diagonal=not self.include_self,
        )


@functools.lru_cache(maxsize=1024)
def _kernel_params(spec):
    # Cached: every product asks for them, and a sparse GPU product is short
    # enough for tens of microseconds of Python to show.
    return spec._compute_kernel_params()
