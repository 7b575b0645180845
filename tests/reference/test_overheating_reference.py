"""Hand-made cases for the overheating oracle, so the oracle itself is known to be right.

Each case is a few lines written out in full. Times are seconds after 2024-01-01T00:00:00Z
(``T0``), written as epoch milliseconds unless a case is about ISO-8601 times.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .overheating import event_time_ms, iso, run

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "sensors.jsonl"
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z, a multiple of 60000


def r(sensor: object, temperature: object, seconds: float, **extra: object) -> str:
    """A reading ``seconds`` after T0, with a numeric ``ts``."""
    return json.dumps({"sensor_id": sensor, "ts": T0 + round(seconds * 1000),
                       "temperature": temperature, **extra})


def summary(result) -> list[tuple[object, int, float, int]]:
    """(sensor, window start in seconds after T0, avg, readings) per alert."""
    return [(a["sensor_id"], (a["window_start"] - T0) // 1000, a["avg_temp"], a["readings"])
            for a in result.alerts]


def test_event_time_forms():
    assert event_time_ms(1234) == 1234
    assert event_time_ms(1234.6) == 1235  # floats round to the millisecond
    assert event_time_ms("1234") == 1234  # digits are a number
    assert event_time_ms("1970-01-01T00:00:01Z") == 1000
    assert event_time_ms("1970-01-01T00:00:01.250Z") == 1250
    assert event_time_ms("1970-01-01T01:00:01+01:00") == 1000
    assert event_time_ms("1970-01-01T00:00:01") == 1000  # naive is UTC
    assert event_time_ms("1970-01-01T00:00:00.0019Z") == 1  # truncated, not rounded
    for bad in ("soon", "", True, None, [1], {"a": 1}, float("nan")):
        with pytest.raises(ValueError):
            event_time_ms(bad)


def test_iso_formatting_shows_milliseconds_only_when_nonzero():
    assert iso(T0) == "2024-01-01T00:00:00Z"
    assert iso(T0 + 60_000) == "2024-01-01T00:01:00Z"
    assert iso(T0 + 60_250) == "2024-01-01T00:01:00.250Z"
    assert iso(0) == "1970-01-01T00:00:00Z"


def test_a_hot_window_with_the_full_output():
    result = run([r("s1", 41.5, 5), r("s1", 43.0, 25), r("s1", 44.5, 45)])
    assert result.alerts == [
        {
            "pattern": "overheating",
            "key": "s1",
            "time": T0 + 60_000,
            "sensor_id": "s1",
            "avg_temp": 43.0,
            "readings": 3,
            "window_start": T0,
            "window_end": T0 + 60_000,
        }
    ]
    assert result.dead_lettered == [] and result.late == []


def test_iso_times_give_iso_window_bounds():
    lines = [json.dumps({"sensor_id": "s1", "temperature": 45, "ts": "2024-01-01T00:01:30.500Z"}),
             json.dumps({"sensor_id": "s1", "temperature": 47, "ts": "2024-01-01T01:01:40+01:00"})]
    (alert,) = run(lines).alerts
    assert alert["window_start"] == "2024-01-01T00:01:00Z"
    assert alert["window_end"] == alert["time"] == "2024-01-01T00:02:00Z"
    assert alert["avg_temp"] == 46.0


def test_a_cool_window_is_not_flagged_even_with_a_hot_reading():
    assert run([r("s1", 22.0, 5), r("s1", 55.0, 25), r("s1", 23.0, 45)]).alerts == []


@pytest.mark.parametrize(("temps", "flagged"), [
    ([40, 40], False),  # exactly 40: having is strictly greater
    ([39.5, 40.5], False),
    ([40, 40.001], True),
    ([41], True),
    ([40.0001], True),
])
def test_the_threshold_is_strict(temps, flagged):
    lines = [r("s1", t, 10 + i) for i, t in enumerate(temps)]
    assert bool(run(lines).alerts) is flagged


def test_a_reading_on_the_minute_edge_opens_the_next_window():
    result = run([r("s1", 39.0, 20), r("s1", 40.0, 40), r("s1", 50.0, 60)])
    assert summary(result) == [("s1", 60, 50.0, 1)]
    # One millisecond earlier it closes the first window instead: (39 + 40 + 50) / 3 = 43.
    result = run([r("s1", 39.0, 20), r("s1", 40.0, 40), r("s1", 50.0, 59.999)])
    assert summary(result) == [("s1", 0, 43.0, 3)]


def test_windows_are_per_sensor():
    result = run([r("s1", 45, 10), r("s2", 20, 20), r("s2", 20, 30), r("s1", 45, 40)])
    assert summary(result) == [("s1", 0, 45.0, 2)]


def test_non_numbers_are_counted_but_not_averaged():
    odd = [json.dumps({"sensor_id": "s1", "ts": T0 + 30_000})]  # no temperature at all
    odd += [r("s1", value, 30) for value in ("41.5", None, True, False, "n/a", [42], {"t": 42})]
    for line in odd:
        result = run([r("s1", 44, 10), line, r("s1", 42, 50)])
        assert summary(result) == [("s1", 0, 43.0, 3)], line
        # A window with no number at all has no average: never flagged.
        assert run([line]).alerts == [], line


def test_ints_and_floats_mix_and_are_summed_in_event_time_order():
    lines = [r("s1", 0.1, 13), r("s1", 80, 10), r("s1", 0.2, 12), r("s1", 90, 14)]
    (alert,) = run(lines).alerts
    assert alert["avg_temp"] == (80 + 0.2 + 0.1 + 90) / 4  # 10 s, 12 s, 13 s, 14 s
    assert alert["readings"] == 4


def test_exactly_lateness_older_is_on_time_but_one_ms_more_is_late():
    lines = [
        r("s9", 20, 100),
        r("s1", 45, 90),  # exactly 10 s older than the newest: on time
        r("s2", 45, 89.999),  # 10.001 s older: late
    ]
    result = run(lines)
    assert result.late == [3]
    assert [a["sensor_id"] for a in result.alerts] == ["s1"]


def test_late_readings_are_never_counted_and_move_nothing():
    lines = [
        r("s1", 20, 0),
        r("s9", 20, 100),
        r("s1", 90, 30),  # late: would make s1's first minute hot
        r("s1", 90, 95),  # on time: the late reading did not raise the watermark
        r("s1", 20, 5),  # late
    ]
    result = run(lines)
    assert result.late == [3, 5]
    assert summary(result) == [("s1", 60, 90.0, 1)]
    # In time the late reading makes the first window hot: lateness is what removes it.
    assert summary(run([lines[0], lines[2], lines[1], lines[3]]))[0] == ("s1", 0, 55.0, 2)


def test_out_of_order_within_lateness_joins_its_window():
    # The 00:00:55 reading arrives after one at 00:01:04: still on time, still the first minute.
    result = run([r("s1", 45, 20), r("s1", 20, 64), r("s1", 45, 55)])
    assert summary(result) == [("s1", 0, 45.0, 2)]
    assert result.late == []


def test_alerts_come_in_firing_order():
    lines = [
        r("s1", 45, 62),  # window 1 (from 60 s), arrives first
        r("s2", 45, 55),  # window 0
        r("s3", 45, 61),  # window 1, earlier than s1's reading: registered first
        r("s4", 45, 61),  # window 1, same time as s3 but arrives later
        r("s1", 45, 53),  # window 0, earlier than s2's reading
    ]
    result = run(lines)
    assert [(a["sensor_id"], (a["window_end"] - T0) // 1000) for a in result.alerts] == [
        ("s1", 60), ("s2", 60), ("s3", 120), ("s4", 120), ("s1", 120),
    ]


def test_dead_letters_keep_line_numbers_and_blank_lines_are_skipped():
    lines = [
        r("s1", 45, 0),
        "",
        '{"sensor_id": "s1", "ts": 17',  # truncated
        "gateway 7: link down",
        "   ",
        '["s1", 1704067201000, 45]',
        json.dumps({"sensor_id": "s1", "temperature": 45}),  # no ts
        json.dumps({"sensor_id": "s1", "temperature": 45, "ts": None}),
        json.dumps({"sensor_id": "s1", "temperature": 45, "ts": "soon"}),
        json.dumps({"sensor_id": "s1", "temperature": 45, "ts": True}),
        json.dumps({"temperature": 99, "ts": T0 + 1000}),  # no sensor_id
        json.dumps({"sensor_id": None, "temperature": 99, "ts": T0 + 1000}),
        json.dumps({"sensor_id": ["s1"], "temperature": 99, "ts": T0 + 1000}),
        json.dumps({"sensor_id": {"id": 1}, "temperature": 99, "ts": T0 + 1000}),
        '{"sensor_id": "s1", "temperature": NaN, "ts": 1704067201000}',
        b'{"sensor_id": "s\xff", "temperature": 45, "ts": 1704067201000}',
        '"just a string"',
        r("s1", 45, 2),
    ]
    result = run(lines)
    assert result.dead_lettered == [3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]
    # Dead letters are not readings: they neither count nor move time.
    assert summary(result) == [("s1", 0, 45.0, 2)]


def test_dead_lettered_lines_do_not_move_the_watermark():
    lines = [r("s1", 45, 0), json.dumps({"temperature": 1, "ts": T0 + 500_000}), r("s1", 45, 1)]
    result = run(lines)
    assert result.late == [] and result.dead_lettered == [2]
    assert summary(result) == [("s1", 0, 45.0, 2)]


def test_a_late_line_without_sensor_id_is_late_not_dead():
    # The engine reads the time, decides lateness, and only then reads the key.
    lines = [r("s1", 20, 100), json.dumps({"temperature": 20, "ts": T0})]
    result = run(lines)
    assert result.late == [2] and result.dead_lettered == []


def test_negative_times_align_to_the_epoch_too():
    (alert,) = run([json.dumps({"sensor_id": "s1", "ts": -30_000, "temperature": 50})]).alerts
    assert (alert["window_start"], alert["window_end"]) == (-60_000, 0)


def test_sample_file_expectations():
    """The numbers samples/README.md states for samples/sensors.jsonl."""
    raw = SAMPLE.read_bytes().split(b"\n")
    result = run(raw)
    assert summary(result) == [
        ("s001", 60, pytest.approx(43.416666666666664), 7),
        ("s007", 60, pytest.approx(42.74285714285713), 7),
        ("s001", 120, pytest.approx(44.057142857142864), 7),
        ("s007", 120, pytest.approx(42.96666666666667), 6),
        ("s001", 300, pytest.approx(44.23333333333334), 6),
        ("s007", 300, pytest.approx(46.08), 6),
        ("s007", 360, pytest.approx(45.1), 6),
    ]
    assert result.dead_lettered == [62, 138, 228, 276, 290, 354, 367, 396]
    assert result.late == [305, 306, 307, 325, 360, 368, 382, 390]
    edges = [n for n, line in enumerate(raw, 1)
             if line.startswith(b"{") and b'000, "temperature"' in line and n not in result.late]
    assert edges == [49, 53, 56, 102, 103, 150, 152, 199, 205, 206, 253]
    # Reordered by event time (and without dead letters) nothing is late, and the late hot
    # burst of s008 (lines 305-307) becomes an eighth alert.
    good = [line for n, line in enumerate(raw, 1) if n not in result.dead_lettered and line.strip()]
    good.sort(key=lambda line: json.loads(line)["ts"])
    in_order = run(good)
    assert in_order.late == []
    assert len(in_order.alerts) == 8
    assert ("s008", 120, pytest.approx(46.333333333333336), 3) in summary(in_order)
