"""Rule packs: versioned YAML files of rules, validated whole and compiled once.

A pack is policy, written by risk staff and swapped into running workers
(hot reload over the ``risk.rules`` topic), so a bad pack must be refused
before it replaces a good one, with every problem named at once by file, line,
rule and key::

    rules/packs/x.yaml:14: rule dpd_30: condition: unknown name loan.dpdd (did you mean loan.dpd?)

The YAML is read with the safe loader's *node* API (`yaml.compose`), which
keeps the line of every key and value; values are built by hand from the
nodes against the pack's schema, never by a Python-object constructor.

A loaded `RulePack` is immutable and carries the SHA-256 ``digest`` of its
text, so each warning can record exactly which pack (and which ``rule.version``)
produced it. See docs/rules.md for the format.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeVar, get_args

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from rules.exceptions import RulesError
from rules.lang import (
    Condition,
    Expression,
    ExpressionError,
    Template,
    compile_condition,
    compile_expression,
    compile_template,
)
from rules.vocabulary import RuleContext
from rules.yaml_config import ConfigYamlError, compose, construct_scalar

__all__ = [
    "ACTION_KINDS",
    "DEFAULT_PACK",
    "SEVERITIES",
    "PackProblem",
    "Rule",
    "RuleAction",
    "RulePack",
    "RulePackError",
    "default_pack",
    "load_pack",
    "load_pack_text",
]

Severity = Literal["info", "low", "medium", "high", "critical"]
RuleKind = Literal["state", "event"]
ActionKind = Literal["collection_step", "review", "care_offer"]
Scalar = str | int | float | bool

SEVERITIES: tuple[Severity, ...] = get_args(Severity)
ACTION_KINDS: tuple[ActionKind, ...] = get_args(ActionKind)
DEFAULT_PACK = "rules/packs/default.yaml"
MAX_PACK_BYTES = 1_000_000
"""A pack arrives over Kafka too; refuse anything that is plainly not a rule pack."""

MAX_RULES = 500
"""Most rules a pack may hold (the built-in one has about 40); see `_Reader.rules`."""

_ID = re.compile(r"[a-z0-9_.-]+")
_TEAM = re.compile(r"[a-z0-9_-]+")
_PARAM = re.compile(r"[a-z_][a-z0-9_]*")
_REQUIRED = ("id", "version", "description", "condition", "severity", "message", "owner_team")
_OPTIONAL = ("episode_key", "cooldown_days", "action", "resolve_when")


@dataclass(frozen=True, slots=True)
class RuleAction:
    """What to do when the rule opens an episode: a review, a collection step, a care offer.

    ``name`` tells actions of one kind apart (and is part of the action's id);
    it defaults to the rule's id. ``params`` is a read-only mapping of scalars
    passed on to whoever carries the action out.
    """

    kind: ActionKind
    name: str
    params: Mapping[str, Scalar]

    def __hash__(self) -> int:
        return hash((self.kind, self.name, tuple(sorted(self.params.items()))))


@dataclass(frozen=True, slots=True)
class Rule:
    """One compiled rule.

    ``kind`` is ``event`` when the condition reads ``event.*`` (the rule
    describes a moment, such as a partial payment arriving: its episodes never
    resolve by themselves, only ``cooldown_days`` separates them), otherwise
    ``state`` (the rule describes a condition of the loan: its episode resolves
    when ``resolve_when`` holds, or by default when the condition turns false).
    ``line`` is where the rule starts in its pack's source.
    """

    id: str
    version: int
    description: str
    condition: Condition
    severity: Severity
    message: Template
    owner_team: str
    kind: RuleKind
    episode_key: Expression | None = None
    cooldown_days: int = 0
    action: RuleAction | None = None
    resolve_when: Condition | None = None
    line: int = 0

    def render_message(self, ctx: RuleContext) -> str:
        """The warning's text for this context (never raises)."""
        return self.message.render(ctx)


@dataclass(frozen=True, slots=True)
class RulePack:
    """An immutable, validated set of rules; swapped whole on hot reload.

    ``digest`` is the SHA-256 of the pack's text; ``by_id`` looks rules up.
    """

    name: str
    version: int
    rules: tuple[Rule, ...]
    source: str
    digest: str
    by_id: Mapping[str, Rule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", MappingProxyType({rule.id: rule for rule in self.rules}))


@dataclass(frozen=True, slots=True)
class PackProblem:
    """One thing wrong with a pack: where (line, rule, key) and why."""

    reason: str
    line: int | None = None
    rule_id: str | None = None
    key: str | None = None
    rule_index: int | None = None
    """1-based position in ``rules``: names a rule whose id is missing."""

    def render(self, source: str) -> str:
        where = source if self.line is None else f"{source}:{self.line}"
        label = self.rule_id or (f"#{self.rule_index}" if self.rule_index else None)
        rule = f" rule {label}:" if label else ""
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{rule}{key} {self.reason}"


class RulePackError(RulesError):
    """A pack was refused; ``problems`` lists everything wrong, in line order.

    ``line`` and ``rule_id`` are those of the first problem, for callers that
    show only one.
    """

    def __init__(self, source: str, problems: list[PackProblem] | tuple[PackProblem, ...]) -> None:
        if not problems:
            raise ValueError("RulePackError needs at least one problem")
        self.source = source
        self.problems = tuple(sorted(problems, key=lambda p: p.line or 0))
        self.line = self.problems[0].line
        self.rule_id = self.problems[0].rule_id
        super().__init__("\n".join(problem.render(source) for problem in self.problems))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.source, self.problems))


