"""benchmark_function and its result object."""

import statistics

import pytest

from lazyconn.bench import BenchmarkResult, benchmark_function, format_seconds


def test_calls_warmups_then_runs_with_arguments():
    calls = []
    result = benchmark_function(lambda a, b=0: calls.append((a, b)), 1, b=2, n_warmup=2, n_runs=4)
    assert calls == [(1, 2)] * 6
    assert result.runs == 4 and len(result.times) == 4


def test_statistics_are_consistent():
    result = benchmark_function(sum, range(10_000), n_runs=7)
    assert all(t > 0 for t in result.times)
    assert result.min <= result.median <= max(result.times)
    assert result.min <= result.mean <= max(result.times)
    assert result.std >= 0
    assert result.min == min(result.times)


def test_result_statistics_on_known_times():
    result = BenchmarkResult((0.001, 0.002, 0.006))
    assert result.mean == pytest.approx(0.003)
    assert result.median == 0.002
    assert result.min == 0.001
    assert result.std == pytest.approx(statistics.stdev([0.001, 0.002, 0.006]))
    assert result.runs == 3
    assert repr(result) == "BenchmarkResult(median=2 ms, mean=3 ms, min=1 ms, std=2.65 ms, runs=3)"
    assert BenchmarkResult((0.5,)).std == 0.0


def test_result_is_frozen():
    result = BenchmarkResult((1.0,))
    with pytest.raises(AttributeError):
        result.times = (2.0,)


@pytest.mark.parametrize("kwargs, match", [({"n_runs": 0}, "n_runs"), ({"n_warmup": -1}, "n_warmup"),
                                           ({"n_runs": 2.5}, "n_runs")])
def test_bad_counts_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        benchmark_function(lambda: None, **kwargs)


@pytest.mark.parametrize("seconds, text", [(2.5, "2.5 s"), (0.0123, "12.3 ms"), (4.2e-6, "4.2 us"), (3e-9, "3 ns")])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text
