"""The published JSON Schemas come from the models and match the files in docs/schemas."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest

from rules import EVENT_TYPES
from rules.fields import EARLIEST_DAY, LATEST_DAY
from rules.schema import UNION_NAME, json_schemas, schema_files, union_schema, write_schemas

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "docs" / "schemas"
REGENERATE = "regenerate with: python -m rules.schema docs/schemas"


def test_there_is_one_schema_per_event_type() -> None:
    assert set(json_schemas()) == set(EVENT_TYPES)


def test_schema_files_are_the_event_types_plus_the_union() -> None:
    expected = {f"{name}.json" for name in EVENT_TYPES} | {f"{UNION_NAME}.json"}

    assert set(schema_files()) == expected


@pytest.mark.parametrize("name", sorted(schema_files()))
def test_schema_file_on_disk_matches_the_models(name: str) -> None:
    on_disk = SCHEMA_DIR / name

    assert on_disk.is_file(), f"{on_disk} is missing; {REGENERATE}"
    assert on_disk.read_bytes() == schema_files()[name], f"{on_disk} is stale; {REGENERATE}"


def test_no_schema_file_is_left_over_from_a_removed_event_type() -> None:
    on_disk = {path.name for path in SCHEMA_DIR.glob("*.json")}

    assert on_disk == set(schema_files()), f"unexpected files in {SCHEMA_DIR}; {REGENERATE}"


def test_write_schemas_writes_exactly_what_schema_files_renders(tmp_path: Path) -> None:
    written = write_schemas(tmp_path / "out")

    assert {path.name: path.read_bytes() for path in written} == schema_files()


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_type_is_required_and_fixed_in_each_schema(event_type: str) -> None:
    schema = json_schemas()[event_type]

    assert schema["required"][0] == "type"
    assert schema["properties"]["type"]["const"] == event_type
    assert schema["additionalProperties"] is False


def test_money_is_an_integer_in_the_schema() -> None:
    amount = json_schemas()["write_off"]["properties"]["amount"]

    assert amount["type"] == "integer"
    assert amount["exclusiveMinimum"] == 0


def test_event_time_is_a_date_time_string_in_the_schema() -> None:
    event_time = json_schemas()["write_off"]["properties"]["event_time"]

    assert (event_time["type"], event_time["format"]) == ("string", "date-time")


def test_union_schema_routes_on_type_to_every_event() -> None:
    schema = union_schema()

    assert schema["discriminator"]["propertyName"] == "type"
    assert set(schema["discriminator"]["mapping"]) == set(EVENT_TYPES)
    assert len(schema["oneOf"]) == len(EVENT_TYPES)


def test_schema_files_are_sorted_indented_json_ending_in_a_newline() -> None:
    content = schema_files()["write_off.json"]

    assert content.endswith(b"}\n")
    assert (
        content
        == orjson.dumps(orjson.loads(content), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        + b"\n"
    )


def test_the_day_pattern_admits_exactly_the_span() -> None:
    pattern = re.compile(json_schemas()["installment_due"]["properties"]["due_date"]["pattern"])
    edges = [EARLIEST_DAY, LATEST_DAY]
    days = [day + timedelta(days=step) for day in edges for step in (-1, 0, 1)]
    days += [date(year, month, 1) for year in range(1960, 2111) for month in (1, 12)]

    for day in days:
        inside = EARLIEST_DAY <= day <= LATEST_DAY
        assert (pattern.fullmatch(day.isoformat()) is not None) == inside, day


def test_event_time_pattern_reads_the_day_as_written_on_its_offset() -> None:
    pattern = re.compile(json_schemas()["write_off"]["properties"]["event_time"]["pattern"])

    assert pattern.fullmatch("1970-01-02T00:00:00+23:59")
    assert not pattern.fullmatch("1970-01-01T23:59:59-08:00")
    assert pattern.fullmatch("2099-12-31t23:59:59.999z")
    assert not pattern.fullmatch("2024-03-01T09:30:00")


def test_borrower_id_schema_refuses_identity_shapes_in_any_digits() -> None:
    refused = json_schemas()["write_off"]["properties"]["borrower_id"]["not"]["pattern"]

    assert r"\p{Nd}" in refused and r"\d" not in refused
