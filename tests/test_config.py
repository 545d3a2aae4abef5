"""Options: the materialisation guard rail."""

import pytest

import lazyconn


def test_set_options_is_scoped_and_validated():
    default = lazyconn.get_options()["max_dense_size"]
    assert default == 2**27
    with lazyconn.set_options(max_dense_size=10):
        assert lazyconn.get_options()["max_dense_size"] == 10
        with pytest.raises(ValueError, match="max_dense_size=10"):
            lazyconn.JITCScalarR(4, 4, 0.5, 1.0, seed=0).todense()
    assert lazyconn.get_options()["max_dense_size"] == default
    with pytest.raises(TypeError, match="unknown option"):
        lazyconn.set_options(max_size=3)
    with pytest.raises(ValueError, match="non-negative integer"):
        lazyconn.set_options(max_dense_size=-1)
    assert lazyconn.get_options()["max_dense_size"] == default
