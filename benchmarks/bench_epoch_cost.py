"""Seconds per epoch of Full, DBPD and ERTS (xai_dbpd, filter active) on the same data and model, one process.

Question: what does one epoch cost under each policy once every pass is timed? Goal from the issue:
an ERTS epoch costs at most 15% more than a DBPD epoch.

Method: one synthetic set, one model pre-trained for ``--pretrain`` full-data epochs (so DBPD's
p_true < tau selects a realistic share, not everything as with a fresh model), then ``--reps``
rounds; each round trains one epoch of every policy from the same pre-trained weights, the policy
order rotated each round (interleaved, so drifts in machine load hit every policy alike). DBPD
uses warm_up=0 and ERTS warm_up=0, cam_start=0, so every measured epoch is a selection / filter
epoch. Reported: the median over rounds of the epoch time without validation, the per-phase split
from the cost ledger (data, score, gradcam, train), the kept share and the ratios.

Run:
    python benchmarks/bench_epoch_cost.py                       # 2,000 x 12 x 1000, small_cnn, 3 rounds
    python benchmarks/bench_epoch_cost.py --n-samples 200 --reps 1 --pretrain 1   # quick check
"""
from __future__ import annotations

import argparse
import copy
import platform
import time

import pandas as pd
import torch

from erts_kit.data import load_dataset
from erts_kit.models import build_model
from erts_kit.results import markdown_table
from erts_kit.selection import make_policy
from erts_kit.training import TrainConfig, train

POLICIES = {
    "full": {},
    "dbpd": {"warm_up": 0},
    "xai_dbpd": {"warm_up": 0, "cam_start": 0},
}
PHASES = ("data", "score", "gradcam", "train")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--n-samples", type=int, default=2000, help="synthetic records (70%% train)")
    ap.add_argument("--leads", type=int, default=12, help="leads")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per record at 100 Hz (T = 100 x duration)")
    ap.add_argument("--model", default="small_cnn", help="backbone")
    ap.add_argument("--batch-size", type=int, default=32, help="batch size")
    ap.add_argument("--pretrain", type=int, default=2, help="full-data epochs before measuring")
    ap.add_argument("--reps", type=int, default=3, help="rounds (each: one epoch of every policy)")
    ap.add_argument("--seed", type=int, default=0, help="seed of data, model and policies")
    ap.add_argument("--device", default="cpu", help="device")
    args = ap.parse_args()

    t0 = time.perf_counter()
    data = load_dataset("synthetic", n_samples=args.n_samples, n_leads=args.leads, duration_s=args.duration,
                        seed=args.seed, label_flip_rate=0.1, artifact_rate=0.1)
    data.splits = {"train": data.splits["train"], "val": data.splits["val"][:64]}   # cheap validation, no test
    n_train = len(data.splits["train"])
    torch.manual_seed(args.seed)
    base = build_model(args.model, data.n_leads, data.n_classes)
    cfg = {"batch_size": args.batch_size, "lr": 1e-3, "device": args.device, "seed": args.seed}
    train(base, data, make_policy("full"), TrainConfig(epochs=args.pretrain, **cfg), progress=False)
    state = copy.deepcopy(base.state_dict())
    print(f"data {data.n_samples} x {data.n_leads} x {data.n_timesteps} ({n_train} train), model {args.model}, "
          f"pre-trained {args.pretrain} epochs in {time.perf_counter() - t0:.0f} s; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}", flush=True)

    rows = []
    names = list(POLICIES)
    for rep in range(args.reps):
        order = names[rep % len(names):] + names[:rep % len(names)]
        for name in order:
            model = build_model(args.model, data.n_leads, data.n_classes)
            model.load_state_dict(state)
            policy = make_policy(name, seed=args.seed, **POLICIES[name])
            res = train(model, data, policy, TrainConfig(epochs=1, **cfg), progress=False)
            h = res.history.iloc[0]
            row = {"rep": rep, "policy": name, "epoch_s": float(h["seconds"] - h.get("seconds_eval", 0.0)),
                   "kept_frac": float(h["kept_frac"]), "compute_epochs": float(h["compute_equivalent_epochs"])}
            for p in PHASES:
                v = h.get(f"seconds_{p}", 0.0)
                row[f"{p}_s"] = 0.0 if pd.isna(v) else float(v)
            rows.append(row)
            print(f"  round {rep} {name:9s} {row['epoch_s']:7.2f} s  kept {row['kept_frac']:.2f}", flush=True)

    df = pd.DataFrame(rows)
    med = df.groupby("policy", sort=False).median(numeric_only=True).reindex(names)
    table = pd.DataFrame({
        "policy": names,
        "s/epoch (median)": med["epoch_s"].values,
        "min": df.groupby("policy")["epoch_s"].min().reindex(names).values,
        "max": df.groupby("policy")["epoch_s"].max().reindex(names).values,
        "kept share": med["kept_frac"].values,
        **{f"{p} s": med[f"{p}_s"].values for p in PHASES},
        "compute-eq. epochs": med["compute_epochs"].values,
    })
    print()
    print(markdown_table(table, digits=2))
    r1 = med.loc["xai_dbpd", "epoch_s"] / med.loc["dbpd", "epoch_s"]
    r2 = med.loc["dbpd", "epoch_s"] / med.loc["full", "epoch_s"]
    r3 = med.loc["xai_dbpd", "epoch_s"] / med.loc["full", "epoch_s"]
    print(f"\nERTS/DBPD = {r1:.2f} (goal <= 1.15: {'met' if r1 <= 1.15 else 'NOT met'}), "
          f"DBPD/Full = {r2:.2f}, ERTS/Full = {r3:.2f}  (medians of {args.reps} interleaved rounds; "
          f"total {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
