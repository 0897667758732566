# %% [markdown]
# # 10 · Beyond the paper: which signal finds the bad samples, and policies without a scoring pass
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/erts-kit/erts-kit/blob/v0.1.0/notebooks/10_detectors.ipynb)
#
# **Runtime** on a 2-core CPU (shared machine, so upper bounds): smoke 13 s; default not measured. On Colab choose a GPU runtime for the default settings. Details: notebooks/README.md, runtime guide.
#
# **What you will learn**
# - how to measure whether a per-sample signal finds corrupted training samples: AUROC and precision at the true
#   corruption rate, by kind of corruption and by class, at several points of training;
# - how the ERTS combined score and the focus scores compare with loss, margin, the area under the margin (AUM,
#   Pleiss et al., NeurIPS 2020), confident learning (cleanlab, Northcutt et al., JAIR 2021) and a second
#   attribution method (Integrated Gradients);
# - three selection policies that need no scoring pass of every sample every epoch: InfoBatch (Qin et al.,
#   ICLR 2024), a cached-score ERTS and a noise-aware variant built on what the detectors show;
# - how to tell a real difference from seed noise: macro-F1 differences vs full data paired by seed, with a 95%
#   interval, next to the wall-clock ratio measured in the same grid.
#
# *Papers:* ERTS — arXiv 2606.12252 (2026); PDD — arXiv 2505.22342 (NeurIPS 2025); InfoBatch — arXiv 2303.04947;
# AUM — arXiv 2001.10528; confident learning — arXiv 1911.00068.

# %% [markdown]
# ## Setup
# On Colab this installs the kit; anywhere else it does nothing.

# %%
# Setup. On Colab: install the kit from ERTS_KIT_SOURCE (pinned to a release; the one place it is set),
# turn on widget support and check for a GPU. Anywhere else this cell does nothing.
ERTS_KIT_SOURCE = "erts-kit @ git+https://github.com/erts-kit/erts-kit.git@v0.1.0"
import os, sys
if "google.colab" in sys.modules:
    ERTS_KIT_SOURCE = os.environ.get("ERTS_KIT_SOURCE", ERTS_KIT_SOURCE)  # the Colab test installs a local wheel
    %pip install -q "{ERTS_KIT_SOURCE}"
    from importlib.metadata import version
    print(f"Installed erts-kit {version('erts-kit')} from {ERTS_KIT_SOURCE}")
    from google.colab import output
    output.enable_custom_widget_manager()  # Colab draws ipywidgets 8 widgets only with this
    import torch
    print(f"GPU: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else
          "No GPU. For full runs choose Runtime > Change runtime type > a GPU (e.g. T4), then run all cells "
          "again; SMOKE = True runs on a CPU.")

# %% [markdown]
# ## Parameters
# Change them here or with `papermill -p NAME value`; `SMOKE = True` makes a tiny, fast run.

# %% tags=["parameters"]
SMOKE = False          # True: tiny data, seconds on a CPU (what the tests run); its numbers are not results
SEED = 0
DATASET = "synthetic"  # "mitbih" adds MIT-BIH DS1 beats with injected corruption to both parts (DATA_DIR)
DATA_DIR = ""          # MIT-BIH records (DS1); empty: $ERTS_KIT_MITDB_DIR, else a demo tree of textbook beats
MODEL = "small_cnn"
POLICY = "noise_aware" # the policy the verdict cell looks at first
EPOCHS = None          # None: 3 in smoke mode, 10 otherwise
DEVICE = "auto"
N_SAMPLES = None       # synthetic records; None: 60 in smoke mode, 800 otherwise
N_LEADS = None         # None: 1 in smoke mode, 12 otherwise
LABEL_FLIP_RATE = 0.1  # synthetic: share of training labels replaced by another class
ARTIFACT_RATE = 0.1    # synthetic: share of training records given one heavy artefact
SEEDS = None           # None: 2 seeds in smoke mode, 5 otherwise (paired by seed)
POLICIES = None        # None: full, dbpd, xai_dbpd, infobatch, cached_erts, noise_aware (smoke: 4 of them)
VARIANTS = None        # other settings of a policy, "policy:key=value,...": None = the two budget settings below

