"""The container files stay in step with the code they package.

The Dockerfile and deploy/docker-compose.yml cannot be built or run on every
machine, so these tests read them as data instead: a renamed setting, a
console script dropped from pyproject.toml, a missing healthcheck or a
password typed into the compose file fails here rather than on a user's
`docker compose up`.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings import ENV_PREFIX, known_env_names, load_settings

REPO = Path(__file__).resolve().parents[3]
COMPOSE_FILE = REPO / "deploy" / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
PYPROJECT = REPO / "pyproject.toml"

STACK_SERVICES = {"kafka", "redis", "clickhouse", "worker"}
# A value for `${VAR:?message}`: compose refuses to start without one, so the
# test supplies what an operator would.
REQUIRED_PLACEHOLDER_VALUE = "dummy-value-from-operator"

# `$$` is compose's escaped dollar; `${NAME}`, `${NAME:-default}`, `${NAME-default}`,
# `${NAME:?message}`, `${NAME?message}` and bare `$NAME` are substitutions.
_SUBSTITUTION = re.compile(
    r"\$\$"
    r"|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
_ONE_SUBSTITUTION = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?][^}]*)?\}$")
_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_KEY", re.IGNORECASE)
_SECRET_ASSIGNMENT = re.compile(
    r"(?P<name>[A-Za-z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN)[A-Za-z0-9_]*)"
    r"=(?P<value>\$\{[^}]*\}|\S+)",
    re.IGNORECASE,
)
# A `${...}` value may hold spaces (`${VAR:?set VAR}`), so it is matched whole.
_REQUIREPASS = re.compile(r"--requirepass[ =](?P<value>\$\{[^}]*\}|\S+)")


# --- helpers -----------------------------------------------------------------


def _compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{COMPOSE_FILE} is not a YAML mapping"
    return document


def _services() -> dict[str, dict[str, Any]]:
    services = _compose().get("services")
    assert isinstance(services, dict), "compose file has no `services:` mapping"
    return services


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's `environment:` as name -> raw (unsubstituted) value, in either YAML form."""
    raw = service.get("environment") or {}
    if isinstance(raw, dict):
        return {str(k): "" if v is None else str(v) for k, v in raw.items()}
    env: dict[str, str] = {}
    for item in raw:
        name, _, value = str(item).partition("=")
        env[name] = value
    return env


def _resolve(value: str) -> str:
    """Substitute as compose would for someone who set only the required variables."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        op = match.group("op") or ""
        if op.endswith("-"):
            return match.group("arg")
        if op.endswith("?"):
            return REQUIRED_PLACEHOLDER_VALUE
        return ""  # unset and without a default: compose passes an empty string

    return _SUBSTITUTION.sub(replace, value)


def _strings(node: Any) -> Iterator[str]:
    """Every scalar in the compose document, with env mappings as `NAME=value` and
    command lists joined, so a secret is found in whatever form it was written."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "environment" and isinstance(value, dict):
                yield from (f"{k}={'' if v is None else v}" for k, v in value.items())
            else:
                yield from _strings(value)
    elif isinstance(node, list):
        if all(isinstance(item, str | int | float) for item in node):
            yield " ".join(str(item) for item in node)
        for item in node:
            yield from _strings(item)
    elif node is not None:
        yield str(node)


def _substituted_names(text: str) -> set[str]:
    names = set()
    for match in _SUBSTITUTION.finditer(text):
        name = match.group("braced") or match.group("bare")
        if name:
            names.add(name)
    return names


