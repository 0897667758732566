"""A packaged (or any) YAML recipe read into the pieces a grid needs: data options, model, training settings.

The one reader of a recipe outside the command line, so that benchmarks and notebooks train with exactly the
settings the file states (``erts_kit/configs/mitbih_beats.yaml``, ``paper.yaml``, ``demo.yaml``) instead of a
copy of them.

Example:
    >>> r = load_recipe("mitbih_beats")
    >>> r.model, r.model_kwargs, r.epochs, r.config.batch_size, r.data["context"]
    ('small_cnn', {'width': 16}, 6, 128, 'rr')
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..results.grid import ExperimentConfig
from .commands import build_parser, load_config
from .options import split_file_sections

__all__ = ["TRAINING_KEYS", "Recipe", "load_recipe"]

_NOT_SETTINGS = {"data_kwargs", "model_kwargs", "data_dir"}
TRAINING_KEYS = ("batch_size", "lr", "weight_decay", "lr_gamma", "loss", "full_loss", "cb_beta", "cb_max_weight_ratio",
                 "sampler")
"""The recipe settings :meth:`Recipe.training` passes on."""


def _command_keys() -> set[str]:
    """Top-level keys a config file may hold: what ``erts-kit demo/train/compare`` take (as the CLI checks them)."""
    import argparse

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    flags = {a.dest for name in ("demo", "train", "compare") for a in sub.choices[name]._actions}
    return (flags - {"help", "config"}) | {"policy", "policies", "seed", "duration_s"}   # duration_s: demo.yaml


@dataclass
class Recipe:
    """What a recipe file says: ``data`` (reader options), ``model`` and ``model_kwargs``, ``epochs``, the
    training and selection settings as an :class:`~erts_kit.results.grid.ExperimentConfig`, and the rest
    of the file's top-level keys (``policies``, ``seeds``, ``dataset``, the synthetic data's sizes, ...) in
    ``extra``."""

    data: dict[str, Any]
    model: str
    model_kwargs: dict[str, Any]
    epochs: int
    config: ExperimentConfig
    extra: dict[str, Any] = field(default_factory=dict)

    def training(self) -> dict[str, Any]:
        """The optimisation and loss settings plus the model options, for ``run_grid``/``run_paired_grid``
        (selection schedules left out: a grid sets its own)."""
        return {**{k: getattr(self.config, k) for k in TRAINING_KEYS}, "model_kwargs": dict(self.model_kwargs)}


def load_recipe(path_or_name: str) -> Recipe:
    """Read a recipe: a packaged name (``"mitbih_beats"``) or a YAML file (see :func:`load_config`).

    Raises:
        FileNotFoundError / ValueError / TypeError: as :func:`~erts_kit.cli.commands.load_config`.
        ValueError: an unknown top-level key (named, with the valid ones).

    Example:
        >>> t = load_recipe("mitbih_beats").training()
        >>> t["loss"], t["lr"], t["model_kwargs"]
        ('cb_ce', 0.002, {'width': 16})
    """
    file = split_file_sections(load_config(path_or_name), str(path_or_name))
    data, model_kwargs = file.pop("_data"), file.pop("_model")
    keys = set(ExperimentConfig.__dataclass_fields__) - _NOT_SETTINGS
    allowed = keys | _command_keys()
    unknown = sorted(str(k) for k in file if k not in allowed)
    if unknown:   # a misspelt setting would otherwise fall back to its default without a word
        raise ValueError(f"Unknown setting(s) {', '.join(unknown)} in {path_or_name}: expected any of "
                         f"{', '.join(sorted(allowed))}.")
    config = ExperimentConfig.from_dict({k: v for k, v in file.items() if k in keys})
    extra = {k: v for k, v in file.items() if k not in keys}
    return Recipe(data=dict(data), model=str(extra.pop("model", "small_cnn")), model_kwargs=dict(model_kwargs),
                  epochs=int(extra.pop("epochs", 10)), config=config, extra=extra)
