"""A simulated city on this box (issue 15 item 8). Not part of `make bench`: run it alone.

    .venv/bin/python -m bench.city                      # the issue's scale (hours; a quiet box)
    .venv/bin/python -m bench.city --districts 2 --communities 1 --sockets 500 --duration 20 \\
        --heartbeats 30 --boards 50                     # tiny: proves it works, in minutes

The default scale is the issue's: 10 synthetic districts (backend/demo/synthetic.py, district 1
is Tongguanshan and 2-10 copies of its layout with people of their own) = 3,590 grids, ~1.07 M
households, ~3 M residents on PostGIS; 4 ASGI processes and 2 dispatchers on one private Redis;
10,000 sockets; 5 presses/s and 300 heartbeats/s. It reuses `python -m bench`'s harness: the
isolated database and role (bench/pg.py, BENCH_DB, here `gridline_bench_city` unless set), the
world's preparation (bench/prepare.py with --districts), the holder and heartbeat processes
(bench/clients.py), the probe and the open-loop presses (bench/stacks.py, bench/load.py), the
quiet window, steady phase and rate sweep (bench/latency.py).

What it prints (and writes to bench/city-results.json, or --out):

- generation: seconds to load the city, and its counts;
- press -> tier-1 socket p50/p99 at the steady rate (the issue's 5/s), under the heartbeats;
- point -> grid p99 and a district officer's board state p99 (bench/city_reads.py, in a
  process of its own during the steady phase);
- supervisor fan-out: --boards sockets of district 1's officer (every alert of the district
  reaches each): press -> last board's frame p99, and the spread first -> last board, beside a
  bare `websockets.broadcast` to as many sockets in the same run (bench/city_broadcast.py);
- RSS of every process (ASGI, dispatchers, Redis);
- what breaks first as the load doubles: the press rate doubled --doublings times (5, 10, 20,
  ...), p50/p99 and the CPU of each process at each step, until a p99 passes 1 s.

The sockets are spread over all ASGI processes, the heartbeats too (one sender per process);
presses go to ASGI 1 (at 5/s the press path is not what a load balancer's spreading changes).
The run exits non-zero only when something breaks, never because of a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.processes import PYTHON, Process, Processes, Server, free_port

from . import clients
from .common import FULL, PASSWORD, Results, pct, read_json, say
from .latency import curve, quiet_window, steady
from .load import Sent, client_for, collect, drive
from .meters import Watch, cpu_seconds, raise_fd_limit, rss_kib
from .pg import Pg
from .run import clean_up, print_results
from .stacks import Ctx, Probe, Stack, _wait_port, close, settle

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "city-results.json"
ADMIN_OF_DISTRICT_1 = "19900090001"  # synthetic.staff_phone(Role.DISTRICT_ADMIN)


@dataclass(frozen=True)
class CityPg(Pg):
    django_processes: int = 7  # 4 ASGI, 2 dispatchers, the reads

    def pool_size(self) -> int:
        return max(2, min(20, (self.limit - 10) // self.django_processes))


@dataclass
class CityCtx(Ctx):
    """bench/stacks.py's context; the heartbeats come from one sender per ASGI process, and
    the first sender's state stands for all of them (bench/latency.py prices a heartbeat from
    the count it reads there)."""

    beats: list[Process] = field(default_factory=list)

    def state(self, proc: Process) -> dict[str, Any]:
        if not self.beats or proc is not self.beats[0]:
            return super().state(proc)
        total: dict[str, Any] = {"answered": 0, "sent": 0, "over_100ms": 0, "statuses": {}}
        for beat in self.beats:
            one = super().state(beat)
            for key in ("answered", "sent", "over_100ms"):
                total[key] += int(one.get(key, 0))
            for status, n in (one.get("statuses") or {}).items():
                total["statuses"][status] = total["statuses"].get(status, 0) + n
        return total


@dataclass
class Boards:
    """Sockets that each get every alert of district 1 (as alert.updated: the officer watches,
    is not called): alert_id -> [perf_counter of its first frame on each board]."""

    stats: clients.SocketStats = field(default_factory=clients.SocketStats)
    frames: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    seen: set[tuple[int, int]] = field(default_factory=set)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def on_frame(self, board: int) -> Any:
        def on_frame(raw: str, t: float, wall: float) -> dict[str, Any]:
            frame: dict[str, Any] = json.loads(raw)
            aid = (frame.get("data") or {}).get("alert_id")
            if isinstance(aid, int) and (board, aid) not in self.seen:
                self.seen.add((board, aid))
                self.frames[aid].append(t)
            return frame

        return on_frame

    async def open(self, openers: list[clients.Opener], concurrency: int) -> None:
        opening = asyncio.Semaphore(concurrency)
        self.stats.target = len(openers)
        for board, opener in enumerate(openers):
            self.tasks.append(
                asyncio.create_task(clients.keep(opener, self.stats, opening, self.on_frame(board)))
            )
        await self.stats.all_tried.wait()

    async def close(self) -> None:
        self.stats.stopping = True
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def board_opener(http: Any, token: str) -> clients.Opener:
    """One officer's many boards: one log-in shared (as one browser's session would be), a
    ticket per socket. Logging in 200 times at once would trip the account's lock-out, which
    counts attempts in flight (backend/accounts/lockout.py)."""

    async def open_(last_event_id: int | None) -> Any:
        query = f"ticket={await clients.ticket(http, token)}"
        if last_event_id is not None:
            query += f"&last_event_id={last_event_id}"
        return await clients.open_ws(f"{clients.ws_url(http.base)}/ws/v1/stream?{query}")

    return open_


async def open_city(ctx: CityCtx, servers: list[Server], dispatchers: list[Process]) -> Stack:
    say(f"city: {len(servers)} ASGI processes, {len(dispatchers)} dispatchers, one Redis")
    await ctx.ready(*servers, *dispatchers)
    idle = ctx.world["idle"]
    n = len(servers)
    t0 = time.perf_counter()
    holders = await ctx.holders(
        "city-hold", "django", [(s.url, None, idle[i::n]) for i, s in enumerate(servers)]
    )
    probe = Probe()
    probe_http = clients.http_client(servers[1 % n].url, 64)
    people = [(m["user_id"], m["phone"]) for m in ctx.world["managers"]]
    people += [(w["user_id"], w["phone"]) for w in ctx.world["watchers"]]
    openers = [(uid, clients.django_opener(probe_http, phone, PASSWORD)) for uid, phone in people]
    await probe.open(openers, ctx.scale.concurrency)
    stack = Stack(
        "django",
        f"{servers[0].url}/api/v1/device/alerts",
        clients.device_press,
        {"asgi-1": servers[0]},
        {**{s.name: s for s in servers[1:]}, **{d.name: d for d in dispatchers}},
        probe,
        holders,
        http=probe_http,
    )
    stack.open_seconds = time.perf_counter() - t0
    stack.sockets = probe.stats.connected + ctx.totals(holders)["connected"]
    failed = probe.stats.failed + ctx.totals(holders)["failed"]
    if failed:
        say(f"city: {failed} sockets failed to open: {dict(probe.stats.errors)}")
    # Heartbeats: one sender per ASGI process, the devices and the rate split between them.
    devices = ctx.world["heartbeat_devices"]
    for i, server in enumerate(servers):
        spec = {
            "mode": "django",
            "url": f"{server.url}/api/v1/device/heartbeat",
            "rate": ctx.scale.heartbeat_rate / n,
            "devices": devices[i::n],
        }
        ctx.beats.append(await ctx.helper(f"city-beat-{i + 1}", "beat", spec))
    stack.beat = ctx.beats[0]  # stands for all of them (CityCtx.state)
    say(f"city: heartbeats at {ctx.scale.heartbeat_rate:.0f}/s over {n} processes")
    await settle(ctx, stack)
    return stack


async def fan_out(ctx: Ctx, stack: Stack, boards: Boards, presses: int) -> dict[str, Any]:
    """Presses of district 1's devices at the steady rate; each alert reaches every board."""
    devices = [d for d in ctx.world["devices"] if d["district"] == ctx.world["district_1"]]
    await asyncio.to_thread(ctx.pg.end_open_alerts)
    async with client_for(stack, 100) as http, Watch("city fan-out", say):
        sent: list[Sent] = await drive(http, stack, devices, presses, ctx.scale.rate)
        await collect(stack.probe, sent, timeout=30)
    want = boards.stats.open
    deadline = time.perf_counter() + 30
    ok = [s for s in sent if s.alert_id is not None]
    while time.perf_counter() < deadline:
        if all(len(boards.frames.get(s.alert_id or 0, [])) >= want for s in ok):
            break
        await asyncio.sleep(0.1)
    last, spread, short = [], [], 0
    for s in ok:
        times = boards.frames.get(s.alert_id or 0, [])
        if len(times) < want:
            short += 1
        if times:
            last.append((max(times) - s.t0) * 1000)
            spread.append((max(times) - min(times)) * 1000)
    out = {
        "presses": len(sent),
        "accepted": len(ok),
        "boards": want,
        "short": short,
        "last_p50": pct(last, 50),
        "last_p99": pct(last, 99),
        "spread_p99": pct(spread, 99),
    }
    say(f"city fan-out to {want} boards: {json.dumps(out)}")
    return out


