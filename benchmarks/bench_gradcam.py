"""Grad-CAM speed: the fast fused engine vs Captum's LayerGradCam, side by side in one process.

Run: ``python benchmarks/bench_gradcam.py [--batch 256] [--repeats 3] [--models small_cnn resnet1d_wang resnet18_2d]``

For each backbone: a batch (B, 12, 1000) of random ECGs, true-class targets, eval mode; each engine
is timed ``repeats`` times after one warm-up call, alternating engines so both see the same machine
load; the median wall time gives throughput (samples/s). Also prints the largest absolute difference
between the two engines' maps. Prints a Markdown table.

A second table times what an ERTS training step needs, p_true AND the map of every sample: a no-grad
scoring forward plus Captum (two trunk forwards, the reference code's way) against the kit's shared
pass ``gradcam_and_logits`` (one trunk forward).
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from erts_kit.explain import gradcam, gradcam_and_logits
from erts_kit.models import build_model


def bench(name: str, batch: int, n_leads: int, T: int, repeats: int, seed: int) -> dict:
    torch.manual_seed(seed)
    model = build_model(name, n_leads=n_leads, n_classes=5).eval()
    x = torch.randn(batch, n_leads, T)
    t = torch.randint(0, 5, (batch,))
    times: dict[str, list[float]] = {"fast": [], "captum": []}
    maps = {e: gradcam(model, x, t, engine=e, relu=False) for e in times}  # warm-up + correctness
    for _ in range(repeats):
        for engine, laps in times.items():
            t0 = time.perf_counter()
            gradcam(model, x, t, engine=engine, relu=False)
            laps.append(time.perf_counter() - t0)
    def separate() -> None:  # the reference code's way: a scoring forward, then Captum
        with torch.no_grad():
            model(x).softmax(1)
        gradcam(model, x, t, engine="captum", relu=False)

    def shared() -> None:
        gradcam_and_logits(model, x, t)[1].softmax(1)

    loop: dict[str, list[float]] = {"separate": [], "shared": []}
    for _ in range(repeats):
        for key, fn in (("separate", separate), ("shared", shared)):
            t0 = time.perf_counter()
            fn()
            loop[key].append(time.perf_counter() - t0)
    fast, cap = statistics.median(times["fast"]), statistics.median(times["captum"])
    sep, sha = statistics.median(loop["separate"]), statistics.median(loop["shared"])
    return {"model": name, "fast_s": fast, "captum_s": cap, "fast_sps": batch / fast, "captum_sps": batch / cap,
            "ratio": cap / fast, "max_abs_diff": float((maps["fast"] - maps["captum"]).abs().max()),
            "separate_s": sep, "shared_s": sha, "loop_ratio": sep / sha}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--leads", type=int, default=12)
    p.add_argument("--timesteps", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models", nargs="+", default=["small_cnn", "resnet1d_wang", "resnet18_2d"])
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {platform.machine()}, {torch.get_num_threads()} threads, "
          f"batch {a.batch} x {a.leads} x {a.timesteps}, median of {a.repeats}, seed {a.seed}\n")
    print("| model | fast (s) | captum (s) | fast (samples/s) | captum (samples/s) | speed-up | max abs diff |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for name in a.models:
        r = bench(name, a.batch, a.leads, a.timesteps, a.repeats, a.seed)
        rows.append(r)
        print(f"| {r['model']} | {r['fast_s']:.3f} | {r['captum_s']:.3f} | {r['fast_sps']:.0f} | "
              f"{r['captum_sps']:.0f} | {r['ratio']:.2f}x | {r['max_abs_diff']:.1e} |", flush=True)
    print("\nWhat an ERTS step needs (p_true + map of every sample):\n")
    print("| model | scoring forward + Captum (s) | shared pass (s) | speed-up |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['separate_s']:.3f} | {r['shared_s']:.3f} | {r['loop_ratio']:.2f}x |")


if __name__ == "__main__":
    main()
