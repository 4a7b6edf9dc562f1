"""Names in the settings' sources that are not ours to read, each with a "did you mean".

The environment, a ``.env`` file and the YAML file named by ``LOANWATCH_CONFIG_FILE``
are checked the same way: a misspelt setting stops the process naming the source,
rather than being silently ignored. Only ``LOANWATCH_`` names are ours to refuse in the
environment and in ``.env``: a ``.env`` shared with docker compose (``ALERTING_FILE``,
``REDIS_URL``) is left alone.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["unknown_in_dotenv", "unknown_in_environment", "unknown_in_yaml"]

Tree = Mapping[str, Collection[str] | None]
"""Each top-level setting: its section's field names, or None for a plain value."""


def unknown_in_environment(prefix: str, known: Collection[str], ignore: str) -> list[str]:
    """``LOANWATCH_`` variables of the environment that no setting reads.

    >>> import os; os.environ["LW_DOCTEST__PORTT"] = "1"
    >>> unknown_in_environment("LW_DOCTEST_", {"LW_DOCTEST__PORT"}, "")
    ['LW_DOCTEST__PORTT (did you mean LW_DOCTEST__PORT?)']
    >>> del os.environ["LW_DOCTEST__PORTT"]
    """
    return _unknown(sorted(os.environ), prefix, known, ignore, "")


def unknown_in_dotenv(path: Path, prefix: str, known: Collection[str], ignore: str) -> list[str]:
    """``LOANWATCH_`` names in a ``.env`` file that no setting reads (other names are ignored)."""
    if not path.is_file():
        return []
    from dotenv import dotenv_values

    names = [name.upper() for name in dotenv_values(path, encoding="utf-8")]
    return _unknown(names, prefix, known, ignore, f" in {path.resolve()}")


def unknown_in_yaml(path: Path, tree: Tree) -> list[str]:
    """Keys of the YAML settings file that name no setting, as ``section.key``.

    A file that cannot be read or parsed is left to the YAML source to report.
    """
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    if not isinstance(data, dict):
        return []
    dotted = [*_dotted(data, tree)]
    every = [f"{name}.{sub}" for name, subs in tree.items() for sub in subs or ()] + list(tree)
    where = f" in {path.resolve()}"
    return [_hint(name, every) + where for name in dotted if name not in every]


def _dotted(data: Mapping[Any, Any], tree: Tree) -> Iterable[str]:
    for key, value in data.items():
        name = str(key)
        subs = tree.get(name)
        if subs is not None and isinstance(value, dict):
            yield from (f"{name}.{sub}" for sub in value)
        else:
            yield name


def _unknown(
    names: Iterable[str], prefix: str, known: Collection[str], ignore: str, where: str
) -> list[str]:
    return [
        _hint(name, known) + where
        for name in names
        if name.startswith(prefix) and name != ignore and name not in known
    ]


def _hint(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"{name} (did you mean {close[0]}?)" if close else name
