"""A rule pack file that changes is reloaded; one the loader cannot take never stops the clock."""

from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path

import pytest

import streams.rules_feed
from rules.pack import RulePack
from streams.rules_feed import FileWatcher

DEFAULT = resources.files("rules").joinpath("packs", "default.yaml").read_text("utf-8")


def _touch(path: Path, text: str, tick: int) -> None:
    path.write_text(text)
    os.utime(path, (tick, tick))  # mtimes a second apart: a change the watcher sees


def test_a_changed_pack_file_is_installed(tmp_path: Path) -> None:
    path = tmp_path / "pack.yaml"
    _touch(path, DEFAULT, 1_000)
    installed: list[RulePack] = []
    watcher = FileWatcher(path, installed.append)

    _touch(path, DEFAULT.replace("version: ", "version: 9", 1), 2_000)

    assert watcher.check() is True and len(installed) == 1


def test_a_refused_pack_keeps_the_current_one_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "pack.yaml"
    _touch(path, DEFAULT, 1_000)
    installed: list[RulePack] = []
    watcher = FileWatcher(path, installed.append)

    _touch(path, "rules: [", 2_000)
    with caplog.at_level(logging.ERROR, "loanwatch"):
        assert watcher.check() is False

    assert installed == []
    assert [r.getMessage()[:40] for r in caplog.records] == [
        f"rule pack rejected source={path}"[:40]
    ]


def test_a_loader_that_raises_keeps_the_current_pack_and_the_watcher_alive(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pack.yaml"
    _touch(path, DEFAULT, 1_000)
    installed: list[RulePack] = []
    watcher = FileWatcher(path, installed.append)

    def broken(_: Path) -> RulePack:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(streams.rules_feed, "load_pack", broken)  # a loader bug, injected
    _touch(path, DEFAULT, 2_000)
    with caplog.at_level(logging.ERROR, "loanwatch"):
        assert watcher.check() is False
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "the loader failed (RecursionError: maximum recursion depth exceeded)" in line
    assert line.endswith("the current pack stays")

    monkeypatch.undo()
    _touch(path, DEFAULT, 3_000)
    assert watcher.check() is True and len(installed) == 1
