"""Reader and model options of ``erts-kit train`` / ``compare``: flags, and the config file's ``data:`` / ``model:``.

Flags (every one optional; unset means the reader's or the model's own default):

* data (MIT-BIH): ``--context beat|rr|multibeat``, ``--window-s``, ``--lead``,
  ``--val-records 101,106``, ``--n-val-records``, ``--folds k --fold i``, ``--train-records``,
  ``--test-records``; any reader: ``--data-option key=value`` (repeatable);
* model: ``--width``, ``--model-option key=value`` (repeatable).

A config file may hold the same as sections, checked against the reader's and the model's
parameters (unknown keys are named, with the accepted ones)::

    dataset: mitbih
    data:
      context: rr
      n_folds: 3
      fold: 0
    model:
      name: small_cnn      # the backbone (or the top-level ``model: small_cnn``)
      width: 16

Flags typed on the command line win over the file.
"""
from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from .errors import UserError

__all__ = ["add_data_model_args", "data_model_options", "reader_options", "real_data_kwargs", "split_file_sections"]

_MITBIH_FLAGS = ("context", "window_s", "lead", "val_records", "n_val_records", "n_folds", "fold",
                 "train_records", "test_records")
_LIST_FLAGS = ("val_records", "train_records", "test_records")


def _records(text: str) -> list[str]:
    items = [t.strip() for t in str(text).replace(" ", ",").split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"expected record names separated by commas (e.g. 101,106), got {text!r}")
    return items


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, value = str(text).partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected key=value (e.g. window_s=0.6), got {text!r}")
    return key.strip().replace("-", "_"), yaml.safe_load(value) if value.strip() else None


def add_data_model_args(data: argparse._ArgumentGroup, model: argparse._ArgumentGroup) -> None:
    """Add the reader flags to the ``data`` group and the model flags to the ``model`` group (defaults None)."""
    data.add_argument("--context", default=None, help="mitbih: beat, rr (RR-interval aux features) or multibeat")
    data.add_argument("--window-s", type=float, default=None, help="mitbih: beat window in seconds")
    data.add_argument("--lead", default=None, help="mitbih: lead name (MLII), index, or 'both'")
    data.add_argument("--val-records", type=_records, default=None,
                      help="mitbih: fixed validation records, e.g. 101,106 (taken out of the training records)")
    data.add_argument("--n-val-records", type=int, default=None, help="mitbih: training records drawn for validation")
    data.add_argument("--n-folds", "--folds", dest="n_folds", type=int, default=None,
                      help="mitbih: validation = one of k record-wise folds of the training records")
    data.add_argument("--fold", type=int, default=None, help="mitbih: which fold (0-based) is the validation set")
    data.add_argument("--train-records", type=_records, default=None, help="mitbih: training records (default DS1)")
    data.add_argument("--test-records", type=_records, default=None, help="mitbih: test records (default DS2)")
    data.add_argument("--data-option", type=_key_value, action="append", default=None, metavar="KEY=VALUE",
                      help="any other reader option (repeatable), e.g. cache_dir=/tmp/cache")
    model.add_argument("--width", type=int, default=None, help="model width (small_cnn: channels of the first block)")
    model.add_argument("--model-option", type=_key_value, action="append", default=None, metavar="KEY=VALUE",
                       help="any other model option (repeatable), e.g. dropout=0.3")


def _reader(dataset: str) -> Callable[..., Any]:
    from ..data import load_cinc2020, load_mitbih, load_ptbxl, make_synthetic
    return {"synthetic": make_synthetic, "ptbxl": load_ptbxl, "cinc": load_cinc2020, "mitbih": load_mitbih}[dataset]


def reader_options(dataset: str) -> list[str]:
    """The options a dataset's reader takes (what a config's ``data:`` section may hold).

    Example:
        >>> "context" in reader_options("mitbih"), "context" in reader_options("synthetic")
        (True, False)
    """
    params = inspect.signature(_reader(dataset)).parameters
    names = [p for p in params if p not in ("root", "data_dir")]
    return names + (["normalize"] if dataset == "synthetic" and "normalize" not in names else [])


def _checked(section: Mapping[str, Any], allowed: list[str], what: str, source: str) -> dict[str, Any]:
    if not isinstance(section, Mapping):
        raise UserError(f"Expected the {what} section of {source} as a mapping (key: value lines), got "
                        f"{type(section).__name__} {section!r}.")
    bad = [str(k) for k in section if k not in allowed]
    if bad:
        raise UserError(f"Unknown {what} option(s) {', '.join(bad)} in {source}: expected any of "
                        f"{', '.join(allowed) or 'none'}.")
    return dict(section)


