"""Who may use the ack endpoint: the start-up rule, the token sources, the CSRF tokens."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from config import ConfigError
from config.settings import AlertSettings
from sinks.alerts.access import csrf_token, csrf_valid, endpoint_access, foreign_origin

ROOT = Path(__file__).resolve().parents[4]


def test_without_a_token_the_endpoint_refuses_to_start_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match="LOANWATCH_ALERTS__HTTP_TOKEN.*--local-only"):
        endpoint_access(AlertSettings(), local_only=False, ack_url=None)


def test_local_only_serves_without_a_token_but_only_on_loopback() -> None:
    assert endpoint_access(AlertSettings(), local_only=True, ack_url=None).local_only
    setting = AlertSettings(http_local_only=True)
    assert endpoint_access(setting, local_only=False, ack_url=None).token is None
    with pytest.raises(ConfigError, match="LOANWATCH_ALERTS__HTTP_HOST.*'0.0.0.0'"):
        endpoint_access(AlertSettings(http_host="0.0.0.0"), local_only=True, ack_url=None)  # noqa: S104


def test_the_token_comes_from_the_setting_or_a_file(tmp_path: Path) -> None:
    direct = AlertSettings(http_token=SecretStr("abc"))
    assert endpoint_access(direct, local_only=False, ack_url=None).token_ok("abc")
    secret = tmp_path / "token"
    secret.write_text("from-file\n")
    filed = endpoint_access(AlertSettings(http_token_file=secret), local_only=False, ack_url=None)
    assert filed.token_ok("from-file") and not filed.token_ok("abc")
    with pytest.raises(ConfigError, match="HTTP_TOKEN_FILE.*not both"):
        AlertSettings(http_token=SecretStr("abc"), http_token_file=secret).http_secret()
    with pytest.raises(ConfigError, match="HTTP_TOKEN_FILE: cannot read"):
        AlertSettings(http_token_file=tmp_path / "missing").http_secret()
    secret.write_text(" \n")
    with pytest.raises(ConfigError, match="HTTP_TOKEN_FILE: .* is empty"):
        AlertSettings(http_token_file=secret).http_secret()


def test_the_ack_url_origin_may_post_the_form() -> None:
    access = endpoint_access(
        AlertSettings(http_token=SecretStr("abc")),
        local_only=False,
        ack_url="https://alerts.example.com/base",
    )
    assert access.origins == {"https://alerts.example.com"}
    own = "127.0.0.1:8095"
    assert foreign_origin("https://alerts.example.com", None, "http", own, access.origins) is None
    assert foreign_origin("https://evil.example", None, "http", own, access.origins) == "Origin"


def test_a_csrf_token_expires_and_binds_its_path_and_key() -> None:
    token = csrf_token(b"k", "n", "/ack/a", 0.0)
    assert csrf_valid(b"k", "n", "/ack/a", token, 3600.0)
    assert not csrf_valid(b"k", "n", "/ack/a", token, 13 * 3600.0)
    assert not csrf_valid(b"k", "n", "/resolve/a", token, 1.0)
    assert not csrf_valid(b"other", "n", "/ack/a", token, 1.0)
    assert not csrf_valid(b"k", "n", "/ack/a", "garbage", 1.0)


def test_alerts_run_without_a_token_exits_with_one_line(tmp_path: Path) -> None:
    """Before anything connects: no stack needed, and no traceback."""
    routes = tmp_path / "alerts.yaml"
    routes.write_text(
        "route: {receiver: ops}\nreceivers: [{name: ops, urls: ['json://127.0.0.1:9/x']}]\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOANWATCH_")}
    env["LOANWATCH_ALERTS__CONFIG_FILE"] = str(routes)
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "alerts", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2, done
    output = (done.stdout + done.stderr).strip()
    assert "Traceback" not in output
    assert "LOANWATCH_ALERTS__HTTP_TOKEN" in output and "not started" in output
    assert len(output.replace("\n ", " ").splitlines()) == 1, output
