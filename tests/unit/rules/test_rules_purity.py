"""The rules core stays pure: importing any of it loads no I/O library and no settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FORBIDDEN = (
    "aiokafka",
    "confluent_kafka",
    "kafka",
    "redis",
    "clickhouse_driver",
    "faust",
    "pydantic_settings",
    "config.settings",
    "config.stack",
)

PROBE = f"""
import importlib, pkgutil, sys
import rules
names = sorted(m.name for m in pkgutil.walk_packages(rules.__path__, "rules."))
for name in names:
    importlib.import_module(name)
loaded = sorted(
    name for name in sys.modules
    if name.split(".")[0] in {FORBIDDEN!r} or name in {FORBIDDEN!r}
    or name.startswith(("config.settings", "config.stack"))
)
print(len(names), ",".join(loaded))
"""


def test_importing_every_rules_module_loads_no_io_library_nor_settings() -> None:
    # A fresh interpreter: this test process may already hold such modules.
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    count, loaded = result.stdout.strip().partition(" ")[::2]

    assert int(count) >= 20  # every module of the package was imported
    assert loaded == ""
