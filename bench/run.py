"""Runs every benchmark against its own database and Redis, prints a table, writes
bench/results.json. See bench/__init__.py for what is measured and how; each phase has its
module (latency, burst, reconnect, escalation, memory), bench/stacks.py brings both stacks up
the same way and bench/report.py turns the figures into the table."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from harness.processes import PYTHON, Processes

from . import report
from .burst import burst
from .common import FULL, PASSWORD, RESULTS, SMALL, Results, say
from .dc09 import dc09
from .escalation import escalation
from .latency import curve, quiet_window, steady
from .memory import memory
from .meters import raise_fd_limit
from .pg import Pg
from .reconnect import reconnect
from .stacks import Ctx, Stack, close, open_django, open_floor

# Other benchmark modules of bench/ with `run(small) -> {"name": {...}}`, run by bench.extra.
EXTRA = ("bench.visits_photos", "bench.visits_sync", "bench.assessment")
T = TypeVar("T")


async def measure(ctx: Ctx, stack: Stack) -> dict[str, Any]:
    """What both stacks go through: price a heartbeat, the steady load, the curve, the burst."""
    drops0 = stack.probe.stats.drops + ctx.totals(stack.holders)["drops"]
    out: dict[str, Any] = {"sockets": stack.sockets, "open_rate": stack.connect_rate()}
    out["quiet"] = await quiet_window(ctx, stack)
    out["steady"] = await steady(ctx, stack, out["quiet"])
    out["curve"] = await phase(
        ctx, f"{stack.name} curve", curve(ctx, stack), {"points": [], "knee": 0}
    )
    await asyncio.sleep(ctx.scale.settle)
    out["burst"] = await phase(ctx, f"{stack.name} burst", burst(ctx, stack), None)
    out["drops"] = stack.probe.stats.drops + ctx.totals(stack.holders)["drops"] - drops0
    return out


async def run_all(ctx: Ctx) -> None:
    scale, r = ctx.scale, ctx.results
    ctx.pg.recreate()
    say(
        f"database {ctx.pg.shown()} (role limited to {ctx.pg.limit} connections, "
        f"{ctx.pg.pool_size()} per Django process): dropped, created; migrate"
    )
    env = ctx.django_env()
    await ctx.run_child("migrate", [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], env)
    # Django processes start now (they only need the schema) and idle until their phase:
    # A takes presses and heartbeats, B holds the managers' sockets, C takes the presses while
    # A and B are cut, M is the fresh process whose memory per socket is measured.
    a, b, c, m = (ctx.uvicorn(f"django-{name}") for name in "ABCM")
    say(
        f"synthetic district: {scale.communities} communities, {scale.devices} pressing devices, "
        f"{scale.heartbeat_devices} beating"
    )
    world = ctx.workdir / "world.json"
    argv = [PYTHON, "-m", "bench.prepare", "world", "--communities", str(scale.communities)]
    argv += ["--sockets", str(scale.sockets), "--devices", str(scale.devices)]
    argv += ["--heartbeat-devices", str(scale.heartbeat_devices)]
    argv += ["--password", PASSWORD, "--out", str(world)]
    await ctx.run_child("prepare-world", argv, env)
    ctx.world = json.loads(world.read_text())
    w = ctx.world
    say(
        f"district loaded in {w['load_seconds']} s: {w['counts']['residents']:,} residents, "
        f"{len(w['managers'])} grid managers, {len(w['watchers'])} supervisors/admins, "
        f"{len(w['idle'])} idle staff; N={len(w['managers']) + len(w['watchers']) + len(w['idle'])}"
    )
    t = time.monotonic()
    await asyncio.to_thread(ctx.pg.quiesce)
    say(f"VACUUM ANALYZE + CHECKPOINT after the load: {time.monotonic() - t:.1f} s")
    extras = asyncio.ensure_future(run_extras(ctx)) if scale.small else None

    floor_stack = await open_floor(ctx)
    floor = await measure(ctx, floor_stack)
    await close(ctx, floor_stack)
    if ctx.floor_only:
        report.floor_rows(r, floor)
        report.host_rows(r)
        return

    dispatcher = ctx.procs.dispatcher("dispatcher", redis_url=ctx.redis_url, wait=False)
    stack = await open_django(ctx, a, b, dispatcher)
    django = await measure(ctx, stack)
    report.latency_rows(r, scale, django, floor)
    report.dc09_rows(r, await dc09(ctx, stack, django["steady"]), django["steady"])
    report.curve_rows(r, django["curve"], floor["curve"])
    if django["burst"] is not None and floor["burst"] is not None:
        report.burst_rows(r, django["burst"], floor["burst"])
    if (cut := await phase(ctx, "reconnect", reconnect(ctx, stack, c), None)) is not None:
        report.reconnect_rows(r, cut)
    if (late := await phase(ctx, "escalation", escalation(ctx, stack), None)) is not None:
        report.escalation_rows(r, late)
    r.add("probe_socket_drops_total", stack.probe.stats.drops, "drops", None)
    await close(ctx, stack, servers=False)
    rss = await memory(ctx, m, c.url)
    r.add("rss_per_idle_socket", rss["django"], "KiB", rss["floor"])
    for proc in (dispatcher, a, b, c):
        ctx.procs.stop(proc)
    if extras is not None:
        await extras
    else:  # one at a time at full scale, so that they do not disturb each other's figures
        await run_extras(ctx)
    report.host_rows(r)


async def phase(ctx: Ctx, name: str, work: Awaitable[T], failed: T) -> T:
    """One phase's figures; a phase that breaks is noted (and fails the run at the end) while
    the phases after it still run, so one broken phase does not cost the whole run."""
    try:
        return await work
    except Exception as exc:
        import traceback

        traceback.print_exc()
        say(f"{name} failed: {type(exc).__name__}: {str(exc)[:300]}")
        ctx.results.note(f"{name} failed: {type(exc).__name__}: {str(exc)[:300]}")
        ctx.failed.append(name)
        return failed


def available_extras() -> list[str]:
    here = Path(__file__).resolve().parent
    return [m for m in EXTRA if (here / f"{m.rsplit('.', 1)[1]}.py").exists()]


async def run_extras(ctx: Ctx) -> None:
    """The other modules of bench/ (each picks its own database; see bench/extra.py)."""
    env = dict(os.environ)
    env.update({"REDIS_URL": ctx.redis_url, "CHANNEL_PREFIX": "gridline-bench", "DEBUG": "0"})
    env.setdefault("DATABASE_URL", "postgis://postgres@127.0.0.1:5432/gridline")
    for module in available_extras() if ctx.extras else []:
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


def run_only(name: str, *, small: bool) -> None:
    """One module that exposes run(small), in this process, on the DATABASE_URL given."""
    import importlib

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    import django

    django.setup()
    rows = importlib.import_module(f"bench.{name}").run(small=small)
    say(f"{'name':<30} {'value':>10} {'unit':<8} {'baseline':>10} {'ratio':>8}")
    for key, r in rows.items():
        baseline = "" if r["baseline"] is None else r["baseline"]
        ratio = "" if r["ratio"] is None else r["ratio"]
        say(f"{key:<30} {r['value']:>10} {r['unit']:<8} {baseline:>10} {ratio:>8}")


def clean_up(procs: Processes, pg: Pg, workdir: Path, *, keep: bool) -> None:
    """After a run (also one that failed): stop every child, then drop the run's database
    and work dir unless asked to keep them."""
    procs.close(grace=10)
    if keep:
        say(f"kept database {pg.url()} and {workdir}")
        return
    try:
        pg.drop()
    except Exception as exc:
        say(f"could not drop the bench database: {exc}")
    shutil.rmtree(workdir, ignore_errors=True)


def print_results(results: Results) -> None:
    print()
    print(results.table())
    for note in results.notes:
        print(f"note: {note}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--small", action="store_true", help="tiny scale, about a minute")
    parser.add_argument("--sockets", type=int, help="N connected sockets (full 5000, small 50)")
    parser.add_argument("--duration", type=float, help="seconds of the steady measurement")
    parser.add_argument("--communities", type=int, help="communities to load (full 18, small 1)")
    parser.add_argument("--rate", type=float, help="steady presses per second (default 20)")
    parser.add_argument("--no-extras", action="store_true", help="skip visits and photos")
    parser.add_argument("--floor-only", action="store_true", help="only the floor (to check it)")
    parser.add_argument("--keep", action="store_true", help="keep the database and the work dir")
    parser.add_argument("--profile", metavar="DIR", help="py-spy A, B and the dispatcher to DIR")
    parser.add_argument(
        "--only", metavar="MODULE", help="run one module of bench/ alone (e.g. assessment)"
    )
    args = parser.parse_args()
    if args.only:
        run_only(args.only, small=args.small or os.environ.get("BENCH_SMALL") == "1")
        return
    scale = SMALL if args.small or os.environ.get("BENCH_SMALL") == "1" else FULL
    if args.sockets:
        memory_sockets = min(scale.memory_sockets, args.sockets // 2)
        scale = replace(scale, sockets=args.sockets, memory_sockets=memory_sockets)
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
    pg = Pg.from_env()
    results = Results()

    def on_term(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    failed = False
    failures: list[str] = []
    started = time.monotonic()
    with Processes(workdir) as procs:
        try:
            redis = procs.redis()
            say(f"private redis-server at {redis.url}; work dir {workdir}")
            profile = Path(args.profile).resolve() if args.profile else None
            ctx = Ctx(scale, procs, pg, redis.url, workdir, results, profile)
            ctx.extras = not (args.no_extras or args.floor_only)
            ctx.floor_only = args.floor_only
            procs.django_env = ctx.django_env
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
            print(procs.report(15))
        finally:
            clean_up(procs, pg, workdir, keep=args.keep)
    if results.rows:
        print_results(results)
        results.write()
        took = time.monotonic() - started
        print(f"\nwrote {RESULTS} ({'small' if scale.small else 'full'} scale, {took:.0f} s)")
    sys.exit(1 if failed or failures else 0)
