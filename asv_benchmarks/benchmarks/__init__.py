"""asv benchmarks of lazyconn (run from asv_benchmarks/: ``asv run --python=same``)."""
