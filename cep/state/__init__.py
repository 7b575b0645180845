"""Operator state that outlives a single event: timers and checkpoints."""

from cep.state.checkpoint import (
    Checkpoint,
    CheckpointId,
    PartitionState,
    fingerprint,
    truncate_output,
)
from cep.state.store import CheckpointStore, DirectoryStore
from cep.state.timers import TimerService

__all__ = [
    "Checkpoint",
    "CheckpointId",
    "CheckpointStore",
    "DirectoryStore",
    "PartitionState",
    "TimerService",
    "fingerprint",
    "truncate_output",
]
