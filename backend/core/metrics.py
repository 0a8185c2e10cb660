"""Prometheus metrics (prometheus-client): what the processes measure as they work, and gauges
read from the database when Prometheus scrapes.

Process metrics cost a few microseconds each and no query: histograms of a press from the
action's start to its commit and from its stream event's write to a tier-1 socket, open
sockets, request latency per route, timer lateness, the dispatcher's rounds and the database
pool. With PROMETHEUS_MULTIPROC_DIR set (infra/entrypoint.sh sets it per container) every
worker of a process tree writes its own file and one scrape sums them (prometheus-client's
multi-process mode).

Gauges that need a query (unpublished events and their age, due timers waiting, open alerts
past their tiers; the outbox depth when the delivery app registers it) are computed only at
scrape time, through `register_gauge` — apps above core register theirs in AppConfig.ready, as
they register dispatcher duties.

/metrics is not public: with METRICS_TOKEN set it wants `Authorization: Bearer <token>`; else
only METRICS_ALLOWED_NETWORKS (loopback by default) may read it. Anyone else gets the 404 of a
missing page.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

# Seconds: a press should commit in tens of milliseconds and reach a socket well under 1 s.
_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LATE = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

PRESS_COMMIT = Histogram(
    "gridline_press_commit_seconds",
    "A press (device or app) from the action's start to its commit.",
    ["source"],
    buckets=_FAST,
)
PRESS_SOCKET = Histogram(
    "gridline_press_socket_seconds",
    "An alert.raised event from its write in the press's transaction to a socket's send.",
    buckets=_FAST,
)
SOCKETS = Gauge(
    "gridline_sockets", "Open event-stream websockets per process.", multiprocess_mode="livesum"
)
REQUESTS = Histogram(
    "gridline_http_request_seconds",
    "HTTP requests by route pattern (not the raw path), method and status.",
    ["route", "method", "status"],
    buckets=_FAST,
)
TIMER_LATENESS = Histogram(
    "gridline_timer_lateness_seconds",
    "A durable timer from its due time to its firing.",
    ["kind"],
    buckets=_LATE,
)
DISPATCHER_ROUND = Histogram(
    "gridline_dispatcher_round_seconds",
    "One dispatcher round (timers, relay, duties).",
    buckets=_LATE,
)
HOUSEKEEPING = Histogram(
    "gridline_housekeeping_seconds",
    "One housekeeping duty of the dispatcher (audit seal, pruning, recurring timers).",
    ["duty"],
    buckets=_FAST,
)
DISPATCHER_LAST_ROUND = Gauge(
    "gridline_dispatcher_last_round_timestamp_seconds",
    "Unix time of the last finished dispatcher round (the newest of all dispatchers).",
    multiprocess_mode="max",
)
DB_POOL = Gauge(
    "gridline_db_pool_connections",
    "Database pool connections per state (psycopg pool): size, available, waiting requests.",
    ["state"],
    multiprocess_mode="livesum",
)

POOL_SAMPLE_EVERY = 1.0  # seconds; the pool's counters are read at most this often per process
_pool_sampled = 0.0


def observe_press(source: str, started: float) -> None:
    PRESS_COMMIT.labels(source).observe(time.perf_counter() - started)


def observe_alert_frame(frame: dict[str, Any]) -> None:
    """Called for each alert.raised frame a socket sends: its `at` is when the press wrote it."""
    try:
        written = _parse_at(str(frame["at"]))
    except (KeyError, ValueError):
        return
    PRESS_SOCKET.observe(max(0.0, time.time() - written))


def _parse_at(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()


def dispatcher_round(seconds: float) -> None:
    DISPATCHER_ROUND.observe(seconds)
    DISPATCHER_LAST_ROUND.set(time.time())


def housekeeping_duty(name: str, seconds: float) -> None:
    HOUSEKEEPING.labels(name).observe(seconds)


def timer_fired(kind: str, lateness: float) -> None:
    TIMER_LATENESS.labels(kind).observe(max(0.0, lateness))


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route, method, str(status)).observe(seconds)
    sample_pool()


def sample_pool() -> None:
    """The pool's size and free connections, at most once a second (no query)."""
    global _pool_sampled
    now = time.monotonic()
    if now - _pool_sampled < POOL_SAMPLE_EVERY:
        return
    _pool_sampled = now
    # Only a pool that exists already: reading `connection.pool` would open one.
    wrapper = connections[DEFAULT_DB_ALIAS]
    pool = (getattr(type(wrapper), "_connection_pools", None) or {}).get(DEFAULT_DB_ALIAS)
    if pool is None:
        return
    stats = pool.get_stats()
    DB_POOL.labels("size").set(stats.get("pool_size", 0))
    DB_POOL.labels("available").set(stats.get("pool_available", 0))
    DB_POOL.labels("waiting").set(stats.get("requests_waiting", 0))


