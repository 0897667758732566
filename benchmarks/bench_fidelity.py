"""Benchmark: what ``fidelity="reference"`` changes, per departure on fixed weights and in training.

Run: ``python benchmarks/bench_fidelity.py`` (``--smoke`` for a seconds-long check). Two parts, one Markdown
report on stdout:

1. **Same weights** (``--models``, batch ``--batch`` x 12 x ``--timesteps`` of the synthetic benchmark, weights
   of a fresh model whose BatchNorm statistics saw one train-mode forward): switch one departure at a time
   from the reference preset back to the kit's choice and report the largest focus difference and how many of
   the samples XAI-DBPD keeps change (all samples are DBPD candidates at this init; top-phi = 0.7 and the
   class-aware rescue, on the same candidates). Rows: lead padding, ReLU order, train-mode scoring (p_true),
   and all of them together (the kit's default against the reference).
2. **Training** (synthetic benchmark, ``--model``, policies dbpd and xai_dbpd, ``--seeds``): kit vs reference
   mode on the same seeds: test macro-F1, the ERTS filter's precision/recall against the known corrupted
   samples (erts_kit.results.filters), effective epochs and compute-equivalent epochs (the ledger), wall
   seconds. Per policy: mean over seeds of each and the paired difference reference - kit with a 95%
   t-interval.

Threads: ``torch.set_num_threads(--threads)``. Wall seconds depend on the machine's load: run it under
``flock /tmp/erts-bench.lock`` and say whether the machine was shared.
"""
from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats

from erts_kit.data import load_dataset
from erts_kit.explain import focus_score, gradcam
from erts_kit.models import build_model
from erts_kit.models.inference import logits_no_grad
from erts_kit.results import run_grid
from erts_kit.selection.rules import erts_filter
from erts_kit.training import fidelity_model_kwargs

PHI = 0.7


# ----------------------------------------------------------------------------------------------
# part 1: same weights
# ----------------------------------------------------------------------------------------------
def _p_true(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, train_mode: bool, seed: int) -> torch.Tensor:
    state = {k: v.clone() for k, v in model.state_dict().items()}   # the train-mode pass moves BN statistics
    model.train(train_mode)
    torch.manual_seed(seed)
    p = torch.softmax(logits_no_grad(model, x), 1)[torch.arange(len(y)), y]
    model.load_state_dict(state)
    return p


def _focus(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, relu_order: str) -> torch.Tensor:
    return focus_score(gradcam(model.eval(), x, y, relu_order=relu_order), "topk_mean")


def _kept(p: torch.Tensor, f: torch.Tensor, y: torch.Tensor) -> set:
    cand = torch.arange(len(y))
    kept, rescued = erts_filter(cand, p, f, y, PHI)
    return set(kept.tolist()) | set(rescued.tolist())


def same_weights(name: str, x: torch.Tensor, y: torch.Tensor, n_classes: int, seed: int) -> list[dict]:
    torch.manual_seed(seed)
    padded = build_model(name, x.shape[1], n_classes, **fidelity_model_kwargs(name, "reference"))
    with torch.no_grad():
        padded.train()(x)
    plain = build_model(name, x.shape[1], n_classes)
    plain.load_state_dict(padded.state_dict())
    ref = {"p": _p_true(padded, x, y, True, seed), "f": _focus(padded, x, y, "before_mean")}
    variants = {
        "lead padding off (10 zero rows above/below -> none)": (_p_true(plain, x, y, True, seed),
                                                               _focus(plain, x, y, "before_mean")),
        "ReLU order: lead mean, then ReLU": (ref["p"], _focus(padded, x, y, "after_mean")),
        "scoring forward in eval mode (p_true)": (_p_true(padded, x, y, False, seed), ref["f"]),
        "all of them: kit default vs reference": (_p_true(plain, x, y, False, seed), _focus(plain, x, y, "after_mean")),
    }
    kept_ref = _kept(ref["p"], ref["f"], y)
    rows = []
    for what, (p, f) in variants.items():
        kept = _kept(p, f, y)
        rows.append({"model": name, "switched to the kit's choice": what,
                     "max |focus diff|": float((f - ref["f"]).abs().max()),
                     "max |p_true diff|": float((p - ref["p"]).abs().max()),
                     "kept samples that differ": f"{len(kept_ref - kept)} of {len(kept_ref)}"})
    return rows


# ----------------------------------------------------------------------------------------------
# part 2: training
# ----------------------------------------------------------------------------------------------
def training(data, model: str, seeds: list[int], epochs: int, warm_up: int, cam_start: int, out: Path,
             lr: float = 3e-4, batch_size: int = 32) -> pd.DataFrame:
    frames = []
    for fidelity in ("kit", "reference"):
        cfg = {"batch_size": batch_size, "lr": lr, "loss": "cb_ce", "warm_up": warm_up, "cam_start": cam_start,
               "device": "cpu", "fidelity": fidelity}
        df = run_grid(data, ["dbpd", "xai_dbpd"], seeds, model, epochs, out / fidelity, cfg, resume=False,
                      progress=False)
        frames.append(df.assign(fidelity=fidelity))
    return pd.concat(frames, ignore_index=True)


