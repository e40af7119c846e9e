"""Sphinx configuration of the synaug-learn documentation.

Build with ``make docs`` (warnings are errors), or while editing, without
running the gallery::

    sphinx-build -W --keep-going -b html -D plot_gallery=0 docs docs/_build/html
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import docutils.core
import docutils.utils

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS))  # for _gallery_order

import synaug_learn  # noqa: E402

# -- project ---------------------------------------------------------------------------------

project = "synaug-learn"
author = "synaug-learn developers"
copyright = "synaug-learn developers"  # noqa: A001 - Sphinx's name
version = release = synaug_learn.__version__

# -- extensions ------------------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "**.ipynb_checkpoints",
    "generated/benchmarks",
]
default_role = "literal"
nitpicky = False

# autodoc / autosummary: one page per public object, written to generated/ at build time.
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"
# Class pages (_templates/class.rst) document a class's own members and those it inherits
# from this package, not what it inherits from scikit-learn, skorch or torch (see
# skip_foreign_member below).
autodoc_member_order = "groupwise"
add_module_names = False

# numpydoc renders the Parameters / Attributes / Examples sections.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- sphinx-gallery --------------------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # plot_text_to_image.py needs a GPU and Stable Diffusion weights: shown, never executed.
    "filename_pattern": r"/plot_(?!text_to_image)",
    "ignore_pattern": r"__init__\.py",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("synaug_learn",),
    "within_subsection_order": "_gallery_order.ExampleOrder",
    "download_all_examples": False,
    "remove_config_comments": True,
    # The build machine is shared: its wall-clock times say little about a laptop's, so the
    # per-example "Total running time" line is left out (sg_execution_times.rst keeps them).
    "min_reported_time": 10**9,
    "show_memory": False,
    "capture_repr": ("_repr_html_", "__repr__"),
    "matplotlib_animations": False,
}

# -- HTML ------------------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"synaug-learn {version}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "logo": {"text": "synaug-learn"},
    "navbar_end": ["theme-switcher"],
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
html_sidebars = {"index": [], "getting_started": [], "benchmarks": []}

# -- benchmark results -----------------------------------------------------------------------
# The benchmark scripts write Markdown tables to benchmarks/results/NAME.md. Sphinx reads
# reStructuredText, so each file is converted at build time into generated/benchmarks/NAME.inc,
# which benchmarks.rst includes; a benchmark without results gets a one-line note instead.

BENCHMARKS = {
    "long_tail": "python benchmarks/long_tail.py",
    "long_tail_domain_shift": "make bench-long-tail-domain-shift",
    "long_tail_domain_shift_budget_1000": "make bench-long-tail-domain-shift-budget",
    "long_tail_domain_shift_dpmpp": "make bench-long-tail-domain-shift-dpmpp",
    "long_tail_domain_shift_dpmpp_heldout": "make bench-long-tail-heldout",
    "long_tail_domain_shift_dpmpp_heldout_budget_1000": "make bench-long-tail-heldout",
    "long_tail_budget_1000": "make bench-long-tail-budget",
    "long_tail_budget_3000": "make bench-long-tail-budget",
    "long_tail_generator_10176": "python benchmarks/long_tail.py --pretrained DIR (the file's "
                                 "command and notes)",
    "long_tail_dpmpp": "make bench-long-tail-dpmpp",
    "long_tail_dpmpp_heldout": "make bench-long-tail-heldout",
    "long_tail_sdedpmpp40_heldout": "make bench-long-tail-sde",
    "long_tail_wide48_heldout": "make bench-long-tail-wide",
    "long_tail_sdedpmpp40_heldout_per_class": "make bench-long-tail-per-class",
    "long_tail_sdedpmpp40_heldout_per_class_regen": "make bench-long-tail-per-class",
    "long_tail_lowlr_dpmpp": "python benchmarks/long_tail.py --scheduler dpm++ --pretrained DIR "
                             "(the file's command and notes)",
    "long_tail_dpmpp_guidance1": "python benchmarks/long_tail.py --scheduler dpm++ --guidance 1.0 "
                                 "(the file's command)",
    "long_tail_dpmpp_guidance3": "python benchmarks/long_tail.py --scheduler dpm++ --guidance 3.0 "
                                 "(the file's command)",
    "long_tail_dpmpp_budget_1000": "make bench-long-tail-dpmpp",
    "long_tail_dpmpp_budget_3000": "make bench-long-tail-dpmpp",
    "long_tail_no_validation": "python benchmarks/long_tail.py --seeds 3 --threads 1",
    "groups": "python benchmarks/groups.py (pieces and --merge: the file's command)",
    "groups_selection": "python benchmarks/groups.py --select (the files: the file's command)",
    "generator_quality": "python benchmarks/generator_quality.py",
    "generation_speed": "python benchmarks/generation_speed.py",
    "generation_speed_student2": "python benchmarks/generation_speed.py --student DIR "
                                 "(the file's command)",
    "generation_speed_student3a": "python benchmarks/generation_speed.py --student DIR "
                                  "(the file's command)",
    "generation_speed_student4": "python benchmarks/generation_speed.py --student DIR "
                                 "(the file's command)",
    "generation_speed_student16_shared": "python benchmarks/generation_speed.py --student DIR "
                                         "(the file's command)",
    "generation_speed_student5": "python benchmarks/generation_speed.py --student DIR "
                                 "(the file's command)",
    "generation_speed_steps": "python benchmarks/generation_speed.py --settings ... "
                              "(the file's command)",
    "generation_speed_sde": "python benchmarks/generation_speed.py --settings ... "
                            "(the file's command)",
    "training_overhead": "python benchmarks/training_overhead.py",
    "domain_gap": "python benchmarks/domain_gap.py --grid",
    "domain_gap_shifted": "python benchmarks/domain_gap.py --grid --name domain_gap_shifted "
                          "--generator synaug_learn/pretrained/fashion-mnist-small-shifted",
    "reproducibility_long_tail": "make check-long-tail",
    "reproducibility_groups": "make check-groups",
    "reproducibility_groups_generator": "make check-groups",
}

_CODE = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_STRONG = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_EMPH = re.compile(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])")


def _escape(text):
    """Escape the characters reStructuredText would read as markup."""
    text = text.replace("\\", "\\\\")
    text = re.sub(r"([|<>])", r"\\\1", text)
    text = re.sub(r"(?<=\w)_(?=\W|$)", r"\\_", text)  # `word_` would be a reference
    text = text.replace("*", "\\*")
    return text


def _wrap(token, before, after):
    """Separate an inline-markup token from adjacent word characters (``\\ `` joins)."""
    if before and (before[-1].isalnum() or before[-1] in ")]}"):
        token = "\\ " + token
    if after and (after[0].isalnum() or after[0] in "([{"):
        token = token + "\\ "
    return token


def _inline(text):
    """Markdown inline markup (code, links, bold, italics) as reStructuredText."""
    pieces = []  # (kind, text)
    pos = 0
    pattern = re.compile("|".join(f"(?:{p.pattern})" for p in (_CODE, _LINK, _STRONG, _EMPH)))
    for match in pattern.finditer(text):
        pieces.append(("text", text[pos:match.start()]))
        whole = match.group(0)
        if m := _CODE.fullmatch(whole):
            code = m.group(2).strip()
            pieces.append(("markup", f"``{code}``" if "``" not in code else _escape(code)))
        elif m := _LINK.fullmatch(whole):
            pieces.append(("markup", f"`{_escape(m.group(1))} <{m.group(2)}>`__"))
        elif m := _STRONG.fullmatch(whole):
            pieces.append(("markup", f"**{_escape(m.group(1))}**"))
        else:
            m = _EMPH.fullmatch(whole)
            pieces.append(("markup", f"*{_escape(m.group(1))}*"))
        pos = match.end()
    pieces.append(("text", text[pos:]))
    out = []
    for i, (kind, piece) in enumerate(pieces):
        if kind == "text":
            out.append(_escape(piece))
            continue
        before = pieces[i - 1][1] if i else ""
        after = pieces[i + 1][1] if i + 1 < len(pieces) else ""
        out.append(_wrap(piece, before, after))
    return "".join(out)


def _table(lines):
    """A Markdown pipe table as a ``list-table``."""
    rows = []
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
            continue  # the |---|---| rule
        rows.append(cells)
    width = max(len(r) for r in rows)
    out = ["", ".. list-table::", "   :header-rows: 1", "   :class: benchmark-table", ""]
    for row in rows:
        row = row + [""] * (width - len(row))
        for j, cell in enumerate(row):
            out.append(f"   {'* -' if j == 0 else '  -'} {_inline(cell) or ' '}".rstrip())
    return out + [""]


def markdown_to_rst(text):
    """Convert the Markdown the benchmark scripts write (headings, tables, lists, paragraphs).

    A level-1 heading becomes a rubric (the including page owns the section structure);
    lower levels become sections below the page's third level.
    """
    underline = {2: "^", 3: '"', 4: "'"}
    out, lines, i = [], text.splitlines(), 0
    in_code = False
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("```"):
            out += ["", "::", ""] if not in_code else [""]
            in_code = not in_code
            i += 1
            continue
        if in_code:
            out.append("   " + line)
            i += 1
            continue
        if m := re.match(r"^(#{1,4})\s+(.*)$", line):
            title = _inline(m.group(2).strip())
            if len(m.group(1)) == 1:
                out += ["", f".. rubric:: {title}", ""]
            else:
                out += ["", title, underline[len(m.group(1))] * max(len(title), 3), ""]
            i += 1
            continue
        if line.lstrip().startswith("|"):
            block = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                block.append(lines[i])
                i += 1
            out += _table(block)
            continue
        if m := re.match(r"^(\s*)[-*]\s+(.*)$", line):
            out.append(f"{m.group(1)}* {_inline(m.group(2))}")
            i += 1
            continue
        out.append(_inline(line))
        i += 1
    return "\n".join(out).strip() + "\n"


def _parses_cleanly(rst):
    """Whether docutils reads ``rst`` without warnings (else we fall back to a literal block)."""
    try:
        docutils.core.publish_doctree(
            rst,
            settings_overrides={"halt_level": 2, "report_level": 5, "file_insertion_enabled": 0},
        )
    except (docutils.utils.SystemMessage, Exception):  # noqa: BLE001 - any failure: fall back
        return False
    return True


def write_benchmark_includes(app=None):
    out_dir = DOCS / "generated" / "benchmarks"
    out_dir.mkdir(parents=True, exist_ok=True)
    results = ROOT / "benchmarks" / "results"
    for name, command in BENCHMARKS.items():
        md = results / f"{name}.md"
        if md.is_file():
            text = md.read_text(encoding="utf-8")
            rst = markdown_to_rst(text)
            if not _parses_cleanly(rst):
                body = "\n".join("   " + line for line in text.splitlines())
                rst = f".. code-block:: markdown\n\n{body}\n"
        else:
            rst = (
                f".. note::\n\n   No results yet: ``benchmarks/results/{name}.md`` does not exist "
                f"in this checkout. Run ``{command}`` to produce it, then rebuild the docs.\n"
            )
        target = out_dir / f"{name}.inc"
        if not target.is_file() or target.read_text(encoding="utf-8") != rst:
            target.write_text(rst, encoding="utf-8")




# -- API coverage ----------------------------------------------------------------------------
# Every name in a public module's __all__ must appear in api.rst; a new export without an
# entry fails the (warnings-as-errors) build instead of silently missing from the docs.

PUBLIC_MODULES = synaug_learn._PUBLIC_MODULES


def check_api_coverage(app):
    import importlib

    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    api = (DOCS / "api.rst").read_text(encoding="utf-8")
    listed = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", api))
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            if name not in listed:
                logger.warning(
                    f"{module_name}.{name} is public (in __all__) but not listed in api.rst",
                    location=str(DOCS / "api.rst"),
                )


# -- members defined elsewhere ---------------------------------------------------------------


def skip_foreign_member(app, what, name, obj, skip, options):
    """Skip class members defined outside synaug_learn (scikit-learn's ``set_*_request``,
    skorch's and torch's methods): their docstrings point into other projects' docs."""
    if what != "class":
        return None
    target = getattr(obj, "fget", obj)  # properties
    target = getattr(target, "__func__", target)  # bound class methods
    module = getattr(target, "__module__", None)
    if isinstance(module, str) and not module.startswith("synaug_learn"):
        return True
    return None


def setup(app):
    app.connect("builder-inited", write_benchmark_includes)
    app.connect("builder-inited", check_api_coverage)
    app.connect("autodoc-skip-member", skip_foreign_member)
