"""The Sphinx documentation builds without a single warning."""

import subprocess
import sys
from pathlib import Path

import pytest

import lazyconn

pytest.importorskip("sphinx")
pytest.importorskip("numpydoc")
pytest.importorskip("myst_parser")

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    completed = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q",
         "-d", str(out / ".doctrees"), str(DOCS), str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return out


def test_every_page_is_built(html):
    for page in ("index", "quickstart", "concepts", "cli", "api", "spec", "guarantees", "performance",
                 "performance_history", "developing", "changes",
                 "howto/choose_orientation", "howto/reproducibility", "howto/dask_cluster", "howto/gpu",
                 "howto/numpy_scipy", "howto/weight_laws"):
        assert (html / f"{page}.html").is_file(), page


def test_api_reference_documents_every_public_name(html):
    api = (html / "api.html").read_text(encoding="utf-8")
    for name in lazyconn.__all__:
        if name != "__version__":
            assert f'id="lazyconn.{name}"' in api, name
    for name in ("lazyconn.bench.benchmark_function", "lazyconn.demo.run_demo", "lazyconn.dask.matmul",
                 "lazyconn.dask.to_dask", "lazyconn.cli.main", "lazyconn.JITCMatrix.mean",
                 "lazyconn.JITCMatrix.max", "lazyconn.JITCMatrix.min", "lazyconn.JITCMatrix.diagonal",
                 "lazyconn.JITCMatrix.trace"):
        assert f'id="{name}"' in api, name


def test_markdown_pages_are_rendered_not_copied(html):
    spec = (html / "spec.html").read_text(encoding="utf-8")
    assert "<table" in spec  # Markdown tables became HTML tables
    assert "| parameter |" not in spec
