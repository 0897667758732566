"""The distribution: dependency lists agree, the wheel holds the package only, the CLI entry exists."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    env_reqs = {_name(r): r.replace(" ", "") for r in pip_section if not r.startswith("-e")}
    py_reqs = {_name(r): r.replace(" ", "") for r in project["dependencies"]}
    assert env_reqs == py_reqs, f"environment.yml and pyproject.toml disagree: {set(env_reqs.items()) ^ set(py_reqs.items())}"


def test_torch_is_a_lower_bound_not_a_pin():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    torch_req = next(r for r in project["dependencies"] if _name(r) == "torch")
    assert ">=" in torch_req and "==" not in torch_req and "<" not in torch_req.replace(">=", "")


@pytest.mark.slow
def test_wheel_holds_the_package_only(tmp_path):
    out = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    wheel = next(tmp_path.glob("erts_kit-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert top <= {"erts_kit", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}, top
    assert "erts_kit/__init__.py" in names
    assert not any(n.startswith(("tests/", "notebooks/", "benchmarks/", "data/")) for n in names)
