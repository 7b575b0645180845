"""Subprocess half of the checkpoint crash test (run by tests/state/test_checkpoints.py).

``python crash_checkpoint.py DIR save LABEL CRASH_AFTER`` saves the checkpoint named ``LABEL``
into the store at DIR, with the store's test-only ``_crash_after`` hook set to CRASH_AFTER
(``none`` for a normal save), so the process dies with SIGKILL right after that step.
``python crash_checkpoint.py DIR recover`` recovers like a restarting detector and prints the
recovered checkpoint (or null) and the directory listing afterwards, as JSON.
"""

from __future__ import annotations

import os
import sys

import orjson

from cep.state.checkpoint import Checkpoint, PartitionState
from cep.state.store import DirectoryStore

FINGERPRINT = "sha256:crash-test"
KEEP = 2


def make_checkpoint(label: int) -> Checkpoint:
    """A deterministic checkpoint, large enough that a half-written file is clearly partial."""
    parts = tuple(
        PartitionState("tx", p, offset=1000 * label + p, watermark=label * 10 + p,
                       state={"label": label, "partition": p, "blob": [label] * 20_000})
        for p in range(2)
    )
    return Checkpoint(FINGERPRINT, created_at=label, partitions=parts, outputs={"out.jsonl": 100 * label})


def main(argv: list[str]) -> int:
    directory, command = argv[0], argv[1]
    if command == "save":
        crash = None if argv[3] == "none" else int(argv[3])
        store = DirectoryStore(directory, KEEP, fingerprint=FINGERPRINT, _crash_after=crash)
        store.save(make_checkpoint(int(argv[2])))
        return 0
    store = DirectoryStore(directory, KEEP, fingerprint=FINGERPRINT, on_warning=lambda m: print(m, file=sys.stderr))
    recovered = store.latest()
    result = {"checkpoint": recovered.to_dict() if recovered else None, "files": sorted(os.listdir(directory))}
    sys.stdout.buffer.write(orjson.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
