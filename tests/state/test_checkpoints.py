import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cep
from cep.lang.fingerprint import pattern_fingerprint
from cep.detector import Detector
from cep.errors import SnapshotError, StateError
from cep.state.checkpoint import (
    Checkpoint,
    CheckpointId,
    PartitionState,
    fingerprint,
    truncate_output,
)
from cep.state.store import DirectoryStore

HELPER = Path(__file__).with_name("crash_checkpoint.py")
REPO = Path(__file__).resolve().parents[2]
FP = "sha256:test"


def checkpoint(label, partitions=(0, 1), outputs=None, fp=FP):
    parts = tuple(PartitionState("tx", p, 100 * label + p, 10 * label, {"label": label, "p": p}) for p in partitions)
    return Checkpoint(fp, created_at=1_704_067_200_000 + label, partitions=parts, outputs=outputs or {})


@pytest.fixture
def make_store(tmp_path):
    def make(**kwargs):
        kwargs.setdefault("fingerprint", FP)
        return DirectoryStore(tmp_path / "ckpt", **kwargs)

    return make


def write_raw(store, seq, payload, **header):
    """A checkpoint file with a valid checksum around any payload."""
    data = orjson.dumps(payload)
    head = {"format": "cep.checkpoint-file", "version": 1, "seq": seq, "writer": store.writer,
            "sources": [["tx", 0]], "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), **header}
    (store.path / f"{seq:012d}-{store.writer}.ckpt").write_bytes(orjson.dumps(head) + b"\n" + data)


# -- round trip, listing, pruning ------------------------------------------------------------------


def test_round_trip(make_store):
    store = make_store()
    assert store.latest() is None and store.list() == []
    saved = checkpoint(1, outputs={"alerts.jsonl": 1234})
    id = store.save(saved)
    assert id == CheckpointId(1, "0") and str(id) == "000000000001-0"
    assert (store.path / "000000000001-0.ckpt").exists()
    loaded = make_store().load(id)
    assert loaded == saved and loaded.id == id
    assert loaded.partition("tx", 1).state == {"label": 1, "p": 1}
    assert loaded.partition("tx", 7) is None
    assert make_store().latest() == saved
    assert loaded.to_dict()["format"] == "cep.checkpoint" and loaded.to_dict()["version"] == 1


def test_names_sort_by_sequence_and_continue_after_restart(make_store):
    store = make_store(keep=20)
    for label in range(1, 12):
        store.save(checkpoint(label))
    assert [i.seq for i in make_store().list()] == list(range(1, 12))
    assert make_store().save(checkpoint(12)).seq == 12
    assert make_store().latest().created_at == checkpoint(12).created_at


def test_keep_prunes_the_oldest(make_store):
    store = make_store(keep=2)
    for label in range(1, 5):
        store.save(checkpoint(label))
    assert [i.seq for i in store.list()] == [3, 4]
    assert store.prune(1) == [CheckpointId(3, "0")]
    assert store.latest() == checkpoint(4)
    with pytest.raises(ValueError):
        store.prune(0)
    with pytest.raises(ValueError):
        make_store(keep=0)


def test_prune_keeps_the_last_checkpoints_of_every_partition(make_store):
    a = make_store(keep=2, writer="a")
    b = make_store(keep=2, writer="b")
    a.save(checkpoint(1, partitions=(0, 1, 2)))
    a.save(checkpoint(2, partitions=(0, 1, 2)))
    for label in range(3, 8):  # partition 2 moved to b; a keeps 0 and 1
        (a if label % 2 else b).save(checkpoint(label, partitions=(0, 1) if label % 2 else (2,)))
    assert a.latest(("tx", 2)) == checkpoint(6, partitions=(2,))
    assert a.latest(("tx", 0)) == checkpoint(7, partitions=(0, 1))
    assert a.latest() == checkpoint(7, partitions=(0, 1))
    assert a.latest(("tx", 9)) is None
    for label in range(8, 12):  # only a writes now, and never partition 2
        a.save(checkpoint(label, partitions=(0, 1)))
    assert a.latest(("tx", 2)) == checkpoint(6, partitions=(2,))
    assert [i.seq for i in a.list()] == [4, 6, 10, 11]


# -- recovery --------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "header"])
def test_damaged_newest_falls_back_to_the_previous(make_store, damage):
    warnings = []
    store = make_store(on_warning=warnings.append)
    store.save(checkpoint(1))
    id = store.save(checkpoint(2))
    path = store.path / f"{id}.ckpt"
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[:-10])
    elif damage == "flip":
        path.write_bytes(data[:-5] + bytes([data[-5] ^ 1]) + data[-4:])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(b"{garbage" + data[8:])
    assert store.latest() == checkpoint(1)
    assert store.latest(("tx", 0)) == checkpoint(1)
    assert warnings and str(id) in warnings[0]
    with pytest.raises(SnapshotError):
        store.load(id)