def _file_sections(file: dict[str, Any], source: str) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """The ``data:`` and ``model:`` sections of a config file (popped from it) and the backbone they name."""
    data = file.pop("data", None) or {}
    model = file.pop("model", None)
    name = None
    if isinstance(model, Mapping):
        model = dict(model)
        name = model.pop("name", None)
    elif model is not None:
        name, model = model, {}
    if not isinstance(data, Mapping):
        raise UserError(f"Expected the data section of {source} as a mapping (key: value lines), got "
                        f"{type(data).__name__} {data!r}.")
    data = dict(data)
    for key in ("dataset", "data_dir"):   # accepted inside the section too
        if key in data:
            file.setdefault(key, data.pop(key))
    return data, dict(model or {}), name


def data_model_options(args: argparse.Namespace, explicit: set[str], file: dict[str, Any] | None, source: str,
                       dataset: str, model: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(data_kwargs, model_kwargs)`` from a config's sections and the flags (flags win), checked.

    Raises:
        UserError: an option the dataset's reader or the model does not take (named, with the accepted
            ones), or a MIT-BIH flag with another dataset.

    Example:
        >>> from erts_kit.cli.commands import build_parser
        >>> a = build_parser().parse_args(["train", "--dataset", "mitbih", "--context", "rr", "--val-records", "101,106"])
        >>> data_model_options(a, {"context", "val_records"}, None, "flags", "mitbih", "small_cnn")
        ({'context': 'rr', 'val_records': ['101', '106']}, {})
    """
    from ..models.registry import model_options
    data_kw, model_kw = dict((file or {}).get("_data", {})), dict((file or {}).get("_model", {}))
    flags = {k: getattr(args, k, None) for k in _MITBIH_FLAGS if k in explicit and getattr(args, k, None) is not None}
    if flags and dataset != "mitbih":
        raise UserError(f"Option(s) {', '.join('--' + k.replace('_', '-') for k in flags)} apply to --dataset mitbih "
                        f"only, got --dataset {dataset}: drop them, or use --data-option key=value.")
    if isinstance(flags.get("lead"), str) and flags["lead"].isdigit():
        flags["lead"] = int(flags["lead"])   # a channel index
    data_kw.update(flags)
    data_kw.update(dict(getattr(args, "data_option", None) or []))
    if getattr(args, "width", None) is not None:
        model_kw["width"] = args.width
    model_kw.update(dict(getattr(args, "model_option", None) or []))
    data_kw = _checked(data_kw, reader_options(dataset), f"data ({dataset} reader)", source)
    model_kw = _checked(model_kw, model_options(model), f"model ({model})", source)
    return data_kw, model_kw


def split_file_sections(file: dict[str, Any], source: str) -> dict[str, Any]:
    """A config file with its ``data:``/``model:`` sections moved to the private keys ``_data``/``_model``.

    Example:
        >>> split_file_sections({"model": {"name": "small_cnn", "width": 8}, "data": {"context": "rr"}}, "c.yaml")
        {'model': 'small_cnn', '_data': {'context': 'rr'}, '_model': {'width': 8}}
    """
    file = dict(file)
    data, model, name = _file_sections(file, source)
    for key in _MITBIH_FLAGS:   # also accepted at the top level, as the flags' names
        if key in file:
            data.setdefault(key, file.pop(key))
    if "width" in file:
        model.setdefault("width", file.pop("width"))
    if name is not None:
        file["model"] = name
    return {**file, "_data": data, "_model": model}


def real_data_kwargs(s: dict[str, Any]) -> dict[str, Any]:
    """``fs`` / ``class_order`` of a run's settings, for the readers that take them (cinc: both; mitbih, ptbxl: fs).

    Example:
        >>> real_data_kwargs({"dataset": "cinc", "fs": 250})
        {'class_order': 'kit', 'fs': 250.0}
    """
    fs, order = s.get("fs"), s.get("class_order", "kit")
    if s["dataset"] == "cinc":
        return {"class_order": order, **({"fs": float(fs)} if fs is not None else {})}
    if s["dataset"] == "mitbih":
        return {"fs": float(fs)} if fs is not None else {}
    if s["dataset"] == "ptbxl" and fs is not None:
        if fs not in (100, 500):
            raise UserError(f"Expected --fs 100 or 500 for ptbxl (records100/ or records500/), got {fs:g}.")
        return {"fs": int(fs)}
    if fs is not None:
        raise UserError(f"--fs applies to the cinc, mitbih and ptbxl readers, not to {s['dataset']!r}; leave it out.")
    return {}
