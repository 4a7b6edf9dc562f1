"""ClickHouse for analysts: DDL that works on old and current servers alike."""

from __future__ import annotations

from sinks.clickhouse.dialect import Column, Kind, ServerFeatures, Table, create_table_sql

__all__ = ["Column", "Kind", "ServerFeatures", "Table", "create_table_sql"]