def test_all_damaged_recovers_nothing(make_store):
    warnings = []
    store = make_store(on_warning=warnings.append)
    id = store.save(checkpoint(1))
    (store.path / f"{id}.ckpt").write_bytes(b"x")
    assert store.latest() is None and len(warnings) == 1


def test_leftover_tmp_files_are_ignored_and_deleted(make_store):
    clock = [0]
    store = make_store(now=lambda: clock[0], stale_tmp_ms=60_000)
    store.save(checkpoint(1))
    (store.path / "000000000002-0.ckpt.tmp").write_bytes(b'{"format": "cep.checkpoint-file", "vers')
    (store.path / "000000000002-other.ckpt.tmp").write_bytes(b"in progress elsewhere")
    written = os.stat(store.path / "000000000002-other.ckpt.tmp").st_mtime_ns // 1_000_000
    clock[0] = written + 1_000
    assert store.list() == [CheckpointId(1, "0")]
    assert store.latest() == checkpoint(1)
    # Ours is gone; another writer's may be a save in progress, so it stays until it is stale.
    assert sorted(os.listdir(store.path)) == ["000000000001-0.ckpt", "000000000002-other.ckpt.tmp"]
    clock[0] = written + 60_001
    store.latest()
    assert sorted(os.listdir(store.path)) == ["000000000001-0.ckpt"]
    assert store.save(checkpoint(3)).seq == 2


# -- refusals --------------------------------------------------------------------------------------


def test_unknown_payload_format_or_version_is_refused(make_store):
    store = make_store()
    good = checkpoint(1).to_dict()
    write_raw(store, 1, {**good, "format": "cep.detector"})
    with pytest.raises(SnapshotError, match="not a checkpoint"):
        store.latest()
    write_raw(store, 2, {**good, "version": 2})
    with pytest.raises(SnapshotError, match="version 2 is not supported"):
        store.latest()
    with pytest.raises(SnapshotError, match="version 2"):
        Checkpoint.from_dict({**good, "version": 2})


def test_unknown_file_version_is_refused_not_skipped(make_store):
    store = make_store()
    store.save(checkpoint(1))
    write_raw(store, 2, checkpoint(2).to_dict(), version=9)
    with pytest.raises(SnapshotError, match="file version 9"):
        store.latest()


def test_malformed_payloads_are_snapshot_errors():
    good = checkpoint(1).to_dict()
    bad = [
        {**good, "created_at": "yesterday"},
        {**good, "partitions": [{"topic": "tx"}]},
        {**good, "partitions": [{**good["partitions"][0], "offset": 1.5}]},
        {**good, "partitions": [good["partitions"][0], good["partitions"][0]]},
        {**good, "outputs": {"a": None}},
        {k: v for k, v in good.items() if k != "fingerprint"},
        [],
    ]
    for data in bad:
        with pytest.raises(SnapshotError):
            Checkpoint.from_dict(data)
    with pytest.raises(SnapshotError, match="not valid JSON"):
        Checkpoint.from_bytes(b"{")


def test_other_patterns_fingerprint_is_refused(make_store):
    make_store(fingerprint=None).save(checkpoint(1, fp="sha256:other"))
    with pytest.raises(SnapshotError, match="other patterns"):
        make_store().latest()
    with pytest.raises(SnapshotError, match="other patterns"):
        make_store().save(checkpoint(2, fp="sha256:other"))
    assert make_store(fingerprint=None).latest().fingerprint == "sha256:other"


def test_state_that_is_not_json_is_refused_naming_the_partition(make_store):
    bad = Checkpoint(FP, 0, (PartitionState("tx", 3, 0, None, {"x": {1, 2}}),))
    with pytest.raises(SnapshotError, match=r"tx\[3\]"):
        make_store().save(bad)


# -- fingerprints ----------------------------------------------------------------------------------

PATTERN = """
pattern small_then_big
  from transactions
  key card_id
  time ts lateness 5s
  match small then big within 10m
  define
    small as amount < 1
    big as amount > 500
  emit card_id
"""


def test_pattern_fingerprint_ignores_layout_and_order_but_not_meaning():
    other = PATTERN.replace("small_then_big", "other")
    base = pattern_fingerprint(cep.compile_patterns(PATTERN + other))
    assert base == pattern_fingerprint(cep.compile_patterns(other + PATTERN))
    assert base == pattern_fingerprint(cep.compile_patterns("# note\n" + PATTERN.replace("  key", "    key") + other))
    assert base != pattern_fingerprint(cep.compile_patterns(PATTERN.replace("500", "501") + other))
    assert fingerprint(["ab", "c"]) != fingerprint(["a", "bc"])


