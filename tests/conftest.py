"""Fixtures shared by several test modules."""

import importlib.util
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def load_benchmark(monkeypatch):
    """``load_benchmark("groups")`` imports ``benchmarks/groups.py`` as a module."""

    def load(name):
        monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import their _results helper
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
