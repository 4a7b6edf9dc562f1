"""What the configuration fuzz tests share: hostile YAML and one loan's year through the engine.

Random text rarely gets past a YAML parser's first line, so most cases here are
*mutated valid documents*: a shipped file read into plain data, a few keys
dropped, renamed or given values of the wrong type or an extreme size, dumped
again, and then perhaps damaged as text (a tag, an alias, a control character,
a cut). Those reach the schema checks and the engine, where the bugs live.

A loaded configuration is then run: `run_year` steps one ordinary loan (missed
installments, a partial repayment, a promise, account activity, daily ticks)
through the engine and serializes every output as the stream would, so a
configuration that loads but breaks judging is found too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import yaml
from hypothesis import strategies as st
from test_loan_builders import Book, at, monthly

from rules.core import Engine, LoanRecord, Tick
from rules.events import Event
from rules.pack import RulePack
from rules.policy import Policy
from rules.workflows import WorkflowPolicy

__all__ = [
    "config_texts",
    "damaged_text",
    "mutated_document",
    "replay_kept",
    "run_year",
    "yaml_text",
]

DISBURSED = date(2026, 1, 10)
NOW = datetime(2027, 6, 1, tzinfo=UTC)

ODD_TEXT = [
    "",
    " ",
    "\x00",
    "\t\n",
    "\ud800",
    "\u202e",
    "逾期",
    "yes",
    "null",
    "a" * 300,
    "../../etc/passwd",
    "America",
    "UTC",
    "Etc/GMT+12",
    "Etc/GMT-14",
    "Pacific/Kiritimati",
    "Australia/Lord_Howe",
    "America/Havana",
    "Factory",
    "localtime",
    "zone.tab",
    "Asia/Shanghai\n",
    "{loan.dpd}",
    "{loan.__class__}",
    "loan.dpd >= 30",
    "loan.dpd / 0 > 1",
    "round(1e308) * round(1e308) * loan.principal",
]
ODD_NUMBERS = [0, -1, 1, 2**31, 2**63, -(2**63) - 1, 10**30, -(10**30), 10**400]
ODD_FLOATS = [0.5, -0.0, 1e308, float("inf"), float("-inf"), float("nan")]

scalars = st.one_of(
    st.sampled_from(ODD_NUMBERS),
    st.integers(),
    st.sampled_from(ODD_FLOATS),
    st.sampled_from(ODD_TEXT),
    st.text(max_size=20),
    st.none(),
    st.booleans(),
    st.dates(),
)
odd_values = st.one_of(
    scalars,
    st.lists(scalars, max_size=4),
    st.dictionaries(st.text(max_size=8), scalars, max_size=3),
    st.tuples(scalars, st.integers(50, 3000)).map(lambda t: [t[0]] * t[1]),  # huge lists
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``node``, the root's own path first."""
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_paths(value, (*path, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_paths(value, (*path, index)))
    return found


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def _mutate_once(draw: st.DrawFn, document: Any) -> Any:
    """The document with one value dropped, retyped, repeated or replaced."""
    paths = _paths(document)
    path = draw(st.sampled_from(paths[1:] if len(paths) > 1 else paths))
    if not path:
        return draw(odd_values)
    parent, key = _get(document, path[:-1]), path[-1]
    value = parent[key]
    how = draw(st.sampled_from(["drop", "replace", "wrap", "repeat", "rename", "text"]))
    if how == "drop":
        del parent[key]
    elif how == "replace":
        parent[key] = draw(odd_values)
    elif how == "wrap":
        parent[key] = draw(st.sampled_from([[value], {"x": value}, {str(value): value}]))
    elif how == "repeat" and isinstance(parent, list):
        parent.extend([value] * draw(st.integers(1, 200)))
    elif how == "rename" and isinstance(parent, dict):
        parent[draw(st.one_of(st.text(max_size=12), st.sampled_from(ODD_TEXT)))] = parent.pop(key)
    else:
        parent[key] = str(value) + draw(st.sampled_from(ODD_TEXT + ["0", ".5", " x"]))
    return document


@st.composite
def mutated_document(draw: st.DrawFn, document: Any, most: int = 4) -> Any:
    """A deep copy of ``document`` (plain YAML data) after 1 to ``most`` mutations."""
    copy = yaml.safe_load(yaml.safe_dump(document, allow_unicode=True))
    for _ in range(draw(st.integers(1, most))):
        copy = draw(_mutate_once(copy))
    return copy


DAMAGE = [
    "!!int ",
    "!!float ",
    "!!timestamp ",
    "!!binary ",
    "!!python/object:os.system ",
    "&a ",
    "*a ",
    "<<: ",
    "? ",
    "\x07",
    "\ufeff",
    "[" * 200,
    "{a: " * 60,
    "\n---\n",
    "%YAML 1.1\n",
    '"\\ud800"',
    "\t",
    ": ",
    "- ",
    "#",
]


@st.composite
def damaged_text(draw: st.DrawFn, text: str) -> str:
    """``text`` with a few YAML-significant pieces inserted, or cut short."""
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.integers(0, len(text)))
        piece = draw(st.one_of(st.sampled_from(DAMAGE), st.text(max_size=6)))
        text = text[:where] + piece + text[where:]
    if draw(st.booleans()) and text:
        text = text[: draw(st.integers(0, len(text)))]
    return text


