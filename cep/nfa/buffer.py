"""The shared buffer: matched events stored once, shared by every partial match that uses them.

A partial match is a pointer to its newest :class:`BufferNode`; each node points to the node
before it. Branching (``then any``, loops, optional elements) makes new nodes that point at the
same predecessor, so runs share their common prefix instead of copying event lists — the
persistent-list form of Flink's SharedBuffer (SASE+ / NFA^b). Python's garbage collector
reclaims a prefix when the last run using it is gone, so there is no manual reference counting.
"""

from __future__ import annotations

from typing import Any, Iterator


class BufferNode:
    """One matched event: the variable it was taken into, the event, its time and sequence."""

    __slots__ = ("var", "event", "ts", "seq", "prev")

    def __init__(self, var: str, event: Any, ts: int, seq: int, prev: "BufferNode | None") -> None:
        self.var = var
        self.event = event
        self.ts = ts
        self.seq = seq
        self.prev = prev

    def __repr__(self) -> str:
        return f"BufferNode({self.var!r}, seq={self.seq})"


def chain(node: BufferNode | None) -> list[BufferNode]:
    """The nodes of a partial match, oldest first."""
    nodes: list[BufferNode] = []
    while node is not None:
        nodes.append(node)
        node = node.prev
    nodes.reverse()
    return nodes


def iter_back(node: BufferNode | None) -> Iterator[BufferNode]:
    while node is not None:
        yield node
        node = node.prev


def last_event_of(node: BufferNode | None, var: str) -> Any:
    """The newest event taken into ``var`` (what ``VAR.field`` reads in a condition), or None."""
    while node is not None:
        if node.var == var:
            return node.event
        node = node.prev
    return None


def events_by_variable(node: BufferNode | None, order: tuple[str, ...] = ()) -> dict[str, list[Any]]:
    """Materialise a match: each variable's events in order; variables in pattern order."""
    grouped: dict[str, list[Any]] = {name: [] for name in order}
    for n in chain(node):
        grouped.setdefault(n.var, []).append(n.event)
    return {name: events for name, events in grouped.items() if events}


class NodeEncoder:
    """Turn node graphs into JSON-able lists, each node and each event written once.

    Used by snapshots: many runs share prefixes, and the encoding keeps that sharing so a
    restored state has the same structure (and the same memory use) as the original.
    """

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.nodes: list[list[Any]] = []
        self._event_ids: dict[int, int] = {}
        self._node_ids: dict[int, int] = {}

    def encode(self, node: BufferNode | None) -> int:
        if node is None:
            return -1
        pending: list[BufferNode] = []
        current: BufferNode | None = node
        while current is not None and id(current) not in self._node_ids:
            pending.append(current)
            current = current.prev
        for n in reversed(pending):
            event_id = self._event_ids.get(id(n.event))
            if event_id is None:
                event_id = self._event_ids[id(n.event)] = len(self.events)
                self.events.append(n.event)
            prev_id = -1 if n.prev is None else self._node_ids[id(n.prev)]
            self._node_ids[id(n)] = len(self.nodes)
            self.nodes.append([n.var, event_id, n.ts, n.seq, prev_id])
        return self._node_ids[id(node)]


def decode_nodes(nodes: list[list[Any]], events: list[Any]) -> list[BufferNode]:
    """Inverse of :class:`NodeEncoder`: node ids index the returned list."""
    built: list[BufferNode] = []
    for var, event_id, ts, seq, prev_id in nodes:
        prev = None if prev_id < 0 else built[prev_id]
        built.append(BufferNode(var, events[event_id], ts, seq, prev))
    return built
