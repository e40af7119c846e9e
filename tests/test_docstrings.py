"""Every public object has a numpydoc docstring with an Examples section, and the examples run.

"Public" is everything in the ``__all__`` of the package's public modules. Classes and
functions are checked with numpydoc's validator (it parses the docstring) and their doctests
are run with :class:`doctest.DocTestFinder` (``+SKIP`` lines, e.g. those that need a GPU or a
downloaded model, are skipped by doctest itself). Module-level constants have no docstring of
their own; they are described in ``docs/api.rst``, which must list every public name.

numpydoc is in the ``docs`` extra; without it the docstring checks are skipped.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
import warnings
from pathlib import Path

import pytest

import synaug_learn

PUBLIC_MODULES = synaug_learn._PUBLIC_MODULES

# numpydoc validation codes that fail the test. The others (no "See Also", no extended
# summary, parameter descriptions without a full stop...) are style, not breakage.
ENFORCED = {
    "GL06": "unknown section",
    "GL08": "no docstring",
    "EX01": "no Examples section",
    "PR01": "a parameter of the signature is not documented",
    "PR02": "a documented parameter is not in the signature",
    "PR03": "parameters documented in another order than the signature's",
}

API_RST = Path(__file__).resolve().parent.parent / "docs" / "api.rst"


def _public_names():
    """``(module, name, object)`` for every name in the public modules' ``__all__``."""
    out = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            out.append((module_name, name, getattr(module, name)))
    return out


def _documented_objects():
    """Public classes and functions, each once (under the first public name found)."""
    seen, out = set(), []
    for module_name, name, obj in _public_names():
        if not (inspect.isclass(obj) or inspect.isfunction(obj)) or id(obj) in seen:
            continue
        seen.add(id(obj))
        out.append(f"{module_name}.{name}")
    return out


OBJECTS = _documented_objects()


def _resolve(qualname):
    module_name, _, name = qualname.rpartition(".")
    return getattr(importlib.import_module(module_name), name)


@pytest.mark.parametrize("qualname", OBJECTS)
def test_docstring_is_valid_numpydoc(qualname):
    numpydoc_validate = pytest.importorskip("numpydoc.validate")
    from numpydoc.docscrape import NumpyDocString

    obj = _resolve(qualname)
    doc = inspect.getdoc(obj)
    assert doc, f"{qualname} has no docstring"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpydoc warns about what it cannot parse
        parsed = NumpyDocString(doc)
    assert parsed["Examples"], f"{qualname}'s docstring has no Examples section"
    errors = [
        f"{code} ({ENFORCED[code]}): {message}"
        for code, message in numpydoc_validate.validate(qualname)["errors"]
        if code in ENFORCED
    ]
    assert not errors, f"{qualname}:\n" + "\n".join(errors)


@pytest.fixture
def one_torch_thread():
    """Run examples on one torch thread (the test machines share their cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.mark.parametrize("qualname", OBJECTS)
def test_docstring_examples_run(qualname, one_torch_thread):
    obj = _resolve(qualname)
    finder = doctest.DocTestFinder(recurse=True, exclude_empty=True)
    tests = [t for t in finder.find(obj, qualname, globs={}) if t.examples]
    assert tests, f"{qualname} has no doctest examples"
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    report = []
    for test in tests:
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)


def test_public_names_are_in_the_api_reference():
    if not API_RST.is_file():
        pytest.skip("docs/api.rst is not in this checkout")
    listed = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", API_RST.read_text(encoding="utf-8")))
    missing = [f"{m}.{n}" for m, n, _ in _public_names() if n not in listed]
    assert not missing, f"public names missing from docs/api.rst: {missing}"
