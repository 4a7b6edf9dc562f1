"""Reading configuration YAML (rule packs, policies, workflows, alert routing) safely.

A rule pack also arrives live over a Kafka topic, and a policy file is edited
by hand, so the reader must turn *every* input into either a document or one
`ConfigYamlError` naming the line, never another exception. PyYAML alone does
not promise that: its composer recurses once per nesting level (``[[[[...``
overflows the stack long before the 1 MB size limit), and the safe
constructor lets plain ``ValueError`` and ``AttributeError`` escape from
explicitly tagged scalars (``!!int abc``, ``!!timestamp 2020-13-45``).
Here nesting is bounded while composing and every constructor failure becomes
a located error.

The node API is kept (``compose`` and ``load`` both return the root node),
so callers can point at the line of any key. `validate_yaml` is the one way a
configuration file becomes a value: YAML read with positions, validated by a
pydantic model, and every problem reported at once as ``file:line: message``
(`validate_data` does the same for a document that is already a mapping, such as
one built in code).

>>> node, data = load("a: {b: [1, 2]}")
>>> data, node.start_mark.line
({'a': {'b': [1, 2]}}, 0)
>>> try:
...     load("a: !!int abc")
... except ConfigYamlError as exc:
...     print(exc.line, exc.reason)
1 not a valid !!int: 'abc'
"""

from __future__ import annotations

from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from rules.exceptions import RulesError

__all__ = [
    "MAX_NESTING",
    "ConfigYamlError",
    "compose",
    "construct_scalar",
    "line_of",
    "load",
    "validate_data",
    "validate_yaml",
]

MAX_NESTING = 32
"""Deepest nesting of lists and mappings accepted; configuration needs four or five."""

_SHOWN_VALUE = 40


