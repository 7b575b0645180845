"""Match ids of the live engine: one id per alert, the same id for the same alert.

The engine runs here without a broker: records are handed to ``LiveEngine.process`` directly.
"""

from __future__ import annotations

import json

import cep
from cep.connectors.kafka_source import LiveRecord
from cep.live.engine import LiveEngine


def engine(source: str, alerts: list) -> LiveEngine:
    live = LiveEngine(cep.compile_patterns(source), {"t": "s"}, on_alert=alerts.append,
                      on_dead_letter=lambda record, value: None, on_late=lambda record: None,
                      flush=lambda: None, commit=lambda offsets: None)
    live.assign([("t", 0)])
    return live


def records(rows: list[tuple[str, int, float]]) -> list[LiveRecord]:
    return [LiveRecord("t", 0, offset, json.dumps(k).encode(), json.dumps({"k": k, "ts": ts, "v": v}).encode())
            for offset, (k, ts, v) in enumerate(rows)]


def window_pattern(window: str) -> str:
    return f"""
pattern w
  from s
  key k
  time ts lateness 1s
  window {window}
  emit k, sum(v) as total
"""


def run(source: str, rows: list[tuple[str, int, float]]) -> list:
    alerts: list = []
    live = engine(source, alerts)
    live.process(records(rows))
    for slot in live.slots.values():
        slot.detector.finish()
    return alerts


def test_rolling_alerts_at_the_same_time_have_different_ids():
    """Two events of a key at one time close two rolling windows with the same end: two alerts."""
    alerts = run(window_pattern("rolling 10s"), [("a", 1000, 1), ("a", 1000, 2), ("a", 2000, 3)])
    assert [json.loads(a.value)["total"] for a in alerts] == [1, 3, 6]
    assert len({a.match_id for a in alerts}) == 3


def test_count_windows_ending_at_the_same_time_have_different_ids():
    alerts = run(window_pattern("count 1"), [("a", 1000, 1), ("a", 1000, 2)])
    assert len(alerts) == 2 and alerts[0].match_id != alerts[1].match_id


def test_ids_are_the_same_when_the_same_records_are_processed_again():
    rows = [("a", 1000, 1), ("a", 1000, 2), ("b", 4000, 5), ("a", 70_000, 1)]
    for window in ("rolling 10s", "count 2", "tumbling 1m", "session 5s"):
        first, again = run(window_pattern(window), rows), run(window_pattern(window), rows)
        assert first and [a.match_id for a in first] == [a.match_id for a in again], window
        assert len({a.match_id for a in first}) == len(first), window


def test_tumbling_windows_of_one_key_differ_by_end():
    alerts = run(window_pattern("tumbling 1s"), [("a", 100, 1), ("a", 1100, 1), ("b", 100, 1)])
    assert len(alerts) == 3 and len({a.match_id for a in alerts}) == 3
