"""Crash recovery under fire: ``cep run`` SIGKILLed again and again at random moments, on a log
of 24,000 transactions over 4 partitions, still gives exactly the alerts of ``cep replay``.

The scenario (the project's acceptance test for crash recovery), twice:

* **one detector**, killed with SIGKILL at five random moments (during start-up and the group
  join, on a checkpoint, between checkpoints) and restarted each time, with a piece more of the
  log loaded before each start, then left to finish;
* **two detectors in one group**, the topic fed while they run; one of them is killed four times
  at random moments: restarted after the first three, sometimes before the group noticed it was
  gone, sometimes after the survivor took its partitions over; after the fourth (mid-stream:
  the end of the log comes after it) the survivor finishes alone.

Each time the union of the output topic, de-duplicated by the ``cep-match-id`` header, equals
``cep replay`` of the same log (as multisets: nothing missing, nothing invented), every
unusable record is on the dead-letter topic and every late event on the late topic. The
``--output`` files are exactly-once, without de-duplication: the single file of the one
detector, and the per-partition files (``--output 'out/alerts-{topic}-{partition}.jsonl'``) of
the two, each of which only holds its own partition's alerts.

How it stays deterministic and bounded:

* the moments are drawn from a seeded ``random.Random``; a moment is either a time after the
  start or a point in the *checkpointed progress* (read from the shared checkpoint directory,
  as a supervisor could) plus a random delay, so kills land both on and between checkpoints
  whatever the speed of the machine;
* the log is ``generated_log`` (conftest): its late events are late within their own card, so
  per-partition watermarks make the same late events as replay's single one;
* the live run never ends time by itself (no ``finish()``). The one detector ends as a user
  would end it, with ``--idle-advance``: once the input is quiet, the watermarks follow the
  wall clock, far past the (2024) log, and the last pending matches come out; it is done when
  every partition's checkpoint shows that. The two detectors, whose input pauses while it is
  fed, cannot use it (a pause would make the rest of the log late): one sentinel record per
  partition, far in the future and matching nothing, releases their last pending events, and
  they are done when every partition is checkpointed past its sentinel. Either way, every
  alert is delivered before the checkpoint that shows it is done.
"""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cep.connectors.kafka import ConsumedRecord, ProducerRecord, make_producer, produce_records
from cep.errors import SnapshotError
from cep.state.checkpoint import PartitionState
from cep.state.store import DirectoryStore
from tests.kafka.conftest import PATTERN, GeneratedLog, read_to_ends, read_whole_topic
from tests.kafka.test_run import multiset, produce_log

pytestmark = pytest.mark.kafka

PARTITIONS = 4
SENTINEL = b'{"card_id": "end-%d", "amount": 100, "ts": "2030-01-01T00:00:00Z"}'


def garbage(piece: int) -> list[ProducerRecord]:
    """Unusable records for every partition, different for each piece of the log."""
    kinds = [b"not json %d" % piece, bytes([0xFF, 0x00, piece]), b'{"card_id": "c0001", "amount": %d}' % piece,
             b"[%d, 2, 3]" % piece]
    return [ProducerRecord(kinds[p % len(kinds)], partition=p) for p in range(PARTITIONS)]


