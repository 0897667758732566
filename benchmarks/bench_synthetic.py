"""Benchmark: how fast does ``make_synthetic`` generate the embedded ECG benchmark on one CPU core?

Run: ``python benchmarks/bench_synthetic.py`` (add ``--quick`` for a 2,000-sample-only run).
Prints a Markdown table: samples, leads, T, corruption rates, best-of-``--repeat`` wall and CPU seconds
(CPU time = this process only, which is what matters on a shared machine), samples/s.
numpy is pinned to one thread (OMP/OPENBLAS/MKL_NUM_THREADS=1, set before numpy is imported).
"""
from __future__ import annotations

import argparse
import os
import platform
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np

from erts_kit.data.synthetic import make_synthetic

CASES = [  # (n_samples, n_leads, fs, label_flip_rate, artifact_rate)
    (2_000, 12, 100, 0.0, 0.0),
    (2_000, 12, 100, 0.2, 0.2),
    (10_000, 12, 100, 0.0, 0.0),
    (10_000, 12, 100, 0.2, 0.2),
    (2_000, 12, 500, 0.0, 0.0),
]


def run(cases, repeat: int, seed: int) -> list[dict]:
    rows = []
    for n, leads, fs, flip, art in cases:
        best, best_cpu = np.inf, np.inf
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            d = make_synthetic(n_samples=n, n_leads=leads, fs=fs, seed=seed, label_flip_rate=flip,
                               artifact_rate=art)
            best = min(best, time.perf_counter() - t0)
            best_cpu = min(best_cpu, time.process_time() - c0)
            shape = d.signals.shape
            del d
        rows.append({"n": n, "leads": shape[1], "T": shape[2], "fs": fs, "flip": flip, "artifact": art,
                     "seconds": best, "cpu_seconds": best_cpu, "samples_per_s": n / best})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--quick", action="store_true", help="only the 2,000-sample cases")
    args = ap.parse_args()
    cases = [c for c in CASES if not args.quick or c[0] <= 2_000]
    rows = run(cases, args.repeat, args.seed)
    print(f"machine: {platform.machine()} {platform.processor() or ''}, numpy {np.__version__}, "
          f"threads=1, seed={args.seed}, best of {args.repeat}\n")
    print("| samples | leads | T | fs (Hz) | flip rate | artifact rate | wall s | CPU s | samples/s (wall) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['n']:,} | {r['leads']} | {r['T']} | {r['fs']} | {r['flip']} | {r['artifact']} | "
              f"{r['seconds']:.2f} | {r['cpu_seconds']:.2f} | {r['samples_per_s']:,.0f} |")


if __name__ == "__main__":
    main()
