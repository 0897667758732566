"""Checkpoints that load with ``torch.load(..., weights_only=True)``: tensors and plain containers only.

A kit checkpoint is a dict with ``"format": "erts_kit.checkpoint"`` and a version, written atomically
(temporary file in the same folder, fsync, ``os.replace``) so a crash mid-write never leaves a
half-written ``last.pt``. Everything that is not a tensor or a primitive (numpy RNG state, DataFrames)
is converted here, so nothing pickled is ever needed to read one back.
"""
from __future__ import annotations

import os
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .._atomic import atomic_write

FORMAT = "erts_kit.checkpoint"
VERSION = 1


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists, tuples, dicts) atomically to ``path``.

    Example:
        >>> import tempfile, os
        >>> p = save_checkpoint(os.path.join(tempfile.mkdtemp(), "a.pt"), {"epoch": 3})
        >>> load_checkpoint(p)["epoch"]
        3
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {**state, "format": FORMAT, "version": VERSION}
    atomic_write(path, lambda fh: torch.save(payload, fh))
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a kit checkpoint safely (``weights_only=True``: pickled objects are refused).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a torch file, holds pickled objects, or is not a kit checkpoint.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "x.pt"); torch.save({"w": torch.ones(1)}, p)
        >>> load_checkpoint(p)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: ... is not an erts_kit checkpoint ...
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}: check run_dir (expected best.pt or last.pt there).")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(f"Refusing to load {path}: it holds pickled Python objects, which a kit checkpoint "
                         f"never does (loaded with weights_only=True). Only load files you trust. ({err})"
                         .split("\n")[0]) from None
    except Exception as err:  # not a zip/pickle file at all
        raise ValueError(f"{path} is not a torch checkpoint ({type(err).__name__}: {err}).") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        keys = list(obj)[:8] if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(f"{path} is not an erts_kit checkpoint (expected a dict with format={FORMAT!r}, "
                         f"got {keys}): save it with erts_kit.training.save_checkpoint.")
    if obj.get("version", 0) > VERSION:
        raise ValueError(f"{path} has checkpoint version {obj['version']}, this erts_kit reads up to {VERSION}: "
                         "upgrade erts_kit.")
    return obj


def frame_to_dict(df: pd.DataFrame) -> dict[str, list]:
    """DataFrame -> ``{column: list of Python scalars}`` (NaN kept as float nan).

    Example:
        >>> frame_to_dict(pd.DataFrame({"a": [1, 2]}))
        {'a': [1, 2]}
    """
    return {str(c): df[c].tolist() for c in df.columns}


def rng_state(generator: torch.Generator | None = None) -> dict[str, Any]:
    """Every RNG the loop touches: torch, numpy, python ``random``, CUDA (if any) and ``generator``.

    Example:
        >>> s = rng_state(); a = (torch.rand(1), np.random.rand(), random.random())
        >>> set_rng_state(s); a == (torch.rand(1), np.random.rand(), random.random())
        True
    """
    np_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"bit_generator": np_state["bit_generator"],
                  "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
                  "pos": int(np_state["state"]["pos"]), "has_gauss": int(np_state["has_gauss"]),
                  "gauss": float(np_state["gauss"])},
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if generator is not None:
        state["generator"] = generator.get_state()
    return state


def set_rng_state(state: dict[str, Any], generator: torch.Generator | None = None) -> None:
    """Restore what :func:`rng_state` captured (CUDA only if present on both sides)."""
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    np.random.set_state({"bit_generator": n["bit_generator"],
                         "state": {"key": n["key"].numpy().astype(np.uint32), "pos": n["pos"]},
                         "has_gauss": n["has_gauss"], "gauss": n["gauss"]})
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    if generator is not None and "generator" in state:
        generator.set_state(state["generator"].cpu())
