"""The two stacks every figure compares, brought up the same way: the bare floor and gridline.

A stack is its server processes, N connected sockets and the background heartbeats:

- idle sockets are held by several holder processes (`python -m bench.clients hold`, at most
  Scale.per_holder each), never by the runner;
- the probe, in the runner, holds only the sockets frames are timed on (every grid manager,
  supervisor and district administrator) and sends the presses;
- heartbeats come from a process of their own (`python -m bench.clients beat`).

So the measuring process does nothing but measure, and nothing it holds grows with N.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness.processes import PYTHON, Process, Processes, Server, free_port

from . import clients
from .common import PASSWORD, Results, Scale, read_json, say
from .meters import cpu_seconds
from .pg import Pg

MakePress = Callable[[dict[str, Any], str | None], tuple[bytes, dict[str, str]]]


@dataclass
class Ctx:
    scale: Scale
    procs: Processes
    pg: Pg
    redis_url: str
    workdir: Path
    results: Results
    profile_dir: Path | None = None
    world: dict[str, Any] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    extras: bool = True  # run the visits and photo benchmarks too
    floor_only: bool = False

    def django_env(self, redis_url: str = "") -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "GRIDLINE_ENV": "development",
                "DJANGO_SETTINGS_MODULE": "backend.config.settings",
                "DATABASE_URL": self.pg.url(),
                "REDIS_URL": redis_url or self.redis_url,
                "CHANNEL_PREFIX": "gridline-bench",
                "EMBEDDED_DISPATCHER": "0",
                "DEBUG": "0",
                "LOG_LEVEL": "WARNING",
                # Log-in is set-up here, not a measurement: thousands of PBKDF2 log-ins would
                # take longer than the benchmarks (the tests use MD5 for the same reason).
                "PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
                # 5,000 phones log in from this one address: the per-address log-in limit
                # (30/min, issue 11) would refuse all but the first 30 sockets.
                "RATE_LOGIN_PER_IP": "1000000/m",
                "SMS_BACKEND": "backend.notify.sms.LocmemBackend",
                "ACCESS_TOKEN_MINUTES": "240",
                "GRIDLINE_DATA_DIR": str(self.workdir / "data"),
                "DB_POOL_MAX_SIZE": str(self.pg.pool_size()),
                # Worker threads that each hold a connection: within the pool, leaving room
                # for log-ins and tickets (which Django serves a thread each).
                "DEVICE_THREADS": str(max(2, self.pg.pool_size() // 2)),
                "REALTIME_DB_THREADS": str(max(2, self.pg.pool_size() // 4)),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def uvicorn(
        self, name: str, app: str = Server.APP, env: dict[str, str] | None = None
    ) -> Server:
        """A uvicorn process started now (not waited for)."""
        args = ("--no-access-log", "--log-level", "warning", "--backlog", "4096")
        return self.procs.server(name, app=app, env=env or self.django_env(), wait=False, args=args)

    async def ready(self, *servers: Process) -> None:
        await asyncio.to_thread(self.procs.wait_ready, *servers)

    async def run_child(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        child = self.procs.start(name, argv, env)
        code = await asyncio.to_thread(child.wait)
        self.procs.stop(child)
        if code != 0:
            raise RuntimeError(f"{name} failed ({code}):\n{child.tail(40)}")

    def status_path(self, name: str) -> Path:
        return self.workdir / f"{name}.status.json"

    async def helper(self, name: str, command: str, spec: dict[str, Any]) -> Process:
        """A `python -m bench.clients COMMAND` process with its spec; not waited for."""
        spec_path = self.workdir / f"{name}.spec.json"
        spec_path.write_text(json.dumps(spec))
        self.status_path(name).unlink(missing_ok=True)
        argv = [PYTHON, "-m", "bench.clients", command, str(spec_path), str(self.status_path(name))]
        return self.procs.start(name, argv, dict(os.environ, PYTHONUNBUFFERED="1"))

    async def holders(
        self, prefix: str, mode: str, targets: list[tuple[str, str | None, list[Any]]]
    ) -> list[Process]:
        """Holder processes for (login/base URL, socket base URL, items) each, at most
        Scale.per_holder sockets a process; returns once every one has tried every socket."""
        started: list[Process] = []
        for base, ws_base, items in targets:
            for k in range(0, len(items), self.scale.per_holder):
                name = f"{prefix}-{len(started)}"
                spec = {
                    "mode": mode,
                    "base": base,
                    "ws_base": ws_base,
                    "items": items[k : k + self.scale.per_holder],
                    "password": PASSWORD,
                    "concurrency": self.scale.concurrency,
                }
                started.append(await self.helper(name, "hold", spec))
        deadline, last_print = time.monotonic() + 900, time.monotonic()
        while time.monotonic() < deadline:
            states = [self.state(h) for h in started]
            for holder in started:
                if not holder.alive():
                    raise RuntimeError(f"{holder.name} exited:\n{holder.tail()}")
            if all(s.get("done") for s in states):
                return started
            if time.monotonic() - last_print > 15:
                last_print = time.monotonic()
                opened = sum(s.get("connected", 0) for s in states)
                say(f"  {prefix}: {opened}/{sum(s.get('target', 0) for s in states)} open")
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{prefix}: sockets still opening after 900 s")

    def state(self, proc: Process) -> dict[str, Any]:
        return read_json(self.status_path(proc.name)) or {}

    def totals(self, procs: list[Process]) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for proc in procs:
            for key, value in self.state(proc).items():
                if isinstance(value, int) and not isinstance(value, bool):
                    totals[key] += value
        return totals


# -- the probe: the sockets frames are timed on (in the runner) -------------------------------


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
    resyncs: int = 0
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
            kind = frame.get("type")
            if kind == "alert.raised":
                data = frame.get("data") or {}
                aid = int(data["alert_id"])
                self.raised[(user_id, aid)].append((t, wall, data.get("tier")))
                self.by_alert[aid].append((t, wall, data.get("tier"), user_id))
            elif kind == "resync_required":
                self.resyncs += 1
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


# -- a stack ------------------------------------------------------------------------------------


@dataclass
class Stack:
    name: str  # "floor" or "django"
    press_url: str
    make_press: MakePress
    receivers: dict[str, Process]  # processes that take the presses and heartbeats
    others: dict[str, Process]  # the rest of the stack (socket servers, dispatcher)
    probe: Probe
    holders: list[Process]
    beat: Process | None = None
    sockets: int = 0
    open_seconds: float = 0.0
    http: Any = None  # the probe's client for log-ins and tickets (gridline only)

    @property
    def children(self) -> dict[str, Process]:
        return {**self.receivers, **self.others}

    def connect_rate(self) -> float:
        return self.sockets / self.open_seconds if self.open_seconds else float("nan")


def watched_users(ctx: Ctx) -> list[tuple[int, str]]:
    people = [(m["user_id"], m["phone"]) for m in ctx.world["managers"]]
    return people + [(w["user_id"], w["phone"]) for w in ctx.world["watchers"]]


async def settle(ctx: Ctx, stack: Stack) -> None:
    """After every socket is open: collect the runner's garbage once and freeze it, then let the
    stack run under its heartbeats for Scale.warmup seconds before anything is measured."""
    gc.collect()
    gc.freeze()
    say(f"{stack.name}: {stack.sockets} sockets open; warm-up {ctx.scale.warmup:.0f} s")
    await asyncio.sleep(ctx.scale.warmup)


async def start_heartbeats(ctx: Ctx, stack: Stack, url: str, mode: str) -> None:
    spec = {
        "mode": mode,
        "url": url,
        "rate": ctx.scale.heartbeat_rate,
        "devices": ctx.world["heartbeat_devices"],
    }
    stack.beat = await ctx.helper(f"{stack.name}-beat", "beat", spec)
    say(
        f"{stack.name}: heartbeats at {ctx.scale.heartbeat_rate:.0f}/s from "
        f"{len(spec['devices'])} devices"
    )


def heartbeats(ctx: Ctx, stack: Stack) -> dict[str, Any]:
    return ctx.state(stack.beat) if stack.beat else {}


async def open_floor(ctx: Ctx) -> Stack:
    say("floor: raw ASGI + psycopg + Redis PUBLISH (uvicorn), bare websockets subscriber")
    with ctx.pg.connect(autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_floor_alert (id bigserial PRIMARY KEY, "
            "user_id bigint NOT NULL, payload jsonb NOT NULL, created_at timestamptz DEFAULT now())"
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_floor_device (device_id text PRIMARY KEY, "
            "heard_at timestamptz NOT NULL)"
        )
    env = dict(os.environ, BENCH_FLOOR_DSN=ctx.pg.dsn(), BENCH_FLOOR_REDIS=ctx.redis_url)
    http = ctx.uvicorn("floor-http", "bench.floor_http:app", env)
    ws_port = free_port()
    argv = [PYTHON, "-m", "bench.floor_ws", "--port", str(ws_port), "--redis", ctx.redis_url]
    ws = ctx.procs.start("floor-ws", argv)
    await ctx.ready(http)
    await asyncio.to_thread(_wait_port, ws_port, ws)
    ws_base = f"http://127.0.0.1:{ws_port}"
    idle = [2_000_000 + i for i in range(len(ctx.world["idle"]))]
    t0 = time.perf_counter()
    holders = await ctx.holders(
        "floor-hold", "floor", [(http.url, None, idle[0::2]), (ws_base, None, idle[1::2])]
    )
    probe = Probe()
    users = [uid for uid, _ in watched_users(ctx)]
    await probe.open([(u, clients.floor_opener(ws_base, u)) for u in users], ctx.scale.concurrency)
    stack = Stack(
        "floor",
        f"{http.url}/alert",
        clients.floor_press,
        {"http": http},
        {"ws": ws},
        probe,
        holders,
    )
    stack.open_seconds = time.perf_counter() - t0
    stack.sockets = probe.stats.connected + ctx.totals(holders)["connected"]
    await start_heartbeats(ctx, stack, f"{http.url}/heartbeat", "floor")
    await settle(ctx, stack)
    return stack


async def open_django(ctx: Ctx, a: Server, b: Server, dispatcher: Process) -> Stack:
    say("django: uvicorn A (presses, heartbeats) and B (managers' sockets), one dispatcher")
    await ctx.ready(a, b, dispatcher)
    async with httpx.AsyncClient(timeout=60) as http:
        for server in (a, b):
            r = await http.get(f"{server.url}/api/v1/health")
            if r.status_code >= 500:
                raise RuntimeError(
                    f"{server.name} unhealthy: {r.status_code} {r.text[:300]}\n{server.tail(40)}"
                )
    idle = ctx.world["idle"]
    t0 = time.perf_counter()
    holders = await ctx.holders(
        "django-hold", "django", [(a.url, None, idle[0::2]), (b.url, None, idle[1::2])]
    )
    probe = Probe()
    probe_http = clients.http_client(b.url, 64)
    openers = [
        (uid, clients.django_opener(probe_http, phone, PASSWORD))
        for uid, phone in watched_users(ctx)
    ]
    await probe.open(openers, ctx.scale.concurrency)
    stack = Stack(
        "django",
        f"{a.url}/api/v1/device/alerts",
        clients.device_press,
        {"A": a},
        {"B": b, "dispatcher": dispatcher},
        probe,
        holders,
        http=probe_http,
    )
    stack.open_seconds = time.perf_counter() - t0
    stack.sockets = probe.stats.connected + ctx.totals(holders)["connected"]
    failed = probe.stats.failed + ctx.totals(holders)["failed"]
    if failed:
        errors = [dict(probe.stats.errors)] + [ctx.state(h).get("errors") for h in holders]
        say(f"django: {failed} sockets failed to open: {errors}")
    await start_heartbeats(ctx, stack, f"{a.url}/api/v1/device/heartbeat", "django")
    await settle(ctx, stack)
    return stack


async def close(ctx: Ctx, stack: Stack, servers: bool = True) -> None:
    await stack.probe.close()
    if stack.http is not None:
        await stack.http.aclose()
    for proc in [*stack.holders, *([stack.beat] if stack.beat else [])]:
        ctx.procs.stop(proc)
    if servers:
        for proc in stack.children.values():
            ctx.procs.stop(proc)
    gc.unfreeze()


def meter(ctx: Ctx, stack: Stack) -> dict[str, Any]:
    """Counters read before and after a window: CPU of each process of the stack, PostgreSQL
    sessions and commits of the bench database, checkpoints of the whole server, Redis
    commands, heartbeats answered."""
    import redis

    with ctx.pg.connect(autocommit=True) as conn:
        row = conn.execute(
            "SELECT sessions, xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        # cluster-wide (other databases too): a checkpoint slows every commit's WAL flush
        checkpoints = conn.execute(
            "SELECT checkpoints_timed + checkpoints_req, buffers_checkpoint FROM pg_stat_bgwriter"
        ).fetchone()
    r = redis.Redis.from_url(ctx.redis_url)
    try:
        commands = r.info("stats")["total_commands_processed"]
    finally:
        r.close()
    return {
        "t": time.perf_counter(),
        "cpu": {n: cpu_seconds(c.pid) for n, c in stack.children.items()},
        "sessions": row[0],
        "commits": row[1],
        "redis": commands,
        "checkpoints": checkpoints[0],
        "checkpoint_buffers": checkpoints[1],
        "heartbeats": heartbeats(ctx, stack).get("answered", 0),
    }


def _wait_port(port: int, proc: Process) -> None:
    from harness.processes import port_open, wait_until

    def up() -> bool:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        return port_open(port)

    wait_until(up, timeout=60, interval=0.1, what=f"{proc.name} to listen")
