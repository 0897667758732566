"""GPU check: runs the kit's CUDA path end to end on one CUDA device and writes benchmarks/results/gpu.md.

The CUDA path (autocast + GradScaler, pinned memory, fp16 scoring, the Grad-CAM engines on the GPU)
cannot run on the CPU dev machine. This script exercises all of it in one go, within a time budget
(``--budget-s``, default 450 s: under 8 minutes with the start-up), each step timed on its own:

1. environment: torch / CUDA versions, the device, its memory;
2. the GPU-marked tests: ``pytest -m gpu`` (a subprocess; passes, failures and skips counted);
3. AMP vs fp32 training: the same seed, data and model, ``TrainConfig(amp=True)`` vs ``amp=False``,
   policy xai_dbpd with its filter active; per-epoch training loss, validation loss and macro-F1 of
   both, the largest gaps, and whether the curves are close (``--amp-tol``);
4. notebook 06 (ERTS) on the GPU with papermill (``SMOKE=False``, ``DEVICE="cuda"``, the notebook's
   default data, ``--nb-epochs`` epochs);
5. the Grad-CAM engines on the GPU: the fast engine vs Captum, batch 256 x 12 x 1000, median of 5
   (CUDA-synchronised), and their largest map difference;
6. the Full / DBPD / ERTS epoch-cost ratios on the GPU (``bench_epoch_cost.py --device cuda``).

A step that fails is recorded (with its error) and the others still run; the exit code is 1 when a
step failed. Without a CUDA device the script prints why and exits 0 having run and written nothing.

Run: ``python benchmarks/gpu_check.py [--budget-s 450] [--out benchmarks/results/gpu.md]``

``--dry-run-cpu --out /tmp/x.md`` runs every step on the CPU with tiny sizes (about 2 minutes): it checks the
script's own code paths where there is no GPU and measures nothing.
"""
from __future__ import annotations

import argparse
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
NO_CUDA = "gpu_check: no CUDA device here (torch.cuda.is_available() is False"
DEV = {"device": "cuda"}   # "cpu" only with --dry-run-cpu (checks the script's code paths, measures nothing)


def no_cuda_message() -> str:
    built = torch.version.cuda or "none (a CPU-only build)"
    return (f"{NO_CUDA}; torch {torch.__version__}, CUDA build: {built}). Nothing was run and "
            "benchmarks/results/gpu.md was not touched. Run this script on a machine with one CUDA GPU "
            "(and a CUDA build of torch).")


class Report:
    """Markdown sections, timed steps, and the budget left."""

    def __init__(self, budget_s: float) -> None:
        self.t0 = time.perf_counter()
        self.budget_s = budget_s
        self.parts: list[str] = []
        self.failed: list[str] = []

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.t0)

    def step(self, title: str, fn, min_s: float = 20.0) -> None:
        print(f"[{time.perf_counter() - self.t0:6.0f} s] {title} ...", flush=True)
        if self.left() < min_s:
            self.parts.append(f"## {title}\n\nSkipped: {self.left():.0f} s of the {self.budget_s:.0f}-s budget left.")
            return
        t = time.perf_counter()
        try:
            body = fn()
        except Exception:  # noqa: BLE001 - a failed step is recorded, the others still run
            self.failed.append(title)
            body = "**FAILED**\n\n```\n" + traceback.format_exc()[-3000:] + "```"
        self.parts.append(f"## {title}\n\n{body}\n\n({time.perf_counter() - t:.1f} s)")


def _sync() -> None:
    if DEV["device"] == "cuda":
        torch.cuda.synchronize()


def environment() -> str:
    if DEV["device"] != "cuda":
        return f"- dry run on the CPU (--dry-run-cpu): torch {torch.__version__}; no number here means anything"
    p = torch.cuda.get_device_properties(0)
    return "\n".join([
        (f"- device: {torch.cuda.get_device_name(0)} ({p.total_memory / 2**30:.0f} GiB), "
         f"{torch.cuda.device_count()} CUDA device(s) visible"),
        f"- torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}",
        f"- Python {platform.python_version()}, {platform.machine()}",
    ])


def gpu_tests(timeout: float) -> str:
    res = subprocess.run([sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", "tests"],
                         cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)
    tail = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else "(no output)"
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|error|errors)", tail)}
    body = f"`pytest -m gpu tests`: {tail}"
    if res.returncode != 0 or counts.get("failed") or counts.get("errors") or counts.get("error"):
        raise RuntimeError(f"{body}\n{res.stdout[-3000:]}\n{res.stderr[-1500:]}")
    if not counts.get("passed") and DEV["device"] == "cuda":
        raise RuntimeError(f"{body}: no GPU test ran (all skipped?)")
    return body


