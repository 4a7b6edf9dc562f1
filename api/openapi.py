"""The API's OpenAPI 3 document, generated from the app and checked in as docs/openapi.json.

Regenerate after changing a route: ``.venv/bin/python -m api.openapi``. A test keeps
the file equal to what the app serves at ``/openapi.json``, so integrators can read
the contract in the repository without starting anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

__all__ = ["DOCUMENT", "document", "render", "with_problems"]

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details; errors name each field at fault.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}
_ANSWERS = {
    "400": "Bad input: the field and the reason.",
    "401": "No credential, or one not accepted (unknown, wrong, revoked).",
    "403": "The credential's role may not call this endpoint.",
}


def with_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's document with our error answers: 400/401/403 as problem+json, no 422."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            guarded = "security" in operation
            for status, text in _ANSWERS.items():
                if guarded or status == "400" and operation.get("parameters"):
                    responses[status] = {"description": text, "content": problem}
    return schema


def document() -> dict[str, Any]:
    from api.app import create_app

    return create_app(None).openapi()


def render() -> str:
    return (
        orjson.dumps(document(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"
    )


if __name__ == "__main__":
    DOCUMENT.write_text(render(), encoding="utf-8")
    print(f"OpenAPI document written to {DOCUMENT}")
