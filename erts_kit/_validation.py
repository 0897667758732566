"""Input checks shared by the whole kit: one place, one error style (expected, got, how to fix)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise a ValueError listing them.

    Example:
        >>> check_choice("policy", "dbpd", ["full", "dbpd"])
        'dbpd'
    """
    choices = list(choices)
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ValueError(f"Unknown {name} {value!r}: expected one of {valid}.")
    return value


def check_range(name: str, value: float, low: float | None = None, high: float | None = None,
                *, low_inclusive: bool = True, high_inclusive: bool = True) -> float:
    """Return ``value`` if it lies in the interval, else raise a ValueError naming it.

    Example:
        >>> check_range("phi", 0.7, 0.0, 1.0, low_inclusive=False)
        0.7
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"Expected {name} to be a number, got {value!r} ({type(value).__name__}).") from None
    if not np.isfinite(v):
        raise ValueError(f"Expected {name} to be finite, got {value!r}.")
    lo_ok = low is None or (v >= low if low_inclusive else v > low)
    hi_ok = high is None or (v <= high if high_inclusive else v < high)
    if not (lo_ok and hi_ok):
        lb = "-inf" if low is None else f"{low}"
        hb = "inf" if high is None else f"{high}"
        interval = f"{'[' if low_inclusive else '('}{lb}, {hb}{']' if high_inclusive else ')'}"
        raise ValueError(f"Expected {name} in {interval}, got {value!r}.")
    return value


def check_int(name: str, value: Any, minimum: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer >= ``minimum``, else raise.

    Example:
        >>> check_int("epochs", 3, minimum=1)
        3
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"Expected {name} to be an integer, got {value!r} ({type(value).__name__}).")
    if minimum is not None and value < minimum:
        raise ValueError(f"Expected {name} >= {minimum}, got {value}.")
    return int(value)


def check_signals(x: Any, name: str = "signals") -> np.ndarray:
    """Check an ECG array has shape (N, leads, T) and finite float values.

    Example:
        >>> check_signals(np.zeros((2, 12, 100), dtype=np.float32)).shape
        (2, 12, 100)
    """
    arr = np.asarray(x)
    if arr.ndim != 3:
        hint = " add a batch axis with x[None]" if arr.ndim == 2 else " reshape it to (N, leads, T)"
        raise ValueError(f"Expected {name} of shape (N, leads, T), got {arr.shape}:{hint}.")
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"Expected {name} to hold floats, got dtype {arr.dtype}: convert with .astype('float32').")
    return arr


def format_list(items: Sequence[Any], limit: int = 10) -> str:
    """Join items for an error message, eliding after ``limit``.

    Example:
        >>> format_list([1, 2, 3], limit=2)
        '1, 2, ... (3 in all)'
    """
    items = list(items)
    head = ", ".join(str(i) for i in items[:limit])
    return head if len(items) <= limit else f"{head}, ... ({len(items)} in all)"
