"""Settings: loopback defaults, clear errors naming the setting, secrets kept secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, load_settings
from config.settings import KafkaSettings, known_env_names


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run each test in an empty folder (no stray .env) with no LOANWATCH_ variables."""
    import os

    for name in list(os.environ):
        if name.startswith("LOANWATCH_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_point_at_the_local_stack_on_loopback() -> None:
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert settings.redis.url == "redis://127.0.0.1:6379/0"
    assert settings.clickhouse.host == "127.0.0.1"
    assert settings.topics.events == "postloan.events"
    assert settings.topics.dlq == "postloan.events.dlq"


def test_nested_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOANWATCH_KAFKA__BOOTSTRAP_SERVERS", "k1:9093,k2:9093")
    monkeypatch.setenv("LOANWATCH_CLICKHOUSE__SECURE", "true")
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "k1:9093,k2:9093"
    assert settings.clickhouse.secure is True


def test_bad_port_fails_naming_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOANWATCH_CLICKHOUSE__PORT", "ninety")
    with pytest.raises(ConfigError, match="LOANWATCH_CLICKHOUSE__PORT: Input should be a valid"):
        load_settings()


def test_bootstrap_server_without_port_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOANWATCH_KAFKA__BOOTSTRAP_SERVERS", "kafka")
    with pytest.raises(ConfigError, match="LOANWATCH_KAFKA__BOOTSTRAP_SERVERS: .*host:port"):
        load_settings()


def test_misspelt_variable_is_rejected_with_a_suggestion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOANWATCH_REDIS__PASSWRD", "x")
    with pytest.raises(ConfigError, match="did you mean LOANWATCH_REDIS__PASSWORD"):
        load_settings()


def test_unknown_time_zone_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOANWATCH_TIME_ZONE", "Mars/Olympus")
    with pytest.raises(ConfigError, match="LOANWATCH_TIME_ZONE: .*unknown IANA time zone"):
        load_settings()


def test_illegal_topic_name_is_rejected() -> None:
    with pytest.raises(ConfigError, match="LOANWATCH_TOPICS__WARNINGS"):
        load_settings(topics={"warnings": "risk warnings"})


def _yaml_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str) -> Path:
    """A YAML settings file named by LOANWATCH_CONFIG_FILE."""
    config = tmp_path / "loanwatch.yaml"
    config.write_text(text)
    monkeypatch.setenv("LOANWATCH_CONFIG_FILE", str(config))
    return config


def test_yaml_file_named_by_environment_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = "redis:\n  url: rediss://cache.internal:6380/2\n  username: lw\n"
    _yaml_config(monkeypatch, tmp_path, text)
    settings = load_settings()
    assert settings.redis.url == "rediss://cache.internal:6380/2"
    assert settings.redis.uses_tls()


def test_environment_wins_over_yaml_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _yaml_config(monkeypatch, tmp_path, "app_id: from-yaml\n")
    monkeypatch.setenv("LOANWATCH_APP_ID", "from-env")
    assert load_settings().app_id == "from-env"


def test_missing_yaml_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOANWATCH_CONFIG_FILE", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match="LOANWATCH_CONFIG_FILE: no such file"):
        load_settings()


def test_dotenv_file_in_the_working_folder_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LOANWATCH_APP_ID=from-dotenv\n")
    assert load_settings().app_id == "from-dotenv"


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.app_id = "changed"  # type: ignore[misc]


def test_secrets_never_appear_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOANWATCH_CLICKHOUSE__PASSWORD", "hunter2-very-secret")
    monkeypatch.setenv("LOANWATCH_KAFKA__SASL_PASSWORD", "kafka-very-secret")
    settings = load_settings()
    assert "very-secret" not in repr(settings)
    assert "very-secret" not in str(settings.model_dump())


def test_kafka_sasl_ssl_becomes_librdkafka_keys() -> None:
    kafka = KafkaSettings(
        bootstrap_servers="b:9094",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="svc",
        sasl_password="pw",  # type: ignore[arg-type]
        ssl_cafile=Path("/etc/ca.pem"),
    )
    conf = kafka.confluent_config()
    assert conf["security.protocol"] == "sasl_ssl"
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert conf["sasl.username"] == "svc"
    assert conf["sasl.password"] == "pw"
    assert conf["ssl.ca.location"] == "/etc/ca.pem"


def test_an_ordered_producer_is_idempotent_over_the_same_credentials() -> None:
    kafka = KafkaSettings(security_protocol="SASL_SSL", sasl_username="svc", sasl_password="pw")  # type: ignore[arg-type]
    conf = kafka.ordered_producer_config()
    assert conf["enable.idempotence"] is True
    assert {k: v for k, v in conf.items() if k != "enable.idempotence"} == kafka.producer_config()


def test_a_producer_places_keys_as_java_clients_do() -> None:
    kafka = KafkaSettings(security_protocol="SASL_SSL", sasl_username="svc", sasl_password="pw")  # type: ignore[arg-type]
    conf = kafka.producer_config()
    assert conf["partitioner"] == "murmur2_random"  # librdkafka's default is crc32
    assert {k: v for k, v in conf.items() if k != "partitioner"} == kafka.confluent_config()
    assert kafka.ordered_producer_config()["partitioner"] == "murmur2_random"


