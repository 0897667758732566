"""Training: one loop for every selection policy, its configuration, steps, checkpoints and losses.

- :mod:`.loop`: :func:`train` (reads top to bottom) and :class:`TrainResult`;
- :mod:`.config`: :class:`TrainConfig`, :func:`paper_config`, :func:`pick_device`;
- :mod:`.state`: what a run carries (:class:`RunState`), building, resuming and checkpointing it;
- :mod:`.epoch`: one epoch's batches, validation and history row;
- :mod:`.step`: one optimizer step on the kept samples (DDP-safe);
- :mod:`.distributed`: DDP glue (ranks, devices, gathers);
- :mod:`.evaluate`: metrics on a split, pre-flight checks;
- :mod:`.checkpoint`: atomic, ``weights_only`` checkpoints;
- :mod:`.losses`: cross-entropy, class-balanced cross-entropy, BCE;
- :mod:`.sampling`: the class-balanced sampler;
- :mod:`.schedule`: warnings when a policy's schedule never lets it act, or its best epoch is a warm-up one.
- :mod:`.fidelity`: the ``fidelity`` presets, the kit's choices or the ERTS reference code's.
"""
from .checkpoint import load_checkpoint, save_checkpoint
from .config import (
    SAMPLERS,
    SELECT_METRICS,
    ScheduleWarning,
    TrainConfig,
    paper_config,
    pick_device,
)
from .distributed import dist_info
from .evaluate import check_compatible, evaluate
from .fidelity import (
    FIDELITIES,
    fidelity_model_kwargs,
    fidelity_policy_params,
    resolve_fidelity,
)
from .loop import TrainResult, train
from .losses import LOSSES, ClassificationLoss, class_balanced_weights, make_loss
from .sampling import ClassBalancedSampler
from .step import NonFiniteLossError, train_step

__all__ = [
    "FIDELITIES", "LOSSES", "SAMPLERS", "SELECT_METRICS", "ClassBalancedSampler", "ClassificationLoss",
    "NonFiniteLossError", "ScheduleWarning", "TrainConfig", "TrainResult",
    "check_compatible", "class_balanced_weights", "dist_info", "evaluate", "fidelity_model_kwargs",
    "fidelity_policy_params", "load_checkpoint", "make_loss", "paper_config", "pick_device", "resolve_fidelity",
    "save_checkpoint", "train", "train_step",
]
