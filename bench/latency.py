"""Press -> tier-1 socket latency under the background heartbeats, what a press and a heartbeat
cost, and the capacity curve; run the same way on both stacks.

- quiet window: heartbeats alone for Scale.heartbeat_window s; its cost divided by the
  heartbeats answered is the price of one heartbeat (an upper bound: the upkeep of N idle
  sockets is in it).
- steady: Scale.rate presses per second for Scale.duration s. Cost per press = (cost of the
  window - price of a heartbeat x heartbeats answered meanwhile) / presses accepted.
- curve: each rate of Scale.curve for Scale.curve_duration s; the knee is the highest rate
  whose p99 <= 50 ms. Once a rate's p99 passes 1 s the stack is saturated and higher rates are
  not run (their queues would only take minutes to drain).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from typing import Any

from harness.processes import Process

from .common import pct, say
from .load import client_for, collect, drive
from .meters import DbSampler, Watch
from .stacks import Ctx, Stack, heartbeats, meter

KNEE_P99_MS = 50.0
SATURATED_P99_MS = 1000.0


def _delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {
        "seconds": after["t"] - before["t"],
        "cpu_ms": {k: (after["cpu"][k] - before["cpu"][k]) * 1000 for k in before["cpu"]},
        "db_sessions": after["sessions"] - before["sessions"],
        "db_commits": after["commits"] - before["commits"],
        "redis_commands": after["redis"] - before["redis"],
        "heartbeats": after["heartbeats"] - before["heartbeats"],
    }


def _per(delta: dict[str, Any], n: float, per_heartbeat: dict[str, Any] | None) -> dict[str, Any]:
    """`delta` per unit of n, less `per_heartbeat` times the heartbeats answered meanwhile."""
    n, beats, bg = max(1.0, n), delta["heartbeats"], per_heartbeat or {}

    def net(value: float, each: float) -> float:
        return (value - each * beats) / n

    return {
        "cpu_ms": {
            k: net(v, (bg.get("cpu_ms") or {}).get(k, 0.0)) for k, v in delta["cpu_ms"].items()
        },
        **{
            key: net(delta[key], bg.get(key, 0.0))
            for key in ("db_sessions", "db_commits", "redis_commands")
        },
    }


async def quiet_window(ctx: Ctx, stack: Stack) -> dict[str, Any]:
    """Heartbeats alone: the price of one heartbeat, the idle sockets' upkeep included."""
    before = meter(ctx, stack)
    await asyncio.sleep(ctx.scale.heartbeat_window)
    delta = _delta(before, meter(ctx, stack))
    s = delta["seconds"]
    per_heartbeat = _per(delta, delta["heartbeats"], None)
    say(
        f"{stack.name}: quiet window {s:.1f} s, {delta['heartbeats']} heartbeats; per heartbeat "
        f"{json.dumps(_rounded(per_heartbeat))}"
    )
    return {"per_heartbeat": per_heartbeat, "beats": delta["heartbeats"], "seconds": s}


