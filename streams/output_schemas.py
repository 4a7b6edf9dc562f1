"""JSON Schemas of what the worker writes: warnings, transitions, actions, model metrics
and dead letters.

Consumers in other languages need the output contract as a file their own
validator reads, as producers have it for events (`rules.schema`). The records
are built by the core as dataclasses and serialised by `streams.outputs` through
their ``to_dict``; the models below describe those wire forms field for field,
with closed vocabularies taken from the core (severities, action kinds, classes)
so a new value cannot be written without the schema learning it. They exist only
to publish the schemas: a unit test (tests/unit/streams/test_output_schemas.py)
validates real outputs of the engine against the files, so the two cannot drift.

A dead letter's value is the refused message as it came, any bytes: its schema
describes the ``lw.*`` headers the worker adds (as an object of header name to
UTF-8 text). Regenerate the files with::

    python -m streams.output_schemas docs/schemas/outputs
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from rules.pack import Severity
from rules.policy import KlassName
from rules.schema import DIALECT, render_schema, write_command, write_files
from rules.warnings import WarningStatus
from rules.workflows import ActionKind

__all__ = ["OUTPUT_SCHEMAS", "output_schema_files", "output_schemas", "write_output_schemas"]

Utc = Annotated[
    str,
    Field(
        json_schema_extra={"format": "date-time"},
        description="ISO-8601 timestamp in UTC (+00:00), as Python's isoformat writes it.",
    ),
]
Day = Annotated[
    str, Field(json_schema_extra={"format": "date"}, description="Calendar day, YYYY-MM-DD.")
]
_Empty = Literal[""]
_STEP: Final = "The step that caused it: the event's id, or clock:<day>:<loan_id> for a tick."


class _Wire(BaseModel):
    """Every field is written on every record; a field not listed is a schema change."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class _Reason(_Wire):
    name: str = Field(description="The vocabulary name the rule's condition read.")
    value: Any = Field(description="Its value when the rule fired (a day as YYYY-MM-DD).")


class _ModelReason(_Wire):
    name: str = Field(description="A PD feature.")
    value: float
    contribution: float = Field(description="Its contribution to the PD's logit.")


class Warning(_Wire):
    """One message of risk.warnings: a rule's episode opening or resolving (docs/warnings.md)."""

    model_config = ConfigDict(title="risk.warnings")

    schema_version: Literal[1]
    warning_id: str = Field(description="Hash of (loan, rule, episode key, episode, day opened).")
    status: WarningStatus
    loan_id: str = Field(description="The loan; a drift warning names its model: model:pd/p3.")
    borrower_id: str = Field(description="Pseudonymous borrower reference; empty for drift.")
    rule_id: str
    rule_version: int
    pack_digest: str = Field(description="sha256 of the rule pack that produced it.")
    severity: Severity
    owner_team: str
    message: str
    episode: int = Field(ge=1)
    episode_key: str
    reasons: list[_Reason]
    score: float | None = Field(description="The PD when the rule read a model score.")
    dpd: int = Field(ge=0)
    bucket: str = Field(description="Delinquency bucket after the step; empty for drift.")
    klass: KlassName | _Empty = Field(description="Five-category class; empty for drift.")
    event_id: str | None = Field(
        description="The step that triggered it: the event's id, or clock:<day>:<loan_id> "
        "for a clock tick; null for a model drift warning."
    )
    event_time: Utc
    produced_at: Utc
    model_reasons: list[_ModelReason]
    model_version: str | None


class Transition(_Wire):
    """One message of risk.transitions: a change of bucket or class (docs/warnings.md)."""

    model_config = ConfigDict(title="risk.transitions")

    schema_version: Literal[1]
    loan_id: str
    kind: Literal["bucket", "klass"]
    from_: str = Field(alias="from")
    to: str
    on: Day
    event_id: str = Field(description=_STEP)
    borrower_id: str
    dpd: int = Field(ge=0)
    bucket: str
    klass: KlassName
    event_time: Utc
    produced_at: Utc


