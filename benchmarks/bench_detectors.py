"""Detector benchmark: which per-sample signal ranks corrupted training samples above clean ones?

Signals (:mod:`erts_kit.results.detect_signals`), each oriented as its method reads it: the ERTS
combined score, each focus score, loss, margin, AUM, Integrated-Gradients focus, and confident
learning (cleanlab, out-of-fold). Metrics (:mod:`erts_kit.results.detectors`): AUROC with a 95%
interval, precision at the true corruption rate, by corruption kind and by true class, at several
checkpoints of one full-data training run.

Datasets:
- synthetic: the kit's benchmark, 10% flipped labels + 10% heavy artefacts in the training split;
- mitbih: MIT-BIH DS1 beats (MLII, 0.8 s windows, read in mV), a record-wise split inside DS1
  (3 validation records drawn with the seed, the rest train; no beat of a held-out record is used for
  anything but validation), at most ``--beats-per-record`` beats per training record (every non-N beat
  first, then N), then :func:`erts_kit.data.corrupt.inject_corruption`: 10% flipped labels + 10% of the
  synthetic artefacts applied to the real signals, then z-scored per window.

Run (under the machine's benchmark lock):
    flock /tmp/erts-bench.lock python benchmarks/bench_detectors.py --datasets synthetic mitbih \\
        --mitdb-dir /work/shared/data/mitdb-ds1
    python benchmarks/bench_detectors.py --smoke          # seconds (tests)
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
import pandas as pd
import torch

from erts_kit.data import ECGData, load_dataset
from erts_kit.data.corrupt import inject_corruption
from erts_kit.data.mitbih import DS1, load_mitbih
from erts_kit.results import markdown_table
from erts_kit.results.detect_signals import run_detector_study
from erts_kit.results.detectors import detector_verdicts

CONFIG = {"batch_size": 32, "lr": 1e-3, "device": "cpu"}


def mitbih_with_corruption(root: str, beats_per_record: int, seed: int) -> ECGData:
    """DS1 beats in mV, a record-wise train/val split, capped per record, then injected corruption."""
    raw = load_mitbih(root, records=[r for r in DS1 if os.path.exists(os.path.join(root, f"{r}.hea"))],
                      normalize=False, split="intra_patient", seed=seed)
    rng = np.random.default_rng(seed)
    records = np.array(sorted(raw.meta["record"].astype(str).unique()))
    val_records = set(rng.choice(records, 3, replace=False))
    rec = raw.meta["record"].astype(str).to_numpy()
    keep = []
    for r in records:
        idx = np.flatnonzero(rec == r)
        cap = beats_per_record if r not in val_records else beats_per_record // 2
        non_n = idx[raw.labels[idx] != 0]
        n = idx[raw.labels[idx] == 0]
        pick = np.r_[rng.permutation(non_n)[:cap // 2], rng.permutation(n)[:cap - min(len(non_n), cap // 2)]]
        keep.append(np.sort(pick))
    keep = np.concatenate(keep)
    sub = raw.subset(keep, name="mitbih-ds1")
    r_sub = sub.meta["record"].astype(str).to_numpy()
    sub.splits = {"train": np.flatnonzero(~np.isin(r_sub, list(val_records))),
                  "val": np.flatnonzero(np.isin(r_sub, list(val_records)))}
    return inject_corruption(sub, 0.1, 0.1, seed=seed)


def _section(name: str, data: ECGData, res: dict, seconds: float) -> list[str]:
    t = res["table"]
    n_train = len(data.splits["train"])
    n_bad = int(data.meta.loc[data.splits["train"], "corrupted"].sum())
    lines = [f"## {name}\n", f"{n_train} training samples ({n_bad} corrupted, base rate {n_bad / n_train:.3f}), "
             f"{data.n_leads} lead(s) x {data.n_timesteps} samples, classes {data.class_names}; {seconds:.0f} s.\n"]
    allg = t[t["group"] == "all"].copy()
    allg["AUROC [95% CI]"] = [f"{a:.3f} [{lo:.3f}, {hi:.3f}]" for a, lo, hi in
                              zip(allg["auroc"], allg["auroc_low"], allg["auroc_high"])]
    show = allg[["epoch", "signal", "AUROC [95% CI]", "precision_at_rate", "base_rate", "lift"]]
    lines += ["### Every training sample, per checkpoint (epochs trained)\n", markdown_table(show), ""]
    last = t[t["epoch"] == t["epoch"].max()]
    for prefix, title in (("kind=", "by corruption kind"), ("class=", "by true class")):
        g = last[last["group"].str.startswith(prefix)]
        if len(g):
            piv = g.pivot(index="signal", columns="group", values="auroc").round(3).reset_index()
            lines += [f"### AUROC {title}, last checkpoint (epoch {int(t['epoch'].max())})\n", markdown_table(piv), ""]
    if res["cleanlab"]:
        c = res["cleanlab"]
        lines.append(f"cleanlab `find_label_issues` (out-of-fold): {c['n_flagged']} flagged, precision "
                     f"{c['precision']:.3f}, recall {c['recall']:.3f} (every kind of corruption counted).\n")
    lines += ["### Verdicts (every training sample)\n"] + [f"- {v}" for v in detector_verdicts(
        t.assign(dataset=name))] + [""]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["synthetic"], choices=["synthetic", "mitbih"])
    ap.add_argument("--mitdb-dir", default=os.environ.get("ERTS_KIT_MITDB_DIR", "/work/shared/data/mitdb-ds1"))
    ap.add_argument("--n-samples", type=int, default=600, help="synthetic records (70%% train)")
    ap.add_argument("--leads", type=int, default=12)
    ap.add_argument("--duration", type=float, default=5.0, help="synthetic seconds per record at 100 Hz")
    ap.add_argument("--beats-per-record", type=int, default=120)
    ap.add_argument("--checkpoints", type=int, nargs="+", default=[2, 4, 8])
    ap.add_argument("--folds", type=int, default=3, help="cleanlab out-of-fold models")
    ap.add_argument("--ig-steps", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    if args.smoke:
        args.n_samples, args.leads, args.checkpoints, args.folds, args.ig_steps = 90, 1, [1, 2], 2, 2
    torch.set_num_threads(args.threads)
    load0 = os.getloadavg()[0]
    out = ["# Detectors: which signal finds the corrupted samples?\n",
           f"Command: `python benchmarks/bench_detectors.py {' '.join(sys.argv[1:])}`  ",
           f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {args.threads} threads, "
           f"load average {load0:.1f} at start (shared machine). Model small_cnn, lr 1e-3, batch 32, full data; "
           f"seed {args.seed}; checkpoints {args.checkpoints}; cleanlab folds {args.folds}; IG steps {args.ig_steps}.  ",
           "Signals are oriented as their method reads them (higher = more suspect: -focus, -(1-p_true)*focus, loss, "
           "-margin, -AUM, 1 - cleanlab label quality). AUROC 0.5 = chance; below 0.5 = the method ranks corrupted "
           "samples as *better* than clean ones.\n"]
    for name in args.datasets:
        t0 = time.perf_counter()
        if name == "synthetic":
            data = load_dataset("synthetic", n_samples=args.n_samples, n_leads=args.leads,
                                duration_s=3.0 if args.smoke else args.duration, seed=args.seed, label_flip_rate=0.1,
                                artifact_rate=0.1)
            data.splits = {k: v for k, v in data.splits.items() if k != "test"}
        else:
            data = mitbih_with_corruption(args.mitdb_dir, 20 if args.smoke else args.beats_per_record, args.seed)
        res = run_detector_study(data, "small_cnn", args.checkpoints, seed=args.seed, folds=args.folds,
                                 ig_steps=args.ig_steps, config=CONFIG)
        out += _section(name, data, res, time.perf_counter() - t0)
        print(f"{name} done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    out.append(f"Load average at the end: {os.getloadavg()[0]:.1f}.")
    print("\n".join(out))


if __name__ == "__main__":
    main()
