"""The package's boundaries: which part may import which (see docs/architecture.rst).

Every module of ``synaug_learn`` is parsed (``ast``, imports inside functions
included) and each import resolved to the module it names; an import across a
forbidden arrow fails the test with the module, the line and the import.
"""

import ast
from pathlib import Path

import pytest

import synaug_learn

PACKAGE = Path(synaug_learn.__file__).resolve().parent

# part -> module prefixes that belong to it
PARTS = {
    "generators": ("synaug_learn.generators",),
    "sampler": ("synaug_learn._sampler",),
    "fill": ("synaug_learn._fill",),
    "bank": ("synaug_learn._bank",),
    "nets": ("synaug_learn.nets",),
    "report": ("synaug_learn._report", "synaug_learn.metrics"),
    "utils": ("synaug_learn.utils",),
    "cli": ("synaug_learn.cli",),
}

# part -> parts it must never import ("*" = every module of the package outside the part)
FORBIDDEN = {
    "generators": {"sampler", "fill", "bank", "nets", "report", "cli"},
    "nets": {"generators", "sampler", "bank", "fill"},
    "bank": {"generators"},
    "report": {"generators"},
    "sampler": {"bank"},  # the fill loop is the one place that knows generators and the bank
    "utils": {"*"},
}


def part_of(module):
    for part, prefixes in PARTS.items():
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return part
    return None


def module_name(path):
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def is_module(name):
    if not name.startswith("synaug_learn."):
        return False
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(module, source, is_package=False):
    """``(line, imported module)`` for every import in ``source``, resolved to absolute names."""
    package = module if is_package else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            # `from pkg import name` imports the submodule pkg.name when there is one
            subs = [f"{target}.{alias.name}" for alias in node.names]
            subs = [s for s in subs if is_module(s)]
            out += [(node.lineno, s) for s in subs] or [(node.lineno, target)]
    return out


def violations(module, source, is_package=False):
    """Forbidden imports of ``module``, as readable lines."""
    here = part_of(module)
    found = []
    for line, target in imports_of(module, source, is_package):
        if not target.startswith("synaug_learn"):
            continue
        there = part_of(target)
        if there == here and here is not None:
            continue
        banned = FORBIDDEN.get(here, set())
        if there == "cli" or "*" in banned or there in banned:
            found.append(f"{module} (line {line}) imports {target}: "
                         f"{here or 'package'} -> {there or 'package'}")
    return sorted(set(found))


def all_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield module_name(path), path.read_text(), path.name == "__init__.py"


def test_every_module_is_parsed():
    names = [name for name, _, _ in all_modules()]
    assert "synaug_learn._fill" in names and "synaug_learn.utils._validation" in names
    assert len(names) > 30


def test_no_module_imports_across_a_forbidden_boundary():
    found = [v for name, source, pkg in all_modules() for v in violations(name, source, pkg)]
    assert not found, "forbidden imports:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "module, source, arrow",
    [
        # the violations this test was written against
        ("synaug_learn._bank", "from .generators._base import derive_seed", "bank -> generators"),
        ("synaug_learn.generators._conditional",
         "def f():\n    from .._report import synthetic_report", "generators -> report"),
        ("synaug_learn._report", "from .generators._base import ImageFormat",
         "report -> generators"),
        ("synaug_learn.nets._mixup", "from ..generators._base import ImageFormat",
         "nets -> generators"),
        ("synaug_learn.generators._ray", "from .._sampler import SynAugSampler",
         "generators -> sampler"),
        ("synaug_learn.generators._ray", "from .. import _fill", "generators -> fill"),
        ("synaug_learn.nets._mixup", "import synaug_learn._bank", "nets -> bank"),
        ("synaug_learn.utils._image", "from ..generators import JitterGenerator",
         "utils -> generators"),
        ("synaug_learn.utils", "from .. import metrics", "utils -> report"),
        ("synaug_learn.plotting", "from .cli import main", "package -> cli"),
        ("synaug_learn._sampler", "from ._bank import SyntheticBank", "sampler -> bank"),
    ],
)
def test_each_forbidden_arrow_is_detected(module, source, arrow):
    found = violations(module, source, is_package=module == "synaug_learn.utils")
    assert any(arrow in v for v in found), found


def test_allowed_imports_pass():
    assert not violations("synaug_learn._fill", "from .generators import check_generator\n"
                                                "from ._bank import SyntheticBank")
    assert not violations("synaug_learn.generators._jitter", "from ..utils import derive_seed")
    assert not violations("synaug_learn.utils._validation", "from ._image import ImageFormat")