def amp_vs_fp32(epochs: int, n_samples: int, model_name: str, tol: float) -> str:
    # the kit is imported in the steps, after the CUDA check: the no-CUDA exit stays quick
    import pandas as pd

    from erts_kit.data import load_dataset
    from erts_kit.models import build_model
    from erts_kit.results import markdown_table
    from erts_kit.selection import make_policy
    from erts_kit.training import TrainConfig, train

    data = load_dataset("synthetic", n_samples=n_samples, seed=42, label_flip_rate=0.1, artifact_rate=0.1)
    runs = {}
    for amp in (False, True):
        torch.manual_seed(42)
        model = build_model(model_name, data.n_leads, data.n_classes)
        cfg = TrainConfig(epochs=epochs, batch_size=32, lr=1e-3, device=DEV["device"], amp=amp, seed=42)
        policy = make_policy("xai_dbpd", seed=42, warm_up=1, cam_start=1)
        _sync()
        t = time.perf_counter()
        res = train(model, data, policy, cfg, progress=False)
        _sync()
        runs["amp" if amp else "fp32"] = (res.history, time.perf_counter() - t)
    h32, h16 = runs["fp32"][0], runs["amp"][0]
    table = pd.DataFrame({"epoch": h32["epoch"], "train loss fp32": h32["train_loss"], "train loss AMP": h16["train_loss"],
                          "val loss fp32": h32["val_loss"], "val loss AMP": h16["val_loss"],
                          "val macro-F1 fp32": h32["val_macro_f1"], "val macro-F1 AMP": h16["val_macro_f1"],
                          "kept fp32": h32["kept_frac"], "kept AMP": h16["kept_frac"]})
    gap_loss = float((h32["train_loss"] - h16["train_loss"]).abs().max())
    gap_val = float((h32["val_loss"] - h16["val_loss"]).abs().max())
    gap_f1 = float((h32["val_macro_f1"] - h16["val_macro_f1"]).abs().max())
    rel = gap_loss / max(float(h32["train_loss"].abs().max()), 1e-12)
    close = rel <= tol and gap_f1 <= 0.1
    text = (f"synthetic {data.n_samples} x {data.n_leads} x {data.n_timesteps}, {model_name}, xai_dbpd (warm-up 1, "
            f"cam_start 1), {epochs} epochs, batch 32, AdamW 1e-3, seed 42 for both runs.\n\n"
            f"{markdown_table(table, digits=4)}\n\n"
            f"- wall time: fp32 {runs['fp32'][1]:.1f} s, AMP {runs['amp'][1]:.1f} s "
            f"(AMP/fp32 {runs['amp'][1] / runs['fp32'][1]:.2f}x)\n"
            f"- largest gaps: train loss {gap_loss:.4f} ({rel:.1%} of the largest loss), val loss {gap_val:.4f}, "
            f"val macro-F1 {gap_f1:.3f}\n- curves close (train-loss gap <= {tol:.0%} and F1 gap <= 0.1): **{close}**")
    if not close:
        raise RuntimeError(text)
    return text


def notebook_06(epochs: int, timeout: float, extra: dict | None = None) -> str:
    from erts_kit.course.runner import run_notebooks

    out = Path(tempfile.mkdtemp(prefix="erts_gpu_nb_"))
    params = {"DEVICE": DEV["device"], "EPOCHS": epochs, **(extra or {})}
    t = time.perf_counter()
    df = run_notebooks(REPO / "notebooks", parameters=params, output_dir=out, smoke=False, names=["06"],
                       progress=False, timeout=timeout)
    row = df.iloc[0]
    return (f"`notebooks/06_erts.ipynb`, papermill, SMOKE=False, parameters {params} (the notebook's default "
            f"synthetic set): **{row['status']}** in {time.perf_counter() - t:.0f} s; executed copy {out}.")


def gradcam_engines(models: list[str], batch: int, repeats: int) -> str:
    from erts_kit.explain import gradcam
    from erts_kit.models import build_model

    lines = ["| model | fast (s) | captum (s) | speed-up | fast (samples/s) | max abs diff |", "|---|---|---|---|---|---|"]
    for name in models:
        torch.manual_seed(42)
        model = build_model(name, n_leads=12, n_classes=5).to(DEV["device"]).eval()
        x = torch.randn(batch, 12, 1000, device=DEV["device"])
        t = torch.randint(0, 5, (batch,), device=DEV["device"])
        ways = {"fast": lambda: gradcam(model, x, t, relu=False), "captum": lambda: gradcam(model, x, t, engine="captum", relu=False)}
        maps = {k: fn() for k, fn in ways.items()}   # warm-up (cuDNN autotune) + correctness
        laps: dict[str, list[float]] = {k: [] for k in ways}
        for _ in range(repeats):
            for k, fn in ways.items():
                _sync()
                t0 = time.perf_counter()
                fn()
                _sync()
                laps[k].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in laps.items()}
        diff = float((maps["fast"] - maps["captum"]).abs().max())
        lines.append(f"| {name} | {med['fast']:.4f} | {med['captum']:.4f} | {med['captum'] / med['fast']:.2f}x | "
                     f"{batch / med['fast']:.0f} | {diff:.1e} |")
    return f"batch {batch} x 12 x 1000, random inputs and targets, eval mode, relu=False, median of {repeats}.\n\n" + "\n".join(lines)


