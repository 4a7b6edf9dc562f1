"""JSON Schemas for producers, generated from the event models themselves.

The schemas in ``docs/schemas/`` are derived, never hand-written, so they cannot
disagree with what `decode_event` accepts; a unit test fails when the files on
disk drift from the models. Regenerate them with::

    python -m rules.schema docs/schemas
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import orjson
from pydantic import TypeAdapter

from rules.events import EVENT_TYPES, Event

__all__ = [
    "DIALECT",
    "UNION_NAME",
    "json_schemas",
    "render_schema",
    "schema_files",
    "union_schema",
    "write_command",
    "write_files",
    "write_schemas",
]

UNION_NAME: Final = "event"
"""File stem of the schema that accepts any event type."""

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
"""The JSON Schema draft every published schema (events and outputs) declares."""


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
    return {f"{name}.json": render_schema(schema) for name, schema in sorted(schemas.items())}


def write_schemas(folder: Path | str) -> list[Path]:
    """Write every schema into ``folder`` (created if needed); return the paths written."""
    return write_files(folder, schema_files())


def write_files(folder: Path | str, files: dict[str, bytes]) -> list[Path]:
    """Write ``files`` (name to bytes) into ``folder``, created if needed; return the paths."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        path = target / name
        path.write_bytes(content)
        written.append(path)
    return written


def _with_dialect(schema: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": DIALECT, **schema}


def render_schema(schema: dict[str, Any]) -> bytes:
    """A schema file's bytes: sorted, indented and newline-terminated, for stable diffs."""
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def write_command(argv: list[str], module: str, files: Callable[[], dict[str, bytes]]) -> int:
    """``python -m <module> <folder>``: write ``files()`` there and print each path."""
    if len(argv) != 1:
        print(f"usage: python -m {module} <folder>", file=sys.stderr)
        return 2
    for path in write_files(argv[0], files()):
        print(path)
    return 0


def main(argv: list[str]) -> int:
    """Command line: ``python -m rules.schema <folder>``."""
    return write_command(argv, "rules.schema", schema_files)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
