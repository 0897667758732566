"""MIT-BIH beats, inter-patient, with the packaged recipe (``erts_kit/configs/mitbih_beats.yaml``): full vs dbpd vs xai_dbpd.

Question: does the kit's recipe (small_cnn on one beat + RR aux features, class-balanced loss) reach
macro-F1 >= 0.55 over N, S, V, F on patients it never saw, and what do DBPD and ERTS (xai_dbpd) cost or
save against full-data training?

Only DS1 (22 records) is at hand, so the held-out patients come from record-wise k-fold
cross-validation inside DS1 (:func:`erts_kit.data.protocol.record_folds`, class-balanced, no record in
two folds): for each fold, the model trains on the other folds' records and is scored on the fold's
records (the "val" split of ``load_mitbih(..., n_folds=k, fold=i)``), which play no part in training
or in choosing the checkpoint: every run keeps its LAST epoch (``select_metric`` cannot peek at the
held-out records; best.pt is not used). Predictions of the k folds are pooled per (policy, seed)
and scored once (sklearn: macro-F1 over N, S, V, F with Q excluded from the average, as AAMI EC57
reports do; S and V sensitivity / positive predictivity), plus the mean of the per-fold macro-F1.

Costs per run: compute-equivalent epochs (kit ledger: training forward+backward, scoring and Grad-CAM
passes, in units of one full training epoch) and wall-clock seconds of ``train``. Paired differences
(policy - full) use the same seed and folds; the 95% interval is Student's t over seeds (pooled
scores) and over (fold, seed) pairs (per-fold scores).

Run (under the shared-machine lock; ~1-3 min per run on the 2-core CPU):
    flock /tmp/erts-bench.lock python benchmarks/bench_mitbih.py --data-dir /work/shared/data/mitdb-ds1 \\
        --folds 3 --seeds 0 1 --threads 2 --out benchmarks/results/mitbih_runs.csv
    python benchmarks/bench_mitbih.py --smoke          # WFDB fixtures, seconds: checks that it runs
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import warnings
from dataclasses import asdict

import numpy as np
import pandas as pd
import torch
import yaml
from scipy import stats
from sklearn.metrics import confusion_matrix, f1_score

from erts_kit.cli.recipe import load_recipe
from erts_kit.data import load_mitbih
from erts_kit.data.demo_tree import write_mitbih_beats_tree
from erts_kit.data.mitbih import DS1
from erts_kit.models import build_model
from erts_kit.results.grid import ExperimentConfig, build_policy
from erts_kit.results.tables import markdown_table
from erts_kit.training import TrainConfig, evaluate, train

COUNTED = ["N", "S", "V", "F"]


def scores(y: np.ndarray, pred: np.ndarray, class_names: list[str]) -> dict[str, float]:
    """Macro-F1 over N, S, V, F (Q excluded) and S/V sensitivity and positive predictivity, in %."""
    ids = [class_names.index(c) for c in COUNTED]
    out = {"macro_f1": float(f1_score(y, pred, labels=ids, average="macro", zero_division=0))}
    cm = confusion_matrix(y, pred, labels=list(range(len(class_names))))
    for c in ("S", "V"):
        i = class_names.index(c)
        out[f"{c}_se"] = 100.0 * cm[i, i] / max(cm[i].sum(), 1)
        out[f"{c}_ppv"] = 100.0 * cm[i, i] / max(cm[:, i].sum(), 1)
    for c, i in zip(COUNTED, ids):
        out[f"f1_{c}"] = float(f1_score(y == i, pred == i, zero_division=0))
    return out


def one_run(data, policy: str, seed: int, model: str, model_kw: dict, cfg: ExperimentConfig, epochs: int) -> dict:
    """Train one (policy, seed) on the fold's train records; predictions on its held-out records."""
    torch.manual_seed(seed)
    net = build_model(model, data.n_leads, data.n_classes, n_aux=data.n_aux, **model_kw)
    tc = TrainConfig(epochs=epochs, batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay,
                     lr_gamma=cfg.lr_gamma, loss=cfg.loss_for(policy), cb_beta=cfg.cb_beta, seed=seed,
                     sampler=cfg.sampler, cb_max_weight_ratio=cfg.cb_max_weight_ratio,
                     device="cpu", eval_every=epochs)   # validate once, at the end: nothing is selected on it
    t0 = time.perf_counter()
    res = train(net, data, build_policy(policy, cfg, seed=seed), tc, progress=False)
    wall = time.perf_counter() - t0
    if res.best_epoch != epochs - 1:
        raise RuntimeError("expected the last epoch to be the one kept (validation runs only after it)")
    out = evaluate(res.model, data, "val")
    last = res.history.iloc[-1]
    return {"pred": out["probabilities"].argmax(1), "y": out["labels"], "wall_s": wall,
            "cee": float(last["compute_equivalent_epochs"]), "ee": float(last["effective_epochs"])}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("ERTS_KIT_MITDB_DIR"))
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--only-folds", type=int, nargs="+", default=None, help="run these folds only (0-based)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--policies", nargs="+", default=["full", "dbpd", "xai_dbpd"])
    ap.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache-dir", default=os.path.join(tempfile.gettempdir(), "erts_bench_mitbih_cache"))
    ap.add_argument("--out", default=None, help="CSV of one row per (fold, policy, seed)")
    ap.add_argument("--smoke", action="store_true", help="WFDB fixtures in a temp folder, 1 epoch")
    ap.add_argument("--set", nargs="+", default=[], metavar="SECTION.KEY=VALUE",
                    help="change the recipe, e.g. data.lead=both model.width=32 train.cb_beta=0.9999")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    warnings.filterwarnings("ignore", message="Split 'test' is empty")
    r = load_recipe("mitbih_beats")
    data_kw, model_kw, cfg = r.data, r.model_kwargs, r.config
    for item in a.set:   # e.g. data.lead=both: what a probe of the recipe changed, printed in the header
        (section, key), value = item.split("=", 1)[0].split(".", 1), yaml.safe_load(item.split("=", 1)[1])
        if section == "train":
            cfg = ExperimentConfig.from_dict({**asdict(cfg), key: value})
        else:
            {"data": data_kw, "model": model_kw}[section][key] = value
    model = r.model
    epochs = a.epochs or r.epochs
    if a.smoke:
        a.data_dir = write_mitbih_beats_tree(tempfile.mkdtemp(), DS1[:6], seconds=60)
        a.cache_dir, epochs, a.seeds = None, 1, a.seeds[:1]
        a.folds = min(a.folds, 3)
    if not a.data_dir:
        ap.error("give --data-dir (a folder of MIT-BIH DS1 records) or set ERTS_KIT_MITDB_DIR, or use --smoke")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{a.threads} threads, load average {os.getloadavg()[0]:.1f}; recipe mitbih_beats: data {data_kw}, "
          f"model {model} {model_kw}, epochs {epochs}, batch {cfg.batch_size}, lr {cfg.lr}, lr_gamma {cfg.lr_gamma}, "
          f"loss {cfg.loss} (beta {cfg.cb_beta}, cap {cfg.cb_max_weight_ratio}), sampler {cfg.sampler}, warm_up {cfg.warm_up}, cam_start {cfg.cam_start}", flush=True)
    rows, preds = [], {}
    for fold in (range(a.folds) if a.only_folds is None else a.only_folds):
        kw = {**data_kw, "n_folds": a.folds, "fold": fold, "test_records": []}   # train: the DS1 records found
        data = load_mitbih(a.data_dir, cache_dir=a.cache_dir, **kw)
        held = sorted(set(data.meta.loc[data.splits["val"], "record"]))
        if not rows:   # one unmeasured epoch first: one-time costs (allocator, kernels) charged to no policy
            one_run(data, a.policies[-1], a.seeds[0], model, model_kw, cfg, 1)
        for seed in a.seeds:
            for policy in a.policies:
                r = one_run(data, policy, seed, model, model_kw, cfg, epochs)
                preds.setdefault((policy, seed), []).append((r.pop("y"), r.pop("pred")))
                fold_f1 = scores(*preds[(policy, seed)][-1], data.class_names)["macro_f1"]
                rows.append({"fold": fold, "held_out": " ".join(held), "policy": policy, "seed": seed,
                             "fold_macro_f1": fold_f1, **r})
                per = scores(*preds[(policy, seed)][-1], data.class_names)
                if a.out:   # after every run: an interrupted benchmark keeps what it measured
                    pd.DataFrame(rows).to_csv(a.out, index=False)
                print(f"fold {fold} ({' '.join(held)}) {policy:9s} seed {seed}: macro-F1 {fold_f1:.3f} (F1 "
                      + " ".join(f"{c} {per['f1_' + c]:.2f}" for c in COUNTED) + "), "
                      f"{r['wall_s']:.0f} s, CEE {r['cee']:.2f}", flush=True)
    runs = pd.DataFrame(rows)
    if a.out:
        runs.to_csv(a.out, index=False)
    pooled = []
    for (policy, seed), parts in preds.items():
        y, p = np.concatenate([q[0] for q in parts]), np.concatenate([q[1] for q in parts])
        sub = runs[(runs.policy == policy) & (runs.seed == seed)]
        pooled.append({"policy": policy, "seed": seed, **scores(y, p, data.class_names),
                       "mean_fold_macro_f1": sub.fold_macro_f1.mean(), "cee": sub.cee.mean(), "wall_s": sub.wall_s.sum()})
    table = pd.DataFrame(pooled)
    summary = table.drop(columns="seed").groupby("policy", sort=False).mean()
    print("\nPooled over folds, mean over seeds (Se/+P in %, wall_s = all folds of one seed, CEE per run):")
    print(markdown_table(summary.reset_index()))
    base = runs[runs.policy == "full"].set_index(["fold", "seed"])
    for policy in [p for p in a.policies if p != "full"]:   # pairs = (fold, seed): same records, same seed
        other = runs[runs.policy == policy].set_index(["fold", "seed"])
        for col, what in (("fold_macro_f1", "per-fold macro-F1 difference"), ("wall_s", "per-fold wall-clock ratio")):
            d = other[col] - base[col] if col == "fold_macro_f1" else other[col] / base[col]
            half = float(stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
            print(f"{policy} vs full, {what}: {d.mean():+.3f} (95% CI +-{half:.3f}, {len(d)} (fold, seed) pairs)")
    full = table[table.policy == "full"].set_index("seed")
    for policy in [p for p in a.policies if p != "full"]:
        other = table[table.policy == policy].set_index("seed")
        for col in ("macro_f1", "wall_s"):
            d = (other[col] - full[col]) if col == "macro_f1" else other[col] / full[col]
            m = float(d.mean())
            half = float(stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
            what = "macro-F1 difference" if col == "macro_f1" else "wall-clock ratio"
            print(f"{policy} vs full, {what}: {m:+.3f} (95% CI +-{half:.3f}, {len(d)} paired seeds)"
                  if col == "macro_f1" else f"{policy} vs full, {what}: {m:.2f}x (95% CI +-{half:.2f})")


if __name__ == "__main__":
    main()
