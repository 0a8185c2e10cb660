"""Escalation lateness with many pending timers, against a bare SKIP LOCKED loop.

Scale.timers_pending pending timers, Scale.timers_due of them the tier-1 timers of real open
alerts coming due at Scale.timer_rate per second (bench/prepare.py escalations). Lateness =
the `escalated` step's time - due; "heard" = when the next tier's socket (on the probe) gets the
frame, counted from the escalation (and from the due time). Baseline: bench/bare_timers.py, a
bare psycopg SELECT ... FOR UPDATE SKIP LOCKED loop (poll 0.1 s) over a bare table of as many
rows with the same schedule.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from harness.processes import PYTHON

from .common import pct, say
from .latency import profile
from .meters import Watch, cpu_seconds
from .stacks import Ctx, Stack


async def escalation(ctx: Ctx, stack: Stack) -> dict[str, Any]:
    scale = ctx.scale
    dispatcher = stack.others["dispatcher"]
    say(
        f"escalation: {scale.timers_pending} pending timers, {scale.timers_due} real escalations "
        f"due at {scale.timer_rate:.0f}/s, dispatcher poll 0.1 s"
    )
    out_path = ctx.workdir / "escalations.json"
    argv = [PYTHON, "-m", "bench.prepare", "escalations"]
    argv += ["--world", str(ctx.workdir / "world.json"), "--pending", str(scale.timers_pending)]
    argv += ["--due", str(scale.timers_due), "--rate", str(scale.timer_rate)]
    argv += ["--lead", str(scale.lead), "--out", str(out_path)]
    await ctx.run_child("prepare-escalations", argv, ctx.django_env())
    data = json.loads(out_path.read_text())
    due = {int(k): float(v) for k, v in data["due"].items()}
    say(f"escalation: {data['pending']} pending; first due in {data['start'] - time.time():.1f} s")
    if data["deadlocks"]:
        ctx.results.note(
            f"raising the escalation phase's alerts deadlocked {data['deadlocks']} times with "
            "the servers' work (retried)"
        )
    cpu0 = cpu_seconds(dispatcher.pid)
    last_due = max(due.values())
    profile(ctx, {"dispatcher-escalation": dispatcher}, last_due - time.time() + 5)
    fired: dict[int, float] = {}
    async with Watch("escalation", say) as watch:
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
    cpu1 = cpu_seconds(dispatcher.pid)
    lateness = [(fired[a] - due[a]) * 1000 for a in fired]
    after_due, after_fired = [], []
    for a in due:
        frames = [f for f in stack.probe.by_alert.get(a, []) if (f[2] or 0) >= 2]
        if frames:
            heard = min(f[1] for f in frames)
            after_due.append((heard - due[a]) * 1000)
            if a in fired:
                after_fired.append((heard - fired[a]) * 1000)
    out = {
        "due": len(due),
        "pending": data["pending"],
        "fired": len(fired),
        "lateness": lateness,
        "heard": len(after_due),
        "heard_after_due": after_due,
        "heard_after_escalation": after_fired,
        "cpu_each_ms": (cpu1 - cpu0) * 1000 / max(1, len(fired)),
        "host": watch.host,
    }
    say(
        f"escalation: fired {len(fired)}/{len(due)}; lateness p50 {pct(lateness, 50):.1f} ms "
        f"p99 {pct(lateness, 99):.1f} ms; next tier heard {len(after_due)}, after the "
        f"escalation p50 {pct(after_fired, 50):.1f} p99 {pct(after_fired, 99):.1f} ms; "
        f"dispatcher {out['cpu_each_ms']:.1f} ms CPU each"
    )
    out["bare"] = await bare_timers(ctx)
    return out


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
    loop = ctx.procs.start("bare-timers", argv)
    async with Watch("bare timers", say):
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
    say(
        f"bare timers: {len(lateness)} fired; p50 {pct(lateness, 50):.1f} ms "
        f"p99 {pct(lateness, 99):.1f} ms"
    )
    return lateness
