"""Every public name has a numpydoc docstring that documents its parameters."""

import importlib
import inspect

import pytest


validate = pytest.importorskip("numpydoc.validate").validate

# Parameters documented, none unknown, each described; a Returns section on
# functions that return; a docstring at all.
CHECKED = {"GL08", "PR01", "PR02", "PR07", "RT01"}


def _public_names():
    names = []
    for module_name in ("lazyconn", "lazyconn.testing", "lazyconn.bench", "lazyconn.dask", "lazyconn.distributed"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # an optional extra (dask) is not installed
            continue
        for name in module.__all__:
            if name.startswith("__"):
                continue
            obj = getattr(module, name)
            names.append(f"{module_name}.{name}")
            if inspect.isclass(obj):
                names += [
                    f"{module_name}.{name}.{attr}"
                    for attr, value in vars(obj).items()
                    if not attr.startswith("_") and callable(value)
                ]
    return names


@pytest.mark.parametrize("name", _public_names())
def test_numpydoc(name):
    try:
        report = validate(name)
    except OSError:  # Hypothesis composites wrap their source away
        pytest.skip("source not available")
    errors = [f"{code}: {message}" for code, message in report["errors"] if code in CHECKED]
    assert not errors, errors
