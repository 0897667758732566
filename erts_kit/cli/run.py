"""The parts of ``erts-kit train`` / ``compare`` / ``demo`` that run inside the locked output folder.

:mod:`erts_kit.cli` validates the settings, checks the data folder and locks ``--out``
(:func:`erts_kit._lock.lock_folder`); then :func:`grid_locked` / :func:`demo_locked` load the data,
run the grid, print the table and write the report (:func:`finish`).
"""
from __future__ import annotations

import argparse
import os
import time
import zipfile
from pathlib import Path
from typing import Any

from .errors import UserError

__all__ = ["check_data_folder", "demo_locked", "finish", "grid_locked", "load_note", "machine_note"]


def finish(df, data, out: Path, model: str, model_kwargs: dict, title: str, notes: list[str],
           progress: bool) -> Path:
    """Print the comparison table, write the report (with examples from the first ERTS run).

    Raises:
        ValueError: the first ERTS run's ``selection_log.npz`` is damaged (the message names it and the fix).
    """
    from ..results import (
        comparison_table,
        filter_table,
        load_histories,
        markdown_table,
        pick_examples,
        run_name,
        write_report,
    )
    from ..results.tables import counted_note, per_class_table
    table = comparison_table(df)
    examples, ftab = None, None
    xai = df[df["policy"].astype(str).str.startswith("xai_")]
    if len(xai):
        first = xai.iloc[0]
        run_dir = out / run_name(first["policy"], int(first["seed"]))
        try:
            examples = pick_examples(run_dir, data, model, n=3, model_kwargs=model_kwargs)
        except FileNotFoundError:
            examples = None
        except (zipfile.BadZipFile, EOFError) as exc:   # a damaged selection_log.npz (np.load's errors)
            from ..results.run_folder import damaged_file
            raise damaged_file(run_dir / "selection_log.npz", exc, f"delete it and {run_dir / 'result.json'} to "
                               "recompute them (the run resumes from last.pt)") from None
        if isinstance(first.get("filter_by_kind"), dict) and first["filter_by_kind"]:
            ftab = filter_table({"by_kind": first["filter_by_kind"]})
    path = write_report(df, load_histories(out, df), out, examples, title=title, notes=notes, filter_stats=ftab)
    print()
    print(markdown_table(table))
    per_class = per_class_table(df)
    if not per_class.empty:
        note = counted_note(df)
        print(f"\nper class (test split; Se, +P, Sp, F1 as in AAMI EC57{'; ' + note if note else ''}):")
        print(markdown_table(per_class))
    if "full" in set(df["policy"]) and df["policy"].nunique() > 1:
        from ..results.stats import paired_differences, paired_table
        print("\nmacro-F1 vs full, paired by seed (95% intervals; wall-clock ratio from this grid):\n")
        print(markdown_table(paired_table(paired_differences(df, n_boot=2000))))
    for n in notes:
        print(f"  * {n}")
    print(f"\nreport: {path}  |  {path.with_suffix('.html')}  |  results: {out / 'results.csv'}")
    return path


def check_data_folder(dataset: str, data_dir: str | None) -> None:
    """A missing database folder is refused (FileNotFoundError saying how to get it) before ``--out`` is created.

    Example:
        >>> check_data_folder("synthetic", None)   # nothing to check
    """
    from ..data import DEFAULT_DATA_DIRS, load_dataset
    folder = str(data_dir or DEFAULT_DATA_DIRS.get(dataset, ""))
    folders = folder.split(",") if dataset == "mitbih" else [folder]   # MIT-BIH: "ds1,ds2" is two folders
    if dataset != "synthetic" and not all(Path(f.strip()).expanduser().is_dir() for f in folders if f.strip()):
        load_dataset(dataset, data_dir)   # raises FileNotFoundError with how to get it


