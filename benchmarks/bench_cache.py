"""Cache benchmark: first read of a WFDB tree vs cached (memory-mapped) load, and peak memory of a
memory-mapped PTB-XL-sized cache.

1. Writes a PTB-XL-like tree of ``--records`` records (12 leads x 1000 samples at 100 Hz, the
   PTB-XL 100 Hz shape) in a temp folder: ``--distinct`` records with ``wfdb.wrsamp`` (default:
   all of them), the others as hard links of those ``.dat`` files under their own names, each with
   its own header (writing 21,799 records with ``wfdb.wrsamp`` takes far longer than reading them). Then, in this one process, for each
   record reader (``--engines``: ``wfdb`` = ``wfdb.rdrecord``, the reader before the fast one;
   ``fast`` = :mod:`erts_kit.data.wfdb_fast`) in turn: ``load_ptbxl(cache_dir=...)`` cold (reads
   every record + z-score + writes the cache; wall and process CPU seconds); the signals of the
   engines are compared (equal). With ``fast``, also the warm load (opens the memory map) and the
   warm load followed by a full pass over the signals. The 1-minute load average is printed
   before and after (the dev machine is shared).
2. Creates a cache of shape (21,799, 12, 1000) float32 (~1 GB) in /tmp, then in a fresh Python
   process measures resident memory (VmRSS / VmHWM) after importing erts_kit, after opening the
   cache and after reading a random batch of 256 samples; deletes it afterwards.

Run: ``python benchmarks/bench_cache.py [--records 2000] [--distinct N] [--engines wfdb fast] [--skip-big]``.
Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import pandas as pd
from fixtures_wfdb import make_ptbxl_tree

from erts_kit.data._wfdb_io import record_engine
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


def write_tree(root: Path, n_records: int, distinct: int) -> Path:
    """PTB-XL-like tree: ``distinct`` records by wfdb.wrsamp, the rest hard links (or copies) of their
    ``.dat`` files under their own names, each with its own header."""
    distinct = min(distinct, n_records)
    codes = [{"NORM": 100.0} if i % 3 else {"IMI": 80.0} for i in range(n_records)]
    make_ptbxl_tree(root, codes[:distinct], seed=SEED)
    if n_records == distinct:
        return root
    db = pd.read_csv(root / "ptbxl_database.csv")
    src = db.iloc[np.arange(distinct, n_records) % distinct].reset_index(drop=True)
    ids = np.arange(distinct, n_records) + 1
    rels = [f"records100/{(i // 1000) * 1000:05d}/{i:05d}_lr" for i in ids]
    headers = {rel: (root / f"{rel}.hea").read_text() for rel in db["filename_lr"]}
    for rel, src_rel in zip(rels, src["filename_lr"]):
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(root / f"{src_rel}.dat", root / f"{rel}.dat")
        except OSError:
            shutil.copyfile(root / f"{src_rel}.dat", root / f"{rel}.dat")
        dest.with_name(dest.name + ".hea").write_text(headers[src_rel].replace(Path(src_rel).name, dest.name))
    src["ecg_id"], src["filename_lr"] = ids, rels
    src["scp_codes"] = [repr(c) for c in codes[distinct:]]
    src["strat_fold"] = (ids - 1) % 10 + 1
    pd.concat([db, src], ignore_index=True).to_csv(root / "ptbxl_database.csv", index=False)
    return root


def _timed(fn):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def bench_first_vs_cached(n_records: int, distinct: int | None = None,
                          engines: tuple[str, ...] = ("wfdb", "fast")) -> list[tuple[str, str]]:
    tmp = Path(tempfile.mkdtemp(prefix="erts_bench_cache_"))
    try:
        distinct = n_records if distinct is None else distinct
        root, t_write, _ = _timed(lambda: write_tree(tmp / "ptbxl", n_records, distinct))
        rows = [("WFDB tree", f"{n_records} records, 12 x 1000 @ 100 Hz, format 16 ({min(distinct, n_records)} "
                              f"written by wfdb.wrsamp, the rest hard links of their .dat files with their own headers; {t_write:.1f} s)"),
                ("load average (1 min) before", f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")]
        firsts = {}
        for engine in engines:
            with record_engine(engine):
                data, wall, cpu = _timed(lambda: load_ptbxl(root, cache_dir=tmp / f"cache_{engine}", progress=False))
            firsts[engine] = (data, wall)
            rows.append((f"first read, {engine} reader (records + z-score + write cache)",
                         f"{wall:.2f} s wall, {cpu:.2f} s CPU ({wall / n_records * 1000:.2f} ms a record)"))
        if {"wfdb", "fast"} <= set(firsts):
            same = np.array_equal(firsts["wfdb"][0].signals, firsts["fast"][0].signals)
            rows.append(("speed-up of the first read, fast / wfdb", f"{firsts['wfdb'][1] / firsts['fast'][1]:.1f}x"))
            rows.append(("signals of both readers equal", str(same)))
        engine = "fast" if "fast" in firsts else engines[0]
        first, t_first = firsts[engine]
        with record_engine(engine):
            again, t_cached, _ = _timed(lambda: load_ptbxl(root, cache_dir=tmp / f"cache_{engine}", progress=False))
            _, t_cached_full, _ = _timed(lambda: float(np.asarray(
                load_ptbxl(root, cache_dir=tmp / f"cache_{engine}", progress=False).signals, dtype=np.float64).sum()))
        assert np.array_equal(first.signals, again.signals)
        shape = "x".join(map(str, again.signals.shape))
        rows += [
            ("cached load (open memory map)", f"{t_cached * 1000:.1f} ms"),
            ("cached load + full pass over signals", f"{t_cached_full * 1000:.1f} ms"),
            (f"speed-up first ({engine}) / cached", f"{t_first / t_cached:.0f}x"),
            (f"speed-up first ({engine}) / (cached + full pass)", f"{t_first / t_cached_full:.0f}x"),
            ("cached signals", f"{shape} float32 memmap"),
            ("load average (1 min) after", f"{os.getloadavg()[0]:.1f}"),
        ]
        return rows
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
    ap.add_argument("--distinct", type=int, default=None,
                    help="records written by wfdb.wrsamp (default all); the rest are hard links of those")
    ap.add_argument("--engines", nargs="+", default=["wfdb", "fast"], choices=["wfdb", "fast"],
                    help="record readers to time, in this order")
    ap.add_argument("--skip-big", action="store_true", help="skip the 1 GB memory-map measurement")
    ap.add_argument("--skip-small", action="store_true", help="skip the first-read vs cached measurement")
    args = ap.parse_args()
    rows = [] if args.skip_small else bench_first_vs_cached(args.records, args.distinct, tuple(args.engines))
    if not args.skip_big:
        rows += bench_big_mmap()
    print("| measurement | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