def yaml_text(document: Any) -> str:
    """``document`` as YAML text; values YAML cannot dump become their repr."""
    try:
        return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:
        return repr(document)


def config_texts(text: str, extra: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[str]:
    """Candidate files: random text, and ``text`` (a shipped file) mutated and damaged."""
    document = yaml.safe_load(text)
    return st.one_of(
        st.text(max_size=200),
        mutated_document(document).map(yaml_text),
        damaged_text(text),
        mutated_document(document).map(yaml_text).flatmap(damaged_text),
        *([] if extra is None else [extra]),
    )


def replay_kept(corpus: Any, target: str, check: Callable[[bytes], None]) -> None:
    """Run ``check`` on every input kept for ``target``, naming the file of a failure."""
    for name, data in corpus.cases(target):
        try:
            check(data)
        except Exception as exc:
            raise AssertionError(f"kept input {target}/{name} fails again") from exc


def _scenario() -> list[Event | Tick]:
    """One ordinary loan's year: paid, then late, a partial payment, a promise, account life."""
    book = Book("L-fuzz", "bw-fuzz")
    first_due = date(2026, 2, 10)
    events: list[Event | Tick] = [
        book.disbursed(at(DISBURSED), monthly(first_due, 12, 100_000, 1_500, 200))
    ]
    events.append(book.txn(at(date(2026, 1, 12)), "out", 60_000, "securities"))
    events.append(book.repay(at(date(2026, 2, 9)), 101_700))
    events.append(book.balance(at(date(2026, 3, 1)), 5_000))
    note = book.note(at(date(2026, 3, 20)), promise=(date(2026, 3, 25), 50_000))
    events.append(note)
    events.append(book.label(at(date(2026, 3, 21)), note, "promise_to_pay"))
    partial = book.repay(at(date(2026, 4, 2)), 30_000, third_party=True)
    events.append(partial.model_copy(update={"kind": "partial"}))
    events.append(book.txn(at(date(2026, 4, 5)), "in", 800_000, "salary"))
    ticks = [Tick("L-fuzz", DISBURSED + timedelta(days=n)) for n in range(1, 366)]
    return sorted(events + ticks, key=_day_of)


def _day_of(item: Event | Tick) -> tuple[date, int]:
    if isinstance(item, Tick):
        return item.on, 0  # the day's tick first, as the clock does
    return item.event_time.date(), 1


SCENARIO = _scenario()


def run_year(pack: RulePack, policy: Policy, workflows: WorkflowPolicy) -> LoanRecord | None:
    """Step `SCENARIO` through an engine of this configuration, serializing every output."""
    engine = Engine(pack, policy, workflows)
    record: LoanRecord | None = None
    for item in SCENARIO:
        record, result = engine.step(record, item, NOW)
        for warning in result.warnings:
            orjson.dumps(warning.to_dict())
        for transition in result.transitions:
            orjson.dumps(transition.to_dict())
        for action in result.actions:
            orjson.dumps(action.to_dict())
    if record is not None:
        LoanRecord.from_bytes(record.to_bytes())
    return record
