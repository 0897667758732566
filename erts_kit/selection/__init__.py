"""Which samples get a gradient update: PDD and ERTS policies, the batch scorer, cost ledger and selection log.

Example:
    >>> from erts_kit.selection import make_policy, list_policies
    >>> make_policy("dbpd", tau=0.3).name
    'dbpd'
"""

from .base import (
    KEPT_DECISIONS,
    BatchInfo,
    BatchScorer,
    BatchSelection,
    Decision,
    SelectionPolicy,
)
from .ledger import CostLedger
from .log import DECISION_NAMES, SelectionLog
from .policies import (
    PAPER_DEFAULTS,
    DBPDPolicy,
    ERTSPolicy,
    FullPolicy,
    SMRDPolicy,
    SRDPolicy,
    list_policies,
    make_policy,
    paper_policy,
)
from .rules import dbpd_candidates, erts_filter, smrd_pick, srd_count
from .scoring import ModelBatchScorer

__all__ = [
    "DECISION_NAMES",
    "KEPT_DECISIONS",
    "PAPER_DEFAULTS",
    "BatchInfo",
    "BatchScorer",
    "BatchSelection",
    "CostLedger",
    "DBPDPolicy",
    "Decision",
    "ERTSPolicy",
    "FullPolicy",
    "ModelBatchScorer",
    "SMRDPolicy",
    "SRDPolicy",
    "SelectionLog",
    "SelectionPolicy",
    "dbpd_candidates",
    "erts_filter",
    "list_policies",
    "make_policy",
    "paper_policy",
    "smrd_pick",
    "srd_count",
]
