"""Operator state that outlives a single event: timers (and, later, checkpoints)."""

from cep.state.timers import TimerService

__all__ = ["TimerService"]
