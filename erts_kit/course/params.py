"""Notebook parameters: one check for the ``parameters`` cell of every notebook of the series.

Every notebook has one cell tagged ``parameters`` (papermill overrides it with ``-p NAME value``) and,
right after it, ``P = erts_kit.course.params.check_params(globals(), notebook="02_baseline")``. The check
catches a wrong type or value *before* minutes of work, with a message that names the parameter,
what was expected, what it got and where to fix it:

    Notebook parameter EPOCHS: expected an integer >= 1, got '3' (str). Fix the parameters cell or
    the papermill -p value.

It then seeds Python, NumPy and torch with ``SEED``, resolves ``DEVICE`` with
:func:`erts_kit.training.pick_device` and prints one summary line with the device actually used.

The rules live in :data:`PARAMETER_RULES` (name -> :class:`Rule`); a notebook may define any subset
of them beyond :data:`REQUIRED`. Names not in the table are left alone.
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DEVICES", "PARAMETER_RULES", "REQUIRED", "Rule", "check_params", "check_value",
           "seed_everything"]

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")
"""Device names (``cuda:<n>`` is accepted too); ``auto`` takes CUDA, then MPS, then the CPU."""
REQUIRED: tuple[str, ...] = ("SMOKE", "SEED", "DATASET", "DATA_DIR", "MODEL", "EPOCHS", "DEVICE")
"""Parameters every notebook of the series defines (``POLICY`` where a notebook trains with one)."""

_FIX = "Fix the parameters cell or the papermill -p value."


@dataclass(frozen=True)
class Rule:
    """How one parameter is checked.

    Attributes:
        kind: ``"bool"``, ``"int"``, ``"float"``, ``"str"`` or ``"choice"``.
        low, high: bounds for int/float (None: unbounded).
        low_open, high_open: exclude the bound itself (e.g. phi in (0, 1]).
        choices: a callable giving the valid names (looked up when checked, so registries can grow).
        optional: None is accepted too (e.g. ``START_REVISION = None``).
    """

    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: Callable[[], Sequence[str]] | None = None
    optional: bool = False
    item: "Rule | None" = None  # for kind "list": the rule every element follows

    def describe(self) -> str:
        """What the rule expects, in words (used in error messages).

        Example:
            >>> Rule("float", 0, 1, low_open=True).describe()
            'a number in (0, 1]'
        """
        if self.kind == "list":
            text = f"a non-empty list, each element {self.item.describe()}"
        elif self.kind == "bool":
            text = "True or False"
        elif self.kind == "str":
            text = "a string"
        elif self.kind == "choice":
            text = "one of " + ", ".join(repr(c) for c in self.choices())
        else:
            noun = "an integer" if self.kind == "int" else "a number"
            if self.low is not None and self.high is not None:
                text = (f"{noun} in {'(' if self.low_open else '['}{self.low:g}, "
                        f"{self.high:g}{')' if self.high_open else ']'}")
            elif self.low is not None:
                text = f"{noun} {'>' if self.low_open else '>='} {self.low:g}"
            elif self.high is not None:
                text = f"{noun} {'<' if self.high_open else '<='} {self.high:g}"
            else:
                text = noun
        return text + (" (or None)" if self.optional else "")


def _datasets() -> list[str]:
    from ..data import DATASETS
    return list(DATASETS)


def _synthetic_classes() -> list[str]:
    from ..data import SYNTHETIC_CLASSES
    return list(SYNTHETIC_CLASSES)


def _models() -> list[str]:
    from ..models import list_models
    return list_models()


def _policies() -> list[str]:
    from ..selection import list_policies
    return list_policies()


def _samplers() -> list[str]:
    from ..training.config import SAMPLERS
    return list(SAMPLERS)


def _focus_scores() -> list[str]:
    from ..explain import FOCUS_SCORES
    return list(FOCUS_SCORES)


PARAMETER_RULES: dict[str, Rule] = {
    # the series-wide ones
    "SMOKE": Rule("bool"),
    "SEED": Rule("int", 0),
    "DATASET": Rule("choice", choices=_datasets),
    "DATA_DIR": Rule("str"),
    "MODEL": Rule("choice", choices=_models),
    "POLICY": Rule("choice", choices=_policies),
    "EPOCHS": Rule("int", 1),
    "DEVICE": Rule("str"),  # checked further by _check_device
    # cost knobs
    "N_SAMPLES": Rule("int", 10),
    "BATCH_SIZE": Rule("int", 1),
    "N_EXPLAIN": Rule("int", 1),
    "EARLY_EPOCHS": Rule("int", 1),
    "NUM_WORKERS": Rule("int", 0),
    # data
    "N_LEADS": Rule("int", 1),
    "FS": Rule("float", 100, 500),
    "LABEL_FLIP_RATE": Rule("float", 0, 1),
    "ARTIFACT_RATE": Rule("float", 0, 1),
    "LEAD": Rule("int", 0),
    "EXPLAIN_CLASS": Rule("choice", choices=_synthetic_classes),
    # optimisation
    "LR": Rule("float", 0, low_open=True),
    "WEIGHT_DECAY": Rule("float", 0),
    # imbalance (TrainConfig.sampler, cb_max_weight_ratio, select_after_warmup; the policies' class_floor)
    "SAMPLER": Rule("choice", choices=_samplers),
    "CB_MAX_WEIGHT_RATIO": Rule("float", 1, optional=True),
    "SELECT_AFTER_WARMUP": Rule("bool"),
    "CLASS_FLOOR": Rule("float", 0, 1),
    # selection (PDD / ERTS; the paper's names in upper case)
    "TAU": Rule("float", 0, 1),
    "PHI": Rule("float", 0, 1, low_open=True),
    "GAMMA": Rule("float", 0, 1, low_open=True),
    "WARM_UP": Rule("int", 0),
    "CAM_START": Rule("int", 0),
    "START_REVISION": Rule("int", 0, optional=True),
    "FOCUS": Rule("choice", choices=_focus_scores),
    "TOPK_FRAC": Rule("float", 0, 1, low_open=True),
    # runs, files and grids (05-08)
    "DURATION_S": Rule("float", 0, low_open=True),
    "RUN_DIR": Rule("str"),
    "OUT_DIR": Rule("str"),
    "PAPER_LOSSES": Rule("bool"),
    "COMPARE": Rule("list", item=Rule("choice", choices=_policies)),
    "POLICIES": Rule("list", item=Rule("choice", choices=_policies)),
    "VARIANTS": Rule("list", item=Rule("str")),     # "policy:key=value,..." (results.paired_grid.parse_variant)
    "SEEDS": Rule("list", item=Rule("int", 0)),
    "BACKBONES": Rule("list", item=Rule("choice", choices=_models)),
}
"""Name -> rule for every parameter the series knows; add a rule here when a notebook adds a knob."""


def _type_name(value: Any) -> str:
    return type(value).__name__


def _fail(name: str, rule: Rule, value: Any, cls: type[Exception], extra: str = "") -> Exception:
    return cls(f"Notebook parameter {name}: expected {rule.describe()}, got {value!r} ({_type_name(value)})."
               f"{extra} {_FIX}")


def check_value(name: str, value: Any, rule: Rule | None = None) -> Any:
    """Check one parameter against its rule and return it (ints as ``int``, numbers as ``float``).

    Args:
        name: the parameter's name (a key of :data:`PARAMETER_RULES` unless ``rule`` is given).
        value: its value.
        rule: the rule to apply (default: ``PARAMETER_RULES[name]``).

    Raises:
        TypeError: wrong type (a string for a number, a float for an integer, 1 for a bool, ...).
        ValueError: right type, out of range or not one of the valid names.

    Example:
        >>> check_value("PHI", 0.7)
        0.7
        >>> check_value("EPOCHS", "3")
        Traceback (most recent call last):
        ...
        TypeError: Notebook parameter EPOCHS: expected an integer >= 1, got '3' (str). Fix the parameters cell or the papermill -p value.
    """
    rule = PARAMETER_RULES[name] if rule is None else rule
    if value is None and rule.optional:
        return None
    if rule.kind == "list":
        if not isinstance(value, (list, tuple)) or not value:
            raise _fail(name, rule, value, TypeError)
        return [check_value(f"{name}[{i}]", v, rule.item) for i, v in enumerate(value)]
    if rule.kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise _fail(name, rule, value, TypeError)
        return bool(value)
    if rule.kind in ("str", "choice"):
        if not isinstance(value, str):
            raise _fail(name, rule, value, TypeError)
        if rule.kind == "choice" and value not in rule.choices():
            raise _fail(name, rule, value, ValueError)
        return value
    if isinstance(value, (bool, np.bool_)):
        raise _fail(name, rule, value, TypeError)
    if rule.kind == "int":
        if not isinstance(value, (int, np.integer)):
            hint = f" Write {int(value)} without the decimal point." if isinstance(value, float) and float(value).is_integer() else ""
            raise _fail(name, rule, value, TypeError, hint)
        value = int(value)
    else:
        if not isinstance(value, (int, float, np.integer, np.floating)):
            raise _fail(name, rule, value, TypeError)
        value = float(value)
        if not np.isfinite(value):
            raise _fail(name, rule, value, ValueError)
    too_low = rule.low is not None and (value <= rule.low if rule.low_open else value < rule.low)
    too_high = rule.high is not None and (value >= rule.high if rule.high_open else value > rule.high)
    if too_low or too_high:
        raise _fail(name, rule, value, ValueError)
    return value


def _check_device(value: str) -> Any:
    """Resolve DEVICE with ``pick_device``; errors reworded to name the parameter."""
    from ..training import pick_device

    if not (value in DEVICES or re.fullmatch(r"cuda:\d+", value)):
        raise ValueError(f"Notebook parameter DEVICE: expected one of {', '.join(map(repr, DEVICES))} "
                         f"(or 'cuda:<n>'), got {value!r} (str). {_FIX}")
    try:
        return pick_device(value)
    except ValueError as err:
        raise ValueError(f"Notebook parameter DEVICE: {err} {_FIX}") from None


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every GPU).

    Example:
        >>> seed_everything(0); a = np.random.rand()
        >>> seed_everything(0); a == np.random.rand()
        True
    """
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def _device_text(device: Any, requested: str) -> str:
    import torch

    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu" and requested == "auto":
        return f"cpu (no CUDA or MPS device here; {torch.get_num_threads()} threads)"
    return str(device)


