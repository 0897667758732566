"""Every notebook of the series runs in smoke mode without an error, in a widget too, and follows the conventions.

The executed copies go to a temporary folder; each runtime is printed (``pytest -s``) and recorded
as a junit property. While ``notebooks/`` holds no numbered notebook the parametrised tests
collect nothing; the runner itself is tested on ``tests/nb_fixtures`` (test_notebook_runner.py).
"""
from __future__ import annotations

import nbformat
import pytest
from _nbutil import FIXTURE_DIR, REQUIRED_PARAMETERS, lint_notebook, run_smoke, series_notebooks

from erts_kit.course.runner import NotebookFailures

NOTEBOOKS = series_notebooks()


@pytest.fixture(autouse=True)
def _one_thread_kernels(monkeypatch):
    """Smoke runs are tiny: one OpenMP thread per kernel avoids oversubscribing CI's 2 cores."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_smoke_mode(path, tmp_path, record_property):
    try:
        results = run_smoke(path, tmp_path)
    except NotebookFailures as exc:
        results = exc.results
        print(f"\n{path.stem}: failed in {results['seconds'].iloc[0]:.1f} s")
        record_property("seconds", float(results["seconds"].iloc[0]))
        pytest.fail(str(exc), pytrace=False)
    seconds = float(results["seconds"].iloc[0])
    record_property("seconds", seconds)
    print(f"\n{path.stem}: ok in {seconds:.1f} s")
    assert results["status"].tolist() == ["ok"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_follows_the_conventions(path):
    problems = lint_notebook(nbformat.read(str(path), as_version=4))
    assert not problems, f"{path.name}:\n- " + "\n- ".join(problems)


@pytest.mark.parametrize("path", sorted(FIXTURE_DIR.glob("*.ipynb")), ids=lambda p: p.stem)
def test_fixture_notebooks_follow_the_conventions(path):
    assert lint_notebook(nbformat.read(str(path), as_version=4)) == []


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


COLAB = 'import sys\nif "google.colab" in sys.modules:\n    %pip install -q erts-kit'
PARAMS = "\n".join(f"{n} = {'True' if n == 'SMOKE' else 1}" for n in REQUIRED_PARAMETERS)


def test_lint_accepts_a_conforming_notebook():
    nb = _nb(nbformat.v4.new_code_cell(COLAB),
             nbformat.v4.new_code_cell(PARAMS, metadata={"tags": ["parameters"]}))
    assert lint_notebook(nb) == []


def test_lint_reports_every_departure():
    bad = nbformat.v4.new_code_cell("print(1)", execution_count=3)
    bad.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nb = _nb(nbformat.v4.new_code_cell("%pip install erts-kit"),                       # installs everywhere
             nbformat.v4.new_code_cell("SMOKE = False\nSEED = 1", metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell("EPOCHS = 3", metadata={"tags": ["parameters"]}), bad)
    problems = lint_notebook(nb)
    assert len(problems) == 3, problems
    assert "Colab only" in problems[0]
    assert "exactly one cell tagged 'parameters', found 2" in problems[1]
    assert problems[2].startswith("cell 3 has committed outputs")


def test_lint_names_missing_parameters_and_a_non_bool_smoke():
    nb = _nb(nbformat.v4.new_code_cell(COLAB),
             nbformat.v4.new_code_cell("SMOKE = 1\nSEED = 42", metadata={"tags": ["parameters"]}))
    problems = lint_notebook(nb)
    assert problems == ["parameters cell does not define ['DATASET', 'DATA_DIR', 'MODEL', 'POLICY', 'EPOCHS']",
                        "parameters cell must set SMOKE to True or False, got SMOKE = 1"]


@pytest.mark.slow
@pytest.mark.notebook
def test_detectors_notebook_runs_its_mitbih_part_on_record_folds(tmp_path, monkeypatch):
    """DATASET="mitbih" adds MIT-BIH to both parts: a demo tree here (no folder named), record-wise folds."""
    monkeypatch.delenv("ERTS_KIT_MITDB_DIR", raising=False)
    path = next(p for p in NOTEBOOKS if p.stem == "10_detectors")
    results = run_smoke(path, tmp_path, {"DATASET": "mitbih"})
    assert results["status"].tolist() == ["ok"]
    text = "".join(str(o.get("text", "")) for c in nbformat.read(results["output"].iloc[0], as_version=4).cells
                   for o in c.get("outputs", []))
    assert "MIT-BIH source: demo tree" in text
    assert "\nmitbih:\n" in text and "\nsynthetic:\n" in text   # the verdict of each policy grid
