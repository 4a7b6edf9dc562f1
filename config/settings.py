"""One frozen settings tree for every Loanwatch process.

Values come, highest first, from keyword arguments, ``LOANWATCH_*`` environment
variables (nested with ``__``, e.g. ``LOANWATCH_KAFKA__BOOTSTRAP_SERVERS``), a
``.env`` file, and a YAML file named by ``LOANWATCH_CONFIG_FILE``. Defaults point
at the local stack on loopback, so a developer needs no configuration at all.

Each client's own keyword arguments are derived here, once, so TLS and
credentials are spelled the same way for Kafka, Redis and ClickHouse.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from config import sources
from config.errors import ConfigError

__all__ = [
    "AlertSettings",
    "ApiSettings",
    "ClickHouseSettings",
    "KafkaSettings",
    "RedisSettings",
    "Settings",
    "StackSettings",
    "TopicSettings",
    "WorkerSettings",
    "default_state_dir",
    "known_env_names",
    "load_settings",
]

ENV_PREFIX = "LOANWATCH_"
CONFIG_FILE_ENV = "LOANWATCH_CONFIG_FILE"
DOTENV_FILE = ".env"
"""Read from the working folder, as docker compose and most tools do."""
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


def default_state_dir() -> Path:
    """``.state/`` in the source checkout this code runs from, else the XDG state folder.

    Never relative to the working folder: `loanwatch stack status` run from elsewhere
    finds the same stack as from the project folder.
    """
    checkout = Path(__file__).resolve().parent.parent
    if _is_loanwatch_checkout(checkout):
        return checkout / ".state"
    xdg = os.environ.get("XDG_STATE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "state"
    return base / "loanwatch"


def _is_loanwatch_checkout(folder: Path) -> bool:
    try:
        text = (folder / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return False
    return re.search(r'(?m)^name\s*=\s*"loanwatch"\s*$', text) is not None


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class KafkaSettings(_Section):
    """Where the brokers are and how to authenticate to them."""

    bootstrap_servers: str = "127.0.0.1:9092"
    """Brokers to bootstrap from, ``host:port[,host:port...]``."""
    client_id: str = "loanwatch"
    """The client id the brokers see in their logs and quotas."""
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    """How to talk to the brokers: plain, TLS, SASL, or SASL over TLS."""
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    """SASL mechanism when the protocol is ``SASL_*`` (``PLAIN`` if unset)."""
    sasl_username: str | None = None
    """SASL user name."""
    sasl_password: SecretStr | None = None
    """SASL password (secret)."""
    ssl_cafile: Path | None = None
    """CA bundle that signed the brokers' certificates (TLS)."""
    ssl_certfile: Path | None = None
    """Client certificate, for brokers that want mutual TLS."""
    ssl_keyfile: Path | None = None
    """The client certificate's private key."""
    ssl_key_password: SecretStr | None = None
    """Password of the private key (secret)."""
    ssl_check_hostname: bool = True
    """Check that the broker's certificate names the host connected to."""
    connect_timeout_s: float = Field(default=10.0, gt=0)
    """Seconds a one-shot command (``simulate``) waits for the brokers before it gives up;
    long-running commands keep retrying instead."""

    @field_validator("bootstrap_servers")
    @classmethod
    def _hosts_have_ports(cls, value: str) -> str:
        for server in value.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"expected host:port[,host:port...], got {server.strip()!r}")
        return value

    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def confluent_config(self) -> dict[str, str]:
        """Settings in librdkafka's own key names, for confluent-kafka clients."""
        conf = {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": self.client_id,
            "security.protocol": self.security_protocol.lower(),
        }
        if self.uses_sasl():
            conf["sasl.mechanism"] = self.sasl_mechanism or "PLAIN"
            conf["sasl.username"] = self.sasl_username or ""
            conf["sasl.password"] = _reveal(self.sasl_password)
        if self.uses_tls():
            if self.ssl_cafile:
                conf["ssl.ca.location"] = str(self.ssl_cafile)
            if self.ssl_certfile:
                conf["ssl.certificate.location"] = str(self.ssl_certfile)
            if self.ssl_keyfile:
                conf["ssl.key.location"] = str(self.ssl_keyfile)
            if self.ssl_key_password:
                conf["ssl.key.password"] = _reveal(self.ssl_key_password)
            conf["ssl.endpoint.identification.algorithm"] = (
                "https" if self.ssl_check_hostname else "none"
            )
        return conf

    def producer_config(self) -> dict[str, str]:
        """`confluent_config` for a producer of keyed messages: Kafka's default partitioner.

        A key's partition is Java's: murmur2 of the key bytes, made positive, modulo
        the partition count, as Java clients (core banking) and the worker's own
        aiokafka producer place it. librdkafka's default is crc32, which puts the
        same loan_id on another partition; ``murmur2_random`` is its Java-compatible
        partitioner (a message without a key goes to a random partition).
        """
        return {**self.confluent_config(), "partitioner": "murmur2_random"}

    def ordered_producer_config(self) -> dict[str, str | bool]:
        """`producer_config` for a producer whose messages keep their order per partition.

        librdkafka retries a failed request while later ones are in flight, so
        without idempotence a batch that hit a transient error (a topic created a
        moment ago, a leader moving) lands after the batches sent behind it: a
        loan's repayment before its disbursement. Idempotence (acks=all) keeps the
        order and drops the retries' duplicates.
        """
        return {**self.producer_config(), "enable.idempotence": True}


