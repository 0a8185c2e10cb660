"""The burst: Scale.burst presses from as many devices within Scale.burst_window s (open loop).

Each device waits at most ANSWER_S for an answer; a 503 with Retry-After (or no answer) makes it
retry with the same client_alert_id, as the README tells device makers. Figures: the answers
(201 / 503 / other / unanswered, over every attempt), how many presses were committed (alerts in
the database since the burst began) and how many of them more than once (alerts per device,
each device pressing once), how many reached their tier-1 socket within DELIVER_S of the first
press, and the latency from a press's first attempt to its frame.
"""

from __future__ import annotations

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
    in_time = 0
    for s in sent:
        frames = stack.probe.raised.get((s.manager_id, s.alert_id or -1))
        if frames and frames[0][0] - start <= DELIVER_S:
            in_time += 1
    out["delivered_in_time"] = in_time
    out["committed"], out["duplicates"] = committed(ctx, stack, devices, started_wall - 0.05)
    say(
        f"{stack.name}: burst answers {out['statuses']} ({out['retried']} presses retried), "
        f"slowest answer {out['answer_max_s']:.1f} s, last at {out['last_answer_s']:.1f} s; "
        f"committed {out['committed']}, duplicates {out['duplicates']}; delivered "
        f"{out['delivered']} ({in_time} within {DELIVER_S:g} s), {out['duplicated']} duplicate "
        f"frames; p50 {out['p50']:.1f} ms p99 {out['p99']:.1f} ms"
    )
    return out


def committed(
    ctx: Ctx, stack: Stack, devices: list[dict[str, Any]], since: float
) -> tuple[int, int]:
    """(distinct presses committed, extra alerts beyond one per press) since `since`."""
    with ctx.pg.connect() as conn:
        if stack.name == "floor":
            row = conn.execute(
                "SELECT count(DISTINCT payload->>'client_alert_id'), count(*) "
                "FROM bench_floor_alert WHERE payload->>'device_id' = ANY(%s) "
                "AND created_at >= to_timestamp(%s)",
                ([d["device_id"] for d in devices], since),
            ).fetchone()
        else:
            row = conn.execute(
                "SELECT count(DISTINCT device_id), count(*) FROM alerts_alert "
                "WHERE device_id = ANY(%s) AND created_at >= to_timestamp(%s)",
                ([d["pk"] for d in devices], since),
            ).fetchone()
    distinct, total = (int(row[0]), int(row[1])) if row else (0, 0)
    return distinct, total - distinct
