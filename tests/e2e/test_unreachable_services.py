"""The real `loanwatch` command against a closed port: one line naming the service and
its address, then exit 69 (one-shot commands) or keep retrying (long-running ones).

No service is needed: every address points at a port nothing listens on.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cli_support import Running, cli_env, closed_port, routing_file, run_once

EXIT_UNAVAILABLE = 69


REDIS_COMMANDS = [["lookup", "L-1"], ["model-metrics"], ["alerts", "list"], ["alerts", "ack", "g1"]]


@pytest.mark.parametrize("args", REDIS_COMMANDS, ids=lambda a: " ".join(a))
def test_redis_down_one_shot_command_prints_one_line_and_exits_69(
    args: list[str], tmp_path: Path
) -> None:
    port = closed_port()
    done = run_once(args, cli_env(tmp_path, redis__url=f"redis://127.0.0.1:{port}/0"), tmp_path)
    assert done.returncode == EXIT_UNAVAILABLE, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"error: cannot reach Redis at redis://127.0.0.1:{port}/0 (Connection refused); exiting"
    ]


def test_clickhouse_down_db_migrate_prints_one_line_and_exits_69(tmp_path: Path) -> None:
    port = closed_port()
    done = run_once(["db", "migrate"], cli_env(tmp_path, clickhouse__port=str(port)), tmp_path)
    assert done.returncode == EXIT_UNAVAILABLE, done.stderr
    assert (done.stdout + done.stderr).splitlines() == [
        f"error: cannot reach ClickHouse at 127.0.0.1:{port} (Connection refused); exiting"
    ]


def test_kafka_down_simulate_gives_up_after_the_connect_timeout_in_one_line(
    tmp_path: Path,
) -> None:
    port = closed_port()
    env = cli_env(
        tmp_path, kafka__bootstrap_servers=f"127.0.0.1:{port}", kafka__connect_timeout_s="1"
    )
    started = time.monotonic()
    done = run_once(["simulate", "--loans", "2", "--months", "1"], env, tmp_path)
    assert done.returncode == EXIT_UNAVAILABLE, done.stderr
    assert done.stderr.splitlines() == [
        f"error: cannot reach Kafka at 127.0.0.1:{port} (no broker answered within 1 s); exiting"
    ]
    assert time.monotonic() - started < 15


def test_verbose_after_the_command_adds_the_traceback_before_the_same_line(
    tmp_path: Path,
) -> None:
    port = closed_port()
    env = cli_env(tmp_path, redis__url=f"redis://127.0.0.1:{port}/0")
    done = run_once(["lookup", "L-1", "--verbose"], env, tmp_path)
    assert done.returncode == EXIT_UNAVAILABLE
    assert "Traceback (most recent call last)" in done.stderr
    assert done.stderr.splitlines()[-1].startswith("error: cannot reach Redis at ")


LONG_RUNNING = {
    "worker, Kafka": (["worker"], "Kafka", "kafka__bootstrap_servers", "127.0.0.1:{port}"),
    "sink redis, Kafka": (
        ["sink", "redis"],
        "Kafka",
        "kafka__bootstrap_servers",
        "127.0.0.1:{port}",
    ),
    "sink clickhouse, ClickHouse": (
        ["sink", "clickhouse"],
        "ClickHouse",
        "clickhouse__port",
        "{port}",
    ),
    "alerts run, Redis": (
        ["alerts", "run", "--no-http", "--config", "{routing}"],
        "Redis",
        "redis__url",
        "redis://127.0.0.1:{port}/0",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(LONG_RUNNING))
def test_long_running_command_reports_an_unreachable_service_once_and_keeps_retrying(
    case: str, tmp_path: Path
) -> None:
    args, service, setting, value = LONG_RUNNING[case]
    port = closed_port()
    env = cli_env(
        tmp_path,
        kafka__connect_timeout_s="1",
        alerts__clickhouse="false",
        **{setting: value.format(port=port)},
    )
    args = [a.format(routing=routing_file(tmp_path)) for a in args]
    running = Running(args, env, tmp_path)
    try:
        running.wait_for(f"cannot reach {service} at ", 20)
        time.sleep(3)  # many failed attempts: librdkafka alone used to log ~20 a second
        assert running.proc.poll() is None, running.lines
    finally:
        code = running.interrupt()
    reports = [line for line in running.lines if "cannot reach" in line]
    assert len(reports) == 1, running.lines
    assert f"at 127.0.0.1:{port}" in reports[0] or f"127.0.0.1:{port}/0" in reports[0]
    assert "retrying with backoff, reporting once a minute" in reports[0]
    assert not [line for line in running.lines if "Traceback" in line or "|FAIL|" in line]
    assert len(running.lines) <= 4, running.lines
    assert code in (0, 130), running.lines
