"""What both selection-log explorers share: the :class:`Explorer` widget they return, and reading
and validating a selection log's DataFrame.

Static fallback: where widgets cannot render (an HTML export, GitHub's viewer, Colab without its
custom widget manager) an Explorer shows nothing. With ``static=True`` (or the environment variable
``ERTS_KIT_STATIC_WIDGETS=1``, which the rendered gallery sets) an Explorer displays, right under the
widget, its current view as plain output: the same text and figure, drawn once, visible anywhere.

The underscored helpers are for the explorer modules of this package only.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import ipywidgets
import numpy as np
import pandas as pd

from ...data.dataset import ECGData
from ...selection.base import Decision

__all__ = ["STATIC_ENV", "Explorer", "static_requested"]

#: Environment variable that turns on every explorer's static fallback (``1``/``true``/``yes``).
STATIC_ENV = "ERTS_KIT_STATIC_WIDGETS"


def static_requested(static: bool | None = None) -> bool:
    """``static`` when given, else whether :data:`STATIC_ENV` asks for the static fallback.

    Example:
        >>> static_requested(True), static_requested(False)
        (True, False)
    """
    if static is not None:
        return bool(static)
    return os.environ.get(STATIC_ENV, "").strip().lower() in ("1", "true", "yes")

_LOG_COLUMNS = ("epoch", "index", "p_true", "focus", "combined", "decision")


class Explorer(ipywidgets.VBox):
    """A VBox of controls above an Output, with handles for code and tests.

    Attributes:
        controls: the control widgets by name (``"epoch"``, ``"tau"``, ...).
        output: the Output the guarded callback draws into.
        refresh: calls the guarded callback with the controls' current values.
        static_view: draws the current view as plain output (None: static fallback off); called
            under the widget whenever the Explorer is displayed.
    """

    def __init__(self, controls: dict[str, ipywidgets.Widget], output: ipywidgets.Output,
                 refresh: Callable[[], Any], static_view: Callable[[], Any] | None = None, **kwargs: Any) -> None:
        super().__init__(children=[ipywidgets.HBox(list(controls.values())), output], **kwargs)
        self.controls = controls
        self.output = output
        self.refresh = refresh
        self.static_view = static_view

    def _ipython_display_(self) -> None:
        """The widget, then (static fallback on) its current view as plain output under it."""
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)
        if self.static_view is not None:
            self.static_view()


# -- log helpers ---------------------------------------------------------------------------------
def _check_log(log_df: pd.DataFrame) -> pd.DataFrame:
    """Validate a selection-log DataFrame and return it with ``decision`` as upper-case names."""
    if hasattr(log_df, "to_dataframe") and not isinstance(log_df, pd.DataFrame):
        log_df = log_df.to_dataframe()
    if not isinstance(log_df, pd.DataFrame):
        raise TypeError(f"Expected the selection log as a DataFrame (SelectionLog.to_dataframe()), "
                        f"got {type(log_df).__name__}.")
    missing = [c for c in _LOG_COLUMNS if c not in log_df.columns]
    if missing:
        raise ValueError(f"Expected selection-log columns {list(_LOG_COLUMNS)}, missing {missing}: "
                         f"pass SelectionLog.to_dataframe().")
    if log_df.empty:
        raise ValueError("The selection log is empty: train with a policy first (train(..., policy=...)).")
    dec = log_df["decision"]
    if pd.api.types.is_integer_dtype(dec):
        names = [Decision(int(v)).name for v in dec]
    else:
        names = [str(v).upper() for v in dec]
    unknown = sorted(set(names) - {d.name for d in Decision})
    if unknown:
        raise ValueError(f"Unknown decisions {unknown}: expected names of erts_kit.selection.base.Decision.")
    out = log_df.copy()
    out["decision"] = names
    return out


def _class_of(data: ECGData, idx: np.ndarray) -> np.ndarray:
    """One class id per dataset index (multi-label: the first positive class, as the log does)."""
    lab = np.asarray(data.labels)[np.asarray(idx, dtype=np.int64)]
    return lab.argmax(axis=1) if lab.ndim == 2 else lab.astype(np.int64)


def _epoch_rows(log_df: pd.DataFrame, epoch: int) -> pd.DataFrame:
    rows = log_df[log_df["epoch"] == epoch]
    if rows.empty:
        raise ValueError(f"No log rows for epoch {epoch}: the log holds epochs "
                         f"{sorted(int(e) for e in log_df['epoch'].unique())}.")
    return rows
