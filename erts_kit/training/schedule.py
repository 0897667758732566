"""Does a run's schedule let its selection policy act? Two warnings, and where best.pt may come from.

A PDD policy selects from epoch ``warm_up`` on and an ERTS policy filters from ``warm_up + cam_start``
(epochs counted from 0). A run that ends before that trains on every sample every epoch: it *is*
the full-data run, under another name. And a selection run whose best validation epoch is a warm-up
epoch returns weights that the policy never touched (identical to the full-data run's at that
epoch). Both are easy to miss in a results table, so :func:`train` warns
(:class:`~erts_kit.training.config.ScheduleWarning`); ``TrainConfig(select_after_warmup=True)``
picks ``best.pt`` only among epochs ``>= warm_up`` (:func:`select_from`).
"""
from __future__ import annotations

import warnings
from typing import Any

from .config import ScheduleWarning, TrainConfig

__all__ = ["select_from", "warn_if_never_selects", "warn_if_warmup_best"]


def _acting_stage(policy: Any) -> str:
    return "filter" if hasattr(policy, "filter_start") else "select"


def select_from(policy: Any, config: TrainConfig) -> int:
    """First epoch that may give ``best.pt``: the policy's ``warm_up`` with ``select_after_warmup``, else 0.

    Example:
        >>> from erts_kit.selection import make_policy
        >>> select_from(make_policy("dbpd", warm_up=3), TrainConfig(select_after_warmup=True))
        3
    """
    return int(getattr(policy, "warm_up", 0) or 0) if config.select_after_warmup else 0


def warn_if_never_selects(policy: Any, epochs: int) -> bool:
    """Warn (and return True) when no epoch of ``0 .. epochs - 1`` lets the policy select (or filter).

    Example:
        >>> from erts_kit.selection import make_policy
        >>> with warnings.catch_warnings(record=True) as w:
        ...     warnings.simplefilter("always")
        ...     warn_if_never_selects(make_policy("xai_dbpd"), 3), "epoch 8" in str(w[0].message)
        (True, True)
    """
    stage = getattr(policy, "stage", None)
    if stage is None:  # the full-data policy, or a custom one without a schedule
        return False
    acting = _acting_stage(policy)
    if any(stage(e) == acting for e in range(epochs)):
        return False
    start = getattr(policy, "filter_start", getattr(policy, "warm_up", 0))
    what = (f"starts its focus filter at epoch {start} (warm_up {policy.warm_up} + cam_start {policy.cam_start})"
            if acting == "filter" else f"starts selecting at epoch {start} (after warm_up {policy.warm_up})")
    revision = getattr(policy, "start_revision", None)
    extra = f", revision from epoch {revision}" if revision is not None else ""
    warnings.warn(f"Policy {policy.name!r} {what}{extra}, epochs counted from 0, but the run has {epochs} epochs: "
                  f"it never {'filters' if acting == 'filter' else 'selects'}, so it trains "
                  f"{'like its PDD base' if acting == 'filter' and policy.warm_up < epochs else 'on every sample, like full'}. "
                  "Raise epochs or lower warm_up/cam_start.", ScheduleWarning, stacklevel=3)
    return True


def warn_if_warmup_best(policy: Any, best_epoch: int, config: TrainConfig) -> bool:
    """Warn (and return True) when a selection policy's best epoch is a warm-up epoch.

    Example:
        >>> from erts_kit.selection import make_policy
        >>> with warnings.catch_warnings(record=True) as w:
        ...     warnings.simplefilter("always")
        ...     warn_if_warmup_best(make_policy("dbpd", warm_up=2), 1, TrainConfig()), len(w)
        (True, 1)
    """
    warm_up = int(getattr(policy, "warm_up", 0) or 0)
    if not (0 <= best_epoch < warm_up):
        return False
    warnings.warn(f"The best checkpoint of policy {policy.name!r} is epoch {best_epoch}, a warm-up epoch (the first "
                  f"{warm_up} epoch(s) train on every sample): its weights are the full-data run's at that epoch, "
                  "untouched by the policy. Set TrainConfig(select_after_warmup=True) (--select-after-warmup) to "
                  f"choose best.pt among epochs >= {warm_up}.", ScheduleWarning, stacklevel=3)
    return True
