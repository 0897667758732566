"""Grad-CAM speed: the fast fused engine vs Captum's LayerGradCam, side by side in one process.

Run: ``python benchmarks/bench_gradcam.py [--batch 256] [--repeats 5] [--models small_cnn resnet1d_wang resnet18_2d]``

For each backbone: a batch (B, 12, 1000) of random ECGs, random targets, eval mode, ``relu=False``.
Four ways to get the maps are timed ``repeats`` times after one warm-up call each, alternating so all
see the same machine load; the median wall time gives throughput (samples/s), and the speed-up is
also given per round (Captum's time over the fast engine's in the same round, min-max over rounds):

* ``fast``: ``gradcam(model, x, t)``, the kit's engine as it runs by default (on the CPU: micro-batches
  of ``CPU_CHUNK`` samples, :mod:`erts_kit.models.inference`);
* ``fast, whole batch``: the same engine with ``chunk=None`` (one pass over all B samples);
* ``captum``: ``LayerGradCam(...).attribute`` on the whole batch, the reference (the goal: fast >= 2x);
* ``captum in slices``: Captum called on ``CPU_CHUNK``-sample slices by the caller, to show how much of
  the gain is the micro-batching alone (a caller can do that with Captum too; the kit does it for you).

A third table splits the fast engine into its trunk (no autograd) and its head (forward + backward to
the layer, which Captum pays too): Captum's time over the head's is the most any trunk trick could give.
``--memory`` adds the peak resident memory of one call of each way, each in a fresh process (``ru_maxrss``
after the call minus before it, model and batch already built).
``--sweep 8 16 32 64`` adds a table of the fast engine's time per micro-batch size (how ``CPU_CHUNK`` was
chosen). Also prints the largest absolute difference between the fast engine's and Captum's maps, and the minor
page faults per call (``resource.getrusage``), the memory cost a whole-batch pass pays.

A second table times what an ERTS training step needs, p_true AND the map of every sample: the
reference code's way (a no-grad scoring forward of the whole batch, then Captum: two trunk forwards)
against the kit's shared pass ``gradcam_and_logits`` (one trunk forward).
"""
from __future__ import annotations

import argparse
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from erts_kit.explain import gradcam, gradcam_and_logits
from erts_kit.models import build_model
from erts_kit.models.inference import CPU_CHUNK


def _captum_in_slices(model, x, t, size: int) -> torch.Tensor:
    return torch.cat([gradcam(model, x[i:i + size], t[i:i + size], engine="captum", relu=False)
                      for i in range(0, len(x), size)])


def _timed(fn) -> tuple[float, int]:
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults


def bench(name: str, batch: int, n_leads: int, T: int, repeats: int, seed: int) -> dict:
    torch.manual_seed(seed)
    model = build_model(name, n_leads=n_leads, n_classes=5).eval()
    x = torch.randn(batch, n_leads, T)
    t = torch.randint(0, 5, (batch,))
    ways = {
        "fast": lambda: gradcam(model, x, t, relu=False),
        "fast_whole": lambda: gradcam(model, x, t, relu=False, chunk=None),
        "captum": lambda: gradcam(model, x, t, engine="captum", relu=False),
        "captum_slices": lambda: _captum_in_slices(model, x, t, CPU_CHUNK),
    }
    maps = {k: fn() for k, fn in ways.items()}  # warm-up + correctness
    laps: dict[str, list[float]] = {k: [] for k in ways}
    faults: dict[str, list[int]] = {k: [] for k in ways}
    for _ in range(repeats):
        for k, fn in ways.items():
            sec, flt = _timed(fn)
            laps[k].append(sec)
            faults[k].append(flt)

    def separate() -> None:  # the reference code's way: a whole-batch scoring forward, then Captum
        with torch.no_grad():
            model(x).softmax(1)
        gradcam(model, x, t, engine="captum", relu=False)

    def shared() -> None:
        gradcam_and_logits(model, x, t)[1].softmax(1)

    loop: dict[str, list[float]] = {"separate": [], "shared": []}
    for _ in range(repeats):
        for key, fn in (("separate", separate), ("shared", shared)):
            loop[key].append(_timed(fn)[0])
    med = {k: statistics.median(v) for k, v in laps.items()}
    sep, sha = statistics.median(loop["separate"]), statistics.median(loop["shared"])
    return {"model": name, "sec": med, "sps": {k: batch / v for k, v in med.items()},
            "faults": {k: int(statistics.median(v)) for k, v in faults.items()},
            "ratio": med["captum"] / med["fast"],
            "round_ratios": [c / f for c, f in zip(laps["captum"], laps["fast"])],
            "max_abs_diff": max(float((maps[k] - maps["captum"]).abs().max()) for k in ("fast", "fast_whole")),
            "separate_s": sep, "shared_s": sha, "loop_ratio": sep / sha}


