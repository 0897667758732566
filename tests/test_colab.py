"""Colab: every notebook's first cell installs a pinned kit on Colab only, and it works (simulated Colab).

The slow test builds a wheel of this checkout, makes a fresh virtual environment that sees this
machine's packages (torch, numpy, ...) but not the kit's editable install, injects a fake
``google.colab`` module, runs the first code cell of a notebook in an IPython shell there with
``ERTS_KIT_SOURCE`` pointing at the wheel, and checks that the kit then imports from the venv and works.
pip runs with ``--no-index``: nothing is downloaded, every dependency must already be on the machine.
"""
from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from _nbutil import NOTEBOOK_DIR, ROOT, series_notebooks

from erts_kit.course import colab

NOTEBOOKS = series_notebooks()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_first_code_cell_is_the_pinned_setup_and_the_title_has_its_badge(path):
    nb = nbformat.read(str(path), as_version=4)
    assert colab.first_code_cell(path) == colab.setup_cell(), \
        f"{path.name}: run python notebooks/_src/build.py --pin to write the current setup cell"
    assert colab.badge(colab.REPOSITORY, colab.PINNED_REF, path.stem) in nb.cells[0].source


def test_the_pin_is_a_tag_or_commit_and_readme_badges_follow_it():
    colab.check_pinned_ref(colab.PINNED_REF)
    readme = (NOTEBOOK_DIR / "README.md").read_text()
    for path in NOTEBOOKS:
        assert colab.badge(colab.REPOSITORY, colab.PINNED_REF, path.stem) in readme, \
            f"notebooks/README.md: the table needs a row for {path.stem} with its Open-in-Colab badge"


def test_pin_rewrites_setup_cell_badge_and_readme_and_refuses_a_branch(tmp_path):
    src = tmp_path / "_src"
    src.mkdir()
    (src / "01_a.py").write_text('# %% [markdown]\n# # 01 · A\n# text\n\n# %%\nimport sys\nif "google.colab" in '
                                 'sys.modules:\n    %pip install -q erts-kit\n\n# %%\nx = 1\n')
    (tmp_path / "README.md").write_text(colab.badge("me/kit", "v1", "01_a") + "\n")
    assert colab.pin_sources(src, "me/kit", "v2") == ["01_a.py"]
    text = (src / "01_a.py").read_text()
    assert "# # 01 · A\n#\n# " + colab.badge("me/kit", "v2", "01_a") + "\n#\n# text\n" in text
    assert 'git+https://github.com/me/kit.git@v2"' in text and text.endswith("# %%\nx = 1\n")
    assert colab.pin_readme(tmp_path / "README.md", ["01_a"], "me/kit", "v2")
    assert "blob/v2/notebooks/01_a.ipynb" in (tmp_path / "README.md").read_text()
    assert colab.pin_sources(src, "me/kit", "v2") == []      # idempotent
    with pytest.raises(ValueError, match="branch name 'main'"):
        colab.pin_sources(src, "me/kit", "main")


def _system_view(tmp: Path) -> Path:
    """A folder of links to this interpreter's site-packages, without the kit (its editable install)."""
    view = tmp / "system_site"
    view.mkdir()
    for sp in site.getsitepackages():
        for entry in Path(sp).iterdir():
            low = entry.name.lower()
            if low.startswith(("erts_kit", "erts-kit", "__editable__")) or low.endswith(".pth"):
                continue
            if not (view / entry.name).exists():
                (view / entry.name).symlink_to(entry)
    return view


_RUN_FIRST_CELL = textwrap.dedent('''
    import json, sys, types
    calls = []
    colab = types.ModuleType("google.colab")
    colab.output = types.ModuleType("google.colab.output")
    colab.output.enable_custom_widget_manager = lambda: calls.append("widget manager")
    sys.modules["google.colab"], sys.modules["google.colab.output"] = colab, colab.output
    try:
        import erts_kit
        sys.exit(f"erts_kit importable before the install: {erts_kit.__file__}")
    except ModuleNotFoundError:
        pass
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    result = shell.run_cell(open(sys.argv[1]).read())
    result.raise_error()
    print("CALLS", json.dumps(calls))
''')

_SMOKE_CALL = textwrap.dedent('''
    import numpy as np, torch, erts_kit
    from erts_kit.data import load_dataset
    from erts_kit.models import build_model
    data = load_dataset("synthetic", n_samples=12, n_leads=2, duration_s=3.0, seed=0)
    logits = build_model("small_cnn", 2, data.n_classes)(torch.from_numpy(np.asarray(data.signals[:4])))
    print("KIT", erts_kit.__file__, tuple(logits.shape))
''')


@pytest.mark.slow
def test_first_cell_installs_the_kit_from_a_wheel_in_a_fresh_venv_on_simulated_colab(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONNOUSERSITE="1")
    build_dir = tmp_path / "src"
    top_level_skip = {".git", "notebooks", "tests", "benchmarks", "data", "runs", "build", "dist", ".venv", ".hypothesis"}
    shutil.copytree(ROOT, build_dir, ignore=lambda folder, names: [
        n for n in names if (Path(folder) == ROOT and n in top_level_skip) or n == "__pycache__"
        or n.endswith(".egg-info")])
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(wheels), str(build_dir)], check=True, env=env, cwd=tmp_path)
    (wheel,) = wheels.glob("erts_kit-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, env=env)
    py = venv / "bin" / "python"
    (purelib,) = (venv / "lib").glob("python3*/site-packages")
    (purelib / "_system_site.pth").write_text(str(_system_view(tmp_path)) + "\n")   # pip, torch, ... but no kit

    cell = tmp_path / "first_cell.py"
    cell.write_text(colab.first_code_cell(NOTEBOOKS[0] if NOTEBOOKS else ROOT / "tests/nb_fixtures/01_good.ipynb"))
    run = subprocess.run([str(py), "-c", _RUN_FIRST_CELL, str(cell)], capture_output=True, text=True, cwd=tmp_path,
                         env={**env, "ERTS_KIT_SOURCE": f"erts-kit @ {wheel.as_uri()}"}, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"Installed erts-kit 0.1.0 from erts-kit @ {wheel.as_uri()}" in run.stdout
    assert 'CALLS ["widget manager"]' in run.stdout
    assert ("GPU:" in run.stdout) or ("No GPU. For full runs choose Runtime > Change runtime type" in run.stdout)

    smoke = subprocess.run([str(py), "-c", _SMOKE_CALL], capture_output=True, text=True, cwd=tmp_path, env=env,
                           timeout=300)
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    kit_file = smoke.stdout.split("KIT ", 1)[1].split()[0]
    assert Path(kit_file).is_relative_to(purelib), f"the kit imported from {kit_file}, not from the venv"
    assert smoke.stdout.rstrip().endswith("(4, 6)")