async def broadcast_floor(ctx: Ctx, boards: int, messages: int) -> dict[str, Any]:
    """The same fan-out through a bare websockets.broadcast: last receipt after the send."""
    from websockets.asyncio.client import connect

    port = free_port()
    proc = ctx.procs.start("broadcast", [PYTHON, "-m", "bench.city_broadcast", "--port", str(port)])
    await asyncio.to_thread(_wait_port, port, proc)
    url = f"ws://127.0.0.1:{port}/"
    got: dict[str, list[float]] = defaultdict(list)
    everyone = asyncio.Event()  # set when the current message reached every socket

    async def listen(ws: Any) -> None:
        async for message in ws:
            got[str(message)].append(time.perf_counter())
            if len(got[str(message)]) >= boards:
                everyone.set()

    sockets = [await connect(url, ping_interval=None) for _ in range(boards)]
    for ws in sockets:
        await ws.recv()  # hello
    tasks = [asyncio.create_task(listen(ws)) for ws in sockets]
    sender = await connect(url, ping_interval=None)
    await sender.recv()
    last, spread = [], []
    for _ in range(messages):
        key = uuid.uuid4().hex
        everyone.clear()
        t0 = time.perf_counter()
        await sender.send(key)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(everyone.wait(), 10)
        if got[key]:
            last.append((max(got[key]) - t0) * 1000)
            spread.append((max(got[key]) - min(got[key])) * 1000)
        await asyncio.sleep(1 / ctx.scale.rate)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for ws in [*sockets, sender]:
        await ws.close()
    ctx.procs.stop(proc)
    out = {"last_p50": pct(last, 50), "last_p99": pct(last, 99), "spread_p99": pct(spread, 99)}
    say(f"websockets.broadcast to {boards} sockets: {json.dumps(out)}")
    return out


