"""docs/rules.md cannot drift: its tables are the vocabulary and the default pack, and its
examples compile.

The two tables are generated from the code; when one differs, the failure shows the
table to paste (or run ``python tests/unit/rules/test_pack_docs.py`` to print both).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rules.lang import ExpressionError, compile_condition
from rules.pack import RulePack, default_pack, load_pack_text
from rules.vocabulary import VOCABULARY

DOC = Path(__file__).resolve().parents[3] / "docs" / "rules.md"
TEXT = DOC.read_text(encoding="utf-8")


def _section(title: str) -> str:
    return TEXT.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _table(section: str) -> str:
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


def vocabulary_table() -> str:
    rows = ["| name | type | may be None | meaning |", "|---|---|---|---|"]
    for name, var in VOCABULARY.items():
        rows.append(f"| `{name}` | {var.type} | {'yes' if var.nullable else ''} | {var.doc} |")
    return "\n".join(rows)


def pack_table(pack: RulePack) -> str:
    rows = [
        "| id | kind | severity | owner | condition | resolves when | action |",
        "|---|---|---|---|---|---|---|",
    ]
    for rule in pack.rules:
        condition = " ".join(rule.condition.text.split())
        if rule.kind == "event":
            resolves = f"never (cooldown {rule.cooldown_days} d)"
        elif rule.resolve_when is not None:
            resolves = f"`{rule.resolve_when.text}`"
        else:
            resolves = "condition false"
        action = "" if rule.action is None else f"{rule.action.kind}"
        rows.append(
            f"| `{rule.id}` | {rule.kind} | {rule.severity} | {rule.owner_team}"
            f" | `{condition}` | {resolves} | {action} |"
        )
    return "\n".join(rows)


def test_vocabulary_table_lists_exactly_the_vocabulary() -> None:
    documented = _table(_section("Vocabulary"))

    assert documented == vocabulary_table(), "paste this table:\n" + vocabulary_table()


def test_vocabulary_table_names_every_name_once() -> None:
    names = re.findall(r"^\| `([a-z_.0-9]+)` \|", _section("Vocabulary"), re.MULTILINE)

    assert sorted(names) == sorted(VOCABULARY)


def test_default_pack_table_matches_the_yaml() -> None:
    documented = _table(_section("The default pack"))
    expected = pack_table(default_pack())

    assert documented == expected, "paste this table:\n" + expected


YAML_BLOCKS = re.findall(r"^```yaml\n(.*?)^```$", TEXT, flags=re.MULTILINE | re.DOTALL)
PYTHON_BLOCKS = re.findall(r"^```python\n(.*?)^```$", TEXT, flags=re.MULTILINE | re.DOTALL)
CONDITION_EXAMPLES = re.findall(r"^(\S.*?)\s+# ok$", TEXT, flags=re.MULTILINE)
REFUSED_EXAMPLES = re.findall(r"^(\S.*?)\s+# refused: (.+)$", TEXT, flags=re.MULTILINE)


@pytest.mark.parametrize("block", YAML_BLOCKS)
def test_every_yaml_example_is_a_valid_pack(block: str) -> None:
    assert load_pack_text(block, source="docs/rules.md").rules


def test_doc_has_condition_examples() -> None:
    assert len(CONDITION_EXAMPLES) >= 8


@pytest.mark.parametrize("text", CONDITION_EXAMPLES)
def test_every_condition_example_compiles(text: str) -> None:
    compile_condition(text)


@pytest.mark.parametrize(("text", "reason"), REFUSED_EXAMPLES)
def test_every_refused_example_is_refused_for_the_stated_reason(text: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_condition(text)

    assert reason in caught.value.reason


@pytest.mark.parametrize("block", PYTHON_BLOCKS)
def test_python_examples_run(block: str) -> None:
    exec(block, {})  # noqa: S102 - our own documentation's example


if __name__ == "__main__":
    print(vocabulary_table(), end="\n\n")
    print(pack_table(default_pack()))