def _dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuations joined."""
    stages: list[list[tuple[str, str]]] = []
    logical = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue  # Docker drops comment lines, even inside a continuation
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        logical += stripped
        instruction, _, arguments = logical.partition(" ")
        logical = ""
        instruction = instruction.upper()
        if instruction == "FROM":
            stages.append([])
        assert stages, "Dockerfile has an instruction before its first FROM"
        stages[-1].append((instruction, arguments.strip()))
    assert stages, "Dockerfile has no FROM"
    return stages


def _instructions(stage: list[tuple[str, str]], name: str) -> list[str]:
    return [arguments for instruction, arguments in stage if instruction == name]


def _pyproject() -> dict[str, Any]:
    with PYPROJECT.open("rb") as handle:
        return tomllib.load(handle)


# --- compose: shape ------------------------------------------------------------


def test_compose_file_defines_the_whole_stack() -> None:
    assert set(_services()) >= STACK_SERVICES


def test_every_depends_on_target_is_a_service_in_the_file() -> None:
    services = _services()
    for name, service in services.items():
        targets = service.get("depends_on") or []
        missing = sorted(set(targets) - set(services))
        assert not missing, f"service {name!r} depends on undefined {missing}"


def test_worker_starts_only_after_its_dependencies_report_healthy() -> None:
    depends_on = _services()["worker"].get("depends_on")
    assert isinstance(depends_on, dict), "worker depends_on must use the long form with conditions"
    assert set(depends_on) >= STACK_SERVICES - {"worker"}
    for target, spec in depends_on.items():
        assert spec.get("condition") == "service_healthy", f"worker only awaits {target}'s start"


def test_every_backing_service_has_a_healthcheck() -> None:
    """`service_healthy` on a service without a healthcheck makes compose refuse to start."""
    services = _services()
    backing = {
        target for service in services.values() for target in (service.get("depends_on") or {})
    }
    assert {"kafka", "redis", "clickhouse"} <= backing
    for name in sorted(backing):
        service = services[name]
        check = service.get("healthcheck") or {}
        test = check.get("test")
        assert test and not check.get("disable"), f"service {name!r} has no healthcheck"
        assert test not in (["NONE"], "NONE"), f"service {name!r} disables its healthcheck"


# --- compose: settings wiring --------------------------------------------------


def test_every_loanwatch_variable_passed_to_a_service_is_a_known_setting() -> None:
    """A setting renamed in config/settings.py must be renamed here too: the worker
    would otherwise refuse to start with 'unknown setting'."""
    known = known_env_names()
    passed = {
        f"{service}: {name}"
        for service, spec in _services().items()
        for name in _environment(spec)
        if name.startswith(ENV_PREFIX) and name not in known
    }
    assert not passed, f"unknown LOANWATCH_ settings in compose: {sorted(passed)}"


def test_every_loanwatch_variable_read_from_the_operator_is_a_known_setting() -> None:
    """Operators export the same names the settings tree reads anywhere else."""
    referenced = _substituted_names(COMPOSE_FILE.read_text(encoding="utf-8"))
    unknown = sorted(
        name for name in referenced if name.startswith(ENV_PREFIX) and name not in known_env_names()
    )
    assert not unknown, f"compose substitutes unknown LOANWATCH_ names: {unknown}"


@pytest.fixture
def worker_settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Only the worker's compose environment is visible to `load_settings()`.

    The developer's own LOANWATCH_ variables and any .env file in the working
    directory are hidden, so the result depends on the compose file alone;
    monkeypatch restores all of it afterwards.
    """
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    env = {name: _resolve(value) for name, value in _environment(_services()["worker"]).items()}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_worker_environment_is_accepted_by_the_settings_loader(
    worker_settings_env: dict[str, str],
) -> None:
    settings = load_settings()
    # The values came from the compose file, not from the loopback defaults.
    assert (
        settings.kafka.bootstrap_servers
        == worker_settings_env["LOANWATCH_KAFKA__BOOTSTRAP_SERVERS"]
    )
    assert settings.redis.url == worker_settings_env["LOANWATCH_REDIS__URL"]
    assert settings.clickhouse.host == worker_settings_env["LOANWATCH_CLICKHOUSE__HOST"]


def test_worker_reaches_its_dependencies_by_service_name_on_the_internal_listener(
    worker_settings_env: dict[str, str],
) -> None:
    """127.0.0.1 inside the worker container is the worker itself, and Kafka's host
    listener advertises an address only the host can use."""
    settings = load_settings()
    services = _services()
    advertised = _environment(services["kafka"]).get("KAFKA_ADVERTISED_LISTENERS", "")
    internal = {entry.split("://", 1)[1] for entry in advertised.split(",") if "://" in entry}
    for server in settings.kafka.bootstrap_servers.split(","):
        assert server.strip() in internal, f"{server} is not one of Kafka's listeners {internal}"
        assert server.strip().rpartition(":")[0] in services
    redis_host = settings.redis.url.split("://", 1)[1].split("/", 1)[0].rpartition(":")[0]
    assert redis_host in services
    assert settings.clickhouse.host in services