class RedisSettings(_Section):
    """Redis for instant lookups; ACL user, password and TLS are all optional."""

    url: str = "redis://127.0.0.1:6379/0"
    """``redis://``, ``rediss://`` (TLS) or ``unix://`` URL, with the database number."""
    username: str | None = None
    """ACL user name."""
    password: SecretStr | None = None
    """Password (secret)."""
    ssl_ca_certs: Path | None = None
    """CA bundle that signed the server's certificate (``rediss://``)."""
    ssl_certfile: Path | None = None
    """Client certificate, for a server that wants mutual TLS."""
    ssl_keyfile: Path | None = None
    """The client certificate's private key."""
    ssl_check_hostname: bool = True
    """Check that the server's certificate names the host connected to."""
    key_prefix: str = "lw:"
    """Prefix of every key Loanwatch writes (risk cards, model metrics, alerts)."""
    socket_timeout_s: float = Field(default=2.0, gt=0)
    """Seconds to wait for a command's answer."""
    socket_connect_timeout_s: float = Field(default=1.0, gt=0)
    """Seconds to wait for a connection: bounds how long an unreachable Redis takes to notice."""
    retries: int = Field(default=0, ge=0)
    """redis-py's own immediate retries of a failed command; our writers back off themselves."""
    health_check_interval_s: int = Field(default=30, ge=0)
    """PING a connection idle this long before using it (0: never)."""
    closed_ttl_days: int = Field(default=90, ge=0)
    """Days a loan's keys live once it has no open warning or was written off (0: forever)."""

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// (TLS) or unix://")
        return value

    def uses_tls(self) -> bool:
        return self.url.startswith("rediss://")

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``redis.Redis.from_url(settings.url, **kwargs)``.

        The retry policy is explicit: left to redis-py, a client built with
        ``redis.Redis(...)`` retries a refused connection three times with its own
        backoff (seconds), hiding an outage from the writer that should report it.
        """
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        kwargs: dict[str, Any] = {
            "socket_timeout": self.socket_timeout_s,
            "socket_connect_timeout": self.socket_connect_timeout_s,
            "retry": Retry(NoBackoff(), self.retries),
            "health_check_interval": self.health_check_interval_s,
        }
        if self.username:
            kwargs["username"] = self.username
        if self.password:
            kwargs["password"] = _reveal(self.password)
        if self.uses_tls():
            kwargs["ssl_check_hostname"] = self.ssl_check_hostname
            if self.ssl_ca_certs:
                kwargs["ssl_ca_certs"] = str(self.ssl_ca_certs)
            if self.ssl_certfile:
                kwargs["ssl_certfile"] = str(self.ssl_certfile)
            if self.ssl_keyfile:
                kwargs["ssl_keyfile"] = str(self.ssl_keyfile)
        return kwargs


class ClickHouseSettings(_Section):
    """ClickHouse over the native protocol (clickhouse-driver)."""

    host: str = "127.0.0.1"
    """Server host name or address."""
    port: int = Field(default=9000, gt=0, lt=65536)
    """Native protocol port (9440 is usual with ``secure``)."""
    http_port: int = Field(default=8123, gt=0, lt=65536)
    """HTTP interface port, used by the local stack's health check."""
    database: str = Field(default="loanwatch", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """The analysts' database; `db migrate` creates it."""
    user: str = "default"
    """User name."""
    password: SecretStr = SecretStr("")
    """Password (secret)."""
    secure: bool = False
    """Connect over TLS."""
    ca_certs: Path | None = None
    """CA bundle that signed the server's certificate (``secure``)."""
    verify: bool = True
    """Verify the server's certificate (``secure``)."""
    connect_timeout_s: float = Field(default=5.0, gt=0)
    """Seconds to wait for a connection."""

    def address(self) -> str:
        """``host:port`` of the native protocol, as messages name it."""
        return f"{self.host}:{self.port}"

    def driver_kwargs(self, *, database: str | None = None) -> dict[str, Any]:
        """Keyword arguments for ``clickhouse_driver.Client(**kwargs)``."""
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "database": database if database is not None else self.database,
            "user": self.user,
            "password": self.password.get_secret_value(),
            "secure": self.secure,
            "verify": self.verify,
            "connect_timeout": self.connect_timeout_s,
            "client_name": "loanwatch",
        }
        if self.ca_certs:
            kwargs["ca_certs"] = str(self.ca_certs)
        return kwargs