class Action(_Wire):
    """One message of postloan.actions: the next thing to do about a loan."""

    model_config = ConfigDict(title="postloan.actions")

    schema_version: Literal[1]
    action_id: str = Field(description="Hash of (loan, kind, name, day).")
    kind: ActionKind
    name: str
    loan_id: str
    borrower_id: str
    due_on: Day
    reason: str = Field(description="'workflow', or the id of the rule that asked for it.")
    params: dict[str, Any]
    event_id: str = Field(description=_STEP)
    produced_at: Utc


class ModelMetrics(_Wire):
    """One message of risk.model_metrics: a model's figures on a partition (docs/models.md)."""

    model_config = ConfigDict(title="risk.model_metrics")

    schema_version: Literal[1]
    model: Literal["pd", "pd_current", "intent"]
    partition: int = Field(ge=0)
    model_version: str
    n: int = Field(ge=0, description="Outcomes (PD) or labels (intent) learned from.")
    roc_auc: float | None
    log_loss: float | None
    brier: float | None
    precision: float | None
    threshold: float | None
    alerts: int | None
    accuracy: float | None
    produced_at: Utc


class _FieldError(_Wire):
    field: str = Field(description="Dotted path into the message, or $ for the whole.")
    reason: str


def _decimal(header: str) -> Any:
    """A number written as decimal digits (headers are text)."""
    return Field(alias=header, json_schema_extra={"pattern": "^[0-9]+$"})


def _absent_when_unknown(schema: dict[str, Any]) -> None:
    # A header the worker could not fill is left out, never sent empty or null.
    schema.pop("default", None)


def _optional(header: str, description: str | None = None) -> Any:
    return Field("", alias=header, description=description, json_schema_extra=_absent_when_unknown)


class DeadLetterHeaders(_Wire):
    """The lw.* headers of a postloan.events.dlq letter, each as UTF-8 text.

    The letter's key and value are the refused message's, unchanged (docs/events.md).
    """

    model_config = ConfigDict(title="postloan.events.dlq headers")

    error: str = Field(alias="lw.error", description="Every problem, one per line.")
    error_fields: str = Field(
        alias="lw.error.fields",
        description="JSON list of every problem as {field, reason}.",
        json_schema_extra={
            "contentMediaType": "application/json",
            "contentSchema": {"type": "array", "items": _FieldError.model_json_schema()},
        },
    )
    source_topic: str = Field(alias="lw.source.topic")
    source_partition: str = _decimal("lw.source.partition")
    source_offset: str = _decimal("lw.source.offset")
    rejected_at: str = Field(alias="lw.rejected_at", json_schema_extra={"format": "date-time"})
    event_id: str = _optional("lw.event_id", "When the message was readable enough to hold it.")
    loan_id: str = _optional("lw.loan_id", "When the message was readable enough to hold it.")
    event_type: str = _optional("lw.event_type", "When the message named a known type.")


OUTPUT_SCHEMAS: Final[dict[str, type[BaseModel]]] = {
    "warning": Warning,
    "transition": Transition,
    "action": Action,
    "model_metrics": ModelMetrics,
    "dead_letter_headers": DeadLetterHeaders,
}
"""File stem of each output's schema to the model describing its wire form."""


def output_schemas() -> dict[str, dict[str, Any]]:
    """One JSON Schema per output, keyed by file stem."""
    return {
        name: {"$schema": DIALECT, **model.model_json_schema(by_alias=True)}
        for name, model in OUTPUT_SCHEMAS.items()
    }


def output_schema_files() -> dict[str, bytes]:
    """File name to exact bytes, for every file `write_output_schemas` produces."""
    schemas = sorted(output_schemas().items())
    return {f"{name}.json": render_schema(schema) for name, schema in schemas}


def write_output_schemas(folder: Path | str) -> list[Path]:
    """Write every output schema into ``folder`` (created if needed); return the paths."""
    return write_files(folder, output_schema_files())


def main(argv: list[str]) -> int:
    """Command line: ``python -m streams.output_schemas <folder>``."""
    return write_command(argv, "streams.output_schemas", output_schema_files)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
