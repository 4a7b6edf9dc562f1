"""The programs the local stack runs, and how to get them on Debian.

`stack up` installs what is missing when it runs as root on a machine with
apt-get (the developers' machines and CI); anywhere else it lists exactly what
to install, instead of failing later with an obscure "file not found".
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from config.stack.errors import StackError

__all__ = ["REQUIREMENTS", "Requirement", "ensure_installed", "missing"]


@dataclass(frozen=True, slots=True)
class Requirement:
    """A program the stack needs and the Debian package that provides it."""

    program: str
    debian_package: str
    needed_for: str


REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("java", "openjdk-17-jre-headless", "Kafka broker"),
    Requirement("mvn", "maven", "fetching the Kafka jars from Maven Central"),
    Requirement("redis-server", "redis-server", "Redis"),
    Requirement("clickhouse-server", "clickhouse-server", "ClickHouse"),
)


def missing() -> list[Requirement]:
    return [req for req in REQUIREMENTS if shutil.which(req.program) is None]


def ensure_installed(*, allow_install: bool = True) -> list[Requirement]:
    """Install missing programs with apt-get when we may; return what was installed."""
    todo = missing()
    if not todo:
        return []
    packages = sorted({req.debian_package for req in todo})
    can_apt = os.geteuid() == 0 and shutil.which("apt-get") is not None
    if not (allow_install and can_apt):
        lines = [
            f"  {req.program} ({req.needed_for}): Debian package {req.debian_package}"
            for req in todo
        ]
        raise StackError(
            "the local stack needs programs that are not installed:\n"
            + "\n".join(lines)
            + f"\ninstall them as root with: apt-get install -y {' '.join(packages)}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)  # noqa: S603
        if done.returncode != 0:
            raise StackError(
                f"`{' '.join(argv)}` failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}"
            )
    still = missing()
    if still:
        raise StackError(f"still missing after apt-get: {', '.join(r.program for r in still)}")
    return todo