def halves(name: str, batch: int, n_leads: int, T: int, repeats: int, seed: int) -> tuple[float, float]:
    """Median seconds of the fast engine's two halves over ``CPU_CHUNK``-sample slices: the trunk without
    autograd, and the head forward + backward to the layer (what Captum must pay as well)."""
    torch.manual_seed(seed)
    model = build_model(name, n_leads=n_leads, n_classes=5).eval()
    x, t = torch.randn(batch, n_leads, T), torch.randint(0, 5, (batch,))
    slices = [slice(i, i + CPU_CHUNK) for i in range(0, batch, CPU_CHUNK)]
    with torch.no_grad():
        acts = [model.forward_features(x[s]) for s in slices]

    def trunk() -> None:
        with torch.no_grad():
            for s in slices:
                model.forward_features(x[s])

    def head() -> None:
        for s, a in zip(slices, acts):
            a = a.detach().requires_grad_()
            torch.autograd.grad(model.forward_head(a).gather(1, t[s, None]).sum(), a)

    trunk(), head()  # warm-up
    laps: dict[str, list[float]] = {"trunk": [], "head": []}
    for _ in range(repeats):
        laps["trunk"].append(_timed(trunk)[0])
        laps["head"].append(_timed(head)[0])
    return statistics.median(laps["trunk"]), statistics.median(laps["head"])


_WAYS = ("fast", "fast_whole", "captum", "captum_slices")