def load_pack_text(text: str, source: str = "<string>") -> RulePack:
    """Validate and compile a pack from its YAML text; ``source`` names it in errors.

    >>> pack = load_pack_text('''
    ... pack: {name: demo, version: 1}
    ... rules:
    ...   - id: dpd_30
    ...     version: 1
    ...     description: Thirty days past due.
    ...     condition: loan.dpd >= 30
    ...     severity: high
    ...     message: "DPD {loan.dpd}"
    ...     owner_team: collections
    ... ''')
    >>> pack.rules[0].kind, pack.by_id["dpd_30"].severity, len(pack.digest)
    ('state', 'high', 64)
    """
    if not _is_unicode(text):
        raise RulePackError(source, [PackProblem("not UTF-8 text: it holds a lone surrogate")])
    data = text.encode("utf-8")
    if len(data) > MAX_PACK_BYTES:
        raise RulePackError(source, [PackProblem(f"larger than {MAX_PACK_BYTES} bytes")])
    reader = _Reader()
    pack = reader.read(text, source, hashlib.sha256(data).hexdigest())
    if reader.problems or pack is None:
        raise RulePackError(source, reader.problems or [PackProblem("not a rule pack")])
    return pack


def load_pack(path: str | Path) -> RulePack:
    """Load a pack file; errors name ``path`` and the line."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RulePackError(str(path), [PackProblem(f"not UTF-8: {exc.reason}")]) from None
    return load_pack_text(text, source=str(path))


def default_pack() -> RulePack:
    """The built-in pack shipped with the package (``rules/packs/default.yaml``)."""
    text = resources.files("rules").joinpath("packs", "default.yaml").read_text(encoding="utf-8")
    return load_pack_text(text, source=DEFAULT_PACK)


_Entries = dict[str, tuple[Node, Node]]
_T = TypeVar("_T")


class _Reader:
    """Walks the composed YAML against the pack schema, collecting every problem."""

    def __init__(self) -> None:
        self.problems: list[PackProblem] = []
        self.rule_id: str | None = None
        self.rule_index: int | None = None
        self.first_line_of_id: dict[str, int] = {}

    # -- plumbing ---------------------------------------------------------------

    def problem(self, reason: str, node: Node | None, key: str | None) -> None:
        line = None if node is None else node.start_mark.line + 1
        self.problems.append(PackProblem(reason, line, self.rule_id, key, self.rule_index))

    def scalar(self, node: Node, key: str | None) -> Any:
        if not isinstance(node, ScalarNode):
            kind = "a list" if isinstance(node, SequenceNode) else "a mapping"
            self.problem(f"must be a single value, not {kind}", node, key)
            return _INVALID
        try:
            value = construct_scalar(node)
        except ConfigYamlError as exc:
            self.problem(f"cannot read value: {exc.reason}", node, key)
            return _INVALID
        if isinstance(value, str) and not _is_unicode(value):
            # "\ud800" in a quoted YAML string: no UTF-8 output could carry it.
            self.problem("text holds a lone surrogate (\\ud800-\\udfff)", node, key)
            return _INVALID
        return value

    def mapping(
        self,
        node: Node,
        key: str | None,
        required: tuple[str, ...],
        optional: tuple[str, ...] = (),
        *,
        open_ended: bool = False,
    ) -> _Entries | None:
        """The mapping's entries by key; unknown keys are refused unless ``open_ended``."""
        if not isinstance(node, MappingNode):
            self.problem("must be a mapping of keys to values", node, key)
            return None
        entries: _Entries = {}
        for key_node, value_node in node.value:
            name = self.scalar(key_node, key)
            if name is _INVALID:
                continue
            if not isinstance(name, str):
                self.problem(f"keys must be text, not {name!r}", key_node, key)
                continue
            where = f"{key}.{name}" if key else name
            if name in entries:
                first = entries[name][0].start_mark.line + 1
                self.problem(f"duplicate key (first at line {first})", key_node, where)
                continue
            if not open_ended and name not in required and name not in optional:
                hint = difflib.get_close_matches(name, required + optional, n=1)
                suffix = f" (did you mean {hint[0]}?)" if hint else ""
                self.problem(f"unknown key{suffix}", key_node, where)
                continue
            entries[name] = (key_node, value_node)
        for name in required:
            if name not in entries:
                self.problem(f"missing key {name}", node, key)
        return entries

    def text(
        self,
        entries: _Entries,
        key: str,
        pattern: re.Pattern[str] | None = None,
        *,
        label: str | None = None,
    ) -> str | None:
        if key not in entries:
            return None
        node, label = entries[key][1], label or key
        value = self.scalar(node, label)
        if value is _INVALID:
            return None
        if not isinstance(value, str) or not value.strip():
            # YAML 1.1 reads yes/no/on/off as booleans: say so, it is a classic trap.
            hint = " (quote it if you meant the word)" if isinstance(value, bool) else ""
            self.problem(f"must be non-empty text, not {value!r}{hint}", node, label)
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self.problem(f"{value!r} must match {pattern.pattern}", node, label)
            return None
        return value

    def integer(
        self, entries: _Entries, key: str, minimum: int, *, label: str | None = None
    ) -> int | None:
        if key not in entries:
            return None
        node, label = entries[key][1], label or key
        value = self.scalar(node, label)
        if value is _INVALID:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.problem(f"must be a whole number >= {minimum}, not {value!r}", node, label)
            return None
        return value

    def compiled(self, entries: _Entries, key: str, compiler: Callable[[str], _T]) -> _T | None:
        """Compile the text at ``key``; a refusal is recorded as a problem, not raised."""
        text = self.text(entries, key)
        if text is None:
            return None
        try:
            return compiler(text)
        except ExpressionError as exc:
            self.problem(exc.reason, entries[key][1], key)
            return None

    # -- the schema -------------------------------------------------------------

    def read(self, text: str, source: str, digest: str) -> RulePack | None:
        try:
            root = compose(text)
        except ConfigYamlError as exc:
            self.problems.append(PackProblem(f"not valid YAML: {exc.reason}", exc.line))
            return None
        if root is None:
            self.problems.append(PackProblem("empty pack: expected the keys pack and rules"))
            return None
        top = self.mapping(root, None, ("pack", "rules"))
        if top is None:
            return None
        header = self.header(top["pack"][1]) if "pack" in top else None
        rules = self.rules(top["rules"][1]) if "rules" in top else ()
        if header is None or self.problems:
            return None
        return RulePack(header[0], header[1], rules, source, digest)

    def header(self, node: Node) -> tuple[str, int] | None:
        entries = self.mapping(node, "pack", ("name", "version"))
        if entries is None:
            return None
        name = self.text(entries, "name", _ID, label="pack.name")
        version = self.integer(entries, "version", 1, label="pack.version")
        return None if name is None or version is None else (name, version)

    def rules(self, node: Node) -> tuple[Rule, ...]:
        if not isinstance(node, SequenceNode):
            self.problem("must be a list of rules", node, "rules")
            return ()
        if len(node.value) > MAX_RULES:
            # Checked before compiling any: YAML aliases make a short text list a rule
            # many thousands of times, and a live pack must never stall a worker.
            self.problem(f"has {len(node.value)} rules, more than {MAX_RULES}", node, "rules")
            return ()
        rules = []
        for index, item in enumerate(node.value, start=1):
            self.rule_id, self.rule_index = _peek_id(item), index
            rule = self.rule(item)
            if rule is not None:
                rules.append(rule)
        self.rule_id = self.rule_index = None
        return tuple(rules)

    def rule(self, node: Node) -> Rule | None:
        entries = self.mapping(node, None, _REQUIRED, _OPTIONAL)
        if entries is None:
            return None
        rule_id = self.text(entries, "id", _ID)
        if rule_id is not None:
            id_node = entries["id"][1]
            if rule_id in self.first_line_of_id:
                first = self.first_line_of_id[rule_id]
                self.problem(f"duplicate id (first at line {first})", id_node, "id")
                rule_id = None
            else:
                self.first_line_of_id[rule_id] = id_node.start_mark.line + 1
        version = self.integer(entries, "version", 1)
        description = self.text(entries, "description")
        severity = self.text(entries, "severity")
        if severity is not None and severity not in SEVERITIES:
            self.problem(
                f"bad severity {severity!r} (one of {', '.join(SEVERITIES)})",
                entries["severity"][1],
                "severity",
            )
            severity = None
        owner_team = self.text(entries, "owner_team", _TEAM)
        cooldown = self.integer(entries, "cooldown_days", 0) if "cooldown_days" in entries else 0
        condition = self.compiled(entries, "condition", compile_condition)
        message = self.compiled(entries, "message", compile_template)
        episode_key = self.compiled(entries, "episode_key", compile_expression)
        resolve_when = self.compiled(entries, "resolve_when", compile_condition)
        action = self.action(entries["action"][1], rule_id) if "action" in entries else None
        kind: RuleKind = "event" if condition is not None and condition.uses_event else "state"
        if condition is not None and kind == "event" and "resolve_when" in entries:
            self.problem(
                "event rules (the condition reads event.*) never resolve by themselves;"
                " remove resolve_when and let cooldown_days separate episodes",
                entries["resolve_when"][1],
                "resolve_when",
            )
            resolve_when = None
        if condition is not None and kind == "state" and episode_key and episode_key.uses_event:
            self.problem(
                "a state rule's episode key must not read event.*: it would change with"
                " every event and close the episode",
                entries["episode_key"][1],
                "episode_key",
            )
            episode_key = None
        optional_failed = any(
            key in entries and value is None
            for key, value in (
                ("action", action),
                ("episode_key", episode_key),
                ("resolve_when", resolve_when),
            )
        )
        if (
            rule_id is None
            or version is None
            or description is None
            or condition is None
            or severity is None
            or message is None
            or owner_team is None
            or cooldown is None
            or optional_failed
        ):
            return None
        return Rule(
            id=rule_id,
            version=version,
            description=" ".join(description.split()),
            condition=condition,
            severity=severity,
            message=message,
            owner_team=owner_team,
            kind=kind,
            episode_key=episode_key,
            cooldown_days=cooldown,
            action=action,
            resolve_when=resolve_when,
            line=node.start_mark.line + 1,
        )

    def action(self, node: Node, rule_id: str | None) -> RuleAction | None:
        entries = self.mapping(node, "action", ("kind",), open_ended=True)
        if entries is None:
            return None
        kind = self.text(entries, "kind", label="action.kind")
        if kind is not None and kind not in ACTION_KINDS:
            self.problem(
                f"bad kind {kind!r} (one of {', '.join(ACTION_KINDS)})",
                entries["kind"][1],
                "action.kind",
            )
            kind = None
        name = rule_id
        if "name" in entries:
            name = self.text(entries, "name", _ID, label="action.name")
        ok = True
        params: dict[str, Scalar] = {}
        for key, (key_node, value_node) in entries.items():
            if key in ("kind", "name"):
                continue
            where = f"action.{key}"
            value = self.scalar(value_node, where)
            if value is _INVALID:
                ok = False
            elif not _PARAM.fullmatch(key):
                self.problem(f"parameter names must match {_PARAM.pattern}", key_node, where)
                ok = False
            elif value is None or not isinstance(value, str | int | float | bool):
                self.problem(
                    f"parameters must be text, numbers or true/false, not {value!r}",
                    value_node,
                    where,
                )
                ok = False
            else:
                params[key] = value
        if not ok or kind is None or name is None:
            return None
        return RuleAction(kind, name, MappingProxyType(params))


class _Invalid:
    """Marks a value already reported as unreadable, so it is not reported twice."""


_INVALID: Any = _Invalid()


def _is_unicode(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (Python strings may hold lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _peek_id(node: Node) -> str | None:
    """The rule's id as written, so problems found before it is checked can name the rule."""
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if (
                isinstance(key_node, ScalarNode)
                and key_node.value == "id"
                and isinstance(value_node, ScalarNode)
                and value_node.value.strip()
            ):
                return str(value_node.value)
    return None
