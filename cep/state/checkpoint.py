"""The checkpoint record (`cep.checkpoint`, version 1): what a checkpoint holds, and its encoding.

A checkpoint is partitioned by source partition ``(topic, partition)`` so that a partition's
state can move to another process on a rebalance: each :class:`PartitionState` holds that
partition's operator state (a ``Detector.snapshot()``), the offset to resume reading from and
the partition's watermark. Global fields say which patterns wrote it (a fingerprint, so a
checkpoint is never restored into other patterns), when (from an injected clock), and how long
each exactly-once output file was at that moment.

The encoding is store-independent: :meth:`Checkpoint.to_bytes` / :meth:`Checkpoint.from_bytes`
give the JSON payload that a :class:`~cep.state.store.CheckpointStore` frames and keeps.
``docs/checkpoints.md`` documents every field. Output files are cut back to their recorded length
by :func:`truncate_output` on recovery.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import orjson

from cep.errors import SnapshotError, StateError

__all__ = [
    "FORMAT",
    "VERSION",
    "Checkpoint",
    "CheckpointId",
    "PartitionState",
    "SourcePartition",
    "fingerprint",
    "output_length",
    "truncate_output",
]

FORMAT = "cep.checkpoint"
VERSION = 1

SourcePartition = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True, slots=True, order=True)
class CheckpointId:
    """Where a checkpoint sits in its store: ordered by ``seq``, then ``writer`` (ties only
    happen when two processes save into one store at the same moment)."""

    seq: int
    writer: str

    def __str__(self) -> str:
        return f"{self.seq:012d}-{self.writer}"


@dataclass(frozen=True, slots=True)
class PartitionState:
    """One source partition at the checkpoint.

    ``offset`` is the next offset to read (the Kafka convention for committed offsets): every
    record before it is reflected in ``state``, none after. ``watermark`` is the partition's
    own watermark in epoch ms (None before its first event). ``state`` is any JSON value; the
    engine stores the partition's ``Detector.snapshot()`` there.
    """

    topic: str
    partition: int
    offset: int
    watermark: int | None
    state: Any

    @property
    def source(self) -> SourcePartition:
        return (self.topic, self.partition)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A consistent cut of a detector's state; see the module docstring.

    ``outputs`` maps an output file's path to its length in bytes at the checkpoint. ``id`` is
    filled in by the store a checkpoint was loaded from and is not part of equality.
    Instances are meant to be immutable: do not mutate the dicts they hold.
    """

    fingerprint: str
    created_at: int  # epoch ms, from the engine's injected clock
    partitions: tuple[PartitionState, ...] = ()
    outputs: Mapping[str, int] = field(default_factory=dict)
    id: CheckpointId | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        seen = [p.source for p in self.partitions]
        if len(set(seen)) != len(seen):
            raise SnapshotError(f"checkpoint lists a source partition twice: {sorted(seen)}")

    @property
    def sources(self) -> tuple[SourcePartition, ...]:
        return tuple(p.source for p in self.partitions)

    def partition(self, topic: str, partition: int) -> PartitionState | None:
        for p in self.partitions:
            if p.topic == topic and p.partition == partition:
                return p
        return None

    def require_fingerprint(self, expected: str) -> None:
        """Refuse a checkpoint written for other patterns."""
        if self.fingerprint != expected:
            where = f"checkpoint {self.id}" if self.id is not None else "the checkpoint"
            raise SnapshotError(
                f"{where} was written for other patterns (fingerprint {self.fingerprint}, "
                f"these patterns have {expected}); run with the pattern files it was written with, "
                "or start from scratch with another checkpoint directory"
            )

    # -- encoding ----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "fingerprint": self.fingerprint,
            "created_at": self.created_at,
            "partitions": [
                {"topic": p.topic, "partition": p.partition, "offset": p.offset,
                 "watermark": p.watermark, "state": p.state}
                for p in self.partitions
            ],
            "outputs": dict(self.outputs),
        }

    def to_bytes(self) -> bytes:
        try:
            return orjson.dumps(self.to_dict())
        except (TypeError, orjson.JSONEncodeError) as exc:
            culprit = next((p.source for p in self.partitions if not _encodes(p.state)), None)
            where = f" in the state of {culprit[0]}[{culprit[1]}]" if culprit else ""
            raise SnapshotError(f"checkpoint cannot be written as JSON{where}: {exc}") from exc

    @classmethod
    def from_dict(cls, data: Any, id: CheckpointId | None = None) -> "Checkpoint":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise SnapshotError(f"not a checkpoint (expected format {FORMAT!r})")
        if data.get("version") != VERSION:
            raise SnapshotError(
                f"checkpoint version {data.get('version')!r} is not supported (this cep reads version "
                f"{VERSION}); use the cep release that wrote it, or start from scratch"
            )
        try:
            parts = tuple(
                PartitionState(_str(p["topic"]), _int(p["partition"]), _int(p["offset"]),
                               None if p["watermark"] is None else _int(p["watermark"]), p["state"])
                for p in data["partitions"]
            )
            outputs = {_str(path): _int(length) for path, length in data["outputs"].items()}
            return cls(_str(data["fingerprint"]), _int(data["created_at"]), parts, outputs, id)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise SnapshotError(f"malformed checkpoint: {exc!r}") from exc

    @classmethod
    def from_bytes(cls, payload: bytes, id: CheckpointId | None = None) -> "Checkpoint":
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise SnapshotError(f"checkpoint is not valid JSON: {exc}") from exc
        return cls.from_dict(data, id)


def _encodes(value: Any) -> bool:
    try:
        orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return False
    return True


def _int(value: Any) -> int:
    if value.__class__ is not int:
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _str(value: Any) -> str:
    if value.__class__ is not str:
        raise ValueError(f"expected a string, got {value!r}")
    return value


# -- fingerprints ----------------------------------------------------------------------------------


def fingerprint(texts: Iterable[str]) -> str:
    """A fingerprint of a set of pattern texts: order does not matter, every character does."""
    digest = hashlib.sha256()
    for text in sorted(texts):
        data = text.encode()
        digest.update(len(data).to_bytes(8, "big") + data)
    return "sha256:" + digest.hexdigest()


# -- exactly-once file outputs ---------------------------------------------------------------------


def output_length(file: Any) -> int:
    """Flush and fsync an open output file and return its length: the value to record in
    ``Checkpoint.outputs``. It must be durable before the checkpoint is, or a crash could leave
    the file shorter than its checkpoint says."""
    file.flush()
    os.fsync(file.fileno())
    return os.fstat(file.fileno()).st_size


def truncate_output(path: str | os.PathLike[str], length: int) -> int:
    """Cut an output file back to ``length`` bytes, its length at the checkpoint being restored;
    returns how many bytes were cut. Whatever lies beyond was written after the checkpoint and
    will be written again by the replay from the checkpoint's offsets.

    A file shorter than ``length`` (or missing, unless ``length`` is 0) is refused with
    :class:`StateError`: something other than this detector changed it.
    """
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        if length == 0:
            return 0
        raise StateError(
            f"output file {os.fspath(path)} is missing, but the checkpoint recorded {length} bytes; "
            "it was moved or deleted: restore it, or start from scratch with another checkpoint directory"
        ) from None
    if size < length:
        raise StateError(
            f"output file {os.fspath(path)} has {size} bytes, fewer than the {length} recorded in the "
            "checkpoint: something else changed it, so it cannot be made exactly-once; restore it "
            "or start from scratch with another checkpoint directory"
        )
    if size > length:
        with open(path, "r+b") as f:
            f.truncate(length)
            f.flush()
            os.fsync(f.fileno())
    return size - length
