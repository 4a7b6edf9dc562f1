"""`loanwatch alerts run` against a closed Kafka port (Redis from the stack): one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import Running, cli_env, closed_port, routing_file


@pytest.mark.slow
def test_alerts_run_reports_unreachable_kafka_once_and_keeps_retrying(
    stack: object, tmp_path: Path, unique: str
) -> None:
    port = closed_port()
    env = cli_env(
        tmp_path,
        kafka__bootstrap_servers=f"127.0.0.1:{port}",
        redis__key_prefix=f"test:{unique}:",
        alerts__clickhouse="false",
    )
    args = ["alerts", "run", "--no-http", "--config", routing_file(tmp_path)]
    running = Running(args, env, tmp_path)
    try:
        running.wait_for(f"cannot reach Kafka at 127.0.0.1:{port}", 20)
        assert running.proc.poll() is None
    finally:
        code = running.interrupt()
    assert sum("cannot reach" in line for line in running.lines) == 1, running.lines
    assert not [line for line in running.lines if "|FAIL|" in line], running.lines
    assert code == 0, running.lines
