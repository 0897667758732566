"""Interactive explorers of a training run's selection log (ipywidgets), built on plain, tested functions.

Both explorers read the DataFrame of a :class:`~erts_kit.selection.SelectionLog`
(``log.to_dataframe()``: columns ``epoch, index, p_true, focus, combined, decision`` and optionally
``kept``) and an :class:`~erts_kit.data.dataset.ECGData`; neither retrains anything.

* :func:`kept_vs_dropped_explorer`: one kept and one dropped sample of an epoch side by side, with
  their Grad-CAM maps, scores, labels and (synthetic data) corruption.
* :func:`threshold_explorer`: how many samples per class DBPD + the ERTS filter would keep at other
  ``tau`` / ``phi`` values, recomputed from the logged scores, and the focus histogram.

The callback logic is in plain functions (:func:`pick_pair`, :func:`describe_sample`,
:func:`render_pair`, :func:`would_keep_counts`, :func:`render_threshold`) that tests call
directly. Every widget callback is wrapped with :func:`erts_kit.viz._callbacks.guarded` and run
once while the builder runs, so a broken callback fails the notebook cell instead of showing a
traceback nobody checks. Where widgets cannot render, ``static=True`` (or ``ERTS_KIT_STATIC_WIDGETS=1``)
makes an explorer also show its current view as plain output under the widget.

The modules (each imports only the ones above it):

- :mod:`.common`: the :class:`Explorer` container both builders return, and reading a selection log;
- :mod:`.kept_vs_dropped`: :func:`kept_vs_dropped_explorer` and the functions behind it;
- :mod:`.threshold`: :func:`threshold_explorer` and the functions behind it.
"""
from .common import STATIC_ENV, Explorer, static_requested
from .kept_vs_dropped import (
    CamSource as CamSource,  # type of the explorer's ``cams``; importable here as before
)
from .kept_vs_dropped import (
    describe_sample,
    kept_vs_dropped_explorer,
    pick_pair,
    render_pair,
)
from .threshold import render_threshold, threshold_explorer, would_keep_counts

__all__ = [
    "STATIC_ENV",
    "Explorer",
    "describe_sample",
    "kept_vs_dropped_explorer",
    "pick_pair",
    "render_pair",
    "render_threshold",
    "static_requested",
    "threshold_explorer",
    "would_keep_counts",
]
