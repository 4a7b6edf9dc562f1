"""The demo's worker process: its own app id, topics and data folder, started and stopped.

The worker is a real ``python -m streams.cli worker`` subprocess with the event
clock, so simulated months age the loans. It runs in its own session, so a
Ctrl-C reaches only the demo, which then stops the worker in order (SIGTERM,
then SIGKILL only if it does not stop).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Final

from config import Settings
from config.settings import TopicSettings

__all__ = ["demo_settings", "start_worker", "stop_worker"]

_TOPIC_NAMES: Final = TopicSettings.names()


def demo_settings(
    settings: Settings, run_id: str, data_dir: Path, clock_interval_s: float
) -> Settings:
    """``settings`` with the run's own app id, topics, data folder and the event clock."""
    prefix = f"demo.{run_id}"
    return settings.model_copy(
        update={
            "app_id": f"loanwatch-demo-{run_id}",
            "data_dir": data_dir,
            "topics": settings.topics.model_copy(
                update={name: f"{prefix}.{name}" for name in _TOPIC_NAMES}
            ),
            "worker": settings.worker.model_copy(
                update={"clock": "event", "clock_interval_s": clock_interval_s}
            ),
        }
    )


def _worker_env(demo: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "LOANWATCH_APP_ID": demo.app_id,
            "LOANWATCH_DATA_DIR": str(demo.data_dir.resolve()),
            "LOANWATCH_WORKER__CLOCK": "event",
            "LOANWATCH_WORKER__CLOCK_INTERVAL_S": str(demo.worker.clock_interval_s),
            **{
                f"LOANWATCH_TOPICS__{name.upper()}": getattr(demo.topics, name)
                for name in _TOPIC_NAMES
            },
        }
    )
    return env


def start_worker(demo: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    """The worker for ``demo``, its output appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            env=_worker_env(demo),
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C reaches only us, and we stop it in order.
            start_new_session=True,
        )


def stop_worker(proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> int | None:
    """Stop the worker (SIGTERM, SIGKILL after ``timeout_s``); its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
