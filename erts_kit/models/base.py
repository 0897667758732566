"""The contract every erts_kit backbone follows, so explanation code never guesses a layer.

A model is split at its Grad-CAM layer into a *trunk* (input -> the layer's activations) and a
*head* (activations -> logits), with ``forward(x) == forward_head(forward_features(x))``. The module
whose output the trunk returns is ``model.cam_layer`` (what Captum's ``LayerGradCam`` hooks).
The fast Grad-CAM engine runs the trunk without autograd and only the head with it.
"""
from __future__ import annotations

import torch
from torch import nn


class ECGModel(nn.Module):
    """Base class: subclasses set ``n_leads``, ``n_classes``, ``input_kind`` and implement the split.

    Attributes:
        input_kind: ``"1d"`` (input (B, leads, T), layer output (B, C, W)) or ``"2d"`` (input viewed as
            a (B, 1, leads, T) image, layer output (B, C, H, W) with H along the leads).
        cam_layer_name: dotted name of the Grad-CAM layer inside the module (documentation and logs).
    """

    input_kind: str = "1d"
    cam_layer_name: str = ""

    def __init__(self, n_leads: int, n_classes: int) -> None:
        super().__init__()
        self.n_leads = int(n_leads)
        self.n_classes = int(n_classes)

    @property
    def cam_layer(self) -> nn.Module:
        """The module whose output is the Grad-CAM activation map."""
        return self.get_submodule(self.cam_layer_name)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward_head(self, a: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a clear error when ``x`` is not (B, n_leads, T)."""
        if x.dim() != 3:
            hint = " add a batch axis with x[None]" if x.dim() == 2 else ""
            raise ValueError(f"Expected input of shape (B, leads, T), got {tuple(x.shape)}:{hint}.")
        if x.shape[1] != self.n_leads:
            raise ValueError(f"Model {type(self).__name__} was built for {self.n_leads} leads, got input with "
                             f"{x.shape[1]} leads: rebuild it with build_model(..., n_leads={x.shape[1]}) "
                             f"or select leads in the data.")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.forward_head(self.forward_features(x))
