"""The batch scorer the training loop hands to a policy: lazy p_true and Grad-CAM focus, charged to the ledger.

:class:`ModelBatchScorer` implements :class:`~erts_kit.selection.base.BatchScorer` for one batch.
It computes each thing at most once and only when a policy asks (FullPolicy, SRD and warm-up
epochs never trigger a pass).

Where the kit departs from the reference code: the reference scores batches with the model in
*train* mode (so BatchNorm running statistics move during the scoring pass, and dropout perturbs
p_true) and computes Grad-CAM in *eval* mode. The kit scores in **eval mode** under ``no_grad`` for
both, then restores every module's mode: the scoring pass changes nothing in the model, and p_true
and the map come from the same network (``train_mode=True`` reproduces the reference: see below).
When the policy will need focus (ERTS filter epochs; the
policy says so through :meth:`ModelBatchScorer.expect_focus`), ONE shared pass
(:func:`erts_kit.explain.gradcam_and_logits`: trunk without autograd, head with autograd) gives the
logits and the maps of the whole batch, so ERTS does not pay a second forward for its explanation.
Otherwise a plain no-grad forward gives p_true.

Ledger charges (:class:`~erts_kit.selection.ledger.CostLedger`):

- plain scoring forward: ``scored += B``, wall-clock in phase ``'score'``;
- shared pass: ``scored += B`` (its trunk forward) and ``gradcam += B`` (head re-run + backward to
  the layer), wall-clock in phase ``'gradcam'`` (the whole shared pass, forward included);
- focus asked after a plain forward already ran (no hint): Grad-CAM on the candidates only,
  ``scored += n`` and ``gradcam += n``.

Reference fidelity (``fidelity="reference"``, :mod:`erts_kit.training.fidelity`): with
``train_mode=True`` the scoring forward runs in train mode (BatchNorm uses and updates batch
statistics, dropout is active) and there is no shared pass: focus comes from a separate eval-mode
Grad-CAM of the candidates (``scored += n``, ``gradcam += n``), as in the reference code;
``relu_order`` is passed to Grad-CAM; :meth:`ModelBatchScorer.extra_forward` is the reference SRD's
no-grad train-mode forward after a step (``scored += B``, phase ``'score'``). Every one of these
passes is charged like any other scoring pass, so compute-equivalent epochs stay honest.

Targets: single-label ``y`` (B,) are the true classes. Multi-hot ``y`` (B, C): p_true is the mean,
over classes, of the probability of the correct answer (``sigmoid`` where y = 1, ``1 - sigmoid``
where y = 0), and Grad-CAM explains the first positive class (class 0 when none).
"""
from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn

from ..models.inference import logits_no_grad
from .base import BatchInfo
from .ledger import CostLedger
from .policies.common import class_keys

__all__ = ["ModelBatchScorer"]


