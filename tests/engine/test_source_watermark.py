"""``cep run --watermark source``: Flink's rule, one watermark per process over its partitions.

The engine runs without a broker: records go to ``LiveEngine.process`` directly, and a fake
monotonic clock drives ``--idle-timeout``.
"""

from __future__ import annotations

import json

import cep
from cep.connectors.kafka_source import LiveRecord
from cep.live.engine import LiveEngine

PATTERN = """
pattern w
  from s
  key k
  time ts lateness 1s
  window tumbling 10s
  emit k, count() as n
"""


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def engine(alerts: list, late: list, *, source: bool, idle_timeout_ms: int | None = None,
           clock: Clock | None = None) -> LiveEngine:
    live = LiveEngine(cep.compile_patterns(PATTERN), {"t": "s"}, on_alert=alerts.append,
                      on_dead_letter=lambda record, value: None, on_late=late.append,
                      flush=lambda: None, commit=lambda offsets: None, source_watermark=source,
                      idle_timeout_ms=idle_timeout_ms, monotonic=clock or Clock())
    live.assign([("t", 0), ("t", 1)])
    return live


def record(partition: int, offset: int, key: str, ts: int) -> LiveRecord:
    return LiveRecord("t", partition, offset, json.dumps(key).encode(), json.dumps({"k": key, "ts": ts}).encode())


def windows(alerts: list) -> list[tuple[str, int]]:
    return [(json.loads(a.value)["k"], json.loads(a.value)["n"]) for a in alerts]


def test_a_slow_partition_holds_back_the_others_windows_until_it_catches_up():
    alerts: list = []
    live = engine(alerts, [], source=True)
    live.process([record(0, 0, "a", 1_000), record(1, 0, "b", 2_000), record(0, 1, "a", 30_000)])
    assert alerts == []  # partition 1 is at 2 s: the source watermark is 2 s - 1 s - 1 ms
    live.process([record(1, 1, "b", 25_000)])
    assert windows(alerts) == [("a", 1), ("b", 1)]  # both first windows, once 1 reached 25 s


def test_with_partition_watermarks_each_partition_fires_on_its_own():
    alerts: list = []
    live = engine(alerts, [], source=False)
    live.process([record(0, 0, "a", 1_000), record(1, 0, "b", 2_000), record(0, 1, "a", 30_000)])
    assert windows(alerts) == [("a", 1)]


def test_lateness_is_judged_against_the_slowest_partition():
    """An event more than the lateness behind its own partition's newest, but not behind the
    source watermark, is on time with --watermark source and late per partition."""
    for source, expected_late in ((True, 0), (False, 1)):
        alerts: list = []
        late: list = []
        live = engine(alerts, late, source=source)
        live.process([record(0, 0, "a", 20_000), record(1, 0, "b", 5_000), record(0, 1, "a", 12_000)])
        assert len(late) == expected_late, source


def test_an_idle_partition_stops_holding_time_back():
    clock = Clock()
    alerts: list = []
    live = engine(alerts, [], source=True, idle_timeout_ms=5_000, clock=clock)
    live.process([record(0, 0, "a", 1_000), record(0, 1, "a", 30_000)])
    assert alerts == []  # partition 1 has had no data, but is not idle yet
    clock.now = 6.0
    live.tick()
    assert alerts == []  # partition 0 has gone quiet too: nothing counts, nothing moves
    live.process([record(0, 2, "a", 31_000)])  # partition 0 is active; 1 is idle since assignment
    assert windows(alerts) == [("a", 1)]
