"""Checkpoints that load with ``torch.load(..., weights_only=True)``: tensors and plain containers only.

A kit checkpoint is a dict with ``"format": "erts_kit.checkpoint"`` and a version, written atomically
(temporary file in the same folder, fsync, ``os.replace``) so a crash mid-write never leaves a
half-written ``last.pt``. Everything that is not a tensor or a primitive (numpy RNG state, DataFrames)
is converted here, so nothing pickled is ever needed to read one back.

Integrity: since checkpoint version 2 the file carries ``"content_sha256"``, a SHA-256 of everything
else it holds (every key, tensor dtype, shape and byte, every number and string), written in the same
atomic write as the data. :func:`load_checkpoint` recomputes it and refuses a file whose content
changed on disk (zeroed blocks, flipped bytes) instead of training or evaluating on damaged weights.
Version-1 files (written before this check) still load, unverified, with a warning.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .._atomic import atomic_write

FORMAT = "erts_kit.checkpoint"
VERSION = 2  # 2: carries DIGEST_KEY, checked on load; 1: no digest (loads unverified)
DIGEST_KEY = "content_sha256"
_FIX = "Recompute it: delete the run folder that holds it, or start again with --no-resume (a new run_dir in Python)."


def _feed(h: Any, obj: Any) -> None:
    """Feed ``obj`` (tensors, containers, primitives) into hash ``h``, type- and structure-tagged."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach()
        t = (t.to_dense() if t.layout != torch.strided else t).cpu().resolve_conj().resolve_neg().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}|".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy())
    elif isinstance(obj, dict):
        h.update(f"D{len(obj)}|".encode())
        for k, v in obj.items():
            _feed(h, k)
            _feed(h, v)
    elif isinstance(obj, (list, tuple)):
        h.update(f"{'L' if isinstance(obj, list) else 'U'}{len(obj)}|".encode())
        for v in obj:
            _feed(h, v)
    else:
        r = repr(obj).encode("utf-8", "backslashreplace")
        h.update(f"{type(obj).__name__}{len(r)}|".encode())
        h.update(r)


def content_digest(obj: Any) -> str:
    """SHA-256 (hex) of a checkpoint's content: keys, order, tensor dtypes, shapes and bytes, primitives.

    Equal for a state and its copy loaded back from disk (on any device); any changed byte of a
    tensor, number, string or key changes it.

    Example:
        >>> a = content_digest({"w": torch.zeros(2), "epoch": 1})
        >>> a == content_digest({"w": torch.zeros(2), "epoch": 1}), a == content_digest({"w": torch.ones(2), "epoch": 1})
        (True, False)
    """
    h = hashlib.sha256()
    _feed(h, obj)
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists, tuples, dicts) atomically to ``path``.

    The file also holds ``format``, ``version`` and a SHA-256 of its content (``content_sha256``)
    that :func:`load_checkpoint` verifies.

    Raises:
        ValueError: ``state`` uses the reserved key ``content_sha256``.
        OSError: the write failed (disk full: errno ENOSPC; folder not writable); the message names
            the file and what to do, and any previous file at ``path`` is unchanged.

    Example:
        >>> import tempfile, os
        >>> p = save_checkpoint(os.path.join(tempfile.mkdtemp(), "a.pt"), {"epoch": 3})
        >>> load_checkpoint(p)["epoch"]
        3
    """
    path = Path(path)
    if DIGEST_KEY in state:
        raise ValueError(f"Expected a state without the key {DIGEST_KEY!r} (reserved for the checkpoint's "
                         f"integrity digest), got one: rename that entry.")
    body = {**state, "format": FORMAT, "version": VERSION}
    payload = {DIGEST_KEY: content_digest(body), **body}  # digest first: far from "version" in the file
    atomic_write(path, lambda fh: torch.save(payload, fh))
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a kit checkpoint safely (``weights_only=True``: pickled objects are refused) and verify it.

    A version-2 file must match its SHA-256 content digest (see :func:`content_digest`); the digest
    key is removed from the returned dict. Files written before the digest existed (version 1) still
    load, unverified, with a ``UserWarning``; save one again with :func:`save_checkpoint` to add it.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a torch file, is damaged (cannot be read, or its content does not
            match its digest), holds pickled objects, or is not a kit checkpoint. The message names the
            file and the fix (``--no-resume``, or a new run folder).

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
        first = str(err).strip().split("\n")[0]
        if "global" not in str(err).lower():  # garbage opcodes, not a class: a damaged file
            raise ValueError(f"{path} is damaged: its data cannot be read (UnpicklingError: {first}). "
                             f"{_FIX}") from None
        raise ValueError(f"Refusing to load {path}: it holds pickled Python objects, which a kit checkpoint "
                         f"never does (loaded with weights_only=True). Only load files you trust; if it is your own run's "
                         f"file, it is damaged: {_FIX[0].lower()}{_FIX[1:]} ({first})") from None
    except Exception as err:  # noqa: BLE001 - any reader error: not a torch file, or a damaged one
        first = str(err).strip().split("\n")[0][:300]
        raise ValueError(f"{path} is not a torch checkpoint, or is damaged ({type(err).__name__}: {first}). "
                         f"{_FIX}") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        if isinstance(obj, dict) and DIGEST_KEY in obj:
            _check_digest(path, obj)  # written by save_checkpoint: a garbled "format" is damage, said so
        keys = list(obj)[:8] if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(f"{path} is not an erts_kit checkpoint (expected a dict with format={FORMAT!r}, "
                         f"got {keys}): save it with erts_kit.training.save_checkpoint.")
    return _verified(path, obj)


def _verified(path: Path, obj: dict[str, Any]) -> dict[str, Any]:
    version = obj.get("version")
    if type(version) is not int or version < 1:
        raise ValueError(f"{path} is damaged: expected an integer checkpoint version >= 1, got {version!r}. {_FIX}")
    if version > VERSION:
        raise ValueError(f"{path} has checkpoint version {version}, this erts_kit reads up to {VERSION}: "
                         "upgrade erts_kit.")
    if DIGEST_KEY not in obj:
        if version >= 2:
            raise ValueError(f"{path} is damaged: a version-{version} checkpoint must hold its integrity digest "
                             f"{DIGEST_KEY!r}, this one does not. {_FIX}")
        warnings.warn(f"{path} was written before erts_kit checked checkpoint integrity (version 1, no digest): "
                      "it is loaded unverified. Save it again with save_checkpoint to add one.", UserWarning,
                      stacklevel=3)
        return obj
    return _check_digest(path, obj)


def _check_digest(path: Path, obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without its digest key, or a ValueError when the rest no longer matches it."""
    expected = obj.pop(DIGEST_KEY)
    got = content_digest(obj)
    if expected != got:
        raise ValueError(f"{path} is damaged: its content does not match the SHA-256 digest written with it "
                         f"(expected {str(expected)[:16]}..., got {got[:16]}...), so it was changed on disk after "
                         f"it was saved (a disk or copy error). {_FIX}")
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
