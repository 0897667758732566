"""Beat-level model of the synthetic ECG: rhythm (beat times), P-QRS-T waves and evidence spans.

Every beat is a sum of Gaussian "waves" (P, Q, R, S, ST, two T halves) in the 3-D VCG frame of
:mod:`erts_kit.data.synthetic_leads` (the idea of McSharry et al. 2003's ECGSYN, in three
dimensions). Rhythm and morphology depend on the class:

========  =========  ==============================================================================
class     evidence   what differs from NORM (sinus rhythm 55-100 bpm with respiratory HRV)
========  =========  ==============================================================================
NORM      none       nothing
PVC       local      one premature (55-70 % of RR) wide bizarre beat, no P, discordant T, fully
                     compensatory pause
PAC       local      one premature (60-75 % of RR) narrow beat with an ectopic (inverted or
                     shifted) P wave, short PR, sinus node reset (non-compensatory pause)
AF        diffuse    irregularly irregular RR (65-130 bpm), no P waves, 4-8 Hz fibrillatory waves
ST        diffuse    ST depression or (anterior/inferior) elevation of 0.15-0.3 mV in every beat
AVB1      diffuse    first-degree AV block: PR 0.24-0.34 s in every beat (NORM: 0.13-0.19 s)
========  =========  ==============================================================================

Everything is vectorised over samples and beats; each wave is drawn on a short window around its
centre and summed with ``np.bincount``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SYNTHETIC_CLASSES: list[str] = ["NORM", "PVC", "PAC", "AF", "ST", "AVB1"]
CLASS_EVIDENCE: dict[str, str] = {"NORM": "none", "PVC": "local", "PAC": "local",
                                  "AF": "diffuse", "ST": "diffuse", "AVB1": "diffuse"}
CLASS_DESCRIPTIONS: dict[str, str] = {
    "NORM": "normal sinus rhythm",
    "PVC": "one premature ventricular contraction (wide, no P, compensatory pause)",
    "PAC": "one premature atrial contraction (early narrow beat, abnormal P)",
    "AF": "atrial fibrillation (irregular RR, no P, fibrillatory baseline)",
    "ST": "ST depression or elevation in every beat",
    "AVB1": "first-degree AV block (PR > 0.2 s in every beat)",
}

SINUS, PVC, PAC, AF = 0, 1, 2, 3            # beat kinds
_MIN_RR = 0.3                                # s, shortest RR ever drawn

# Canonical wave vectors in the VCG frame (X left, Y feet, Z back), in mV.
_V_P = np.array([0.15, 0.14, 0.02])
_V_Q = np.array([-0.12, 0.02, -0.12])
_V_R = np.array([0.90, 0.75, 0.35])
_V_S = np.array([-0.30, -0.20, 0.40])
_V_T = np.array([0.28, 0.22, -0.12])
_PVC_ORIGINS = np.array([[0.70, 0.30, 0.65], [-0.40, 0.50, -0.80]])   # RV origin (LBBB-like), LV origin
_ST_DIRECTIONS = np.array([-_V_R / np.linalg.norm(_V_R),             # depression (II, V4-V6)
                           np.array([0.1, 0.0, -1.0]) / np.hypot(0.1, 1.0),   # anterior elevation
                           np.array([-0.1, 1.0, 0.1]) / np.sqrt(1.02)])       # inferior elevation


@dataclass
class Rhythm:
    """Beat times of n samples, padded to B beats (times beyond the record are simply never drawn).

    Attributes:
        times: (n, B) R-peak times in seconds (the first beat lies before t = 0).
        kind: (n, B) beat kind: 0 sinus, 1 PVC, 2 PAC, 3 AF-conducted (no P).
        rr0: (n,) mean RR in seconds.
        pr: (n,) PR interval of sinus beats in seconds.
        event_time: (n,) time of the ectopic beat (PVC/PAC), NaN otherwise.
    """

    times: np.ndarray
    kind: np.ndarray
    rr0: np.ndarray
    pr: np.ndarray
    event_time: np.ndarray

    def heart_rate(self, duration_s: float) -> np.ndarray:
        """Mean heart rate (bpm) over the beats inside [0, duration_s]."""
        inside = (self.times >= 0) & (self.times <= duration_s)
        count = inside.sum(1)
        first = np.where(inside, self.times, np.inf).min(1)
        last = np.where(inside, self.times, -np.inf).max(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            hr = 60.0 * (count - 1) / (last - first)
        return np.where(count >= 2, hr, 60.0 / self.rr0)


def make_rhythm(rng: np.random.Generator, cls: np.ndarray, duration_s: float) -> Rhythm:
    """Draw beat times and kinds for samples of classes ``cls`` (ids into SYNTHETIC_CLASSES).

    Example:
        >>> r = make_rhythm(np.random.default_rng(0), np.array([0, 1]), 10.0)
        >>> int((r.kind[1] == PVC).sum()), bool(np.isnan(r.event_time[0]))
        (1, True)
    """
    n = cls.shape[0]
    is_af = cls == SYNTHETIC_CLASSES.index("AF")
    hr = np.where(is_af, rng.uniform(65, 130, n), rng.uniform(55, 100, n))
    rr0 = 60.0 / hr
    n_beats = int(np.ceil((duration_s + 2.0) / _MIN_RR)) + 2
    j = np.arange(n_beats)[None, :]
    # Sinus: respiratory sinus arrhythmia + a slower (LF) oscillation + small beat-to-beat noise.
    rsa = rng.uniform(0.01, 0.05, (n, 1)) * np.sin(2 * np.pi * rng.uniform(0.15, 0.35, (n, 1)) * j * rr0[:, None]
                                                   + rng.uniform(0, 2 * np.pi, (n, 1)))
    lf = rng.uniform(0.005, 0.03, (n, 1)) * np.sin(2 * np.pi * rng.uniform(0.05, 0.12, (n, 1)) * j * rr0[:, None]
                                                   + rng.uniform(0, 2 * np.pi, (n, 1)))
    rr_sinus = rr0[:, None] * (1.0 + rsa + lf + rng.normal(0, 0.01, (n, n_beats)))
    # AF: irregularly irregular, independent log-normal RR intervals.
    rr_af = rr0[:, None] * np.exp(rng.normal(0, 1, (n, n_beats)) * rng.uniform(0.15, 0.3, (n, 1)))
    rr = np.clip(np.where(is_af[:, None], rr_af, rr_sinus), _MIN_RR, 2.0)
    times = -rng.uniform(0, 1, (n, 1)) * rr[:, :1] + np.concatenate([np.zeros((n, 1)), np.cumsum(rr[:, :-1], 1)], 1)
    kind = np.where(is_af[:, None], AF, SINUS).astype(np.int8).repeat(n_beats, 1)

    # One ectopic beat near a random point of the middle of the record.
    ectopic = np.where(cls == SYNTHETIC_CLASSES.index("PVC"), PVC,
                       np.where(cls == SYNTHETIC_CLASSES.index("PAC"), PAC, -1))
    target = rng.uniform(0.3, 0.7, n) * duration_s
    k = np.abs(times - target[:, None]).argmin(1)                  # >= 1 because times[:, 0] <= 0 < target
    rows = np.arange(n)
    coupling = np.where(ectopic == PVC, rng.uniform(0.55, 0.70, n), rng.uniform(0.60, 0.75, n))
    prev = times[rows, np.maximum(k - 1, 0)]
    early = prev + coupling * (times[rows, k] - prev)
    shift = np.where(ectopic >= 0, times[rows, k] - early, 0.0)
    # PVC: only the ectopic beat moves (compensatory pause); PAC: the sinus node resets, later beats move too.
    later = np.where((ectopic == PAC)[:, None] & (j > k[:, None]), shift[:, None], 0.0)
    times = times - later
    times[rows, k] -= shift
    has = ectopic >= 0
    kind[rows[has], k[has]] = ectopic[has]
    event_time = np.where(has, early, np.nan)

    is_avb = cls == SYNTHETIC_CLASSES.index("AVB1")
    pr = np.where(is_avb, rng.uniform(0.24, 0.34, n), rng.uniform(0.13, 0.19, n))
    return Rhythm(times=times, kind=kind, rr0=rr0, pr=pr, event_time=event_time)


def _sample_vectors(rng: np.random.Generator, base: np.ndarray, n: int, sd: float) -> np.ndarray:
    return base[None, :] + rng.normal(0, sd, (n, 3))


def wave_table(rng: np.random.Generator, rhythm: Rhythm, cls: np.ndarray) -> list[tuple[np.ndarray, ...]]:
    """The Gaussian waves of every beat: a list of (centre_s, sigma_s, vector) per wave slot.

    centre_s and sigma_s are (n, B); vector is (n, B, 3) in mV (zero where the wave is absent).
    """
    n, n_beats = rhythm.times.shape
    kind = rhythm.kind[..., None]                                   # (n, B, 1)
    is_pvc, is_pac = kind == PVC, kind == PAC
    w = rng.uniform(0.85, 1.15, (n, 1))                              # QRS width factor
    qt = np.clip(rng.uniform(0.38, 0.44, n) * np.sqrt(rhythm.rr0), 0.30, 0.48)[:, None]
    t_peak = qt - 0.14
    a_p, a_qrs, a_t = (rng.uniform(lo, hi, (n, 1, 1)) for lo, hi in ((0.7, 1.3), (0.6, 1.4), (0.6, 1.4)))
    # Beat-to-beat amplitude: small noise + respiratory modulation of the QRS.
    breath = 1.0 + 0.05 * np.sin(2 * np.pi * rng.uniform(0.15, 0.35, (n, 1)) * rhythm.times
                                 + rng.uniform(0, 2 * np.pi, (n, 1)))
    beat_amp = (breath * rng.normal(1.0, 0.04, (n, n_beats)))[..., None]

    v_p = a_p * _sample_vectors(rng, _V_P, n, 0.03)[:, None]
    v_q = a_qrs * _sample_vectors(rng, _V_Q, n, 0.04)[:, None]
    v_r = a_qrs * _sample_vectors(rng, _V_R, n, 0.10)[:, None]
    v_s = a_qrs * _sample_vectors(rng, _V_S, n, 0.08)[:, None]
    v_t = a_t * _sample_vectors(rng, _V_T, n, 0.05)[:, None]
    # Ectopic P (PAC): from a low or left atrial focus, so the P axis differs from sinus.
    pac_p = np.where(rng.random((n, 1)) < 0.5, np.array([0.10, -0.13, 0.03]), np.array([-0.08, 0.12, 0.06]))
    v_pac_p = (a_p[:, 0] * (pac_p + rng.normal(0, 0.02, (n, 3))))[:, None]
    pr_pac = rng.uniform(0.10, 0.14, (n, 1))
    # PVC: wide bizarre QRS along an abnormal axis, T wave opposite to it.
    origin = _PVC_ORIGINS[rng.integers(0, 2, n)] + rng.normal(0, 0.25, (n, 3))
    origin /= np.linalg.norm(origin, axis=1, keepdims=True)
    v_pvc1 = (origin * rng.uniform(1.2, 2.0, (n, 1)))[:, None]
    v_pvc2 = -0.3 * v_pvc1 + rng.normal(0, 0.1, (n, 1, 3))
    v_pvc_t = -0.3 * v_pvc1
    # ST change: injury current in one of three directions, in every non-ectopic beat.
    is_st = (cls == SYNTHETIC_CLASSES.index("ST"))[:, None, None]
    st_dir = _ST_DIRECTIONS[rng.integers(0, 3, n)][:, None]
    v_st = np.where(is_st, st_dir * rng.uniform(0.15, 0.30, (n, 1, 1)), 0.0)

    zero = np.zeros(3)
    pr = rhythm.pr[:, None]
    shape = (n, n_beats)
    full = np.broadcast_to
    waves = [
        # P wave: sinus or ectopic, none for PVC and AF beats.
        (np.where(kind[..., 0] == PAC, -pr_pac, -pr) + 0.01, full(0.025, shape),
         np.where(is_pac, v_pac_p, np.where(kind == SINUS, v_p, zero))),
        (full(-0.022 * w, shape), full(0.009 * w, shape), np.where(is_pvc, zero, v_q)),
        (full(0.0, shape), np.where(is_pvc[..., 0], 0.03, 0.010 * w), np.where(is_pvc, v_pvc1, v_r)),
        (np.where(is_pvc[..., 0], 0.065, 0.024 * w), np.where(is_pvc[..., 0], 0.03, 0.011 * w),
         np.where(is_pvc, v_pvc2, v_s)),
        (full(0.12, shape), full(0.045, shape), np.where(is_pvc, zero, v_st)),
        (np.where(is_pvc[..., 0], 0.30, t_peak - 0.015), np.where(is_pvc[..., 0], 0.07, 0.05),
         np.where(is_pvc, v_pvc_t, v_t)),
        (full(t_peak + 0.04, shape), full(0.03, shape), np.where(is_pvc, zero, 0.45 * v_t)),
    ]
    return [(rhythm.times + off, sig, vec * beat_amp) for off, sig, vec in waves]


def render_vcg(waves: list[tuple[np.ndarray, ...]], n_timesteps: int, fs: float) -> np.ndarray:
    """Sum the Gaussian waves into a VCG (n, 3, T) float32.

    Each Gaussian is widened by the sampling (sigma_eff^2 = sigma^2 + (0.45/fs)^2, area kept), a
    stand-in for the anti-aliasing filter of a real recorder, so narrow QRS waves do not vanish
    between samples at 100 Hz.

    Example:
        >>> c, s, v = np.array([[0.5]]), np.array([[0.02]]), np.array([[[1.0, 0.0, 0.0]]])
        >>> x = render_vcg([(c, s, v)], 100, 100.0)
        >>> x.shape, int(x[0, 0].argmax())
        ((1, 3, 100), 50)
    """
    n = waves[0][0].shape[0]
    duration = n_timesteps / fs
    sig_max = max(float(np.max(sigma)) for _, sigma, _ in waves)
    # Waves are drawn on a padded grid (row stride T + 2 * pad) so no window needs clipping.
    pad = int(np.ceil(0.5 * fs + 4.0 * np.sqrt(sig_max ** 2 + (0.45 / fs) ** 2) * fs)) + 2
    stride = n_timesteps + 2 * pad
    rows = np.arange(n)[:, None] * stride + pad
    positions, weights = [], []
    for centre, sigma, vec in waves:
        sel = np.any(vec != 0, axis=-1) & (centre > -0.5) & (centre < duration + 0.5)
        if not sel.any():
            continue
        sig = np.broadcast_to(sigma, sel.shape)[sel]
        sig_eff = np.sqrt(sig ** 2 + (0.45 / fs) ** 2)
        c = centre[sel] * fs                                          # (M,) in samples
        base = np.floor(c)
        frac = (c - base).astype(np.float32)
        s = (sig_eff * fs).astype(np.float32)
        v = (vec[sel] * (sig / sig_eff)[:, None]).astype(np.float32)   # (M, 3), area kept
        start = np.broadcast_to(rows, sel.shape)[sel] + base.astype(np.int64)
        # Window half-widths of 4 sigma, rounded up to a few sizes (wide PVC waves get wide windows).
        step = max(1, round(0.01 * fs))
        halves = (np.ceil(4.0 * s / step) * step).astype(np.int64)
        for half in np.unique(halves):
            grp = halves == half
            offsets = np.arange(-half, half + 1)
            g = np.exp(-0.5 * ((offsets.astype(np.float32)[None, :] - frac[grp, None]) / s[grp, None]) ** 2)
            positions.append((start[grp, None] + offsets[None, :]).ravel())
            weights.append(g[:, :, None] * v[grp, None, :])           # (m, W, 3)
    flat = np.zeros((3, n * stride))
    if positions:
        pos = np.concatenate(positions)
        w = np.concatenate([wt.reshape(-1, 3) for wt in weights])
        for d in range(3):
            flat[d] = np.bincount(pos, weights=w[:, d], minlength=n * stride)
    out = flat.reshape(3, n, stride)[:, :, pad:pad + n_timesteps]
    return out.transpose(1, 0, 2).astype(np.float32)


def fibrillatory_waves(rng: np.random.Generator, n: int, n_timesteps: int, fs: float) -> np.ndarray:
    """AF f-waves (n, 3, T): 4-8 Hz, amplitude- and frequency-modulated, strongest in V1 and II."""
    t = np.arange(n_timesteps, dtype=np.float32)[None, :] / fs
    f0 = rng.uniform(4.0, 8.0, (n, 1))
    phase = 2 * np.pi * f0 * t + 1.5 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5, (n, 1)) * t
                                              + rng.uniform(0, 2 * np.pi, (n, 1)))
    amp = rng.uniform(0.05, 0.12, (n, 1)) * (1 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4, (n, 1)) * t))
    f = (amp * np.sin(phase + rng.uniform(0, 2 * np.pi, (n, 1)))).astype(np.float32)
    direction = np.array([0.05, 0.45, -0.9], dtype=np.float32) + rng.normal(0, 0.15, (n, 3)).astype(np.float32)
    return f[:, None, :] * direction[:, :, None]


def evidence_spans(rhythm: Rhythm, cls: np.ndarray, n_timesteps: int, fs: float) -> np.ndarray:
    """Boolean (n, T) mask of where each sample's class evidence lies.

    NORM: nothing (all False). PVC: the premature beat from QRS onset to T end (t-0.10 .. t+0.42 s).
    PAC: the premature beat from its ectopic P to T end. AF: in every beat the would-be P region
    (R-0.25 .. R-0.05 s), where f-waves replace P (RR irregularity itself has no place in time).
    ST: in every beat the ST segment (R+0.04 .. R+0.22 s). AVB1: in every beat the prolonged
    P-onset-to-QRS-onset interval.

    Example:
        >>> r = make_rhythm(np.random.default_rng(0), np.array([0, 1, 3]), 10.0)
        >>> m = evidence_spans(r, np.array([0, 1, 3]), 1000, 100.0)
        >>> int(m[0].sum()), bool(0 < m[1].sum() < 60), bool(m[2].sum() > 150)
        (0, True, True)
    """
    n, n_beats = rhythm.times.shape
    t, kind = rhythm.times, rhythm.kind
    name = np.array(SYNTHETIC_CLASSES)[cls][:, None]
    pr = rhythm.pr[:, None]
    start = np.full((n, n_beats), np.nan)
    end = np.full((n, n_beats), np.nan)
    rules = [  # (which beats, start offset, end offset)
        ((name == "PVC") & (kind == PVC), t - 0.10, t + 0.42),
        ((name == "PAC") & (kind == PAC), t - 0.18, t + 0.40),
        ((name == "AF"), t - 0.25, t - 0.05),
        ((name == "ST") & (kind == SINUS), t + 0.04, t + 0.22),
        ((name == "AVB1") & (kind == SINUS), t - pr - 0.04, t - 0.04),
    ]
    for sel, s, e in rules:
        start = np.where(sel, s, start)
        end = np.where(sel, e, end)
    ok = ~np.isnan(start)
    lo = np.clip(np.round(start[ok] * fs), 0, n_timesteps).astype(np.int64)
    hi = np.clip(np.round(end[ok] * fs), 0, n_timesteps).astype(np.int64)
    owner = np.broadcast_to(np.arange(n)[:, None], ok.shape)[ok] * (n_timesteps + 1)
    keep = hi > lo
    size = n * (n_timesteps + 1)
    delta = (np.bincount(owner[keep] + lo[keep], minlength=size)
             - np.bincount(owner[keep] + hi[keep], minlength=size))
    return np.cumsum(delta.reshape(n, n_timesteps + 1), axis=1)[:, :n_timesteps] > 0
