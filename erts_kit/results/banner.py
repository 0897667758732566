"""What a notebook says about its own numbers: the smoke banner, and claims checked against the run.

A smoke run (``SMOKE = True``) exists to test the mechanics: a few dozen samples, two or three epochs.
Its tables and plots look like results and are not. :func:`smoke_banner` gives the visible
"smoke: mechanics only" line a notebook shows next to every such result, :func:`mark_smoke` stamps the
same words on a figure, and :func:`check_claim` turns a sentence of the notebook's text into a check
that fails the run (and its papermill test) when the numbers no longer support it.
"""
from __future__ import annotations

import html
from typing import Any

from IPython.display import display
from matplotlib.figure import Figure

__all__ = ["SMOKE_TEXT", "ClaimFailed", "SmokeBanner", "check_claim", "mark_smoke", "show_smoke_banner", "smoke_banner"]

SMOKE_TEXT = "smoke: mechanics only"
"""The words every smoke result carries."""


class ClaimFailed(AssertionError):
    """A sentence of a notebook no longer matches the numbers the notebook computed."""


class SmokeBanner:
    """A one-line banner, shown as a red box in Jupyter and as plain text elsewhere.

    Example:
        >>> str(SmokeBanner("tiny data"))
        '[smoke: mechanics only] tiny data'
    """

    def __init__(self, note: str = "") -> None:
        self.note = note

    def __str__(self) -> str:
        return f"[{SMOKE_TEXT}] {self.note}".rstrip()

    __repr__ = __str__

    def _repr_html_(self) -> str:
        note = f" {html.escape(self.note)}" if self.note else ""
        return ('<div style="border:2px solid #c0392b;background:#fdecea;color:#7b241c;padding:4px 8px;'
                f'margin:4px 0;font-family:sans-serif"><b>{SMOKE_TEXT}</b>{note}</div>')


def smoke_banner(smoke: bool, note: str = "") -> SmokeBanner | None:
    """The banner to show under a result when ``smoke`` is true, ``None`` (nothing shown) otherwise.

    Make it the last expression of a cell (or pass it to ``display``) so Jupyter renders it.

    Args:
        smoke: the notebook's ``SMOKE`` parameter.
        note: what the smoke result does and does not show, in one sentence.

    Raises:
        TypeError: ``smoke`` is not a bool.

    Example:
        >>> print(smoke_banner(True, "24 test samples: the table tests the code, not the method."))
        [smoke: mechanics only] 24 test samples: the table tests the code, not the method.
        >>> smoke_banner(False) is None
        True
    """
    if not isinstance(smoke, bool):
        raise TypeError(f"Expected smoke to be True or False (the notebook's SMOKE), got {smoke!r}.")
    return SmokeBanner(note) if smoke else None


def show_smoke_banner(smoke: bool, note: str = "") -> None:
    """Display :func:`smoke_banner` now (anywhere in a cell) when ``smoke``; do nothing otherwise.

    Example:
        >>> show_smoke_banner(True, "tiny data")
        [smoke: mechanics only] tiny data
        >>> show_smoke_banner(False, "tiny data")
    """
    banner = smoke_banner(smoke, note)
    if banner is not None:
        display(banner)


def mark_smoke(target: Any, smoke: bool) -> Any:
    """Stamp "smoke: mechanics only" in red at the top of a figure (or an Axes' figure) when ``smoke``.

    It becomes the figure's suptitle (laid out above the axes) unless the figure has one already.

    Args:
        target: a matplotlib Figure or Axes.
        smoke: the notebook's ``SMOKE`` parameter; ``False`` leaves the figure untouched.

    Returns:
        ``target``, so the call can wrap a plotting expression.

    Example:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots()
        >>> _ = mark_smoke(ax, True)
        >>> [t.get_text() for t in fig.texts]
        ['smoke: mechanics only']
        >>> plt.close(fig)
    """
    if not isinstance(smoke, bool):
        raise TypeError(f"Expected smoke to be True or False (the notebook's SMOKE), got {smoke!r}.")
    if smoke:
        fig = target if isinstance(target, Figure) else target.figure
        style = dict(fontsize=11, fontweight="bold", color="#c0392b",
                     bbox=dict(facecolor="#fdecea", edgecolor="#c0392b", boxstyle="round,pad=0.2"))
        if fig.get_suptitle():         # keep the figure's own title; the stamp goes in the top-right corner
            fig.text(0.995, 0.995, SMOKE_TEXT, ha="right", va="top", **style)
        else:                          # a suptitle gets room from constrained layout: it never covers the axes
            fig.suptitle(SMOKE_TEXT, **style)
    return target


def check_claim(holds: bool, claim: str, found: str) -> str:
    """Fail loudly when a claim of the notebook's text does not hold for this run's numbers.

    Args:
        holds: the condition the text relies on, computed from the run.
        claim: the sentence as the notebook states it.
        found: the numbers that were computed (shown in the error, and returned otherwise).

    Returns:
        ``"claim holds: <claim> (<found>)"`` for the notebook to print.

    Raises:
        ClaimFailed: ``holds`` is false; the message names the claim and the numbers, so the text
            can be corrected (papermill and the notebook tests stop on it).

    Example:
        >>> check_claim(0.5 < 1.0, "the plateau scores below the spike", "plateau 0.50, spike 1.00")
        'claim holds: the plateau scores below the spike (plateau 0.50, spike 1.00)'
        >>> check_claim(False, "the spike scores 1", "spike 0.10")
        Traceback (most recent call last):
        ...
        erts_kit.results.banner.ClaimFailed: The notebook says "the spike scores 1", but this run found spike 0.10: correct the text or the code.
    """
    if not holds:
        raise ClaimFailed(f'The notebook says "{claim}", but this run found {found}: correct the text or the code.')
    return f"claim holds: {claim} ({found})"