# %% [markdown]
# ## Cost knobs
# Sizes follow `SMOKE` unless you set them. Outside smoke mode the detector study trains 1 + 3 models (the three
# for cleanlab's out-of-fold probabilities) and the grid 8 policy settings x 5 seeds (x 3 record folds on MIT-BIH):
# about an hour per dataset on a 2-core CPU, minutes on a GPU.

# %%
EPOCHS = (3 if SMOKE else 10) if EPOCHS is None else EPOCHS
N_SAMPLES = (60 if SMOKE else 800) if N_SAMPLES is None else N_SAMPLES
N_LEADS = (1 if SMOKE else 12) if N_LEADS is None else N_LEADS
SEEDS = ([SEED, SEED + 1] if SMOKE else [SEED + i for i in range(5)]) if SEEDS is None else list(SEEDS)
POLICIES = ((["full", "infobatch", "cached_erts", "noise_aware"] if SMOKE else
             ["full", "dbpd", "xai_dbpd", "infobatch", "cached_erts", "noise_aware"]) if POLICIES is None
            else list(POLICIES))
VARIANTS = ([f"{p}:prune_ratio=0.8,warm_up=1,start_revision=null" for p in ("infobatch", "noise_aware")]
            if VARIANTS is None else list(VARIANTS))
if SMOKE:
    VARIANTS = VARIANTS[1:]
CHECKPOINTS = [1, 2] if SMOKE else [2, 4, 8]
FOLDS = 2 if SMOKE else 3
IG_STEPS = 2 if SMOKE else 8
DURATION_S = 3.0 if SMOKE else 10.0
POLICY_WARM_UP = 1 if SMOKE else 2   # warm-up epochs of the selection policies (ERTS filter one epoch later)
RECORD_FOLDS = 2 if SMOKE else 3     # MIT-BIH policy grid: record-wise folds inside DS1
MAX_N_PER_RECORD = 40 if SMOKE else 400   # MIT-BIH policy grid: N beats kept per training record (test: all)
DEMO_RECORDS, DEMO_SECONDS = 6, 60.0      # the demo tree when no MIT-BIH folder is given

# %% [markdown]
# ## Check the parameters
# A wrong type or value stops here with a message naming the parameter; this also seeds every RNG and picks the
# device.

# %%
import erts_kit.course.params

P = erts_kit.course.params.check_params(globals(), notebook="10_detectors")

# %% [markdown]
# ## Words used in this notebook
# (All in the [glossary](../docs/glossary.md).) [Corruption: flipped label, artefact](../docs/glossary.md#corruption-flipped-label-artefact);
# [p_true](../docs/glossary.md#logits-softmax-p_true), [focus](../docs/glossary.md#focus-top-decile-mean) and the
# [ERTS](../docs/glossary.md#erts) combined score; [AUROC](../docs/glossary.md#balanced-accuracy-auroc) (here: the
# chance that a corrupted sample is ranked above a clean one; 0.5 is chance);
# [macro-F1](../docs/glossary.md#macro-f1), [wall-clock](../docs/glossary.md#wall-clock) and
# [compute-equivalent epochs](../docs/glossary.md#compute-equivalent-epochs). New here: the margin (true-class logit
# minus the largest other logit), AUM (its average over the epochs a sample was trained on, Pleiss et al. 2020) and
# confident learning (cleanlab: labels that out-of-fold predicted probabilities disagree with).

# %% [markdown]
# ## Imports
# The detector study, the paired statistics and the grid come from `erts_kit`.

# %%
%matplotlib inline
import os
import tempfile

import matplotlib.pyplot as plt
import pandas as pd

from erts_kit.cli.recipe import load_recipe
from erts_kit.data import DS1, load_dataset, load_mitbih
from erts_kit.data.corrupt import corrupted_record_folds, inject_corruption
from erts_kit.data.demo_tree import write_mitbih_beats_tree
from erts_kit.results import average_folds, run_paired_grid
from erts_kit.results.detect_signals import run_detector_study
from erts_kit.results.detectors import detector_verdicts
from erts_kit.results.stats import paired_differences, paired_table, verdict

