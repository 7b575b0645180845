"""Replay speed of ``small_then_big`` against a plain hand-written Python loop.

Both read the same JSON-lines file with the same parser (orjson) in the same process and find
the same pairs: the loop keeps the previous event of each card in a dict; cep runs the real
``cep replay`` code path (reader, event-time driver, NFA, alert writer). Prints events/s for
each, the ratio, and the peak traced memory of each at two log lengths (memory must not grow
with the log's length).

    python benchmarks/bench_replay.py            # 1,000,000 transactions
    python benchmarks/bench_replay.py --events 200000 --repeat 1
"""

from __future__ import annotations

import argparse
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

from measure import peak_memory, timed  # benchmarks/measure.py: shared timing helpers

from cep.cli.main import main as cep_main

HERE = Path(__file__).resolve().parent
PATTERN = HERE.parent / "patterns" / "small_then_big.cep"
DATA = HERE / "data"


def make_log(path: Path, count: int, cards: int = 20_000, seed: int = 7) -> None:
    """In-order transactions, ISO-8601 times ~50 ms apart, with tiny and big charges sprinkled."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    t = 0
    with path.open("wb") as out:
        for _ in range(count):
            t += rng.randint(0, 100)
            ts = (start + timedelta(milliseconds=t)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            r = rng.random()
            amount = round(rng.uniform(0.01, 0.09), 2) if r < 0.03 else (
                round(rng.uniform(501, 3000), 2) if r < 0.06 else round(rng.uniform(1, 200), 2))
            card = f"c{rng.randrange(cards):05d}"
            out.write(orjson.dumps({"card_id": card, "amount": amount, "ts": ts, "merchant": "m42"}) + b"\n")


def plain_loop(path: Path) -> int:
    """What a developer would write by hand: strict pairs per card, within a minute."""
    loads = orjson.loads
    fromiso = datetime.fromisoformat
    previous: dict[str, tuple[float, float]] = {}
    alerts = 0
    with path.open("rb") as f:
        for line in f:
            e = loads(line)
            ts = fromiso(e["ts"]).timestamp() * 1000
            card = e["card_id"]
            amount = e["amount"]
            prev = previous.get(card)
            if prev is not None and amount > 500 and ts - prev[0] < 60_000:
                alerts += 1
                del previous[card]
                continue
            if amount < 0.10:
                previous[card] = (ts, amount)
            elif prev is not None:
                del previous[card]
    return alerts


def engine(path: Path) -> int:
    """``cep replay`` as a user runs it: the file reader, the detector, the alert writer."""
    out = DATA / "alerts.jsonl"
    code = cep_main(["replay", str(PATTERN), "--input", str(path), "--output", str(out), "--quiet"])
    if code != 0:
        raise SystemExit(f"cep replay failed with exit code {code}")
    with out.open("rb") as f:
        return sum(1 for _ in f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    path = DATA / f"transactions_{args.events}.jsonl"
    if not path.exists():
        make_log(path, args.events)
    (plain_s, plain_alerts), (cep_s, cep_alerts) = timed([plain_loop, engine], path, args.repeat)
    if plain_alerts != cep_alerts:
        raise SystemExit(f"results differ: plain loop {plain_alerts} alerts, cep {cep_alerts}")
    n = args.events
    print(f"small_then_big over {n:,} transactions ({plain_alerts:,} alerts, both agree)")
    print(f"  plain loop : {n / plain_s:>12,.0f} events/s")
    print(f"  cep replay : {n / cep_s:>12,.0f} events/s")
    print(f"  ratio      : {plain_s / cep_s:>12.2f} (cep speed / plain loop speed; goal >= 0.5)")
    if not args.no_memory:
        small = DATA / f"transactions_{n // 10}.jsonl"
        if not small.exists():
            make_log(small, n // 10)
        for label, fn in (("plain loop", plain_loop), ("cep replay", engine)):
            a, b = peak_memory(fn, small), peak_memory(fn, path)
            print(f"  peak memory {label}: {a / 2**20:6.1f} MiB at {n // 10:,} events, {b / 2**20:6.1f} MiB at {n:,}")


if __name__ == "__main__":
    main()
