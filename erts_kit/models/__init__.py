"""Backbones: every model names its Grad-CAM layer and splits there (see :class:`ECGModel`).

``build_model(name, n_leads, n_classes, n_aux=0, **kw)`` builds one; ``list_models()`` lists the names;
``model_info(model)`` summarises one. All take (B, leads, T) and return logits (B, n_classes); built with
``n_aux=F`` they also take per-sample features ``model(x, aux)`` with aux (B, F), fused into the head.

======================  ======  ===========  ======================  ==============================
name                    kind    params [1]   Grad-CAM layer          layer output for 12 x 1000 [2]
======================  ======  ===========  ======================  ==============================
``small_cnn``           1-D       105,029    ``features.3``          (128, 125)
``resnet1d_wang``       1-D       473,349    ``blocks.2``            (128, 250)
``inception1d``         1-D       507,653    ``blocks.1``            (128, 1000)
``resnet18_2d``         2-D    11,236,549    ``layer3``              (256, 1, 63)
``mobilenetv2_2d``      2-D     2,387,909    ``features.17`` [3]     (320, 1, 32)
``efficientnetv2s_2d``  2-D    20,341,669    ``features.6`` [3]      (256, 1, 32)
======================  ======  ===========  ======================  ==============================

[1] 12 leads, 5 classes. The 2-D counts equal torchvision's (11,689,512 / 3,504,872 / 21,458,488)
minus its 1000-class classifier and two stem input channels, plus the paper head
Linear(F,128)-ReLU-Dropout(0.3)-Linear(128,5): the hand-written block structure matches.
[2] Without the batch axis; 2-D maps are (C, H along leads, W along time). ERTS scores focus at
this resolution and reduces 2-D maps over H.
[3] ``features[-2]``, the paper's choice.

Where the kit departs from its sources: the 2-D networks are written by hand (torchvision cannot be
installed beside the pinned torch) and take one input channel; ``inception1d``'s Grad-CAM layer is the
last residual block of three Inception modules (the shortcut joins there, so the trunk/head split is
clean); ``small_cnn`` is the kit's own teaching model.

Example:
    >>> model = build_model("small_cnn", n_leads=12, n_classes=5)
    >>> model_info(model)["params"], model.cam_layer_name
    (105029, 'features.3')
"""
from erts_kit.models.base import ECGModel
from erts_kit.models.registry import (
    MODELS,
    build_model,
    count_parameters,
    list_models,
    model_info,
    model_options,
)

__all__ = ["MODELS", "ECGModel", "build_model", "count_parameters", "list_models", "model_info", "model_options"]