TRAIN = dict(batch_size=32, lr=1e-3, device=str(P["device"]))

# %% [markdown]
# # Part 1 — the detector benchmark
#
# ## Data with a ground truth
# The synthetic set records which training samples have a flipped label or a heavy artefact. With `DATASET =
# "mitbih"`, real MIT-BIH beats get one too: `inject_corruption` flips a known share of labels and applies the
# same artefacts to the real signals (read in mV, z-scored afterwards). The MIT-BIH split is record-wise inside
# DS1 (validation records held out whole). Without a MIT-BIH folder a demo tree of textbook beats stands in (the
# printed source says which).

# %%
datasets = {"synthetic": load_dataset("synthetic", n_samples=N_SAMPLES, n_leads=N_LEADS, duration_s=DURATION_S,
                                      seed=SEED, label_flip_rate=LABEL_FLIP_RATE, artifact_rate=ARTIFACT_RATE)}
if DATASET == "mitbih":
    DATA_DIR = DATA_DIR or os.environ.get("ERTS_KIT_MITDB_DIR", "")
    root = DATA_DIR or write_mitbih_beats_tree(tempfile.mkdtemp(prefix="mitdb-beats-"), DS1[:DEMO_RECORDS],
                                               seconds=DEMO_SECONDS, seed=SEED)
    print("MIT-BIH source:", f"records in {DATA_DIR}" if DATA_DIR else f"demo tree of textbook beats ({root})")
    raw = load_mitbih(root, normalize=False, n_val_records=3, seed=SEED)
    raw.splits = {k: v for k, v in raw.splits.items() if k in ("train", "val") and len(v)}
    datasets["mitbih"] = inject_corruption(raw, LABEL_FLIP_RATE, ARTIFACT_RATE, seed=SEED)
for name, d in datasets.items():
    m = d.meta.loc[d.splits["train"]]
    print(f"{name}: {len(m)} training samples, {int(m['corrupted'].sum())} corrupted "
          f"({int(m['flipped'].sum())} flipped labels, {int(m['artifact'].sum())} artefacts)")

# %% [markdown]
# ## Score every signal at several points of training
# One model trained on every sample; at each checkpoint every training sample gets every signal, oriented as its
# method reads it (higher = more suspect). AUROC 0.5 is chance; below 0.5 the method ranks corrupted samples as
# *better* than clean ones.

# %%
studies = {name: run_detector_study(d, MODEL, CHECKPOINTS, seed=SEED, folds=FOLDS, ig_steps=IG_STEPS, config=TRAIN)
           for name, d in datasets.items()}
tables = pd.concat([s["table"].assign(dataset=name) for name, s in studies.items()], ignore_index=True)
tables[tables["group"] == "all"][["dataset", "epoch", "signal", "auroc", "auroc_low", "auroc_high",
                                  "precision_at_rate", "base_rate"]].round(3)

# %% [markdown]
# ## AUROC per signal as training goes on
# The dashed line is chance. A detector worth building a policy on sits clearly above it, with its interval.

# %%
fig, axes = plt.subplots(1, len(studies), figsize=(6 * len(studies), 3.6), squeeze=False, layout="constrained")
for ax, (name, s) in zip(axes[0], studies.items()):
    t = s["table"][s["table"]["group"] == "all"]
    for sig, g in t.groupby("signal", sort=False):
        ax.errorbar(g["epoch"], g["auroc"], yerr=[g["auroc"] - g["auroc_low"], g["auroc_high"] - g["auroc"]],
                    marker="o", capsize=3, label=sig)
    ax.axhline(0.5, color="k", ls="--", lw=0.8)
    ax.set(title=name, xlabel="epochs trained", ylabel="AUROC (corrupted vs clean)", ylim=(0, 1))
    ax.grid(alpha=0.3)
axes[0][-1].legend(fontsize=7, loc="lower right")

# %% [markdown]
# ## By kind of corruption and by class
# Flipped labels and artefacts are different problems: a signal can find one and miss the other. By class: does a
# signal flag clean samples of the classes whose evidence is diffuse (AF, ST, AVB1) or rare?

