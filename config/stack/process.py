"""A local server process we start, track by pid file, check and stop.

Each service (Kafka, Redis, ClickHouse) is one small subclass that says how to
prepare its folder, which command runs it and how to tell it is healthy. The
base keeps the bookkeeping that makes `stack up` idempotent: a service whose
pid file names a live process that answers its health check is left alone, and
a port held by some other process is reported rather than fought over.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings
from config.stack.errors import StackError

__all__ = ["Service", "ServiceStatus", "port_open"]


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """What `loanwatch stack status` prints for one service."""

    name: str
    pid: int | None
    running: bool
    healthy: bool
    detail: str


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


class Service(ABC):
    """One server of the local stack, living in ``<state_dir>/<name>/``."""

    name: str = ""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = (settings.stack.state_dir / self.name).resolve()
        self.pid_file = self.home / "pid"
        self.log_file = self.home / "logs" / "console.log"

    # What each service says about itself.
    @property
    @abstractmethod
    def ports(self) -> Sequence[int]:
        """Ports the service listens on; the first is the one clients use."""

    @abstractmethod
    def prepare(self) -> None:
        """Write config and create data folders; safe to call again."""

    @abstractmethod
    def command(self) -> list[str]:
        """The argv that runs the server in the foreground."""

    @abstractmethod
    def check_health(self) -> str:
        """Return a short description (e.g. the version) or raise when unhealthy."""

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    # Bookkeeping shared by all services.
    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) and self._owns(pid) else None

    def _owns(self, pid: int) -> bool:
        """Guard against a recycled pid: our servers run in, or name a file in, our home."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            return True  # no /proc (or not ours to read): trust the pid file
        return str(self.home).encode() in cmdline or cwd.startswith(str(self.home))

    def healthy(self) -> tuple[bool, str]:
        try:
            return True, self.check_health()
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy yet"
            return False, f"{type(exc).__name__}: {exc}"

    def status(self) -> ServiceStatus:
        pid = self.pid()
        ok, detail = self.healthy() if pid else (False, "not running")
        return ServiceStatus(self.name, pid, pid is not None, ok, detail)

    def start(self) -> ServiceStatus:
        """Start the server unless ours is already up; wait until it is healthy."""
        if self.pid() is not None:
            return self.wait_healthy()
        busy = [port for port in self.ports if port_open(port)]
        if busy:
            raise StackError(
                f"{self.name}: port(s) {busy} already in use by another process; stop it or "
                f"choose other ports with LOANWATCH_STACK__* settings"
            )
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.prepare()
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - argv built from our own settings
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.home,
                env=self.environment(),
                start_new_session=True,  # survives the CLI that started it
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        return self.wait_healthy(proc)

    def wait_healthy(self, proc: subprocess.Popen[bytes] | None = None) -> ServiceStatus:
        deadline = time.monotonic() + self.settings.stack.start_timeout_s
        detail = ""
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise StackError(
                    f"{self.name} exited with code {proc.returncode} while starting; "
                    f"last log lines:\n{self.tail_log()}"
                )
            ok, detail = self.healthy()
            if ok:
                return ServiceStatus(self.name, self.pid(), True, True, detail)
            time.sleep(0.5)
        raise StackError(
            f"{self.name} not healthy after {self.settings.stack.start_timeout_s:.0f}s "
            f"({detail}); last log lines:\n{self.tail_log()}"
        )

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop our process by its pid (TERM, then KILL); False if it was not running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True

    def tail_log(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie we already reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"
