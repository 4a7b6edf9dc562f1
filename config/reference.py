"""The settings reference: one Markdown table built from the settings tree.

README.md holds the table between two markers; a test keeps it equal to what this
module builds, so a setting cannot exist without being documented. After changing
a setting (its default or docstring), rewrite the table with::

    .venv/bin/python -m config.reference
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from config.settings import CONFIG_FILE_ENV, ENV_PREFIX, Settings

__all__ = ["END", "START", "replace_table", "settings_table"]

START = "<!-- settings table: generated from config/settings.py by `python -m config.reference` -->"
END = "<!-- end of the generated settings table -->"
_LONG = 220
"""Meanings longer than this are cut to their first sentence (the docstring has the rest)."""
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)`'\"])\.\s+(?=[A-Z`(])")


def settings_table() -> str:
    """Every setting as a row: its environment name, its default and what it means.

    >>> settings_table().splitlines()[3].split(" | ")[:2]
    ['| `LOANWATCH_APP_ID`', '`loanwatch`']
    """
    rows = [
        "| setting | default | meaning |",
        "|---|---|---|",
        f"| `{CONFIG_FILE_ENV}` | unset | A YAML file of settings, nested as here "
        "(`kafka: {bootstrap_servers: ...}`); lowest precedence. |",
    ]
    for name, field in Settings.model_fields.items():
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            rows.extend(_row((name, sub), info) for sub, info in section.model_fields.items())
        else:
            rows.append(_row((name,), field))
    return "\n".join(rows)


def replace_table(text: str) -> str:
    """``text`` with the part between `START` and `END` replaced by `settings_table`."""
    head, start, rest = text.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"README has no settings table markers ({START!r} ... {END!r})")
    return f"{head}{START}\n{settings_table()}\n{END}{tail}"


def _row(loc: tuple[str, ...], field: FieldInfo) -> str:
    env = ENV_PREFIX + "__".join(part.upper() for part in loc)
    return f"| `{env}` | {_default(field)} | {_meaning(field)} |"


def _default(field: FieldInfo) -> str:
    extra = field.json_schema_extra
    if isinstance(extra, dict) and "shown_default" in extra:
        return str(extra["shown_default"])
    value: Any = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return "(secret)" if value.get_secret_value() else "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _meaning(field: FieldInfo) -> str:
    text = " ".join((field.description or "").split())
    if len(text) > _LONG:
        text = _SENTENCE_END.split(text, maxsplit=1)[0].rstrip(".") + "."
    return text.replace("``", "`").replace("|", "\\|")


def main() -> None:
    readme = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    readme.write_text(replace_table(readme.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"settings table written to {readme}")


if __name__ == "__main__":
    main()
