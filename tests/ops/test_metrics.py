"""/metrics: Prometheus text, closed to the public, process metrics summed over the workers of
a process tree (prometheus-client's multi-process mode) and the dispatcher's own port."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from backend.core import stream
from backend.core.models import StreamEvent
from harness.processes import ENTRYPOINT, Processes, free_port, wait_until
from tests.conftest import World
from tests.faults.conftest import procs  # noqa: F401  (the real-process fixture)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def total(text: str, name: str, **labels: str) -> float:
    return sum(
        v
        for (n, ls), v in samples(text).items()
        if n == name and all(dict(ls).get(k) == want for k, want in labels.items())
    )


@pytest.mark.django_db
def test_metrics_from_loopback_have_requests_by_route_and_scrape_gauges(world: World) -> None:
    client = Client()
    assert client.get("/api/v1/health/live").status_code == 200
    with stream.batch():
        stream.record_events(user_ids=[world.worker_a.pk], type="test.ping", data={})
    StreamEvent.objects.update(published_at=None)  # as if Redis had been away
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    route = "api/v1/health/live"
    assert total(text, "gridline_http_request_seconds_count", route=route, status="200") >= 1
    assert total(text, "gridline_stream_unpublished", measure="count") == 1
    assert total(text, "gridline_alerts_unaccepted", kind="emergency") == 0
    assert "gridline_press_commit_seconds" in text and "gridline_sockets" in text


@pytest.mark.django_db
def test_metrics_are_a_missing_page_to_anyone_else() -> None:
    outsider = Client(REMOTE_ADDR="203.0.113.9")
    missing = outsider.get("/no-such-page")
    denied = outsider.get("/metrics")
    assert denied.status_code == 404
    assert denied.json() == missing.json()
    with override_settings(METRICS_TOKEN="s3cret-token-for-tests"):
        assert Client().get("/metrics").status_code == 404  # a token is set: loopback is not enough
        assert outsider.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
        good = outsider.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token-for-tests")
        assert good.status_code == 200


@pytest.mark.django_db
def test_the_request_id_of_the_load_balancer_is_kept_else_one_is_made() -> None:
    client = Client()
    given = client.get("/api/v1/health/live", HTTP_X_REQUEST_ID="lb-0123456789abcdef")
    assert given["X-Request-ID"] == "lb-0123456789abcdef"
    made = client.get("/api/v1/health/live", HTTP_X_REQUEST_ID="bad id; drop table")
    assert re.fullmatch(r"[0-9a-f]{32}", made["X-Request-ID"])


@pytest.mark.slow
def test_two_workers_and_a_dispatcher_are_counted_in_one_scrape(
    procs: Processes,  # noqa: F811
    tmp_path: Path,
) -> None:
    redis = procs.redis()
    metrics_dir = tmp_path / "metrics"
    env = dict(procs.django_env(redis.url), PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    server = procs.server("asgi", env=env, args=("--workers", "2"))
    with httpx.Client(base_url=server.url, trust_env=False) as http:
        for _ in range(60):  # a page Django serves (the probes are answered in front of it)
            assert http.get("/api/v1/redoc").status_code == 200
        per_worker = wait_until(
            lambda: len(list(metrics_dir.glob("histogram_*.db"))) >= 2,
            timeout=20,
            what="both workers to have served",
        )
        assert per_worker
        text = http.get("/metrics").text
    route = "api/v1/redoc"
    assert total(text, "gridline_http_request_seconds_count", route=route) == 60

    port = free_port()
    dispatcher_env = dict(
        procs.django_env(redis.url),
        DISPATCHER_METRICS_PORT=str(port),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "dispatcher-metrics"),
    )
    argv = [ENTRYPOINT, "dispatcher", "--poll", "0.1"]
    env = {**dispatcher_env, "GRIDLINE_PYTHON": sys.executable}
    procs.start("dispatcher", argv, env, "dispatcher running").wait_ready()

    def scraped() -> str:
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2, trust_env=False).text
        except httpx.HTTPError:
            return ""
        return text if total(text, "gridline_dispatcher_round_seconds_count") >= 3 else ""

    text = wait_until(scraped, timeout=20, what="the dispatcher's rounds on its metrics port")
    last_round = total(text, "gridline_dispatcher_last_round_timestamp_seconds")
    assert 0 <= time.time() - last_round < 10
