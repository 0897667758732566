"""Explanations: batched Grad-CAM (Captum reference + fast fused engine), focus scores, ground-truth study.

>>> from erts_kit.explain import gradcam, focus_score, FOCUS_SCORES
>>> sorted(FOCUS_SCORES)
['one_minus_entropy', 'top_mass_share', 'topk_mean']
"""
from .focus import (
    FOCUS_SCORES,
    focus_score,
    one_minus_entropy,
    register_focus_score,
    top_mass_share,
    topk_mean,
)
from .gradcam import gradcam, gradcam_and_logits, unwrap_model
from .groundtruth import evidence_overlap, ground_truth_study, separation_table

__all__ = [
    "FOCUS_SCORES",
    "evidence_overlap",
    "focus_score",
    "gradcam",
    "gradcam_and_logits",
    "ground_truth_study",
    "one_minus_entropy",
    "register_focus_score",
    "separation_table",
    "top_mass_share",
    "topk_mean",
    "unwrap_model",
]
