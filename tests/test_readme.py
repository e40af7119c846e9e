"""The README's and the getting-started page's Python snippets run as written, and the
README's numbers come from committed results files.

They train on Fashion-MNIST at full size, which takes minutes; the tests run
them *as written* except for the substitutions in :data:`SMALL` (a smaller
``n_max``, two sampling steps, one epoch), each of which must match the text, so that a change
to a snippet cannot silently escape the test. They need Debian's
``dataset-fashion-mnist`` (or the files ``load_fashion_mnist`` finds), and are
skipped without it.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# text in a snippet -> what the test runs instead (small data, short training)
SMALL = {
    "imbalance_factor=100, n_max=300": "imbalance_factor=2, n_max=10",
    'from_pretrained("fashion-mnist-small")':
        'from_pretrained("fashion-mnist-small", num_inference_steps=2)',
    "max_epochs=15": "max_epochs=1",
}


def python_blocks(path):
    """The Python code blocks of a Markdown (```python) or reStructuredText file."""
    text = path.read_text()
    if path.suffix == ".md":
        return re.findall(r"```python\n(.*?)```", text, flags=re.S)
    blocks = []
    for match in re.finditer(r"\.\. code-block:: python\n\n((?:(?: {4}.*)?\n)+)", text):
        lines = match.group(1).splitlines()
        blocks.append("\n".join(line[4:] for line in lines) + "\n")
    return blocks


def shrink(code):
    """``code`` with :data:`SMALL` applied; the substitutions it used."""
    used = {old for old in SMALL if old in code}
    for old in used:
        code = code.replace(old, SMALL[old])
    return code, used


@pytest.fixture
def fashion_mnist(tmp_path, monkeypatch):
    from synaug_learn.datasets import load_fashion_mnist

    try:
        load_fashion_mnist(subset="test")
    except (FileNotFoundError, OSError, ValueError) as exc:
        pytest.skip(f"Fashion-MNIST is not installed ({exc})")
    monkeypatch.chdir(tmp_path)  # cache_dir="bank" is written here


def test_blocks_are_found():
    assert len(python_blocks(ROOT / "README.md")) == 2
    assert len(python_blocks(ROOT / "docs" / "getting_started.rst")) == 4


def test_readme_snippet_runs(fashion_mnist, capsys):
    code = python_blocks(ROOT / "README.md")[0]
    code, used = shrink(code)
    assert used == set(SMALL)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    sampler = namespace["sampler"]
    assert sampler.report_ is not None and sampler.synthetic_mask_.any()
    printed = capsys.readouterr().out
    assert "novelty" in printed
    data, model = namespace["data"], namespace["model"]  # the first line is the model's score
    assert float(printed.split("\n")[0]) == pytest.approx(model.score(data.X_test, data.y_test))


@pytest.mark.slow  # about 5 minutes on a loaded 2-core machine
def test_getting_started_snippets_run(fashion_mnist, capsys):
    blocks = python_blocks(ROOT / "docs" / "getting_started.rst")
    namespace, used = {}, set()
    for i, code in enumerate(blocks[:3]):  # the pipeline, SMOTE, RetrainClassifier
        code, u = shrink(code)
        used |= u
        exec(compile(code, f"getting_started.rst[{i}]", "exec"), namespace)
    assert used == set(SMALL)
    assert namespace["sampler"].report_ is not None
    assert len(namespace["model"].predict(namespace["data"].X_test)) == len(
        namespace["data"].y_test)
    assert "novelty" in capsys.readouterr().out


@pytest.mark.slow
def test_getting_started_grid_search_runs(fashion_mnist):
    blocks = python_blocks(ROOT / "docs" / "getting_started.rst")
    namespace = {}
    for i, code in enumerate(blocks):
        exec(compile(shrink(code)[0], f"getting_started.rst[{i}]", "exec"), namespace)
    assert namespace["search"].best_params_


def test_readme_table_snippet_runs_as_written(capsys):
    """The SMOTE user's pipeline on a plain table, with the default generator."""
    code = python_blocks(ROOT / "README.md")[1]
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert type(namespace["pipe"].named_steps["synaug"].generator).__name__ == "NoneType"
    assert float(capsys.readouterr().out.strip()) > 0.9  # balanced accuracy, 3-fold


def test_readme_numbers_are_in_committed_results():
    """Every three-decimal result the README quotes (0.xyz) appears in a committed results
    file, so that a number cannot outlive the run it came from."""
    readme = (ROOT / "README.md").read_text()
    quoted = set(re.findall(r"(?<![\d.])0\.\d{3}(?!\d)", readme))
    results = ROOT / "benchmarks" / "results"
    committed = "".join(p.read_text() for p in sorted(results.rglob("*"))
                        if p.suffix in (".md", ".json"))
    assert len(quoted) > 50  # the README quotes its results
    assert sorted(n for n in quoted if n not in committed) == []
