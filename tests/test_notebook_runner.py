"""The papermill runner on tests/nb_fixtures: runtimes, parameters, and every kind of failure reported together.

Fixtures: 01_good (prints its parameters), 02_failing (a cell raises), 03_widget_error (a guarded
slider callback fails after build time, the cell moving it passes), 04_interact_error (a plain
``interact`` callback fails: the ipywidgets pitfall; only the widget-state scan sees it), 06_slow_cell
(sleeps past the per-cell timeout).
"""
from __future__ import annotations

import json

import nbformat
import pytest
from _nbutil import CELL_TIMEOUT_S, FIXTURE_DIR

from erts_kit.course.runner import (
    CHECK_CELL_TAG,
    DEFAULT_CELL_TIMEOUT_S,
    NotebookFailures,
    cell_timeout,
    find_notebooks,
    load_parameters,
    main,
    notebook_errors,
    run_notebooks,
    split_parameters,
)

FAILING = [FIXTURE_DIR / f"{n}.ipynb" for n in ("01_good", "02_failing", "03_widget_error", "04_interact_error")]


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory):
    """One run of four fixtures with per-notebook parameters from a YAML file."""
    tmp = tmp_path_factory.mktemp("runner")
    params = tmp / "params.yaml"
    params.write_text("all:\n  EPOCHS: 2\n01_good:\n  SEED: 7\n")
    with pytest.raises(NotebookFailures) as info:
        run_notebooks(FAILING, parameters=params, output_dir=tmp / "out", progress=False, timeout=CELL_TIMEOUT_S)
    return info.value, tmp / "out"


@pytest.mark.notebook
def test_all_failures_are_reported_together(failed_run):
    exc, _ = failed_run
    res = exc.results.set_index("name")
    assert res["status"].to_dict() == {"01_good": "ok", "02_failing": "failed", "03_widget_error": "failed",
                                       "04_interact_error": "failed"}
    assert list(exc.failures["name"]) == ["02_failing", "03_widget_error", "04_interact_error"]
    msg = str(exc)
    assert msg.startswith("3 of 4 notebook(s) failed:")
    assert "ValueError: fixture failure on purpose" in msg
    assert "ValueError: fixture widget failure at n=4" in msg      # guarded callback, after build time
    assert "KeyError: 'missing-1'" in msg                          # plain interact: seen in the widget state
    assert (res["seconds"] > 0).all()


@pytest.mark.notebook
def test_each_failure_names_its_source(failed_run):
    res = failed_run[0].results.set_index("name")["error"]
    assert res["01_good"] == ""
    assert res["02_failing"].startswith("cell [4]: ValueError")
    assert "WidgetCallbackError" in res["03_widget_error"] and "widget " in res["03_widget_error"]
    assert res["04_interact_error"].startswith("widget ")