def grid_locked(args: argparse.Namespace, s: dict[str, Any], policies: list[str], cfg, out: Path) -> int:
    """``erts-kit train`` / ``compare`` once ``out`` is locked: load the data, run the grid, print, report."""
    from ..data import load_dataset
    from ..results import run_grid
    data = load_dataset(s["dataset"], cfg.data_dir, **cfg.data_kwargs)
    t0 = time.perf_counter()
    df = run_grid(data, policies, s["seeds"], s["model"], s["epochs"], out, cfg, resume=not args.no_resume,
                  progress=not args.no_progress)
    notes = [(f"{data.name}: {data.n_samples} records x {data.n_leads} leads x {data.n_timesteps} samples; "
             f"model {s['model']}; {s['epochs']} epochs; seeds {', '.join(map(str, s['seeds']))}"),
             f"losses: {', '.join(sorted({f'{p}: {cfg.loss_for(p)}' for p in df['policy']}))}",
             f"fidelity: {cfg.fidelity}" + (" (the ERTS reference code's behaviour)" if cfg.fidelity == "reference"
                                            else ""),
             (f"schedule: warm-up {cfg.warm_up} epochs, ERTS filter from epoch {cfg.warm_up + cfg.cam_start} "
             f"(counted from 0; paper: 5 and 8), phi {cfg.phi}, tau {cfg.tau}"),
             machine_note(df),
             (f"this command: {len(df.attrs.get('executed', []))} run(s) trained, {len(df.attrs.get('skipped', []))} "
             f"reused from {out}, {time.perf_counter() - t0:.0f} s{load_note()}")]
    finish(df, data, out, s["model"], cfg.model_kwargs_for(s["model"]), f"erts-kit {args.command}: {', '.join(policies)}",
           notes, not args.no_progress)
    return 0


def machine_note(df) -> str:
    """Where the wall-clock columns were measured: architecture, cores, torch and the training device.

    Example:
        >>> import pandas as pd
        >>> machine_note(pd.DataFrame({"device": ["cpu"]})).startswith("machine: ")
        True
    """
    import platform

    import torch
    device = str(df["device"].iloc[0]) if "device" in df.columns and len(df) else "unknown"
    return (f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, training device "
            f"{device}")


def load_note() -> str:
    """The machine's load next to its core count: wall-clock comparisons need an otherwise idle machine.

    Example:
        >>> load_note().startswith(" (") or load_note() == ""
        True
    """
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - Windows
        return ""
    return (f" ({os.cpu_count()} cores, load average {load:.1f}: wall-clock columns compare policies only "
            "when the machine is otherwise idle)")


def demo_locked(args: argparse.Namespace, d: dict[str, Any], cfg, warm_up: int, cam_start: int, out: Path,
                t0: float) -> int:
    """``erts-kit demo`` once ``out`` is locked: train, print, report; a run of other settings is refused.

    Without ``--overwrite`` the demo never deletes a run it did not make: a run folder in ``out``
    holding other settings is a :class:`~erts_kit.cli.errors.UserError` naming it and the flag.
    """
    from ..data import load_dataset
    from ..results.grid import RunMismatch, run_grid
    progress = not args.no_progress
    data = load_dataset("synthetic", **cfg.data_kwargs)
    print(f"erts-kit demo: synthetic ECGs, {data.n_samples} records x {data.n_leads} leads x {data.n_timesteps} "
          f"samples ({d['label_flip_rate']:.0%} flipped labels, {d['artifact_rate']:.0%} artefacts in train), "
          f"{d['model']}, {d['epochs']} epochs, policies {', '.join(d['policies'])}", flush=True)
    try:
        df = run_grid(data, d["policies"], [d["seed"]], d["model"], d["epochs"], out, cfg, resume=True,
                      progress=progress, on_mismatch="overwrite" if args.overwrite else "raise")
    except RunMismatch as exc:
        raise UserError(f"{exc.run_dir} holds a run with other settings ({'; '.join(exc.differences[:3])}"
                        f"{'; ...' if len(exc.differences) > 3 else ''}): the demo does not replace a run it did not "
                        f"make. Use another --out folder, or pass --overwrite to replace it.") from None
    n_corrupt = int(data.meta.loc[data.splits["train"], "corrupted"].sum())
    notes = [(f"synthetic benchmark: {data.n_samples} records ({len(data.splits['train'])} train, of which "
             f"{n_corrupt} corrupted: flipped label or heavy artefact; val/test clean); small_cnn; "
             f"{d['epochs']} epochs; seed {d['seed']}; loss {cfg.loss} for every policy; AdamW lr {cfg.lr}"),
             (f"ERTS schedule SCALED for a short run: warm-up {warm_up} epochs, focus filter from epoch "
             f"{warm_up + cam_start} (counted from 0) instead of the paper's 5 and 8; phi {cfg.phi}, tau {cfg.tau}"),
             "filter precision/recall: sample-epochs of the filter epochs, against the known corrupted samples",
             f"total demo time {time.perf_counter() - t0:.0f} s on {df['device'].iloc[0]}{load_note()}"]
    finish(df, data, out, d["model"], {}, "erts-kit demo: Full vs DBPD vs ERTS on synthetic ECGs", notes, progress)
    print(f"demo finished in {time.perf_counter() - t0:.0f} s")
    return 0
