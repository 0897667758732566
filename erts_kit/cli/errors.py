"""How the ``erts-kit`` command reports an error: one line on stderr, and an exit code.

Exit code 2: bad input (a refused setting, a missing or damaged input file: config, data,
``settings.json``, ``result.json``, ``history.csv``, ``selection_log.npz``, a checkpoint).
Exit code 1: a failure while working (disk full, a read-only or vanished folder, a failed
checkpoint save, an output folder in use by another process, anything unexpected).

Each line says what failed, which file (where the error knows it) and what to do.
``ERTS_KIT_DEBUG=1`` shows the traceback instead.
"""
from __future__ import annotations

import errno
import json
import os
import zipfile
from collections.abc import Sequence
from typing import Any

from .._lock import FolderLocked

__all__ = ["UserError", "error_line", "require_lists"]

class UserError(ValueError):
    """A setting the command refuses (printed without traceback, exit code 2)."""


_LIST_EXAMPLES = {"seeds": "[1, 2]", "policies": "[full, xai_dbpd]"}
_RESUME = "rerun the same command: it resumes where it stopped"
_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _os_error(exc: OSError) -> str:
    name = exc.filename
    stock = exc.errno is not None and exc.strerror == os.strerror(exc.errno)
    if name is None and not stock and str(exc):   # the kit's own message: it names the file and the fix
        return _one_line(exc.strerror or exc)
    what = exc.strerror or _one_line(exc) or type(exc).__name__
    where = f" {name}" if name is not None else ""
    if exc.errno == errno.ENOSPC:
        fix = f"the disk is full: free some space (or use another --out folder), then {_RESUME}"
    elif exc.errno in _NOT_WRITABLE:
        fix = "the folder is not writable: choose another --out folder or make it writable"
    else:
        fix = f"check the disk and the folder, then {_RESUME}"
    return f"Could not access{where}: {what}; {fix}."


def _runtime_error(exc: RuntimeError) -> str:
    text = _one_line(exc)
    if any(s in text for s in ("inline_container", "PytorchStreamWriter", "unexpected pos", "file write failed")):
        return (f"Saving a checkpoint failed ({text}): the disk is probably full or the folder went away; free "
                f"some space, then {_RESUME}.")
    return f"{text} (set ERTS_KIT_DEBUG=1 for the traceback)."


def error_line(exc: BaseException) -> tuple[str, int]:
    """One line for an error the command met, and the exit code (2: bad input, 1: failure).

    Example:
        >>> error_line(OSError(28, "No space left on device", "/runs/x/last.pt"))[1]
        1
        >>> error_line(ValueError("Unknown policy 'nope'"))
        ("Unknown policy 'nope'", 2)
    """
    import yaml
    if isinstance(exc, FolderLocked):
        return _one_line(exc), 1
    if isinstance(exc, yaml.YAMLError):
        return f"Cannot read a YAML file: {_one_line(exc)}; fix the file.", 2
    if isinstance(exc, (zipfile.BadZipFile, EOFError)):
        return (f"A damaged or cut-off file ({type(exc).__name__}: {_one_line(exc)}): delete it to recompute it, "
                "or use another --out folder."), 2
    if isinstance(exc, json.JSONDecodeError):
        return f"A damaged JSON file ({_one_line(exc)}): delete it to recompute it.", 2
    if isinstance(exc, FileNotFoundError):
        return _one_line(exc), 2
    if isinstance(exc, OSError):
        return _os_error(exc), 1
    if isinstance(exc, (ValueError, TypeError)):
        return _one_line(exc), 2
    if isinstance(exc, RuntimeError):
        return _runtime_error(exc), 1
    return (f"Unexpected {type(exc).__name__}: {_one_line(exc)} (probably a bug: rerun with ERTS_KIT_DEBUG=1 for "
            "the traceback and report it)."), 1


def require_lists(settings: dict[str, Any], keys: Sequence[str], source: str) -> None:
    """Refuse a config file whose list settings are not lists (``seeds: "12"`` is not seeds 1 and 2).

    Example:
        >>> require_lists({"seeds": "12"}, ["seeds"], "c.yaml")
        Traceback (most recent call last):
        ...
        ValueError: Setting 'seeds' in c.yaml must be a list, e.g. seeds: [1, 2], got the str '12'.
    """
    for k in keys:
        if k in settings and not isinstance(settings[k], list):
            raise ValueError(f"Setting {k!r} in {source} must be a list, e.g. {k}: {_LIST_EXAMPLES.get(k, '[...]')}, got the "
                             f"{type(settings[k]).__name__} {settings[k]!r}.")
