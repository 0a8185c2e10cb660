"""Runs every benchmark against its own database and Redis, prints a table, writes
bench/results.json. See bench/__init__.py for what is measured and how."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import clients
from .procs import (
    BENCH_CONNECTIONS,
    PYTHON,
    Child,
    CpuSampler,
    Pg,
    Procs,
    cpu_seconds,
    free_port,
    raise_fd_limit,
    rss_kib,
    start_redis,
    wait_tcp,
)

RESULTS = Path(__file__).resolve().parent / "results.json"
# Other benchmark modules of bench/ with `run(small) -> {"name": {...}}`, run by bench.extra.
EXTRA = ("bench.visits_photos", "bench.visits_sync")
PASSWORD = "bench-pass-2718"  # noqa: S105 - synthetic staff of the throw-away bench database


@dataclass(frozen=True)
class Scale:
    small: bool
    communities: int
    sockets: int  # N: every connected socket of benchmark 1, probe included
    devices: int
    rate: float  # background alerts per second
    warmup: float
    duration: float
    burst: int
    burst_window: float
    timers_pending: int
    timers_due: int
    timer_rate: float
    memory_sockets: int
    settle: float  # seconds to let RSS and PostgreSQL's statistics settle
    lead: float  # seconds between scheduling timers and the first one coming due
    concurrency: int  # socket opens in flight per holder


FULL = Scale(
    small=False,
    communities=18,
    sockets=5000,
    devices=1000,
    rate=20.0,
    warmup=5.0,
    duration=60.0,
    burst=1000,
    burst_window=10.0,
    timers_pending=10_000,
    timers_due=1000,
    timer_rate=20.0,
    memory_sockets=2500,
    settle=3.0,
    lead=3.0,
    concurrency=8,
)
SMALL = replace(
    FULL,
    small=True,
    communities=1,
    sockets=50,
    devices=30,
    warmup=0.5,
    duration=2.5,
    burst=30,
    burst_window=1.5,
    timers_pending=300,
    timers_due=20,
    memory_sockets=20,
    settle=0.3,
    lead=1.5,
)


# -- results ---------------------------------------------------------------------------------


@dataclass
class Results:
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def merge(self, rows: dict[str, dict[str, Any]]) -> None:
        for name, row in rows.items():
            self.add(name, row.get("value"), str(row.get("unit", "")), row.get("baseline"))

    def add(self, name: str, value: float | None, unit: str, baseline: float | None) -> None:
        value, baseline = _clean(value), _clean(baseline)
        ratio = round(value / baseline, 3) if value is not None and baseline else None
        self.rows[name] = {"value": value, "unit": unit, "baseline": baseline, "ratio": ratio}

    def note(self, text: str) -> None:
        self.notes.append(text)
        say(f"note: {text}")

    def table(self) -> str:
        head = f"{'name':<34} {'value':>11} {'unit':<10} {'baseline':>11} {'ratio':>8}"
        lines = [head, "-" * len(head)]
        for name, r in self.rows.items():
            lines.append(
                f"{name:<34} {_fmt(r['value']):>11} {r['unit']:<10} "
                f"{_fmt(r['baseline']):>11} {_fmt(r['ratio']):>8}"
            )
        return "\n".join(lines)

    def write(self) -> None:
        RESULTS.write_text(json.dumps(self.rows, indent=2) + "\n")


def _clean(v: float | None) -> float | None:
    if v is None or math.isnan(v):
        return None
    return round(float(v), 3)


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 1000 or float(v).is_integer() else f"{v:.3g}"


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo = math.floor(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# -- the probe: the sockets frames are timed on (in this process) -----------------------------


@dataclass
class Probe:
    stats: clients.SocketStats = field(default_factory=clients.SocketStats)
    # (user_id, alert_id) -> [(perf_counter, wall, tier)] of alert.raised frames
    raised: dict[tuple[int, int], list[tuple[float, float, int | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    # alert_id -> [(perf_counter, wall, tier, user_id)]
    by_alert: dict[int, list[tuple[float, float, int | None, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    seen_ids: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    repeated_ids: int = 0
    current: dict[int, Any] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def _on_frame(self, user_id: int) -> Callable[[str, float, float], dict[str, Any]]:
        def on_frame(raw: str, t: float, wall: float) -> dict[str, Any]:
            frame: dict[str, Any] = json.loads(raw)
            fid = frame.get("id")
            if isinstance(fid, int):
                if fid in self.seen_ids[user_id]:
                    self.repeated_ids += 1
                self.seen_ids[user_id].add(fid)
            if frame.get("type") == "alert.raised":
                data = frame.get("data") or {}
                aid = int(data["alert_id"])
                self.raised[(user_id, aid)].append((t, wall, data.get("tier")))
                self.by_alert[aid].append((t, wall, data.get("tier"), user_id))
            return frame

        return on_frame

    async def open(self, openers: list[tuple[int, clients.Opener]], concurrency: int) -> None:
        opening = asyncio.Semaphore(concurrency)
        self.stats.target = len(openers)
        for user_id, opener in openers:

            def current(ws: Any, user_id: int = user_id) -> None:
                self.current[user_id] = ws

            self.tasks.append(
                asyncio.create_task(
                    clients.keep(opener, self.stats, opening, self._on_frame(user_id), current)
                )
            )
        await self.stats.all_tried.wait()

    async def close(self) -> None:
        self.stats.stopping = True
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in self.current.values()), return_exceptions=True)


@dataclass
class Sent:
    t0: float
    t1: float
    status: int | str
    alert_id: int | None
    manager_id: int


Make = Callable[[int], tuple[str, bytes, dict[str, str], int]]


async def drive(http: Any, n: int, rate: float, make: Make) -> list[Sent]:
    """Open loop: request i starts at start + i/rate whatever the earlier ones are doing."""
    sent: list[Sent] = []

    async def one(i: int) -> None:
        url, body, headers, manager_id = make(i)
        t0 = time.perf_counter()
        try:
            r = await http.post(url, content=body, headers=headers)
            status: int | str = r.status_code
            alert_id = int(r.json()["alert_id"]) if r.status_code in (200, 201) else None
        except Exception as exc:
            status, alert_id = type(exc).__name__, None
        sent.append(Sent(t0, time.perf_counter(), status, alert_id, manager_id))

    start = time.perf_counter()
    tasks = []
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return sent


async def collect(probe: Probe, sent: list[Sent], timeout: float) -> dict[str, Any]:
    ok = [s for s in sent if s.alert_id is not None]
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if all((s.manager_id, s.alert_id) in probe.raised for s in ok):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # let late duplicates show
    latencies, lost, duplicated = [], 0, 0
    for s in ok:
        assert s.alert_id is not None
        frames = probe.raised.get((s.manager_id, s.alert_id))
        if not frames:
            lost += 1
            continue
        latencies.append((frames[0][0] - s.t0) * 1000)
        duplicated += len(frames) - 1
    statuses: dict[str, int] = defaultdict(int)
    for s in sent:
        statuses[str(s.status)] += 1
    return {
        "sent": len(sent),
        "accepted": len(ok),
        "statuses": dict(statuses),
        "delivered": len(latencies),
        "lost": lost,
        "duplicated": duplicated,
        "response_ms": [(s.t1 - s.t0) * 1000 for s in ok],
        "p50": pct(latencies, 50),
        "p99": pct(latencies, 99),
        "max": max(latencies) if latencies else float("nan"),
        "alert_ids": [s.alert_id for s in ok],
    }


# -- the run ---------------------------------------------------------------------------------


@dataclass
class Ctx:
    scale: Scale
    procs: Procs
    pg: Pg
    redis_url: str
    workdir: Path
    results: Results
    profile_dir: Path | None = None
    world: dict[str, Any] = field(default_factory=dict)
    servers: dict[str, tuple[Child, str]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)

    async def server(self, name: str) -> tuple[Child, str]:
        """A Django uvicorn process started early (start-up overlaps set-up), once it listens."""
        child, base = self.servers[name]
        await asyncio.to_thread(wait_tcp, int(base.rsplit(":", 1)[1]), child)
        return child, base

    def django_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "GRIDLINE_ENV": "development",
                "DJANGO_SETTINGS_MODULE": "backend.config.settings",
                "DATABASE_URL": self.pg.url(),
                "REDIS_URL": self.redis_url,
                "CHANNEL_PREFIX": "gridline-bench",
                "EMBEDDED_DISPATCHER": "0",
                "DEBUG": "0",
                "LOG_LEVEL": "WARNING",
                # Log-in is set-up here, not a measurement: thousands of PBKDF2 log-ins would
                # take longer than the benchmarks (the tests use MD5 for the same reason).
                "PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
                "SMS_BACKEND": "backend.notify.sms.LocmemBackend",
                "ACCESS_TOKEN_MINUTES": "240",
                "GRIDLINE_DATA_DIR": str(self.workdir / "data"),
            }
        )
        return env

    async def run_child(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        child = self.procs.start(name, argv, env)
        code = await asyncio.to_thread(child.popen.wait)
        self.procs.stop(child)
        if code != 0:
            raise RuntimeError(f"{name} failed ({code}):\n{child.tail(40)}")

    def uvicorn(
        self, name: str, app: str, env: dict[str, str], wait: bool = True
    ) -> tuple[Child, str]:
        port = free_port()
        argv = [PYTHON, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--no-access-log", "--log-level", "warning", "--backlog", "4096"]
        child = self.procs.start(name, argv, env)
        if wait:
            wait_tcp(port, child)
        return child, f"http://127.0.0.1:{port}"

    async def holder(
        self,
        name: str,
        mode: str,
        base: str,
        items: list[Any],
        ws_base: str | None = None,
        timeout: float = 900.0,
    ) -> tuple[Child, dict[str, Any]]:
        """Start a holder process and wait until it has tried every socket once."""
        spec, status = self.workdir / f"{name}.spec.json", self.status_path(name)
        status.unlink(missing_ok=True)
        spec.write_text(
            json.dumps(
                {
                    "mode": mode,
                    "base": base,
                    "ws_base": ws_base,
                    "items": items,
                    "password": PASSWORD,
                    "concurrency": self.scale.concurrency,
                }
            )
        )
        argv = [PYTHON, "-m", "bench.clients", "hold", str(spec), str(status)]
        child = self.procs.start(name, argv, dict(os.environ))
        deadline = time.monotonic() + timeout
        last_print = time.monotonic()
        while time.monotonic() < deadline:
            if not child.alive():
                raise RuntimeError(f"{name} exited:\n{child.tail()}")
            state = read_json(status)
            if state and state.get("done"):
                return child, state
            if state and time.monotonic() - last_print > 15:
                last_print = time.monotonic()
                say(f"  {name}: {state['connected']}/{state['target']} open")
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{name}: sockets still opening after {timeout} s")

    def status_path(self, name: str) -> Path:
        return self.workdir / f"{name}.status.json"

    def meter(self, children: dict[str, Child]) -> dict[str, Any]:
        import redis

        with self.pg.connect(autocommit=True) as conn:
            row = conn.execute(
                "SELECT sessions, xact_commit FROM pg_stat_database "
                "WHERE datname = current_database()"
            ).fetchone()
        r = redis.Redis.from_url(self.redis_url)
        try:
            commands = r.info("stats")["total_commands_processed"]
        finally:
            r.close()
        return {
            "cpu": {n: cpu_seconds(c.pid) for n, c in children.items()},
            "sessions": row[0],
            "commits": row[1],
            "redis": commands,
        }

    def profile(self, children: dict[str, Child], seconds: float) -> list[Child]:
        """py-spy (BENCH_PYSPY or on PATH) on each child for `seconds`, if --profile is set:
        on-CPU samples only (--gil); waiting shows in the PostgreSQL sampler instead."""
        if self.profile_dir is None:
            return []
        spy = os.environ.get("BENCH_PYSPY") or shutil.which("py-spy")
        if not spy:
            say("no py-spy (set BENCH_PYSPY=/path/to/py-spy): not profiling")
            return []
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        started = []
        for name, child in children.items():
            out = self.profile_dir / f"{name}.collapsed.txt"
            argv = [spy, "record", "-p", str(child.pid), "-d", str(int(seconds)), "-r", "50"]
            argv += ["-f", "raw", "--nonblocking", "--gil", "-o", str(out)]
            started.append(self.procs.start(f"py-spy-{name}", argv, dict(os.environ)))
        return started


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data


def split(items: list[Any]) -> tuple[list[Any], list[Any]]:
    return items[0::2], items[1::2]


def holder_totals(ctx: Ctx, names: list[str]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for name in names:
        for key, value in (read_json(ctx.status_path(name)) or {}).items():
            if isinstance(value, int) and not isinstance(value, bool):
                totals[key] += value
    return totals


@dataclass
class DbSampler:
    """PostgreSQL seen from pg_stat_activity every 0.25 s: connections of the bench role, how
    many wait on a lock, and which statements wait (the first 70 characters)."""

    samples: int = 0
    connections_max: int = 0
    active_sum: int = 0
    waiting_sum: int = 0
    waiting_max: int = 0
    waiting_queries: Counter[str] = field(default_factory=Counter)

    async def run(self, pg: Pg) -> None:
        conn = await asyncio.to_thread(pg.connect, autocommit=True)
        try:
            while True:
                rows = await asyncio.to_thread(
                    lambda: conn.execute(
                        "SELECT state, wait_event_type, left(query, 70) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    ).fetchall()
                )
                waiting = [q for state, kind, q in rows if kind == "Lock"]
                self.samples += 1
                self.connections_max = max(self.connections_max, len(rows))
                self.active_sum += sum(1 for state, _, _ in rows if state != "idle")
                self.waiting_sum += len(waiting)
                self.waiting_max = max(self.waiting_max, len(waiting))
                self.waiting_queries.update(" ".join(q.split()) for q in waiting)
                await asyncio.sleep(0.25)
        finally:
            conn.close()

    def summary(self) -> dict[str, Any]:
        n = max(1, self.samples)
        return {
            "connections_max": self.connections_max,
            "active_avg": self.active_sum / n,
            "lock_waiters_avg": self.waiting_sum / n,
            "lock_waiters_max": self.waiting_max,
            "waiting_on": self.waiting_queries.most_common(4),
        }


async def sample_every_second(sampler: CpuSampler) -> None:
    while True:
        await asyncio.sleep(1)
        await asyncio.to_thread(sampler.sample)


async def latency_run(
    ctx: Ctx,
    label: str,
    probe: Probe,
    url: str,
    make_body: Callable[[dict[str, Any]], tuple[bytes, dict[str, str]]],
    children: dict[str, Child],
) -> dict[str, Any]:
    """Benchmark 1 (steady 20/s) then benchmark 2 (the burst) on one stack."""
    scale = ctx.scale
    devices = ctx.world["devices"]

    def make(i: int) -> tuple[str, bytes, dict[str, str], int]:
        device = devices[i % len(devices)]
        body, headers = make_body(device)
        return url, body, headers, device["manager_id"]

    async with clients.http_client(1000) as http:
        say(f"{label}: warm-up {scale.warmup:.0f} s at {scale.rate:.0f}/s")
        await drive(http, int(scale.rate * scale.warmup), scale.rate, make)
        await asyncio.sleep(scale.settle)
        before = ctx.meter(children)
        say(f"{label}: measuring {scale.duration:.0f} s at {scale.rate:.0f} alerts/s")
        spies = ctx.profile(children, scale.duration) if label == "django" else []
        sampler, db = CpuSampler(), DbSampler()
        sampler.start()
        sampling = asyncio.create_task(sample_every_second(sampler))
        db_sampling = asyncio.create_task(db.run(ctx.pg))
        sent = await drive(http, int(scale.rate * scale.duration), scale.rate, make)
        sampling.cancel()
        db_sampling.cancel()
        steady = await collect(probe, sent, timeout=30)
        steady["host"] = sampler.result()
        steady["db"] = db.summary()
        say(f"{label}: PostgreSQL during the run: {json.dumps(steady['db'], ensure_ascii=False)}")
        await asyncio.sleep(scale.settle)
        after = ctx.meter(children)
        for spy in spies:
            await asyncio.to_thread(spy.popen.wait)
        n = max(1, steady["accepted"])
        steady["per_alert"] = {
            "cpu_ms": {k: (after["cpu"][k] - before["cpu"][k]) * 1000 / n for k in before["cpu"]},
            "db_sessions": (after["sessions"] - before["sessions"]) / n,
            "db_commits": (after["commits"] - before["commits"]) / n,
            "redis_commands": (after["redis"] - before["redis"]) / n,
        }
        say(
            f"{label}: p50 {steady['p50']:.1f} ms p99 {steady['p99']:.1f} ms max "
            f"{steady['max']:.1f} ms; {steady['delivered']}/{steady['sent']} delivered, "
            f"statuses {steady['statuses']}; per alert {json.dumps(steady['per_alert'])}; "
            f"CPU cores in use {json.dumps({k: round(v, 2) for k, v in steady['host'].items()})}"
        )
        say(f"{label}: burst of {scale.burst} presses, one per device, in {scale.burst_window} s")
        burst_devices = devices[: scale.burst]

        def make_burst(i: int) -> tuple[str, bytes, dict[str, str], int]:
            body, headers = make_body(burst_devices[i])
            return url, body, headers, burst_devices[i]["manager_id"]

        started = time.perf_counter()
        sent = await drive(http, scale.burst, scale.burst / scale.burst_window, make_burst)
        burst = await collect(probe, sent, timeout=60)
        burst["seconds"] = max(s.t1 for s in sent) - started
        say(
            f"{label}: burst p50 {burst['p50']:.1f} ms p99 {burst['p99']:.1f} ms max "
            f"{burst['max']:.1f} ms; {burst['delivered']}/{burst['sent']} delivered, "
            f"{burst['duplicated']} duplicated, statuses {burst['statuses']}, "
            f"last answer after {burst['seconds']:.1f} s"
        )
    return {"steady": steady, "burst": burst}


async def phase_floor(ctx: Ctx) -> dict[str, Any]:
    say("floor: raw ASGI + psycopg + Redis PUBLISH (uvicorn), bare websockets subscriber")
    with ctx.pg.connect(autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_floor_alert (id bigserial PRIMARY KEY, "
            "user_id bigint NOT NULL, payload jsonb NOT NULL, created_at timestamptz DEFAULT now())"
        )
    env = dict(os.environ)
    env.update(BENCH_FLOOR_DSN=ctx.pg.dsn(), BENCH_FLOOR_REDIS=ctx.redis_url)
    http_child, http_base = ctx.uvicorn("floor-http", "bench.floor_http:app", env)
    ws_port = free_port()
    argv = [PYTHON, "-m", "bench.floor_ws", "--port", str(ws_port), "--redis", ctx.redis_url]
    ws_child = ctx.procs.start("floor-ws", argv, dict(os.environ))
    wait_tcp(ws_port, ws_child)
    ws_base = f"http://127.0.0.1:{ws_port}"
    idle = [2_000_000 + i for i in range(len(ctx.world["idle"]))]
    to_http, to_ws = split(idle)
    t0 = time.perf_counter()
    holders = await asyncio.gather(
        ctx.holder("floor-hold-http", "floor", http_base, to_http),
        ctx.holder("floor-hold-ws", "floor", ws_base, to_ws),
    )
    probe = Probe()
    users = [m["user_id"] for m in ctx.world["managers"]]
    users += [w["user_id"] for w in ctx.world["watchers"]]
    await probe.open([(u, clients.floor_opener(ws_base, u)) for u in users], ctx.scale.concurrency)
    connect_s = time.perf_counter() - t0
    connected = probe.stats.connected + sum(h[1]["connected"] for h in holders)
    say(f"floor: {connected} sockets open in {connect_s:.1f} s ({dict(probe.stats.errors)})")

    def make_body(device: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        body = {
            "user_id": device["manager_id"],
            "device_id": device["device_id"],
            "client_alert_id": str(uuid.uuid4()),
            "kind": "emergency",
            "battery": 90,
        }
        return json.dumps(body).encode(), {"Content-Type": "application/json"}

    out = await latency_run(
        ctx, "floor", probe, f"{http_base}/alert", make_body, {"http": http_child, "ws": ws_child}
    )
    totals = holder_totals(ctx, ["floor-hold-http", "floor-hold-ws"])
    out["sockets"] = connected
    out["connect_rate"] = connected / connect_s
    out["repeated_ids"] = probe.repeated_ids
    out["drops"] = probe.stats.drops + totals["drops"]
    with ctx.pg.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM bench_floor_alert WHERE id = ANY(%s)",
            (out["burst"]["alert_ids"],),
        ).fetchone()
    out["burst"]["committed"] = row[0] if row else 0
    await probe.close()
    for child, _ in holders:
        ctx.procs.stop(child)
    ctx.procs.stop(ws_child)
    ctx.procs.stop(http_child)
    return out


async def phase_django(ctx: Ctx, floor: dict[str, Any]) -> None:
    scale, results = ctx.scale, ctx.results
    env = ctx.django_env()
    say("django: uvicorn A (presses) and B (managers' sockets), one dispatcher --poll 0.1")
    (a, a_base), (b, b_base) = await ctx.server("A"), await ctx.server("B")
    argv = [PYTHON, "manage.py", "dispatcher", "--poll", "0.1"]
    dispatcher = ctx.procs.start("dispatcher", argv, env)
    async with clients.http_client(10) as http:
        for child, base in ((a, a_base), (b, b_base)):
            r = await http.get(f"{base}/api/v1/health")
            if r.status_code >= 500:
                raise RuntimeError(
                    f"{child.name} unhealthy: {r.status_code} {r.text[:300]}\n{child.tail(40)}"
                )
    to_a, to_b = split(ctx.world["idle"])
    t0 = time.perf_counter()
    names = ["django-hold-A", "django-hold-B"]
    holders = await asyncio.gather(
        ctx.holder(names[0], "django", a_base, to_a),
        ctx.holder(names[1], "django", b_base, to_b),
    )
    probe = Probe()
    people = [(m["user_id"], m["phone"]) for m in ctx.world["managers"]]
    people += [(w["user_id"], w["phone"]) for w in ctx.world["watchers"]]
    probe_http = clients.http_client(64)
    try:
        openers = [
            (uid, clients.django_opener(probe_http, b_base, phone, PASSWORD))
            for uid, phone in people
        ]
        await probe.open(openers, scale.concurrency)
        connect_s = time.perf_counter() - t0
        connected = probe.stats.connected + sum(h[1]["connected"] for h in holders)
        failed = probe.stats.failed + sum(h[1]["failed"] for h in holders)
        errors = [dict(probe.stats.errors)] + [h[1]["errors"] for h in holders]
        say(f"django: {connected} sockets open in {connect_s:.1f} s, {failed} failed {errors}")
        drops_before = probe.stats.drops + holder_totals(ctx, names)["drops"]
        children = {"A": a, "B": b, "dispatcher": dispatcher}

        out = await latency_run(
            ctx, "django", probe, f"{a_base}/api/v1/device/alerts", clients.device_press, children
        )
        totals = holder_totals(ctx, names)
        drops_during = probe.stats.drops + totals["drops"] - drops_before
        open_now = probe.stats.open + totals["open"]
        with ctx.pg.connect() as conn:
            row = conn.execute(
                "SELECT count(*) FROM alerts_alert WHERE id = ANY(%s)",
                (out["burst"]["alert_ids"],),
            ).fetchone()
        committed = row[0] if row else 0
        steady, burst = out["steady"], out["burst"]
        fsteady, fburst = floor["steady"], floor["burst"]

        results.add("sockets_connected", connected, "sockets", scale.sockets)
        results.add("sockets_open_after_load", open_now, "sockets", connected)
        results.add("socket_drops_during_load", drops_during, "drops", floor["drops"])
        results.add("socket_open_rate", connected / connect_s, "sockets/s", floor["connect_rate"])
        results.add("alert_latency_p50", steady["p50"], "ms", fsteady["p50"])
        results.add("alert_latency_p99", steady["p99"], "ms", fsteady["p99"])
        results.add("alert_latency_max", steady["max"], "ms", fsteady["max"])
        results.add("alert_delivered", steady["delivered"], "alerts", steady["sent"])
        p99_response = pct(steady["response_ms"], 99)
        results.add("alert_response_p99", p99_response, "ms", pct(fsteady["response_ms"], 99))
        cpu, fcpu = steady["per_alert"]["cpu_ms"], fsteady["per_alert"]["cpu_ms"]
        results.add("cpu_per_alert_A", cpu["A"], "ms", fcpu["http"])
        results.add("cpu_per_alert_B", cpu["B"], "ms", fcpu["ws"])
        results.add("cpu_per_alert_dispatcher", cpu["dispatcher"], "ms", None)
        for key, unit in (
            ("db_sessions", "sessions"),
            ("db_commits", "commits"),
            ("redis_commands", "commands"),
        ):
            results.add(
                f"{key}_per_alert",
                steady["per_alert"][key],
                unit,
                fsteady["per_alert"][key],
            )
        results.add("burst_accepted", burst["accepted"], "alerts", burst["sent"])
        results.add("burst_committed", committed, "alerts", burst["accepted"])
        results.add("burst_delivered", burst["delivered"], "alerts", committed)
        results.add("burst_duplicated", burst["duplicated"], "frames", fburst["duplicated"])
        results.add("burst_latency_p50", burst["p50"], "ms", fburst["p50"])
        results.add("burst_latency_p99", burst["p99"], "ms", fburst["p99"])
        results.add("burst_latency_max", burst["max"], "ms", fburst["max"])
        results.add("burst_last_answer", burst["seconds"], "s", fburst["seconds"])
        results.add("frames_repeated", probe.repeated_ids, "frames", floor["repeated_ids"])
        # Context: the host has 2 cores and may be shared (other people's test runs).
        host, fhost = steady["host"], fsteady["host"]
        results.add("host_cpu_busy", host["host"], "cores", fhost["host"])
        results.add("host_cpu_not_bench", host["other"], "cores", fhost["other"])
        results.add("host_cpu_postgres_all_dbs", host["postgres"], "cores", fhost["postgres"])
        db, fdb = steady["db"], fsteady["db"]
        results.add("db_connections_max", db["connections_max"], "conns", fdb["connections_max"])
        results.add(
            "db_lock_waiters_avg", db["lock_waiters_avg"], "backends", fdb["lock_waiters_avg"]
        )
        if db["waiting_on"]:
            results.note(f"statements waiting on locks (samples): {db['waiting_on']}")
        goal = steady["p99"] <= 3 * fsteady["p99"] and steady["p99"] <= 50
        results.note(
            f"goal p99 <= 3x floor and <= 50 ms: {'met' if goal else 'NOT met'} "
            f"(p99 {steady['p99']:.1f} ms, floor {fsteady['p99']:.1f} ms, N={connected})"
        )
        for label, part in (("steady", steady), ("burst", burst)):
            if part["statuses"].get("201", 0) != part["sent"]:
                results.note(f"{label} answers: {part['statuses']}")

        for child, _ in holders:
            ctx.procs.stop(child)
        stopping_c = await phase_memory(ctx, env, a_base)
        await phase_escalation(ctx, probe, children)
        await stopping_c
        results.add("probe_socket_drops_total", probe.stats.drops, "drops", None)
    finally:
        await probe.close()
        await probe_http.aclose()
    for child in (dispatcher, b, a):
        ctx.procs.stop(child)


async def phase_memory(ctx: Ctx, env: dict[str, str], login_base: str) -> asyncio.Future[None]:
    """Benchmark 4; returns the (slow: channels_redis blocks 5 s) graceful stop of C."""
    m = min(ctx.scale.memory_sockets, len(ctx.world["idle"]) - 10)
    say(f"memory: RSS growth per idle socket, {m} sockets on a fresh process each")

    async def measure(
        name: str, server: Child, mode: str, base: str, items: list[Any], ws_base: str | None
    ) -> float:
        warm, _ = await ctx.holder(f"{name}-warm", mode, base, items[:10], ws_base)
        await asyncio.sleep(ctx.scale.settle)
        before = rss_kib(server.pid)
        holder, state = await ctx.holder(f"{name}-hold", mode, base, items[10 : 10 + m], ws_base)
        await asyncio.sleep(ctx.scale.settle)
        after = rss_kib(server.pid)
        ctx.procs.stop(holder)
        ctx.procs.stop(warm)
        per = (after - before) / max(1, state["connected"])
        say(f"memory {name}: {before} -> {after} KiB, {state['connected']} sockets: {per:.1f} each")
        return per

    c, c_base = await ctx.server("C")
    port = free_port()
    argv = [PYTHON, "-m", "bench.floor_ws", "--port", str(port)]
    bare = ctx.procs.start("mem-bare", argv, dict(os.environ))
    wait_tcp(port, bare)
    bare_base = f"http://127.0.0.1:{port}"
    # Both at once (RSS is per process). Log-ins and tickets go through A: C only serves sockets.
    items = ctx.world["idle"][: m + 10]
    django, bare_per = await asyncio.gather(
        measure("mem-django", c, "django", login_base, items, c_base),
        measure("mem-bare", bare, "floor", bare_base, list(range(m + 10)), None),
    )
    ctx.procs.stop(bare)
    ctx.results.add("rss_per_idle_socket", django, "KiB", bare_per)
    return asyncio.ensure_future(asyncio.to_thread(ctx.procs.stop, c))


async def phase_escalation(ctx: Ctx, probe: Probe, children: dict[str, Child]) -> None:
    scale = ctx.scale
    say(
        f"escalation: {scale.timers_pending} pending timers, {scale.timers_due} real escalations "
        f"due at {scale.timer_rate:.0f}/s, dispatcher poll 0.1 s"
    )
    out = ctx.workdir / "escalations.json"
    argv = [PYTHON, "-m", "bench.prepare", "escalations"]
    argv += ["--world", str(ctx.workdir / "world.json"), "--pending", str(scale.timers_pending)]
    argv += ["--due", str(scale.timers_due), "--rate", str(scale.timer_rate)]
    argv += ["--lead", str(scale.lead)]
    argv += ["--out", str(out)]
    await ctx.run_child("prepare-escalations", argv, ctx.django_env())
    data = json.loads(out.read_text())
    due = {int(k): float(v) for k, v in data["due"].items()}
    say(f"escalation: {data['pending']} pending; first due in {data['start'] - time.time():.1f} s")
    cpu0 = cpu_seconds(children["dispatcher"].pid)
    window = max(due.values()) - time.time() + 5
    ctx.profile({"dispatcher-escalation": children["dispatcher"]}, window)
    sampler = CpuSampler()
    sampler.start()
    sampling = asyncio.create_task(sample_every_second(sampler))
    last_due = max(due.values())
    fired: dict[int, float] = {}
    while time.time() < last_due + 60:
        await asyncio.sleep(0.5)
        with ctx.pg.connect() as conn:
            rows = conn.execute(
                "SELECT alert_id, min(at) FROM alerts_alertstep WHERE kind = 'escalated' "
                "AND alert_id = ANY(%s) GROUP BY alert_id",
                (list(due),),
            ).fetchall()
        fired = {int(a): at.timestamp() for a, at in rows}
        if len(fired) == len(due):
            break
    await asyncio.sleep(scale.settle)
    sampling.cancel()
    host = sampler.result()
    cpu1 = cpu_seconds(children["dispatcher"].pid)
    lateness = [(fired[a] - due[a]) * 1000 for a in fired]
    heard = []
    for a in due:
        frames = [f for f in probe.by_alert.get(a, []) if (f[2] or 0) >= 2]
        if frames:
            heard.append((min(f[1] for f in frames) - due[a]) * 1000)
    cpu_each = (cpu1 - cpu0) * 1000 / max(1, len(fired))
    say(
        f"escalation: fired {len(fired)}/{len(due)}; lateness p50 {pct(lateness, 50):.1f} ms "
        f"p99 {pct(lateness, 99):.1f} ms; next tier heard {len(heard)}: p50 "
        f"{pct(heard, 50):.1f} p99 {pct(heard, 99):.1f} ms; dispatcher {cpu_each:.1f} ms CPU each"
    )
    bare = await bare_timers(ctx)
    r = ctx.results
    r.add("escalation_lateness_p50", pct(lateness, 50), "ms", pct(bare, 50))
    r.add("escalation_lateness_p99", pct(lateness, 99), "ms", pct(bare, 99))
    r.add("escalation_lateness_max", max(lateness, default=None), "ms", max(bare, default=None))
    r.add("escalations_fired", len(fired), "timers", len(due))
    r.add("escalation_heard_p50", pct(heard, 50), "ms", None)
    r.add("escalation_heard_p99", pct(heard, 99), "ms", None)
    r.add("escalations_heard", len(heard), "alerts", len(due))
    r.add("dispatcher_cpu_per_escalation", cpu_each, "ms", None)
    r.add("host_cpu_not_bench_escalation", host["other"], "cores", None)


async def bare_timers(ctx: Ctx) -> list[float]:
    scale = ctx.scale
    with ctx.pg.connect(autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_bare_timer")
        conn.execute(
            "CREATE TABLE bench_bare_timer (id bigserial PRIMARY KEY, "
            "due_at timestamptz NOT NULL, fired_at timestamptz)"
        )
        conn.execute(
            "CREATE INDEX bench_bare_timer_pending ON bench_bare_timer (due_at) "
            "WHERE fired_at IS NULL"
        )
        now = datetime.now(UTC)
        start = now + timedelta(seconds=scale.lead)
        rows = [start + timedelta(seconds=i / scale.timer_rate) for i in range(scale.timers_due)]
        far = range(scale.timers_pending - scale.timers_due)
        rows += [now + timedelta(hours=2, seconds=i) for i in far]
        with conn.cursor().copy("COPY bench_bare_timer (due_at) FROM STDIN") as copy:
            for due_at in rows:
                copy.write_row((due_at,))
        conn.execute("ANALYZE bench_bare_timer")
    last_due = start + timedelta(seconds=(scale.timers_due - 1) / scale.timer_rate)
    argv = [PYTHON, "-m", "bench.bare_timers", ctx.pg.dsn(), "--poll", "0.1"]
    loop = ctx.procs.start("bare-timers", argv, dict(os.environ))
    while datetime.now(UTC) < last_due + timedelta(seconds=30):
        await asyncio.sleep(0.5)
        with ctx.pg.connect() as conn:
            row = conn.execute(
                "SELECT count(*) FROM bench_bare_timer WHERE fired_at IS NULL AND due_at <= %s",
                (last_due,),
            ).fetchone()
        if row and row[0] == 0:
            break
    ctx.procs.stop(loop)
    with ctx.pg.connect() as conn:
        lateness = [
            float(r[0]) * 1000
            for r in conn.execute(
                "SELECT extract(epoch FROM fired_at - due_at)::float FROM bench_bare_timer "
                "WHERE fired_at IS NOT NULL"
            ).fetchall()
        ]
    p50, p99 = pct(lateness, 50), pct(lateness, 99)
    say(f"bare timers: {len(lateness)} fired; p50 {p50:.1f} ms p99 {p99:.1f} ms")
    return lateness


async def run_all(ctx: Ctx) -> None:
    scale = ctx.scale
    say(
        f"database {ctx.pg.shown()} (role limited to {BENCH_CONNECTIONS} connections): "
        "drop, create, migrate"
    )
    ctx.pg.recreate()
    env = ctx.django_env()
    await ctx.run_child("migrate", [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], env)
    # Django processes start now (they only need the schema) and idle until their benchmark:
    # A takes presses, B holds the managers' sockets, C is the fresh process of benchmark 4.
    for name in ("A", "B", "C"):
        ctx.servers[name] = ctx.uvicorn(
            f"django-{name}", "backend.config.asgi:application", env, False
        )
    say(f"synthetic district: {scale.communities} communities, {scale.devices} devices")
    world = ctx.workdir / "world.json"
    argv = [PYTHON, "-m", "bench.prepare", "world", "--communities", str(scale.communities)]
    argv += ["--sockets", str(scale.sockets), "--devices", str(scale.devices)]
    argv += ["--password", PASSWORD, "--out", str(world)]
    await ctx.run_child("prepare-world", argv, env)
    ctx.world = json.loads(world.read_text())
    w = ctx.world
    say(
        f"district loaded in {w['load_seconds']} s: {w['counts']['residents']:,} residents, "
        f"{len(w['managers'])} grid managers, {len(w['watchers'])} supervisors/admins, "
        f"{len(w['idle'])} idle staff; N={len(w['managers']) + len(w['watchers']) + len(w['idle'])}"
    )
    if scale.small:  # CI: keep it short; these do not judge on time either
        extras = asyncio.ensure_future(run_extras(ctx))
        floor = await phase_floor(ctx)
        await phase_django(ctx, floor)
        await extras
    else:  # one at a time, so that they do not disturb each other's figures
        floor = await phase_floor(ctx)
        await phase_django(ctx, floor)
        await run_extras(ctx)


def available_extras() -> list[str]:
    here = Path(__file__).resolve().parent
    return [m for m in EXTRA if (here / f"{m.rsplit('.', 1)[1]}.py").exists()]


async def run_extras(ctx: Ctx) -> None:
    """The other modules of bench/ (each picks its own database; see bench/extra.py)."""
    env = dict(os.environ)
    env.update({"REDIS_URL": ctx.redis_url, "CHANNEL_PREFIX": "gridline-bench", "DEBUG": "0"})
    env.setdefault("DATABASE_URL", "postgis://postgres@127.0.0.1:5432/gridline")
    for module in available_extras():
        say(f"{module}: running")
        out = ctx.workdir / f"{module}.json"
        argv = [PYTHON, "-m", "bench.extra", module, str(out)]
        argv += ["--small"] if ctx.scale.small else []
        try:
            await ctx.run_child(module, argv, env)
        except RuntimeError as exc:  # reported, and the run fails at the end
            ctx.results.note(f"{module} failed: {str(exc)[:300]}")
            ctx.failed.append(module)
            continue
        rows = json.loads(out.read_text())
        ctx.results.merge(rows)
        shown = ", ".join(f"{k} {v['value']} {v['unit']}" for k, v in rows.items())
        say(f"{module}: {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--small", action="store_true", help="tiny scale, well under a minute")
    parser.add_argument("--sockets", type=int, help="N connected sockets (full 5000, small 60)")
    parser.add_argument("--duration", type=float, help="seconds of the 20 alerts/s measurement")
    parser.add_argument("--communities", type=int, help="communities to load (full 18, small 1)")
    parser.add_argument("--rate", type=float, help="background alerts per second (default 20)")
    parser.add_argument("--keep", action="store_true", help="keep the database and the work dir")
    parser.add_argument("--profile", metavar="DIR", help="py-spy A, B and the dispatcher to DIR")
    args = parser.parse_args()
    scale = SMALL if args.small or os.environ.get("BENCH_SMALL") == "1" else FULL
    if args.sockets:
        memory = min(scale.memory_sockets, args.sockets // 2)
        scale = replace(scale, sockets=args.sockets, memory_sockets=memory)
    if args.duration:
        scale = replace(scale, duration=args.duration)
    if args.communities:
        scale = replace(scale, communities=args.communities)
    if args.rate:
        scale = replace(scale, rate=args.rate)
    soft, hard = raise_fd_limit()
    need = scale.sockets + 2000
    say(f"RLIMIT_NOFILE {soft}/{hard} (raised to the hard limit); busiest process needs ~{need}")
    if soft < need:
        say(f"warning: RLIMIT_NOFILE {soft} may cap the socket count below {scale.sockets}")

    workdir = Path(tempfile.mkdtemp(prefix="gridline-bench-"))
    procs = Procs(workdir)
    pg = Pg.from_env()
    results = Results()

    def on_term(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    failed = False
    failures: list[str] = []
    started = time.monotonic()
    try:
        redis_url, _ = start_redis(procs)
        say(f"private redis-server at {redis_url}; work dir {workdir}")
        profile = Path(args.profile).resolve() if args.profile else None
        ctx = Ctx(scale, procs, pg, redis_url, workdir, results, profile)
        failures = ctx.failed
        runner: Callable[[Any], Any] = asyncio.run
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            pass
        runner(run_all(ctx))
    except KeyboardInterrupt:
        failed = True
        say("interrupted: cleaning up")
    except Exception:
        failed = True
        import traceback

        traceback.print_exc()
        for child in procs.children:
            state = "running" if child.alive() else f"exited {child.popen.returncode}"
            print(f"--- {child.name} ({state}), last lines of {child.log}:\n{child.tail(15)}")
    finally:
        procs.stop_all()
        if args.keep:
            say(f"kept database {pg.url()} and {workdir}")
        else:
            try:
                pg.drop()
            except Exception as exc:
                say(f"could not drop the bench database: {exc}")
            shutil.rmtree(workdir, ignore_errors=True)
    if results.rows:
        print()
        print(results.table())
        for note in results.notes:
            print(f"note: {note}")
        results.write()
        took = time.monotonic() - started
        print(f"\nwrote {RESULTS} ({'small' if scale.small else 'full'} scale, {took:.0f} s)")
    sys.exit(1 if failed or failures else 0)