def test_detector_snapshots_round_trip_through_a_checkpoint(make_store):
    patterns = cep.compile_patterns(PATTERN)
    fp = pattern_fingerprint(patterns)
    out = []
    detector = Detector(patterns, out.append)
    detector.feed("transactions", {"card_id": "c1", "amount": 0.5, "ts": 1_000})
    store = make_store(fingerprint=fp)
    store.save(Checkpoint(fp, 0, (PartitionState("tx", 0, 1, 1_000 - 5_001, detector.snapshot()),)))
    restored = Detector(cep.compile_patterns(PATTERN), out.append)
    restored.restore(make_store(fingerprint=fp).latest(("tx", 0)).partition("tx", 0).state)
    restored.feed("transactions", {"card_id": "c1", "amount": 900, "ts": 2_000})
    restored.finish()
    assert [m.fields for m in out] == [{"card_id": "c1"}]


# -- exactly-once file outputs ---------------------------------------------------------------------


def test_truncate_output(tmp_path):
    out = tmp_path / "alerts.jsonl"
    out.write_bytes(b'{"a":1}\n{"a":2}\n{"a":3}\n')
    assert truncate_output(out, 16) == 8
    assert out.read_bytes() == b'{"a":1}\n{"a":2}\n'
    assert truncate_output(out, 16) == 0
    with pytest.raises(StateError, match="fewer than the 20 recorded"):
        truncate_output(out, 20)
    assert out.read_bytes() == b'{"a":1}\n{"a":2}\n'
    assert truncate_output(tmp_path / "missing.jsonl", 0) == 0
    with pytest.raises(StateError, match="missing"):
        truncate_output(tmp_path / "missing.jsonl", 5)


# -- crashes ---------------------------------------------------------------------------------------


def run_helper(directory, *args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(HELPER), str(directory), *map(str, args)],
                          capture_output=True, env=env, timeout=60)


def helper_checkpoint(label):
    sys.path.insert(0, str(HELPER.parent))
    try:
        from crash_checkpoint import make_checkpoint
    finally:
        sys.path.pop(0)
    return make_checkpoint(label)


@pytest.mark.parametrize("crash_after", [0, 1, 2, 3, 4, 5])
def test_a_kill_between_any_two_steps_recovers_the_old_or_the_new_checkpoint(tmp_path, crash_after):
    """Steps 1-5 of DirectoryStore.save; 0 is a kill halfway through writing the file."""
    for label in (1, 2):
        assert run_helper(tmp_path, "save", label, "none").returncode == 0
    died = run_helper(tmp_path, "save", 3, crash_after)
    assert died.returncode == -signal.SIGKILL, died.stderr.decode()
    leftovers = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert bool(leftovers) == (crash_after < 3)

    recovered = run_helper(tmp_path, "recover")
    assert recovered.returncode == 0, recovered.stderr.decode()
    result = json.loads(recovered.stdout)
    expected = helper_checkpoint(3 if crash_after >= 3 else 2)
    assert result["checkpoint"] == json.loads(expected.to_bytes())  # complete, never partial
    assert not [n for n in result["files"] if n.endswith(".tmp")]
    assert recovered.stderr == b""  # nothing damaged was met on the way

    # Every file left is a complete checkpoint, and saving goes on where it left off.
    store = DirectoryStore(tmp_path, 2, fingerprint="sha256:crash-test")
    for id in store.list():
        store.load(id)
    assert run_helper(tmp_path, "save", 4, "none").returncode == 0
    assert store.latest() == helper_checkpoint(4)
    assert len(store.list()) == 2


# -- property --------------------------------------------------------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("save"), st.sets(st.integers(0, 3), max_size=4), st.sampled_from(["a", "b"])),
        st.tuples(st.just("prune"), st.integers(1, 4), st.none()),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(ops=operations, keep=st.integers(1, 4))
def test_any_saves_and_prunes_then_recovery_gives_the_last_checkpoint(ops, keep):
    with tempfile.TemporaryDirectory() as directory:
        stores = {w: DirectoryStore(directory, keep, writer=w, fingerprint=FP) for w in "ab"}
        last = None
        last_of: dict[int, Checkpoint] = {}
        for label, (op, arg, writer) in enumerate(ops):
            if op == "save":
                saved = checkpoint(label, partitions=sorted(arg))
                stores[writer].save(saved)
                last = saved
                last_of.update({p: saved for p in arg})
            else:
                stores["a"].prune(arg)
        fresh = DirectoryStore(directory, keep, fingerprint=FP)
        assert fresh.latest() == last
        for p in range(4):
            assert fresh.latest(("tx", p)) == last_of.get(p)
