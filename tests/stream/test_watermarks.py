import pytest

from cep.stream.watermarks import END_OF_TIME, MIN_WATERMARK, BoundedOutOfOrderness


def test_initial_watermark_accepts_anything():
    tracker = BoundedOutOfOrderness(10).create()
    assert tracker.current == MIN_WATERMARK
    assert not tracker.is_late(-(10**15))


@pytest.mark.parametrize("lateness", [0, 1, 10, 5000])
def test_lateness_boundary(lateness):
    tracker = BoundedOutOfOrderness(lateness).create()
    assert tracker.observe(1000) == 1000 - lateness - 1
    assert not tracker.is_late(1000 - lateness)  # exactly `lateness` old: on time
    assert tracker.is_late(1000 - lateness - 1)  # one ms more: late


def test_watermark_never_goes_back():
    tracker = BoundedOutOfOrderness(5).create()
    tracker.observe(100)
    tracker.observe(50)
    assert tracker.current == 94
    tracker.advance_to(200)
    tracker.observe(150)
    assert tracker.current == 200
    tracker.advance_to(10)
    assert tracker.current == 200


def test_snapshot_round_trip():
    tracker = BoundedOutOfOrderness(5).create()
    tracker.observe(100)
    other = BoundedOutOfOrderness(5).create()
    other.restore(tracker.snapshot())
    assert (other.max_ts, other.current) == (100, 94)


@pytest.mark.parametrize("bad", [-1, 1.5, True, None])
def test_config_validates(bad):
    with pytest.raises(ValueError):
        BoundedOutOfOrderness(bad)


def test_config_is_frozen():
    config = BoundedOutOfOrderness(5)
    with pytest.raises(AttributeError):
        config.lateness_ms = 6  # type: ignore[misc]


def test_sentinels_bracket_all_timestamps():
    assert MIN_WATERMARK < -(10**15) and END_OF_TIME > 10**15
