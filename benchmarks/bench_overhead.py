"""Training-loop overhead of the kit: ``train(policy=None)`` (full data) vs a bare PyTorch loop doing the same work.

Question: how much slower is ``erts_kit.training.train`` with the full-data policy than the plain loop a
reader would write by hand, and where does the extra time go?

Both sides, on the same data and model:
- ``small_cnn`` built with the same seed (same initial weights), the training split of
  ``load_dataset("synthetic", n_samples=1500, seed=0)`` (70/15/15: 1,050 train, 228 val, 222 test),
  batch 32, shuffled by a ``torch.Generator`` seeded alike (same batches in the same order), global
  torch seed alike (same dropout masks);
- AdamW (lr 3e-4, weight decay 0.01), StepLR gamma 0.98 per epoch, plain cross-entropy, 3 epochs;
- after every epoch: a forward over the validation split in eval mode and its macro-F1 (sklearn),
  a copy of the state dict when the macro-F1 improved (best weights kept in memory);
- at the end: the best weights back and the test split evaluated the same way;
- CPU, ``torch.set_num_threads(2)``, nothing written to disk, no progress bars.
Kit side: ``train(model, data, None, TrainConfig(...), run_dir=None, progress=False)``; everything the
kit does on top (compatibility check, cost ledger, selection log, per-batch policy call, full metric
set with AUROC and confusion matrix, history DataFrame) is part of what is measured.
Bare side: a ``DataLoader`` over a ``TensorDataset`` of the same arrays, ``nn.CrossEntropyLoss``, the
evaluation forward on slices of 64 of the split's tensor (the kit's evaluation batch; the kit itself
runs them through a DataLoader and micro-batches of 16 on a CPU) and ``sklearn.metrics.f1_score``.

Method: one process, rounds interleaved (kit, bare, kit, bare, ...) after one unmeasured warm-up of
each, so that drifts in machine load hit both sides alike. Model construction and data loading are
outside the timed region. Printed: wall and process-CPU seconds per round, the ratio kit/bare per
round and its median over rounds, a per-phase split (data, train step, rest of the epoch,
validation, outside the epochs) from the kit's own ledger and the same points timed in the bare
loop, and sanity checks (same epoch-0 training loss, similar best validation macro-F1).
``--profile`` then runs each side once under cProfile and prints where the time goes outside plain
torch compute (erts_kit, DataLoader, tqdm, pandas, sklearn, numpy, the standard library).

Run:
    python benchmarks/bench_overhead.py                        # 1,500 records, 3 epochs, 3 rounds
    python benchmarks/bench_overhead.py --rounds 3 --profile   # plus the cProfile split
    python benchmarks/bench_overhead.py --smoke --profile      # tiny sizes: checks that it runs
On a 2-core machine shared with other jobs, two torch threads make every parallel region wait for a
preempted thread and the rounds scatter by +-20%; ``--threads 1`` gives far steadier ratios there.
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import os
import platform
import pstats
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import sklearn
import torch
from sklearn.metrics import f1_score
from torch import nn
from torch.utils.data import DataLoader, RandomSampler, TensorDataset

from erts_kit.data import load_dataset
from erts_kit.models import build_model
from erts_kit.training import TrainConfig, train

MODEL = "small_cnn"
BATCH, LR, WD, GAMMA = 32, 3e-4, 0.01, 0.98   # the kit's TrainConfig defaults, pinned here
EVAL_BATCH = max(BATCH, 64)                   # the kit evaluates in batches of max(batch_size, 64)
PHASES = ("data", "train", "other", "eval")   # per-epoch phases; "outside" = set-up + test eval + wrap-up
LOSS_RTOL, F1_TOL, GOAL = 1e-3, 0.05, 1.05


# --------------------------------------------------------------------------------------------------
# the two loops
# --------------------------------------------------------------------------------------------------
def run_kit(data: Any, model: nn.Module, epochs: int, seed: int) -> dict[str, Any]:
    cfg = TrainConfig(epochs=epochs, batch_size=BATCH, lr=LR, weight_decay=WD, lr_gamma=GAMMA, loss="ce",
                      seed=seed, device="cpu")
    res = train(model, data, None, cfg, run_dir=None, progress=False)
    h = res.history

    def col(name: str) -> np.ndarray:
        return h[name].fillna(0.0).to_numpy(float) if name in h else np.zeros(len(h))

    eval_s = col("seconds_eval")
    phases = {"data": col("seconds_data").sum(), "train": col("seconds_train").sum(), "eval": eval_s.sum()}
    phases["other"] = float(col("seconds").sum()) - sum(phases.values())
    return {"epoch_s": float(col("seconds").sum()), "phases": phases,
            "train_loss0": float(h["train_loss"].iloc[0]), "val_f1": h["val_macro_f1"].tolist(),
            "test_f1": float(res.test_metrics["macro_f1"]) if res.test_metrics else float("nan")}


def _macro_f1(model: nn.Module, x: torch.Tensor, y: np.ndarray, n_classes: int) -> float:
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x[i:i + EVAL_BATCH]).argmax(1) for i in range(0, len(x), EVAL_BATCH)]).numpy()
    f1 = f1_score(y, pred, labels=list(range(n_classes)), average=None, zero_division=np.nan)
    return float(np.nanmean(f1))   # as the kit: classes never present nor predicted left out


def count_loader_iters(data: Any, epochs: int, seed: int) -> int:
    """Iterators the kit opens on its shuffling training loader per epoch (one unmeasured kit run).

    Each ``iter(DataLoader)`` draws one seed from the loader's generator, so the batch order of epoch
    e depends on how many iterators were opened before. (At the time of writing the kit opens two:
    ``tqdm.auto`` wraps the loader even with ``progress=False`` and its asyncio mixin calls ``iter``
    in ``__init__``; the loop then opens its own.) The bare loop draws the same extra seeds, so both
    sides train on the same batches and their losses can be compared exactly.
    """
    calls = [0]
    orig = DataLoader.__iter__

    def counting(self: DataLoader) -> Any:
        if isinstance(self.sampler, RandomSampler):
            calls[0] += 1
        return orig(self)

    DataLoader.__iter__ = counting  # type: ignore[method-assign]
    try:
        run_kit(data, fresh_model(data, seed), epochs, seed)
    finally:
        DataLoader.__iter__ = orig  # type: ignore[method-assign]
    return calls[0] // epochs if calls[0] % epochs == 0 else 1


def run_bare(data: Any, model: nn.Module, epochs: int, seed: int, loader_iters: int = 1) -> dict[str, Any]:
    torch.manual_seed(seed)
    tr, va, te = (np.asarray(data.splits[s]) for s in ("train", "val", "test"))
    x_tr, y_tr = torch.from_numpy(data.signals[tr]), torch.from_numpy(data.labels[tr])
    x_va, x_te = torch.from_numpy(data.signals[va]), torch.from_numpy(data.signals[te])
    y_va, y_te, n_classes = data.labels[va], data.labels[te], data.n_classes
    gen = torch.Generator().manual_seed(seed)
    loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=BATCH, shuffle=True, generator=gen)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WD)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=GAMMA)
    loss_fn = nn.CrossEntropyLoss()
    best_f1, best_state, losses, val_f1 = -np.inf, None, [], []
    phases = dict.fromkeys(PHASES, 0.0)
    epoch_s = 0.0
    for _ in range(epochs):
        t_epoch = time.perf_counter()
        model.train()
        for _ in range(loader_iters - 1):  # the seeds the kit's extra iterators draw (count_loader_iters)
            torch.empty((), dtype=torch.int64).random_(generator=gen)
        total, it = 0.0, iter(loader)
        while True:
            t0 = time.perf_counter()
            item = next(it, None)
            t1 = time.perf_counter()
            phases["data"] += t1 - t0
            if item is None:
                break
            x, y = item
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
            phases["train"] += time.perf_counter() - t1
        sched.step()
        losses.append(total / len(tr))
        t0 = time.perf_counter()
        f1 = _macro_f1(model, x_va, y_va, n_classes)
        phases["eval"] += time.perf_counter() - t0
        val_f1.append(f1)
        if f1 > best_f1:
            best_f1, best_state = f1, {k: v.detach().clone() for k, v in model.state_dict().items()}
        epoch_s += time.perf_counter() - t_epoch
    model.load_state_dict(best_state)
    test_f1 = _macro_f1(model, x_te, y_te, n_classes)
    phases["other"] = epoch_s - phases["data"] - phases["train"] - phases["eval"]
    return {"epoch_s": epoch_s, "phases": phases, "train_loss0": losses[0], "val_f1": val_f1, "test_f1": test_f1}


RUNNERS: dict[str, Callable[..., dict[str, Any]]] = {"kit": run_kit, "bare": run_bare}


def fresh_model(data: Any, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return build_model(MODEL, data.n_leads, data.n_classes)


def timed(name: str, data: Any, epochs: int, seed: int, **kw: Any) -> dict[str, Any]:
    model = fresh_model(data, seed)
    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    out = RUNNERS[name](data, model, epochs, seed, **kw)
    out["wall_s"], out["cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
    out["phases"]["outside"] = out["wall_s"] - out["epoch_s"]
    return out


# --------------------------------------------------------------------------------------------------
# printing
# --------------------------------------------------------------------------------------------------
def md_table(header: list[str], rows: list[list[Any]], align: str = "") -> str:
    align = align or "l" + "r" * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"machine: {cpu}, {os.cpu_count()} cores visible, {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} threads, "
            f"{torch.get_num_interop_threads()} inter-op), numpy {np.__version__}, sklearn {sklearn.__version__}; "
            f"1-min load average {load:.2f}")


# --------------------------------------------------------------------------------------------------
# cProfile
# --------------------------------------------------------------------------------------------------
STDLIB = os.path.dirname(os.__file__).replace("\\", "/")


def kind(file: str, func: str) -> str:
    """Coarse owner of one profiled function: torch compute versus the layers around it."""
    f = file.replace("\\", "/")
    if f == "~":  # C builtins: attribute by name
        if "torch" in func or "_C." in func:
            return "torch C++"
        return "numpy C" if ("numpy" in func or "ndarray" in func) else "builtins"
    for tag, owner in (("/erts_kit/models/", "model"), ("/erts_kit/", "erts_kit"),
                       ("/torch/utils/data/", "DataLoader"), ("/tqdm/", "tqdm"),
                       ("/pandas/", "pandas"), ("/sklearn/", "sklearn"), ("/scipy/", "sklearn"),
                       ("/numpy/", "numpy"), ("/torch/", "torch python")):
        if tag in f:
            return owner
    if os.path.basename(f) == os.path.basename(__file__):
        return "this script"
    if "/site-packages/" in f:  # another library: its top-level package (e.g. narwhals, called by sklearn)
        return f.split("/site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    return "stdlib" if f.startswith(STDLIB) else "other"


TORCH_KINDS = ("torch C++", "torch python", "model", "this script")  # plain torch compute, same on both sides


def label(file: str, line: int, func: str) -> str:
    f = file.replace("\\", "/")
    for anchor in ("/site-packages/", "/erts_kit/", STDLIB + "/"):
        if anchor in f:
            f = ("erts_kit/" if anchor == "/erts_kit/" else "") + f.split(anchor, 1)[1]
            break
    return func if f == "~" else f"{f}:{line}({func})"


def profile(name: str, data: Any, epochs: int, seed: int, **kw: Any) -> tuple[dict, float]:
    model = fresh_model(data, seed)
    gc.collect()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    RUNNERS[name](data, model, epochs, seed, **kw)
    prof.disable()
    wall = time.perf_counter() - t0
    return pstats.Stats(prof).stats, wall  # {(file, line, func): (cc, ncalls, tottime, cumtime, callers)}


def by_kind(stats: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for (file, _, func), (_, _, tt, _, _) in stats.items():
        k = kind(file, func)
        out[k] = out.get(k, 0.0) + tt
    return out


def print_profile(kit: dict, kit_wall: float, bare: dict, bare_wall: float, top: int) -> None:
    ks, bs = by_kind(kit), by_kind(bare)
    kt, bt = sum(ks.values()), sum(bs.values())
    order = sorted(set(ks) | set(bs), key=lambda k: -(ks.get(k, 0.0) - bs.get(k, 0.0)))
    rows = [[k, f"{ks.get(k, 0.0):.3f}", f"{100 * ks.get(k, 0.0) / kt:.1f}%", f"{bs.get(k, 0.0):.3f}",
             f"{ks.get(k, 0.0) - bs.get(k, 0.0):+.3f}"] for k in order]
    rows.append(["**total**", f"{kt:.3f}", "100%", f"{bt:.3f}", f"{kt - bt:+.3f}"])
    print(f"\n### Self time by owner under cProfile (kit {kit_wall:.2f} s wall, bare {bare_wall:.2f} s wall; "
          "the profiler inflates Python-heavy code)\n")
    print(md_table(["owner", "kit s", "kit share", "bare s", "kit - bare s"], rows))

    def listing(stats: dict, key: int, title: str) -> None:
        total = sum(v[2] for v in stats.values())
        items = [(k, v) for k, v in stats.items() if kind(k[0], k[2]) not in TORCH_KINDS]
        items.sort(key=lambda kv: -kv[1][key])
        rows = [[label(*k), kind(k[0], k[2]), f"{v[1]:,}", f"{v[2]:.3f}", f"{v[3]:.3f}",
                 f"{100 * v[key] / total:.1f}%"] for k, v in items[:top]]
        print(f"\n### {title}\n")
        print(md_table(["function", "owner", "calls", "tottime s", "cumtime s", "share of run"], rows, "llrrrr"))

    listing(kit, 3, f"Kit: top {top} functions outside torch compute, by cumulative time")
    listing(kit, 2, f"Kit: top {top} functions outside torch compute, by own (total) time")
    bare_top = sorted(((k, v) for k, v in bare.items() if kind(k[0], k[2]) not in TORCH_KINDS),
                      key=lambda kv: -kv[1][3])[:10]
    print("\n### Bare loop, for comparison: top 10 outside torch compute, by cumulative time\n")
    print(md_table(["function", "owner", "calls", "tottime s", "cumtime s"],
                   [[label(*k), kind(k[0], k[2]), f"{v[1]:,}", f"{v[2]:.3f}", f"{v[3]:.3f}"] for k, v in bare_top],
                   "llrrr"))


# --------------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--n-samples", type=int, default=1500, help="synthetic records (70%% train, 15%% val, 15%% test)")
    ap.add_argument("--epochs", type=int, default=3, help="epochs per run (validation after each)")
    ap.add_argument("--rounds", type=int, default=3, help="measured rounds (each: one kit run, one bare run)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--seed", type=int, default=0, help="seed of data, model init, shuffling and dropout")
    ap.add_argument("--profile", action="store_true", help="then run each side once under cProfile")
    ap.add_argument("--top", type=int, default=25, help="rows of the cProfile listings")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (150 records of 3 s, 1 epoch, 1 round)")
    args = ap.parse_args()
    duration = 10.0
    if args.smoke:
        args.n_samples, args.epochs, args.rounds, duration = 150, 1, 1, 3.0
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="macro_auroc is NaN")  # tiny smoke splits may miss a class

    t_start = time.perf_counter()
    data = load_dataset("synthetic", n_samples=args.n_samples, seed=args.seed, duration_s=duration)
    sizes = {s: len(data.splits[s]) for s in ("train", "val", "test")}
    print(f"Command: python benchmarks/bench_overhead.py {' '.join(sys.argv[1:])}")
    print(machine())
    print(f"data: synthetic {data.n_samples} x {data.n_leads} x {data.n_timesteps}, {data.n_classes} classes, "
          f"splits {sizes}; model {MODEL}; batch {BATCH}, AdamW lr {LR} wd {WD}, StepLR {GAMMA}, CE; "
          f"{args.epochs} epochs, validation every epoch; seed {args.seed}", flush=True)

    t0 = time.perf_counter()
    iters = count_loader_iters(data, args.epochs, args.seed)   # also the kit's warm-up
    t_kit = time.perf_counter() - t0
    t_bare = timed("bare", data, args.epochs, args.seed, loader_iters=iters)["wall_s"]
    print(f"  warm-up  kit {t_kit:6.2f} s, bare {t_bare:6.2f} s (not measured); the kit opens {iters} iterator(s) "
          f"on its training loader per epoch, the bare loop draws the {iters - 1} extra seed(s) alike "
          "(same batches)", flush=True)
    results: dict[str, list[dict[str, Any]]] = {"kit": [], "bare": []}
    for r in range(args.rounds):
        for name in ("kit", "bare"):
            kw = {"loader_iters": iters} if name == "bare" else {}
            results[name].append(timed(name, data, args.epochs, args.seed, **kw))
        k, b = results["kit"][-1], results["bare"][-1]
        print(f"  round {r}  kit {k['wall_s']:6.2f} s (CPU {k['cpu_s']:6.2f} s), bare {b['wall_s']:6.2f} s "
              f"(CPU {b['cpu_s']:6.2f} s), kit/bare {k['wall_s'] / b['wall_s']:.3f}", flush=True)

    kit, bare = results["kit"], results["bare"]
    ratios = [k["wall_s"] / b["wall_s"] for k, b in zip(kit, bare)]
    cpu_ratios = [k["cpu_s"] / b["cpu_s"] for k, b in zip(kit, bare)]
    rows = [[i, f"{k['wall_s']:.2f}", f"{b['wall_s']:.2f}", f"{q:.3f}", f"{k['cpu_s']:.2f}", f"{b['cpu_s']:.2f}",
             f"{c:.3f}"] for i, (k, b, q, c) in enumerate(zip(kit, bare, ratios, cpu_ratios))]
    print("\n### Kit (policy full) vs bare loop, interleaved rounds\n")
    print(md_table(["round", "kit s", "bare s", "kit/bare", "kit CPU s", "bare CPU s", "kit/bare CPU"], rows))
    med = statistics.median(ratios)
    extra = statistics.median(k["wall_s"] - b["wall_s"] for k, b in zip(kit, bare))
    print(f"\nper-round kit/bare: {', '.join(f'{q:.3f}' for q in ratios)}; median kit/bare = {med:.3f} "
          f"(goal <= {GOAL}: {'met' if med <= GOAL else 'NOT met'}); median CPU ratio "
          f"{statistics.median(cpu_ratios):.3f}; the kit takes {extra:+.2f} s more per run (median)")

    names = {"data": "data (DataLoader next)", "train": "train step", "other": "rest of the epoch loop",
             "eval": "validation", "outside": "outside the epochs (set-up, test eval, wrap-up)"}
    mk = {p: statistics.median(k["phases"][p] for k in kit) for p in names}
    mb = {p: statistics.median(b["phases"][p] for b in bare) for p in names}
    gap = sum(mk.values()) - sum(mb.values())
    rows = [[names[p], f"{mk[p]:.3f}", f"{mb[p]:.3f}", f"{mk[p] - mb[p]:+.3f}",
             f"{100 * (mk[p] - mb[p]) / gap:.0f}%" if gap > 0 else "-"] for p in names]
    rows.append(["**total**", f"{sum(mk.values()):.3f}", f"{sum(mb.values()):.3f}", f"{gap:+.3f}", "100%"])
    print("\n### Where the time goes (medians over rounds; kit: its cost ledger and history, bare: the same points "
          "timed)\n")
    print(md_table(["phase (all epochs)", "kit s", "bare s", "kit - bare s", "share of the gap"], rows))

    k0 = [k["train_loss0"] for k in kit]
    b0 = [b["train_loss0"] for b in bare]
    rel = max(abs(a - c) / max(abs(c), 1e-12) for a, c in zip(k0, b0))
    kf, bf = max(kit[-1]["val_f1"]), max(bare[-1]["val_f1"])
    print(f"\nsame work: epoch-0 train loss kit {k0[-1]:.5f}, bare {b0[-1]:.5f} "
          f"(max rel. diff {rel:.1e} <= {LOSS_RTOL:g}): {rel <= LOSS_RTOL}")
    print(f"similar best val macro-F1: kit {kf:.4f}, bare {bf:.4f} (|diff| {abs(kf - bf):.4f} <= {F1_TOL}): "
          f"{abs(kf - bf) <= F1_TOL}")
    print(f"test macro-F1 with the best weights: kit {kit[-1]['test_f1']:.4f}, bare {bare[-1]['test_f1']:.4f}")

    if args.profile:
        k_stats, k_wall = profile("kit", data, args.epochs, args.seed)
        b_stats, b_wall = profile("bare", data, args.epochs, args.seed, loader_iters=iters)
        print_profile(k_stats, k_wall, b_stats, b_wall, args.top)
    print(f"\n{machine().split(';')[-1].strip()} at the end; total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
