"""Which event types can make a condition true, read from its parse tree at load.

An event rule is judged on every event, yet most of them test ``event.type``
first: ``event.type == "repayment_received" and event.kind == "partial"`` is
false for the account transactions that make up most of the stream. Knowing
that at load lets the engine skip the rule without evaluating it. The answer
must never be too small: a type left out is a type on which the rule would
have fired and is now silently skipped, so anything not understood here
answers ``None`` (every type).

>>> from rules.lang.parse import parse
>>> sorted(event_types(parse('event.type == "repayment_received" and event.amount > 5')))
['repayment_received']
>>> sorted(event_types(parse('event.type in ("a", "b") or event.type == "c"')))
['a', 'b', 'c']
>>> event_types(parse('event.type != "a"')) is None
True
>>> event_types(parse('event.type == "a" or event.amount > 5')) is None
True
"""

from __future__ import annotations

from rules.lang.parse import Compare, Const, Logic, Member, Name, Node

__all__ = ["event_types"]

_TYPE = "event.type"


def event_types(node: Node) -> frozenset[str] | None:
    """The event types on which ``node`` can be true, or ``None`` for any type."""
    if isinstance(node, Logic):
        parts = [event_types(operand) for operand in node.operands]
        if node.op == "and":
            known = [part for part in parts if part is not None]
            return frozenset.intersection(*known) if known else None
        if any(part is None for part in parts):
            return None
        return frozenset().union(*(part for part in parts if part is not None))
    if isinstance(node, Member) and not node.negated and _is_type(node.operand):
        return frozenset(const.value for const in node.values if isinstance(const.value, str))
    if isinstance(node, Compare):
        found: frozenset[str] | None = None
        pairs = zip(node.operands, node.operands[1:], strict=False)
        for op, (left, right) in zip(node.ops, pairs, strict=True):
            if op != "==":
                continue
            for name, value in ((left, right), (right, left)):
                if _is_type(name) and isinstance(value, Const) and isinstance(value.value, str):
                    one = frozenset((value.value,))
                    found = one if found is None else found & one
        return found
    return None


def _is_type(node: Node) -> bool:
    return isinstance(node, Name) and node.name == _TYPE