def server_errors(procs: dict[str, Process]) -> dict[str, int]:
    """Tracebacks the processes logged (a 500, a crashed task); the first of each is printed
    (the work directory with the logs is removed at the end unless --keep)."""
    counts: dict[str, int] = {}
    for name, proc in procs.items():
        lines = proc.output().splitlines()
        starts = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
        if starts:
            counts[name] = len(starts)
            first = starts[0]
            context = "\n".join(lines[max(0, first - 3) : first + 40])
            say(f"{name}: {len(starts)} tracebacks logged; the first:\n{context}")
    return counts


def db_size(ctx: Ctx) -> int:
    with ctx.pg.connect(autocommit=True) as conn:
        return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])


def rss(ctx: Ctx, procs: dict[str, Process], redis_pid: int) -> dict[str, int]:
    out = {name: rss_kib(p.pid) for name, p in procs.items() if p.alive()}
    out["redis"] = rss_kib(redis_pid)
    return out


async def run_city(ctx: CityCtx, args: argparse.Namespace, redis_pid: int) -> None:
    scale, r = ctx.scale, ctx.results
    ctx.pg.recreate()
    say(f"database {ctx.pg.shown()} ({ctx.pg.pool_size()} connections per Django process)")
    env = ctx.django_env()
    await ctx.run_child("migrate", [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], env)
    empty = db_size(ctx)
    servers = [ctx.uvicorn(f"asgi-{i + 1}") for i in range(args.asgi)]
    say(
        f"city: {args.districts} districts of {args.communities} communities; "
        f"{scale.devices} pressing devices, {scale.heartbeat_devices} beating"
    )
    world = ctx.workdir / "world.json"
    argv = [PYTHON, "-m", "bench.prepare", "world", "--communities", str(args.communities)]
    argv += ["--districts", str(args.districts), "--sockets", str(scale.sockets)]
    argv += ["--devices", str(scale.devices), "--heartbeat-devices", str(scale.heartbeat_devices)]
    argv += ["--password", PASSWORD, "--out", str(world)]
    await ctx.run_child("prepare-world", argv, env)
    ctx.world = json.loads(world.read_text())
    w = ctx.world
    counts = w["counts"]
    say(
        f"city loaded in {w['load_seconds']} s: {counts['grids']:,} grids, "
        f"{counts['households']:,} households, {counts['residents']:,} residents"
    )
    r.add("city_generation", w["load_seconds"], "s", 30 * 60)
    for key in ("grids", "households", "residents"):
        r.add(f"city_{key}", counts[key], key, None)
    t = time.monotonic()
    await asyncio.to_thread(ctx.pg.quiesce)
    say(f"VACUUM ANALYZE + CHECKPOINT after the load: {time.monotonic() - t:.1f} s")
    # Everything the load wrote (households, buildings, staff, tags, contacts, indexes) per
    # resident: the figure the growth to 10 M people scales (docs/scale.md).
    loaded = db_size(ctx) - empty
    r.add("db_bytes_per_resident", loaded / max(1, counts["residents"]), "bytes", None)

    names = [f"dispatcher-{i + 1}" for i in range(args.dispatchers)]
    dispatchers = ctx.procs.dispatchers(*names, redis_url=ctx.redis_url, wait=False)
    stack = await open_city(ctx, servers, dispatchers)
    r.add("sockets_connected", stack.sockets, "sockets", scale.sockets)
    r.add("socket_open_rate", stack.connect_rate(), "sockets/s", None)
    boards = Boards()
    board_http = clients.http_client(servers[-1].url, 16)
    token = await clients.login(board_http, ADMIN_OF_DISTRICT_1, PASSWORD)
    await boards.open([board_opener(board_http, token) for _ in range(args.boards)], 8)
    say(f"city: {boards.stats.open} boards of district 1's officer open")
    if boards.stats.failed:
        say(f"city: {boards.stats.failed} boards failed to open: {dict(boards.stats.errors)}")

    quiet = await quiet_window(ctx, stack)
    reads_out = ctx.workdir / "reads.json"
    argv = [PYTHON, "-m", "bench.city_reads", str(reads_out), "--seconds", str(scale.duration)]
    reads = ctx.procs.start("reads", [*argv, "--admin", ADMIN_OF_DISTRICT_1], env)
    beats0, t0 = ctx.state(ctx.beats[0]).get("answered", 0), time.perf_counter()
    out = await steady(ctx, stack, quiet)
    heard = (ctx.state(ctx.beats[0]).get("answered", 0) - beats0) / (time.perf_counter() - t0)
    await asyncio.to_thread(reads.wait, 120)
    r.add("press_to_tier1_p50", out["p50"], "ms", None)
    r.add("press_to_tier1_p99", out["p99"], "ms", None)
    r.add("presses_delivered", out["delivered"], "alerts", out["sent"])
    r.add("heartbeats_answered_rate", heard, "/s", scale.heartbeat_rate)
    r.add("press_answer_p99", pct(out["response_ms"], 99), "ms", None)
    r.add("host_other_cpu_steady", out["host"].get("other"), "cores", 0.2)
    if not out["host"].get("other", 0) <= 0.2:
        r.note("the host was busy with other work during the steady phase: do not quote it")
    db = out["db"]
    r.note(
        "steady, PostgreSQL: waits "
        + json.dumps(db.get("wait_events", [])[:4], ensure_ascii=False)
        + "; lock waits on "
        + json.dumps([w[0][:60] for w in db.get("waiting_on", [])[:2]], ensure_ascii=False)
    )
    got = read_json(reads_out) or {}
    if not got:
        ctx.failed.append("reads")
        r.note(f"the reads process wrote nothing:\n{reads.tail(20)}")
    else:
        r.add("point_to_grid_p50", pct(got["lookup_ms"], 50), "ms", None)
        r.add("point_to_grid_p99", pct(got["lookup_ms"], 99), "ms", None)
        r.add("point_to_grid_misses", got["misses"], "points", 0)
        r.add("board_state_district_p50", pct(got["board_ms"], 50), "ms", None)
        r.add("board_state_district_p99", pct(got["board_ms"], 99), "ms", None)

    presses = max(10, int(scale.rate * min(scale.duration, 30)))
    fan = await fan_out(ctx, stack, boards, presses)
    floor = await broadcast_floor(ctx, args.boards, presses)
    r.add("fanout_boards", fan["boards"], "sockets", args.boards)
    r.add("fanout_last_board_p99", fan["last_p99"], "ms", floor["last_p99"])
    r.add("fanout_spread_p99", fan["spread_p99"], "ms", floor["spread_p99"])
    r.add("fanout_alerts_short_of_a_board", fan["short"], "alerts", 0)

    procs = {**stack.children}
    for name, kib in rss(ctx, procs, redis_pid).items():
        r.add(f"rss_{name}", kib, "KiB", None)

    # What breaks first as the load doubles: the press rate doubled step by step.
    cpu0 = {n: cpu_seconds(p.pid) for n, p in procs.items()}
    t0 = time.perf_counter()
    sweep = await curve(ctx, stack)
    cpu = {n: (cpu_seconds(p.pid) - cpu0[n]) / (time.perf_counter() - t0) for n, p in procs.items()}
    for point in sweep["points"]:
        rate = f"{point['rate']:g}"
        r.add(f"doubling_{rate}_per_s_p99", point["p99"], "ms", None)
    busiest = max(cpu, key=lambda n: cpu[n]) if cpu else "-"
    last = sweep["points"][-1] if sweep["points"] else {}
    r.note(
        f"doubling: highest rate with p99 <= 50 ms {sweep['knee']:g}/s; last step "
        f"{last.get('rate', 0):g}/s p99 {last.get('p99', float('nan')):.0f} ms; busiest process "
        f"over the sweep {busiest} ({cpu.get(busiest, 0):.2f} cores); cores per process "
        + json.dumps({k: round(v, 2) for k, v in cpu.items()})
    )
    r.add("socket_drops_total", stack.probe.stats.drops + ctx.totals(stack.holders)["drops"], "", 0)
    errors = server_errors(stack.children)
    r.add("server_errors_logged", sum(errors.values()), "errors", 0)
    if errors:
        ctx.failed.append("server errors")
    await boards.close()
    await board_http.aclose()
    for beat in ctx.beats:
        ctx.procs.stop(beat)
    await close(ctx, stack)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.city", description=__doc__)
    parser.add_argument("--districts", type=int, default=10, help="districts (1-10), default 10")
    parser.add_argument("--communities", type=int, default=18, help="per district (1-18)")
    parser.add_argument("--asgi", type=int, default=4)
    parser.add_argument("--dispatchers", type=int, default=2)
    parser.add_argument("--sockets", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=5.0, help="presses per second")
    parser.add_argument("--heartbeats", type=float, default=300.0, help="heartbeats per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of the steady load")
    parser.add_argument("--boards", type=int, default=200, help="sockets of the fan-out")
    parser.add_argument("--doublings", type=int, default=5, help="steps of the rate sweep")
    parser.add_argument("--step", type=float, default=15.0, help="seconds per sweep step")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--keep", action="store_true", help="keep the database and work dir")
    args = parser.parse_args()
    os.environ.setdefault("BENCH_DB", "gridline_bench_city")
    rates = tuple(args.rate * 2**k for k in range(args.doublings))
    interval = 100.0  # each button reports every 100 s: heartbeats/s x 100 buttons
    scale = replace(
        FULL,
        sockets=args.sockets,
        rate=args.rate,
        duration=args.duration,
        curve=rates,
        curve_duration=args.step,
        heartbeat_devices=int(args.heartbeats * interval),
        heartbeat_interval=interval,
        devices=int(max(args.rate * args.duration, max(rates) * args.step)) + 100,
        warmup=min(FULL.warmup, args.duration / 2),
        heartbeat_window=min(FULL.heartbeat_window, args.duration / 2),
    )
    soft, _ = raise_fd_limit()
    if soft < scale.sockets + 2000:
        say(f"warning: RLIMIT_NOFILE {soft} may cap the socket count below {scale.sockets}")
    workdir = Path(tempfile.mkdtemp(prefix="gridline-city-"))
    pg = CityPg.from_env()
    object.__setattr__(pg, "django_processes", args.asgi + args.dispatchers + 1)
    results = Results()

    def on_term(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    failed = False
    started = time.monotonic()
    ctx: CityCtx | None = None
    with Processes(workdir) as procs:
        try:
            redis = procs.redis()
            say(f"private redis-server at {redis.url}; work dir {workdir}")
            ctx = CityCtx(scale, procs, pg, redis.url, workdir, results, None)
            procs.django_env = ctx.django_env
            asyncio.run(run_city(ctx, args, redis.pid))
        except KeyboardInterrupt:
            failed = True
            say("interrupted: cleaning up")
        except Exception:
            failed = True
            import traceback

            traceback.print_exc()
            print(procs.report(15))
        finally:
            clean_up(procs, pg, workdir, keep=args.keep)
    if results.rows:
        print_results(results)
        Path(args.out).write_text(json.dumps(results.rows, indent=2) + "\n")
        print(f"\nwrote {args.out} ({time.monotonic() - started:.0f} s)")
    sys.exit(1 if failed or (ctx is not None and ctx.failed) else 0)


if __name__ == "__main__":
    main()