def _one_way_peak(name: str, way: str, batch: int, n_leads: int, T: int, seed: int, threads: int) -> None:
    """Child process: build the model and batch, run one way once, print the peak RSS it added (MiB)."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = build_model(name, n_leads=n_leads, n_classes=5).eval()
    x, t = torch.randn(batch, n_leads, T), torch.randint(0, 5, (batch,))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if way == "captum_slices":
        _captum_in_slices(model, x, t, CPU_CHUNK)
    else:
        gradcam(model, x, t, relu=False, engine="captum" if way == "captum" else "fast",
                chunk=None if way == "fast_whole" else "auto")
    print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)


def peak_memory(name: str, batch: int, n_leads: int, T: int, seed: int, threads: int) -> dict[str, float]:
    """Peak RSS (MiB) one call of each way adds, each way in a fresh Python process."""
    out = {}
    for way in _WAYS:
        code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_gradcam as b; "
                f"b._one_way_peak({name!r}, {way!r}, {batch}, {n_leads}, {T}, {seed}, {threads})")
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        out[way] = float(res.stdout.strip().splitlines()[-1])
    return out


def sweep(name: str, batch: int, n_leads: int, T: int, repeats: int, seed: int, sizes: list[int]) -> dict[int, float]:
    """Median seconds of the fast engine per micro-batch size (same model and batch for every size)."""
    torch.manual_seed(seed)
    model = build_model(name, n_leads=n_leads, n_classes=5).eval()
    x, t = torch.randn(batch, n_leads, T), torch.randint(0, 5, (batch,))
    laps: dict[int, list[float]] = {s: [] for s in sizes}
    for size in sizes:
        gradcam(model, x, t, relu=False, chunk=size)  # warm-up
    for _ in range(repeats):
        for size in sizes:
            laps[size].append(_timed(lambda s=size: gradcam(model, x, t, relu=False, chunk=s))[0])
    return {size: statistics.median(v) for size, v in laps.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--leads", type=int, default=12)
    p.add_argument("--timesteps", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models", nargs="+", default=["small_cnn", "resnet1d_wang", "resnet18_2d"])
    p.add_argument("--memory", action="store_true", help="also measure each way's peak memory (fresh processes)")
    p.add_argument("--only-memory", action="store_true", help="measure peak memory only (no timings)")
    p.add_argument("--sweep", nargs="*", type=int, default=[], help="micro-batch sizes to time the fast engine at")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {platform.machine()}, {torch.get_num_threads()} threads, "
          f"batch {a.batch} x {a.leads} x {a.timesteps}, median of {a.repeats}, seed {a.seed}, "
          f"CPU micro-batch {CPU_CHUNK}\n")
    if not a.only_memory:
        print("| model | fast (s) | captum (s) | fast (samples/s) | captum (samples/s) | speed-up | max abs diff |"
              " per-round speed-up (min-max) | fast, whole batch (s) | captum in slices (s) |"
              " page faults fast / whole / captum |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        rows = []
        for name in a.models:
            r = bench(name, a.batch, a.leads, a.timesteps, a.repeats, a.seed)
            rows.append(r)
            sec, sps, flt = r["sec"], r["sps"], r["faults"]
            print(f"| {r['model']} | {sec['fast']:.3f} | {sec['captum']:.3f} | {sps['fast']:.0f} | {sps['captum']:.0f} | "
                  f"**{r['ratio']:.2f}x** | {r['max_abs_diff']:.1e} | {min(r['round_ratios']):.2f}-{max(r['round_ratios']):.2f}x | "
                  f"{sec['fast_whole']:.3f} | {sec['captum_slices']:.3f} | "
                  f"{flt['fast']} / {flt['fast_whole']} / {flt['captum']} |", flush=True)
        print("\nWhat an ERTS step needs (p_true + map of every sample):\n")
        print("| model | scoring forward + Captum (s) | shared pass (s) | speed-up |")
        print("|---|---|---|---|")
        for r in rows:
            print(f"| {r['model']} | {r['separate_s']:.3f} | {r['shared_s']:.3f} | {r['loop_ratio']:.2f}x |")
        print("\nThe fast engine's two halves (16-sample slices): trunk without autograd, head forward + backward:\n")
        print("| model | trunk (s) | head fwd + bwd (s) | head share | best possible speed-up vs this Captum time |")
        print("|---|---|---|---|---|")
        for r in rows:
            trunk, head = halves(r["model"], a.batch, a.leads, a.timesteps, a.repeats, a.seed)
            print(f"| {r['model']} | {trunk:.3f} | {head:.3f} | {head / (trunk + head):.0%} | "
                  f"{r['sec']['captum'] / head:.1f}x (a free trunk) |", flush=True)
    if a.memory or a.only_memory:
        print("\nPeak memory one call adds (MiB, fresh process each):\n")
        print("| model | fast | fast, whole batch | captum | captum in slices |")
        print("|---|---|---|---|---|")
        for name in a.models:
            mib = peak_memory(name, a.batch, a.leads, a.timesteps, a.seed, a.threads)
            print(f"| {name} | " + " | ".join(f"{mib[w]:.0f}" for w in _WAYS) + " |", flush=True)
    if a.sweep:
        print("\nFast engine, seconds per batch by micro-batch size (`chunk=`):\n")
        print("| model | " + " | ".join(str(s) for s in a.sweep) + " |")
        print("|---|" + "---|" * len(a.sweep))
        for name in a.models:
            sec = sweep(name, a.batch, a.leads, a.timesteps, a.repeats, a.seed, a.sweep)
            print(f"| {name} | " + " | ".join(f"{sec[s]:.3f}" for s in a.sweep) + " |", flush=True)


if __name__ == "__main__":
    main()
