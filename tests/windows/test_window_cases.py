"""Window patterns at their boundaries, through the real engine."""

from __future__ import annotations

import json

from hypothesis import given, settings

import cep
from cep.detector import LATE, Detector

from .test_windows_reference import readings, source

OVERHEATING = """
# Flag a sensor whose average temperature over a one-minute window is above 40°C.
pattern overheating
  from sensors
  key sensor_id
  time ts lateness 10s
  window tumbling 1m
  having avg(temperature) > 40
  emit sensor_id, avg(temperature) as avg_temp, count() as readings,
       window.start as window_start, window.end as window_end
"""


def run(src, events, stream="s"):
    out: list[cep.Match] = []
    detector = Detector(cep.compile_patterns(src), out.append)
    statuses = [detector.feed(stream, e) for e in events]
    detector.finish()
    return out, statuses


def test_overheating_runs_as_written_with_iso_bounds():
    events = [{"sensor_id": "s1", "temperature": t, "ts": f"2024-01-01T00:0{m}:{s:02d}Z"}
              for m, s, t in [(0, 0, 41), (0, 30, 45), (0, 59, 39), (1, 0, 20), (1, 10, 30)]]
    out, _ = run(OVERHEATING, events, "sensors")
    assert [m.to_record() for m in out] == [{
        "pattern": "overheating", "key": "s1", "time": "2024-01-01T00:01:00Z", "sensor_id": "s1",
        "avg_temp": 125 / 3, "readings": 3,
        "window_start": "2024-01-01T00:00:00Z", "window_end": "2024-01-01T00:01:00Z",
    }]


def test_event_exactly_on_the_edge_opens_the_next_window():
    src = source("tumbling 10s")
    out, _ = run(src, [{"k": "a", "ts": 0, "v": 1}, {"k": "a", "ts": 9_999, "v": 2}, {"k": "a", "ts": 10_000, "v": 3}])
    assert [(m.fields["ws"], m.fields["we"], m.fields["n"]) for m in out] == [(0, 10_000, 2), (10_000, 20_000, 1)]


def test_empty_windows_are_never_emitted():
    src = source("tumbling 10s")
    out, _ = run(src, [{"k": "a", "ts": 0, "v": 1}, {"k": "a", "ts": 95_000, "v": 2}])
    assert [m.fields["ws"] for m in out] == [0, 90_000]


def test_window_fires_when_the_watermark_passes_its_end_not_before():
    out: list[cep.Match] = []
    detector = Detector(cep.compile_patterns(source("tumbling 10s")), out.append)
    detector.feed("s", {"k": "a", "ts": 1_000, "v": 1})
    detector.feed("s", {"k": "b", "ts": 13_000, "v": 1})  # watermark 9_999: not yet at the end
    assert out == []
    detector.feed("s", {"k": "b", "ts": 13_001, "v": 1})  # watermark 10_000 reaches the end of [0, 10s)
    assert [(m.key, m.fields["we"]) for m in out] == [("a", 10_000)]


def test_late_reading_is_not_counted_in_any_window():
    events = [{"k": "a", "ts": 1_000, "v": 1}, {"k": "a", "ts": 14_000, "v": 1}, {"k": "a", "ts": 2_000, "v": 100}]
    out, statuses = run(source("tumbling 10s"), events)
    assert statuses[2] == LATE  # 2_000 <= watermark 10_999, and its window already fired
    assert out[0].fields["n"] == 1 and out[0].fields["s"] == 1


def test_session_bridged_by_a_late_but_allowed_event():
    src = source("session 5s").replace("lateness 3s", "lateness 10s")
    events = [{"k": "a", "ts": 0, "v": 1}, {"k": "a", "ts": 8_000, "v": 2},  # two sessions so far (gap 8s >= 5s)
              {"k": "a", "ts": 4_000, "v": 3}]  # arrives late but within 10s: bridges them
    out, statuses = run(src, events)
    assert statuses == [0, 0, 0]
    assert [(m.fields["ws"], m.fields["we"], m.fields["n"], m.fields["s"]) for m in out] == [(0, 13_000, 3, 6)]


def test_session_closes_after_a_gap_of_d_with_no_event():
    # 4_999 ms apart: one session; exactly 5_000 ms apart: a new session starts.
    out, _ = run(source("session 5s"), [{"k": "a", "ts": 0, "v": 1}, {"k": "a", "ts": 4_999, "v": 1},
                                        {"k": "a", "ts": 9_998, "v": 1}])
    assert [(m.fields["ws"], m.fields["we"], m.fields["n"]) for m in out] == [(0, 14_998, 3)]
    out, _ = run(source("session 5s"), [{"k": "a", "ts": 0, "v": 1}, {"k": "a", "ts": 5_000, "v": 1}])
    assert [(m.fields["ws"], m.fields["we"], m.fields["n"]) for m in out] == [(0, 5_000, 1), (5_000, 10_000, 1)]


def test_rolling_is_evaluated_per_event_over_the_last_d_inclusive():
    out, _ = run(source("rolling 10s"), [{"k": "a", "ts": t, "v": v} for t, v in [(0, 1), (5_000, 2), (10_000, 3), (10_001, 4)]])
    assert [(m.fields["we"], m.fields["n"], m.fields["s"], m.fields["f"]) for m in out] == [
        (0, 1, 1, 1), (5_000, 2, 3, 1), (10_000, 3, 6, 1), (10_001, 3, 9, 2),
    ]


def test_where_filters_before_windowing_and_having_after():
    src = """
pattern hot
  from s where v >= 0
  key k
  time ts
  window tumbling 10s
  having count() >= 2
  emit k, count() as n, min(v) as lo
"""
    out, _ = run(src, [{"k": "a", "ts": 1, "v": -5}, {"k": "a", "ts": 2, "v": 3}, {"k": "b", "ts": 3, "v": 1},
                       {"k": "b", "ts": 4, "v": 2}])
    assert [(m.key, m.fields["n"], m.fields["lo"]) for m in out] == [("b", 2, 1)]


def test_sequence_and_window_patterns_in_one_file_and_one_replay():
    src = OVERHEATING + """
pattern spike_then_drop
  from sensors
  key sensor_id
  time ts lateness 10s
  match hot next cold within 1m
  define
    hot as temperature > 60
    cold as temperature < 0
  emit sensor_id, hot.temperature as high, cold.temperature as low
"""
    events = [{"sensor_id": "s1", "temperature": t, "ts": i * 10_000} for i, t in enumerate([70, -5, 80, 90, 50])]
    out, _ = run(src, events, "sensors")
    assert sorted(m.pattern for m in out) == ["overheating", "spike_then_drop"]


@settings(max_examples=100, deadline=None)
@given(events=readings())
def test_window_state_survives_snapshot_json_restore(events):
    for window in ("tumbling 10s", "sliding 10s every 4s", "session 5s", "rolling 10s", "count 3 every 2", "count 3"):
        src = source(window)
        expected, _ = run(src, events)
        cut = len(events) // 2
        out: list[cep.Match] = []
        first = Detector(cep.compile_patterns(src), out.append)
        for e in events[:cut]:
            first.feed("s", e)
        data = json.loads(json.dumps(first.snapshot()))
        second = Detector(cep.compile_patterns(src), out.append)
        second.restore(data)
        for e in events[cut:]:
            second.feed("s", e)
        second.finish()
        assert [m.fields for m in out] == [m.fields for m in expected], window