COLS = ["macro_f1", "filter_precision", "filter_recall", "effective_epochs", "compute_equivalent_epochs",
        "wall_seconds"]


def _interval(d: np.ndarray) -> str:
    d = d[np.isfinite(d)]
    if len(d) < 2:
        return "n/a"
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return f"{d.mean():+.3f} [{d.mean() - half:+.3f}, {d.mean() + half:+.3f}]"


def training_tables(df: pd.DataFrame) -> str:
    lines = ["| policy | fidelity | " + " | ".join(COLS) + " |", "|---|---|" + "---:|" * len(COLS)]
    for (pol, fid), g in df.groupby(["policy", "fidelity"], sort=False):
        cells = [f"{pd.to_numeric(g[c], errors='coerce').mean():.3f}" for c in COLS]
        lines.append(f"| {pol} | {fid} | " + " | ".join(cells) + " |")
    lines += ["", "Paired by seed, reference - kit: mean [95% t-interval]", "",
              "| policy | " + " | ".join(COLS) + " |", "|---|" + "---:|" * len(COLS)]
    for pol, g in df.groupby("policy", sort=False):
        k = g[g.fidelity == "kit"].set_index("seed")
        r = g[g.fidelity == "reference"].set_index("seed").loc[k.index]
        cells = [_interval((pd.to_numeric(r[c], errors="coerce") - pd.to_numeric(k[c], errors="coerce")).to_numpy(float))
                 for c in COLS]
        lines.append(f"| {pol} | " + " | ".join(cells) + " |")
    per_seed = df[["policy", "fidelity", "seed", *COLS]].sort_values(["policy", "fidelity", "seed"])
    lines += ["", "Per run:", "", "| " + " | ".join(per_seed.columns) + " |", "|" + "---|" * len(per_seed.columns)]
    for row in per_seed.itertuples(index=False):
        lines.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["resnet18_2d", "mobilenetv2_2d", "efficientnetv2s_2d"],
                    help="part 1 backbones")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--timesteps", type=int, default=1000)
    ap.add_argument("--model", default="resnet18_2d", help="part 2 backbone")
    ap.add_argument("--n-samples", type=int, default=240)
    ap.add_argument("--duration", type=float, default=4.0, help="synthetic record length in s at 100 Hz")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--warm-up", type=int, default=2)
    ap.add_argument("--cam-start", type=int, default=1)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-training", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: checks the script runs")
    args = ap.parse_args()
    if args.smoke:
        args.models, args.batch, args.timesteps, args.model = ["resnet18_2d"], 4, 320, "small_cnn"
        args.n_samples, args.duration, args.epochs, args.warm_up, args.cam_start = 40, 3.2, 2, 1, 0
        args.seeds = [0]
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.machine()} {platform.processor() or ''}, torch {torch.__version__}, "
          f"threads={args.threads}\n")

    data = load_dataset("synthetic", n_samples=max(args.batch * 2, 64), seed=0,
                        duration_s=args.timesteps / 100.0)
    idx = data.splits["train"][:args.batch]
    x, y = torch.as_tensor(data.signals[idx]).float(), torch.as_tensor(data.labels[idx]).long()
    print(f"## Part 1: same weights, batch {tuple(x.shape)} of the synthetic benchmark, seed 0, "
          f"XAI-DBPD top-phi {PHI} + rescue over the whole batch\n")
    rows = []
    for name in args.models:
        t0 = time.perf_counter()
        rows += same_weights(name, x, y, data.n_classes, seed=0)
        print(f"({name}: {time.perf_counter() - t0:.0f} s)")
    part1 = pd.DataFrame(rows)
    print()
    print("| " + " | ".join(part1.columns) + " |")
    print("|" + "---|" * len(part1.columns))
    for r in part1.itertuples(index=False):
        print("| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in r) + " |")

    if args.skip_training:
        return
    data = load_dataset("synthetic", n_samples=args.n_samples, seed=42, duration_s=args.duration)
    print(f"\n## Part 2: training, synthetic {data.n_samples} x {data.n_leads} x {data.n_timesteps} "
          f"({len(data.splits['train'])} train; default corruption), {args.model}, {args.epochs} epochs, warm-up "
          f"{args.warm_up}, filter from epoch {args.warm_up + args.cam_start}, cb_ce, AdamW lr {args.lr}, batch "
          f"{args.batch_size}, seeds {args.seeds}\n")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        df = training(data, args.model, args.seeds, args.epochs, args.warm_up, args.cam_start, Path(tmp), args.lr,
                      args.batch_size)
    print(training_tables(df))
    print(f"\ntraining part: {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