def test_plaintext_kafka_sends_no_credentials() -> None:
    conf = KafkaSettings().confluent_config()
    assert not any(key.startswith(("sasl.", "ssl.")) for key in conf)


def test_redis_tls_and_acl_become_client_arguments() -> None:
    settings = load_settings(
        redis={
            "url": "rediss://r:6380/0",
            "username": "lw",
            "password": "pw",
            "ssl_ca_certs": "/ca",
        }
    )
    kwargs = settings.redis.client_kwargs()
    assert kwargs["username"] == "lw"
    assert kwargs["password"] == "pw"
    assert kwargs["ssl_ca_certs"] == "/ca"


def test_clickhouse_secure_flag_and_password_reach_the_driver() -> None:
    settings = load_settings(clickhouse={"secure": True, "password": "pw", "ca_certs": "/ca"})
    kwargs = settings.clickhouse.driver_kwargs()
    assert kwargs["secure"] is True
    assert kwargs["password"] == "pw"
    assert kwargs["ca_certs"] == "/ca"


def test_every_section_field_has_an_environment_name() -> None:
    names = known_env_names()
    assert "LOANWATCH_KAFKA__SASL_PASSWORD" in names
    assert "LOANWATCH_STACK__STATE_DIR" in names
    assert "LOANWATCH_TOPICS__DLQ" in names


def test_pd_model_is_one_of_the_candidates_and_named_when_wrong(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOANWATCH_WORKER__PD_MODEL", "ensemble")
    assert load_settings().worker.pd_model == "ensemble"
    monkeypatch.setenv("LOANWATCH_WORKER__PD_MODEL", "boosting")
    with pytest.raises(ConfigError, match="LOANWATCH_WORKER__PD_MODEL: .*'logistic'"):
        load_settings()


def test_pd_model_choices_are_the_models_candidates() -> None:
    import typing

    from config.settings import WorkerSettings
    from models.pd import CANDIDATES

    choices = typing.get_args(WorkerSettings.model_fields["pd_model"].annotation)
    assert choices == CANDIDATES


def test_state_folder_is_the_checkouts_whatever_the_working_folder(tmp_path: Path) -> None:
    checkout = Path(__file__).resolve().parents[3]
    settings = load_settings()  # run from tmp_path (see _clean_env)
    assert settings.state_dir == checkout / ".state"
    assert settings.stack.state_dir == checkout / ".state"
    assert settings.data_dir == checkout / ".state" / "worker"


def test_an_installed_copy_keeps_its_state_in_the_xdg_state_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from config import settings as settings_module

    monkeypatch.setattr(settings_module, "_is_loanwatch_checkout", lambda folder: False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert load_settings().state_dir == tmp_path / "xdg" / "loanwatch"


def test_one_state_dir_setting_moves_the_worker_data_and_the_stack(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LOANWATCH_STATE_DIR", str(tmp_path / "lw"))
    monkeypatch.setenv("LOANWATCH_STACK__KAFKA_PORT", "19092")
    settings = load_settings()
    assert settings.data_dir == tmp_path / "lw" / "worker"
    assert settings.stack.state_dir == tmp_path / "lw"
    assert settings.stack.kafka_port == 19092


def test_a_stack_state_dir_of_its_own_moves_only_the_stack(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LOANWATCH_STATE_DIR", str(tmp_path / "lw"))
    monkeypatch.setenv("LOANWATCH_STACK__STATE_DIR", str(tmp_path / "stack"))
    settings = load_settings()
    assert settings.stack.state_dir == tmp_path / "stack"
    assert settings.data_dir == tmp_path / "lw" / "worker"


def test_dotenv_holding_other_programs_variables_is_accepted(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "ALERTING_FILE=/etc/alerting.yaml\nREDIS_URL=redis://elsewhere:1/0\n"
        "LOANWATCH_REDIS__KEY_PREFIX=mine:\n"
    )
    settings = load_settings()
    assert settings.redis.key_prefix == "mine:"
    assert settings.redis.url == "redis://127.0.0.1:6379/0"


def test_misspelt_name_in_dotenv_gets_a_suggestion_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ALERTING_FILE=/x.yaml\nLOANWATCH_REDIS__PASSWRD=x\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        "unknown setting LOANWATCH_REDIS__PASSWRD (did you mean LOANWATCH_REDIS__PASSWORD?)"
        f" in {tmp_path / '.env'}"
    )


def test_misspelt_key_in_yaml_gets_a_suggestion_naming_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = _yaml_config(monkeypatch, tmp_path, "kafka:\n  bootstrap_server: k1\ntime_zon: UTC\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        "unknown setting kafka.bootstrap_server (did you mean kafka.bootstrap_servers?)"
        f" in {config}; time_zon (did you mean time_zone?) in {config}"
    )
