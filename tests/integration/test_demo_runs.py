"""The demo end to end: a tiny seeded book through a real worker, scored against its labels."""

from __future__ import annotations

import io
import time
from pathlib import Path

import orjson
from confluent_kafka.admin import AdminClient
from rich.console import Console

from config import Settings
from config import stack as local_stack
from streams.demo import run_demo

LIMIT_S = 150.0


def test_demo_runs_a_tiny_book_and_scores_it(
    settings: Settings, stack: list[local_stack.ServiceStatus], tmp_path: Path
) -> None:
    out = io.StringIO()
    started = time.monotonic()
    result = run_demo(
        settings,
        loans=40,
        months=4,
        seed=11,
        rate=None,
        max_seconds=LIMIT_S,
        quiet_s=3.0,
        out_dir=tmp_path,
        start_stack=False,
        console=Console(file=out, width=140),  # not a terminal: progress lines, no Live
    )
    elapsed = time.monotonic() - started
    log = (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
    assert result.ok, (result.error, log)
    assert result.stopped == "settled", (result.stopped, out.getvalue()[-3000:], log)
    assert elapsed < LIMIT_S + 45  # the limit, plus stopping the worker
    assert result.simulation is not None and result.simulation.events > 1_000
    assert result.tally.received > 0 and result.tally.undecodable == 0

    summary = orjson.loads((tmp_path / "summary.json").read_bytes())
    assert summary["ok"] is True and summary["run_id"] == result.run_id
    assert summary["book"]["loans"] == 40 and summary["book"]["events"] > 1_000
    assert summary["warnings"]["received"] == result.tally.received
    signals = {row["signal"]: row for row in summary["signals"]}
    for name in ("dpd_1", "dpd_30"):
        assert signals[name]["labelled"] > 0, signals[name]
        assert signals[name]["recall"] > 0, signals[name]
    assert (tmp_path / "labels.jsonl").exists()
    assert "stopped: settled" in out.getvalue()

    # Cleaned up: the worker's data folder and the run's topics are gone.
    assert not list(tmp_path.glob("worker-*"))
    admin = AdminClient(settings.kafka.confluent_config())
    deadline = time.monotonic() + 20  # deletion is asynchronous in the broker's metadata
    left = [t for t in admin.list_topics(timeout=10).topics if result.run_id in t]
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = [t for t in admin.list_topics(timeout=10).topics if result.run_id in t]
    assert left == []
