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
import numbers
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import _rule_fixed, laws, rules
from .laws import short_repr  # noqa: F401  (imported from here by _operators)
from .rules import GAP_CLAMP, MAX_BLOCK_LOG2, MIN_BLOCK_LOG2, block_size, check_prob  # noqa: F401

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

#: The law codes of spec v1 (pinned in docs/spec.md), from the law records.
LAW_SCALAR = laws.SCALAR.code
LAW_NORMAL = laws.NORMAL.code
LAW_UNIFORM = laws.UNIFORM.code

_SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
#: The documented default dtype, also what ``dtype=None`` means (as in NumPy).
DEFAULT_DTYPE = np.dtype(np.float32)

#: The law classes of spec v1, generated from their records (lazyconn.laws).
Scalar = laws.law_class("Scalar")
Normal = laws.law_class("Normal")
Uniform = laws.law_class("Uniform")


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
        The law's code (:attr:`lazyconn.laws.Law.code`; LAW_SCALAR,
        LAW_NORMAL or LAW_UNIFORM in spec v1).
    a, b : float
        Law parameters (see the law classes' ``kernel_params``).
    skip_diagonal : bool
        Drop entries whose line index equals their minor index.
    prob : float
        The connection probability, for sizing work only: every bit
        follows from ``inv_log_q``.
    rule : int
        The connection rule's code (:attr:`lazyconn.rules.Rule.code`; 0 is
        the Bernoulli walk of spec v1, 1 the fixed-number rule).
    num_conn : int
        Fixed-number rule only: entries per line (0 otherwise).
    minor_size : int
        Fixed-number rule only: the length of a line (0 otherwise).
    law_bits : tuple of int
        The float64 bit patterns of ``a`` and ``b``.  Never read by a
        kernel: it makes parameters that differ only in the sign of a zero
        (``Scalar(-0.0)`` and ``Scalar(0.0)``, whose entries differ in their
        sign bits) unequal, so no cache keyed on these parameters can hand
        one matrix the other's arguments.
    """

    key0: int
    key1: int
    block_log2: int
    inv_log_q: float
    law: int
    a: float
    b: float
    skip_diagonal: bool
    prob: float = 0.0
    rule: int = rules.BERNOULLI.code
    num_conn: int = 0
    minor_size: int = 0
    law_bits: tuple = ()


@dataclass(frozen=True)
class Spec:
    """A whole JITC matrix, described by its generator (spec v1).

    Parameters
    ----------
    shape : tuple of int
        ``(num_pre, num_post)``.
    orientation : {'R', 'C'}
        'R' generates row by row, 'C' column by column.
    prob : float or None
        Connection probability in [0, 1]; None with ``num_conn``.  With
        ``num_conn`` it becomes the marginal probability of an entry,
        ``num_conn / (number of entries a line draws from)``.
    law : Scalar, Normal, Uniform or another registered law
        Weight law (an instance of a class of :mod:`lazyconn.laws`).
    seed : int
        In ``[0, 2**64)``.
    dtype : numpy.dtype
        Float32 or float64: weights are computed in float64 and rounded once.
    include_self : bool
        If False (square matrices only) the diagonal is empty.
    num_conn : int or None
        Exactly this many distinct entries per line (the fixed-number rule,
        docs/spec.md "Fixed-number rule"), in place of ``prob``.  Every
        backend computes it, bit for bit (reference, CPU, GPU).
    """

    shape: tuple
    orientation: str
    prob: float
    law: object
    seed: int
    dtype: np.dtype
    include_self: bool = True
    num_conn: int | None = None

    def __post_init__(self):
        if not isinstance(self.shape, (tuple, list)) or len(self.shape) != 2:
            raise ValueError(f"shape must be a pair (num_pre, num_post), got {self.shape!r}")
        shape = (check_size("num_pre", self.shape[0]), check_size("num_post", self.shape[1]))
        object.__setattr__(self, "shape", shape)
        if self.orientation not in ("R", "C"):
            raise ValueError(f"orientation must be 'R' or 'C', got {self.orientation!r}")
        if self.num_conn is None:
            object.__setattr__(self, "prob", check_prob(self.prob))
        elif self.prob is not None:
            raise ValueError(
                f"pass either prob or num_conn, not both (got prob={short_repr(self.prob)}, "
                f"num_conn={short_repr(self.num_conn)}); use prob=None with num_conn"
            )
        if laws.record_of(self.law) is None:
            names = ", ".join(law.name for law in laws.registered())
            raise TypeError(f"law must be one of {names}, got {type(self.law).__name__}")
        # Rebuilt through its constructor: a law restored from a crafted
        # pickle (or mutated through object.__setattr__) is validated again.
        object.__setattr__(self, "law", type(self.law)(*dataclasses.astuple(self.law)))
        object.__setattr__(self, "seed", check_seed(self.seed))
        object.__setattr__(self, "dtype", check_dtype(self.dtype))
        if not isinstance(self.include_self, (bool, np.bool_)):
            raise TypeError(f"include_self must be True or False, got {self.include_self!r}")
        object.__setattr__(self, "include_self", bool(self.include_self))
        if self.num_conn is not None:
            self._set_num_conn()
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

    def _set_num_conn(self):
        if not self.include_self and self.shape[0] != self.shape[1]:
            return  # refused below, with the message for non-square shapes
        minor = self.shape[1] if self.orientation == "R" else self.shape[0]
        num_conn = _rule_fixed.check_num_conn_for(self.num_conn, minor, self.include_self, self.orientation)
        candidates = _rule_fixed.line_length(minor, self.include_self)
        object.__setattr__(self, "num_conn", num_conn)
        # The marginal probability of an entry: sizing and reporting only.
        object.__setattr__(self, "prob", num_conn / candidates if candidates else 0.0)

    @property
    def _rule_args(self):
        """``(prob, num_conn)`` as the constructor takes them."""
        return (self.prob, None) if self.num_conn is None else (None, self.num_conn)

    def __reduce__(self):
        # Through the constructor, so that unpickling validates everything.
        prob, num_conn = self._rule_args
        return (Spec, (self.shape, self.orientation, prob, self.law, self.seed, self.dtype.name,
                       self.include_self, num_conn))

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
        """Block length B (see :func:`block_size`; one item per line with ``num_conn``)."""
        if self.num_conn is not None:
            return 1 << _rule_fixed.BLOCK_LOG2
        return block_size(self.prob)

    @property
    def transposed(self):
        """The spec of the transpose: same generator, other orientation and shape."""
        prob, num_conn = self._rule_args
        return Spec(
            shape=(self.shape[1], self.shape[0]),
            orientation="C" if self.orientation == "R" else "R",
            prob=prob,
            num_conn=num_conn,
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
        prob, num_conn = self._rule_args
        return Spec(self.shape, self.orientation, prob, self.law, self.seed, dtype, self.include_self, num_conn)

    def kernel_params(self):
        """Return the :class:`KernelParams` of this matrix.

        Returns
        -------
        KernelParams
        """
        return _kernel_params(self)

    def _compute_kernel_params(self):
        a, b = self.law.kernel_params()
        if self.num_conn is not None:
            rule = _rule_fixed.FIXED_NUMBER
            return KernelParams(
                key0=self.seed & 0xFFFFFFFF,
                key1=self.seed >> 32,
                block_log2=rule.block_log2(self.num_conn),
                # Unused by the rule's walk, but -inf marks an empty matrix (K = 0).
                inv_log_q=rules.inv_log_q(self.prob),
                law=self.law.code,
                a=a,
                b=b,
                skip_diagonal=not self.include_self,
                prob=self.prob,
                rule=rule.code,
                num_conn=self.num_conn,
                minor_size=self.minor_size,
                law_bits=float_bits(a, b),
            )
        return KernelParams(
            key0=self.seed & 0xFFFFFFFF,
            key1=self.seed >> 32,
            block_log2=rules.BERNOULLI.block_log2(self.prob),
            inv_log_q=rules.inv_log_q(self.prob),
            law=self.law.code,
            a=a,
            b=b,
            skip_diagonal=not self.include_self,
            prob=self.prob,
            rule=rules.BERNOULLI.code,
            law_bits=float_bits(a, b),
        )


def float_bits(*values):
    """The float64 bit patterns of ``values``: unequal for ``0.0`` and ``-0.0``.

    Returns
    -------
    tuple of int
    """
    return tuple(int(np.float64(v).view(np.uint64)) for v in values)


@functools.lru_cache(maxsize=1024)
def _kernel_params(spec):
    # Cached: every product asks for them, and a sparse GPU product is short
    # enough for tens of microseconds of Python to show.
    return spec._compute_kernel_params()
