"""Mass reconnect (gridline only): every socket cut at once, events raised meanwhile.

A and B, which hold all N sockets, are killed (SIGKILL: every socket drops at the same moment)
and started again on the same ports. While they are down, Scale.reconnect_presses presses go to
a third process (the one that stays up) at Scale.rate per second. Every phone reconnects as a
phone does: the same log-in (its access token), a new ticket, `last_event_id`, replay; pauses
between failed tries are jittered and grow (bench/clients.py). Figures: seconds from the cut
until every socket is open again, and how many of the probe's phones (the ones events are
addressed to) miss any event stored for them since shortly before the cut (must be 0).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

from harness.processes import Server, port_open

from .common import say
from .latency import profile
from .load import client_for, collect, drive
from .meters import Watch
from .stacks import Ctx, Stack

BACK_WITHIN_S = 30.0
GIVE_UP_S = 90.0


def open_sockets(ctx: Ctx, stack: Stack) -> int:
    return stack.probe.stats.open + ctx.totals(stack.holders)["open"]


async def reconnect(ctx: Ctx, stack: Stack, spare: Server) -> dict[str, Any]:
    a, b = stack.receivers["A"], stack.others["B"]
    assert isinstance(a, Server) and isinstance(b, Server)
    await ctx.ready(spare)
    before = open_sockets(ctx, stack)
    say(f"reconnect: cutting {before} sockets (kill -9 of A and B), presses go to {spare.name}")
    during = replace(stack, press_url=f"{spare.url}/api/v1/device/alerts")
    await asyncio.to_thread(ctx.pg.end_open_alerts)
    async with Watch("reconnect", say):
        cut_wall, cut = time.time(), time.perf_counter()
        # in threads: reaping a process that held thousands of sockets takes a while
        await asyncio.gather(asyncio.to_thread(a.kill), asyncio.to_thread(b.kill))
        killed = time.perf_counter() - cut
        async with client_for(during, 100) as http:
            pressing = asyncio.create_task(
                drive(
                    http, during, ctx.world["devices"], ctx.scale.reconnect_presses, ctx.scale.rate
                )
            )
            a.start()
            b.start()
            started = time.perf_counter()
            spies = profile(ctx, {"A-reconnect": a, "B-reconnect": b}, BACK_WITHIN_S)
            # The start alone (imports, app ready(), lifespan): uvicorn binds its port only
            # after the lifespan's startup. An HTTP answer (`ready`) also waits behind every
            # phone's ticket and handshake that reached the server first.
            listening = await asyncio.to_thread(_listening, a, b)
            await ctx.ready(a, b)
            restarted = time.perf_counter() - cut
            back, shown = None, time.perf_counter()
            while time.perf_counter() - cut < GIVE_UP_S:
                if open_sockets(ctx, stack) >= before:
                    back = time.perf_counter() - cut
                    break
                if time.perf_counter() - shown > 10:
                    shown = time.perf_counter()
                    say(f"reconnect: {before} to reopen; {progress(ctx, stack)}")
                await asyncio.sleep(0.1)
            sent = await pressing
        frames = await collect(stack.probe, sent, timeout=30)
        for spy in spies:
            await asyncio.to_thread(spy.wait)
    await asyncio.sleep(1.0)  # replays and late frames
    missing, missing_events = missing_phones(ctx, stack, cut_wall - 2.0)
    out = {
        "sockets": before,
        "killed_s": killed,
        "start_s": None if listening is None else listening - started,
        "restarted_s": restarted,
        "back_s": back,
        "open_after": open_sockets(ctx, stack),
        "presses": frames,
        "phones_missing": missing,
        "events_missing": missing_events,
        "resyncs": stack.probe.resyncs,
    }
    say(
        f"reconnect: killed after {killed:.1f} s; listening "
        f"{'never' if listening is None else f'{listening - started:.1f} s'} after the start; "
        f"answering after {restarted:.1f} s from the cut; all {before} sockets back after "
        f"{'never' if back is None else f'{back:.1f} s'}; presses during the cut "
        f"{frames['statuses']}, {frames['delivered']}/{frames['accepted']} delivered; "
        f"phones missing an event {missing} ({missing_events} events); "
        f"resync_required {stack.probe.resyncs}"
    )
    return out


def _listening(*servers: Server, timeout: float = GIVE_UP_S) -> float | None:
    """perf_counter() when every server's port first accepts a connection (None: never)."""
    deadline = time.perf_counter() + timeout
    waiting = list(servers)
    while waiting and time.perf_counter() < deadline:
        waiting = [s for s in waiting if s.alive() and not port_open(s.port)]
        if waiting:
            time.sleep(0.02)
    return None if waiting else time.perf_counter()


def progress(ctx: Ctx, stack: Stack) -> str:
    stats = stack.probe.stats
    errors = dict(stats.errors.most_common(3))
    for holder in stack.holders:
        errors.update(ctx.state(holder).get("errors", {}))
    holders = {k: v for k, v in ctx.totals(stack.holders).items() if k != "started"}
    return (
        f"{open_sockets(ctx, stack)} open; probe open {stats.open}, reopen failures "
        f"{stats.reopen_failures}; holders {holders}; errors {errors}"
    )


def missing_phones(ctx: Ctx, stack: Stack, since: float) -> tuple[int, int]:
    """The probe's phones with a stored event (since `since`, and older than a second) that
    never reached them, and how many such events."""
    users = list(stack.probe.current)
    with ctx.pg.connect() as conn:
        rows = conn.execute(
            "SELECT user_id, seq FROM core_streamevent WHERE user_id = ANY(%s) "
            "AND at >= to_timestamp(%s) AND at < now() - interval '1 second'",
            (users, since),
        ).fetchall()
    missing: dict[int, int] = {}
    for user_id, seq in rows:
        if seq not in stack.probe.seen_ids[user_id]:
            missing[user_id] = missing.get(user_id, 0) + 1
    return len(missing), sum(missing.values())
