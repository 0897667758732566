"""Runtime guide: wall-clock time of each notebook of the series, smoke and default, on this machine.

For each notebook (one at a time, each run under ``flock /tmp/erts-bench.lock`` so no two timing
runs overlap on a shared machine), in a fresh papermill kernel through ``run_notebooks``:

1. ``smoke``: ``SMOKE=True``.
2. ``default``: ``SMOKE=False`` with a wall-clock limit (``--limit``, 600 s). A run that passes the
   limit is killed and replaced by
3. ``one_epoch``: the default settings with ``EPOCHS=1`` (and ``EARLY_EPOCHS=1`` where the notebook has
   it; ``WARM_UP=0, CAM_START=0`` where it has an ERTS schedule, which must reach its filter, so that one
   epoch is a filter epoch with Grad-CAM, dearer than a warm-up epoch); the default time is then
   *extrapolated* as ``EPOCHS_default x one_epoch`` (setup counted once per epoch: an over-estimate;
   stated as extrapolated wherever it is quoted).

Run: ``python benchmarks/notebook_times.py [names...] [--modes smoke default] [--limit 600]``.
Appends one JSON line per run to ``benchmarks/results/notebook_times.jsonl`` (machine, torch, threads, load).
``--write`` puts the latest measured times into ``notebooks/README.md`` (the series table) and into the
``**Runtime**`` line of each source's title cell (then rebuild: ``python notebooks/_src/build.py``).
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import re
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
    ap.add_argument("--write", action="store_true", help="only write the measured times into README and sources")
    args = ap.parse_args(argv)
    if args.write:
        return write_times()
    sys.path.insert(0, str(REPO))
    import torch

    from erts_kit.course.nbparams import notebook_parameter_names
    from erts_kit.course.runner import find_notebooks
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
                names = notebook_parameter_names(path)
                if "EARLY_EPOCHS" in names:
                    params["EARLY_EPOCHS"] = 1
                if "CAM_START" in names:   # an ERTS schedule must reach its filter: the epoch is a filter epoch
                    params.update(WARM_UP=0, CAM_START=0)
            status, seconds = _time_one(path, params, mode == "smoke", args.limit)
            row = {"notebook": path.stem, "mode": mode, "status": status, "seconds": round(seconds, 1),
                   "load_avg_1min_after": round(os.getloadavg()[0], 1),
                   "params": params, "limit_s": args.limit, "date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
                   **env}
            print(json.dumps(row), flush=True)
            with RESULTS.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            if mode == "default" and status == "over_limit" and "one_epoch" not in modes:
                modes.append("one_epoch")
    return 0


def _fmt(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _default_epochs(src_text: str) -> int | None:
    m = re.search(r"^EPOCHS = \((\d+) if SMOKE else (\d+)\)", src_text, flags=re.M)
    return int(m.group(2)) if m else None


def runtime_texts() -> dict[str, tuple[str, str]]:
    """Per notebook: (smoke, default) time texts from the latest rows of the results file."""
    latest: dict[tuple[str, str], dict] = {}
    for line in RESULTS.read_text().splitlines():
        row = json.loads(line)
        if row["status"] == "ok":
            latest[(row["notebook"], row["mode"])] = row
    out = {}
    for stem in sorted({k[0] for k in latest}):
        smoke = latest.get((stem, "smoke"))
        default, one = latest.get((stem, "default")), latest.get((stem, "one_epoch"))
        src = REPO / "notebooks" / "_src" / f"{stem}.py"
        epochs = _default_epochs(src.read_text()) if src.is_file() else None
        if default:
            dtext = _fmt(default["seconds"])
        elif one and epochs:
            dtext = f"≈ {_fmt(epochs * one['seconds'])} (extrapolated: {epochs} x a 1-epoch run of {_fmt(one['seconds'])})"
        else:
            dtext = "not measured"
        out[stem] = (_fmt(smoke["seconds"]) if smoke else "not measured", dtext)
    return out


def write_times() -> int:
    from erts_kit.course.notebook_build import notebook_to_source, source_to_notebook

    texts = runtime_texts()
    readme = REPO / "notebooks" / "README.md"
    table = readme.read_text()
    for stem, (smoke, default) in texts.items():
        table = re.sub(rf"^(\| `{stem}\.ipynb` \|.*\|.*\| )[^|]*\|[^|]*\|$",
                       lambda m: f"{m.group(1)}{smoke} | {default} |", table, flags=re.M)
        src = REPO / "notebooks" / "_src" / f"{stem}.py"
        if not src.is_file():
            continue
        nb = source_to_notebook(src.read_text(), stem)
        line = (f"**Runtime** on a 2-core CPU (shared machine, so upper bounds): smoke {smoke}; default {default}. "
                "On Colab choose a GPU runtime for the default settings. Details: notebooks/README.md, runtime guide.")
        title = nb.cells[0].source
        if re.search(r"^\*\*Runtime\*\*.*$", title, flags=re.M):
            title = re.sub(r"^\*\*Runtime\*\*.*$", line, title, count=1, flags=re.M)
        else:   # under the badge (or the title)
            lines = title.split("\n")
            at = next((i for i, ln in enumerate(lines) if "colab-badge" in ln), 0) + 1
            title = "\n".join(lines[:at] + ["", line] + lines[at:])
        nb.cells[0].source = title
        src.write_text(notebook_to_source(nb))
        print(f"{stem}: smoke {smoke}; default {default}")
    readme.write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
