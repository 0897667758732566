"""Helpers of :mod:`erts_kit.train`: evaluation and pre-flight checks, the DDP-safe optimizer step."""
from .evaluate import check_compatible, evaluate
from .step import NonFiniteLossError, dist_info, train_step

__all__ = ["evaluate", "check_compatible", "NonFiniteLossError", "train_step", "dist_info"]
