"""docs/events.md cannot rot: its examples decode and its tables list the real fields."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from rules import EVENT_TYPES, EventBase, decode_event, encode_event

DOC = Path(__file__).resolve().parents[3] / "docs" / "events.md"
TEXT = DOC.read_text(encoding="utf-8")

JSON_BLOCKS = re.findall(r"^```json\n(.*?)^```$", TEXT, flags=re.MULTILINE | re.DOTALL)
SECTIONS = dict(re.findall(r"^### `(\w+)`\n(.*?)(?=^##)", TEXT + "\n##", re.MULTILINE | re.DOTALL))
TABLE_FIELD = re.compile(r"^\| `(\w+)` \|", re.MULTILINE)


def test_doc_has_json_examples() -> None:
    assert len(JSON_BLOCKS) >= len(EVENT_TYPES)


@pytest.mark.parametrize("block", JSON_BLOCKS, ids=lambda block: block.split('"')[3])
def test_every_json_example_decodes(block: str) -> None:
    event = decode_event(block.encode())

    assert decode_event(encode_event(event)) == event


def test_every_event_type_has_a_json_example() -> None:
    documented = {orjson.loads(block)["type"] for block in JSON_BLOCKS}

    assert documented == set(EVENT_TYPES)


def test_every_event_type_has_a_section() -> None:
    assert set(SECTIONS) == set(EVENT_TYPES)


def test_envelope_table_lists_exactly_the_envelope_fields() -> None:
    envelope = TEXT.split("## The envelope", 1)[1].split("\n## ", 1)[0]

    assert set(TABLE_FIELD.findall(envelope)) == {"type", *EventBase.model_fields}


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_each_section_table_lists_exactly_the_event_fields(event_type: str) -> None:
    own_fields = set(EVENT_TYPES[event_type].model_fields) - set(EventBase.model_fields)

    assert set(TABLE_FIELD.findall(SECTIONS[event_type])) == own_fields - {"type"}


def test_doc_names_the_topics_producers_use() -> None:
    assert "`postloan.events`" in TEXT
    assert "`postloan.events.dlq`" in TEXT