async def steady(ctx: Ctx, stack: Stack, quiet: dict[str, Any]) -> dict[str, Any]:
    scale = ctx.scale
    devices = ctx.world["devices"]
    n = int(scale.rate * scale.duration)
    async with client_for(stack, 1000) as http:
        before = meter(ctx, stack)
        beats0 = heartbeats(ctx, stack)
        say(f"{stack.name}: measuring {scale.duration:.0f} s at {scale.rate:.0f} presses/s")
        spies = profile(ctx, stack.children, scale.duration) if stack.name == "django" else []
        db = DbSampler()
        async with Watch(f"{stack.name} steady", say) as watch:
            sampling = asyncio.create_task(db.run(ctx.pg))
            await asyncio.to_thread(ctx.pg.end_open_alerts)
            sent = await drive(http, stack, devices, n, scale.rate)
            sampling.cancel()
        out = await collect(stack.probe, sent, timeout=30)
        after = meter(ctx, stack)
        for spy in spies:
            await asyncio.to_thread(spy.wait)
    beats1 = heartbeats(ctx, stack)
    out["host"], out["lag_ms"], out["db"] = watch.host, watch.lag.max_ms, db.summary()
    out["per_press"] = _per(_delta(before, after), out["accepted"], quiet["per_heartbeat"])
    out["checkpoints"] = after["checkpoints"] - before["checkpoints"]
    out["checkpoint_buffers"] = after["checkpoint_buffers"] - before["checkpoint_buffers"]
    out["heartbeats"] = {
        "answered": beats1.get("answered", 0) - beats0.get("answered", 0),
        "statuses": beats1.get("statuses", {}),
        "over_100ms": beats1.get("over_100ms", 0) - beats0.get("over_100ms", 0),
    }
    p50 = out["p50"]
    say(
        f"{stack.name}: p50 {p50:.1f} ms p99 {out['p99']:.1f} ms (p99/p50 "
        f"{out['p99'] / p50 if p50 else float('nan'):.1f}) max {out['max']:.1f} ms; "
        f"{out['delivered']}/{out['sent']} delivered, answers {out['statuses']}; "
        f"answer p99 {pct(out['response_ms'], 99):.1f} ms"
    )
    say(f"{stack.name}: slowest (latency ms, answer ms, at s): {out['slowest']}")
    say(f"{stack.name}: per press {json.dumps(_rounded(out['per_press']))}")
    say(f"{stack.name}: heartbeats meanwhile {out['heartbeats']}")
    say(f"{stack.name}: PostgreSQL {json.dumps(out['db'], ensure_ascii=False)}")
    say(
        f"{stack.name}: checkpoints meanwhile (whole server) {out['checkpoints']}, "
        f"{out['checkpoint_buffers']} buffers written"
    )
    return out


async def curve(ctx: Ctx, stack: Stack) -> dict[str, Any]:
    scale = ctx.scale
    points: list[dict[str, Any]] = []
    async with client_for(stack, 1000) as http:
        for rate in scale.curve:
            n = max(1, int(rate * scale.curve_duration))
            await asyncio.to_thread(ctx.pg.end_open_alerts)
            async with Watch(f"{stack.name} curve {rate:g}/s", say) as watch:
                sent = await drive(http, stack, ctx.world["devices"], n, rate)
                out = await collect(stack.probe, sent, timeout=30)
            point = {
                "rate": rate,
                "p50": out["p50"],
                "p99": out["p99"],
                "delivered": out["delivered"],
                "sent": out["sent"],
                "statuses": out["statuses"],
                "other_cpu": watch.host["other"],
            }
            points.append(point)
            say(
                f"{stack.name} curve: {rate:g}/s p50 {out['p50']:.1f} ms p99 {out['p99']:.1f} ms "
                f"({out['delivered']}/{out['sent']} delivered, {out['statuses']})"
            )
            if not out["p99"] <= SATURATED_P99_MS:  # also NaN: nothing delivered
                say(f"{stack.name} curve: saturated at {rate:g}/s; higher rates not run")
                break
            await asyncio.sleep(scale.settle)
    within = [p["rate"] for p in points if p["p99"] <= KNEE_P99_MS]
    knee = max(within) if within else 0.0
    say(f"{stack.name} curve: knee (highest rate with p99 <= {KNEE_P99_MS:g} ms) {knee:g}/s")
    return {"points": points, "knee": knee}


def profile(ctx: Ctx, children: dict[str, Process], seconds: float) -> list[Process]:
    """py-spy (BENCH_PYSPY or on PATH) on each child for `seconds`, if --profile is set:
    on-CPU samples only (--gil); waiting shows in the PostgreSQL sampler instead."""
    if ctx.profile_dir is None:
        return []
    spy = os.environ.get("BENCH_PYSPY") or shutil.which("py-spy")
    if not spy:
        say("no py-spy (set BENCH_PYSPY=/path/to/py-spy): not profiling")
        return []
    ctx.profile_dir.mkdir(parents=True, exist_ok=True)
    started = []
    for name, child in children.items():
        out = ctx.profile_dir / f"{name}.collapsed.txt"
        argv = [spy, "record", "-p", str(child.pid), "-d", str(int(seconds)), "-r", "50"]
        argv += ["-f", "raw", "--nonblocking", "--gil", "-o", str(out)]
        started.append(ctx.procs.start(f"py-spy-{name}", argv))
    return started


def _rounded(per: dict[str, Any]) -> dict[str, Any]:
    return {
        k: ({n: round(x, 2) for n, x in v.items()} if isinstance(v, dict) else round(v, 2))
        for k, v in per.items()
    }
