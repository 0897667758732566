"""Selection policies: full data, the three PDD variants and their ERTS versions.

Each policy answers, per batch, which samples get the training forward + backward, following
DESIGN.md "The method, as published" (PDD: arXiv 2505.22342; ERTS: arXiv 2606.12252). The rules
themselves live in :mod:`erts_kit.selection.rules`; policies add the epoch schedule, the seeds and
the per-sample :class:`~erts_kit.selection.base.Decision`, and talk to the model only through the
:class:`~erts_kit.selection.base.BatchScorer` protocol.

Epochs are counted from 0, as the training loop does:

- warm-up: epochs ``0 .. warm_up - 1`` (with the default ``warm_up=5``: epochs 0-4, "the first 5
  epochs") use every sample, decision WARMUP, no scoring pass;
- revision: every epoch ``>= start_revision`` (``None``: never) uses every sample, decision REVISION;
- PDD selection: every other epoch;
- ERTS focus filter: from epoch ``warm_up + cam_start`` on (defaults: epoch 8, the 9th); between
  warm-up and that epoch an ERTS policy behaves exactly like its PDD base.

Random picks (SMRD, SRD) draw from a generator seeded by ``(seed, epoch, step)``, so a run gives
the same picks when repeated and when resumed from a checkpoint at the same step.

The modules, in import order (each imports only the ones above it):

- :mod:`.common`: what every policy shares: seeded picks, one class per sample, building a
  :class:`~erts_kit.selection.base.BatchSelection`;
- :mod:`.full`: :class:`FullPolicy`, the full-data baseline;
- :mod:`.pdd`: the PDD schedule and :class:`DBPDPolicy`, :class:`SMRDPolicy`, :class:`SRDPolicy`;
- :mod:`.erts`: :class:`ERTSPolicy`, a PDD policy plus the Grad-CAM focus filter;
- :mod:`.cache`: :class:`ScoreCache`, per-sample scores from the training forward, keyed by dataset index;
- :mod:`.infobatch`: :class:`InfoBatchPolicy` (Qin et al., ICLR 2024) and :class:`NoiseAwarePolicy`;
- :mod:`.cached_erts`: :class:`CachedERTSPolicy`, ERTS decisions from cached scores, re-scored every k epochs;
- :mod:`.registry`: building policies by name (:func:`make_policy`, :func:`list_policies`,
  :func:`paper_policy`, :data:`PAPER_DEFAULTS`).

Example:
    >>> list_policies()
    ['full', 'dbpd', 'smrd', 'srd', 'xai_dbpd', 'xai_smrd', 'xai_srd', 'infobatch', 'cached_erts', 'noise_aware']
    >>> make_policy("xai_dbpd", tau=0.3, phi=0.7)
    ERTSPolicy(name='xai_dbpd', phi=0.7, cam_start=3, focus='topk_mean', base=DBPDPolicy(tau=0.3, warm_up=5, start_revision=None))
"""
from .cache import CachedScores, ScoreCache, margins
from .cached_erts import CachedERTSPolicy
from .common import class_keys, pick_generator
from .erts import ERTSPolicy
from .full import FullPolicy
from .infobatch import InfoBatchPolicy, NoiseAwarePolicy
from .pdd import DBPDPolicy, SMRDPolicy, SRDPolicy
from .registry import PAPER_DEFAULTS, list_policies, make_policy, paper_policy

__all__ = [
    "PAPER_DEFAULTS",
    "CachedERTSPolicy",
    "DBPDPolicy",
    "ERTSPolicy",
    "FullPolicy",
    "InfoBatchPolicy",
    "NoiseAwarePolicy",
    "SMRDPolicy",
    "SRDPolicy",
    "CachedScores",
    "ScoreCache",
    "class_keys",
    "list_policies",
    "make_policy",
    "margins",
    "paper_policy",
    "pick_generator",
]
