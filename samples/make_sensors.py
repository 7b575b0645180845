"""Generate a deterministic log of temperature readings for ``overheating`` (samples/README.md).

``samples/sensors.jsonl`` is this script's output for::

    python samples/make_sensors.py --count 400 --seed 7 --sensors 8 \\
        --late-fraction 0.02 --disorder-seconds 6 --malformed-fraction 0.02 \\
        --out samples/sensors.jsonl

(those are the defaults apart from ``--sensors``, whose default is 100, and ``--out``, which
defaults to stdout).

Each line is ``{"sensor_id": "s003", "ts": 1704067205123, "temperature": 23.4}``: ``ts`` is
epoch milliseconds (numeric), times start at 2024-01-01T00:00:00Z. What goes in, ordered by
arrival (the order of the lines):

* readings: every sensor reports every 8-12 s from a random offset; temperatures wander
  between 15 and 35 °C around a per-sensor base (one decimal; every fifth sensor reports whole
  degrees, as integers);
* minute edges: when a sensor's next reading would cross a minute boundary, about one time in
  six it is taken exactly on the boundary (``ts`` a multiple of 60000), so it opens the next
  tumbling window rather than closing the previous one;
* hot spells: a sensor runs hot for 2-4 minutes: its temperature ramps up over 20 s to a
  plateau of 41-47 °C (a "hot" spell, windows above 40 on average) or 38-41 °C (a "warm"
  spell, the near miss: some readings above 40, averages mostly not); each spell has one
  faulty reading with a non-numeric temperature;
* faulty readings: about 1 % of the readings carry a temperature that is not a number
  (``"n/a"``, ``null``, ``true``, the string ``"41.5"``, ``"ERR"``, or no field at all); they
  still count as readings of their window, but not in the average;
* arrival disorder: every in-time reading arrives up to ``--disorder-seconds`` after its event
  time (keep it at most the pattern's 10 s lateness, then no in-time reading is late);
* late readings, one to five minutes older than the newest reading already seen, so far past
  the 10 s bound; the first three are a hot burst (45-49 °C within one minute) of one extra
  sensor (``s008`` for 8 sensors) whose gateway delivered its buffer minutes late: it has no
  in-time readings, so in time the burst alone would be a hot window;
* malformed lines cycling through ``MALFORMED``.

``--in-order`` writes lines in event-time order with no late readings (disorder 0). The run
prints a summary of what it wrote to stderr. Only the stdlib is used, so the script runs
anywhere, and the same arguments always give the same bytes.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import json
import random
import sys
from dataclasses import dataclass

START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
MINUTE = 60_000
FAULTY = ["n/a", None, True, "41.5", "ERR", "missing"]  # "missing": no temperature field
MALFORMED = ["truncated", "text", "array", "no_ts", "bad_ts", "no_sensor_id", "null_sensor_id"]


@dataclass
class Spell:
    sensor: int
    start: int  # ms after START_MS
    end: int
    peak: float  # plateau temperature
    hot: bool  # hot (41-47) or warm near miss (38-41)
    fault_placed: bool = False


@dataclass
class Reading:
    ms: int  # event time, ms after START_MS
    sensor: str
    temperature: object  # a number, or a faulty value; MISSING drops the field
    arrival: float = 0.0
    kind: str = "reading"

    def record(self) -> dict:
        out: dict = {"sensor_id": self.sensor, "ts": START_MS + self.ms}
        if self.temperature != "missing":
            out["temperature"] = self.temperature
        return out


def schedule(rng: random.Random, sensors: int, count: int) -> list[tuple[int, int]]:
    """The first ``count`` reading times over all sensors, as (ms, sensor index), in time order."""
    heap = [(rng.randint(0, 9_999), s) for s in range(sensors)]
    heapq.heapify(heap)
    times: list[tuple[int, int]] = []
    while len(times) < count:
        ms, s = heapq.heappop(heap)
        times.append((ms, s))
        nxt = ms + rng.randint(8_000, 12_000)
        edge = (ms // MINUTE + 1) * MINUTE
        if nxt >= edge and rng.random() < 1 / 6:
            nxt = edge  # exactly on the minute: belongs to the next window
        heapq.heappush(heap, (nxt, s))
    return times


def plan_spells(rng: random.Random, sensors: int, span: int, n_spells: int) -> dict[int, list[Spell]]:
    """Hot and warm spells, at most one at a time per sensor; two of three are hot."""
    spells: dict[int, list[Spell]] = {}
    for index in range(n_spells):
        duration = rng.randint(120, 240) * 1000
        start = rng.randint(0, max(0, span - duration))
        for _ in range(20):  # find a sensor free around that time
            sensor = rng.randrange(sensors)
            if all(s.end + 30_000 < start or start + duration + 30_000 < s.start
                   for s in spells.get(sensor, [])):
                break
        else:
            continue
        hot = index % 3 != 2
        peak = rng.uniform(41.0, 47.0) if hot else rng.uniform(38.0, 41.0)
        bisect.insort(spells.setdefault(sensor, []), Spell(sensor, start, start + duration, peak, hot),
                      key=lambda sp: sp.start)
    return spells


def temperature(rng: random.Random, base: float, walk: list[float], s: int, ms: int,
                spells: dict[int, list[Spell]]) -> tuple[object, str]:
    """The reading of sensor ``s`` at ``ms`` and what it shows."""
    walk[s] = min(3.0, max(-3.0, walk[s] + rng.uniform(-0.6, 0.6)))
    normal = min(35.0, max(15.0, base + walk[s]))
    mine = spells.get(s, [])
    at = bisect.bisect_right(mine, ms, key=lambda sp: sp.start)  # spells sorted, never overlapping
    for spell in mine[at - 1:at] if at else ():
        if ms < spell.end:
            into = ms - spell.start
            if into >= 20_000 and not spell.fault_placed and rng.random() < 0.3:
                spell.fault_placed = True
                return rng.choice(FAULTY), "faulty_in_spell"
            ramp = min(1.0, into / 20_000)
            value = normal + (spell.peak - normal) * ramp + rng.uniform(-1.5, 1.5) * ramp
            return value, "hot" if spell.hot else "warm"
    if rng.random() < 0.01:
        return rng.choice(FAULTY), "faulty"
    return normal, "reading"


def malformed_line(kind: str, rng: random.Random, reading: Reading) -> str:
    good = reading.record()
    good.setdefault("temperature", 21.5)
    if kind == "truncated":
        text = json.dumps(good)
        return text[: len(text) // 2 + rng.randint(-5, 5)]
    if kind == "text":
        return rng.choice(["gateway 7: link down, buffering", "-- reconnect --",
                           "sensor_id,ts,temperature"])
    if kind == "array":
        return json.dumps([good["sensor_id"], good["ts"], good["temperature"]])
    if kind == "no_ts":
        del good["ts"]
    elif kind == "bad_ts":
        good["ts"] = rng.choice(["soon", "12:00", ""])
    elif kind == "no_sensor_id":
        del good["sensor_id"]
    elif kind == "null_sensor_id":
        good["sensor_id"] = None
    return json.dumps(good)


def generate(args: argparse.Namespace) -> tuple[list[str], dict[str, int]]:
    if not 0 <= args.disorder_seconds <= 10:
        raise SystemExit("--disorder-seconds must be between 0 and 10 (the pattern's lateness)")
    rng = random.Random(args.seed)
    disorder_ms = 0 if args.in_order else int(args.disorder_seconds * 1000)
    n_late = 0 if args.in_order else round(args.count * args.late_fraction)
    n_bad = round(args.count * args.malformed_fraction)
    n_good = args.count - n_late - n_bad
    if n_good < 1:
        raise SystemExit("--count too small for the late and malformed lines")

    times = schedule(rng, args.sensors, n_good)
    span = times[-1][0] + 1
    spells = plan_spells(rng, args.sensors, span, max(3, round(n_good / 80)))
    names = [f"s{i:03d}" for i in range(args.sensors)]
    bases = [rng.uniform(18.0, 30.0) for _ in range(args.sensors)]
    walk = [0.0] * args.sensors
    counts: dict[str, int] = {}
    readings: list[Reading] = []
    for ms, s in times:
        value, kind = temperature(rng, bases[s], walk, s, ms, spells)
        if isinstance(value, float):
            value = round(value) if s % 5 == 0 else round(value, 1)
        if ms % MINUTE == 0:
            kind = "edge" if kind == "reading" else kind
            counts["on_minute_edge"] = counts.get("on_minute_edge", 0) + 1
        counts[kind] = counts.get(kind, 0) + 1
        readings.append(Reading(ms, names[s], value, kind=kind))
    counts["spells_hot"] = sum(sp.hot for sps in spells.values() for sp in sps)
    counts["spells_warm"] = sum(not sp.hot for sps in spells.values() for sp in sps)

    for reading in readings:
        reading.arrival = reading.ms + rng.uniform(0, disorder_ms)
    readings.sort(key=lambda r: (r.arrival, r.ms))
    lines: list[tuple[float, str]] = [(r.arrival, json.dumps(r.record())) for r in readings]

    # Late readings: just after an in-time arrival at least 6 minutes in, 1-5 minutes older
    # than that reading (so far behind the watermark). The first three are a hot burst of an
    # extra sensor with no other readings, inside one minute, arriving together.
    anchors = [r for r in readings if r.ms > 360_000] or readings
    late: list[Reading] = []
    if n_late >= 3:
        anchor = rng.choice(anchors)
        minute = (anchor.ms - rng.randint(60, 300) * 1000) // MINUTE * MINUTE
        sensor = f"s{args.sensors:03d}"
        for i, offset in enumerate(sorted(rng.sample(range(1_000, 59_000, 1_000), 3))):
            late.append(Reading(minute + offset, sensor, round(rng.uniform(45.0, 49.0), 1),
                                arrival=anchor.arrival + 0.01 * (i + 1), kind="late_hot"))
    while len(late) < n_late:
        anchor = rng.choice(anchors)
        late.append(Reading(anchor.ms - rng.randint(60_000, 300_000), rng.choice(names),
                            round(rng.uniform(15.0, 35.0), 1), arrival=anchor.arrival + 0.01,
                            kind="late"))
    for reading in late:
        counts[reading.kind] = counts.get(reading.kind, 0) + 1
    lines += [(r.arrival, json.dumps(r.record())) for r in late]

    for index in range(n_bad):
        anchor = rng.choice(readings)
        kind = MALFORMED[index % len(MALFORMED)]
        lines.append((anchor.arrival + 0.005, malformed_line(kind, rng, anchor)))
        counts[f"malformed_{kind}"] = counts.get(f"malformed_{kind}", 0) + 1

    lines.sort(key=lambda pair: pair[0])  # stable: ties keep the order they were added in
    return [text for _, text in lines], counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400, help="total lines (default 400)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sensors", type=int, default=100, help="number of sensor ids (default 100)")
    parser.add_argument("--out", default="-", help="output file (default: stdout)")
    parser.add_argument("--late-fraction", type=float, default=0.02)
    parser.add_argument("--disorder-seconds", type=float, default=6.0,
                        help="max arrival delay of in-time readings (at most the 10 s lateness)")
    parser.add_argument("--malformed-fraction", type=float, default=0.02)
    parser.add_argument("--in-order", action="store_true",
                        help="event-time order, no disorder and no late readings")
    args = parser.parse_args(argv)
    lines, counts = generate(args)
    text = "".join(line + "\n" for line in lines)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
    print(", ".join(f"{k}={v}" for k, v in counts.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
