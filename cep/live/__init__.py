"""Live detection: the engine behind ``cep run``, independent of any particular broker client.

:class:`~cep.live.engine.LiveEngine` keeps one :class:`~cep.detector.Detector` per source
partition, turns records into events (dead-lettering what cannot be used), gives every alert a
deterministic match id, moves watermarks when input is idle, and takes checkpoints in the order
``docs/checkpoints.md`` prescribes. ``cep/cli/run.py`` wires it to Kafka.
"""

from cep.live.engine import PROVENANCE_KEY, Alert, LiveEngine, match_id

__all__ = ["PROVENANCE_KEY", "Alert", "LiveEngine", "match_id"]