# %%
last = tables[tables["epoch"] == tables["epoch"].max()]
by_kind = last[last["group"].str.startswith(("all", "kind="))].pivot_table(index=["dataset", "signal"],
                                                                          columns="group", values="auroc")
by_kind.round(3)

# %%
by_class = last[last["group"].str.startswith("class=")].pivot_table(index=["dataset", "signal"], columns="group",
                                                                    values="auroc")
by_class.round(3)

# %% [markdown]
# # Part 2 — policies without a per-epoch scoring pass
# `infobatch` prunes at random half of the samples whose cached training loss is below the mean and rescales the
# kept ones; it decides before each epoch, so the epoch batches only the kept samples: fewer optimizer steps, not
# just smaller batches (`prune_at="batch"` masks within each batch instead, to compare); `cached_erts` applies ERTS to the p_true and focus recorded when each sample was last seen, paying a
# scoring pass only every 3rd epoch; `noise_aware` is InfoBatch plus a permanent drop of the samples with the
# lowest negative AUM (what Part 1 finds). Both anneal: every sample in the last 12.5% of the epochs.
#
# A **variant** is a policy under other settings, written `policy:key=value,...`. The two budget variants prune
# 80% of the well-learned samples, start after one warm-up epoch and never anneal: on paper that is what it takes to
# get under 0.6x of full's cost (1 full epoch, then about 40% of the data per epoch). Every run of a seed starts
# from the same weights and data order; `run_paired_grid` runs all policies of a seed back to back.
#
# With `DATASET = "mitbih"` the grid also runs on MIT-BIH: **record-wise folds** inside DS1 (each fold's records
# are its test set, never trained on; validation is a share of the other records' beats), corruption injected
# into each training split, the packaged `mitbih_beats` recipe (small_cnn width 16, RR features, class-balanced
# loss). A seed's score is its macro-F1 averaged over the folds, its cost the sum.

# %%
SELECTION = dict(tau=0.3, phi=0.7, warm_up=POLICY_WARM_UP, cam_start=1, rescore_every=3, prune_ratio=0.5,
                 drop_share=0.1)
grids = {"synthetic": ([datasets["synthetic"]], dict(TRAIN, loss="ce"))}
if DATASET == "mitbih":
    recipe = load_recipe("mitbih_beats")   # erts_kit/configs/mitbih_beats.yaml
    beat = {k: v for k, v in recipe.data.items() if k in ("context", "fs", "window_s", "lead")}
    rr = load_mitbih(root, records=[r for r in DS1 if os.path.exists(os.path.join(root, f"{r}.hea"))], **beat,
                     normalize=False, split="intra_patient")
    folds = corrupted_record_folds(rr, RECORD_FOLDS, LABEL_FLIP_RATE, ARTIFACT_RATE, seed=SEED,
                                   max_majority_per_record=MAX_N_PER_RECORD,
                                   drop_from_train=recipe.data.get("drop_from_train", ()))
    grids["mitbih"] = (folds, dict(recipe.training(), device=str(P["device"])))
runs = {name: run_paired_grid(folds_, POLICIES + VARIANTS, SEEDS, MODEL, EPOCHS,
                              tempfile.mkdtemp(prefix=f"erts_policies_{name}_"), dict(SELECTION, **cfg))
        for name, (folds_, cfg) in grids.items()}
results = pd.concat([df.assign(dataset=name) for name, df in runs.items()], ignore_index=True)
results[["dataset", "policy", "seed", "fold", "macro_f1", "wall_seconds", "effective_epochs",
         "compute_equivalent_epochs"]].round(3)

# %% [markdown]
# ## Paired by seed: the difference from full data, with a 95% interval
# Each policy's macro-F1 minus full's on the same seed; the t interval accounts for the few seeds. Wall-clock and
# compute-equivalent epochs are ratios to full within this grid (on MIT-BIH: over the folds of each seed).

