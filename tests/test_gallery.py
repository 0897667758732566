"""The gallery executes notebooks and renders them as HTML, each page saying how it ran."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from _nbutil import FIXTURE_DIR

from erts_kit.cli import main as cli_main
from erts_kit.course.gallery import build_gallery, choose_mode


@pytest.fixture(autouse=True)
def _one_thread_kernels(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.mark.slow
@pytest.mark.notebook
def test_gallery_command_renders_every_page_with_its_mode_and_fails_on_a_failing_notebook(tmp_path, capsys):
    code = cli_main(["gallery", "--dir", str(FIXTURE_DIR), "--smoke", "--out", str(tmp_path), "01", "02"])
    assert code == 1                                   # 02_failing fails, and the command says so
    good, failing = (tmp_path / "01_good.html").read_text(), (tmp_path / "02_failing.html").read_text()
    for page in (good, failing):
        assert "Rendered by" in page and "Smoke mode" in page and "not results" in page
    assert "status: <strong>ok</strong>" in good and "status: <strong>failed</strong>" in failing
    index = (tmp_path / "index.html").read_text()
    assert "01_good.html" in index and "02_failing.html" in index
    assert "01_good" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.notebook
def test_explorers_show_a_static_view_in_the_rendered_page(tmp_path, monkeypatch):
    monkeypatch.delenv("ERTS_KIT_STATIC_WIDGETS", raising=False)
    df = build_gallery(FIXTURE_DIR, tmp_path, smoke=True, names=["05"], progress=False)
    assert df[["name", "mode", "status"]].values.tolist() == [["05_widgets_demo", "smoke", "ok"]]
    executed = nbformat.read(str(tmp_path / "_executed" / "05_widgets_demo.ipynb"), as_version=4)
    images = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    widgets = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widgets and len(images) >= len(widgets)      # each explorer drew a static view as well
    assert "<img" in (tmp_path / "05_widgets_demo.html").read_text()
    assert "ERTS_KIT_STATIC_WIDGETS" not in __import__("os").environ


def _titled(tmp_path: Path, title: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(title)])
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, str(path))
    return path


@pytest.mark.parametrize("title, smoke, gpu, budget, expected", [
    ("# 01\n**Runtime** (2-core CPU): smoke 40 s; default 6 min", None, False, 10, False),
    ("# 01\n**Runtime** (2-core CPU): smoke 40 s; default 6 min", None, False, 5, True),
    ("# 01\n**Runtime** (2-core CPU): smoke 40 s; default about 4 h (extrapolated)", None, False, 10, True),
    ("# 01\nno runtime stated", None, False, 10, True),
    ("# 01\nno runtime stated", None, True, 10, False),
    ("# 01\n**Runtime**: default 1 min", True, True, 10, True),
])
def test_mode_default_where_the_machine_allows_smoke_otherwise(tmp_path, title, smoke, gpu, budget, expected):
    assert choose_mode(_titled(tmp_path, title), smoke, gpu, budget) is expected
