"""Backbones: every model names its Grad-CAM layer and splits there (see ``base.ECGModel``)."""
from erts_kit.models.base import ECGModel
from erts_kit.models.registry import MODELS, build_model, count_parameters, list_models, model_info

__all__ = ["ECGModel", "MODELS", "build_model", "count_parameters", "list_models", "model_info"]
