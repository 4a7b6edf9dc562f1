"""The README's settings table is generated from the settings tree and kept equal to it."""

from __future__ import annotations

from pathlib import Path

from config.reference import END, START, replace_table, settings_table
from config.settings import known_env_names

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_settings_table_equals_the_one_built_from_the_settings_tree() -> None:
    text = README.read_text(encoding="utf-8")
    assert replace_table(text) == text, "run: .venv/bin/python -m config.reference"


def test_every_setting_has_a_row_with_a_default_and_a_meaning() -> None:
    rows = settings_table().splitlines()[2:]
    named = {row.split("`")[1] for row in rows}
    assert named == set(known_env_names()) - {
        name for name in known_env_names() if name.count("__") == 0 and _is_section(name)
    }
    for row in rows:
        setting, default, meaning = (cell.strip() for cell in row.strip("|").split(" | "))
        assert default and meaning.endswith((".", ")")), row


def test_the_table_sits_between_its_markers_once() -> None:
    text = README.read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1


def _is_section(name: str) -> bool:
    """LOANWATCH_KAFKA and the like: a whole section given as JSON, not a row of its own."""
    return any(other.startswith(name + "__") for other in known_env_names())
