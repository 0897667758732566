"""Lead geometry of the synthetic ECG: a 3-D heart vector projected onto standard leads.

The synthetic beats live in a 3-D "vectorcardiogram" (VCG) frame: X to the patient's left,
Y towards the feet, Z towards the back (the frame of Dower's transform). Each sample gets its
own projection matrix: Dower's inverse transform (Dower et al. 1980, as tabulated by
Edenbrandt & Pahlm 1988) for leads I, II and V1..V6, jittered in gain and direction per sample
and rotated by a small random heart axis; III, aVR, aVL and aVF follow from I and II by
Einthoven's and Goldberger's relations, so aVR comes out inverted as on a real ECG.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

STANDARD_LEADS: list[str] = ["I", "II", "III", "aVR", "aVL", "aVF",
                             "V1", "V2", "V3", "V4", "V5", "V6"]
LEAD_ALIASES: dict[str, str] = {"MLII": "II", "ML2": "II"}   # MIT-BIH's modified limb lead II
DEFAULT_LEADS: dict[int, list[str]] = {1: ["II"], 2: ["MLII", "V1"], 12: STANDARD_LEADS}

# Dower inverse transform rows (lead = row @ [X, Y, Z]) for the 8 independent leads.
_DOWER = np.array([
    [0.632, -0.235, 0.059],    # I
    [0.235, 1.066, -0.132],    # II
    [-0.515, 0.157, -0.917],   # V1
    [0.044, 0.164, -1.387],    # V2
    [0.882, 0.098, -1.277],    # V3
    [1.213, 0.127, -0.601],    # V4
    [1.125, 0.127, -0.086],    # V5
    [0.831, 0.076, 0.230],     # V6
])


def resolve_lead_names(n_leads: int, lead_names: Sequence[str] | None) -> list[str]:
    """Default lead names for ``n_leads`` or check the ones given.

    Example:
        >>> resolve_lead_names(2, None)
        ['MLII', 'V1']
        >>> resolve_lead_names(1, ["V5"])
        ['V5']
    """
    if lead_names is None:
        if n_leads not in DEFAULT_LEADS:
            raise ValueError(f"Expected n_leads in {sorted(DEFAULT_LEADS)}, got {n_leads}: "
                             "or pass lead_names=[...] to pick leads by name.")
        return list(DEFAULT_LEADS[n_leads])
    names = [str(n) for n in lead_names]
    if len(names) != n_leads:
        raise ValueError(f"Expected {n_leads} lead_names (n_leads={n_leads}), got {len(names)}: {names}.")
    known = STANDARD_LEADS + list(LEAD_ALIASES)
    bad = [n for n in names if n not in known]
    if bad:
        raise ValueError(f"Unknown lead name(s) {bad}: expected names from {known}.")
    return names


def _rotations(rng: np.random.Generator, n: int, sd_deg: float) -> np.ndarray:
    """Random rotation matrices (n, 3, 3) with small angles about each axis."""
    a = np.deg2rad(rng.normal(0.0, sd_deg, size=(n, 3)))
    c, s = np.cos(a), np.sin(a)
    one, zero = np.ones(n), np.zeros(n)
    rx = np.stack([one, zero, zero, zero, c[:, 0], -s[:, 0], zero, s[:, 0], c[:, 0]], 1).reshape(n, 3, 3)
    ry = np.stack([c[:, 1], zero, s[:, 1], zero, one, zero, -s[:, 1], zero, c[:, 1]], 1).reshape(n, 3, 3)
    rz = np.stack([c[:, 2], -s[:, 2], zero, s[:, 2], c[:, 2], zero, zero, zero, one], 1).reshape(n, 3, 3)
    return rz @ ry @ rx


def lead_matrices(rng: np.random.Generator, n: int, lead_names: Sequence[str],
                  jitter: float = 1.0) -> np.ndarray:
    """Per-sample projection matrices (n, leads, 3) from the VCG frame to the named leads.

    Args:
        rng: random generator.
        n: number of samples.
        lead_names: names from ``STANDARD_LEADS`` (or ``MLII``).
        jitter: scale of the per-sample variation (0: every sample uses Dower's matrix).

    Example:
        >>> m = lead_matrices(np.random.default_rng(0), 2, STANDARD_LEADS, jitter=0.0)
        >>> m.shape, bool(np.allclose(m[0, 3], -(m[0, 0] + m[0, 1]) / 2))
        ((2, 12, 3), True)
    """
    gain = 1.0 + jitter * rng.uniform(-0.15, 0.15, size=(n, 8, 1))
    rows = _DOWER[None] * gain + jitter * rng.normal(0.0, 0.06, size=(n, 8, 3))
    rows = rows @ _rotations(rng, n, 12.0 * jitter)            # (n, 8, 3): rotate the heart axis
    lead_i, lead_ii = rows[:, 0], rows[:, 1]
    full = {
        "I": lead_i, "II": lead_ii, "III": lead_ii - lead_i,
        "aVR": -(lead_i + lead_ii) / 2, "aVL": lead_i - lead_ii / 2, "aVF": lead_ii - lead_i / 2,
    }
    for j, name in enumerate(["V1", "V2", "V3", "V4", "V5", "V6"]):
        full[name] = rows[:, 2 + j]
    names = [LEAD_ALIASES.get(nm, nm) for nm in lead_names]
    return np.stack([full[nm] for nm in names], axis=1).astype(np.float32)


def swap_arm_leads(lead_names: Sequence[str]) -> np.ndarray:
    """Row permutation + signs of a left/right arm electrode reversal, as (index, sign) arrays.

    With RA and LA swapped: I -> -I, II <-> III, aVR <-> aVL, aVF and V1..V6 unchanged. Returns
    an int array ``perm`` and float array ``sign`` with ``swapped[l] = sign[l] * x[perm[l]]``;
    a lead whose partner is missing keeps its place.

    Example:
        >>> perm, sign = swap_arm_leads(STANDARD_LEADS)
        >>> perm[:6].tolist(), sign[:3].tolist()
        ([0, 2, 1, 4, 3, 5], [-1.0, 1.0, 1.0])
    """
    names = [LEAD_ALIASES.get(n, n) for n in lead_names]
    partner = {"II": "III", "III": "II", "aVR": "aVL", "aVL": "aVR"}
    perm = np.arange(len(names))
    sign = np.ones(len(names))
    for i, nm in enumerate(names):
        if nm == "I":
            sign[i] = -1.0
        elif nm in partner and partner[nm] in names:
            perm[i] = names.index(partner[nm])
    return perm, sign