# Scrape-time gauges: name -> (help, label names, source). A source returns
# {label values: value}; it runs a query, so it never runs on a request but /metrics.
Source = Callable[[], dict[tuple[str, ...], float]]
_gauges: dict[str, tuple[str, tuple[str, ...], Source]] = {}


def register_gauge(name: str, help: str, source: Source, labels: Iterable[str] = ()) -> None:
    """Expose `source()` as gauge `name` at each scrape (registering again replaces it)."""
    _gauges[name] = (help, tuple(labels), source)


class _ScrapeGauges(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, (help, labels, source) in list(_gauges.items()):
            try:
                values = source()
            except Exception:
                logger.warning("metric %s failed", name, exc_info=True)
                continue
            family = GaugeMetricFamily(name, help, labels=list(labels))
            for label_values, value in values.items():
                family.add_metric(list(label_values), value)
            yield family


_scrape_gauges = _ScrapeGauges()


def render(*, with_scrape_gauges: bool = True) -> bytes:
    """The exposition text: this process tree's metrics, then the scrape-time gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    if with_scrape_gauges:
        gauges = CollectorRegistry(auto_describe=False)
        gauges.register(_scrape_gauges)
        text += generate_latest(gauges)
    return text


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    try:
        client = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(client in ipaddress.ip_network(net) for net in settings.METRICS_ALLOWED_NETWORKS)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics for Prometheus; anyone not allowed gets the ordinary JSON 404."""
    from .errors import NotFound, error_response

    if request.method != "GET" or not _allowed(request):
        return error_response(request, NotFound())
    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)


def _unpublished() -> dict[tuple[str, ...], float]:
    from django.db.models import Count, Min
    from django.utils import timezone

    from .models import StreamEvent

    row = StreamEvent.objects.filter(published_at__isnull=True).aggregate(
        n=Count("id"), o=Min("at")
    )
    age = (timezone.now() - row["o"]).total_seconds() if row["o"] else 0.0
    return {("count",): float(row["n"]), ("oldest_seconds",): max(0.0, age)}


def _due_timers() -> dict[tuple[str, ...], float]:
    from django.db.models import Count, Min
    from django.utils import timezone

    from .models import Timer

    now = timezone.now()
    row = Timer.objects.filter(
        fired_at__isnull=True, cancelled_at__isnull=True, due_at__lte=now
    ).aggregate(n=Count("id"), o=Min("due_at"))
    age = (now - row["o"]).total_seconds() if row["o"] else 0.0
    return {("count",): float(row["n"]), ("oldest_seconds",): max(0.0, age)}


def register_core_gauges() -> None:
    register_gauge(
        "gridline_stream_unpublished",
        "Stream events not yet rung (count) and the age of the oldest (stream lag).",
        _unpublished,
        labels=["measure"],
    )
    register_gauge(
        "gridline_timers_due",
        "Durable timers due and not fired (count) and how late the oldest is.",
        _due_timers,
        labels=["measure"],
    )


def serve_process_metrics(port: int) -> None:
    """For processes without Django's HTTP (the dispatcher): their own metrics on `port`, no
    scrape-time gauges (those come from the ASGI /metrics). Keep the port inside the cluster
    (infra/k8s NetworkPolicy)."""
    from prometheus_client import start_http_server

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        start_http_server(port, registry=registry)
    else:
        start_http_server(port)
