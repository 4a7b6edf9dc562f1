"""Online-learning models of the monitor, on river; all pure (no I/O).

`ModelHub` (``models.hub``) is the one object the worker needs; the modules
beside it hold one estimator family each: early-warning PD (``pd``), delayed
labels (``labels``), account anomaly (``anomaly``), drift (``drift``), note
intent (``intent``), feature vectors (``features``) and progressive metrics
(``metrics``). See docs/models.md.
"""

from __future__ import annotations

from models.anomaly import AccountAnomaly
from models.drift import Drift, DriftMonitor
from models.exceptions import CheckpointError, ModelError, UnknownModelError
from models.features import (
    ANOMALY_FEATURES,
    NO_BEHAVIOUR,
    PD_FEATURES,
    NoBehaviour,
    pd_features,
    transaction_features,
)
from models.hub import HubConfig, ModelHub, Scores
from models.intent import INTENTS, Intent, IntentClassifier, promise_date
from models.labels import PendingLabels
from models.metrics import ProgressiveMetrics
from models.pd import CANDIDATES, EarlyWarning, PlattScaling, Reason

__all__ = [
    "ANOMALY_FEATURES",
    "CANDIDATES",
    "INTENTS",
    "NO_BEHAVIOUR",
    "PD_FEATURES",
    "AccountAnomaly",
    "CheckpointError",
    "Drift",
    "DriftMonitor",
    "EarlyWarning",
    "HubConfig",
    "Intent",
    "IntentClassifier",
    "ModelError",
    "ModelHub",
    "NoBehaviour",
    "PendingLabels",
    "PlattScaling",
    "ProgressiveMetrics",
    "Reason",
    "Scores",
    "UnknownModelError",
    "pd_features",
    "promise_date",
    "transaction_features",
]
