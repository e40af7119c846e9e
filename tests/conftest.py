"""Fixtures shared by several test modules."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"


def _import(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def load_benchmark(monkeypatch):
    """``load_benchmark("groups")`` imports ``benchmarks/groups.py`` as a module."""

    def load(name):
        monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import their _results helper
        return _import(BENCHMARKS / f"{name}.py", f"bench_{name}")

    return load


@pytest.fixture
def load_script(monkeypatch):
    """``load_script("distill_generator")`` imports ``scripts/distill_generator.py`` as a module
    (with ``benchmarks/`` importable: some scripts use its task makers)."""

    def load(name):
        monkeypatch.syspath_prepend(str(BENCHMARKS))
        return _import(ROOT / "scripts" / f"{name}.py", name)

    return load
