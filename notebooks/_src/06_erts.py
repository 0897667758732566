# %% [markdown]
# # 06 · ERTS: an explanation-quality filter on top of PDD
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/erts-kit/erts-kit/blob/v0.1.0/notebooks/06_erts.ipynb)
#
# **Runtime** on a 2-core CPU (shared machine, so upper bounds): smoke 15 s; default ≈ 23 min (extrapolated: 30 x a 1-epoch run of 46 s). On Colab choose a GPU runtime for the default settings. Details: notebooks/README.md, runtime guide.
#
# **What you will learn**
# - how ERTS filters the samples a PDD variant would keep: `combined = (1 - p_true) * focus`, keep the top
#   fraction `phi`, then the class-aware rescue — checked by hand on one batch;
# - what the focus score (mean of the top 10 % of the min-max-normalised Grad-CAM map) rewards;
# - how Full, DBPD and XAI-DBPD (ERTS on DBPD) compare on macro-F1, effective epochs (EE), compute-equivalent
#   epochs and wall-clock, trained side by side in this notebook;
# - whether "dropped for low focus" finds the corrupted samples (flipped labels, heavy artefacts) that the
#   synthetic set records: precision and recall against the ground truth;
# - what ERTS costs on top of DBPD, as a ratio measured in this run.
#
# *Papers:* ERTS — Dangeti, Gu, Weng, Gowda, "Using Explainability as a Training-Time Reliability
# Signal for Efficient ECG Classification", arXiv 2606.12252 (2026). PDD — Progressive Data Dropout,
# arXiv 2505.22342 (NeurIPS 2025).

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
SMOKE = False          # True: tiny data and a scaled-down schedule, seconds on a CPU (what the tests run)
SEED = 42
DATASET = "synthetic"  # or ptbxl, cinc, mitbih (with DATA_DIR, or the default data/<name> folder)
DATA_DIR = ""          # folder of a downloaded database; empty: the default folder
MODEL = "small_cnn"    # any name of erts_kit.models.list_models()
POLICY = "xai_dbpd"    # the ERTS variant studied: xai_dbpd, xai_smrd or xai_srd
EPOCHS = None          # None: 3 in smoke mode, 30 otherwise
DEVICE = "auto"        # auto takes CUDA, then Apple MPS, then the CPU
TAU = 0.3              # DBPD/SMRD threshold on p_true
GAMMA = 0.99           # SRD decay
PHI = 0.7              # ERTS: fraction of the PDD candidates kept (paper ablation: 0.5, 0.7, 0.9)
FOCUS = "topk_mean"    # focus score (erts_kit.explain.FOCUS_SCORES); as in the paper: topk_mean
WARM_UP = None         # None: 1 in smoke mode, 5 (as in the paper) otherwise
CAM_START = None       # epochs after warm-up before the filter starts; None: 1 in smoke mode, 3 otherwise
COMPARE = None         # policies trained side by side; None: full, the PDD base, POLICY (+ the others outside smoke mode)
N_SAMPLES = None       # synthetic records; None: 150 in smoke mode, 2000 otherwise
DURATION_S = None      # synthetic record length; None: 5 s in smoke mode, 10 s (the PTB-XL shape) otherwise
LABEL_FLIP_RATE = 0.1  # synthetic: share of training labels replaced by another class
ARTIFACT_RATE = 0.1    # synthetic: share of training records given one heavy artefact

# %% [markdown]
# ## Cost knobs
# Sizes that follow `SMOKE` unless you set them yourself. Smoke mode uses 5 s records and scales the schedule down (warm-up 1,
# filter from epoch 2, 3 epochs): its numbers illustrate the mechanics, not the paper's 100-epoch runs.

# %%
EPOCHS = (3 if SMOKE else 30) if EPOCHS is None else EPOCHS
WARM_UP = (1 if SMOKE else 5) if WARM_UP is None else WARM_UP
CAM_START = (1 if SMOKE else 3) if CAM_START is None else CAM_START
N_SAMPLES = (150 if SMOKE else 2000) if N_SAMPLES is None else N_SAMPLES
DURATION_S = (5.0 if SMOKE else 10.0) if DURATION_S is None else DURATION_S
BASE = POLICY.removeprefix("xai_")
ALL_POLICIES = ["full", "dbpd", "smrd", "srd", "xai_dbpd", "xai_smrd", "xai_srd"]
COMPARE = (["full", BASE, POLICY] if SMOKE else ALL_POLICIES) if COMPARE is None else list(COMPARE)

# %% [markdown]
# ## Check the parameters
# A wrong type or value stops here with a message naming the parameter; this also seeds every RNG and
# picks the device (a GPU when there is one: the line below says which).

# %%
import erts_kit.course.params

P = erts_kit.course.params.check_params(globals(), notebook="06_erts")
if not POLICY.startswith("xai_") or BASE not in COMPARE or POLICY not in COMPARE:
    raise ValueError(f"Notebook parameter POLICY/COMPARE: expected an ERTS policy ('xai_dbpd', 'xai_smrd', 'xai_srd') "
                     f"compared with its PDD base, got POLICY={POLICY!r}, COMPARE={COMPARE!r}.")

# %% [markdown]
# ## Words used in this notebook
# (All in the [glossary](../docs/glossary.md).)
# - **[Candidates, phi, rescue](../docs/glossary.md#candidates-phi-rescue)**: the samples PDD would keep; the fraction of them ERTS
#   keeps; the one sample per class ERTS keeps anyway.
# - **[Filter precision, recall, base rate](../docs/glossary.md#filter-precision-recall-base-rate)**: how many of the samples dropped
#   for low focus are corrupted, against how many would be if the drop were random.
# - **[Effective](../docs/glossary.md#effective-epochs-ee)** and **[compute-equivalent epochs](../docs/glossary.md#compute-equivalent-epochs)**,
#   **[wall-clock](../docs/glossary.md#wall-clock)**: the three cost measures of notebook 05.

# %% [markdown]
# ## Imports
# Rules, focus scores, policies, training and the ground-truth check all come from `erts_kit`.

# %%
%matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display

from erts_kit.data import load_dataset
from erts_kit.results import build_policy, filter_precision_recall, filter_table
from erts_kit.explain import FOCUS_SCORES, focus_score
from erts_kit.models import build_model
from erts_kit.results import check_claim, cost_table, mark_smoke, show_smoke_banner, verdict
from erts_kit.selection import erts_filter
from erts_kit.training import TrainConfig, train

# %% [markdown]
# # Part 1 — the filter
#
# From epoch `warm_up + cam_start` on, for the samples PDD would keep (the *candidates*), ERTS computes the
# Grad-CAM map of the **true** class at the model's explanation layer (model in eval mode), reduces it to one value
# per time step, ReLUs it and min-max normalises it per sample. Then:
#
# - `focus` = mean of the top 10 % of the map (k = max(1, W // 10)), at the layer's own resolution;
# - `combined = (1 - p_true) * focus`: hard *and* well-explained samples rank first;
# - keep the top `max(1, int(phi * n_candidates))`, `phi = 0.7`;
# - class-aware rescue: every class present among the candidates keeps at least its best-scoring sample.
#
# The intuition: a hard sample whose explanation is diffuse may be hard because it is *wrong* (a flipped label,
# an artefact), and training on it hurts; a hard sample with a focused explanation is worth the update.
#
# ## What the focus score rewards
# Four maps of width 20: one spike, a narrow bump, a broad plateau over half the record, and a flat map.
# After min-max normalisation the plateau's top decile (k = 2 values) is all ones, so it scores 1; the spike's holds
# one 1 and one 0, so it scores 1/k = 0.5: the broad map scores *higher*. The check after the table fails the run if
# that stops being true.

# %%
W = 20
maps = torch.zeros(4, W)
maps[0, 7] = 1.0                       # one spike (a local event)
maps[1, 6:9] = torch.tensor([0.5, 1.0, 0.5])
maps[2, :10] = 1.0                     # a broad plateau (diffuse evidence, or noise)
maps[3] = 0.3                          # flat: min-max gives zeros (denominator 1)
hand_scores = pd.DataFrame({name: focus_score(maps, name).numpy() for name in FOCUS_SCORES},
                           index=["spike", "narrow bump", "plateau (half)", "flat"])
hand_scores.round(3)

# %%
spike_f, plateau_f = hand_scores.loc["spike", "topk_mean"], hand_scores.loc["plateau (half)", "topk_mean"]
print(check_claim(np.isclose(plateau_f, 1.0) and np.isclose(spike_f, 1 / max(1, W // 10)),
                  "the plateau scores 1 and the spike 1/k: topk_mean rewards the broad map",
                  f"plateau {plateau_f:.2f}, spike {spike_f:.2f}, 1/k = {1 / max(1, W // 10):.2f}"))

# %% [markdown]
# ## The filter on one batch, by hand
# Eight candidates of a batch of 10 (positions 8 and 9 were confident: not candidates), three classes; `phi = 0.5`
# keeps `int(0.5 * 8) = 4`. Class 2's only candidate ranks last, so the rescue keeps it anyway.

# %%
p_all = torch.tensor([0.10, 0.05, 0.20, 0.25, 0.00, 0.15, 0.28, 0.02, 0.90, 0.95])
labels = torch.tensor([0, 0, 1, 1, 0, 1, 0, 2, 0, 1])
candidates = torch.arange(8)
focus = torch.tensor([0.90, 0.20, 0.80, 0.70, 0.60, 0.10, 0.95, 0.05])
kept, rescued = erts_filter(candidates, p_all, focus, labels, phi=0.5)
batch = pd.DataFrame({"label": labels[:8].numpy(), "p_true": p_all[:8].numpy(), "focus": focus.numpy(),
                      "combined": ((1 - p_all[:8]) * focus).numpy().round(3)})
batch["decision"] = np.where(np.isin(candidates, kept), "KEPT",
                             np.where(np.isin(candidates, rescued), "RESCUED", "DROPPED_LOW_FOCUS"))
batch.sort_values("combined", ascending=False)

# %% [markdown]
# # Part 2 — the comparison, trained side by side
#
# ## Data
# The synthetic set with 10 % flipped labels and 10 % heavy artefacts in the training split; `data.meta` records
# which samples are corrupted, so the filter's choices can be checked.

# %%
SYNTHETIC_OPTIONS = dict(n_samples=N_SAMPLES, duration_s=DURATION_S, seed=SEED, label_flip_rate=LABEL_FLIP_RATE,
                         artifact_rate=ARTIFACT_RATE)
data = load_dataset(DATASET, data_dir=DATA_DIR or None, **(SYNTHETIC_OPTIONS if DATASET == "synthetic" else {}))
n_train = len(data.splits["train"])
print(data.describe())

# %% [markdown]
# ## Train every policy
# Same model, seed, data order and loss (plain cross-entropy for all: the paper gave PDD/ERTS a class-balanced
# loss and the baseline a plain one, a confound we leave out). Each policy gets only the parameters it takes.

# %%
POLICY_PARAMS = dict(tau=TAU, phi=PHI, gamma=GAMMA, warm_up=WARM_UP, cam_start=CAM_START, focus=FOCUS)
config = TrainConfig(epochs=EPOCHS, seed=SEED, device=DEVICE, focus_score=FOCUS)
policies = {name: build_policy(name, POLICY_PARAMS, seed=SEED) for name in COMPARE}
runs = {name: train(build_model(MODEL, data.n_leads, data.n_classes), data, pol, config, progress=not SMOKE)
        for name, pol in policies.items()}
print(f"{POLICY}: focus filter from epoch {policies[POLICY].filter_start} (0-based) of {EPOCHS}; device {runs[POLICY].device}")

# %% [markdown]
# ## The comparison table
# Test macro-F1 (best-validation checkpoint), EE as published, compute-equivalent epochs (scoring forward = 1 unit,
# Grad-CAM = 2, training step = 3 per sample) and wall-clock seconds of training + validation.

# %%
comparison = pd.DataFrame({name: {"test macro-F1": r.test_metrics["macro_f1"],
                                  "EE (published)": r.ledger.effective_epochs(n_train),
                                  "compute-eq. epochs": r.ledger.compute_equivalent_epochs(n_train),
                                  "wall-clock s": r.history["seconds"].sum()} for name, r in runs.items()}).T
show_smoke_banner(SMOKE, f"{N_SAMPLES} records of {DURATION_S:.0f} s, {EPOCHS} epochs, "
                           f"{len(data.splits['test'])} test records: a difference in this table, however large, is noise.")
comparison.round(3)

# %% [markdown]
# ## Where the seconds went
# Seconds per phase, summed over epochs: ERTS adds a `gradcam` phase (one shared pass gives p_true and the maps)
# in its filter epochs; PDD pays `score`; every policy pays `train` for what it keeps.

# %%
seconds = pd.DataFrame({name: r.history.filter(like="seconds_").sum() for name, r in runs.items()}).T.fillna(0)
ax = seconds.rename(columns=lambda c: c.removeprefix("seconds_")).plot.barh(stacked=True, figsize=(8, 0.5 * len(runs) + 1.5),
                                                                             title="seconds per phase")
ax.set_xlabel("seconds"); ax.legend(loc="center left", bbox_to_anchor=(1, 0.5));

# %% [markdown]
# ## The cost of ERTS over its PDD base, measured here
# Ratios of this run, computed from the two runs trained one after the other in this process (never a quoted
# number): over the whole run, and over the filter epochs only, where the two differ. At smoke size a few batches
# take under a second and other processes on the machine move the seconds: rerun without `SMOKE` for a ratio to trust.

# %%
erts, base = runs[POLICY], runs[BASE]
start = policies[POLICY].filter_start
in_filter = lambda r: r.history[r.history["epoch"] >= start]
print(f"wall-clock ratio {POLICY}/{BASE}, whole run: "
      f"{erts.history['seconds'].sum() / base.history['seconds'].sum():.2f}")
print(f"wall-clock ratio {POLICY}/{BASE}, filter epochs ({len(in_filter(erts))}): "
      f"{in_filter(erts)['seconds'].sum() / in_filter(base)['seconds'].sum():.2f}")
print(f"compute-equivalent epochs ratio: {comparison.loc[POLICY, 'compute-eq. epochs'] / comparison.loc[BASE, 'compute-eq. epochs']:.2f}; "
      f"EE ratio: {comparison.loc[POLICY, 'EE (published)'] / comparison.loc[BASE, 'EE (published)']:.2f}")

# %% [markdown]
# ## What the ERTS run decided, epoch by epoch
# From the selection log: per epoch, how many samples got each decision (WARMUP, KEPT, DROPPED_CONFIDENT,
# DROPPED_LOW_FOCUS, RESCUED).

# %%
log_df = erts.selection_log.to_dataframe()
decisions = erts.selection_log.kept_counts("decision")
decisions.loc[:, decisions.sum() > 0]

# %% [markdown]
# # Part 3 — did the filter drop the corrupted samples?
#
# Over the filter epochs, each sample-epoch dropped for low focus is a "positive". **Precision**: the share of them
# that are truly corrupted; **recall**: the share of the corrupted candidates that were dropped; the **base rate**
# (corrupted share among the candidates) is the precision of dropping at random. Real databases have no ground
# truth: this part runs on the synthetic set only.
#
# ## Precision and recall of the focus filter
# Computed from the ERTS run's selection log and `data.meta` by `erts_kit.results.filter_precision_recall`.

# %%
has_truth = data.meta is not None and "corrupted" in data.meta.columns
stats = filter_precision_recall(log_df, data.meta) if has_truth else None
if stats:
    print(f"filter epochs {stats['epochs']}: {stats['n_dropped']} sample-epochs dropped for low focus of "
          f"{stats['n_candidates']} candidates; precision {stats['precision']:.3f}, recall {stats['recall']:.3f}, "
          f"base rate {stats['base_rate']:.3f}")
else:
    print("no ground truth for this dataset (data.meta has no 'corrupted' column)")

# %% [markdown]
# ## Verdict
# Written from this run's numbers (`erts_kit.results.verdict`): the three cost measures of the ERTS run against its
# PDD base and against the full-data run, where they disagree and why, and whether the focus filter found corrupted
# samples more often than dropping at random would (a one-sided binomial test of the precision against the base rate).

# %%
costs = cost_table(runs, n_train)
print(verdict(costs, POLICY, BASE, filter_stats=stats, smoke=SMOKE))
print()
print(verdict(costs, POLICY, "full", smoke=False) if "full" in costs.index else "(no full-data run in COMPARE)")

# %% [markdown]
# ## By kind of sample
# The drop rate among the candidates, per kind: clean, flipped label, each artefact. A filter that finds corruption
# drops the corrupted kinds more often than the clean ones.

# %%
if stats:
    by_kind = filter_table(stats)
    ax = by_kind["drop_rate"].plot.barh(figsize=(6, 0.35 * len(by_kind) + 1), xlim=(0, 1),
                                        title="share of candidates dropped for low focus")
    ax.set_xlabel("drop rate"); mark_smoke(ax, SMOKE)
    display(by_kind.round(3))

# %% [markdown]
# ## Local vs diffuse evidence
# Are classes whose evidence is spread over the record (AF, ST change, AVB1) dropped more often than those with one
# local event (PVC, PAC)? Drop rate of the *clean* candidates per true class, in the filter epochs
# (`filter_precision_recall(...)["by_class"]`).

# %%
if stats and stats["by_class"]:
    by_class = filter_table({"by_kind": stats["by_class"]})
    ax = by_class["drop_rate"].plot.barh(figsize=(6, 0.35 * len(by_class) + 1), xlim=(0, 1),
                                         title="clean candidates dropped for low focus, by true class")
    ax.set_xlabel("drop rate"); mark_smoke(ax, SMOKE)
    display(by_class.round(3))

# %% [markdown]
# # Summary
# - ERTS ranks the PDD candidates by `(1 - p_true) * focus`, keeps the top `phi` fraction and rescues one sample
#   per class left empty; it runs only in filter epochs (from `warm_up + cam_start`).
# - ERTS trains on fewer samples than its PDD base, so its EE is lower, but the Grad-CAM pass is extra compute that
#   EE does not count: the compute-equivalent epochs and the measured wall-clock ratio are the honest cost, and the
#   verdict cell says how the three compare in this run.
# - The synthetic ground truth lets you check whether low focus means "corrupted": compare the precision with the
#   base rate, and the drop rate of clean samples with that of each corruption kind and evidence kind.
# - Min-max normalisation makes the top-decile focus reward broad maps: a plateau scores 1, a single spike 1/k
#   (checked in Part 1; notebook 04 studies it), which works against the local-evidence classes it should favour.
# - The verdict cell says, for this run, how EE, compute-equivalent epochs and wall-clock reconcile and whether the
#   filter beat chance.
#
# ## Questions
# 1. In the hand-made batch, which sample would have been kept without the class-aware rescue, and why does the rescue exist?
# 2. Why does `combined` multiply by `1 - p_true` instead of using the focus alone?
# 3. If the precision equals the base rate, what does the filter do with respect to corruption?
# 4. Why does the ratio over the filter epochs differ from the ratio over the whole run?
# 5. Diffuse evidence (AF) gives broad maps: what focus score would not penalise it?
#
# ## Experiments to try
# Each is an edit of the parameters cell or a papermill flag; costs (2-core CPU) in
# [docs/instructors.md](../docs/instructors.md#06-erts).
# - `PHI = 0.5` and `PHI = 0.9` (`-p PHI 0.5`, `-p PHI 0.9`): the paper's ablation; watch EE, the cost ratio and macro-F1.
# - `FOCUS = "one_minus_entropy"` (`-p FOCUS one_minus_entropy`): does another focus score separate corrupted samples
#   better?
# - `LABEL_FLIP_RATE = 0.3`, `ARTIFACT_RATE = 0.0` (`-p LABEL_FLIP_RATE 0.3 -p ARTIFACT_RATE 0.0`): only flipped
#   labels; does the precision change?
# - `POLICY = "xai_srd"` (`-p POLICY xai_srd`): SRD has no scoring pass of its own; what does the filter add to its cost?
