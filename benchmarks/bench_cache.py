"""Cache benchmark: first read of a WFDB tree vs cached (memory-mapped) load, and peak memory of a
memory-mapped PTB-XL-sized cache.

1. Writes a PTB-XL-like tree of ``--records`` records (12 leads x 1000 samples at 100 Hz, the
   PTB-XL 100 Hz shape) with ``wfdb.wrsamp`` in a temp folder, then, in this one process:
   ``load_ptbxl(cache_dir=...)`` cold (reads every record + writes the cache) and again warm
   (opens the memory map), plus the warm load followed by a full pass over the signals.
2. Creates a cache of shape (21,799, 12, 1000) float32 (~1 GB) in /tmp, then in a fresh Python
   process measures resident memory (VmRSS / VmHWM) after importing erts_kit, after opening the
   cache and after reading a random batch of 256 samples; deletes it afterwards.

Run: ``python benchmarks/bench_cache.py [--records 2000] [--skip-big]``. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fixtures_wfdb import make_ptbxl_tree

from erts_kit.data.cache import cache_folder, save_cache
from erts_kit.data.dataset import ECGData
from erts_kit.data.ptbxl import load_ptbxl

SEED = 42

_PROBE = r"""
import json, sys, time
def mem():
    out = {}
    for line in open("/proc/self/status"):
        if line.startswith(("VmRSS", "VmHWM", "RssAnon", "RssFile")):
            out[line.split(":")[0]] = int(line.split()[1]) / 1024.0
    return out
import numpy as np
import erts_kit.data.cache as c
r = {"after_import": mem()}
t = time.perf_counter()
d = c.load_cache(sys.argv[1], json.loads(sys.argv[2]))
if sys.argv[3] == "random":  # no kernel read-ahead into the mapping
    import mmap
    d.signals._mmap.madvise(mmap.MADV_RANDOM)
r["open_s"] = time.perf_counter() - t
r["after_open"] = mem()
idx = np.sort(np.random.default_rng(42).choice(d.n_samples, 256, replace=False))
t = time.perf_counter()
batch = np.asarray(d.signals[idx])
r["batch_s"] = time.perf_counter() - t
r["after_batch"] = mem()
r["shape"] = list(d.signals.shape)
print(json.dumps(r))
"""


def bench_first_vs_cached(n_records: int) -> list[tuple[str, str]]:
    tmp = Path(tempfile.mkdtemp(prefix="erts_bench_cache_"))
    try:
        t = time.perf_counter()
        codes = [{"NORM": 100.0} if i % 3 else {"IMI": 80.0} for i in range(n_records)]
        root = make_ptbxl_tree(tmp / "ptbxl", codes, seed=SEED)
        t_write = time.perf_counter() - t
        t = time.perf_counter()
        first = load_ptbxl(root, cache_dir=tmp / "cache", progress=False)
        t_first = time.perf_counter() - t
        t = time.perf_counter()
        again = load_ptbxl(root, cache_dir=tmp / "cache", progress=False)
        t_cached = time.perf_counter() - t
        t = time.perf_counter()
        again2 = load_ptbxl(root, cache_dir=tmp / "cache", progress=False)
        total = float(np.asarray(again2.signals, dtype=np.float64).sum())  # touch every sample
        t_cached_full = time.perf_counter() - t
        assert np.array_equal(first.signals, again.signals) and np.isfinite(total)
        shape = "x".join(map(str, again.signals.shape))
        return [
            ("WFDB tree", f"{n_records} records, 12 x 1000 @ 100 Hz (written in {t_write:.1f} s)"),
            ("first read (WFDB + z-score + write cache)", f"{t_first:.2f} s"),
            ("cached load (open memory map)", f"{t_cached * 1000:.1f} ms"),
            ("cached load + full pass over signals", f"{t_cached_full * 1000:.1f} ms"),
            ("speed-up first / cached", f"{t_first / t_cached:.0f}x"),
            ("speed-up first / (cached + full pass)", f"{t_first / t_cached_full:.0f}x"),
            ("cached signals", f"{shape} float32 memmap"),
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench_big_mmap(n: int = 21_799, leads: int = 12, t_len: int = 1000) -> list[tuple[str, str]]:
    tmp = Path(tempfile.mkdtemp(prefix="erts_bench_mmap_", dir="/tmp"))
    try:
        src = np.lib.format.open_memmap(tmp / "src.npy", mode="w+", dtype=np.float32, shape=(n, leads, t_len))
        rng = np.random.default_rng(SEED)
        for i in range(0, n, 1000):
            src[i:i + 1000] = rng.standard_normal((min(1000, n - i), leads, t_len), dtype=np.float32)
        src.flush()
        data = ECGData(signals=src, labels=np.zeros(n, np.int64), class_names=["NORM"], fs=100.0,
                       splits={"train": np.arange(n)}, name="ptbxl-sized")
        key = {"bench": "ptbxl-sized", "seed": SEED}
        folder = save_cache(data, cache_folder(tmp / "cache", key), key)
        del src, data
        (tmp / "src.npy").unlink()
        size_gb = (folder / "signals.npy").stat().st_size / 1e9
        runs = {}
        for advice in ("normal", "random"):
            out = subprocess.run([sys.executable, "-c", _PROBE, str(folder), json.dumps(key), advice],
                                 capture_output=True, text=True, check=True)
            runs[advice] = json.loads(out.stdout.strip().splitlines()[-1])
        r, rr = runs["normal"], runs["random"]
        base = r["after_import"]["VmRSS"]
        return [
            ("memory-mapped cache", f"{'x'.join(map(str, r['shape']))} float32, {size_gb:.2f} GB on disk"),
            ("RSS after importing erts_kit", f"{base:.0f} MiB"),
            ("RSS after opening the cache", (f"{r['after_open']['VmRSS']:.0f} MiB "
                                             f"(+{r['after_open']['VmRSS'] - base:.0f} MiB, "
                                             f"open {r['open_s'] * 1000:.1f} ms)")),
            ("RSS after reading a random batch of 256", (f"{r['after_batch']['VmRSS']:.0f} MiB "
                                                         f"(+{r['after_batch']['VmRSS'] - base:.0f} MiB, "
                                                         f"{r['batch_s'] * 1000:.1f} ms)")),
            ("  of which anonymous (process-private) / file-backed (page cache)",
             f"{r['after_batch']['RssAnon']:.0f} MiB / {r['after_batch']['RssFile']:.0f} MiB "
             f"(after import: {r['after_import']['RssAnon']:.0f} / {r['after_import']['RssFile']:.0f})"),
            ("peak RSS (VmHWM) of that process", f"{r['after_batch']['VmHWM']:.0f} MiB"),
            ("same batch with madvise(MADV_RANDOM) on the map: RSS", (
                f"{rr['after_batch']['VmRSS']:.0f} MiB (+{rr['after_batch']['VmRSS'] - rr['after_import']['VmRSS']:.0f}"
                f" MiB; anon / file {rr['after_batch']['RssAnon']:.0f} / {rr['after_batch']['RssFile']:.0f} MiB, "
                f"{rr['batch_s'] * 1000:.1f} ms)")),
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--skip-big", action="store_true", help="skip the 1 GB memory-map measurement")
    ap.add_argument("--skip-small", action="store_true", help="skip the first-read vs cached measurement")
    args = ap.parse_args()
    rows = [] if args.skip_small else bench_first_vs_cached(args.records)
    if not args.skip_big:
        rows += bench_big_mmap()
    print("| measurement | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