@pytest.mark.notebook
def test_parameters_reach_the_notebook_and_copies_are_written(failed_run):
    _, out = failed_run
    assert sorted(p.name for p in out.glob("*.ipynb")) == sorted(p.name for p in FAILING)
    nb = nbformat.read(str(out / "01_good.ipynb"), as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "SMOKE=True SEED=7 EPOCHS=2 DATASET=synthetic" in printed   # smoke, "all", then its own section
    assert CHECK_CELL_TAG in nb.cells[-1].metadata.tags
    assert nb.metadata.papermill.input_path.endswith("tests/nb_fixtures/01_good.ipynb")
    failing = nbformat.read(str(out / "02_failing.ipynb"), as_version=4)
    assert "unreachable" not in json.dumps([c.get("outputs") for c in failing.cells])


@pytest.mark.notebook
def test_cli_exit_codes_and_stop_on_error(tmp_path, capsys):
    args = ["--dir", str(FIXTURE_DIR), "--out", str(tmp_path), "--no-progress"]
    assert main([*args, "01"]) == 0
    assert "01_good     ok" in capsys.readouterr().out
    assert main([*args, "--stop-on-error", "02_failing", "01"]) == 1   # stops before running 01_good
    captured = capsys.readouterr()
    assert "1 of 1 notebook(s) failed" in captured.err and "01_good" not in captured.out
    assert main([*args, "99"]) == 2
    assert "No notebook named '99'" in capsys.readouterr().err
    assert main([*args, "--timeout", "0", "01"]) == 0                    # 0: no limit
    capsys.readouterr()
    assert main([*args, "--timeout", "-5", "01"]) == 2
    assert "timeout in seconds >= 0" in capsys.readouterr().err
    assert main([*args, "--timeout", "3", "06"]) == 1
    assert "cell 4 timed out after 3 s" in capsys.readouterr().err


@pytest.mark.notebook
def test_a_cell_past_the_timeout_fails_its_notebook_and_is_named(tmp_path):
    with pytest.raises(NotebookFailures) as info:
        run_notebooks(FIXTURE_DIR / "06_slow_cell.ipynb", output_dir=tmp_path, progress=False, timeout=3)
    row = info.value.results.iloc[0]
    assert row["status"] == "failed"
    assert row["error"] == "cell 4 timed out after 3 s (first line: 'import time  # the runner must stop here and name this cell')"
    assert row["seconds"] < 60                                         # stopped at the timeout, not the sleep
    assert "06_slow_cell" in str(info.value) and "cell 4 timed out" in str(info.value)
    executed = nbformat.read(str(tmp_path / "06_slow_cell.ipynb"), as_version=4)
    slow = [c for c in executed.cells if c.source.startswith("import time")]
    assert "CellTimedOut" in [o.get("ename") for o in slow[0].outputs]  # the executed copy shows it too


COUNT_ECHOED = 'print(len("".join(o.get("text", "") for o in out.outputs).split()))'  # lines the kernel got back


def _output_widget_notebook(path, n_cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("import ipywidgets\nfrom IPython.display import display\n"
                                          "out = ipywidgets.Output()\ndisplay(out)")]
    nb.cells += [nbformat.v4.new_code_cell(f"with out:\n    print({i})") for i in range(n_cells)]
    nb.cells.append(nbformat.v4.new_code_cell(COUNT_ECHOED))
    nbformat.write(nb, str(path))


@pytest.mark.notebook
def test_output_widget_cells_never_wait_for_the_timeout(tmp_path):
    """End to end through the runner: 150 cells, each printing into an Output widget (which makes the
    client echo a comm message on the shell socket while it waits for the reply), finish without one
    waiting for the timeout, and the kernel gets every echo. With papermill's stock engine the same
    run left 2 cells waiting in 3 runs (dev machine); the deterministic check is in test_nb_engine.py."""
    timeout = 5
    _output_widget_notebook(tmp_path / "widgets.ipynb", n_cells=150)
    res = run_notebooks(tmp_path / "widgets.ipynb", output_dir=tmp_path / "out", progress=False, timeout=timeout)
    assert res["status"].tolist() == ["ok"]
    executed = nbformat.read(str(tmp_path / "out" / "widgets.ipynb"), as_version=4)
    waited = [i for i, c in enumerate(executed.cells) if c.metadata.papermill["duration"] >= 0.9 * timeout]
    assert waited == [], f"cells {waited} waited for the {timeout} s timeout: a lost execute reply"
    count = next(c for c in executed.cells if c.source == COUNT_ECHOED)
    assert count.outputs[0]["text"].strip() == "150"                  # the kernel still got every echo


def test_cell_timeout_defaults_and_validation():
    assert cell_timeout(None, smoke=True) == DEFAULT_CELL_TIMEOUT_S["smoke"]
    assert cell_timeout(None, smoke=False) == DEFAULT_CELL_TIMEOUT_S["full"]
    assert cell_timeout(0, smoke=True) is None
    assert cell_timeout(2.5, smoke=True) == 2.5
    for bad in (-1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="timeout in seconds >= 0"):
            cell_timeout(bad, smoke=True)


# -- pure helpers (no kernel) ------------------------------------------------------------------------
def test_split_parameters_flat_and_per_notebook():
    assert split_parameters({"EPOCHS": 3}, "01_x", smoke=True) == {"SMOKE": True, "EPOCHS": 3}
    per = {"all": {"EPOCHS": 3, "SEED": 1}, "02_y": {"EPOCHS": 9}}
    assert split_parameters(per, "02_y", smoke=False) == {"SMOKE": False, "EPOCHS": 9, "SEED": 1}
    assert split_parameters(per, "01_x") == {"SMOKE": True, "EPOCHS": 3, "SEED": 1}
    # a flat parameter whose value is a dict stays flat
    assert split_parameters({"POLICY_KW": {"tau": 0.3}}, "01_x") == {"SMOKE": True, "POLICY_KW": {"tau": 0.3}}


def test_load_parameters_from_files(tmp_path):
    (tmp_path / "p.json").write_text('{"all": {"SEED": 3}}')
    (tmp_path / "p.yml").write_text("SEED: 4\n")
    (tmp_path / "p.txt").write_text("SEED=5")
    (tmp_path / "list.yaml").write_text("- 1\n")
    assert load_parameters(tmp_path / "p.json") == {"all": {"SEED": 3}}
    assert load_parameters(str(tmp_path / "p.yml")) == {"SEED": 4}
    with pytest.raises(ValueError, match="ending in .yaml, .yml or .json"):
        load_parameters(tmp_path / "p.txt")
    with pytest.raises(TypeError, match="Expected a mapping"):
        load_parameters(tmp_path / "list.yaml")
    with pytest.raises(FileNotFoundError):
        load_parameters(tmp_path / "missing.yaml")


def test_find_notebooks_by_folder_number_and_stem():
    all_nbs = find_notebooks(FIXTURE_DIR)
    assert [p.stem for p in all_nbs][:2] == ["01_good", "02_failing"]
    assert [p.stem for p in find_notebooks(FIXTURE_DIR, ["03", "01_good"])] == ["03_widget_error", "01_good"]
    with pytest.raises(FileNotFoundError, match="expected one of"):
        find_notebooks(FIXTURE_DIR, ["nope"])
    with pytest.raises(FileNotFoundError):
        find_notebooks(FIXTURE_DIR / "missing")


def _widget_nb(outputs):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x")]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {
        "abc": {"model_name": "OutputModel", "state": {"outputs": outputs}}}}}
    return nb


