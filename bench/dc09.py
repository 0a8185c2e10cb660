"""DC-09 event -> tier-1 socket, beside the HTTP press of the same run (bench/latency.py's
steady phase): the same rate and duration, the same background heartbeats and sockets, one
`manage.py alarm_receiver` process. Each pressing device of the world also has a DC-09
account (bench/prepare.py); every event is an encrypted panic (PA) over UDP from a distinct
device, sent open loop. Latency = datagram sent -> alert.raised on the tier-1 manager's socket
(the ACK comes after the commit, so it is inside that time); the receiver's CPU per event is
its process CPU over the phase divided by the events ACKed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from alarm_receiver.sender import frame

from .burst import committed
from .common import pct, say
from .meters import Watch, cpu_seconds
from .prepare import DC09_KEY
from .stacks import Ctx, Stack


class _Answers(asyncio.DatagramProtocol):
    def __init__(self, expected: int) -> None:
        self.acks = 0
        self.other: list[bytes] = []
        self.expected = expected
        self.all_in = asyncio.Event()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if b'"*ACK"' in data:
            self.acks += 1
        else:
            self.other.append(data)
        if self.acks + len(self.other) >= self.expected:
            self.all_in.set()


async def dc09(ctx: Ctx, stack: Stack, http: dict[str, Any]) -> dict[str, Any]:
    scale = ctx.scale
    n = int(scale.rate * scale.duration)
    devices = ctx.world["devices"][:n]
    receiver = ctx.procs.alarm_receiver("alarm-rx", redis_url=ctx.redis_url, wait=False)
    await asyncio.to_thread(receiver.wait_ready)
    await asyncio.to_thread(ctx.pg.end_open_alerts)
    loop = asyncio.get_running_loop()
    transport, answers = await loop.create_datagram_endpoint(
        lambda: _Answers(len(devices)), remote_addr=("127.0.0.1", receiver.udp_port)
    )
    say(f"dc09: {len(devices)} encrypted panics over UDP at {scale.rate:g}/s")
    sent_at: dict[str, float] = {}
    cpu0, started_wall = cpu_seconds(receiver.pid), time.time()
    async with Watch("dc09", say) as watch:
        start = time.perf_counter()
        for i, device in enumerate(devices):
            delay = start + i / scale.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            message = frame(device["account"], "PA", seq=i % 9999 + 1, key=DC09_KEY)
            sent_at[str(device["pk"])] = time.perf_counter()
            transport.sendto(message)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(answers.all_in.wait(), timeout=30)
    cpu1 = cpu_seconds(receiver.pid)
    transport.close()
    managers = {str(d["pk"]): d for d in devices}
    alerts = committed(ctx, stack, devices, started_wall - 0.05)
    deadline = time.perf_counter() + 30
    latencies: list[float] = []
    while time.perf_counter() < deadline:
        latencies = [
            (frames[0][0] - sent_at[device]) * 1000
            for alert_id, device in alerts
            if (frames := stack.probe.raised.get((managers[device]["manager_id"], alert_id)))
        ]
        if len(latencies) >= len(alerts):
            break
        await asyncio.sleep(0.1)
    ctx.procs.stop(receiver)
    out = {
        "sent": len(devices),
        "acked": answers.acks,
        "not_acked": len(devices) - answers.acks,
        "committed": len(alerts),
        "delivered": len(latencies),
        "p50": pct(latencies, 50),
        "p99": pct(latencies, 99),
        "receiver_cpu_ms_per_event": (cpu1 - cpu0) * 1000 / max(1, answers.acks),
        "host": watch.host,
    }
    say(
        f"dc09: {out['acked']}/{out['sent']} ACKed, {out['committed']} alerts, "
        f"{out['delivered']} on the tier-1 socket; p50 {out['p50']:.1f} ms p99 "
        f"{out['p99']:.1f} ms (HTTP press in this run: p50 {http['p50']:.1f} p99 "
        f"{http['p99']:.1f}); receiver CPU {out['receiver_cpu_ms_per_event']:.2f} ms/event"
    )
    return out
