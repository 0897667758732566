"""Which beats does DBPD train on? Per-class kept share on MIT-BIH DS1, without and with ``class_floor``.

Loads the DS1 records of ``--data-dir`` with :func:`erts_kit.data.load_mitbih` (single-beat windows;
train = DS1 minus 3 validation records drawn with seed 42, inter-patient), trains ``small_cnn`` with
``dbpd`` (tau 0.3, warm-up 1 epoch) once plainly and once with ``class_floor``, same seed, and prints
per epoch the share of each class's training beats that got a training step (the history's
``kept_frac_<class>``), then the EC57 table (Se, +P per class) of each best checkpoint on the
validation records. Descriptive numbers of one seed: not an accuracy comparison between the two.

Run: ``python benchmarks/bench_class_share.py --data-dir ../shared/data/mitdb-ds1 [--epochs 3] [--floor 0.1]``.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from erts_kit.data import load_mitbih
from erts_kit.ec57 import ec57_report
from erts_kit.models import build_model
from erts_kit.selection import make_policy
from erts_kit.training import TrainConfig, evaluate, train

SEED = 42


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--floor", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache-dir", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = load_mitbih(args.data_dir, cache_dir=args.cache_dir)
    data.splits.pop("test", None)   # only DS1 here: the held-out validation records are the score
    print(f"DS1: train {np.bincount(data.labels[data.splits['train']], minlength=5).tolist()}, "
          f"val {np.bincount(data.labels[data.splits['val']], minlength=5).tolist()} (N, S, V, F, Q)")
    for floor in (0.0, args.floor):
        torch.manual_seed(SEED)
        model = build_model("small_cnn", data.n_leads, data.n_classes)
        policy = make_policy("dbpd", tau=0.3, warm_up=1, seed=SEED, class_floor=floor)
        t0 = time.perf_counter()
        res = train(model, data, policy, TrainConfig(epochs=args.epochs, batch_size=64, lr=1e-3, seed=SEED,
                                                     device="cpu", select_after_warmup=True), progress=False)
        cols = ["epoch", "kept_frac"] + [f"kept_frac_{c}" for c in data.class_names]
        print(f"\n## dbpd, class_floor {floor}: {time.perf_counter() - t0:.0f} s, best epoch {res.best_epoch}")
        print(res.history[cols].round(3).to_string(index=False))
        val = evaluate(res.model, data, "val")
        rep = ec57_report(val["labels"], val["probabilities"].argmax(1), data.class_names)
        print(f"validation records, {rep.note}: macro-F1 {rep.macro_f1:.3f}")
        print(rep.per_class.round(3).to_string())


if __name__ == "__main__":
    main()
