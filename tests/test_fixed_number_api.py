"""The public API of the fixed-number rule: ``num_conn=K`` on the JITC classes."""

import pickle

import numpy as np
import pytest

import lazyconn
from lazyconn.spec import Normal, Spec


def test_public_constructors_take_num_conn():
    conn = lazyconn.JITCNormalC(50, 50, loc=0.0, scale=1.0, num_conn=12, seed=3, include_self=False, dtype=np.float64)
    assert conn.num_conn == 12 and conn.spec.num_conn == 12 and conn.prob == 12 / 49
    assert conn.spec == Spec((50, 50), "C", None, Normal(0.0, 1.0), 3, np.float64, False, num_conn=12)
    assert conn.T.num_conn == 12 and type(conn.T).__name__ == "JITCNormalR"
    assert conn.T.spec == conn.spec.transposed
    assert "num_conn=12" in repr(conn) and "prob" not in repr(conn)
    assert lazyconn.JITCScalarR(5, 5, 0.5, 1.0, seed=1).num_conn is None
    assert pickle.loads(pickle.dumps(conn)).same_generator(conn)


def test_public_constructors_validate_num_conn():
    with pytest.raises(ValueError, match=r"num_conn must be <= 49, got 50.*off-diagonal.*include_self=False"):
        lazyconn.JITCScalarC(50, 50, weight=1.0, num_conn=50, include_self=False)
    with pytest.raises(ValueError, match=r"num_conn must be <= 40, got 41.*num_post"):
        lazyconn.JITCScalarR(50, 40, weight=1.0, num_conn=41)
    with pytest.raises(ValueError, match="either prob or num_conn, not both"):
        lazyconn.JITCScalarR(5, 5, 0.5, 1.0, num_conn=2)
    with pytest.raises(TypeError, match="needs prob .* or num_conn"):
        lazyconn.JITCScalarR(5, 5, weight=1.0)
    with pytest.raises(TypeError, match=r"JITCNormalR.__init__\(\) missing 2 required positional arguments: "
                                        r"'loc' and 'scale'"):
        lazyconn.JITCNormalR(5, 5, num_conn=2)
    with pytest.raises(TypeError, match="num_conn must be an integer"):
        lazyconn.JITCScalarR(5, 5, weight=1.0, num_conn=2.0)
    with pytest.raises(ValueError, match="include_self=False needs a square"):
        lazyconn.JITCScalarR(5, 6, weight=1.0, num_conn=2, include_self=False)
