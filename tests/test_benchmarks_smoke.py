"""Every benchmark script runs end to end on tiny inputs, and the checks it prints hold.

They are timing scripts (numbers go to BENCHMARKS.md, never asserted here); these tests only make sure a
change to the kit cannot silently break them, and that the equality checks they print hold.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script: str, *args: str) -> str:
    res = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def test_bench_gradcam_reports_every_way_and_equal_maps():
    out = _run("bench_gradcam.py", "--batch", "6", "--timesteps", "200", "--repeats", "1", "--models", "small_cnn")
    row = next(line for line in out.splitlines() if line.startswith("| small_cnn |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) == 11, row
    assert float(cells[6]) <= 1e-5  # max abs diff between the fast engine's and Captum's maps
    assert "shared pass" in out and "head fwd + bwd" in out


def test_bench_maxpool_finds_identical_values_and_gradients():
    out = _run("bench_maxpool.py", "--repeats", "2")
    assert "identical values: True, identical gradients: True" in out
    assert "| NoGradFastMaxPool2d |" in out and "| nn.MaxPool2d |" in out


@pytest.mark.parametrize(("script", "args", "expected"), [
    ("bench_models.py", ["--models", "small_cnn", "--steps", "1", "--warmup", "0"], "| small_cnn | 105,029 |"),
    ("bench_epoch_cost.py", ["--n-samples", "120", "--duration", "3", "--pretrain", "1", "--reps", "1"], "ERTS/DBPD = "),
    ("bench_selection.py", ["--reps", "1", "--T", "200", "--batch", "8"], "measured gradcam_units"),
    ("bench_cache.py", ["--records", "5", "--skip-big"], "| cached signals | 5x12x1000 float32 memmap |"),
    ("bench_synthetic.py", ["--quick", "--repeat", "1"], "| 2,000 | 12 | 1000 | 100 |"),
    ("bench_fidelity.py", ["--smoke"], "Paired by seed, reference - kit"),
    ("bench_policies.py", ["--smoke"], "## Macro-F1 (test) difference vs full, paired by seed"),
    ("bench_policies.py", ["--smoke", "--dataset", "mitbih", "--policies", "full", "infobatch",
                           "--variants", "infobatch:prune_ratio=0.8,warm_up=1"],
     "| infobatch[prune_ratio=0.8,warm_up=1] | 0, 1 |"),
    ("bench_detectors.py", ["--smoke"], "### Verdicts (every training sample)"),
    ("bench_mitbih.py", ["--smoke", "--threads", "1"], "xai_dbpd vs full, macro-F1 difference"),
])
def test_benchmark_script_runs_on_tiny_inputs(script, args, expected):
    assert expected in _run(script, *args)


def test_bench_overhead_compares_the_same_work_and_profiles_the_kit():
    out = _run("bench_overhead.py", "--smoke", "--profile", "--top", "5")
    checks = [line for line in out.splitlines() if line.startswith(("same work:", "similar best val macro-F1:"))]
    assert len(checks) == 2 and all(line.endswith(": True") for line in checks), checks
    assert "median kit/bare = " in out and "| round | kit s | bare s | kit/bare |" in out
    assert "### Self time by owner under cProfile" in out and "| erts_kit |" in out


def test_bench_policies_rebuilds_its_report_from_the_saved_runs(tmp_path):
    csv = tmp_path / "runs.csv"
    trained = _run("bench_policies.py", "--smoke", "--policies", "full", "infobatch", "--csv", str(csv))
    merged = _run("bench_policies.py", "--smoke", "--merge", str(csv))

    def table(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.startswith("| infobatch |")]
    assert len(table(trained)) == 4 and table(merged) == table(trained)   # paired, wall-clock and 2 per-run rows