def check_params(namespace: Mapping[str, Any], notebook: str = "notebook", *, seed: bool = True,
                 verbose: bool = True) -> dict[str, Any]:
    """Validate a notebook's parameters, seed every RNG, resolve the device and print a summary.

    Args:
        namespace: where the parameters live: ``globals()`` in a notebook, or any dict.
        notebook: the notebook's name, for the printed summary.
        seed: seed Python, NumPy and torch with ``SEED`` (:func:`seed_everything`).
        verbose: print the parameters and the device used.

    Returns:
        dict of every known parameter found (name -> checked value) plus ``"device"``, the
        ``torch.device`` that ``DEVICE`` resolves to.

    Raises:
        TypeError / ValueError: a parameter of the wrong type or out of range, naming it, with what
            was expected and how to fix it; ValueError also when a :data:`REQUIRED` one is missing,
            ``DATA_DIR`` is not an existing folder, or ``DEVICE`` is not available here.

    Example:
        >>> P = check_params({"SMOKE": True, "SEED": 0, "DATASET": "synthetic", "DATA_DIR": "",
        ...                   "MODEL": "small_cnn", "EPOCHS": 1, "DEVICE": "cpu", "PHI": 0.7}, verbose=False)
        >>> P["EPOCHS"], P["PHI"], str(P["device"])
        (1, 0.7, 'cpu')
        >>> check_params({"SMOKE": "yes"}, verbose=False)
        Traceback (most recent call last):
        ...
        TypeError: Notebook parameter SMOKE: expected True or False, got 'yes' (str). Fix the parameters cell or the papermill -p value.
    """
    if not isinstance(namespace, Mapping):
        raise TypeError(f"Expected the notebook's namespace as a mapping (pass globals()), got "
                        f"{_type_name(namespace)}.")
    checked = {name: check_value(name, namespace[name], rule)
               for name, rule in PARAMETER_RULES.items() if name in namespace}
    missing = [n for n in REQUIRED if n not in checked]
    if missing:
        raise ValueError(f"Notebook parameter(s) {', '.join(missing)} not defined: every notebook of the series "
                         f"defines {', '.join(REQUIRED)} in its parameters cell.")
    data_dir = checked["DATA_DIR"]
    if data_dir and not Path(data_dir).expanduser().is_dir():
        raise ValueError(f"Notebook parameter DATA_DIR: expected an existing folder (or '' for none), got "
                         f"{data_dir!r}, which is not a folder here. {_FIX}")
    device = _check_device(checked["DEVICE"])
    checked["device"] = device
    if seed:
        seed_everything(checked["SEED"])
    if verbose:
        shown = ", ".join(f"{k}={v!r}" for k, v in checked.items() if k != "device")
        print(f"{notebook}: {shown}")
        print(f"device: {_device_text(device, checked['DEVICE'])}")
    return checked
