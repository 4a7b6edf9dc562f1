"""Apache Kafka, single node in KRaft mode, from jars Maven fetches from Maven Central.

`deploy/kafka/pom.xml` names the broker artifacts; Maven copies them (and their
dependencies) into ``deploy/kafka/target/dependency`` once, and the local
repository keeps them for later runs. Storage is formatted on first start with
``kafka.tools.StorageTool``, then ``kafka.Kafka`` runs as broker and controller.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path

from confluent_kafka.admin import AdminClient

from config.stack.errors import StackError
from config.stack.process import Service, port_open

__all__ = ["KafkaService", "POM"]

POM = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "pom.xml"
LIBS = POM.parent / "target" / "dependency"

_LOG4J = """log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File={home}/logs/server.log
log4j.appender.file.MaxFileSize=50MB
log4j.appender.file.MaxBackupIndex=3
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
"""


class KafkaService(Service):
    """The event backbone of the local stack."""

    name = "kafka"

    @property
    def ports(self) -> Sequence[int]:
        return [self.settings.stack.kafka_port, self.settings.stack.kafka_controller_port]

    @property
    def properties_file(self) -> Path:
        return self.home / "server.properties"

    def prepare(self) -> None:
        fetch_jars()
        data = self.home / "data"
        data.mkdir(parents=True, exist_ok=True)
        port = self.settings.stack.kafka_port
        controller = self.settings.stack.kafka_controller_port
        partitions = self.settings.topics.partitions
        self.properties_file.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{controller}",
                    f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={data}",
                    f"num.partitions={partitions}",
                    "auto.create.topics.enable=true",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=8",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "transaction.state.log.num.partitions=4",
                    "group.initial.rebalance.delay.ms=0",
                    "log.retention.hours=168",
                    "log.segment.bytes=67108864",
                    "delete.topic.enable=true",
                    "",
                ]
            )
        )
        (self.home / "log4j.properties").write_text(_LOG4J.format(home=self.home))
        if not (data / "meta.properties").exists():
            self._format_storage()

    def _java(self, main_class: str, *args: str) -> list[str]:
        heap = self.settings.stack.kafka_heap
        return [
            "java",
            f"-Xmx{heap}",
            f"-Xms{heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.home / 'log4j.properties'}",
            f"-Dkafka.logs.dir={self.home / 'logs'}",
            "-cp",
            f"{LIBS}/*",
            main_class,
            *args,
        ]

    def _format_storage(self) -> None:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        argv = self._java(
            "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(self.properties_file)
        )
        done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise StackError(f"kafka storage format failed: {done.stdout}{done.stderr}")

    def command(self) -> list[str]:
        return self._java("kafka.Kafka", str(self.properties_file))

    def check_health(self) -> str:
        port = self.settings.stack.kafka_port
        if not port_open(port):  # librdkafka would log every refused early poll
            raise ConnectionRefusedError(f"nothing listening on :{port} yet")
        admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}", "log_level": 2})
        meta = admin.list_topics(timeout=5)
        if not meta.brokers:
            raise StackError("no broker in metadata yet")
        return f"kafka (KRaft, {len(meta.brokers)} broker) on :{port}"


def fetch_jars() -> Path:
    """Copy the broker jars from Maven into the cache folder unless already there."""
    if any(LIBS.glob("kafka_2.13-*.jar")):
        return LIBS
    if not POM.exists():
        raise StackError(f"{POM} not found: run `loanwatch stack up` from a source checkout")
    argv = ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0 or not any(LIBS.glob("kafka_2.13-*.jar")):
        raise StackError(
            "could not fetch the Kafka jars from Maven Central "
            f"(`{' '.join(argv)}` exited {done.returncode}):\n"
            f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return LIBS
