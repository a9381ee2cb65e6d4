"""Writes for scoring: rescoring accounts (set-based, chunked, idempotent; ``scoring.rescore``), the configuration
version and the default engagement rules (``scoring.scorecard``). Other apps, tasks, commands and the admin call
these."""

from __future__ import annotations

from .rescore.pipeline import (
    CHUNK_SIZE,
    RescoreStats,
    accounts_rescore,
    accounts_rescore_all,
    accounts_rescore_marked,
    score_history_backfill,
)
from .rescore.write import contacts_last_seen_from_scores
from .scorecard import config_version_bump, engagement_rules_ensure, rescore_all_after_commit, scoring_defaults_ensure

__all__ = [
    "CHUNK_SIZE",
    "RescoreStats",
    "accounts_rescore",
    "accounts_rescore_all",
    "accounts_rescore_marked",
    "config_version_bump",
    "contacts_last_seen_from_scores",
    "engagement_rules_ensure",
    "rescore_all_after_commit",
    "score_history_backfill",
    "scoring_defaults_ensure",
]
