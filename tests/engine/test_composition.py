"""Composition: a pattern reading another pattern's output, event time carried through."""

from __future__ import annotations

import pytest

import cep
from cep.detector import Detector
from cep.errors import CepError

SOURCE = """
pattern overheating
  from sensors
  key sensor_id
  time ts
  window tumbling 1m
  having avg(temperature) > 40
  emit sensor_id, avg(temperature) as avg_temp, window.start as window_start

pattern overheating_three_times
  from overheating
  key sensor_id
  match hot{3} consecutive within 5m
  emit sensor_id, first(hot.window_start) as since, count(hot) as windows
"""


def test_three_overheating_windows_in_a_row():
    out: list[cep.Match] = []
    detector = Detector(cep.compile_patterns(SOURCE), out.append)
    assert detector.streams == ("sensors",)
    minutes = [45, 50, 41, 20, 45]  # three hot minutes, a cool one, a hot one
    for minute, temperature in enumerate(minutes):
        detector.feed("sensors", {"sensor_id": "s1", "temperature": temperature, "ts": minute * 60_000 + 1})
    detector.finish()
    composed = [m for m in out if m.pattern == "overheating_three_times"]
    assert [(m.fields["since"], m.fields["windows"], m.time) for m in composed] == [(0, 3, 180_000)]
    assert len([m for m in out if m.pattern == "overheating"]) == 4


def test_a_cycle_is_refused():
    src = "pattern a\n  from b\n  match x\n\npattern b\n  from a\n  match y\n"
    with pytest.raises(CepError, match="cycle"):
        Detector(cep.compile_patterns(src), lambda m: None)
