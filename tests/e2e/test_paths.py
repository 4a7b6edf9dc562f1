"""Where commands put files: under the state folder, whatever the working folder."""

from __future__ import annotations

from pathlib import Path

from cli_support import cli_env, run_once


def test_simulate_labels_go_under_the_state_folder_not_the_working_folder(
    tmp_path: Path,
) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = cli_env(tmp_path)
    events = tmp_path / "events.jsonl"
    done = run_once(
        ["simulate", "--loans", "2", "--months", "1", "--to-file", str(events)], env, work
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "state" / "demo" / "labels.jsonl").is_file()
    assert list(work.iterdir()) == []
