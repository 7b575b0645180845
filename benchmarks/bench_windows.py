"""Replay speed of window patterns against plain hand-written Python loops.

Two patterns over the same 1,000,000 in-order sensor readings (numeric epoch-ms ``ts``):

* ``overheating`` (patterns/overheating.cep): ``window tumbling 1m``, ``having avg(temperature)
  > 40``. The plain loop keeps one open window per sensor in a dict (start, sum, numbers,
  readings) and closes it when the sensor's next reading falls in a later minute.
* the same pattern with ``window rolling 1m`` (each reading with the sensor's readings of the
  minute up to it; the same ``having`` and ``emit``, so ``window.end`` is the reading's time).
  The plain loop keeps a deque per sensor and a running sum.

Everything runs in the same process and reads the same JSON-lines file with the same parser
(orjson); cep runs the real ``cep replay`` code path (reader, event-time driver, window
operator, alert writer), and the plain loops write the same alert records with orjson, so both
sides do the same job. Temperatures are quarter degrees, which binary floats hold exactly, so
sums are exact whatever the order of additions and removals and both sides must agree on every
alert: the counts are asserted equal after timing, and the alert records are compared in full.

Prints events/s for each, the ratio, the rolling run's speed also against the plain tumbling
loop (the baseline the issue names for both), and the peak traced memory of each at two log lengths
(memory must not grow with the log's length: state is per sensor, not per reading).

    python benchmarks/bench_windows.py            # 1,000,000 readings
    python benchmarks/bench_windows.py --events 200000 --repeat 1
"""

from __future__ import annotations

import argparse
import random
from collections import deque
from pathlib import Path

import orjson

from measure import peak_memory, timed  # benchmarks/measure.py: shared timing helpers

from cep.cli.main import main as cep_main

HERE = Path(__file__).resolve().parent
PATTERN = HERE.parent / "patterns" / "overheating.cep"
DATA = HERE / "data"
ROLLING = DATA / "overheating_rolling.cep"
START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
MINUTE = 60_000


def rolling_pattern() -> Path:
    """The canonical pattern with ``window rolling 1m`` instead of ``window tumbling 1m``
    (the pattern block only: the file's test blocks name ``overheating``)."""
    text = PATTERN.read_text().split("\ntest ")[0]
    text = text[text.index("pattern overheating"):]
    assert "window tumbling 1m" in text
    ROLLING.write_text("# Written by benchmarks/bench_windows.py from patterns/overheating.cep.\n"
                       + text.replace("window tumbling 1m", "window rolling 1m")
                       .replace("pattern overheating", "pattern overheating_rolling"))
    return ROLLING


def make_log(path: Path, count: int, sensors: int = 1_000, seed: int = 7) -> None:
    """In-order readings ~5 ms apart (each sensor every ~5 s), quarter degrees, hot spells.

    A sensor starts a hot spell (42-46 °C for 20-60 readings) with probability 1/1500 per
    reading; one reading in a thousand has a null temperature.
    """
    rng = random.Random(seed)
    names = [f"s{i:04d}" for i in range(sensors)]
    base = [rng.uniform(18.0, 30.0) for _ in range(sensors)]
    hot_left = [0] * sensors
    peak = [0.0] * sensors
    t = START_MS
    with path.open("wb") as out:
        for _ in range(count):
            t += rng.randint(0, 10)
            s = rng.randrange(sensors)
            if hot_left[s] == 0 and rng.random() < 1 / 1500:
                hot_left[s] = rng.randint(20, 60)
                peak[s] = rng.uniform(42.0, 46.0)
            if hot_left[s]:
                hot_left[s] -= 1
                value = peak[s] + rng.uniform(-2.5, 2.5)
            else:
                value = base[s] + rng.uniform(-3.0, 3.0)
            temperature = None if rng.random() < 0.001 else round(value * 4) / 4
            out.write(orjson.dumps({"sensor_id": names[s], "ts": t, "temperature": temperature}) + b"\n")


def plain_tumbling(path: Path) -> int:
    """What a developer would write by hand: one open window per sensor, in-order input."""
    loads = orjson.loads
    dumps = orjson.dumps
    newline = orjson.OPT_APPEND_NEWLINE
    windows: dict[str, list] = {}  # sensor -> [start, total, numbers, readings]
    alerts = 0
    with path.open("rb") as f, (DATA / "plain_tumbling.jsonl").open("wb") as out:
        write = out.write

        def close(sensor: str, w: list) -> None:
            nonlocal alerts
            if w[2] and w[1] / w[2] > 40:
                alerts += 1
                write(dumps({"pattern": "overheating", "key": sensor, "time": w[0] + MINUTE, "sensor_id": sensor,
                             "avg_temp": w[1] / w[2], "readings": w[3], "window_start": w[0],
                             "window_end": w[0] + MINUTE}, option=newline))

        for line in f:
            e = loads(line)
            ts = e["ts"]
            sensor = e["sensor_id"]
            start = ts - ts % MINUTE
            w = windows.get(sensor)
            if w is None or w[0] != start:
                if w is not None:
                    close(sensor, w)
                w = windows[sensor] = [start, 0, 0, 0]
            t = e.get("temperature")
            if t.__class__ is float or t.__class__ is int:
                w[1] += t
                w[2] += 1
            w[3] += 1
        for sensor, w in windows.items():
            close(sensor, w)
    return alerts


