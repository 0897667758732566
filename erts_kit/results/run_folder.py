"""A run folder's files as the grid reads them: settings, finished results, damaged-file errors.

:func:`check_settings` compares a folder's ``settings.json`` with the run about to start (naming
each setting that differs); :func:`finished_row` reads a finished run's ``result.json`` and checks
its ``history.csv``; a damaged file is a ValueError naming it and how to recompute it.
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._atomic import atomic_write
from ..training.config import comparable_config

__all__ = ["RunMismatch", "atomic_json", "check_settings", "damaged_file", "differences", "finished_row", "jsonable",
           "read_json"]


def damaged_file(path: str | Path, exc: BaseException, fix: str) -> ValueError:
    """A ValueError naming a damaged file, the reason and the fix (unless the reason names it already).

    Example:
        >>> str(damaged_file("r/result.json", ValueError("Expecting value"), "delete it to recompute the run"))
        'r/result.json is damaged (Expecting value): delete it to recompute the run.'
    """
    reason = " ".join(str(exc).split()) or type(exc).__name__
    if str(path) in reason:
        return ValueError(f"{reason}; {fix}.")
    return ValueError(f"{path} is damaged ({reason}): {fix}.")


def jsonable(v: Any) -> Any:
    """``v`` with numpy scalars, paths and non-finite floats made JSON-ready (NaN/inf become None).

    Example:
        >>> jsonable({"a": np.int64(3), "b": float("nan"), 1: (Path("x"),)})
        {'a': 3, 'b': None, '1': ['x']}
    """
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, Path):
        return str(v)
    return v


def atomic_json(path: Path, obj: Any) -> None:
    """Write ``obj`` (made :func:`jsonable`) to ``path`` atomically.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "r.json"
        >>> atomic_json(p, {"x": np.float32(0.5)}); read_json(p, "delete it")
        {'x': 0.5}
    """
    atomic_write(path, lambda f: f.write(json.dumps(jsonable(obj), indent=1).encode()))


class RunMismatch(ValueError):
    """A run folder holds a run with other settings; ``run_dir`` and ``differences`` (one text per setting)."""

    def __init__(self, message: str, run_dir: Path, differences: list[str]):
        super().__init__(message)
        self.run_dir, self.differences = run_dir, differences


def read_json(path: Path, fix: str) -> dict[str, Any]:
    """A JSON object from ``path``; a damaged file is a ValueError naming it and ``fix``.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "result.json"
        >>> _ = p.write_text("{")
        >>> read_json(p, "delete it to recompute the run")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: .../result.json is damaged (Expecting property name ...): delete it to recompute the run.
    """
    try:
        obj = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise damaged_file(path, exc, fix) from None
    if not isinstance(obj, dict):
        raise damaged_file(path, ValueError(f"expected a JSON object, got {type(obj).__name__}"), fix)
    return obj


def differences(old: Any, new: Any, key: str = "") -> list[str]:
    """``'train.lr: 0.0003 there, 0.0005 now'`` for each setting that differs (nested keys joined by dots).

    Example:
        >>> differences({"train": {"lr": 3e-4}, "epochs": 3}, {"train": {"lr": 5e-4}, "epochs": 3})
        ['train.lr: 0.0003 there, 0.0005 now']
    """
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(set(old) | set(new), key=str)
                for d in differences(old.get(k), new.get(k), f"{key}.{k}" if key else str(k))]
    return [] if old == new else [f"{key or 'settings'}: {old!r} there, {new!r} now"]


def check_settings(run_dir: Path, settings: dict[str, Any], on_mismatch: str) -> None:
    """Refuse (:class:`RunMismatch`) or, with ``on_mismatch="overwrite"``, delete a run folder of other settings.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> atomic_json(d / "settings.json", {"epochs": 3})
        >>> check_settings(d, {"epochs": 3}, "raise")   # the same run: nothing to say
        >>> check_settings(d, {"epochs": 4}, "raise")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        erts_kit.results.run_folder.RunMismatch: ... holds a run with other settings (...: epochs: 3 there, 4 now)...
    """
    path = run_dir / "settings.json"
    if not path.exists():
        return
    try:
        old = read_json(path, f"delete it (or the run folder {run_dir}) to recompute the run")
    except ValueError:
        if on_mismatch != "overwrite":
            raise
        old = None
    new = jsonable(settings)
    if isinstance(old, dict) and isinstance(old.get("train"), dict) and isinstance(new.get("train"), dict):
        # TrainConfig fields added since the run was saved: compared at the values that reproduce it
        old, new = {**old, "train": comparable_config(old["train"])}, {**new, "train": comparable_config(new["train"])}
    if old == new:
        return
    if on_mismatch == "overwrite":
        shutil.rmtree(run_dir)
        return
    diff = differences(old, new)
    shown = "; ".join(diff[:4]) + (f"; and {len(diff) - 4} more" if len(diff) > 4 else "")
    raise RunMismatch(f"{run_dir} holds a run with other settings ({path}: {shown}). Use another --out folder, "
                      f"delete {run_dir}, or rerun with --no-resume to retrain every run from scratch.", run_dir, diff)


def finished_row(run_dir: Path) -> dict[str, Any]:
    """The results row of a finished run (``result.json``), its ``history.csv`` checked to be readable.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> atomic_json(d / "result.json", {"policy": "full", "seed": 0})
        >>> finished_row(d)
        {'policy': 'full', 'seed': 0}
    """
    result = run_dir / "result.json"
    row = read_json(result, "delete it to recompute the run's results (it resumes from last.pt)")
    history = run_dir / "history.csv"
    if history.exists():
        try:
            ok = "epoch" in pd.read_csv(history, nrows=1).columns
        except (ValueError, UnicodeDecodeError) as exc:
            raise damaged_file(history, exc, f"delete it and {result} to recompute them (the run resumes "
                                             "from last.pt)") from None
        if not ok:
            raise damaged_file(history, ValueError("no 'epoch' column"), f"delete it and {result} to recompute "
                                                                         "them (the run resumes from last.pt)")
    return row
