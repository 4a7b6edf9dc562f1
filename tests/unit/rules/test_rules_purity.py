"""The rules core stays pure: importing it pulls in no I/O library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
IO_LIBRARIES = ("aiokafka", "confluent_kafka", "kafka", "redis", "clickhouse_driver", "faust")

PROBE = f"""
import sys
import rules, rules.decode, rules.events, rules.schema
loaded = sorted(
    name for name in sys.modules
    if name.split(".")[0] in {IO_LIBRARIES!r}
)
print(",".join(loaded))
"""


def test_importing_rules_loads_no_io_library() -> None:
    # A fresh interpreter: this test process may already hold such modules.
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == ""