class TopicSettings(_Section):
    """Kafka topic names; every producer and consumer reads them from here."""

    events: str = "postloan.events"
    """Loan, repayment, account, bureau and contact events in (docs/events.md)."""
    dlq: str = "postloan.events.dlq"
    """Events that could not be read, with the reason (kept 30 days)."""
    warnings: str = "risk.warnings"
    """Warnings out (docs/warnings.md)."""
    transitions: str = "risk.transitions"
    """Changes of delinquency bucket and five-category class."""
    actions: str = "postloan.actions"
    """Workflow actions for staff (calls, letters, reviews)."""
    rules: str = "risk.rules"
    """Rule packs published at run time (compacted; the newest wins)."""
    model_metrics: str = "risk.model_metrics"
    """Each partition's model figures at every checkpoint of its hub (docs/models.md)."""
    partitions: int = Field(default=4, ge=1, le=1024)
    """Partitions of each topic the worker creates (existing topics are left alone)."""

    @field_validator(
        "events", "dlq", "warnings", "transitions", "actions", "rules", "model_metrics"
    )
    @classmethod
    def _legal_topic(cls, value: str) -> str:
        if not _TOPIC_NAME.match(value) or value in (".", ".."):
            raise ValueError("Kafka topic names are 1-249 of [A-Za-z0-9._-]")
        return value

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every topic's setting name, so a run that takes its own topics misses none.

        >>> TopicSettings.names()[-1]
        'model_metrics'
        """
        return tuple(name for name in cls.model_fields if name != "partitions")


class WorkerSettings(_Section):
    """How a stream worker judges: its clock, policies, rule pack and guarantees."""

    clock: Literal["wall", "event"] = "wall"
    """`wall`: ticks follow the real date. `event`: they follow the newest event time seen
    on each partition, so a replay of months of history ages loans as it goes."""
    clock_interval_s: float = Field(default=30.0, gt=0)
    """Seconds between the clock's ticks, which age every loan (days past due)."""
    clock_ticks_per_s: float = Field(default=200.0, gt=0)
    """Wall clock only: the most ticks a worker sends per second, in slices every
    tenth of a second. A day's wake-ups come due together (a whole book's
    installments at the cut-off) and ticks share the judging agent with live
    events, so an unpaced burst of N ticks holds every event behind it for N
    steps; paced, an event waits behind one slice at most. The event clock is
    not paced: a replay must give the same outputs however fast it runs."""
    rules_file: Path | None = None
    """A rule pack YAML watched for changes; `None` uses the built-in pack (and the
    rules control topic, which always wins once it has a pack)."""
    policy_file: Path | None = None
    """A policy YAML (buckets, classes, grace days); `None` uses the built-in one."""
    workflows_file: Path | None = None
    """A workflow policy YAML (which actions follow which warnings); `None`: built-in."""
    processing_guarantee: Literal["at_least_once", "exactly_once"] = "at_least_once"
    """``exactly_once`` uses Kafka transactions: no repeated outputs after a crash, at some cost."""
    web_port: int | None = Field(default=None, gt=0, lt=65536)
    """Port of Faust's web server; `None` leaves it off (`loanwatch worker` runs without it)."""
    linger_ms: int = Field(default=0, ge=0, le=1000)
    """How long the producer waits to fill a batch (Faust's default, 0). Measured in
    one paired run (`bench/stream.py --loans 300 --latency-rate 250 --set
    LOANWATCH_WORKER__LINGER_MS=0|5`): 918 vs 917 events/s, i.e. no difference
    beyond the noise on this machine (that run's latencies are not quoted: the
    bench then counted its own producer's start-up as latency)."""
    models: bool = True
    """Score every step with the online models (`models/`) so rules can read
    ``model.*``; off, those names read 0.0 and no model state is kept."""
    pd_model: Literal["logistic", "forest", "ensemble"] = "logistic"
    """The early-warning PD candidate (docs/models.md): ``logistic`` is cheap and
    within the 50 µs scoring budget; ``ensemble`` ranks best on real data
    (bench/taiwan.py) at about three times the cost and checkpoints of several MB,
    which the worker writes in chunks. A hub checkpointed as another candidate is
    replaced by a fresh one of this candidate when its partition is next used."""
    model_bad_dpd: int = Field(default=60, ge=1, le=3650)
    """Days past due at which the PD's label counts a loan as bad (or written off).
    60, not 90: a loan current when scored can reach 60 within the horizon but
    rarely 90, and the PD exists to tell which current loans go bad."""
    model_horizon_days: int = Field(default=90, ge=1, le=3650)
    """Days a PD snapshot waits for its loan to go bad before it is labelled good."""
    model_warmup_labels: int = Field(default=200, ge=0)
    """Outcomes a partition's PD model must have learned before rules see its score."""
    model_checkpoint_steps: int = Field(default=500, gt=0)
    """Steps of a partition between checkpoints of its models: a crash loses at
    most this much learning, never scoring."""
    model_checkpoint_chunk_bytes: int = Field(default=512 * 1024, ge=4096, le=64 << 20)
    """Largest piece of a model checkpoint in the ``models`` table (its changelog):
    under the broker's and topic's message size limit (1 MB by default)."""
    fetch_max_wait_ms: int = Field(default=50, ge=0, le=60_000)
    """How long a fetch waits at the broker for new records. Faust fixes 1,500 ms,
    under which a steady stream stalled ~1 s every ~2 s (docs/performance.md)."""
    batch_max: int = Field(default=1000, ge=1, le=100_000)
    """The most messages the judging agent takes at once. A batch's rows are written
    once and its outputs sent in few produce requests, all delivered before its
    offsets are acked (docs/performance.md)."""
    batch_within_s: float = Field(default=0.02, gt=0, le=10)
    """How long the agent waits to fill a batch before judging what it has: the
    latency a quiet stream pays, against fewer, larger writes under load."""
    cached_loans: int = Field(default=20_000, ge=0)
    """Decoded loan records kept in memory, newest used first, so a busy loan is not
    decoded from its stored bytes at every event. 0 turns the cache off."""
    heap_settle_interval_s: float = Field(default=600.0, ge=0)
    """Seconds between collect-and-freeze rounds of the worker's long-lived objects
    (streams/heap.py), also made after every partition assignment. Without them
    Python's full garbage collections walk the whole heap several times a minute
    when busy (~200 ms each, the worker's p99 latency); 0 leaves Python's default."""


