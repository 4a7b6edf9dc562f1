"""The output topics' JSON Schemas are published, current, and true of what the worker writes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from schema_support import SCHEMAS, problems

from config import load_settings
from models.hub import HubConfig
from rules import EventDecodeError, decode_event
from rules.core import Engine, Tick
from rules.pack import default_pack
from rules.policy import load_policy
from rules.warnings import model_drift_warning
from rules.workflows import load_workflow_policy
from streams.dlq import Origin, dead_letter
from streams.judging import Runtime
from streams.model_metrics import partition_metrics
from streams.output_schemas import OUTPUT_SCHEMAS, output_schema_files, write_output_schemas
from streams.outputs import metrics_outputs, outputs_of
from streams.scoring import PartitionModels
from streams.simulate.book import BookSpec, LoanBook

FOLDER = SCHEMAS / "outputs"
REGENERATE = "regenerate with: python -m streams.output_schemas docs/schemas/outputs"
SETTINGS = load_settings()
TOPICS = SETTINGS.topics
SCHEMA_OF = {
    TOPICS.warnings: "outputs/warning.json",
    TOPICS.transitions: "outputs/transition.json",
    TOPICS.actions: "outputs/action.json",
    TOPICS.model_metrics: "outputs/model_metrics.json",
}


@pytest.mark.parametrize("name", sorted(output_schema_files()))
def test_output_schema_file_on_disk_matches_the_models(name: str) -> None:
    on_disk = FOLDER / name

    assert on_disk.is_file(), f"{on_disk} is missing; {REGENERATE}"
    assert on_disk.read_bytes() == output_schema_files()[name], f"{on_disk} is stale; {REGENERATE}"


def test_no_output_schema_file_is_left_over() -> None:
    on_disk = {path.name for path in FOLDER.glob("*.json")}

    assert on_disk == set(output_schema_files()), f"unexpected files in {FOLDER}; {REGENERATE}"


def test_write_output_schemas_writes_exactly_what_the_files_render(tmp_path: Path) -> None:
    written = write_output_schemas(tmp_path / "out")

    assert {path.name: path.read_bytes() for path in written} == output_schema_files()


def test_every_output_schema_forbids_fields_it_does_not_name() -> None:
    for name in OUTPUT_SCHEMAS:
        schema = orjson.loads((FOLDER / f"{name}.json").read_bytes())
        assert schema["additionalProperties"] is False, name


def _book_outputs() -> list[tuple[str, Any]]:
    """Every message a worker with models writes for a small simulated book, ticked daily."""
    engine = Engine(default_pack(), load_policy(None), load_workflow_policy(None))
    rt = Runtime(engine, ZoneInfo(SETTINGS.time_zone))
    rt.models = PartitionModels({}, HubConfig(), checkpoint_steps=200, warmup_labels=0)
    zone = engine.zone
    table: dict[bytes, bytes] = {}
    out: list[tuple[str, Any]] = []
    day: date | None = None

    def step(key: bytes, item: Any, now: datetime) -> None:
        verdict = rt.judge(key, table.get(key), 0, item, now)
        if verdict.row is not None:
            table[key] = verdict.row
            rt.stored(key, 0, verdict)
        assert rt.models is not None
        sent = outputs_of(verdict.result, SETTINGS)
        sent += metrics_outputs(rt.models.drain_metrics(), SETTINGS)
        out.extend((o.topic, orjson.loads(o.value)) for o in sent)

    for event in LoanBook(BookSpec(20, 6, 7)):
        event_day = event.event_time.astimezone(zone).date()
        while day is not None and day < event_day:
            day += timedelta(days=1)
            midnight = datetime.combine(day, datetime.min.time(), tzinfo=zone)
            for key in list(table):
                step(key, Tick(key.decode(), day), midnight)
        day = event_day
        step(event.loan_id.encode(), event, event.event_time)
    return out


@pytest.fixture(scope="module")
def book_outputs() -> list[tuple[str, Any]]:
    return _book_outputs()


def test_a_simulated_book_writes_every_kind_of_output(book_outputs: list[tuple[str, Any]]) -> None:
    kinds = Counter(
        (topic, body.get("status") or body.get("kind") or body.get("model"))
        for topic, body in book_outputs
    )

    assert kinds[(TOPICS.warnings, "open")] and kinds[(TOPICS.warnings, "resolved")]
    assert kinds[(TOPICS.transitions, "bucket")] and kinds[(TOPICS.transitions, "klass")]
    assert any(topic == TOPICS.actions for topic, _ in book_outputs)
    assert kinds[(TOPICS.model_metrics, "pd")] and kinds[(TOPICS.model_metrics, "intent")]
    assert any(body.get("model_reasons") for _, body in book_outputs), "no model-read warning"
    assert any(str(body.get("event_id")).startswith("clock:") for _, body in book_outputs)


def test_every_output_of_a_simulated_book_validates_against_its_schema(
    book_outputs: list[tuple[str, Any]],
) -> None:
    failures = {
        SCHEMA_OF[topic]: (body, found)
        for topic, body in book_outputs
        if (found := problems(SCHEMA_OF[topic], body))
    }

    assert not failures, failures


def test_a_drift_warning_validates_against_the_warning_schema() -> None:
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    warning = model_drift_warning("pd/p3", "log_loss", 0.2, 0.5, at, pack_digest="d", now=at)

    assert problems("outputs/warning.json", orjson.loads(orjson.dumps(warning.to_dict()))) == []


def test_model_metrics_before_any_label_validate() -> None:
    from models.hub import ModelHub

    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    for record in metrics_outputs(partition_metrics(ModelHub(), 3, at), SETTINGS):
        assert problems("outputs/model_metrics.json", orjson.loads(record.value)) == []


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b'{"type": "loan_sold"}', b'{"type": "write_off", "event_id": "e-1"}'],
)
def test_dead_letter_headers_validate_and_carry_their_problems_as_json(raw: bytes) -> None:
    try:
        decode_event(raw)
    except EventDecodeError as error:
        origin = Origin("postloan.events", 2, 17)
        letter = dead_letter(raw, b"L-1", origin, error, datetime.now(UTC))
    headers = {name: value.decode() for name, value in letter.headers}

    assert problems("outputs/dead_letter_headers.json", headers) == []
    fields_schema = orjson.loads((FOLDER / "dead_letter_headers.json").read_bytes())
    content = fields_schema["properties"]["lw.error.fields"]["contentSchema"]
    listed = orjson.loads(headers["lw.error.fields"])
    assert listed and all(set(item) == set(content["items"]["required"]) for item in listed)
