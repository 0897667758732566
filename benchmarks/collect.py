"""Assemble BENCHMARKS.md from the per-area result files in benchmarks/results/.

Run: ``python benchmarks/collect.py`` after re-running a benchmark and updating its results file.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["synthetic", "cache", "models", "gradcam", "selection", "epoch_cost", "overhead", "mitbih", "fidelity", "detectors", "policies", "gpu"]

HEADER = """# Benchmarks

Speed and memory goals of the kit, measured by the scripts in `benchmarks/` (never by timed tests).
Each section below is `benchmarks/results/<area>.md`, written by whoever ran the script, with the exact
command, the machine and the seed; this file is assembled by `python benchmarks/collect.py`.
Ratios are measured side by side in one process. No GPU was lent to the sessions that wrote these
numbers: every figure is from the 2-core CPU dev container (torch 2.13.0 CPU). The GPU check
(`benchmarks/gpu_check.py`, last section) is ready to run and has not run yet.

| goal (issue) | measured | where |
|---|---|---|
| synthetic 10,000 x 12 x 1000 in < 15 s on one core (3) | 8.7 s wall, 3.8 s CPU (loaded machine) | [synthetic](#synthetic-ecg-generator-speed-make_synthetic) |
| cached load >= 20x faster than the first read (3) | with `wfdb.rdrecord`: 1150x (open), 120x (open + read every sample); with the fast reader (17): 86x / 126x (open; 2,000 / 21,799 records), 5x / 6x (open + read every sample; loaded machine) | [cache](#cache-benchmark-erts_kitdatacache) |
| fast first read: <= 30 s for a 21,799 x 12 x 1000 tree, 2 cores (17) | 2,000 records side by side (load ~10 on 2 CPUs): fast reader 4.79 s wall / 1.46 s CPU vs `wfdb.rdrecord` 35.05 s / 10.42 s (7.3x wall, 7.1x CPU), signals equal; all 21,799 records, fast reader: **21.6 s wall** / 20.9 s CPU on the idle machine (met; 31.2 s wall at load ~4.8) | [cache](#first-read-the-fast-wfdb-reader-vs-wfdbrdrecord-issue-17) |
| PTB-XL-sized cache (21,799 x 12 x 1000) memory-mapped: peak memory | +1 MiB RSS to open, +12 MiB private per batch of 256 | [cache](#cache-benchmark-erts_kitdatacache) |
| seconds per epoch per backbone, 5,000 x 12 x 1000, CPU (4) | small_cnn 15.8 s, resnet1d_wang 97 s, inception1d 399 s, resnet18_2d 180 s, mobilenetv2_2d 170 s, efficientnetv2s_2d 612 s (idle machine; extrapolated from 10 timed steps of batch 32) | [models](#backbones-training-speed-bench_modelspy) |
| fast Grad-CAM >= 2x Captum, batch 256 x 12 x 1000, CPU (5) | map alone: inception1d 2.3-2.5x, mobilenetv2_2d 4.6-4.8x, efficientnetv2s_2d 3.5-3.9x (2 runs); small_cnn 1.7-2.8x (met in 5 of 6 runs); resnet1d_wang 1.75-2.29x (met in 3 of 6, 1.99x in a fourth); resnet18_2d 1.2-1.6x (not met: layer4 sits in the head, which both engines must run and differentiate); mostly from micro-batching, which Captum called on slices gets too. p_true + map as the loop needs them: 2.2-8.7x; peak memory 11-21x below Captum's | [gradcam](#grad-cam-engines-fast-fused-path-vs-captum-layergradcam) |
| ERTS epoch <= 1.15x a DBPD epoch (6) | small_cnn 0.88x (idle machine; 0.84x before the micro-batched scoring), DBPD/Full 0.65x; the paper's resnet18_2d 1.00x, DBPD/Full 0.87x | [epoch cost](#epoch-cost-full-vs-dbpd-vs-erts-xai_dbpd-one-process) |
| kit loop (policy full) <= 1.05x a bare PyTorch loop, small_cnn, 1,050 samples, 3 epochs (15) | median 0.87x at 2 threads, 0.91x at 1 thread (5 interleaved rounds each, idle machine): no measurable overhead | [overhead](#training-loop-overhead-the-kits-train-policy-full-vs-a-bare-pytorch-loop-bench_overheadpy) |
| GPU check: CUDA path end to end in < 8 min (17) | not run: no CUDA device lent yet; `benchmarks/gpu_check.py` is ready (a CPU dry run of all six steps passes) | [gpu](#gpu-check-benchmarksgpu_checkpy) |
| what `fidelity="reference"` changes (17) | same weights: lead padding moves ResNet-18's focus by up to 0.89 (5 of 22 kept samples), ReLU order by 0.66 (3 of 22), nothing for the ReLU order on MobileNetV2/EfficientNetV2-S (one row); training (resnet18_2d, 192 records, 8 epochs, 3 seeds): macro-F1 reference - kit DBPD +0.093 [-0.186, +0.372], XAI-DBPD -0.057 [-0.258, +0.145] (no difference shown); DBPD +0.94 compute-equivalent epochs | [fidelity](#reference-fidelity-what-fidelityreference-changes-bench_fidelitypy) |
| a policy within 0.01 of full's macro-F1 (95% paired interval) at <= 0.6x its wall-clock, 20% corruption, synthetic and MIT-BIH DS1 record folds (18) | not met with 5 paired seeds on either dataset (synthetic closest: noise_aware -0.009 [-0.045, +0.027] at 0.72x; MIT-BIH: infobatch +0.003 [-0.0096, +0.015] at 0.89x, the noise-aware budget variant -0.006 [-0.032, +0.020] at 0.51x). At the line on MIT-BIH with 20 fresh seeds: the InfoBatch budget variant (prune 0.8, one warm-up epoch, pruned before batching) -0.003 [-0.0102, +0.0038] (bootstrap [-0.0095, +0.0034]) at 0.57x wall-clock, 0.64x CPU time (idle machine) | [policies](#policies-under-corruption-paired-differences-vs-full) |
| which signal finds corrupted samples (18) | ERTS combined score below chance (AUROC 0.25 synthetic, 0.30 MIT-BIH DS1); loss / AUM / cleanlab 0.77-0.89 | [detectors](#detectors-which-signal-finds-the-corrupted-samples) |
| MIT-BIH inter-patient (16): full >= 0.55 macro-F1 (N,S,V,F); ERTS within 0.02 of full at <= 0.7x its wall-clock | not met: full 0.434 pooled over 3 record-wise DS1 folds (seeds 1-3); ERTS -0.030 (95% CI +-0.038), 0.93x wall-clock per fold, 5.36 vs 6.00 compute-equivalent epochs (loaded machine) | [mitbih](#mit-bih-beats-inter-patient-the-mitbih_beats-recipe-full-vs-dbpd-vs-erts-bench_mitbihpy) |
| `erts-kit demo` < 5 min on 2 cores (8) | 59 s idle (`time erts-kit demo`), 2 min 54 s on the loaded machine | README "Results" |

"""


def main() -> None:
    parts = [HEADER]
    for name in ORDER:
        text = (ROOT / "benchmarks" / "results" / f"{name}.md").read_text().strip()
        parts.append(_demote(text))
    (ROOT / "BENCHMARKS.md").write_text("\n\n".join(parts) + "\n")
    print(f"wrote {ROOT / 'BENCHMARKS.md'}")


def _demote(text: str) -> str:
    """Shift every Markdown heading one level down so each results file becomes a section."""
    out = []
    for line in text.splitlines():
        out.append("#" + line if line.startswith("#") else line)
    return "\n".join(out)


if __name__ == "__main__":
    main()
