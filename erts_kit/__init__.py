"""erts-kit: explanation-guided sample selection (ERTS) on top of Progressive Data Dropout for ECGs.

The public names of the subpackages, importable from the top level (loaded on first use, so
``import erts_kit`` stays quick):

Example:
    >>> import erts_kit
    >>> d = erts_kit.make_synthetic(n_samples=6, n_leads=1, seed=0)
    >>> model = erts_kit.build_model("small_cnn", n_leads=1, n_classes=d.n_classes)
    >>> erts_kit.make_policy("xai_dbpd").name
    'xai_dbpd'
"""
from __future__ import annotations

import importlib
import sys
from typing import Any

from ._moved import MovedModuleFinder

if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
    sys.meta_path.append(MovedModuleFinder())   # old module paths (erts_kit.train, ...) keep importing

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # data
    "ECGData": "data", "ECGDataset": "data", "load_dataset": "data", "make_synthetic": "data",
    "load_ptbxl": "data", "load_cinc2020": "data", "load_mitbih": "data", "download_database": "data",
    # models
    "build_model": "models", "list_models": "models", "ECGModel": "models",
    # explanations
    "gradcam": "explain", "gradcam_and_logits": "explain", "focus_score": "explain",
    "register_focus_score": "explain", "ground_truth_study": "explain",
    # selection
    "make_policy": "selection", "list_policies": "selection", "CostLedger": "selection",
    "SelectionLog": "selection", "Decision": "selection",
    # training and results (the loop itself: ``from erts_kit.training import train``)
    "TrainConfig": "training", "paper_config": "training", "pick_device": "training",
    "evaluate": "training", "load_checkpoint": "training",
    "compute_metrics": "metrics", "ec57_report": "ec57", "run_grid": "results", "write_report": "results",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'erts_kit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
