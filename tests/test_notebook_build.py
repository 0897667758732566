"""The notebooks are built by jupytext from their percent-format sources, and the two round-trip unchanged."""
from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from _nbutil import NOTEBOOK_DIR, ROOT

from erts_kit.course.build_cli import main
from erts_kit.course.notebook_build import (
    build,
    notebook_text,
    notebook_to_source,
    source_to_notebook,
)

SOURCES = sorted((NOTEBOOK_DIR / "_src").glob("[0-9][0-9]_*.py"))


def test_every_source_has_its_notebook_and_every_notebook_its_source():
    assert [s.stem for s in SOURCES] == [n.stem for n in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))]


@pytest.mark.parametrize("src", SOURCES, ids=[s.stem for s in SOURCES])
def test_source_and_committed_notebook_round_trip_unchanged(src):
    committed = (NOTEBOOK_DIR / f"{src.stem}.ipynb").read_text(encoding="utf-8")
    assert notebook_text(src) == committed, f"{src.stem}.ipynb is stale: run python notebooks/_src/build.py"
    assert notebook_to_source(nbformat.reads(committed, as_version=4)) == src.read_text(encoding="utf-8")
    nb = nbformat.reads(committed, as_version=4)
    assert nb.metadata.kernelspec.name == "python3"
    assert sum("parameters" in c.metadata.get("tags", []) for c in nb.cells) == 1
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")


def test_magics_tags_and_markdown_survive_both_ways():
    text = ('# %% [markdown]\n# # 01 · T\n#\n# - a list\n\n# %%\nimport sys\nif True:\n    %pip install -q x\n\n'
            '# %% tags=["parameters"]\nSMOKE = False  # a comment\n')
    nb = source_to_notebook(text, "01_t")
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code"]
    assert nb.cells[0].source == "# 01 · T\n\n- a list"
    assert "    %pip install -q x" in nb.cells[1].source
    assert nb.cells[2].metadata == {"tags": ["parameters"]} and [c.id for c in nb.cells] == ["01-00", "01-01", "01-02"]
    assert notebook_to_source(nb) == text


def test_build_check_to_source_on_a_folder(tmp_path):
    src = tmp_path / "_src"
    src.mkdir()
    (src / "01_a.py").write_text("# %% [markdown]\n# # A\n\n# %%\nx = 1\n")
    assert main(["--src", str(src), "--check"]) == 1             # no notebook yet
    assert main(["--src", str(src)]) == 0 and main(["--src", str(src), "--check"]) == 0
    nb = nbformat.read(str(tmp_path / "01_a.ipynb"), as_version=4)
    nb.cells[1].source = "x = 2"
    nbformat.write(nb, str(tmp_path / "01_a.ipynb"))              # edited in Jupyter (with its own ids/metadata)
    assert build(src, check=True) == ["01_a.ipynb"]
    assert build(src, to_source=True) == ["01_a.py"]
    assert (src / "01_a.py").read_text().endswith("# %%\nx = 2\n")
    assert main(["--src", str(src), "--check", "02"]) == 2       # a name that matches no source


def test_build_script_runs_from_the_repository_root():
    out = subprocess.run([sys.executable, "notebooks/_src/build.py", "--check"], cwd=ROOT, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr
