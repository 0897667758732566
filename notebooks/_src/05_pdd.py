# %% [markdown]
# # 05 · Progressive Data Dropout: training on fewer samples, and what it really costs
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/erts-kit/erts-kit/blob/v0.1.0/notebooks/05_pdd.ipynb)
#
# **Runtime** on a 2-core CPU (shared machine, so upper bounds): smoke 13 s; default ≈ 12 min (extrapolated: 30 x a 1-epoch run of 23 s). On Colab choose a GPU runtime for the default settings. Details: notebooks/README.md, runtime guide.
#
# **What you will learn**
# - the idea of Progressive Data Dropout (PDD): batch by batch, only some samples get a gradient update;
# - its three variants — DBPD (difficulty-based), SMRD (schedule-matched random), SRD (scalar random) —
#   as the small rules `erts_kit.selection` implements, checked by hand on one batch;
# - the schedule around them: warm-up epochs, PDD epochs, revision epochs;
# - what *effective epochs* (EE), the cost the papers publish, leave out: the scoring forward pass. From a run's
#   cost ledger you will read EE next to *compute-equivalent epochs* and the seconds of each phase, and see why
#   a per-batch selection epoch cannot cost less than about a third of a full one.
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
POLICY = "dbpd"        # the PDD variant trained next to the full-data run: dbpd, smrd or srd
EPOCHS = None          # None: 3 in smoke mode, 30 otherwise
DEVICE = "auto"        # auto takes CUDA, then Apple MPS, then the CPU
TAU = 0.3              # DBPD/SMRD: keep samples whose true-class probability is below TAU
GAMMA = 0.99           # SRD: keep int(GAMMA ** epoch * batch size) random samples
WARM_UP = None         # epochs on every sample first; None: 1 in smoke mode, 5 (as in the paper) otherwise
START_REVISION = None  # from this epoch on, every sample again (revision); None: no revision
N_SAMPLES = None       # synthetic records; None: 150 in smoke mode, 2000 otherwise
DURATION_S = None      # synthetic record length; None: 5 s in smoke mode, 10 s (the PTB-XL shape) otherwise
LABEL_FLIP_RATE = 0.1  # synthetic: share of training labels replaced by another class
ARTIFACT_RATE = 0.1    # synthetic: share of training records given one heavy artefact

# %% [markdown]
# ## Cost knobs
# Sizes that follow `SMOKE` unless you set them yourself. Smoke mode uses 5 s records and scales the schedule down (1 warm-up
# epoch, 3 epochs), so its numbers illustrate the mechanics, not the paper's 100-epoch runs.

# %%
EPOCHS = (3 if SMOKE else 30) if EPOCHS is None else EPOCHS
WARM_UP = (1 if SMOKE else 5) if WARM_UP is None else WARM_UP
N_SAMPLES = (150 if SMOKE else 2000) if N_SAMPLES is None else N_SAMPLES
DURATION_S = (5.0 if SMOKE else 10.0) if DURATION_S is None else DURATION_S

# %% [markdown]
# ## Check the parameters
# A wrong type or value stops here with a message naming the parameter; this also seeds every RNG and
# picks the device (a GPU when there is one: the line below says which).

# %%
import erts_kit.course.params

P = erts_kit.course.params.check_params(globals(), notebook="05_pdd")

# %% [markdown]
# ## Words used in this notebook
# (All in the [glossary](../docs/glossary.md); [00_primer](00_primer.ipynb) works an example of each cost.)
# - **[p_true](../docs/glossary.md#logits-softmax-p_true)**: the model's softmax probability for a sample's given label.
# - **[Effective epochs (EE)](../docs/glossary.md#effective-epochs-ee)**: samples trained on, divided by the training-set size.
# - **[Compute-equivalent epochs](../docs/glossary.md#compute-equivalent-epochs)**: every pass at its nominal cost per sample (scoring
#   forward 1, Grad-CAM 2, training step 3) divided by 3 × the training-set size; a full-data epoch = 1.
# - **[Wall-clock](../docs/glossary.md#wall-clock)**: seconds on this machine, validation and data loading included.

# %% [markdown]
# ## Imports
# The rules, policies, cost ledger and training loop all come from `erts_kit`.

# %%
%matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from erts_kit.data import load_dataset
from erts_kit.models import build_model
from erts_kit.results import check_claim, cost_table, mark_smoke, show_smoke_banner, verdict
from erts_kit.selection import dbpd_candidates, make_policy, paper_policy, smrd_pick, srd_count
from erts_kit.training import TrainConfig, train

# %% [markdown]
# # Part 1 — the idea
#
# A full-data epoch pushes every training sample through a forward and a backward pass. PDD asks, for every
# batch: *which samples still teach the model something?* Only those get the training forward + backward.
#
# | variant | which samples of a batch are kept | needs a scoring pass? |
# |---|---|---|
# | **DBPD** (difficulty-based) | those with `p_true < tau` (`p_true`: softmax probability of the true class; `tau = 0.3`; `tau = 0` keeps the misclassified) | yes: a no-grad forward of the whole batch |
# | **SMRD** (schedule-matched random) | as many as DBPD would keep, drawn at random: the control that tells whether *difficulty* matters | yes (to know DBPD's count) |
# | **SRD** (scalar random) | `int(gamma ** epoch * B)` random samples (`gamma = 0.99`) | no |
#
# ## The three rules on one batch
# Eight samples with hand-picked `p_true`: DBPD keeps those below `TAU`, SMRD the same number at random, SRD
# its count for epoch 10.

# %%
p_true = torch.tensor([0.05, 0.92, 0.31, 0.12, 0.88, 0.29, 0.60, 0.01])
gen = torch.Generator().manual_seed(SEED)
keep = {"DBPD": dbpd_candidates(p_true, tau=TAU)}
keep["SMRD"] = smrd_pick(len(keep["DBPD"]), len(p_true), gen)
keep["SRD (epoch 10)"] = smrd_pick(srd_count(10, len(p_true), GAMMA), len(p_true), gen)
pd.DataFrame({"p_true": p_true.numpy(), **{k: np.isin(np.arange(len(p_true)), v) for k, v in keep.items()}})

# %% [markdown]
# ## SRD's schedule
# SRD's count decays geometrically with the epoch: with `gamma = 0.99` a batch of 32 still keeps 19 samples
# at epoch 50 and 11 at epoch 100.

# %%
epochs_axis = np.arange(0, 301)
plt.figure(figsize=(7, 3))
plt.plot(epochs_axis, [srd_count(int(e), 32, GAMMA) for e in epochs_axis])
plt.xlabel("epoch (0-based)"); plt.ylabel("samples kept of 32"); plt.title(f"SRD, gamma = {GAMMA}")
plt.grid(alpha=0.3)

# %% [markdown]
# ## The schedule: warm-up, PDD epochs, revision
# Every policy says what it does in each epoch (`policy.stage(epoch)`): the first `warm_up` epochs use every
# sample (the model must first learn what is easy), then PDD selects; from `start_revision` on, every sample
# is used again. The paper's setting (`paper_policy`) is 5 warm-up epochs; ERTS adds its focus filter 3 epochs later.

# %%
policy = make_policy(POLICY, warm_up=WARM_UP, start_revision=START_REVISION, seed=SEED)
schedules = {f"{POLICY} (this run)": policy, "dbpd, paper, revision at 20": paper_policy("dbpd", start_revision=20),
             "xai_dbpd, paper": paper_policy("xai_dbpd")}
pd.DataFrame({name: [p.stage(e) for e in range(max(EPOCHS, 24))] for name, p in schedules.items()}).rename_axis("epoch")

# %% [markdown]
# # Part 2 — a run, and its cost ledger
#
# ## Data
# The synthetic set with 10 % flipped labels and 10 % heavy artefacts in the training split (ground truth kept in
# `data.meta`), z-scored per record and lead like the real databases.

# %%
SYNTHETIC_OPTIONS = dict(n_samples=N_SAMPLES, duration_s=DURATION_S, seed=SEED, label_flip_rate=LABEL_FLIP_RATE,
                         artifact_rate=ARTIFACT_RATE)
data = load_dataset(DATASET, data_dir=DATA_DIR or None, **(SYNTHETIC_OPTIONS if DATASET == "synthetic" else {}))
n_train = len(data.splits["train"])
print(data.describe())

# %% [markdown]
# ## Train the full-data baseline and the PDD run
# Same model, seed, loss (plain cross-entropy) and data order; only the policy differs. Both run one after the
# other in this process, so their seconds compare.

# %%
config = TrainConfig(epochs=EPOCHS, seed=SEED, device=DEVICE)
policies = {"full": make_policy("full"), POLICY: policy}
runs = {name: train(build_model(MODEL, data.n_leads, data.n_classes), data, pol, config, progress=not SMOKE)
        for name, pol in policies.items()}

# %% [markdown]
# ## What each epoch kept
# `kept_frac` is the share of the training samples that got a gradient update; EE grows by exactly that much per epoch.

# %%
run = runs[POLICY]
run.history[["epoch", "kept_frac", "effective_epochs", "compute_equivalent_epochs", "val_macro_f1", "seconds"]].round(3)

# %% [markdown]
# ## The cost ledger
# Per epoch, how many samples went through each pass: `scored` (no-grad forward), `gradcam` (none for PDD) and
# `trained` (forward + backward), the seconds of each phase, and both cost measures. Units: a forward = 1,
# a training step = 3 (a backward costs about two forwards), so a full-data epoch = 1 compute-equivalent epoch.

# %%
ledger_table = run.ledger.epoch_table(n_train=n_train)
ledger_table.round(3)

# %% [markdown]
# ## EE against compute-equivalent epochs
# Left: per epoch. The dashed line is the floor of a selection epoch: scoring all N samples costs N units of 3N,
# a third of a full epoch, even if nothing is kept. Right: the running totals the papers and the kit report.

# %%
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 3.5), layout="constrained")
ledger_table.plot(x="epoch", y=["ee", "compute_epochs"], kind="bar", ax=ax0, rot=0,
                  title=f"{POLICY}: cost of each epoch (full-data epoch = 1)")
ax0.axhline(1 / 3, color="k", linestyle="--", linewidth=1, label="scoring floor 1/3")
ax0.set_ylim(0, 1.3 * max(1.0, ledger_table[["ee", "compute_epochs"]].to_numpy().max()))   # room for the legend
ax0.set_ylabel("epochs")
ax0.legend(["scoring floor 1/3", "EE (published)", "compute-equivalent"], fontsize=8, loc="upper center", ncols=3,
           frameon=False)
for colour, (name, r) in zip(["C0", "C3"], runs.items()):
    r.history.plot(x="epoch", y="effective_epochs", ax=ax1, marker="o", color=colour, label=f"{name}: EE")
    r.history.plot(x="epoch", y="compute_equivalent_epochs", ax=ax1, marker="x", linestyle="--", color=colour,
                   label=f"{name}: compute-eq.")
ax1.set_title("cumulative cost"); ax1.set_ylabel("epochs"); ax1.grid(alpha=0.3)
mark_smoke(fig, SMOKE)

# %% [markdown]
# ## Seconds per phase
# Wall-clock of each phase, per epoch, as the ledger timed it: `data` loading, `score` (the scoring forward),
# `train` (forward + backward of the kept samples). PDD saves training time but pays the scoring time.

# %%
time_cols = [c for c in ledger_table.columns if c.startswith("time_")]
ax = ledger_table.set_index("epoch")[time_cols].rename(columns=lambda c: c[5:]).plot.bar(
    stacked=True, figsize=(7, 3), rot=0, title=f"{POLICY}: seconds per phase")
ax.set_ylabel("seconds");

# %% [markdown]
# ## The floor, measured
# In every selection epoch the compute cost is at least the 1/3 of the scoring pass, whatever EE says; in
# wall-clock terms we compare a selection epoch with a full-data epoch of the baseline (same process).

# %%
selecting = ledger_table[ledger_table["scored"] > 0]
full_epoch_s = runs["full"].history["seconds"].median()
if len(selecting):
    print(f"selection epochs: {len(selecting)}; lowest EE of one epoch {selecting['ee'].min():.3f}, "
          f"lowest compute cost of one epoch {selecting['compute_epochs'].min():.3f} (floor 1/3 = {1 / 3:.3f})")
    sel_s = run.history.set_index("epoch").loc[selecting["epoch"], "seconds"].median()
    print(f"median seconds of a selection epoch {sel_s:.2f} s vs a full-data epoch {full_epoch_s:.2f} s "
          f"(ratio {sel_s / full_epoch_s:.2f})")
    print(check_claim(bool(selecting["compute_epochs"].min() >= 1 / 3 - 1e-9),
                      "a selection epoch costs at least 1/3 of a full epoch in compute, whatever EE says",
                      f"lowest compute cost of a selection epoch {selecting['compute_epochs'].min():.3f}"))
else:
    print(f"{POLICY} never selected in {EPOCHS} epochs (warm-up {WARM_UP}, or SRD, which has no scoring pass)")

# %% [markdown]
# ## The two runs side by side
# Test macro-F1 of the best-validation checkpoint, EE as published, compute-equivalent epochs and wall-clock.

# %%
show_smoke_banner(SMOKE, f"{N_SAMPLES} records of {DURATION_S:.0f} s, {EPOCHS} epochs: the table tests the ledger, "
                           "not PDD.")
pd.DataFrame({name: {"test macro-F1": r.test_metrics["macro_f1"], "EE (published)": r.ledger.effective_epochs(n_train),
                     "compute-eq. epochs": r.ledger.compute_equivalent_epochs(n_train),
                     "wall-clock s": r.history["seconds"].sum(), "device": r.device}
              for name, r in runs.items()}).T

# %% [markdown]
# ## Verdict
# The three cost measures of the PDD run against the full-data run, reconciled in sentences written from the numbers
# above (`erts_kit.results.verdict`). PDD has no focus filter, so there is nothing to test against chance here:
# notebook 06 does that for ERTS.

# %%
print(verdict(cost_table(runs, n_train), POLICY, "full", smoke=SMOKE))

# %% [markdown]
# # Summary
# - PDD trains, per batch, only the samples a rule picks: DBPD the hard ones (`p_true < tau`), SMRD as many at
#   random, SRD a count that decays as `gamma ** epoch`. Warm-up and revision epochs use every sample.
# - Effective epochs count only training passes. DBPD and SMRD also forward every sample to score it, so a
#   selection epoch costs at least 1/3 of a full one in compute, and the ledger's compute-equivalent epochs
#   (and the seconds per phase) show what EE hides. SRD needs no scoring pass: its EE is its cost.
# - Every number above comes from the run's `CostLedger` and `history`; the next notebook adds the ERTS
#   focus filter, whose Grad-CAM passes EE leaves out as well.
#
# ## Questions
# 1. With `tau = 0.3`, why does DBPD keep more samples early in training than late? What happens to EE when the model fits the training set?
# 2. A DBPD epoch keeps 10 % of the samples. What are its EE and its compute-equivalent cost? What would make the scoring pass cheaper?
# 3. Why is SMRD the right control for DBPD, and SRD not?
# 4. What does a revision epoch protect against, and what does it cost?
# 5. Why do the seconds per phase not match the 1 : 3 unit ratio exactly on this machine?
#
# ## Experiments to try
# Each is an edit of the parameters cell or a papermill flag; costs (2-core CPU) in
# [docs/instructors.md](../docs/instructors.md#05-pdd).
# - `POLICY = "smrd"` and `POLICY = "srd"` (`-p POLICY smrd`, `-p POLICY srd`): compare the ledgers; which one has no
#   `scored` column cost?
# - `TAU = 0.1` (`-p TAU 0.1`): fewer samples kept; does EE fall faster than compute-equivalent epochs?
# - `START_REVISION = 20`, `EPOCHS = 30` (`-p START_REVISION 20 -p EPOCHS 30`): look at the kept fraction after epoch 20.
# - `LABEL_FLIP_RATE = 0.3` (`-p LABEL_FLIP_RATE 0.3`): flipped labels stay "hard" forever; how does DBPD's kept
#   fraction change?