# %%
paired = {name: paired_differences(average_folds(df)) for name, df in runs.items()}
pd.concat([paired_table(t).assign(dataset=name) for name, t in paired.items()], ignore_index=True)

# %%
fig, axes = plt.subplots(1, len(paired), figsize=(7 * len(paired), 3.8), squeeze=False, layout="constrained")
for ax, (name, table) in zip(axes[0], paired.items()):
    for r in table.itertuples():
        lo = r.t_low if pd.notna(r.t_low) else r.diff_mean
        hi = r.t_high if pd.notna(r.t_high) else r.diff_mean
        ax.errorbar([r.wall_ratio], [r.diff_mean], yerr=[[r.diff_mean - lo], [hi - r.diff_mean]], fmt="o",
                    capsize=4, label=r.policy)
    ax.axhline(0, color="k", lw=0.8)
    ax.axhline(-0.01, color="grey", ls="--", lw=0.8)
    ax.axvline(0.6, color="grey", ls=":", lw=0.8)
    ax.set(title=name, xlabel="wall-clock vs full (same grid)", ylabel="macro-F1 minus full (95% t interval)")
    ax.grid(alpha=0.3)
axes[0][-1].legend(fontsize=7)

# %% [markdown]
# ## The verdict of this run
# Printed from the numbers above, not written by hand: which detector beats chance at the last checkpoint, where
# the ERTS combined score stands, and which policy, if any, meets "95% interval lower bound >= -0.01 at <= 0.6x
# full's wall-clock".

# %%
final = tables[(tables["group"] == "all") & (tables["epoch"] == tables["epoch"].max())]
for name, g in final.groupby("dataset", sort=False):
    best = g.sort_values("auroc", ascending=False).iloc[0]
    erts = g[g["signal"] == "erts_combined"].iloc[0]
    print(f"{name}: best detector {best['signal']} (AUROC {best['auroc']:.2f}); ERTS combined score AUROC "
          f"{erts['auroc']:.2f} [{erts['auroc_low']:.2f}, {erts['auroc_high']:.2f}]")
    for line in detector_verdicts(g.drop(columns="dataset")):
        print("   ", line)
print()
for name, table in paired.items():
    print(f"\n{name}:")
    lines = verdict(table)
    print("\n".join(sorted(lines, key=lambda s: not s.startswith(POLICY + ":"))))
if SMOKE:
    print("\n(smoke mode: tiny data and few epochs; these lines test the pipeline, they are not results)")

# %% [markdown]
# ## Summary
# - A signal is only worth selecting on if it ranks corrupted samples above clean ones; the table says which do.
# - Per-batch scoring puts a floor under the cost of PDD/ERTS; cached scores remove most of it, and the ledger
#   shows what was paid (compute-equivalent epochs).
# - With a handful of seeds, only a paired interval tells a real difference from noise.
# - The measured answer on a 2-core CPU (5 paired seeds on both datasets, 20 more for the closest candidate on
#   MIT-BIH) is in BENCHMARKS.md, "Policies under corruption"; rerun it here with `SMOKE = False`.
#
# ## Questions
# (Answers and hints for instructors: [docs/instructors.md](../docs/instructors.md#10-detectors).)
# 1. At which checkpoint does AUM separate flipped labels best? Why might it fade later in training?
# 2. Which artefact kinds does no signal find, and why might a CNN not mind them?
# 3. Does the noise-aware policy drop clean samples of the rare classes more often than others (look at the
#    `class=` columns of the loss and AUM rows)?
#
# ## Experiments
# - Set `LABEL_FLIP_RATE = 0.3`: which detector holds up?
# - Change `rescore_every` in `SELECTION` (the policy grid cell) to 1 and 5: how do cost and macro-F1 of
#   `cached_erts` move?
# - Run with `DATASET = "mitbih"` and `DATA_DIR` pointing at MIT-BIH to see the detectors and the policies on real
#   beats (record-wise folds; an hour or more on a 2-core CPU).
# - Add a variant, e.g. `VARIANTS = ["noise_aware:drop_share=0.2,prune_ratio=0.8,warm_up=1,start_revision=null"]`:
#   does dropping the true corruption rate help, and what does it cost?
