"""The Grafana files (deploy/grafana/) stay in step with their SQL, each other and compose.

Grafana cannot run here, so the dashboards and provisioning files are read as data:
the dashboards and docs/analytics.md hold exactly the SQL files' text (as
deploy/grafana/build.py writes them), panel ids are unique, every query names the
provisioned data source, the plugin's version is the same everywhere it is pinned, and
compose mounts what the provisioning reads. The queries themselves run against
ClickHouse in tests/integration/test_grafana_panels.py.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
GRAFANA = REPO / "deploy" / "grafana"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "clickhouse.yaml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "loanwatch.yaml"
COMPOSE = REPO / "deploy" / "docker-compose.yml"


def _build() -> Any:
    spec = importlib.util.spec_from_file_location("grafana_build", GRAFANA / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dashboards() -> dict[str, dict[str, Any]]:
    paths = sorted((GRAFANA / "dashboards").glob("*.json"))
    assert paths
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in paths}


def _datasource() -> dict[str, Any]:
    (source,) = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))["datasources"]
    return source


def _grafana_service() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]["grafana"]


def test_dashboards_and_docs_are_what_build_writes_from_the_sql_files() -> None:
    for path, text in _build().rendered().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.relative_to(REPO)} is stale: run .venv/bin/python deploy/grafana/build.py"
        )


def test_every_sql_file_is_in_a_dashboard_and_in_the_docs() -> None:
    build = _build()
    used = {name for make in build.DASHBOARDS.values() for name in build.sql_names(make())}
    assert used == {p.stem for p in (GRAFANA / "sql").glob("*.sql")}
    docs = (REPO / "docs" / "analytics.md").read_text(encoding="utf-8")
    for name in used:
        assert f"```sql\n{build.sql(name)}\n```" in docs, name


def test_panel_ids_are_unique_within_each_dashboard_and_uids_across() -> None:
    dashboards = _dashboards()
    for name, dashboard in dashboards.items():
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), name
        assert all(panel["targets"] for panel in dashboard["panels"]), name
    uids = [d["uid"] for d in dashboards.values()]
    assert len(uids) == len(set(uids))


def test_every_query_names_the_provisioned_datasource() -> None:
    source = _datasource()
    expected = {"type": source["type"], "uid": source["uid"]}
    for name, dashboard in _dashboards().items():
        query_variables = [v for v in dashboard["templating"]["list"] if v["type"] == "query"]
        for item in dashboard["panels"] + query_variables:
            assert item["datasource"] == expected, (name, item.get("title", item.get("name")))
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                assert target["datasource"] == expected, (name, panel["title"])


def test_every_variable_a_query_uses_is_defined_in_its_dashboard() -> None:
    for name, dashboard in _dashboards().items():
        defined = {v["name"] for v in dashboard["templating"]["list"]}
        texts = [t["rawSql"] for p in dashboard["panels"] for t in p["targets"]]
        texts += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
        texts += [p["title"] for p in dashboard["panels"]]
        used = {m for text in texts for m in re.findall(r"\$\{(\w+)(?::\w+)?\}", text)}
        assert used <= defined, (name, used - defined)
        repeated = {p["repeat"] for p in dashboard["panels"] if "repeat" in p}
        assert repeated <= defined, name


def test_the_plugin_is_pinned_to_one_version_everywhere() -> None:
    build = _build()
    source = _datasource()
    assert source["type"] == build.PLUGIN_ID == "grafana-clickhouse-datasource"
    assert str(source["jsonData"]["version"]) == build.PLUGIN_VERSION
    assert re.fullmatch(r"\d+\.\d+\.\d+", build.PLUGIN_VERSION)
    environment = _grafana_service()["environment"]
    assert environment["GF_INSTALL_PLUGINS"] == f"{build.PLUGIN_ID} {build.PLUGIN_VERSION}"
    assert _grafana_service()["image"] == f"grafana/grafana:{build.GRAFANA_VERSION}"
    for name, dashboard in _dashboards().items():
        required = {r["id"]: r["version"] for r in dashboard["__requires"]}
        assert required[build.PLUGIN_ID] == build.PLUGIN_VERSION, name
        assert required["grafana"] == build.GRAFANA_VERSION, name
        for panel in dashboard["panels"]:
            assert {t["pluginVersion"] for t in panel["targets"]} == {build.PLUGIN_VERSION}


def test_compose_mounts_what_the_provisioning_reads_and_sets_what_it_expands() -> None:
    service = _grafana_service()
    mounts = {}
    for volume in service["volumes"]:
        source, target = volume.split(":")[:2]
        mounts[target] = source
    assert (COMPOSE.parent / mounts["/etc/grafana/provisioning"]).resolve() == (
        GRAFANA / "provisioning"
    )
    (provider,) = yaml.safe_load(PROVIDERS.read_text(encoding="utf-8"))["providers"]
    folder = mounts[provider["options"]["path"]]
    assert (COMPOSE.parent / folder).resolve() == GRAFANA / "dashboards"
    expanded = set(re.findall(r"\$\{(\w+)\}", DATASOURCES.read_text(encoding="utf-8")))
    assert expanded and expanded <= set(service["environment"])
    assert "clickhouse" in service["depends_on"]


def test_the_datasource_file_holds_no_literal_password() -> None:
    secure = _datasource()["secureJsonData"]
    assert all(re.fullmatch(r"\$\{\w+\}", str(value)) for value in secure.values())
