"""Golden checksums: a change to the realised matrix cannot go unnoticed.

Each entry is (constructor arguments, SHA-256 prefix of the dense bytes).
The values were produced by the NumPy reference backend of spec v1 and are
checked on every backend; change them only with a new spec version.
"""

import hashlib

import numpy as np

import lazyconn


def checksum(dense):
    """First 16 hex digits of the SHA-256 of a C-contiguous dense block."""
    return hashlib.sha256(np.ascontiguousarray(dense).tobytes()).hexdigest()[:16]


GOLDEN = [
    (lazyconn.JITCScalarR, dict(num_pre=50, num_post=70, prob=0.1, weight=0.5, seed=0), "c64f84e2798ee303"),
    (lazyconn.JITCNormalC, dict(num_pre=64, num_post=33, prob=0.3, loc=0.0, scale=1.0, seed=2**64 - 1, dtype=np.float64), "6844d2fb9ef61232"),
    (lazyconn.JITCUniformR, dict(num_pre=40, num_post=40, prob=0.7, low=-1.0, high=2.0, seed=12345, include_self=False), "e16113d23d3b20e4"),
    (lazyconn.JITCNormalR, dict(num_pre=3, num_post=5000, prob=0.05, loc=1.0, scale=0.5, seed=42, dtype=np.float64), "9e1dbf24223fa7c6"),
    (lazyconn.JITCScalarC, dict(num_pre=300, num_post=2, prob=0.99, weight=-2.0, seed=7, dtype=np.float64), "43f25c7786e662a8"),
]

#: The extension laws of docs/spec.md §5.1 (LogNormal, Exponential: law codes
#: 3 and 4), one float32 and one float64 matrix each, on every backend.
GOLDEN_EXTENSION = [
    (lazyconn.JITCLogNormalR, dict(num_pre=40, num_post=60, prob=0.2, mu=-0.5, sigma=1.0, seed=2024), "baf4721b0a43f601"),
    (lazyconn.JITCLogNormalR, dict(num_pre=40, num_post=60, prob=0.2, mu=-0.5, sigma=1.0, seed=2024, dtype=np.float64), "0aa6634cf587c517"),
    (lazyconn.JITCExponentialC, dict(num_pre=50, num_post=50, prob=0.3, scale=2.0, seed=2**64 - 1, include_self=False), "52762e44cdd42c98"),
    (lazyconn.JITCExponentialC, dict(num_pre=50, num_post=50, prob=0.3, scale=2.0, seed=2**64 - 1, include_self=False, dtype=np.float64), "85080593538e2573"),
]
