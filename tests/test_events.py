"""BinaryArray and event-driven products."""

import types

import numpy as np
import pytest

import lazyconn
import lazyconn.kernels
from lazyconn.kernels import reference


@pytest.fixture
def spy(monkeypatch):
    """Route host products through the reference kernels and record the lines scattered."""
    calls = {"scatter": [], "gather": 0}

    def scatter(params, lines, values, j0, j1, dtype):
        calls["scatter"].append((np.asarray(lines).copy(), values is None))
        return reference.scatter(params, lines, values, j0, j1, dtype)

    def gather(*args):
        calls["gather"] += 1
        return reference.gather(*args)

    module = types.SimpleNamespace(
        NAME="spy", scatter=scatter, gather=gather, dense=reference.dense, coo=reference.coo, degrees=reference.degrees
    )
    monkeypatch.setattr(lazyconn.kernels, "host_backend", lambda: module)
    return calls


def test_only_active_rows_are_generated(spy):
    conn = lazyconn.JITCNormalR(1000, 300, 0.05, 0.0, 1.0, seed=4)
    mask = np.zeros(1000, dtype=bool)
    mask[[3, 500, 999]] = True
    result = lazyconn.BinaryArray(mask) @ conn
    (lines, binary), = spy["scatter"]
    np.testing.assert_array_equal(lines, [3, 500, 999])
    assert binary  # no multiply for events
    with lazyconn.set_options(max_dense_size=10**7):
        expected = conn.todense()[[3, 500, 999]].astype(np.float64).sum(0)
    np.testing.assert_allclose(result, expected, rtol=1e-6)


def test_float_inputs_skip_zero_rows_too(spy):
    conn = lazyconn.JITCScalarC(200, 400, 0.05, 1.0, seed=4)
    y = np.zeros(400)
    y[[7, 8]] = [2.0, -1.0]
    conn @ y  # C @ y scatters the columns: only 7 and 8
    (lines, binary), = spy["scatter"]
    np.testing.assert_array_equal(lines, [7, 8])
    assert not binary


def test_window_offsets_reach_the_kernel_as_global_lines(spy):
    conn = lazyconn.JITCScalarR(100, 100, 0.2, 1.0, seed=1)[40:60, 10:90]
    mask = np.zeros(20, dtype=bool)
    mask[[0, 19]] = True
    lazyconn.BinaryArray(mask) @ conn
    np.testing.assert_array_equal(spy["scatter"][0][0], [40, 59])


def test_gather_direction_does_not_scatter(spy):
    conn = lazyconn.JITCScalarR(50, 60, 0.2, 1.0, seed=1)
    conn @ np.ones(60)
    assert spy["gather"] == 1 and spy["scatter"] == []


def test_event_time_grows_with_active_rows_not_matrix_size(spy):
    # Same spikes, a matrix 1000x larger in rows: the same single line is generated.
    for rows in (10, 10_000_000):
        conn = lazyconn.JITCScalarR(rows, 50, 0.5, 1.0, seed=2)
        mask = np.zeros(rows, dtype=bool)
        mask[1] = True
        lazyconn.BinaryArray(mask) @ conn
    assert [s[0].tolist() for s in spy["scatter"]] == [[1], [1]]


@pytest.mark.parametrize(
    "data, error, match",
    [
        (np.array([0, 2, 1]), ValueError, "only 0 and 1"),
        (np.array([0.5, 1.0]), ValueError, "only 0 and 1"),
        (np.ones((2, 2, 2), dtype=bool), ValueError, "1-D or 2-D"),
        (np.array([1j, 0]), TypeError, "bool or 0/1"),
        (np.array(["1", "0"]), TypeError, "bool or 0/1"),
    ],
)
def test_binary_array_validation(data, error, match):
    with pytest.raises(error, match=match):
        lazyconn.BinaryArray(data)


@pytest.mark.parametrize("values, binary", [
    ([0.0, 1.0, -0.0], True), ([1e-40, 1.0], False), ([-1.0, 0.0], False), ([np.nan, 1.0], False),
    ([np.float32(1.0000001), 0.0], False),
])
def test_float32_validation_by_bits_where_a_library_flushes(monkeypatch, values, binary):
    # CuPy compares float32 under -ftz=true (1e-40 == 0 there): such arrays
    # are checked by their bits.  NumPy arrays stand in for them here.
    from lazyconn import _float, events

    data = np.asarray(values, dtype=np.float32)
    assert events._all_binary(data) == binary  # NumPy's own compare
    monkeypatch.setattr(_float, "_flushes", lambda x: True)
    assert events._all_binary(data) == binary
    if not binary:
        with pytest.raises(ValueError, match="only 0 and 1"):
            lazyconn.BinaryArray(data)


def test_binary_array_accepts_numbers_and_reports_bool():
    events = lazyconn.BinaryArray([0, 1, 1, 0])
    assert events.dtype == np.bool_ and events.shape == (4,) and events.ndim == 1 and len(events) == 4
    np.testing.assert_array_equal(np.asarray(events), [False, True, True, False])
    assert lazyconn.BinaryArray(np.zeros((2, 3))).T.shape == (3, 2)
    np.testing.assert_allclose(lazyconn.BinaryArray([1, 0, 1]) @ np.eye(3), [1, 0, 1])


def test_binary_shape_mismatch_is_named():
    conn = lazyconn.JITCScalarR(10, 5, 0.5, 1.0, seed=0)
    with pytest.raises(ValueError, match="shape mismatch"):
        lazyconn.BinaryArray(np.ones(9, dtype=bool)) @ conn
