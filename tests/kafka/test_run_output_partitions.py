"""``cep run --output 'out/alerts-{topic}-{partition}.jsonl'``: one exactly-once file per source
partition, which follows its partition from process to process.

The end-to-end proof on the real broker (two detectors in one group, one SIGKILLed four times,
the survivor finishing; the files hold replay's alerts exactly once) is in test_run_chaos.py.
Here, quickly and without a broker unless said: the template's validation, the engine handing a
partition and its file from one process to another after a crash (also before the partition's
first checkpoint, which needs the file's *claim* to survive pruning), a revocation, the refusal
of a file no checkpoint accounts for, and the detection of a second writer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cep.cli.replay import UsageError
from cep.cli.run import output_template
from cep.connectors.kafka_source import LiveRecord
from cep.errors import StateError
from cep.lang.fingerprint import pattern_fingerprint
from cep.lang.load import load_files
from cep.live.engine import LiveEngine
from cep.live.outputs import AppendFile, OutputRefused, PartitionFiles, output_key
from cep.state.checkpoint import Checkpoint, PartitionState
from cep.state.store import DirectoryStore
from tests.kafka.conftest import PATTERN

PATTERNS = load_files([PATTERN])
FP = pattern_fingerprint(PATTERNS)


# -- the template ------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "topics", "expected"), [
    ("alerts.jsonl", ["tx"], False),
    ("out/{topic}/{partition}.jsonl", ["tx", "orders"], True),
    ("out/alerts-{partition:03d}.jsonl", ["tx"], True),
    ("out/{{literal}}-{topic}-{partition}.jsonl", ["tx"], True),
])
def test_a_template_names_each_partitions_file(path, topics, expected):
    assert output_template(path, topics, "ckpt") is expected


@pytest.mark.parametrize(("path", "topics", "checkpoints", "message"), [
    ("out/{topic}-{offset}.jsonl", ["tx"], "ckpt", "unknown placeholder {offset}; the file name may use {topic} and"),
    ("out/{}.jsonl", ["tx"], "ckpt", "unknown placeholder {}"),
    ("out/{partition.real}.jsonl", ["tx"], "ckpt", "unknown placeholder {partition.real}"),
    ("out/{topic.jsonl", ["tx"], "ckpt", "write {{ and }} for literal braces"),
    ("out/{topic}.jsonl", ["tx"], "ckpt", "{topic} needs {partition} too"),
    ("out/{partition}.jsonl", ["tx", "orders"], "ckpt", "2 input topics share partition numbers; put {topic}"),
    ("out/{topic}-{partition}.jsonl", ["tx"], None, "needs --checkpoint-dir"),
])
def test_templates_that_cannot_work_are_refused(path, topics, checkpoints, message):
    with pytest.raises(UsageError) as refused:
        output_template(path, topics, checkpoints)
    assert message in str(refused.value) and path in str(refused.value)


def test_an_unknown_placeholder_exits_2_before_kafka_is_asked(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cep.cli.run", str(PATTERN), "-b", "127.0.0.1:9", "--input", "tx",
         "--output", str(tmp_path / "{topic}-{key}.jsonl"), "--checkpoint-dir", str(tmp_path / "ckpt")],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2, result.stderr
    assert "unknown placeholder {key}" in result.stderr
    assert not (tmp_path / "ckpt").exists()


# -- the engine and the files, without a broker -----------------------------------------------


def tx(partition: int, offset: int, card: str, amount: float, second: int) -> LiveRecord:
    value = {"card_id": card, "amount": amount, "ts": f"2024-01-01T00:{second // 60:02d}:{second % 60:02d}Z"}
    return LiveRecord("tx", partition, offset, json.dumps(card).encode(), json.dumps(value).encode())


def pairs(partition: int, start: int, count: int) -> list[LiveRecord]:
    """``count`` small-then-big pairs on cards of ``partition``, 20 s apart, from ``offset``
    ``start``; each pair's alert comes out with the next pair (its first event moves the
    watermark past the pair)."""
    records = []
    for index in range(count):
        at, offset = (start // 2 + index) * 20, start + 2 * index
        card = f"p{partition}-{start // 2 + index}"
        records += [tx(partition, offset, card, 0.05, at), tx(partition, offset + 1, card, 900, at + 2)]
    return records


class Process:
    """One ``cep run`` process, as far as the files go: an engine writing per-partition files."""

    def __init__(self, workdir: Path, writer: str, keep: int = 2) -> None:
        self.store = DirectoryStore(workdir / "ckpt", keep, writer=writer, fingerprint=FP)
        self.notes: list[str] = []
        self.files = PartitionFiles(str(workdir / "out" / "alerts-{topic}-{partition}.jsonl"), self.store, FP,
                                    self.notes.append)
        self.engine = LiveEngine(
            PATTERNS, {"tx": "transactions"},
            on_alert=lambda alert: self.files.write(alert.source, alert.value),
            on_dead_letter=lambda record, value: None, on_late=lambda record: None,
            flush=self.files.flush, commit=lambda offsets: None,
            store=self.store, fingerprint=FP, outputs=self.files,
        )

    def feed(self, records: list[LiveRecord]) -> None:
        """A batch, its lines handed to the OS as after every batch of ``cep run``."""
        self.engine.process(records)
        self.files.flush()


def cards(path: Path) -> list[str]:
    return [json.loads(line)["card_id"] for line in path.read_bytes().splitlines()]


def test_a_partitions_file_follows_it_to_the_next_owner_after_crashes(tmp_path):
    out = tmp_path / "out" / "alerts-tx-0.jsonl"
    first = Process(tmp_path, "a")
    first.engine.assign([("tx", 0)])  # no checkpoint: the empty file is claimed
    assert out.read_bytes() == b""
    first.feed(pairs(0, 0, 3))
    assert cards(out) == ["p0-0", "p0-1"]
    # Dies before the partition's first checkpoint. Meanwhile another process checkpoints
    # other partitions, more often than the store keeps checkpoints: the claim must stay.
    other = DirectoryStore(tmp_path / "ckpt", 2, writer="x", fingerprint=FP)
    for offset in range(5):
        other.save(Checkpoint(FP, offset, (PartitionState("tx", 1, offset, None, None),)))

    second = Process(tmp_path, "b")
    second.engine.assign([("tx", 0)])  # no checkpoint holds it; the claim says: from 0
    assert out.read_bytes() == b""
    second.feed(pairs(0, 0, 3))
    assert second.engine.checkpoint()
    second.feed(pairs(0, 6, 2))  # written, then lost with the process
    assert cards(out) == ["p0-0", "p0-1", "p0-2", "p0-3"]

    third = Process(tmp_path, "c")
    third.engine.assign([("tx", 0)])  # from the second's checkpoint: cut back to its two lines
    assert cards(out) == ["p0-0", "p0-1"] and any("cut" in note for note in third.notes)
    third.feed(pairs(0, 6, 3))
    assert third.engine.checkpoint()
    assert cards(out) == ["p0-0", "p0-1", "p0-2", "p0-3", "p0-4"]  # once each


def test_a_revoked_partitions_file_is_handed_over_complete(tmp_path):
    first, second = Process(tmp_path, "a"), Process(tmp_path, "b")
    first.engine.assign([("tx", 0), ("tx", 1)])
    first.feed(pairs(0, 0, 2) + pairs(1, 0, 2))
    first.engine.revoke([("tx", 1)])  # checkpointed, then given up
    second.engine.assign([("tx", 1)])
    second.feed(pairs(1, 4, 2))
    first.feed(pairs(0, 4, 2))
    assert cards(tmp_path / "out" / "alerts-tx-0.jsonl") == ["p0-0", "p0-1", "p0-2"]
    assert cards(tmp_path / "out" / "alerts-tx-1.jsonl") == ["p1-0", "p1-1", "p1-2"]


def test_a_file_no_checkpoint_accounts_for_is_refused(tmp_path):
    out = tmp_path / "out" / "alerts-tx-2.jsonl"
    out.parent.mkdir()
    out.write_bytes(b'{"old": "alert"}\n')
    process = Process(tmp_path, "a")
    with pytest.raises(OutputRefused, match="already holds 17 bytes, and no checkpoint records it"):
        process.engine.assign([("tx", 2)])
    assert out.read_bytes() == b'{"old": "alert"}\n'


def test_a_second_writer_of_a_file_is_detected_before_lines_interleave(tmp_path):
    path = str(tmp_path / "alerts.jsonl")
    mine, theirs = AppendFile(path, "who else"), AppendFile(path, "who else")
    theirs.write(b'{"a": 1}')
    theirs.flush()
    mine.write(b'{"b": 2}')
    with pytest.raises(StateError, match="has 9 bytes where this process left 0: who else"):
        mine.flush()
    with pytest.raises(StateError):
        mine.length()
    assert Path(path).read_bytes() == b'{"a": 1}\n'


def test_latest_by_output_reads_headers_written_before_they_listed_outputs(tmp_path):
    store = DirectoryStore(tmp_path, 3)
    key = output_key(str(tmp_path / "a.jsonl"))
    id = store.save(Checkpoint(FP, 1, (), {key: 7}))
    store.save(Checkpoint(FP, 2, (PartitionState("tx", 0, 5, None, None),)))
    path = tmp_path / f"{id}.ckpt"
    header, payload = path.read_bytes().split(b"\n", 1)
    old = json.loads(header)
    del old["outputs"]
    path.write_bytes(json.dumps(old).encode() + b"\n" + payload)

    assert store.latest(output=key).outputs == {key: 7}
    assert store.latest(output=output_key(str(tmp_path / "b.jsonl"))) is None
    assert store.latest(("tx", 0), output=key) is None


@pytest.mark.kafka
def test_a_run_refuses_a_partitions_old_file_when_the_partition_is_assigned(bootstrap, topic, kafka_config,
                                                                            tmp_path):
    source = topic(2)
    old = tmp_path / f"alerts-{source}-1.jsonl"
    old.write_bytes(b'{"old": "alert"}\n')
    result = subprocess.run(
        [sys.executable, "-m", "cep.cli.run", str(PATTERN), "-b", bootstrap, "--input", source,
         "--output", str(tmp_path / "alerts-{topic}-{partition}.jsonl"), "--checkpoint-dir", str(tmp_path / "ckpt"),
         "--kafka-config", kafka_config],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2, result.stderr
    assert f"--output {old} already holds 17 bytes" in result.stderr and "move or delete it" in result.stderr
    assert old.read_bytes() == b'{"old": "alert"}\n'
