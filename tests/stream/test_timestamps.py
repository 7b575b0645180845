from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cep.errors import EventError, EventTimeError
from cep.stream.timestamps import format_timestamp_iso, make_time_getter, parse_timestamp

T20 = 1704067220000  # 2024-01-01T00:00:20Z


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2024-01-01T00:00:20Z", T20),
        ("2024-01-01T00:00:20.123Z", T20 + 123),
        ("2024-01-01T00:00:20.1Z", T20 + 100),
        ("2024-01-01T00:00:20.12Z", T20 + 120),
        ("2024-01-01T00:00:20.123456Z", T20 + 123),
        ("2024-01-01T00:00:20.999999Z", T20 + 999),  # truncated, not rounded
        ("2024-01-01 00:00:20Z", T20),
        ("2024-01-01T00:00:20", T20),  # naive means UTC
        ("2024-01-01 00:00:20.5", T20 + 500),
        ("2024-01-01T02:00:20+02:00", T20),
        ("2023-12-31T19:00:20-05:00", T20),
        ("2024-01-01T05:30:20.250+05:30", T20 + 250),
        ("2024-01-01T00:00:20+00:00", T20),
        ("2024-01-01T00:00Z", T20 - 20000),
        ("2024-01-01", T20 - 20000),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59.999Z", -1),
        ("2024-02-29T12:00:00Z", 1709208000000),
        ("  2024-01-01T00:00:20Z ", T20),
    ],
)
def test_iso_shapes(text, expected):
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    "value, unit, expected",
    [
        (T20, "auto", T20),
        (T20, "millis", T20),
        (1704067220, "seconds", T20),
        (1704067220.5, "seconds", T20 + 500),
        (1.001, "seconds", 1001),  # float noise rounds, does not truncate
        (T20 + 0.4, "auto", T20),
        (str(T20), "auto", T20),
        ("1704067220", "seconds", T20),
        ("1704067220.25", "seconds", T20 + 250),
        ("-1000", "millis", -1000),
        (0, "auto", 0),
        ("2024-01-01T00:00:20Z", "seconds", T20),  # the unit only governs numbers
    ],
)
def test_numbers(value, unit, expected):
    assert parse_timestamp(value, unit) == expected


@pytest.mark.parametrize(
    "value, fragment",
    [
        (True, "bool"),
        (None, "NoneType"),
        ([1], "list"),
        ({"a": 1}, "dict"),
        ("", "empty"),
        ("   ", "empty"),
        ("yesterday", "not an ISO-8601 timestamp"),
        ("2024-13-01T00:00:00Z", "month must be in 1..12"),
        ("2024-01-01T00:00:60Z", "second must be in 0..59"),
        ("2024-01-01T25:00:00", "hour must be in 0..23"),
        (float("nan"), "not a finite"),
        (float("inf"), "not a finite"),
        (10**20, "outside years 1..9999"),
        ("0001-01-01T00:00:00+01:00", "outside years 1..9999"),
    ],
)
def test_bad_values(value, fragment):
    with pytest.raises(EventTimeError, match=fragment):
        parse_timestamp(value)


def test_errors_are_event_errors_and_value_errors():
    with pytest.raises(EventError):
        parse_timestamp("nope")
    with pytest.raises(ValueError):
        parse_timestamp("nope")


def test_unknown_unit():
    with pytest.raises(EventTimeError, match="unknown time unit"):
        parse_timestamp(5, "hours")


@pytest.mark.parametrize(
    "ms, text",
    [
        (T20, "2024-01-01T00:00:20Z"),
        (T20 + 7, "2024-01-01T00:00:20.007Z"),
        (0, "1970-01-01T00:00:00Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
    ],
)
def test_format(ms, text):
    assert format_timestamp_iso(ms) == text


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
def test_format_parse_round_trip(dt):
    ms = (dt.replace(tzinfo=timezone.utc) - datetime(1970, 1, 1, tzinfo=timezone.utc)) // (
        dt.resolution * 1000
    )
    assert parse_timestamp(format_timestamp_iso(ms)) == ms
    assert parse_timestamp(dt.isoformat()) == ms  # naive isoformat, any fraction length


def test_time_getter_top_level_and_nested():
    assert make_time_getter(("ts",))({"ts": "2024-01-01T00:00:20Z"}) == T20
    get = make_time_getter(("meta", "time"), "seconds")
    assert get({"meta": {"time": 1704067220}}) == T20


@pytest.mark.parametrize(
    "path, event, fragment",
    [
        (("ts",), {}, "'ts': is missing"),
        (("ts",), {"ts": None}, "'ts': is null"),
        (("ts",), {"ts": "soon"}, "'ts': 'soon' is not an ISO-8601"),
        (("ts",), ["not", "an", "object"], "'ts': is missing"),
        (("meta", "time"), {"meta": {}}, "'meta.time': is missing"),
        (("meta", "time"), {"meta": 5}, "'meta.time': is missing \\(parent is not an object\\)"),
        (("meta", "time"), {"meta": {"time": True}}, "'meta.time': True \\(bool\\)"),
    ],
)
def test_time_getter_errors_name_the_field(path, event, fragment):
    with pytest.raises(EventTimeError, match=fragment):
        make_time_getter(path)(event)


def test_time_getter_rejects_bad_config():
    with pytest.raises(ValueError):
        make_time_getter(("ts",), "fortnights")
    with pytest.raises(ValueError):
        make_time_getter(())
