"""The contract every erts_kit backbone follows, so explanation code never guesses a layer.

A model is split at its Grad-CAM layer into a *trunk* (input -> the layer's activations) and a
*head* (activations -> logits), with ``forward(x) == forward_head(forward_features(x))``. The module
whose output the trunk returns is ``model.cam_layer`` (what Captum's ``LayerGradCam`` hooks).
The fast Grad-CAM engine runs the trunk without autograd and only the head with it.

Auxiliary features: a model built with ``n_aux > 0`` (``build_model(..., n_aux=F)``) also takes a
per-sample feature vector ``aux`` (B, F) (e.g. RR intervals of a beat) and fuses it in the head:
the head's last linear layer sees ``[its usual input, ReLU(Linear(aux))]``. The trunk, hence the
Grad-CAM layer and its maps, sees the signal only: ``forward(x, aux) == forward_head(forward_features(x), aux)``.
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
    aux_hidden: int = 32

    def __init__(self, n_leads: int, n_classes: int) -> None:
        super().__init__()
        self.n_leads = int(n_leads)
        self.n_classes = int(n_classes)
        self.n_aux = 0
        self.aux_proj: nn.Module | None = None

    def enable_aux(self, n_aux: int) -> None:
        """Fuse ``n_aux`` per-sample features into the head (called by ``build_model(..., n_aux=...)``).

        Adds ``aux_proj`` (Linear(n_aux, 32) + ReLU) and widens the head's last ``nn.Linear`` by 32 inputs.

        Example:
            >>> from erts_kit.models import build_model
            >>> m = build_model("small_cnn", n_leads=1, n_classes=3, n_aux=4)
            >>> m(torch.zeros(2, 1, 64), torch.zeros(2, 4)).shape
            torch.Size([2, 3])
        """
        if n_aux < 1:
            return
        last = self.head[-1] if isinstance(getattr(self, "head", None), nn.Sequential) else None
        if not isinstance(last, nn.Linear):
            raise TypeError(f"{type(self).__name__} cannot take aux features: its head must be an nn.Sequential "
                            f"ending in nn.Linear (override enable_aux to fuse them another way).")
        self.n_aux = int(n_aux)
        self.aux_proj = nn.Sequential(nn.Linear(self.n_aux, self.aux_hidden), nn.ReLU())
        self.head[-1] = nn.Linear(last.in_features + self.aux_hidden, last.out_features)

    def check_aux(self, aux: torch.Tensor | None, batch: int) -> None:
        """Raise a clear error when ``aux`` does not fit the model (missing, unexpected, or of another width)."""
        if self.n_aux == 0:
            if aux is not None:
                raise ValueError(f"Model {type(self).__name__} was built without aux features (n_aux=0), got aux of "
                                 f"shape {tuple(aux.shape)}: rebuild it with build_model(..., n_aux={aux.shape[-1]}) "
                                 f"or drop the aux features from the data (data.aux = None).")
            return
        if aux is None:
            raise ValueError(f"Model {type(self).__name__} was built for {self.n_aux} aux features per sample, got "
                             f"none: pass aux (B, {self.n_aux}) (data with aux, e.g. load_mitbih(context='rr')) "
                             f"or rebuild it with n_aux=0.")
        if aux.dim() != 2 or aux.shape[1] != self.n_aux or aux.shape[0] != batch:
            raise ValueError(f"Expected aux of shape ({batch}, {self.n_aux}) (batch, n_aux), got {tuple(aux.shape)}: "
                             f"the data's aux width must equal the model's n_aux.")

    def apply_head(self, z: torch.Tensor, aux: torch.Tensor | None) -> torch.Tensor:
        """``self.head(z)``, with ``aux`` fused before the last linear layer when the model takes aux."""
        self.check_aux(aux, z.shape[0])
        if self.n_aux == 0:
            return self.head(z)
        h = self.head[:-1](z)
        return self.head[-1](torch.cat([h, self.aux_proj(aux.to(h.dtype))], dim=1))

    @property
    def cam_layer(self) -> nn.Module:
        """The module whose output is the Grad-CAM activation map."""
        return self.get_submodule(self.cam_layer_name)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward_head(self, a: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:  # pragma: no cover
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

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x)
        self.check_aux(aux, x.shape[0])
        a = self.forward_features(x)
        return self.forward_head(a) if aux is None else self.forward_head(a, aux)  # older heads take ``a`` only
