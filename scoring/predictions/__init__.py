"""Predictive scores in the database: the learning itself is in ``scoring.ml`` (no Django); this package only moves
data between the database and it, with a fixed number of set-based queries per call.

- ``history``: a history read into ``scoring.ml``'s arrays, the live scorecard as plain data, movement counts.
- ``training``: training and storing model versions, activating and rolling back.
- ``proposals``: smart-signal proposals, confirmed into signal or engagement rules, or rejected.
- ``live``: the active models, and predicting for a chunk of accounts during every rescore (or as of a past moment).
- ``past``: probabilities as of a past date beside what happened after it (``manage.py predict --at``).

The names other modules use are importable from here. ``scoring.services`` imports this package only inside the
functions that predict (it keeps scikit-learn out of processes that do not).
"""

from .history import history_load, movement_counts, scorecard_spec
from .live import (
    PredictionChanges,
    PredictionContext,
    active_models,
    prediction_context_load,
    predictions_compute,
    predictions_read,
    predictions_refresh,
    predictions_write,
    probabilities_at,
)
from .past import PastProbabilities, account_probabilities_at
from .proposals import ProposalError, proposal_confirm, proposal_reject, proposals_refresh
from .training import ModelRefused, TrainReport, models_train, predictive_model_activate, predictive_model_rollback

__all__ = [
    "ModelRefused",
    "PastProbabilities",
    "PredictionChanges",
    "PredictionContext",
    "ProposalError",
    "TrainReport",
    "account_probabilities_at",
    "active_models",
    "history_load",
    "models_train",
    "movement_counts",
    "prediction_context_load",
    "predictions_compute",
    "predictions_read",
    "predictions_refresh",
    "predictions_write",
    "predictive_model_activate",
    "predictive_model_rollback",
    "probabilities_at",
    "proposal_confirm",
    "proposal_reject",
    "proposals_refresh",
    "scorecard_spec",
]