class AlertSettings(_Section):
    """Push alerts for on-call staff (sinks/alerts, docs/alerting.md)."""

    config_file: Path | None = None
    """The routing YAML (routes, receivers, escalation, mute windows); `alerts run` needs it."""
    ref_key: SecretStr = SecretStr("loanwatch-alert-refs")
    """Key of the keyed hash that masks borrower references in messages; set it in production."""
    http_host: str = "127.0.0.1"
    """Address the ack/resolve endpoint listens on."""
    http_port: int | None = Field(default=8095, gt=0, lt=65536)
    """The ack/resolve endpoint of `alerts run`; `None` turns it off."""
    http_token: SecretStr | None = None
    """The endpoint's credential: every request needs ``Authorization: Bearer <token>``
    (the ack form asks for it). Without it (or ``http_token_file``) the endpoint does not
    start, unless ``http_local_only``."""
    http_token_file: Path | None = None
    """A file holding the token (a mounted secret), instead of ``http_token``."""
    http_local_only: bool = False
    """Serve the endpoint without a token, on loopback only: for one person's machine.
    Cross-site requests from the browser are still refused."""
    clickhouse: bool = True
    """Write every alert state change to ClickHouse ``alert_events``."""

    def http_secret(self) -> SecretStr | None:
        """The endpoint's token from ``http_token`` or ``http_token_file``; ``None`` if neither.

        Read on use, not at load, so a rotated secret file is picked up by a restart
        and a missing one fails only the process that needs it.
        """
        if self.http_token is not None and self.http_token_file is not None:
            raise ConfigError(
                "invalid setting LOANWATCH_ALERTS__HTTP_TOKEN_FILE: "
                "set it or LOANWATCH_ALERTS__HTTP_TOKEN, not both"
            )
        if self.http_token_file is None:
            return (
                self.http_token if self.http_token and self.http_token.get_secret_value() else None
            )
        try:
            text = self.http_token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"invalid setting LOANWATCH_ALERTS__HTTP_TOKEN_FILE: cannot read "
                f"{str(self.http_token_file)!r} ({exc})"
            ) from None
        if not text:
            raise ConfigError(
                "invalid setting LOANWATCH_ALERTS__HTTP_TOKEN_FILE: "
                f"{str(self.http_token_file)!r} is empty"
            )
        return SecretStr(text)


