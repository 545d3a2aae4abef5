"""Sphinx configuration of the lazyconn documentation.

Build: ``sphinx-build -W -b html docs docs/_build/html`` (warnings are
errors, as in CI).  Markdown pages (spec.md, performance.md) are read by
myst-parser; the API reference is autodoc with numpydoc docstrings.
"""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))  # the package itself, when not installed

import lazyconn  # noqa: E402

project = "lazyconn"
author = "the lazyconn developers"
copyright = "the lazyconn developers"  # noqa: A001 - the name Sphinx reads
version = release = lazyconn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "howto/_*.rst"]  # fragments folded into pages

# numpydoc: the API page lists members itself, so no per-class member tables
# (which would need autosummary stub pages).
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False}

# Markdown: $...$ math, anchors for headings (## 3. Streams -> #streams).
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

html_theme = "alabaster"
html_title = f"lazyconn {release}"
html_static_path = ["_static"]