def plain_rolling(path: Path) -> int:
    """By hand: per sensor a deque of the last minute's readings and a running sum."""
    loads = orjson.loads
    dumps = orjson.dumps
    newline = orjson.OPT_APPEND_NEWLINE
    state: dict[str, list] = {}  # sensor -> [deque of (ts, temperature or None), total, numbers]
    alerts = 0
    with path.open("rb") as f, (DATA / "plain_rolling.jsonl").open("wb") as out:
        write = out.write
        for line in f:
            e = loads(line)
            ts = e["ts"]
            sensor = e["sensor_id"]
            st = state.get(sensor)
            if st is None:
                st = state[sensor] = [deque(), 0, 0]
            recent = st[0]
            t = e.get("temperature")
            if t.__class__ is float or t.__class__ is int:
                recent.append((ts, t))
                st[1] += t
                st[2] += 1
            else:
                recent.append((ts, None))
            horizon = ts - MINUTE
            while recent[0][0] < horizon:
                old = recent.popleft()[1]
                if old is not None:
                    st[1] -= old
                    st[2] -= 1
            if st[2] and st[1] / st[2] > 40:
                alerts += 1
                write(dumps({"pattern": "overheating_rolling", "key": sensor, "time": ts, "sensor_id": sensor,
                             "avg_temp": st[1] / st[2], "readings": len(recent), "window_start": horizon,
                             "window_end": ts}, option=newline))
    return alerts


def engine(pattern: Path, name: str):
    """``cep replay`` as a user runs it: the file reader, the detector, the alert writer."""
    out = DATA / f"cep_{name}.jsonl"

    def run(path: Path) -> int:
        code = cep_main(["replay", str(pattern), "--input", str(path), "--output", str(out), "--quiet"])
        if code != 0:
            raise SystemExit(f"cep replay failed with exit code {code}")
        with out.open("rb") as f:
            return sum(1 for _ in f)

    run.__name__ = f"cep_{name}"
    return run


def same_alerts(cep_file: Path, plain_file: Path, sort: bool) -> None:
    """Every alert record equal (tumbling: the plain loop closes windows in another order)."""
    cep_alerts = [orjson.loads(line) for line in cep_file.read_bytes().splitlines()]
    plain_alerts = [orjson.loads(line) for line in plain_file.read_bytes().splitlines()]
    if sort:
        order = lambda a: (a["window_end"], a["sensor_id"])  # noqa: E731
        cep_alerts.sort(key=order)
        plain_alerts.sort(key=order)
    if cep_alerts != plain_alerts:
        diff = next(i for i, (a, b) in enumerate(zip(cep_alerts, plain_alerts)) if a != b)
        raise SystemExit(f"alert {diff} differs: cep {cep_alerts[diff]}, plain loop {plain_alerts[diff]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    path = DATA / f"sensors_{args.events}.jsonl"
    if not path.exists():
        make_log(path, args.events)
    cep_tumbling = engine(PATTERN, "tumbling")
    cep_rolling = engine(rolling_pattern(), "rolling")
    cases = [("tumbling 1m (overheating)", plain_tumbling, cep_tumbling, True),
             ("rolling 1m", plain_rolling, cep_rolling, False)]
    fns = [fn for _, plain, cep, _ in cases for fn in (plain, cep)]
    results = timed(fns, path, args.repeat)
    n = args.events
    for index, (label, plain, cep, sort) in enumerate(cases):
        (plain_s, plain_alerts), (cep_s, cep_alerts) = results[2 * index], results[2 * index + 1]
        if plain_alerts != cep_alerts:
            raise SystemExit(f"{label}: results differ: plain loop {plain_alerts} alerts, cep {cep_alerts}")
        same_alerts(DATA / f"{cep.__name__}.jsonl", DATA / f"{plain.__name__}.jsonl", sort)
        print(f"{label} over {n:,} readings ({plain_alerts:,} alerts, both agree record for record)")
        print(f"  plain loop : {n / plain_s:>12,.0f} events/s")
        print(f"  cep replay : {n / cep_s:>12,.0f} events/s")
        print(f"  ratio      : {plain_s / cep_s:>12.2f} (cep speed / plain loop speed)")
        if index:  # the baseline for both patterns is the plain tumbling loop
            tumbling_s = results[0][0]
            print(f"  vs tumbling: {tumbling_s / cep_s:>12.2f} (cep rolling speed / plain tumbling loop speed)")
    if not args.no_memory:
        small = DATA / f"sensors_{n // 10}.jsonl"
        if not small.exists():
            make_log(small, n // 10)
        for label, plain, cep, _ in cases:
            print(f"  peak memory, {label}:")
            for who, fn in (("plain loop", plain), ("cep replay", cep)):
                a, b = peak_memory(fn, small), peak_memory(fn, path)
                print(f"    {who}: {a / 2**20:6.1f} MiB at {n // 10:,} events, {b / 2**20:6.1f} MiB at {n:,}")


if __name__ == "__main__":
    main()
