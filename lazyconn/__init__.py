"""lazyconn: random connectivity matrices too large to store.

A JITC (just-in-time connectivity) matrix is its generator: shape,
connection probability, weight law, seed and orientation.  Rows, blocks and
products are regenerated on demand, bit-identically on every backend.
"""

# First: the digest of the kernel sources as this process reads them (see _sources).
from . import _sources as _sources
from ._info import info as info
from ._version import __version__ as __version__
from .composite import JITCComposite as JITCComposite
from .composite import zeros as zeros
from .config import get_options as get_options
from .config import set_options as set_options
from .events import BinaryArray as BinaryArray
from .laws import Exponential as Exponential
from .laws import LogNormal as LogNormal
from .matrix import JITCExponentialC as JITCExponentialC
from .matrix import JITCExponentialR as JITCExponentialR
from .matrix import JITCLogNormalC as JITCLogNormalC
from .matrix import JITCLogNormalR as JITCLogNormalR
from .matrix import JITCMatrix as JITCMatrix
from .matrix import JITCNormalC as JITCNormalC
from .matrix import JITCNormalR as JITCNormalR
from .matrix import JITCScalarC as JITCScalarC
from .matrix import JITCScalarR as JITCScalarR
from .matrix import JITCUniformC as JITCUniformC
from .matrix import JITCUniformR as JITCUniformR
from .matrix import from_spec as from_spec
from .matrix import matmul as matmul
from .spec import Normal as Normal
from .spec import Scalar as Scalar
from .spec import Spec as Spec
from .spec import Uniform as Uniform

__all__ = [
    "__version__",
    "BinaryArray",
    "Exponential",
    "JITCComposite",
    "JITCExponentialC",
    "JITCExponentialR",
    "JITCLogNormalC",
    "JITCLogNormalR",
    "JITCMatrix",
    "JITCNormalC",
    "JITCNormalR",
    "JITCScalarC",
    "JITCScalarR",
    "JITCUniformC",
    "JITCUniformR",
    "LogNormal",
    "Normal",
    "Scalar",
    "Spec",
    "Uniform",
    "from_spec",
    "get_options",
    "info",
    "matmul",
    "set_options",
    "zeros",
]