class ApiSettings(_Section):
    """The HTTP API for CRM, ERP and collection systems (api/, docs/api.md)."""

    host: str = "127.0.0.1"
    """Address `loanwatch api` listens on; put a TLS-terminating proxy in front of it."""
    port: int = Field(default=8090, gt=0, lt=65536)
    """Port `loanwatch api` listens on."""
    audit: bool = True
    """Write every request, allowed or denied, to ClickHouse ``api_audit``."""
    audit_flush_s: float = Field(default=1.0, gt=0)
    """Seconds audit rows wait in memory before one insert takes them all: one insert per
    request would cost ClickHouse a part each."""
    audit_buffer: int = Field(default=100_000, ge=100)
    """Audit rows kept in memory while ClickHouse cannot take them; past it the oldest are
    dropped and counted (``loanwatch_api_audit_dropped_total``)."""
    send_timeout_s: float = Field(default=5.0, gt=0)
    """Seconds a POST that produces an event waits for Kafka to confirm it before 503."""
    alert_wait_s: float = Field(default=5.0, ge=0)
    """Seconds an ack or resolve waits for the alerts service's answer before 202 (queued:
    the service applies it when it next runs)."""
    page_max: int = Field(default=500, ge=1, le=10_000)
    """The most rows one page of ``GET /v1/warnings`` returns (``limit``)."""
    rate_per_minute: int = Field(default=1200, ge=0)
    """Requests a caller (an API key, a staff member) may make per minute before 429;
    a key made with ``--rate-per-minute`` has its own; 0 turns the limit off."""
    webhook_max_attempts: int = Field(default=8, ge=1)
    """Deliveries a webhook gets before it goes to the subscription's dead letters."""
    webhook_backoff_s: float = Field(default=1.0, gt=0)
    """Seconds before a failed delivery's first retry; doubled each time after."""
    webhook_backoff_max_s: float = Field(default=300.0, gt=0)
    """The longest wait between two tries of one delivery."""
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    """Seconds a receiver has to answer a delivery before it counts as failed."""
    webhook_private_targets: bool = False
    """Allow webhooks to loopback and private addresses; off, a subscription cannot make
    the delivery service call into its own network (Redis, metadata services)."""
    oidc_issuer: str | None = None
    """Staff tokens: the OIDC issuer (``iss``) whose JWTs are accepted beside API keys;
    unset, only API keys are."""
    oidc_jwks_url: str | None = None
    """The issuer's JWKS (its signing keys), e.g. ``https://idp/realms/x/protocol/openid-connect/certs``;
    needed with ``oidc_issuer``."""
    oidc_audience: str = "loanwatch-api"
    """The ``aud`` a token must carry: the API's client id at the issuer."""
    oidc_role_claim: str = "loanwatch_role"
    """The claim naming the token's Loanwatch role (a string, or a list of names)."""
    oidc_team_claim: str = "team"
    """The claim naming the team a token is limited to, if any."""

    @model_validator(mode="after")
    def _oidc_whole(self) -> ApiSettings:
        if (self.oidc_issuer is None) != (self.oidc_jwks_url is None):
            raise ValueError("oidc_issuer and oidc_jwks_url go together: set both or neither")
        return self


