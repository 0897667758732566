"""Noise of the synthetic ECG: clean-recording noise and the heavy artefacts used as corruptions.

Clean noise (every sample): baseline wander of 0.01-0.05 mV from respiration/electrodes and white
(muscle/amplifier) noise of 0.004-0.015 mV. Heavy artefacts (a chosen fraction of samples), one
kind per sample:

================  ==================================================================================
kind              what it does
================  ==================================================================================
baseline_wander   0.4-1.2 mV slow drift (0.1-0.6 Hz), different in every lead
muscle            bursts (or the whole record) of 0.1-0.3 mV broadband EMG-like noise in every lead
electrode_motion  1-3 large (0.5-2 mV) transients of 0.2-1 s on the leads sharing one electrode
flat_lead         1 to max(1, leads // 4) leads exactly 0 (disconnected); a 1-lead record is all 0
swapped_leads     left/right arm reversal: I inverted, II<->III, aVR<->aVL (12 leads); the two
                  leads exchanged (2 leads); the lead inverted (1 lead)
================  ==================================================================================
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .synthetic_leads import LEAD_ALIASES, swap_arm_leads

ARTIFACT_KINDS: list[str] = ["baseline_wander", "muscle", "electrode_motion", "flat_lead", "swapped_leads"]

# Leads that move together when one electrode moves (limb electrodes feed several leads).
_ELECTRODE_GROUPS = {
    "RA": {"I", "II", "aVR", "aVL", "aVF"}, "LA": {"I", "III", "aVL", "aVR", "aVF"},
    "LL": {"II", "III", "aVF", "aVR", "aVL"},
    **{v: {v} for v in ("V1", "V2", "V3", "V4", "V5", "V6")},
}


def clean_wander(rng: np.random.Generator, n: int, n_timesteps: int, fs: float) -> np.ndarray:
    """Small baseline wander (n, 3, T) in the VCG frame: two slow sinusoids per axis.

    Example:
        >>> w = clean_wander(np.random.default_rng(0), 2, 500, 100.0)
        >>> w.shape, bool(np.abs(w).max() < 0.11)
        ((2, 3, 500), True)
    """
    t = (np.arange(n_timesteps, dtype=np.float32) / fs)[None, None, :]
    out = np.zeros((n, 3, n_timesteps), dtype=np.float32)
    for lo, hi in ((0.05, 0.2), (0.2, 0.5)):
        amp = rng.uniform(0.01, 0.05, (n, 3, 1)).astype(np.float32) / 2
        freq = rng.uniform(lo, hi, (n, 3, 1)).astype(np.float32)
        phase = rng.uniform(0, 2 * np.pi, (n, 3, 1)).astype(np.float32)
        out += amp * np.sin(2 * np.pi * freq * t + phase)
    return out


def add_white_noise(rng: np.random.Generator, x: np.ndarray, scale: float = 1.0) -> None:
    """Add white noise of 0.004-0.015 mV (per sample) times ``scale`` to x (n, leads, T) float32 in place.

    Example:
        >>> x = np.zeros((2, 1, 1000), np.float32)
        >>> add_white_noise(np.random.default_rng(0), x)
        >>> bool(0.003 < x.std() < 0.016)
        True
    """
    if scale <= 0:
        return
    sd = (rng.uniform(0.004, 0.015, x.shape[0]) * scale).astype(np.float32)
    noise = np.empty(x.shape[1:], dtype=np.float32)           # one record at a time: small, cache-friendly
    for i in range(x.shape[0]):
        rng.standard_normal(dtype=np.float32, out=noise)
        noise *= sd[i]
        x[i] += noise


def _smooth_bursts(rng: np.random.Generator, n_timesteps: int, fs: float) -> np.ndarray:
    """A (T,) envelope in [0, 1]: the whole record or 1-3 bursts of 1-4 s with soft edges."""
    if rng.random() < 0.3:
        return np.ones(n_timesteps, dtype=np.float32)
    t = np.arange(n_timesteps) / fs
    env = np.zeros(n_timesteps)
    for _ in range(rng.integers(1, 4)):
        c, half = rng.uniform(0, t[-1]), rng.uniform(0.5, 2.0)
        env = np.maximum(env, 1 / (1 + np.exp(-(half - np.abs(t - c)) * 8)))
    return env.astype(np.float32)


def apply_artifact(rng: np.random.Generator, x: np.ndarray, kind: str, fs: float,
                   lead_names: Sequence[str]) -> None:
    """Apply one heavy artefact of ``kind`` (see ``ARTIFACT_KINDS``) to one record x (leads, T) in place.

    Example:
        >>> x = np.ones((12, 100), np.float32)
        >>> from erts_kit.data.synthetic_leads import STANDARD_LEADS
        >>> apply_artifact(np.random.default_rng(0), x, "flat_lead", 100.0, STANDARD_LEADS)
        >>> 1 <= int((x == 0).all(axis=1).sum()) <= 3
        True
    """
    n_leads, n_timesteps = x.shape
    t = np.arange(n_timesteps, dtype=np.float32) / fs
    if kind == "baseline_wander":
        for lo, hi in ((0.1, 0.3), (0.3, 0.6)):
            amp = rng.uniform(0.2, 0.6, (n_leads, 1))
            x += (amp * np.sin(2 * np.pi * rng.uniform(lo, hi, (n_leads, 1)) * t
                               + rng.uniform(0, 2 * np.pi, (n_leads, 1)))).astype(np.float32)
    elif kind == "muscle":
        sd = rng.uniform(0.1, 0.3, (n_leads, 1)).astype(np.float32)
        x += rng.standard_normal(x.shape, dtype=np.float32) * sd * _smooth_bursts(rng, n_timesteps, fs)
    elif kind == "electrode_motion":
        names = [LEAD_ALIASES.get(nm, nm) for nm in lead_names]
        for _ in range(rng.integers(1, 4)):
            electrode = rng.choice(sorted(_ELECTRODE_GROUPS))
            hit = np.array([nm in _ELECTRODE_GROUPS[electrode] for nm in names])
            if not hit.any():
                hit[rng.integers(n_leads)] = True
            t0, tau = rng.uniform(0, t[-1]), rng.uniform(0.2, 1.0)
            dt = np.clip(t - t0, 0, None)
            bump = np.where(t >= t0, np.exp(-dt / tau) - np.exp(-dt / (tau / 5)), 0.0) * 1.87
            sign_amp = rng.uniform(0.5, 2.0, hit.sum()) * rng.choice([-1.0, 1.0], hit.sum())
            x[hit] += (sign_amp[:, None] * bump[None, :]).astype(np.float32)
    elif kind == "flat_lead":
        n_flat = rng.integers(1, max(1, n_leads // 4) + 1)
        x[rng.choice(n_leads, size=n_flat, replace=False)] = 0.0
    elif kind == "swapped_leads":
        if n_leads == 1:
            x *= -1.0
        elif n_leads == 2:
            x[:] = x[::-1].copy()
        else:
            perm, sign = swap_arm_leads(lead_names)
            x[:] = x[perm] * sign[:, None].astype(np.float32)
    else:
        raise ValueError(f"Unknown artifact kind {kind!r}: expected one of {ARTIFACT_KINDS}.")
