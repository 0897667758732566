"""Runtime guide: wall-clock time of each notebook of the series, smoke and default, on this machine.

For each notebook (one at a time, each run under ``flock /tmp/erts-bench.lock`` so no two timing
runs overlap on a shared machine), in a fresh papermill kernel through ``run_notebooks``:

1. ``smoke``: ``SMOKE=True``.
2. ``default``: ``SMOKE=False`` with a wall-clock limit (``--limit``, 600 s). A run that passes the
   limit is killed and replaced by
3. ``one_epoch``: the default settings with ``EPOCHS=1`` (and ``EARLY_EPOCHS=1`` where the notebook has
   it); the default time is then *extrapolated* as ``EPOCHS_default x one_epoch`` (setup counted once
   per epoch: an over-estimate of setup, an under-estimate where later epochs cost more, e.g. ERTS
   epochs with Grad-CAM; stated as extrapolated wherever it is quoted).

Run: ``python benchmarks/notebook_times.py [--modes smoke default] [--limit 600] [names...]``.
Appends one JSON line per run to ``benchmarks/results/notebook_times.jsonl`` (machine, torch, threads).
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "notebook_times.jsonl"
LOCK = "/tmp/erts-bench.lock"
_RUN_ONE = (
    "import sys, json; from erts_kit.course.runner import run_notebooks\n"
    "r = run_notebooks(sys.argv[1], parameters=json.loads(sys.argv[2]), output_dir=sys.argv[3],"
    " smoke=sys.argv[4] == '1', progress=False, timeout=0)\n"
    "print('SECONDS', r['seconds'].iloc[0])\n"
)


def _time_one(path: Path, params: dict, smoke: bool, limit: float) -> tuple[str, float]:
    out = tempfile.mkdtemp(prefix="erts_nbtime_")
    cmd = [sys.executable, "-c", _RUN_ONE, str(path), json.dumps(params), out, "1" if smoke else "0"]
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # the limit counts from here, not from the wait for the lock
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:
            text, _ = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)   # the kernel exits when its parent does (JPY_PARENT_PID)
            proc.communicate()
            time.sleep(3)
            return "over_limit", time.perf_counter() - start
    for line in text.splitlines():
        if line.startswith("SECONDS"):
            return "ok", float(line.split()[1])
    return "failed: " + text.strip().splitlines()[-1][:300], time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="notebook stems or numbers (default: all)")
    ap.add_argument("--modes", nargs="+", default=["smoke", "default"], choices=["smoke", "default", "one_epoch"])
    ap.add_argument("--limit", type=float, default=600.0, help="wall-clock limit of a default run, seconds")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from erts_kit.course.nbparams import notebook_parameter_names
    from erts_kit.course.runner import find_notebooks

    import torch
    env = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
           "torch": torch.__version__, "threads": torch.get_num_threads(), "shared_machine": True}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    for path in find_notebooks(REPO / "notebooks", args.names or None):
        modes = list(args.modes)
        while modes:
            mode = modes.pop(0)
            params: dict = {}
            if mode == "one_epoch":
                params = {"EPOCHS": 1}
                if "EARLY_EPOCHS" in notebook_parameter_names(path):
                    params["EARLY_EPOCHS"] = 1
            status, seconds = _time_one(path, params, mode == "smoke", args.limit)
            row = {"notebook": path.stem, "mode": mode, "status": status, "seconds": round(seconds, 1),
                   "params": params, "limit_s": args.limit, "date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
                   **env}
            print(json.dumps(row), flush=True)
            with RESULTS.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            if mode == "default" and status == "over_limit" and "one_epoch" not in modes:
                modes.append("one_epoch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
