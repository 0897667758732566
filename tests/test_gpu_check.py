"""benchmarks/gpu_check.py stops cleanly, with a clear message, where there is no CUDA device."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def test_gpu_check_without_cuda_says_so_and_writes_nothing(tmp_path):
    out = tmp_path / "gpu.md"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}   # no CUDA device, also on a GPU machine
    res = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], capture_output=True, text=True,
                         timeout=300, env=env, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "gpu_check: no CUDA device here (torch.cuda.is_available() is False" in res.stdout
    assert "Nothing was run" in res.stdout and "machine with one CUDA GPU" in res.stdout
    assert not out.exists()