def test_notebook_errors_reads_cells_and_widget_state():
    tb = "Traceback (most recent call last):\n  File 'x'\nKeyError: 'k'\n"
    assert notebook_errors(_widget_nb([{"output_type": "stream", "name": "stderr", "text": tb}])) == \
        ["widget abc: KeyError: 'k'"]
    assert notebook_errors(_widget_nb([{"output_type": "error", "ename": "E", "evalue": "v", "traceback": []}])) == \
        ["widget abc: E: v"]
    clean = _widget_nb([{"output_type": "stream", "name": "stderr", "text": "UserWarning: harmless\n"},
                        {"output_type": "stream", "name": "stdout", "text": tb}])   # a traceback printed to stdout
    assert notebook_errors(clean) == []
    nb = _widget_nb([])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stderr", text="\x1b[31m" + tb)]
    assert notebook_errors(nb) == ["cell 0: KeyError: 'k'"]


# -- parameter names: checked before any kernel starts (issue 20, finding 5) -------------------------
INJECTION = "SEED = 1; __import__('pathlib').Path({path!r}).write_text('x'); _X"


def test_code_in_a_parameter_name_never_runs(tmp_path, capsys):
    target = tmp_path / "pwned.txt"
    params = tmp_path / "params.json"
    params.write_text(json.dumps({INJECTION.format(path=str(target)): 0}))
    with pytest.raises(ValueError, match="is not a Python identifier: expected one of its parameters") as info:
        run_notebooks(FIXTURE_DIR / "01_good.ipynb", parameters=params, output_dir=tmp_path / "out",
                      progress=False, timeout=CELL_TIMEOUT_S)
    msg = str(info.value)
    assert "01_good" in msg and "nothing was run" in msg
    for name in ("SMOKE", "SEED", "DATASET", "DATA_DIR", "MODEL", "POLICY", "EPOCHS"):
        assert name in msg                                             # the listing of known names
    assert not target.exists() and not (tmp_path / "out").exists()    # no kernel, no executed copy
    # the CLI: exit 2, one line, nothing written
    rc = main(["--dir", str(FIXTURE_DIR), "--out", str(tmp_path / "out"), "--no-progress",
               "--params", str(params), "01"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: Parameter name") and err.count("\n") == 1
    assert not target.exists() and not (tmp_path / "out").exists()


def test_a_typo_in_a_parameter_name_lists_the_known_names_closest_first(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"Unknown parameter 'EPOCH' for notebook 01_good: expected one of its "
                                         r"parameters EPOCHS, .*SMOKE"):
        run_notebooks(FIXTURE_DIR / "01_good.ipynb", parameters={"EPOCH": 3}, output_dir=tmp_path, progress=False)
    # per-notebook sections: the typo is found in its own section, before the other notebook runs
    per = {"all": {"SEED": 1}, "02_failing": {"EPOCHS": 1}, "01_good": {"SEDE": 2}}
    with pytest.raises(ValueError, match=r"Unknown parameter 'SEDE' for notebook 01_good: expected one of its "
                                         r"parameters SEED"):
        run_notebooks([FIXTURE_DIR / "02_failing.ipynb", FIXTURE_DIR / "01_good.ipynb"], parameters=per,
                      output_dir=tmp_path, progress=False)
    assert not list(tmp_path.glob("*.ipynb"))                         # 02_failing did not run either
    # a flat typo hits every notebook: one error, the others named
    with pytest.raises(ValueError, match=r"01_good: .* Bad parameter names for 1 more notebook\(s\) too: 02_failing\."):
        run_notebooks(FAILING[:2], parameters={"EPOCH": 3}, output_dir=tmp_path, progress=False)
    (tmp_path / "p.yaml").write_text("EPOCH: 3\n")
    assert main(["--dir", str(FIXTURE_DIR), "--out", str(tmp_path), "--no-progress", "--params",
                 str(tmp_path / "p.yaml"), "01"]) == 2
    err = capsys.readouterr().err
    assert "Unknown parameter 'EPOCH'" in err and "EPOCHS" in err and err.count("\n") == 1


@pytest.mark.parametrize("name", ["class", "1SEED", "SEED\n_X", "SEED[0]", "", "__import__('os')", 3, "SE ED"])
def test_names_that_are_not_identifiers_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match="is not a Python identifier"):
        run_notebooks(FIXTURE_DIR / "01_good.ipynb", parameters={name: 1}, output_dir=tmp_path, progress=False)


def test_parameter_names_come_from_the_first_parameters_cell(tmp_path):
    from erts_kit.course.nbparams import check_parameter_names, notebook_parameter_names

    assert notebook_parameter_names(FIXTURE_DIR / "01_good.ipynb") == \
        ["SMOKE", "SEED", "DATASET", "DATA_DIR", "MODEL", "POLICY", "EPOCHS"]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%matplotlib inline\nA: int = 1\nB, (C, D) = 2, (3, 4)\n"
                                          "if A:\n    E = 5\nimport os\ndef f():\n    G = 1",
                                          metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("H = 1", metadata={"tags": ["parameters"]})]
    assert notebook_parameter_names(nb) == ["A", "B", "C", "D", "E"]     # no imports, locals or 2nd cell
    nbformat.write(nb, str(tmp_path / "nb.ipynb"))
    with pytest.raises(ValueError, match="Unknown parameter 'H'"):
        run_notebooks(tmp_path / "nb.ipynb", parameters={"H": 1}, output_dir=tmp_path / "out", progress=False)
    nb.cells[0].source = "A = ("
    with pytest.raises(ValueError, match="parameters cell of the notebook to be Python"):
        notebook_parameter_names(nb)
    # no parameters cell: the runner's SMOKE is fine, anything else is refused clearly
    bare = nbformat.v4.new_notebook()
    bare.cells = [nbformat.v4.new_code_cell("x = 1")]
    assert notebook_parameter_names(bare) is None
    check_parameter_names({"SMOKE": True}, None, "bare")
    with pytest.raises(ValueError, match="bare has no cell tagged 'parameters', so it takes no parameters, got 'SEED'"):
        check_parameter_names({"SMOKE": True, "SEED": 1}, None, "bare")
    nbformat.write(bare, str(tmp_path / "bare.ipynb"))
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        run_notebooks(tmp_path / "bare.ipynb", parameters={"SEED": 1}, output_dir=tmp_path / "out", progress=False)