def epoch_cost(model: str, n_samples: int, reps: int, timeout: float, extra: tuple[str, ...] = ()) -> str:
    cmd = [sys.executable, str(REPO / "benchmarks" / "bench_epoch_cost.py"), "--device", DEV["device"], "--model",
           model, "--n-samples", str(n_samples), "--reps", str(reps), "--pretrain", "1", *extra]
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:])} failed:\n{res.stderr[-3000:]}")
    table = "\n".join(line for line in res.stdout.splitlines() if line.startswith("|") or "ERTS/DBPD" in line)
    return f"`python benchmarks/bench_epoch_cost.py {' '.join(cmd[2:])}`\n\n{table}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--budget-s", type=float, default=450.0, help="seconds for all steps together")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "gpu.md"), help="results file")
    ap.add_argument("--amp-epochs", type=int, default=6, help="epochs of each AMP / fp32 run")
    ap.add_argument("--amp-samples", type=int, default=2000, help="synthetic records of the AMP / fp32 runs")
    ap.add_argument("--amp-model", default="resnet18_2d", help="backbone of the AMP / fp32 runs")
    ap.add_argument("--amp-tol", type=float, default=0.05, help="largest train-loss gap, relative to the largest loss")
    ap.add_argument("--nb-epochs", type=int, default=8, help="EPOCHS of notebook 06")
    ap.add_argument("--gradcam-models", nargs="+", default=["small_cnn", "resnet1d_wang", "resnet18_2d"])
    ap.add_argument("--cost-model", default="resnet18_2d", help="backbone of the epoch-cost ratios")
    ap.add_argument("--dry-run-cpu", action="store_true",
                    help="run every step on the CPU with tiny sizes, to check the script itself (measures nothing; "
                         "writes to --out, give it a scratch path)")
    args = ap.parse_args(argv)
    dry = args.dry_run_cpu
    if not torch.cuda.is_available() and not dry:
        print(no_cuda_message())
        return 0
    DEV["device"] = "cpu" if dry else "cuda"
    torch.backends.cudnn.benchmark = True
    rep = Report(args.budget_s)
    rep.step("Environment", environment, min_s=0)
    rep.step("GPU-marked tests", lambda: gpu_tests(timeout=max(rep.left() - 300, 30)))
    rep.step("AMP vs fp32 training, same seed", lambda: amp_vs_fp32(
        2 if dry else args.amp_epochs, 150 if dry else args.amp_samples, "small_cnn" if dry else args.amp_model,
        args.amp_tol))
    rep.step("Notebook 06 on the GPU", lambda: notebook_06(
        1 if dry else args.nb_epochs, timeout=int(max(rep.left() - 90, 30)),
        extra={"N_SAMPLES": 150, "DURATION_S": 5, "COMPARE": ["dbpd", "xai_dbpd"]} if dry else None), min_s=60)
    rep.step("Grad-CAM engines on the GPU", lambda: gradcam_engines(
        ["small_cnn"] if dry else args.gradcam_models, 8 if dry else 256, 1 if dry else 5))
    rep.step("Epoch cost Full / DBPD / ERTS on the GPU", lambda: epoch_cost(
        "small_cnn" if dry else args.cost_model, 120 if dry else 2000, 1 if dry else 3, timeout=max(rep.left(), 30),
        extra=("--duration", "3") if dry else ()), min_s=40)
    total = time.perf_counter() - rep.t0
    head = (f"# GPU check (`benchmarks/gpu_check.py`)\n\nCommand: `python benchmarks/gpu_check.py "
            f"{' '.join(argv if argv is not None else sys.argv[1:])}`; all steps {total:.0f} s "
            f"(budget {args.budget_s:.0f} s); {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
            f"Failed steps: {', '.join(rep.failed) or 'none'}.")
    Path(args.out).write_text("\n\n".join([head, *rep.parts]) + "\n")
    print(f"wrote {args.out} ({total:.0f} s); failed steps: {', '.join(rep.failed) or 'none'}")
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
