"""Push alerts for on-call staff: routing, grouping, silences, acks, escalation.

The pure core (`routing_file`, `routing`, `engine`, `model`, `render`) takes ``now`` as
an argument and returns what to send; `AlertService` is the Kafka + Redis loop around
it, delivering through apprise channels and our DingTalk robot. See docs/alerting.md.
Importing this package loads no client library (apprise, redis, Kafka, ClickHouse load
on use).
"""

from __future__ import annotations

from sinks.alerts.channels import AppriseChannel, Channel, DingTalkChannel, RateWindow
from sinks.alerts.engine import AlertEngine, AlertState, GroupState, Outcome, route_alert
from sinks.alerts.exceptions import AlertConfigError, AlertError, DeliveryError, UnknownAlert
from sinks.alerts.matchers import parse_matcher
from sinks.alerts.model import Alert, AlertEvent, Notification, Silence, alert_from_warning
from sinks.alerts.render import Message, render
from sinks.alerts.routing import AlertConfig
from sinks.alerts.routing_file import load_config, parse_config
from sinks.alerts.service import AlertService
from sinks.alerts.store import AlertKeys, AlertStore

__all__ = [
    "Alert",
    "AlertConfig",
    "AlertConfigError",
    "AlertError",
    "AlertEvent",
    "AlertKeys",
    "AlertService",
    "AlertState",
    "AlertStore",
    "AppriseChannel",
    "Channel",
    "DeliveryError",
    "DingTalkChannel",
    "AlertEngine",
    "GroupState",
    "Message",
    "Notification",
    "Outcome",
    "RateWindow",
    "Silence",
    "UnknownAlert",
    "alert_from_warning",
    "load_config",
    "parse_config",
    "parse_matcher",
    "render",
    "route_alert",
]
