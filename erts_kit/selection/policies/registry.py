"""Building selection policies by name: :func:`make_policy`, :func:`list_policies`, :func:`paper_policy`.

Also :data:`PAPER_DEFAULTS`, the reference settings of the ERTS paper that :func:`paper_policy` applies.

Example:
    >>> make_policy("xai_dbpd", tau=0.3).name
    'xai_dbpd'
"""
from __future__ import annotations

from typing import Any

from ..._validation import check_choice
from .cached_erts import CachedERTSPolicy
from .erts import ERTSPolicy
from .full import FullPolicy
from .infobatch import InfoBatchPolicy, NoiseAwarePolicy
from .pdd import DBPDPolicy, SMRDPolicy, SRDPolicy

__all__ = ["PAPER_DEFAULTS", "list_policies", "make_policy", "paper_policy"]

# Reference settings of the ERTS paper and its code (DESIGN.md). No revision value is published.
PAPER_DEFAULTS: dict[str, Any] = {"tau": 0.3, "gamma": 0.99, "phi": 0.7, "cam_start": 3, "warm_up": 5,
                                  "start_revision": None, "seed": 42, "focus": "topk_mean"}

_PDD = {"dbpd": DBPDPolicy, "smrd": SMRDPolicy, "srd": SRDPolicy}
_NAMES = ["full", "dbpd", "smrd", "srd", "xai_dbpd", "xai_smrd", "xai_srd", "infobatch", "cached_erts", "noise_aware"]
# Policies without a per-epoch scoring pass of every sample (built by their class, all keywords checked there).
_CACHED = {"infobatch": InfoBatchPolicy, "cached_erts": CachedERTSPolicy, "noise_aware": NoiseAwarePolicy}
_COMMON = ("warm_up", "start_revision", "seed", "class_floor")  # every policy takes a seed, so a loop can always pass one
_PARAMS = {
    "full": ("seed",),
    "dbpd": ("tau", *_COMMON, "rescue"),
    "smrd": ("tau", *_COMMON),
    "srd": ("gamma", *_COMMON),
}
_ERTS_PARAMS = ("phi", "cam_start", "focus")
for _n in ("dbpd", "smrd", "srd"):
    _PARAMS[f"xai_{_n}"] = (*_PARAMS[_n], *_ERTS_PARAMS)
_PARAMS["infobatch"] = ("prune_ratio", "prune_at", *_COMMON)
_PARAMS["noise_aware"] = ("drop_share", "signal", "prune_ratio", "prune_at", *_COMMON)
_PARAMS["cached_erts"] = ("tau", "phi", "cam_start", "rescore_every", "focus", *_COMMON)


def list_policies() -> list[str]:
    """Names :func:`make_policy` accepts.

    Example:
        >>> "xai_smrd" in list_policies()
        True
    """
    return list(_NAMES)


def _normalise(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"Expected a policy name (str), got {type(name).__name__}: one of {', '.join(_NAMES)}.")
    key = name.strip().lower().replace("-", "_")
    key = {"erts_dbpd": "xai_dbpd", "erts_smrd": "xai_smrd", "erts_srd": "xai_srd"}.get(key, key)
    return check_choice("policy", key, _NAMES)


def make_policy(name: str, **params: Any):
    """Build a policy by name, validating its parameters.

    Names: ``full, dbpd, smrd, srd, xai_dbpd, xai_smrd, xai_srd`` (case and ``-``/``_`` ignored;
    ``erts_*`` are aliases of ``xai_*``), and the policies without a per-epoch scoring pass of every
    sample: ``infobatch`` (``prune_ratio``), ``cached_erts`` (``rescore_every``) and ``noise_aware``
    (``drop_share``, ``signal``, ``prune_ratio``). Parameters and ranges: ``tau`` in [0, 1], ``gamma`` in (0, 1],
    ``phi`` in (0, 1], ``warm_up`` >= 0, ``start_revision`` None or >= warm_up, ``cam_start`` >= 0,
    ``seed`` >= 0, ``focus`` a registered focus score, ``class_floor`` in [0, 1] (PDD/ERTS: a kit
    addition, 0 = off), ``rescue`` (``dbpd`` and ``xai_dbpd`` only: the reference code's DBPD rescue,
    off by default). Unset ones take :data:`PAPER_DEFAULTS`.

    Raises:
        ValueError: unknown name (lists the valid ones) or a value out of range.
        TypeError: a parameter the policy does not take (lists the ones it takes).

    Example:
        >>> make_policy("smrd", tau=0.5, seed=1)
        SMRDPolicy(tau=0.5, warm_up=5, start_revision=None)
        >>> make_policy("srd", phi=0.7)
        Traceback (most recent call last):
        ...
        TypeError: Policy 'srd' takes no parameter 'phi': it takes gamma, warm_up, start_revision, seed, class_floor.
    """
    key = _normalise(name)
    params.pop("name", None)  # so make_policy(**policy.params()) round-trips
    allowed = _PARAMS[key]
    unknown = [k for k in params if k not in allowed]
    if unknown:
        takes = ", ".join(allowed) if allowed else "nothing"
        raise TypeError(f"Policy {key!r} takes no parameter {unknown[0]!r}: it takes {takes}.")
    if key == "full":
        return FullPolicy(**params)
    if key in _CACHED:
        if key == "cached_erts" and "focus" in params:
            params["focus"] = _focus_checked(params["focus"])
        return _CACHED[key](**params)
    base_name = key.removeprefix("xai_")
    base_kw = {k: v for k, v in params.items() if k not in _ERTS_PARAMS}
    base = _PDD[base_name](**base_kw)
    if key == base_name:
        return base
    erts_kw = {k: v for k, v in params.items() if k in _ERTS_PARAMS}
    return ERTSPolicy(base, **erts_kw)


def _focus_checked(name: str) -> str:
    return ERTSPolicy(DBPDPolicy(), focus=name).focus_name   # one place validates focus names


def paper_policy(name: str, **overrides: Any):
    """A policy with the reference settings of the ERTS paper (:data:`PAPER_DEFAULTS`), optionally overridden.

    Example:
        >>> p = paper_policy("xai_srd")
        >>> p.phi, p.cam_start, p.base.gamma, p.warm_up, p.filter_start
        (0.7, 3, 0.99, 5, 8)
    """
    key = _normalise(name)
    params = {k: v for k, v in PAPER_DEFAULTS.items() if k in _PARAMS[key]}
    params.update(overrides)
    return make_policy(key, **params)