def pieces(log: Path, count: int, into: Path) -> list[Path]:
    """``log`` cut into ``count`` consecutive files, for ``cep produce`` one at a time."""
    lines = log.read_bytes().splitlines(keepends=True)
    size = -(-len(lines) // count)
    paths = []
    for index in range(count):
        path = into / f"piece-{index}.jsonl"
        path.write_bytes(b"".join(lines[index * size:(index + 1) * size]))
        paths.append(path)
    return paths


class Loader:
    """Loads a log into the source topic in ``count`` pieces with ``cep produce --pattern``, each
    piece after unusable records on every partition; after the last piece, with ``sentinels``,
    a sentinel per partition."""

    def __init__(self, bootstrap: str, source: str, log: Path, into: Path, count: int, sentinels: bool) -> None:
        self.bootstrap, self.source = bootstrap, source
        self.pieces = pieces(log, count, into)
        self.sentinels = sentinels
        self.loaded = 0
        self.producer = make_producer(bootstrap, {"enable.idempotence": False})

    def next(self) -> bool:
        """Load the next piece; False once the last one (and the sentinels) are loaded."""
        assert produce_records(self.producer, self.source, garbage(self.loaded)).failed == 0
        produce_log(self.bootstrap, self.source, self.pieces[self.loaded])
        self.loaded += 1
        if self.loaded < len(self.pieces):
            return True
        if self.sentinels:
            sentinels = [ProducerRecord(SENTINEL % p, partition=p) for p in range(PARTITIONS)]
            assert produce_records(self.producer, self.source, sentinels).failed == 0
        return False


@dataclass(frozen=True)
class Loaded:
    """What the source topic holds: where each partition ends, and the unusable records."""

    ends: dict[int, int]  # partition -> offset after its sentinel
    unusable: dict[tuple[int, int], bytes]  # (partition, offset) -> value
    cards: dict[int, set[str]]  # partition -> the cards of its records

    @classmethod
    def read(cls, bootstrap: str, loader: Loader) -> Loaded:
        """The topic ``loader`` wrote, read to its sentinels; or to its end, without sentinels
        (which adds end markers to the topic: only once no run reads it any more)."""
        if loader.sentinels:
            sentinels = {SENTINEL % p for p in range(PARTITIONS)}
            records = read_to_ends(bootstrap, loader.source, lambda r: r.value in sentinels)
        else:
            records = read_whole_topic(bootstrap, loader.source)
        bad = {r.value for index in range(len(loader.pieces)) for r in garbage(index)}
        ends = {p: 1 + max(r.offset for r in records if r.partition == p) for p in range(PARTITIONS)}
        cards: dict[int, set[str]] = collections.defaultdict(set)
        for r in records:
            if r.key is not None:
                cards[r.partition].add(json.loads(r.key))
        return cls(ends, {(r.partition, r.offset): r.value for r in records if r.value in bad}, dict(cards))

    @property
    def records(self) -> int:
        return sum(self.ends.values())


class Progress:
    """The checkpointed offset of each partition, read from the shared checkpoint directory (as a
    supervisor could) without disturbing the runs writing it."""

    def __init__(self, path: Path, source: str) -> None:
        self.store = DirectoryStore(path, on_warning=lambda message: None)  # files pruned while read
        self.source = source

    def partitions(self) -> dict[int, PartitionState]:
        """The newest checkpointed state of each partition that has one."""
        found = {}
        for p in range(PARTITIONS):
            try:
                checkpoint = self.store.latest((self.source, p))
            except SnapshotError:  # pruned while read: the next look sees a newer one
                continue
            if checkpoint is not None:
                found[p] = checkpoint.partition(self.source, p)
        return found

    def offsets(self) -> dict[int, int]:
        return {p: state.offset for p, state in self.partitions().items()}

    def total(self) -> int:
        return sum(self.offsets().values())

    def done(self, ends: dict[int, int]) -> bool:
        return self.offsets() == ends

    def on_the_clock(self) -> bool:
        """Whether ``--idle-advance`` moved every partition's checkpointed watermark to the wall
        clock, far past the log's 2024 (so every match is out)."""
        states = self.partitions().values()
        return len(states) == PARTITIONS and all((s.watermark or 0) > time.time() * 1000 - 3_600_000 for s in states)

    def pids(self) -> set[int]:
        """The processes whose checkpoints are in the directory (writer names end in the pid)."""
        return {int(id.writer.rsplit("-", 1)[1]) for id in self.store.list()}


class Runs:
    """The ``cep run`` processes of one scenario: one group, one checkpoint directory, each
    process with its own stderr file and its own checkpoint interval and batch size (drawn from
    ``rng``: a checkpoint after every batch, every 50 ms or every 250 ms)."""

    def __init__(self, bootstrap: str, config: str, source: str, topics: dict[str, str], workdir: Path,
                 rng: random.Random) -> None:
        self.command = [sys.executable, "-m", "cep.cli.run", str(PATTERN), "-b", bootstrap, "--input", source,
                        "--output-topic", topics["output"], "--dead-letter-topic", topics["dead"],
                        "--late-topic", topics["late"], "--kafka-config", config,
                        "--checkpoint-dir", str(workdir / "ckpt"), "--group", f"g-{source}"]
        self.workdir = workdir
        self.rng = rng
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        tuning = ["--checkpoint-interval", self.rng.choice(["0", "50ms", "250ms"]),
                  "--batch-size", self.rng.choice(["50", "100"])]
        with open(self.workdir / f"run-{len(self.started)}.err", "wb") as err:
            process = subprocess.Popen([*self.command, *tuning], stdout=subprocess.DEVNULL, stderr=err)
        self.started.append(process)
        return process

    def stderr(self, process: subprocess.Popen[bytes]) -> str:
        return (self.workdir / f"run-{self.started.index(process)}.err").read_text()

    def check_alive(self, *processes: subprocess.Popen[bytes]) -> None:
        for process in processes:
            assert process.poll() is None, f"cep run stopped ({process.returncode}): {self.stderr(process)}"

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        self.check_alive(process)
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL

    def stop(self, process: subprocess.Popen[bytes]) -> str:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        text = self.stderr(process)
        assert process.returncode == 0, text
        return text

    def cleanup(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait()


def wait_until(condition: Callable[[], bool], timeout: float, what: str, step: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(step)


def kill_at_a_random_moment(runs: Runs, process: subprocess.Popen[bytes], progress: Progress | None = None,
                            scale: int = 0) -> str:
    """SIGKILL ``process`` at a moment drawn from ``runs.rng``; returns it, for failure messages.

    Without ``progress``, and for a third of the moments with it, the moment is a time after the
    start (start-up, group join, first batches). Otherwise it comes when the checkpointed
    progress has grown by 2-10 % of ``scale`` records since the start, plus a random delay of up
    to 0.1 s (on a checkpoint, during a save, or between two), or 3 s after the start if the
    input runs out first."""
    rng = runs.rng
    started = time.monotonic()
    if progress is None or rng.random() < 1 / 3:
        delay = rng.uniform(0.3, 2.2)
        time.sleep(delay)
        moment = f"{delay:.2f} s after the start"
    else:
        target = progress.total() + int(scale * rng.uniform(0.02, 0.1))
        delay = rng.uniform(0, 0.1)

        def reached() -> bool:
            runs.check_alive(process)
            return progress.total() >= target or time.monotonic() > started + 3

        wait_until(reached, 10, f"checkpointed progress to {target}")
        time.sleep(delay)
        moment = f"{delay:.2f} s after checkpointed progress reached {target} or 3 s"
    runs.kill(process)
    return f"{moment} (checkpointed: {progress.total() if progress else '?'})"


def finish(runs: Runs, done: Callable[[], bool], *processes: subprocess.Popen[bytes]) -> None:
    """Wait until ``done()`` (judged from the checkpoints: every alert is delivered), then stop
    ``processes`` with SIGTERM, one after the other."""

    def finished() -> bool:
        runs.check_alive(*processes)
        return done()

    wait_until(finished, 60, "catching up", 0.1)
    for process in processes:
        runs.stop(process)


def records_read(summary: str) -> int:
    """The record count in the summary ``cep run`` prints when it stops."""
    return int(summary.split("records ")[1].split(" ")[0].replace(",", ""))


@dataclass(frozen=True)
class Outcome:
    alerts: list[ConsumedRecord]
    dead: list[ConsumedRecord]
    late: list[ConsumedRecord]

    @classmethod
    def read(cls, bootstrap: str, topics: dict[str, str]) -> Outcome:
        return cls(*(read_whole_topic(bootstrap, topics[name]) for name in ("output", "dead", "late")))

    def check(self, log: GeneratedLog, loaded: Loaded, source: str) -> None:
        """The union of the output, de-duplicated by match id, is replay's alerts; the dead
        letters are the unusable records, the late records replay's late events (each of them at
        least once, since records emitted after the last checkpoint of a killed run come again)."""
        by_id: dict[bytes, set[bytes]] = collections.defaultdict(set)
        for record in self.alerts:
            by_id[dict(record.headers)["cep-match-id"]].add(record.value)
        assert all(len(values) == 1 for values in by_id.values()), "one match id, two different alerts"
        assert multiset([json.loads(min(values)) for values in by_id.values()]) == multiset(log.alerts)

        letters = {(d["partition"], d["offset"]): d for d in (json.loads(r.value) for r in self.dead)}
        assert set(letters) == set(loaded.unusable)
        for position, letter in letters.items():
            assert letter["topic"] == source and letter["reason"]
            assert letter["raw"] == loaded.unusable[position].decode("utf-8", "replace")

        late = {json.dumps(json.loads(r.value), sort_keys=True) for r in self.late}
        assert late == set(multiset(log.late)) and len(late) == len(log.late)


@pytest.fixture
def topics(topic: Callable[..., str]) -> dict[str, str]:
    return {"source": topic(PARTITIONS), "output": topic(PARTITIONS), "dead": topic(1), "late": topic(1)}


@pytest.fixture
def runs(bootstrap: str, kafka_config: str, topics: dict[str, str], tmp_path: Path,
         request: pytest.FixtureRequest) -> Iterator[Runs]:
    """The runs of the test, with a random generator seeded by the test's name (and by
    ``$CEP_CHAOS_SEED``, to explore other moments: ``CEP_CHAOS_SEED=3 pytest ...``)."""
    seed = os.environ.get("CEP_CHAOS_SEED", "") + request.node.name
    runs = Runs(bootstrap, kafka_config, topics["source"], topics, tmp_path, random.Random(seed))
    try:
        yield runs
    finally:
        runs.cleanup()


def file_alerts(paths: list[Path]) -> list[dict]:
    return [json.loads(line) for path in paths for line in path.read_bytes().splitlines()]


def test_one_detector_killed_five_times_gives_replays_alerts(bootstrap, topics, runs, generated_log, tmp_path):
    """Ended as a user would end it: ``--idle-advance 5s`` moves the watermarks to the clock once
    the input is quiet. Every run but the last is killed within about 3 s of its start, so only
    the last one is ever quiet that long."""
    source = topics["source"]
    output = tmp_path / "alerts.jsonl"
    runs.command += ["--output", str(output), "--idle-advance", "5s"]
    progress = Progress(tmp_path / "ckpt", source)
    loader = Loader(bootstrap, source, generated_log.path, tmp_path, 6, sentinels=False)
    lines = len(generated_log.path.read_bytes().splitlines())
    moments = []
    while loader.next():  # a piece more before each start: the last run always has work left
        moments.append(kill_at_a_random_moment(runs, runs.start(), progress, lines))
    last = runs.start()
    finish(runs, progress.on_the_clock, last)
    loaded = Loaded.read(bootstrap, loader)
    assert progress.done(loaded.ends)
    resumed = records_read(runs.stderr(last))
    assert 0 < resumed < loaded.records, f"the last run should resume from the checkpoints; kills: {moments}"

    Outcome.read(bootstrap, topics).check(generated_log, loaded, source)
    assert multiset(file_alerts([output])) == multiset(generated_log.alerts)  # the file: exactly once


def test_two_detectors_one_killed_four_times_gives_replays_alerts(bootstrap, topics, runs, generated_log, tmp_path):
    """The victim is restarted after its first three deaths, sometimes before the group noticed
    it was gone, sometimes after the survivor took its partitions over; after the fourth the
    survivor finishes alone. Each partition's alerts also go to a file of its own, and these
    files are exactly-once: together they hold replay's alerts, without a duplicate."""
    source = topics["source"]
    runs.command += ["--output", str(tmp_path / "out" / "alerts-{topic}-{partition}.jsonl")]
    progress = Progress(tmp_path / "ckpt", source)
    loader = Loader(bootstrap, source, generated_log.path, tmp_path, 8, sentinels=True)
    last_kill = threading.Event()
    paced = random.Random(7)

    def feed() -> None:  # the last two pieces only after the last kill: that one is mid-stream too
        while loader.next():
            if loader.loaded == len(loader.pieces) - 2:
                last_kill.wait(60)
            time.sleep(paced.uniform(0.2, 0.6))

    feeder = threading.Thread(target=feed)
    survivor, victim = runs.start(), runs.start()
    feeder.start()
    try:
        def both_checkpointed() -> bool:
            runs.check_alive(survivor, victim)
            return {survivor.pid, victim.pid} <= progress.pids()

        wait_until(both_checkpointed, 30, "both detectors consuming", 0.05)
        for _ in range(3):
            kill_at_a_random_moment(runs, victim)
            time.sleep(runs.rng.uniform(0.0, 3.0))  # restarted before or after the group gives its partitions away
            victim = runs.start()
        kill_at_a_random_moment(runs, victim)
    finally:
        last_kill.set()
        feeder.join()
    loaded = Loaded.read(bootstrap, loader)
    finish(runs, lambda: progress.done(loaded.ends), survivor)

    Outcome.read(bootstrap, topics).check(generated_log, loaded, source)
    files = sorted((tmp_path / "out").iterdir())
    assert [f.name for f in files] == [f"alerts-{source}-{p}.jsonl" for p in range(PARTITIONS)]
    assert multiset(file_alerts(files)) == multiset(generated_log.alerts)  # exactly once, no de-duplication
    for partition, path in enumerate(files):  # each file holds the alerts of its partition's cards
        assert {a["card_id"] for a in file_alerts([path])} <= loaded.cards[partition]