def test_worker_uses_the_credentials_the_services_are_started_with() -> None:
    """Both sides read the same operator variable, so they cannot drift apart."""
    services = _services()
    worker = _environment(services["worker"])
    clickhouse = _environment(services["clickhouse"])
    assert worker["LOANWATCH_CLICKHOUSE__USER"] == clickhouse["CLICKHOUSE_USER"]
    assert worker["LOANWATCH_CLICKHOUSE__PASSWORD"] == clickhouse["CLICKHOUSE_PASSWORD"]
    assert worker["LOANWATCH_CLICKHOUSE__DATABASE"] == clickhouse["CLICKHOUSE_DB"]
    redis_command = " ".join(str(part) for part in services["redis"].get("command") or [])
    requirepass = _REQUIREPASS.search(redis_command)
    assert requirepass, "redis runs without --requirepass"
    assert requirepass.group("value") == worker["LOANWATCH_REDIS__PASSWORD"]


# --- compose: secrets -----------------------------------------------------------


def test_compose_file_contains_no_literal_secret() -> None:
    """Secrets come from whoever runs compose; a default would be a shared password."""
    found: list[str] = []
    for text in _strings(_compose()):
        for match in _SECRET_ASSIGNMENT.finditer(text):
            value = match.group("value")
            if not value.startswith("${"):
                found.append(f"{match.group('name')}={value}")
        for match in _REQUIREPASS.finditer(text):
            if not match.group("value").startswith("${"):
                found.append(f"--requirepass {match.group('value')}")
    assert not found, f"literal secrets in {COMPOSE_FILE.name}: {found}"


def test_secret_variables_are_required_from_the_operator_not_defaulted() -> None:
    for service, spec in _services().items():
        for name, value in _environment(spec).items():
            if not _SECRET_NAME.search(name) or value == "":
                continue
            assert _ONE_SUBSTITUTION.match(value), f"{service}: {name} is not one ${{...}}"
            op = _SUBSTITUTION.match(value)
            assert op is not None and not (op.group("op") or "").endswith("-"), (
                f"{service}: {name} has a default; use ${{VAR:?message}}"
            )


# --- Dockerfile -------------------------------------------------------------------


def test_image_runs_as_a_non_root_user() -> None:
    users = _instructions(_dockerfile_stages()[-1], "USER")
    assert users, "the final stage has no USER, so the container runs as root"
    user = users[-1].split(":", 1)[0].strip()
    assert user not in {"", "root", "0"}, f"the final stage runs as {users[-1]!r}"


def test_image_entrypoint_is_a_console_script_declared_in_pyproject() -> None:
    entrypoints = _instructions(_dockerfile_stages()[-1], "ENTRYPOINT")
    assert entrypoints, "the final stage has no ENTRYPOINT"
    # Exec (JSON) form: the worker is PID 1 and receives SIGTERM itself.
    command = json.loads(entrypoints[-1])
    assert command == ["loanwatch"]
    scripts = _pyproject()["project"].get("scripts", {})
    assert command[0] in scripts, f"{command[0]!r} is not in [project.scripts]"


def test_image_installs_every_package_that_pyproject_ships() -> None:
    """A package added to [tool.setuptools.packages.find] but not copied into the
    build stage would be silently missing from the image."""
    include = _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*").rstrip(".") for pattern in include}
    copied: set[str] = set()
    for stage in _dockerfile_stages()[:-1]:
        for arguments in _instructions(stage, "COPY"):
            sources = [part for part in arguments.split() if not part.startswith("--")][:-1]
            copied.update(source.strip("./") for source in sources)
    missing = sorted(packages - copied)
    assert not missing, f"the build stage does not COPY {missing}"


def test_image_installs_the_tested_dependency_pins() -> None:
    build_steps = [
        args for stage in _dockerfile_stages()[:-1] for args in _instructions(stage, "RUN")
    ]
    assert any("pip install --constraint constraints.txt ." in step for step in build_steps)
    assert (REPO / "constraints.txt").is_file(), "the image build needs constraints.txt"


def test_build_context_leaves_out_local_state_and_secrets() -> None:
    ignored = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".state", ".git", ".env"} <= ignored
