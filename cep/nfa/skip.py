"""After-match skip strategies: which partial matches a completed match removes.

Each strategy picks a *pruning point* (an event sequence number) from the match and says
whether a partial match that started at a given event must go. Sequence numbers order events
as the matcher saw them (event time, ties by arrival), like Flink's EventId.

| strategy      | pruning point                  | prunes partial matches starting |
|---------------|--------------------------------|---------------------------------|
| none          | —                              | nothing                         |
| to next       | first event of the match       | at or before it                 |
| past last     | last event of the match        | at or before it                 |
| to first VAR  | first event taken into VAR     | before it                       |
| to last VAR   | last event taken into VAR      | before it                       |

When VAR took no event in the match, nothing is pruned (Flink's default, "no skip" on a miss).
"""

from __future__ import annotations

from cep.nfa.buffer import BufferNode, iter_back
from cep.nfa.spec import SkipKind, SkipStrategy


def pruning_point(strategy: SkipStrategy, last: BufferNode) -> tuple[int, bool] | None:
    """(sequence number, inclusive) for a match ending at ``last``; None to prune nothing."""
    kind = strategy.kind
    if kind is SkipKind.PAST_LAST:
        return last.seq, True
    if kind is SkipKind.TO_NEXT:
        first = last
        for node in iter_back(last):
            first = node
        return first.seq, True
    if kind is SkipKind.TO_FIRST:
        found = None
        for node in iter_back(last):
            if node.var == strategy.var:
                found = node
        return (found.seq, False) if found is not None else None
    if kind is SkipKind.TO_LAST:
        for node in iter_back(last):
            if node.var == strategy.var:
                return node.seq, False
        return None
    return None


def should_prune(start_seq: int, point: tuple[int, bool]) -> bool:
    seq, inclusive = point
    return start_seq <= seq if inclusive else start_seq < seq
