"""JSON Schemas for producers, generated from the event models themselves.

The schemas in ``docs/schemas/`` are derived, never hand-written, so they cannot
disagree with what `decode_event` accepts; a unit test fails when the files on
disk drift from the models. Regenerate them with::

    python -m rules.schema docs/schemas
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Final

import orjson
from pydantic import TypeAdapter

from rules.events import EVENT_TYPES, Event

__all__ = ["UNION_NAME", "json_schemas", "schema_files", "union_schema", "write_schemas"]

UNION_NAME: Final = "event"
"""File stem of the schema that accepts any event type."""

_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"


def json_schemas() -> dict[str, dict[str, Any]]:
    """One JSON Schema per event type, keyed by the wire name in ``type``."""
    return {name: _with_dialect(model.model_json_schema()) for name, model in EVENT_TYPES.items()}


def union_schema() -> dict[str, Any]:
    """The schema of any event: a ``oneOf`` routed on ``type``."""
    schema = TypeAdapter(Event).json_schema()
    schema["title"] = "Event"
    return _with_dialect(schema)


def schema_files() -> dict[str, bytes]:
    """File name to exact bytes, for every schema file `write_schemas` produces."""
    schemas = {**json_schemas(), UNION_NAME: union_schema()}
    return {f"{name}.json": _render(schema) for name, schema in sorted(schemas.items())}


def write_schemas(folder: Path | str) -> list[Path]:
    """Write every schema into ``folder`` (created if needed); return the paths written."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in schema_files().items():
        path = target / name
        path.write_bytes(content)
        written.append(path)
    return written


def _with_dialect(schema: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": _DIALECT, **schema}


def _render(schema: dict[str, Any]) -> bytes:
    # Sorted, indented and newline-terminated: stable diffs, friendly to editors.
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def main(argv: list[str]) -> int:
    """Command line: ``python -m rules.schema <folder>``."""
    if len(argv) != 1:
        print("usage: python -m rules.schema <folder>", file=sys.stderr)
        return 2
    for path in write_schemas(argv[0]):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
