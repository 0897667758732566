"""Policy grid with corrupted training data: macro-F1 difference vs full (paired seeds, 95% interval) and wall-clock.

Question: is there a selection policy whose macro-F1 is within 0.01 of full-data training (95%
interval lower bound >= -0.01) at <= 0.6x full's wall-clock, every scoring pass counted?

Method: the synthetic benchmark with 10% flipped labels and 10% heavy artefacts in the training split
(~19% of it corrupted; val/test clean), small_cnn, the demo's settings (lr 1e-3, batch 32, plain CE
for every policy), ``--epochs`` epochs; every policy trained once per seed (same seed: same initial
weights, data order, data), one process, runs one after the other. Schedules scaled to a short run:

- dbpd / xai_dbpd / cached_erts: warm-up 2 epochs, ERTS filter from epoch 3 (counted from 0);
  cached_erts re-scores every 3 epochs;
- infobatch (prune_ratio 0.5) and noise_aware (prune_ratio 0.5, drops the lowest-AUM 10% with AUM < 0):
  warm-up 2, every sample in the last epoch (annealing, InfoBatch's last 12.5%).

``--dataset mitbih``: real MIT-BIH DS1 beats (the packaged ``mitbih_beats`` recipe: MLII, 0.8 s at
120 Hz plus RR aux, small_cnn width 16, class-balanced CE, batch 128, lr 2e-3, 6 epochs, warm-up 2),
cross-validated over ``--folds`` record-wise folds inside DS1 (:func:`erts_kit.data.protocol.held_out_fold`:
the fold's records are the test split, validation is 10% of the other records' beats, so no beat of a
held-out patient picks a checkpoint). The training beats get 10% flipped labels and 10% heavy artefacts
(:func:`erts_kit.data.corrupt.inject_corruption`, seeded by the data seed and the fold); N beats are
capped at ``--max-n-per-record`` per training record (the test fold keeps every beat). A seed's score is
its test macro-F1 (N, S, V, F) averaged over the folds, its cost the sum over folds; pairs are by seed.

``--variants`` adds cheaper settings of a policy, e.g. ``infobatch:prune_ratio=0.8,warm_up=1`` (label
``infobatch[prune_ratio=0.8,warm_up=1]``; :func:`erts_kit.results.paired_grid.parse_variant`), to probe whether the 0.6x budget is reachable at all.

Runs go seed by seed (every policy of one seed back to back), so a change in the machine's load hits
every policy of a pair alike. Cost: the CPU seconds of each run (user + system, every thread; a
fresh ``--out`` folder, since a run reused from an earlier call has no CPU time), and ``wall_seconds`` (every epoch's batches, scoring, Grad-CAM and validation).
The grid is :func:`erts_kit.results.paired_grid.run_paired_grid`, then
:func:`erts_kit.results.stats.paired_differences`. The grid folder (``--out``) is resumable:
rerun with more ``--seeds`` to add seeds.

Run (under the machine's benchmark lock):
    flock /tmp/erts-bench.lock python benchmarks/bench_policies.py --seeds 0 1 2 3 4
    flock /tmp/erts-bench.lock python benchmarks/bench_policies.py --dataset mitbih \\
        --mitdb-dir /work/shared/data/mitdb-ds1 --seeds 0 1 2 3 4
    python benchmarks/bench_policies.py --smoke          # seconds: a tiny grid (tests)
    python benchmarks/bench_policies.py --smoke --dataset mitbih   # the same on a WFDB fixture tree
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd
import torch

from erts_kit.cli.recipe import load_recipe
from erts_kit.data import ECGData, load_dataset, load_mitbih
from erts_kit.data.corrupt import corrupted_record_folds
from erts_kit.data.demo_tree import write_mitbih_beats_tree
from erts_kit.data.protocol import DS1
from erts_kit.results import markdown_table
from erts_kit.results.paired_grid import average_folds, run_paired_grid
from erts_kit.results.stats import paired_differences, paired_table, verdict

MITBIH = load_recipe("mitbih_beats")   # erts_kit/configs/mitbih_beats.yaml
SETTINGS = {  # per dataset: (training settings of every policy, model, model options, epochs)
    "synthetic": ({"batch_size": 32, "lr": 1e-3, "weight_decay": 0.01, "lr_gamma": 0.98, "loss": "ce"},
                  "small_cnn", {}, 10),
    "mitbih": (MITBIH.training(), MITBIH.model, MITBIH.model_kwargs, MITBIH.epochs),
}
RUN_COLUMNS = ["policy", "seed", "fold", "macro_f1", "cpu_seconds", "wall_seconds", "effective_epochs",
               "compute_equivalent_epochs", "filter_precision", "filter_recall", "filter_base_rate"]
SELECTION = {"device": "cpu", "tau": 0.3, "phi": 0.7, "cam_start": 1, "warm_up": 2, "focus": "topk_mean",
             "rescore_every": 3, "prune_ratio": 0.5, "drop_share": 0.1}


def describe_data(args: argparse.Namespace, folds: list[ECGData]) -> str:
    """One line: what was trained on (sizes, corrupted share, folds)."""
    n_train = [len(d.splits["train"]) for d in folds]
    n_bad = [int(d.meta.loc[d.splits["train"], "corrupted"].sum()) for d in folds]
    if args.dataset == "synthetic":
        d = folds[0]
        return (f"synthetic, {d.n_samples} records x {d.n_leads} leads x {d.n_timesteps} samples, {n_train[0]} train "
                f"({n_bad[0]} corrupted), data seed {args.data_seed}")
    tests = [len(d.splits["test"]) for d in folds]
    return (f"MIT-BIH DS1 ({args.mitdb_dir}), {len(folds)} record-wise folds; train beats per fold {n_train} "
            f"(corrupted {n_bad}; N capped at {args.max_n_per_record} per record), test beats per fold {tests} "
            f"(every beat of the fold's records); data seed {args.data_seed}")


def report(args: argparse.Namespace, df: pd.DataFrame, folds: list[ECGData], t0: float, load0: float) -> str:
    """The Markdown report of the runs so far."""
    seeds = sorted(df["seed"].unique().tolist())
    by_seed = average_folds(df)
    by_cpu = paired_differences(by_seed.assign(wall_seconds=by_seed["cpu_seconds"]))
    by_wall = paired_differences(by_seed)
    _, model, model_kw, _ = SETTINGS[args.dataset]
    out = ["# Policies under corruption: paired differences vs full\n",
           f"Command: `python benchmarks/bench_policies.py {' '.join(sys.argv[1:])}`  ",
           f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {args.threads} threads; "
           f"load average {load0:.1f} at start, {os.getloadavg()[0]:.1f} now.  ",
           f"Data: {describe_data(args, folds)}; model {model}{' ' + str(model_kw) if model_kw else ''}; {args.epochs} epochs; seeds {seeds} "
           f"(paired); {time.perf_counter() - t0:.0f} s so far.\n",
           "## Macro-F1 (test) difference vs full, paired by seed; cost as CPU time of each run\n",
           "The cost column is the ratio of the run's CPU seconds (user + system, every thread) to full's on the same "
           "seed: on a machine shared with other jobs, wall-clock swung 30-fold between identical runs, CPU time "
           "much less. Compute-equivalent epochs (the ledger's count) need no clock at all."
           + (" Each seed's score is the mean over the folds, its cost the sum." if len(folds) > 1 else "") + "\n",
           markdown_table(paired_table(by_cpu).rename(columns={"wall-clock vs full": "CPU time vs full"})), ""]
    out += [f"- {line.replace('wall-clock', 'CPU time')}" for line in verdict(by_cpu)]
    out += ["\n## The same differences with wall-clock ratios (reliable only on an idle machine)\n",
            markdown_table(paired_table(by_wall)[["policy", "wall-clock vs full"]]), "", "## Per run\n"]
    keep = [c for c in RUN_COLUMNS if c in df.columns and not (c == "fold" and len(folds) == 1)]
    out.append(markdown_table(df[keep].sort_values([c for c in ("policy", "seed", "fold") if c in keep])))
    return "\n".join(out)


def load_folds(args: argparse.Namespace) -> list[ECGData]:
    """The corrupted training data: one ECGData (synthetic) or one per record-wise fold (MIT-BIH)."""
    if args.dataset == "synthetic":
        return [load_dataset("synthetic", n_samples=args.n_samples, n_leads=args.leads, duration_s=args.duration,
                             seed=args.data_seed, label_flip_rate=0.1, artifact_rate=0.1)]
    root = args.mitdb_dir
    if not root or not Path(root).is_dir():
        raise SystemExit(f"--dataset mitbih needs --mitdb-dir (or ERTS_KIT_MITDB_DIR): a folder of MIT-BIH DS1 "
                         f"records (NNN.hea/.dat/.atr), got {root!r}. See erts_kit.data.download.")
    records = [r for r in DS1 if (Path(root) / f"{r}.hea").exists()]
    beat = {k: v for k, v in MITBIH.data.items() if k in ("context", "fs", "window_s", "lead")}
    raw = load_mitbih(root, records=records, **beat, normalize=False,
                      split="intra_patient", cache_dir=os.path.join(tempfile.gettempdir(), "erts_bench_mitbih_cache"))
    return corrupted_record_folds(raw, args.folds, 0.1, 0.1, seed=args.data_seed,
                                  max_majority_per_record=args.max_n_per_record,
                                  drop_from_train=MITBIH.data.get("drop_from_train", ()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--dataset", default="synthetic", choices=sorted(SETTINGS))
    ap.add_argument("--n-samples", type=int, default=600, help="synthetic records (70%% train)")
    ap.add_argument("--leads", type=int, default=12, help="synthetic leads")
    ap.add_argument("--duration", type=float, default=5.0, help="synthetic seconds per record at 100 Hz")
    ap.add_argument("--mitdb-dir", default=os.environ.get("ERTS_KIT_MITDB_DIR"), help="MIT-BIH DS1 records")
    ap.add_argument("--folds", type=int, default=3, help="MIT-BIH record-wise folds")
    ap.add_argument("--max-n-per-record", type=int, default=400, help="MIT-BIH: N beats kept per training record")
    ap.add_argument("--epochs", type=int, default=None, help="default: 10 (synthetic), 6 (mitbih, the recipe's)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--policies", nargs="+", default=["full", "dbpd", "xai_dbpd", "cached_erts", "infobatch",
                                                      "noise_aware"])
    ap.add_argument("--variants", nargs="*", default=[], metavar="POLICY:KEY=VALUE,...",
                    help="extra settings of a policy, run as their own label, e.g. infobatch:prune_ratio=0.8")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "erts_bench_policies"))
    ap.add_argument("--smoke", action="store_true", help="tiny grid in seconds (for the tests)")
    ap.add_argument("--report", default="", help="also write the report here after every seed")
    ap.add_argument("--csv", default="", help="also write one row per run here after every seed")
    ap.add_argument("--merge", nargs="+", default=[], metavar="CSV",
                    help="no training: the report of these --csv files (a later file's run replaces an earlier "
                         "one with the same policy, seed and fold, e.g. a seed rerun on an idle machine)")
    args = ap.parse_args()
    args.epochs = args.epochs or SETTINGS[args.dataset][3]
    if args.smoke:
        args.n_samples, args.leads, args.duration, args.epochs, args.seeds = 60, 1, 3.0, 4, [0, 1]
        args.out = tempfile.mkdtemp(prefix="erts_bench_policies_smoke_")
        if args.dataset == "mitbih":
            args.mitdb_dir, args.folds, args.max_n_per_record = str(Path(args.out) / "mitdb"), 2, 40
            write_mitbih_beats_tree(args.mitdb_dir, DS1[:6], seconds=60.0, seed=0)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*best checkpoint.*")
    t0, load0 = time.perf_counter(), os.getloadavg()[0]
    folds = load_folds(args)
    train_cfg, model, model_kw, _ = SETTINGS[args.dataset]

    def write(df: pd.DataFrame) -> None:
        print(f"seed {int(df['seed'].iloc[-1])} done", flush=True, file=sys.stderr)
        if args.csv:
            df[[c for c in RUN_COLUMNS if c in df.columns]].to_csv(args.csv, index=False)
        if args.report:
            Path(args.report).write_text(report(args, df, folds, t0, load0) + "\n")

    if args.merge:
        runs = pd.concat([pd.read_csv(f) for f in args.merge], ignore_index=True)
        df = runs.drop_duplicates(["policy", "seed", "fold"], keep="last")
        print(report(args, df.reset_index(drop=True), folds, t0, load0))
        return
    df = run_paired_grid(folds, args.policies + args.variants, args.seeds, model, args.epochs, args.out,
                         {**SELECTION, "model_kwargs": model_kw, **train_cfg}, on_seed=write)
    print(report(args, df, folds, t0, load0))


if __name__ == "__main__":
    main()
