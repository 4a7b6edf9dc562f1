"""Running the real `loanwatch` command in tests: free ports, a clean environment, output
collected line by line while the process runs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROUTING = "route:\n  receiver: ops\nreceivers:\n  - name: ops\n    urls: ['json://127.0.0.1:1/x']\n"
"""The smallest routing file `alerts run` accepts."""


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cli_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment without the caller's LOANWATCH_ variables, everything kept under
    ``tmp_path/state``, plus ``settings`` (``kafka__bootstrap_servers=...``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOANWATCH_")}
    env["LOANWATCH_STATE_DIR"] = str(tmp_path / "state")
    env.update({f"LOANWATCH_{name.upper()}": value for name, value in settings.items()})
    return env


def run_once(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


class Running:
    """A long-running command whose output lines are collected as they come."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(text in line for line in self.lines):
            assert self.proc.poll() is None, self.lines
            assert time.monotonic() < deadline, self.lines
            time.sleep(0.1)

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self._reader.join(5)
        return code


def routing_file(tmp_path: Path) -> str:
    path = tmp_path / "alerts.yaml"
    path.write_text(ROUTING)
    return str(path)