class StackSettings(_Section):
    """The local stack that `loanwatch stack up` runs on loopback."""

    state_dir: Path = Field(
        default_factory=default_state_dir,
        json_schema_extra={"shown_default": "`LOANWATCH_STATE_DIR`"},
    )
    """Config, data, logs and pid files of the stack's services, one folder each."""
    kafka_port: int = Field(default=9092, gt=0, lt=65536)
    """The local Kafka's client port."""
    kafka_controller_port: int = Field(default=9093, gt=0, lt=65536)
    """The local Kafka's KRaft controller port."""
    kafka_heap: str = Field(default="512m", pattern=r"^\d+[mMgG]$")
    """The local Kafka's JVM heap (``-Xmx``), e.g. ``512m``, ``1g``."""
    redis_port: int = Field(default=6379, gt=0, lt=65536)
    """The local Redis's port."""
    clickhouse_port: int = Field(default=9000, gt=0, lt=65536)
    """The local ClickHouse's native port."""
    clickhouse_http_port: int = Field(default=8123, gt=0, lt=65536)
    """The local ClickHouse's HTTP port."""
    start_timeout_s: float = Field(default=120.0, gt=0)
    """Seconds `stack up` waits for each service to become healthy."""


class Settings(BaseSettings):
    """Everything a Loanwatch process is told from outside."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=DOTENV_FILE,
        env_file_encoding="utf-8",
        # Not "forbid": a .env file may hold other programs' variables. Our own names are
        # checked in every source by `load_settings` (config/sources.py).
        extra="ignore",
        frozen=True,
        use_attribute_docstrings=True,
    )

    app_id: str = Field(default="loanwatch", pattern=r"^[A-Za-z0-9._-]+$")
    """The worker's Kafka consumer group and the prefix of its own topics (``<app_id>-ticks``)."""
    time_zone: str = "Asia/Shanghai"
    """IANA zone of the worker's business day: when installments fall due and days turn."""
    max_event_bytes: int = Field(default=512 * 1024, ge=1024, le=16 * 1024 * 1024)
    """Events larger than this are dead-lettered unread; keep it under the topics' max size."""
    state_dir: Path = Field(
        default_factory=default_state_dir,
        json_schema_extra={
            "shown_default": "the checkout's `.state/` (else `$XDG_STATE_HOME/loanwatch`)"
        },
    )
    """The base of everything Loanwatch keeps on disk: the worker's data, the local stack,
    the demo's and the simulator's outputs. The default does not depend on the working
    folder: the `.state/` folder of the source checkout the code runs from, or, for an
    installed copy, ``$XDG_STATE_HOME/loanwatch`` (``~/.local/state/loanwatch``)."""
    data_dir: Path = Field(
        default_factory=lambda: default_state_dir() / "worker",
        json_schema_extra={"shown_default": "`LOANWATCH_STATE_DIR`/worker"},
    )
    """Where a worker keeps its local table state (RocksDB); rebuilt from Kafka if lost."""
    kafka: KafkaSettings = KafkaSettings()
    redis: RedisSettings = RedisSettings()
    clickhouse: ClickHouseSettings = ClickHouseSettings()
    topics: TopicSettings = TopicSettings()
    worker: WorkerSettings = WorkerSettings()
    stack: StackSettings = Field(default_factory=StackSettings)
    alerts: AlertSettings = AlertSettings()
    api: ApiSettings = ApiSettings()

    @model_validator(mode="before")
    @classmethod
    def _anchor_paths(cls, data: Any) -> Any:
        """Paths left unset follow ``state_dir``, so one setting moves everything."""
        if not isinstance(data, dict) or data.get("state_dir") in (None, ""):
            return data
        base = Path(data["state_dir"])
        data = {**data, "state_dir": base}
        data.setdefault("data_dir", base / "worker")
        stack = data.get("stack")
        if stack is None:
            data["stack"] = {"state_dir": base}
        elif isinstance(stack, dict) and "state_dir" not in stack:
            data["stack"] = {**stack, "state_dir": base}
        return data

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning any mistake into one `ConfigError` naming the setting.

    >>> load_settings(topics={"events": "bad topic"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    config.errors.ConfigError: invalid setting LOANWATCH_TOPICS__EVENTS: ... topic names are ...
    """
    known = known_env_names()
    config_file = os.environ.get(CONFIG_FILE_ENV)
    if config_file and not Path(config_file).is_file():
        raise ConfigError(f"invalid setting {CONFIG_FILE_ENV}: no such file {config_file!r}")
    unknown = [
        *sources.unknown_in_environment(ENV_PREFIX, known, CONFIG_FILE_ENV),
        *sources.unknown_in_dotenv(Path(DOTENV_FILE), ENV_PREFIX, known, CONFIG_FILE_ENV),
        *(sources.unknown_in_yaml(Path(config_file), _tree()) if config_file else ()),
    ]
    if unknown:
        raise ConfigError("unknown setting " + "; ".join(unknown))
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = [
            f"{_env_name(err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)
        ]
        raise ConfigError("invalid setting " + "; ".join(problems)) from None
    except ValueError as exc:  # e.g. unparsable YAML or a non-JSON nested env value
        raise ConfigError(f"invalid settings source: {exc}") from None


def known_env_names() -> frozenset[str]:
    """Every environment variable the settings tree reads, e.g. for docs and compose checks."""
    names = {CONFIG_FILE_ENV}
    for name, subs in _tree().items():
        names.add(_env_name((name,)))  # a whole section may be given as JSON
        names.update(_env_name((name, sub)) for sub in subs or ())
    return frozenset(names)


def _tree() -> dict[str, frozenset[str] | None]:
    """Each top-level setting and its section's field names (None: a plain value)."""
    tree: dict[str, frozenset[str] | None] = {}
    for name, field in Settings.model_fields.items():
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            tree[name] = frozenset(section.model_fields)
        else:
            tree[name] = None
    return tree


def _env_name(loc: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part).upper() for part in loc)


def _reveal(secret: SecretStr | None) -> str:
    return secret.get_secret_value() if secret is not None else ""
