"""Widget callbacks that cannot fail silently.

ipywidgets swallows exceptions raised in ``interact``/``observe`` callbacks: the widget shows a
traceback (or nothing), the cell that built it succeeds, and a papermill run of the notebook
passes. Every erts_kit explorer therefore wraps its callbacks with :func:`guarded`, which

1. shows the traceback inside the widget's ``Output`` (what the student sees),
2. records it in a module-level registry that :func:`raise_widget_errors` turns into an error
   (what a notebook's last cell, the test-suite and :func:`erts_kit.course.run_notebooks` check),
3. re-raises on the *first* call, which builders make directly while the notebook cell runs, so a
   callback that is broken from the start fails its cell like any other code.

Later calls (slider moves) never raise: an exception escaping an ipywidgets observer would only
reach the kernel log.
"""
from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import ipywidgets

#: Text that precedes every traceback a guarded callback writes into its Output widget; the
#: notebook runner searches executed notebooks for it.
ERROR_MARKER = "erts_kit widget callback error"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class WidgetError:
    """One failed callback call: which callback, the exception, and its formatted traceback."""

    callback: str
    exception: BaseException
    traceback: str


class WidgetCallbackError(RuntimeError):
    """Raised by :func:`raise_widget_errors` when a guarded callback failed since the last check."""

    def __init__(self, errors: list[WidgetError]) -> None:
        self.errors = list(errors)
        lines = [f"{len(errors)} widget callback error(s) since the last check:"]
        for e in errors:
            lines.append(f"--- in {e.callback}:\n{e.traceback.rstrip()}")
        super().__init__("\n".join(lines))


_ERRORS: list[WidgetError] = []


def widget_errors() -> list[WidgetError]:
    """The callback errors recorded since the last :func:`raise_widget_errors` / :func:`clear_widget_errors`.

    Example:
        >>> clear_widget_errors(); widget_errors()
        []
    """
    return list(_ERRORS)


def clear_widget_errors() -> None:
    """Forget every recorded callback error.

    Example:
        >>> clear_widget_errors(); len(widget_errors())
        0
    """
    _ERRORS.clear()


def raise_widget_errors() -> None:
    """Raise :class:`WidgetCallbackError` listing every callback error since the last check, then forget them.

    Call it in the last cell of a notebook that builds widgets; the notebook runner does it too.

    Raises:
        WidgetCallbackError: when at least one guarded callback raised since the last check.

    Example:
        >>> clear_widget_errors()
        >>> out = ipywidgets.Output()
        >>> f = guarded(out, reraise_first=False)(lambda: 1 / 0)
        >>> f()
        >>> raise_widget_errors()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        erts_kit.viz._callbacks.WidgetCallbackError: 1 widget callback error(s) since the last check:
        ...
        >>> raise_widget_errors()  # the registry was emptied
    """
    if _ERRORS:
        errors = list(_ERRORS)
        _ERRORS.clear()
        raise WidgetCallbackError(errors)


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (where Output widgets capture prints)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipywidgets
        return False
    return getattr(get_ipython(), "kernel", None) is not None


def _clear(output: ipywidgets.Output) -> None:
    """Clear an Output widget; outside a kernel (tests, doctests) reset its outputs directly."""
    if _in_kernel():
        output.clear_output(wait=True)
    else:
        output.outputs = ()


def _show_error(output: ipywidgets.Output, text: str) -> None:
    """Write ``text`` to the widget's stderr: captured print in a kernel (called inside ``with output``)."""
    if _in_kernel():
        print(text, file=sys.stderr)
    else:
        output.append_stderr(text)


def guarded(output: ipywidgets.Output, *, reraise_first: bool = True,
            clear: bool = True) -> Callable[[F], F]:
    """Wrap a widget callback so its exceptions are shown, recorded, and (first call) re-raised.

    The wrapped callback runs inside ``with output:`` so its prints and figures land in ``output``
    (cleared first when ``clear``). On an exception the traceback, preceded by
    :data:`ERROR_MARKER`, is written to ``output``'s stderr and recorded for
    :func:`raise_widget_errors`. The first call re-raises (builders make it at build time, while
    the notebook cell runs, so the cell fails); later calls (from widget events) return ``None``.

    Args:
        output: the Output widget that shows the callback's results and errors.
        reraise_first: re-raise an exception of the first call (default True).
        clear: clear ``output`` before each call (default True).

    Returns:
        A decorator; the wrapped function has a ``calls`` attribute (number of calls so far).

    Example:
        >>> out = ipywidgets.Output()
        >>> @guarded(out)
        ... def show(x):
        ...     return x * 2
        >>> show(3), show.calls
        (6, 1)
        >>> bad = guarded(out)(lambda: [][1])
        >>> bad()
        Traceback (most recent call last):
        ...
        IndexError: list index out of range
        >>> bad() is None, len(widget_errors())  # a later call: shown and recorded, not raised
        (True, 2)
        >>> clear_widget_errors()
    """
    if not isinstance(output, ipywidgets.Output):
        raise TypeError(f"Expected an ipywidgets.Output to show callback results, got "
                        f"{type(output).__name__}: create one with ipywidgets.Output().")

    def decorate(fn: F) -> F:
        name = getattr(fn, "__qualname__", repr(fn))

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            first = wrapper.calls == 0
            wrapper.calls += 1
            if clear:
                _clear(output)
            error: Exception | None = None
            # Catch INSIDE the ``with``: in a kernel, Output.__exit__ shows and suppresses exceptions.
            with output:
                try:
                    return fn(*args, **kwargs)
                except Exception as exc:  # noqa: BLE001 - every callback error is routed, none swallowed
                    error = exc
                    tb = traceback.format_exc()
                    _ERRORS.append(WidgetError(name, exc, tb))
                    _show_error(output, f"{ERROR_MARKER} in {name}:\n{tb}")
            if error is not None and first and reraise_first:
                raise error
            return None

        wrapper.calls = 0  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