class ConfigYamlError(RulesError):
    """Text that is not readable YAML; ``line`` is 1-based, when known.

    Callers re-raise it as their own error (a pack or a policy error) with the
    source's name in front.
    """

    def __init__(self, reason: str, line: int | None = None) -> None:
        self.reason = reason
        self.line = line
        super().__init__(reason if line is None else f"line {line}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.reason, self.line))


class _BoundedLoader(yaml.SafeLoader):
    """The safe loader, refusing deep nesting and locating every constructor failure."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_NESTING} levels", mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception:  # PyYAML's own faults on odd scalars (`!!int ""` is an IndexError)
            raise ConstructorError(None, None, _unreadable(node), node.start_mark) from None


def _unreadable(node: Node) -> str:
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")
    value = node.value if isinstance(node, ScalarNode) else type(node).__name__
    shown = repr(value)
    if len(shown) > _SHOWN_VALUE:
        shown = shown[: _SHOWN_VALUE - 3] + "..."
    return f"not a valid {tag}: {shown}"


def _error(exc: yaml.YAMLError, text: str) -> ConfigYamlError:
    """The YAML error as a reason and a line; the reader's errors carry only an offset."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        return ConfigYamlError(str(exc.problem or exc.context), line)
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        char = exc.character
        shown = f"#x{char:04x}" if isinstance(char, int) else repr(char)
        return ConfigYamlError(f"character {shown} is not allowed in YAML", line)
    return ConfigYamlError(str(exc))


def compose(text: str) -> Node | None:
    """The document's root node (``None`` for an empty text), or `ConfigYamlError`."""
    return load(text, construct=False)[0]


def load(text: str, *, construct: bool = True) -> tuple[Node | None, Any]:
    """The root node and the plain Python value it stands for, or `ConfigYamlError`."""
    try:
        loader = _BoundedLoader(text)  # the reader checks every character here
        try:
            node = loader.get_single_node()
            data = None if node is None or not construct else loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise _error(exc, text) from None
    return node, data


def construct_scalar(node: ScalarNode) -> Any:
    """One scalar's value (``'3'`` is 3, ``yes`` is True), or `ConfigYamlError` at its line."""
    loader = _BoundedLoader("")
    try:
        return loader.construct_object(node)
    except yaml.YAMLError as exc:
        raise _error(exc, "") from None
    finally:
        loader.dispose()


def line_of(node: Node | None, loc: tuple[object, ...]) -> int | None:
    """1-based line of the node at path ``loc`` (keys and list indexes), or of its nearest parent.

    >>> root = compose("a:\\n  b: [1, 2]\\n  c: 3\\n")
    >>> line_of(root, ("a", "c")), line_of(root, ("a", "b", 1)), line_of(root, ("a", "zz"))
    (3, 2, 1)
    """
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        child: Node | None = None
        if isinstance(node, MappingNode):
            for key, value in node.value:
                if isinstance(key, ScalarNode) and _same_key(key, part):
                    child = value
                    line = key.start_mark.line + 1
                    break
        elif isinstance(node, SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                child = node.value[part]
                line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def _same_key(key: ScalarNode, part: object) -> bool:
    """Whether the key node stands for ``part``, a key as written or as read (``~`` is None)."""
    if key.value == str(part):
        return True
    try:
        return str(construct_scalar(key)) == str(part)
    except ConfigYamlError:
        return False


_Model = TypeVar("_Model", bound=BaseModel)


def validate_yaml(
    model: type[_Model], text: str, source: str, error: type[Exception], what: str = "keys"
) -> _Model:
    r"""``text`` read as YAML and validated as ``model``; any fault raises one ``error``.

    The message lists every problem at once, each as ``source:line: key: message``
    (``source: key: message`` for a key that is missing at the top level, which
    has no line), joined by ``"; "``, so one run of a bad file shows all there is
    to fix. ``what`` names the top level's keys in the message for a document
    that is not a mapping.

    >>> from pydantic import BaseModel, ConfigDict
    >>> class Limits(BaseModel):
    ...     model_config = ConfigDict(extra="forbid")
    ...     low: int
    ...     high: int
    >>> validate_yaml(Limits, "low: 1\nhigh: 2\n", "l.yaml", ValueError)
    Limits(low=1, high=2)
    >>> validate_yaml(Limits, "low: x\nhigh: 2\nhihg: 3\n", "l.yaml", ValueError)
    Traceback (most recent call last):
    ...
    ValueError: l.yaml:1: low: Input should be a valid integer, ...; l.yaml:3: hihg: unknown key
    """
    try:
        node, data = load(text)
    except ConfigYamlError as exc:
        where = f"{source}:{exc.line}" if exc.line else source
        raise error(f"{where}: not valid YAML: {exc.reason}") from None
    return validate_data(model, data, source, error, what, node)


def validate_data(
    model: type[_Model],
    data: object,
    source: str,
    error: type[Exception],
    what: str = "keys",
    node: Node | None = None,
) -> _Model:
    """`validate_yaml` of a document already read: ``node`` places its problems on lines.

    Without a node (a mapping built in code: a test, a benchmark) every problem is
    reported all the same, as ``source: key: message``.

    >>> from pydantic import BaseModel
    >>> class Limits(BaseModel):
    ...     low: int
    >>> validate_data(Limits, {"low": "x"}, "limits", ValueError)
    Traceback (most recent call last):
    ...
    ValueError: limits: low: Input should be a valid integer, ...
    """
    if not isinstance(data, dict):
        raise error(f"{source}: expected a mapping of {what} at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(detail, node, source) for detail in exc.errors()]
        raise error("; ".join(problems)) from None
    except RecursionError:  # a YAML alias that contains itself: `a: &x [*x]`
        raise error(f"{source}: a value refers to itself (a recursive alias)") from None


def _problem(detail: ErrorDetails, node: Node | None, source: str) -> str:
    loc = tuple(detail["loc"])
    key = ".".join(str(part) for part in loc) or "(top level)"
    # A missing key has no line of its own; inside a section, name the section's.
    missing_at_top = detail["type"] == "missing" and len(loc) == 1
    line = None if missing_at_top else line_of(node, loc)
    where = f"{source}:{line}" if line else source
    return f"{where}: {key}: {_message(detail)}"


def _message(detail: ErrorDetails) -> str:
    if detail["type"] == "missing":
        return "required key is missing"
    if detail["type"] == "extra_forbidden":
        return "unknown key"
    return str(detail["msg"]).removeprefix("Value error, ")
