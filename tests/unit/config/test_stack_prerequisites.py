"""Without the programs it needs, `stack up` says exactly what to install."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.stack.errors import StackError
from config.stack.prerequisites import REQUIREMENTS, ensure_installed, missing


def test_missing_programs_are_listed_with_their_debian_packages(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: nothing is installed
    assert {req.program for req in missing()} == {req.program for req in REQUIREMENTS}
    with pytest.raises(StackError) as info:
        ensure_installed(allow_install=False)
    message = str(info.value)
    for req in REQUIREMENTS:
        assert req.program in message
        assert req.debian_package in message
    assert "apt-get install -y" in message


def test_nothing_to_do_when_every_program_is_on_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for req in REQUIREMENTS:
        exe = tmp_path / req.program
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert ensure_installed(allow_install=False) == []
