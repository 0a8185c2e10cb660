"""The alert rules and the Grafana dashboard (infra/monitoring) name only metrics gridline
exposes, and the rules have what Prometheus needs. promtool checks the rules too when it is
installed (Debian's `prometheus` package); the structural checks always run."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml
from django.test import Client

from harness.processes import ROOT

MONITORING = ROOT / "infra" / "monitoring"
PENDING = {"gridline_outbox_pending"}  # registered by the notify outbox when it lands
SUFFIXES = ("_bucket", "_count", "_sum")


def _names(expr: str) -> set[str]:
    return set(re.findall(r"\b(gridline_[a-z_]+)", expr))


@pytest.fixture
def exposed(db: None) -> set[str]:
    text = Client().get("/metrics").content.decode()
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
    return names


def _known(name: str, exposed: set[str]) -> bool:
    base = next((name.removesuffix(s) for s in SUFFIXES if name.endswith(s)), name)
    return name in exposed or base in exposed or name in PENDING


def test_the_rules_are_well_formed_and_name_real_metrics(exposed: set[str]) -> None:
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"]}
    for name in ("GridlineAlertUnaccepted", "GridlineOutboxBacklog", "GridlineDispatcherDown"):
        assert name in alerts
    for rule in alerts.values():
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert rule["annotations"]["summary"]
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "0m"))
        assert rule["expr"].count("(") == rule["expr"].count(")")
        unknown = {n for n in _names(rule["expr"]) if not _known(n, exposed)}
        assert not unknown, (rule["alert"], unknown)
    if shutil.which("promtool"):
        subprocess.run(["promtool", "check", "rules", str(MONITORING / "alerts.yaml")], check=True)


def test_the_dashboard_names_real_metrics(exposed: set[str]) -> None:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    for expr in exprs:
        unknown = {n for n in _names(expr) if not _known(n, exposed)}
        assert not unknown, (expr, unknown)
    shown = set().union(*(_names(e) for e in exprs))
    assert {"gridline_press_socket_seconds_bucket", "gridline_sockets"} <= shown


def test_the_rules_scrape_jobs_and_autoscaling_metric_are_configured() -> None:
    rules = (MONITORING / "alerts.yaml").read_text()
    scrape = yaml.safe_load((MONITORING / "prometheus-scrape.yaml").read_text())
    jobs = {job["job_name"] for job in scrape["scrape_configs"]}
    assert set(re.findall(r'job="([a-z-]+)"', rules)) <= jobs
    adapter = yaml.safe_load((MONITORING / "prometheus-adapter-rules.yaml").read_text())
    exposed = {rule["name"]["as"] for rule in adapter["rules"]}
    hpa = yaml.safe_load_all((ROOT / "infra" / "k8s" / "base" / "asgi.yaml").read_text())
    (scaler,) = [doc for doc in hpa if doc["kind"] == "HorizontalPodAutoscaler"]
    wanted = {m["pods"]["metric"]["name"] for m in scaler["spec"]["metrics"] if m["type"] == "Pods"}
    assert wanted <= exposed
