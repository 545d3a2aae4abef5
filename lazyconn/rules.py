"""Connection rules as records: the walk that yields a line's positions.

A rule decides *which* entries of a line are connected; a weight law
(:mod:`lazyconn.laws`) decides their values, from the same connection
slots, so any law works with any rule.  A rule works on *items*: pieces of
``2**block_log2`` entries of one line, each walked from its own stream
(gap words in its own Philox domain), from the item's start up to an end,
giving strictly increasing block-local positions and the slot of each.
The Bernoulli rule of spec v1 cuts lines into blocks (docs/spec.md §2-4).
A rule with per-line state, such as exactly K distinct entries per line
(issue 14), takes one item per line (``block_log2`` covering the longest
line) and its own domain (``d >= 2``), leaving every Bernoulli bit alone.

Record fields, and who reads them:

``name``, ``code``, ``params``, ``check``
    The public API and :class:`lazyconn.spec.KernelParams` (``rule``).
``block_log2``
    The item length of a matrix.
``reference_walk``
    The NumPy backend: ``reference_walk(params, lines, blocks, ends)``
    returns ``(item, pos, slot)`` for every connection of the items
    ``(lines[i], blocks[i])`` with ``pos < ends[i]``.
``numba_walk``
    ``"module:name"`` of the CPU backend's batch walk (a leading dot: inside
    ``lazyconn``; empty: the CPU refuses the rule), compiled into the
    kernels per (rule, law): ``walk(rk0, rk1, inv_log_q, table_base,
    table_threshold, num_conn, n_eff, skip, line, block, t0, n_draws, pos,
    aux, end, positions, words, at) -> (walked, pos, aux, done)``
    writes the positions of connection slots ``4 t0 .. 4 (t0 + n_draws)``
    (fewer only when the item ends); ``pos`` and ``aux`` are the walk's
    state from batch to batch, ``-1`` and ``0`` at the item's start (see
    ``kernels/_cpu_kernels.py`` and ``kernels/_cpu_fixed.py``).
``numba_lanes``
    Optional: ``"module:name"`` of a walk of many lines at once, which the
    CPU gather and scatter use in place of ``numba_walk``
    (``kernels/_cpu_fixed_lanes.py`` says how, and why the bits are the same).
``cuda_type``
    The GPU backend's walk struct.
``domain``
    The Philox domain of the rule's words.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._registry import Registry
from .random import ln, ln1p_scalar, philox4x32, words_to_uniform

__all__ = [
    "Rule",
    "BERNOULLI",
    "register",
    "get",
    "by_code",
    "block_size",
    "check_prob",
    "inv_log_q",
    "GAP_CLAMP",
    "MIN_BLOCK_LOG2",
    "MAX_BLOCK_LOG2",
]

MIN_BLOCK_LOG2 = 8
MAX_BLOCK_LOG2 = 22
#: Gaps are clamped here before conversion to an integer; any gap this large
#: ends a block, since blocks hold at most 2**22 entries.
GAP_CLAMP = float(2**23)
#: Philox domain of the Bernoulli gap words (domain 1 holds the weight words).
DOMAIN_GAPS = 0


@dataclass(frozen=True, eq=False)
class Rule:
    """The record of one connection rule (see the module docstring).

    Parameters
    ----------
    name : str
    code : int
        Pinned once published; unique in the registry.
    params : tuple of str
        Parameter names.
    check : callable
        ``check(*values) -> tuple``: validated parameters.
    block_log2 : callable
        ``block_log2(*values) -> int``: log2 of the item length.
    reference_walk : callable
        The NumPy walk (see the module docstring).
    numba_walk : str
        ``"module:name"`` of the Numba batch walk.
    cuda_type : str
        Name of the rule's walk struct in the GPU walk header.
    domain : int
        Philox domain of the rule's words.
    numba_lanes : str, optional
        ``"module:name"`` of a Numba walk of ``LANES`` whole lines at once
        (empty: none); see the module docstring.
    """

    name: str
    code: int
    params: tuple
    check: Callable
    block_log2: Callable
    reference_walk: Callable
    numba_walk: str
    cuda_type: str
    domain: int
    numba_lanes: str = ""


_RULES = Registry("connection rule")


def register(rule):
    """Add a rule to the registry.

    Parameters
    ----------
    rule : Rule

    Returns
    -------
    Rule

    Raises
    ------
    ValueError
        If its name or code is taken.
    """
    return _RULES.add(rule)


def get(name):
    """The rule named ``name``.

    Parameters
    ----------
    name : str

    Returns
    -------
    Rule

    Raises
    ------
    KeyError
        If no rule has that name.
    """
    return _RULES.get(name)


def by_code(code):
    """The rule with code ``code``.

    Parameters
    ----------
    code : int

    Returns
    -------
    Rule

    Raises
    ------
    ValueError
        If no rule has that code.
    """
    return _RULES.by_code(code)


# ------------------------------------------------------------------ Bernoulli
def check_prob(prob):
    """Validate a connection probability: a real number in [0, 1].

    Parameters
    ----------
    prob : object

    Returns
    -------
    float
    """
    if isinstance(prob, (bool, np.bool_)) or not isinstance(prob, numbers.Real):
        raise TypeError(f"prob must be a real number in [0, 1], got {prob!r} of type {type(prob).__name__}")
    try:
        prob = float(prob)
    except OverflowError:
        raise ValueError(
            f"prob must be in [0, 1], got {_short(prob)}; pass a connection probability such as 0.01"
        ) from None
    if not 0.0 <= prob <= 1.0:  # NaN fails this too
        raise ValueError(f"prob must be in [0, 1], got {prob!r}; pass a connection probability such as 0.01")
    return prob


def _short(value, limit=40):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


def inv_log_q(prob):
    """``1 / ln1p(-prob)`` of spec v1 §4: ``-inf`` for prob 0, ``-0.0`` for prob 1.

    Parameters
    ----------
    prob : float

    Returns
    -------
    float
    """
    if prob == 0.0:
        return -math.inf
    log_q = ln1p_scalar(-prob)
    return -0.0 if log_q == -math.inf else 1.0 / log_q


def initial_slots(params, longest_block):
    """Slots drawn per item in the first round of a NumPy walk: the mean plus a wide margin.

    Parameters
    ----------
    params : lazyconn.spec.KernelParams
    longest_block : int

    Returns
    -------
    int
        A multiple of 4 (sizing only: no bit depends on it).
    """
    mean = longest_block * params.prob  # sizing only, bits do not matter
    slots = int(mean + 5.0 * np.sqrt(mean) + 8.0)
    slots = min(slots, longest_block + 1)
    return max(4, (slots + 3) // 4 * 4)


def bernoulli_reference_walk(params, lines, blocks, ends):
    """Walk the gap streams of items ``(lines[i], blocks[i])`` (NumPy).

    Draw ``t`` of item ``(k, b)`` is Philox counter ``(t, b, k, 0)``;
    connection slot ``4t + i`` uses word i.

    Parameters
    ----------
    params : lazyconn.spec.KernelParams
    lines, blocks : ndarray of uint64
        The items.
    ends : ndarray of int64
        Block-local end of each item's walk.

    Returns
    -------
    item, pos, slot : ndarray of int64
        One entry per connection with block-local position ``pos < ends[item]``.
    """
    n_items = lines.size
    key = (params.key0, params.key1)
    pos = np.full(n_items, -1, dtype=np.int64)
    active = np.arange(n_items)
    slots = initial_slots(params, int(ends.max(initial=0)))
    first_draw = 0
    items, positions, slot_ids = [], [], []
    while active.size:
        draws = np.arange(first_draw, first_draw + slots // 4, dtype=np.uint64)
        words = philox4x32(
            (draws[None, :], blocks[active, None], lines[active, None], DOMAIN_GAPS), key
        )
        words = np.stack(words, axis=-1).reshape(active.size, slots)
        x = ln(words_to_uniform(words)) * params.inv_log_q
        gaps = np.floor(np.minimum(x, GAP_CLAMP)).astype(np.int64)
        walked = pos[active, None] + np.cumsum(gaps + 1, axis=1)
        row, col = np.nonzero(walked < ends[active, None])
        items.append(active[row])
        positions.append(walked[row, col])
        slot_ids.append(4 * first_draw + col)
        pos[active] = walked[:, -1]
        active = active[walked[:, -1] < ends[active]]
        first_draw += slots // 4
    return np.concatenate(items), np.concatenate(positions), np.concatenate(slot_ids)


BERNOULLI = register(Rule(
    name="Bernoulli",
    code=0,
    params=("prob",),
    check=lambda prob: (check_prob(prob),),
    block_log2=lambda prob: block_size(prob).bit_length() - 1,
    reference_walk=bernoulli_reference_walk,
    numba_walk=".kernels._cpu_kernels:bernoulli_walk",
    cuda_type="BernoulliWalk",
    domain=DOMAIN_GAPS,
))
