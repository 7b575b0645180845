"""Generate a deterministic log of card transactions for ``small_then_big`` (samples/README.md).

``samples/transactions.jsonl`` is this script's output for::

    python samples/make_transactions.py --count 300 --seed 7 --cards 40 \\
        --late-fraction 0.02 --disorder-seconds 4 --malformed-fraction 0.02 \\
        --out samples/transactions.jsonl

(those are also the defaults, apart from ``--out``, which defaults to stdout).

What goes in, all ordered by arrival (the order of the lines):

* background charges: 1.00-300.00 on random cards, so never small (< 0.10) nor big (> 500);
  event times a few seconds apart, some with milliseconds (``...T00:00:20.250Z``);
* planted scenarios, cycling through the kinds in ``SCENARIOS`` (hits and near misses); the
  card of a scenario gets no other event inside the scenario, so each means what it says;
* arrival disorder: every in-time event arrives up to ``--disorder-seconds`` after its event
  time, so lines are shuffled within that bound (keep it under the pattern's 5 s lateness,
  then no in-time event is late); one scenario kind forces the big charge to arrive before
  its small one;
* late events, one to five minutes older than the newest event already seen, including a
  small-then-big pair that would match if it were in time;
* malformed lines cycling through ``MALFORMED``.

``--in-order`` writes lines in event-time order with no late events (disorder 0). The run
prints a summary of what it wrote to stderr. Only the stdlib is used, so the script runs
anywhere, and the same arguments always give the same bytes.
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
MERCHANTS = [
    "Corner Coffee", "Metro Grocery", "Fuel Stop 24", "Book Nook", "Pixel Games",
    "City Parking", "Green Pharmacy", "Noodle Bar", "Sky Airlines", "Electro World",
    "Daily Bakery", "Streamly", "Hotel Aurora", "Cab Co", "Jewel Box",
]
SMALL_AMOUNTS = [0.01, 0.02, 0.05, 0.07, 0.09]

# kind -> what it shows; "alert" says whether small_then_big should fire.
SCENARIOS = {
    "hit": "small then big 5-50 s later on the same card: alert",
    "hit_59_999": "small then big 59.999 s later: alert (within is < 1m)",
    "hit_swapped": "small then big 2 s later, but the big one arrives first: alert",
    "miss_61s": "small then big 61-90 s later: no alert",
    "miss_60s": "small then big exactly 60.000 s later: no alert",
    "miss_between": "small, a medium charge, then big, same card: no alert (next is strict)",
    "miss_other_card": "small on one card, big on another seconds later: no alert",
}
MALFORMED = ["truncated", "text", "array", "no_ts", "bad_ts", "no_card_id"]


@dataclass
class Event:
    ms: int  # event time, ms after START
    card: str
    amount: float | int
    merchant: str
    precise: bool  # write milliseconds in ts
    arrival: float = 0.0  # ms after START; lines are sorted by it
    kind: str = "background"

    def record(self) -> dict:
        return {"card_id": self.card, "amount": self.amount, "ts": iso(self.ms, self.precise),
                "merchant": self.merchant}


def iso(ms: int, precise: bool) -> str:
    moment = START + timedelta(milliseconds=ms)
    if precise or ms % 1000:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Cards:
    """Which card is busy when, so scenarios and background never step on each other."""

    def __init__(self, count: int):
        self.names = [f"c{i:04d}" for i in range(count)]
        # Per card, busy spans sorted by start; they never overlap (reserve keeps a margin).
        self.busy: dict[str, list[tuple[int, int]]] = {name: [] for name in self.names}

    def free(self, card: str, start: int, end: int) -> bool:
        spans = self.busy[card]
        at = bisect.bisect_right(spans, (end, end))  # spans starting at or before ``end``
        return at == 0 or spans[at - 1][1] < start

    def reserve(self, rng: random.Random, start: int, end: int, margin: int = 61_000) -> str:
        """A card with nothing within ``margin`` of [start, end]; the span becomes busy."""
        candidates = [c for c in self.names if self.free(c, start - margin, end + margin)]
        if not candidates:
            raise SystemExit("not enough cards for the scenarios; raise --cards")
        card = rng.choice(candidates)
        bisect.insort(self.busy[card], (start, end))
        return card


def amount(rng: random.Random) -> float | int:
    if rng.random() < 0.2:
        return rng.randint(2, 300)
    return round(rng.uniform(1.0, 300.0), 2)


def big_amount(rng: random.Random) -> float | int:
    return rng.choice([round(rng.uniform(501.0, 2500.0), 2), rng.randint(600, 3000)])


def plant(kind: str, at: int, rng: random.Random, cards: Cards) -> list[Event]:
    """The events of one scenario starting at ``at`` ms."""
    small = rng.choice(SMALL_AMOUNTS)
    merchant = rng.choice(MERCHANTS)
    if kind in ("hit", "hit_59_999", "hit_swapped", "miss_61s", "miss_60s"):
        gap = {"hit": rng.randint(5, 50) * 1000, "hit_59_999": 59_999, "hit_swapped": 2_000,
               "miss_61s": rng.randint(61, 90) * 1000, "miss_60s": 60_000}[kind]
        precise = kind in ("hit_59_999", "miss_60s")
        at += 250 if precise else 0
        card = cards.reserve(rng, at, at + gap)
        return [Event(at, card, small, merchant, precise, kind=kind),
                Event(at + gap, card, big_amount(rng), rng.choice(MERCHANTS), precise, kind=kind)]
    if kind == "miss_between":
        card = cards.reserve(rng, at, at + 30_000)
        return [Event(at, card, small, merchant, False, kind=kind),
                Event(at + 12_000, card, amount(rng), rng.choice(MERCHANTS), False, kind=kind),
                Event(at + 30_000, card, big_amount(rng), rng.choice(MERCHANTS), False, kind=kind)]
    if kind == "miss_other_card":
        # The small card must not see a big within a minute after, the big card not a small
        # within a minute before: reserve both for a minute around the pair.
        first = cards.reserve(rng, at, at + 10_000 + 61_000)
        second = cards.reserve(rng, at + 10_000 - 61_000, at + 10_000)
        return [Event(at, first, small, merchant, False, kind=kind),
                Event(at + 10_000, second, big_amount(rng), rng.choice(MERCHANTS), False, kind=kind)]
    raise ValueError(kind)


def malformed_line(kind: str, rng: random.Random, ms: int, card: str) -> str:
    good = {"card_id": card, "amount": amount(rng), "ts": iso(ms, False),
            "merchant": rng.choice(MERCHANTS)}
    if kind == "truncated":
        text = json.dumps(good)
        return text[: len(text) // 2 + rng.randint(-5, 5)]
    if kind == "text":
        return rng.choice(["ERROR upstream timeout while exporting batch 17",
                           "-- export resumed --", "card_id,amount,ts,merchant"])
    if kind == "array":
        return json.dumps([good["card_id"], good["amount"], good["ts"]])
    if kind == "no_ts":
        del good["ts"]
    elif kind == "bad_ts":
        good["ts"] = "not a time"
    elif kind == "no_card_id":
        del good["card_id"]
    return json.dumps(good)


def generate(args: argparse.Namespace) -> tuple[list[str], dict[str, int]]:
    rng = random.Random(args.seed)
    cards = Cards(args.cards)
    disorder_ms = 0 if args.in_order else int(args.disorder_seconds * 1000)
    n_late = 0 if args.in_order else round(args.count * args.late_fraction)
    n_bad = round(args.count * args.malformed_fraction)
    n_scenarios = len(SCENARIOS) * max(1, round(args.count / 150))  # every kind, equally
    kinds = [list(SCENARIOS)[i % len(SCENARIOS)] for i in range(n_scenarios)]
    n_planted = sum(3 if k == "miss_between" else 2 for k in kinds)
    n_background = args.count - n_late - n_bad - n_planted
    if n_background < 0:
        raise SystemExit("--count too small for the scenarios, late and malformed lines")

    span = max(n_background + n_planted, 1) * 2_000  # about 2 s between events
    events: list[Event] = []
    for index, kind in enumerate(kinds):
        at = (index + 1) * span // (n_scenarios + 1) // 1000 * 1000
        events.extend(plant(kind, at, rng, cards))
    taken = {e.ms for e in events}
    for _ in range(n_background):
        ms = rng.randrange(0, span)
        precise = rng.random() < 0.3
        if not precise:
            ms -= ms % 1000
        while ms in taken:
            ms += 1 if precise else 1000
        taken.add(ms)
        free = [c for c in cards.names if cards.free(c, ms, ms)]
        events.append(Event(ms, rng.choice(free), amount(rng), rng.choice(MERCHANTS), precise))

    for event in events:
        event.arrival = event.ms + rng.uniform(0, disorder_ms)
    for small, big in zip(events, events[1:]):
        if small.kind == big.kind == "hit_swapped" and small.card == big.card:
            small.arrival = small.ms + 0.9 * disorder_ms  # > big.ms (2 s later) if disorder > 2.3 s
            big.arrival = big.ms
    events.sort(key=lambda e: (e.arrival, e.ms))

    lines: list[tuple[float, str]] = [(e.arrival, json.dumps(e.record())) for e in events]
    counts = {"background": n_background, "late": n_late, "malformed": n_bad}
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1

    # Late events: placed just after an in-time arrival at least 6 minutes in, 1-5 minutes
    # older than that event (so far older than anything seen); the first two are a pair that
    # would match if they were in time.
    anchors = [e for e in events if e.ms > 360_000] or events
    late_events: list[Event] = []
    if n_late >= 2:
        anchor = rng.choice(anchors)
        old = anchor.ms - rng.randint(60, 300) * 1000
        # A card with no other event near the pair, so in time it really would match.
        near = {e.card for e in events if old - 61_000 <= e.ms <= old + 81_000}
        card = rng.choice([c for c in cards.names if c not in near])
        late_events += [Event(old, card, rng.choice(SMALL_AMOUNTS), rng.choice(MERCHANTS), False,
                              arrival=anchor.arrival + 0.1, kind="late_pair"),
                        Event(old + 20_000, card, big_amount(rng), rng.choice(MERCHANTS), False,
                              arrival=anchor.arrival + 0.2, kind="late_pair")]
    while len(late_events) < n_late:
        anchor = rng.choice(anchors)
        old = anchor.ms - rng.randint(60, 300) * 1000
        late_events.append(Event(old, rng.choice(cards.names), amount(rng),
                                 rng.choice(MERCHANTS), rng.random() < 0.3,
                                 arrival=anchor.arrival + 0.1, kind="late"))
    lines += [(e.arrival, json.dumps(e.record())) for e in late_events]

    for index in range(n_bad):
        anchor = rng.choice(events)
        kind = MALFORMED[index % len(MALFORMED)]
        lines.append((anchor.arrival + 0.05, malformed_line(kind, rng, anchor.ms, anchor.card)))
        counts[f"malformed_{kind}"] = counts.get(f"malformed_{kind}", 0) + 1

    lines.sort(key=lambda pair: pair[0])  # stable: ties keep the order they were added in
    return [text for _, text in lines], counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="total lines (default 300)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cards", type=int, default=40, help="number of card ids")
    parser.add_argument("--out", default="-", help="output file (default: stdout)")
    parser.add_argument("--late-fraction", type=float, default=0.02)
    parser.add_argument("--disorder-seconds", type=float, default=4.0,
                        help="max arrival delay of in-time events (keep below lateness)")
    parser.add_argument("--malformed-fraction", type=float, default=0.02)
    parser.add_argument("--in-order", action="store_true",
                        help="event-time order, no disorder and no late events")
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