def _gradcam_and_logits(model: nn.Module, x: torch.Tensor, target: torch.Tensor,
                        relu_order: str = "after_mean",
                        aux: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    from ..explain import gradcam_and_logits
    return gradcam_and_logits(model, x, target, relu_order=relu_order, aux=aux)


def _focus_score(maps: torch.Tensor, name: str, **kw: Any) -> torch.Tensor:
    from ..explain import focus_score
    return focus_score(maps, name, **kw)


def _unwrap(model: nn.Module) -> nn.Module:
    try:
        from ..explain import unwrap_model
    except ImportError:  # pragma: no cover - explain always ships with the kit
        return getattr(model, "module", model)
    return unwrap_model(model)


class ModelBatchScorer:
    """Lazy per-batch scores of ``model`` on ``batch``, charged to ``ledger``.

    Args:
        model: the model being trained (DDP / compile wrappers are unwrapped for scoring).
        batch: the batch (x, y, indices, step, aux) on the model's device; ``batch.aux`` (when not None)
            goes to every pass with the signal.
        ledger: where the passes are charged; None charges nothing.
        focus_name: focus score to compute from the maps (``erts_kit.explain.FOCUS_SCORES``); a
            policy's :meth:`expect_focus` call can override it.
        amp: run the passes under ``torch.autocast`` when the batch is on CUDA (ignored elsewhere).
        focus_kwargs: extra keyword arguments of the focus score.
        train_mode: score in train mode without a shared pass, as the reference code does (module docstring).
        relu_order: Grad-CAM's ``relu_order`` (``"after_mean"``: kit; ``"before_mean"``: reference code).

    Example:
        >>> from erts_kit.models import build_model
        >>> from erts_kit.selection.base import BatchInfo
        >>> torch.manual_seed(0) is not None
        True
        >>> model = build_model("small_cnn", n_leads=2, n_classes=3)
        >>> b = BatchInfo(x=torch.randn(4, 2, 200), y=torch.tensor([0, 1, 2, 0]), indices=torch.arange(4), step=0)
        >>> led = CostLedger()
        >>> s = ModelBatchScorer(model, b, ledger=led)
        >>> s.expect_focus()
        >>> s.p_true().shape, s.focus(torch.tensor([1, 3])).shape
        (torch.Size([4]), torch.Size([2]))
        >>> led.totals()["scored"], led.totals()["gradcam"]
        (4, 4)
    """

    def __init__(self, model: nn.Module, batch: BatchInfo, ledger: CostLedger | None = None,
                 focus_name: str = "topk_mean", amp: bool = False, focus_kwargs: dict[str, Any] | None = None,
                 train_mode: bool = False, relu_order: str = "after_mean") -> None:
        self.model = _unwrap(model)
        self.train_mode = bool(train_mode)
        self.relu_order = relu_order
        self.batch = batch
        self.ledger = ledger
        self.focus_name = focus_name
        self.focus_kwargs = dict(focus_kwargs or {})
        self.amp = bool(amp)
        self._want_focus = False
        self._logits: torch.Tensor | None = None   # (B, C) float32, CPU
        self._maps: torch.Tensor | None = None     # (B, W) signed, CPU
        self._focus: torch.Tensor | None = None    # (B,) float32, CPU

    # -- hints and helpers ---------------------------------------------------------------------
    def expect_focus(self, name: str | None = None) -> None:
        """Tell the scorer focus will be asked for: the next pass is the shared Grad-CAM pass (not in train mode)."""
        self._want_focus = not self.train_mode
        if name is not None and name != self.focus_name:
            self.focus_name = name
            self._focus = None

    @property
    def batch_size(self) -> int:
        return int(self.batch.x.shape[0])

    def _target(self) -> torch.Tensor:
        return class_keys(self.batch.y).to(self.batch.x.device)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp and self.batch.x.is_cuda:
            return torch.autocast(device_type="cuda")
        return contextlib.nullcontext()

    def _phase(self, name: str) -> contextlib.AbstractContextManager:
        return self.ledger.phase(name) if self.ledger is not None else contextlib.nullcontext()

    def _charge(self, scored: int = 0, gradcam: int = 0) -> None:
        if self.ledger is not None:
            self.ledger.add_scored(scored)
            self.ledger.add_gradcam(gradcam)

    @contextlib.contextmanager
    def _eval(self):
        modes = [(m, m.training) for m in self.model.modules()]
        self.model.eval()
        try:
            yield
        finally:
            for m, flag in modes:
                m.training = flag

    @contextlib.contextmanager
    def _scoring_mode(self):
        """Eval mode (kit), or train mode for the reference's scoring forward; every module's mode is restored."""
        if not self.train_mode:
            with self._eval():
                yield
            return
        modes = [(m, m.training) for m in self.model.modules()]
        self.model.train()
        try:
            yield
        finally:
            for m, flag in modes:
                m.training = flag

    # -- passes ----------------------------------------------------------------------------------
    def _plain_forward(self) -> None:
        with self._phase("score"), self._scoring_mode(), self._autocast():
            logits = logits_no_grad(self.model, self.batch.x, aux=self.batch.aux)  # micro-batched on the CPU in eval mode
        self._logits = logits.detach().float().cpu()
        self._charge(scored=self.batch_size)

    def extra_forward(self) -> None:
        """The reference SRD's no-grad forward of the whole batch after a step (train mode: moves BatchNorm statistics).

        Its output is discarded (the reference used it for a training-accuracy print); it is charged
        ``scored += B`` in phase ``'score'``.
        """
        with self._phase("score"), self._scoring_mode(), self._autocast():
            logits_no_grad(self.model, self.batch.x, aux=self.batch.aux)
        self._charge(scored=self.batch_size)

    def _gradcam(self, positions: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        x, t, aux = self.batch.x, self._target(), self.batch.aux
        if positions is not None:
            pos = positions.to(x.device)
            x, t = x[pos], t[pos]
            aux = None if aux is None else aux[pos]
        with self._phase("gradcam"), self._eval(), self._autocast():
            maps, logits = _gradcam_and_logits(self.model, x, t, self.relu_order, aux)
        self._charge(scored=x.shape[0], gradcam=x.shape[0])
        return maps.detach().float().cpu(), logits.detach().float().cpu()

    def _shared_pass(self) -> None:
        self._maps, self._logits = self._gradcam(None)

    # -- BatchScorer ---------------------------------------------------------------------------
    def logits(self) -> torch.Tensor:
        """(B, C) float32 CPU logits of the scoring pass (computed on first use)."""
        if self._logits is None:
            if self._want_focus:
                self._shared_pass()
            else:
                self._plain_forward()
        return self._logits

    def p_true(self) -> torch.Tensor:
        """(B,) float32 CPU probability of the true class (multi-hot: see the module docstring)."""
        logits, y = self.logits(), self.batch.y.detach().cpu()
        if y.dim() == 2:
            s = torch.sigmoid(logits)
            return torch.where(y > 0.5, s, 1.0 - s).mean(dim=1)
        return torch.softmax(logits, dim=1).gather(1, y.long().view(-1, 1)).squeeze(1)

    def pred_correct(self) -> torch.Tensor:
        """(B,) bool: prediction equals the label (multi-hot: every class right at threshold 0.5)."""
        logits, y = self.logits(), self.batch.y.detach().cpu()
        if y.dim() == 2:
            return ((torch.sigmoid(logits) > 0.5) == (y > 0.5)).all(dim=1)
        return logits.argmax(dim=1) == y.long()

    def maps(self) -> torch.Tensor:
        """(B, W) signed Grad-CAM maps (true class) of the whole batch, from the shared pass."""
        if self._maps is None:
            self._shared_pass()
        return self._maps

    def focus(self, candidates: torch.Tensor) -> torch.Tensor:
        """(len(candidates),) float32 CPU focus of the given batch positions' maps."""
        cand = torch.as_tensor(candidates, dtype=torch.int64).cpu().view(-1)
        if len(cand) == 0:
            return torch.zeros(0, dtype=torch.float32)
        if self._maps is None and self._logits is not None:
            # p_true came from a plain forward (no hint): explain only the candidates
            maps, _ = self._gradcam(cand)
            return _focus_score(maps, self.focus_name, **self.focus_kwargs).float()
        if self._focus is None:
            self._focus = _focus_score(self.maps(), self.focus_name, **self.focus_kwargs).float().cpu()
        return self._focus[cand]
