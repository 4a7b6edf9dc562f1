"""ClickHouse from Debian's ``clickhouse-server`` (18.16), with a project-local config.

The packaged config points at /var/lib and /var/log; ours keeps data, logs and
temporary files under the state folder and listens on loopback only, so the
stack needs no system service and leaves nothing behind outside the project.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from clickhouse_driver import Client

from config.stack.process import Service, port_open

__all__ = ["ClickHouseService"]

_CONFIG = """<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>{home}/logs/clickhouse-server.log</log>
        <errorlog>{home}/logs/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>{http_port}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>{home}/data/</path>
    <tmp_path>{home}/tmp/</tmp_path>
    <user_files_path>{home}/user_files/</user_files_path>
    <format_schema_path>{home}/format_schemas/</format_schema_path>
    <users_config>{home}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
    <max_table_size_to_drop>0</max_table_size_to_drop>
    <max_partition_size_to_drop>0</max_partition_size_to_drop>
</yandex>
"""

_USERS = """<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
"""


class ClickHouseService(Service):
    """The analysts' store for the local stack."""

    name = "clickhouse"

    @property
    def ports(self) -> Sequence[int]:
        return [self.settings.stack.clickhouse_port, self.settings.stack.clickhouse_http_port]

    def prepare(self) -> None:
        for folder in ("data", "tmp", "user_files", "format_schemas", "logs"):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        home = escape(str(self.home))
        (self.home / "config.xml").write_text(
            _CONFIG.format(
                home=home,
                tcp_port=self.settings.stack.clickhouse_port,
                http_port=self.settings.stack.clickhouse_http_port,
            )
        )
        (self.home / "users.xml").write_text(_USERS)

    def command(self) -> list[str]:
        return ["clickhouse-server", f"--config-file={self.home / 'config.xml'}"]

    def check_health(self) -> str:
        port = self.settings.stack.clickhouse_port
        if not port_open(port):  # the driver would log a traceback for every early poll
            raise ConnectionRefusedError(f"nothing listening on :{port} yet")
        client = Client(
            host="127.0.0.1",
            port=self.settings.stack.clickhouse_port,
            connect_timeout=1,
            send_receive_timeout=5,
        )
        try:
            version = client.execute("SELECT version()")[0][0]
            return f"clickhouse {version} on :{self.settings.stack.clickhouse_port}"
        finally:
            client.disconnect()
