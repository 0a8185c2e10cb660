"""The burst: Scale.burst presses from as many devices within Scale.burst_window s (open loop).

Each device waits at most ANSWER_S for an answer; a 503 with Retry-After (or no answer) makes it
retry with the same client_alert_id, as the README tells device makers. Figures: the answers
(201 / 503 / other / unanswered, over every attempt), how many presses were committed (alerts in
the database since the burst began) and how many of them more than once (alerts per device,
each device pressing once), how many of the committed ones (answered or not) reached their
tier-1 socket within DELIVER_S of the first press, and the latency from a press's first
attempt to its frame (answered presses).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .common import say
from .load import client_for, collect, drive
from .meters import Watch
from .stacks import Ctx, Stack

ANSWER_S = 10.0
DELIVER_S = 30.0
RETRY_FOR_S = 60.0


async def burst(ctx: Ctx, stack: Stack) -> dict[str, Any]:
    scale = ctx.scale
    devices = ctx.world["devices"][: scale.burst]
    say(f"{stack.name}: burst of {len(devices)} presses, one per device, in {scale.burst_window} s")
    await asyncio.to_thread(ctx.pg.end_open_alerts)
    started_wall = time.time()
    async with client_for(stack, len(devices) + 10) as http, Watch(f"{stack.name} burst", say):
        start = time.perf_counter()
        sent = await drive(
            http,
            stack,
            devices,
            len(devices),
            len(devices) / scale.burst_window,
            answer_timeout=ANSWER_S,
            retry_for=RETRY_FOR_S,
        )
        out = await collect(stack.probe, sent, timeout=60)
    answers = [a.t1 - a.t0 for s in sent for a in s.attempts if a.status != "unanswered"]
    out["answer_max_s"] = max(answers, default=float("nan"))
    out["last_answer_s"] = max(s.t1 for s in sent) - start
    out["retried"] = sum(1 for s in sent if len(s.attempts) > 1)
    await asyncio.sleep(max(0.0, start + DELIVER_S - time.perf_counter()))
    alerts = committed(ctx, stack, devices, started_wall - 0.05)
    managers = {str(d["pk"] if stack.name == "django" else d["device_id"]): d for d in devices}
    in_time = set()
    for alert_id, device in alerts:  # answered or not: what was committed must reach tier 1
        frames = stack.probe.raised.get((managers[device]["manager_id"], alert_id))
        if frames and frames[0][0] - start <= DELIVER_S:
            in_time.add(device)
    out["delivered_in_time"] = len(in_time)
    out["committed"] = len({device for _, device in alerts})
    out["duplicates"] = len(alerts) - out["committed"]
    say(
        f"{stack.name}: burst answers {out['statuses']} ({out['retried']} presses retried), "
        f"slowest answer {out['answer_max_s']:.1f} s, last at {out['last_answer_s']:.1f} s; "
        f"committed {out['committed']}, duplicates {out['duplicates']}; answered and "
        f"delivered {out['delivered']}; committed and delivered within {DELIVER_S:g} s "
        f"{len(in_time)}; {out['duplicated']} duplicate frames; "
        f"p50 {out['p50']:.1f} ms p99 {out['p99']:.1f} ms"
    )
    return out


def committed(
    ctx: Ctx, stack: Stack, devices: list[dict[str, Any]], since: float
) -> list[tuple[int, str]]:
    """(alert id, device) of every alert the burst's devices raised since `since`."""
    with ctx.pg.connect() as conn:
        if stack.name == "floor":
            rows = conn.execute(
                "SELECT id, payload->>'device_id' FROM bench_floor_alert "
                "WHERE payload->>'device_id' = ANY(%s) AND created_at >= to_timestamp(%s)",
                ([d["device_id"] for d in devices], since),
            ).fetchall()
        else:
            rows = conn.execute(
                "SELECT id, device_id::text FROM alerts_alert "
                "WHERE device_id = ANY(%s) AND created_at >= to_timestamp(%s)",
                ([d["pk"] for d in devices], since),
            ).fetchall()
    return [(int(alert_id), str(device)) for alert_id, device in rows]
