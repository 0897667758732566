"""Training speed of every backbone: seconds per epoch of 5,000 ECGs (12 x 1000), batch 32, AdamW.

Run: ``python benchmarks/bench_models.py [--steps 10] [--warmup 2] [--threads 1] [--models small_cnn ...]
[--device cpu] [--out benchmarks/results/models.md]``

For each backbone (12 leads, 5 classes, seed 42): a training step = forward + cross-entropy +
backward + AdamW step (lr 3e-4, weight decay 0.01) in train mode on a batch of 32 synthetic ECGs
(``make_synthetic``, 100 Hz x 10 s; random tensors if the generator is missing). ``warmup`` steps are
run untimed, then ``steps`` steps are timed one by one. An epoch is NOT run: seconds per epoch are
the median step time x 5000 / 32, i.e. an extrapolation, said so in the table. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

from erts_kit.models import build_model, list_models, model_info

EPOCH_SAMPLES = 5000


def make_batches(n_batches: int, batch: int, seed: int) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], str]:
    """``n_batches`` (x (batch, 12, 1000), y (batch,)) pairs and a word on where they came from."""
    n = n_batches * batch
    try:
        from erts_kit.data.synthetic import make_synthetic
        data = make_synthetic(n_samples=n, n_leads=12, fs=100, duration_s=10.0, seed=seed)
        x = torch.as_tensor(data.signals[:n], dtype=torch.float32)
        y = torch.as_tensor(data.labels[:n]) % 5  # the 5-class heads of the table
        source = "make_synthetic(12 leads, 100 Hz, 10 s)"
    except ImportError:
        g = torch.Generator().manual_seed(seed)
        x, y = torch.randn(n, 12, 1000, generator=g), torch.randint(0, 5, (n,), generator=g)
        source = "random tensors (synthetic generator not available)"
    return [(x[i:i + batch], y[i:i + batch].long()) for i in range(0, n, batch)], source


def bench(name: str, batches: list, warmup: int, device: torch.device, seed: int) -> dict:
    torch.manual_seed(seed)
    model = build_model(name, n_leads=12, n_classes=5).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01)
    loss_fn = nn.CrossEntropyLoss()
    laps = []
    for i, (x, y) in enumerate(batches):
        x, y = x.to(device), y.to(device)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            laps.append(time.perf_counter() - t0)
    info = model_info(model, n_timesteps=1000)
    step = statistics.median(laps)
    batch = batches[0][0].shape[0]
    return {"model": name, "params": info["params"], "cam_layer": info["cam_layer"], "cam_shape": info["cam_shape"],
            "step_s": step, "min_s": min(laps), "max_s": max(laps), "samples_per_s": batch / step,
            "epoch_s": step * EPOCH_SAMPLES / batch}


def table(rows: list[dict], batch: int) -> str:
    header = ("| model | params | Grad-CAM layer (output C x [H x] W for 12 x 1000) | s/step (median; min-max) "
              f"| samples/s | s/epoch of {EPOCH_SAMPLES} (extrapolated = median step x {EPOCH_SAMPLES}/{batch}) |")
    lines = [header, "|---|---:|---|---:|---:|---:|"]
    for r in rows:
        shape = " x ".join(str(s) for s in r["cam_shape"])
        lines.append(f"| {r['model']} | {r['params']:,} | `{r['cam_layer']}` ({shape}) | {r['step_s']:.3f} "
                     f"({r['min_s']:.3f}-{r['max_s']:.3f}) | {r['samples_per_s']:.0f} | {r['epoch_s']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list_models(), choices=list_models())
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per model")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=None, help="also write the report (Markdown) here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    batches, source = make_batches(args.warmup + args.steps, args.batch, args.seed)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = []
    t0 = time.perf_counter()
    for name in args.models:
        rows.append(bench(name, batches, args.warmup, device, args.seed))
        print(f"{name}: {rows[-1]['step_s']:.3f} s/step", flush=True)
    cpu = f"{os.cpu_count()}-core CPU ({platform.processor() or platform.machine()})"
    hw = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu
    machine = (f"Machine: {hw}, {platform.system()} {platform.release()}; torch {torch.__version__}, "
               f"{torch.get_num_threads()} thread(s); 1-min load average at start {load:.1f}")
    setup = (f"Input: batch {args.batch} of {source}, 12 x 1000; 5 classes; train mode, forward + CE + backward + "
             f"AdamW(lr 3e-4, wd 0.01); seed {args.seed}; {args.warmup} warm-up steps untimed, {args.steps} timed "
             "steps per model. Seconds per epoch are extrapolated from the median step, not measured over an epoch.")
    report = "\n".join([f"Command: `python benchmarks/bench_models.py {' '.join(sys.argv[1:])}`", machine, setup,
                        "", table(rows, args.batch), "",
                        f"Total benchmark wall time: {time.perf_counter() - t0:.0f} s."])
    print("\n" + report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report + "\n")


if __name__ == "__main__":
    main()
