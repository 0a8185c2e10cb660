"""Presses sent open loop (one starts every 1/rate s whatever the earlier ones are doing), as a
device sends them (honouring 503 + Retry-After with the same client_alert_id), and their frames
matched on the probe's sockets."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .common import pct
from .rawhttp import Client
from .stacks import Probe, Stack


@dataclass
class Attempt:
    t0: float
    t1: float
    status: int | str  # the HTTP status, or "unanswered" (no answer in time), or an error name


@dataclass
class Sent:
    """One press: its attempts (several when the server answered 503), and the alert."""

    device: dict[str, Any]
    client_alert_id: str
    t0: float = 0.0
    attempts: list[Attempt] = field(default_factory=list)
    alert_id: int | None = None

    @property
    def manager_id(self) -> int:
        return int(self.device["manager_id"])

    @property
    def t1(self) -> float:
        return self.attempts[-1].t1 if self.attempts else self.t0


def client_for(stack: Stack, connections: int) -> Client:
    """A client for the stack's press URL (one connection per press in flight, kept alive)."""
    return Client(stack.press_url, connections)


async def press(
    http: Client,
    stack: Stack,
    sent: Sent,
    answer_timeout: float,
    retry_for: float,
) -> None:
    """Send one press like a device: a 503 is retried after its Retry-After, no answer within
    `answer_timeout` s after 1-3 s, with the same client_alert_id (newly signed), for up to
    `retry_for` s after the first try."""
    sent.t0 = time.perf_counter()
    path = urlsplit(stack.press_url).path
    while True:
        body, headers = stack.make_press(sent.device, sent.client_alert_id)
        t0 = time.perf_counter()
        retry_after: float | None = None
        try:
            r = await http.post(path, body, headers, timeout=answer_timeout)
            status: int | str = r.status_code
            if r.status_code in (200, 201):
                sent.alert_id = int(r.json()["alert_id"])
            elif r.status_code == 503:
                retry_after = float(r.headers.get("Retry-After") or 1)
        except TimeoutError:  # a device that hears nothing tries again soon
            status, retry_after = "unanswered", random.uniform(1.0, 3.0)
        except Exception as exc:
            status = type(exc).__name__
        sent.attempts.append(Attempt(t0, time.perf_counter(), status))
        if retry_after is None or time.perf_counter() - sent.t0 > retry_for:
            return
        await asyncio.sleep(retry_after)


async def drive(
    http: Client,
    stack: Stack,
    devices: list[dict[str, Any]],
    n: int,
    rate: float,
    answer_timeout: float = 60.0,
    retry_for: float = 0.0,
) -> list[Sent]:
    """Press n times at `rate` per second, device i % len(devices) for press i (each device
    once per call when n <= len(devices): a resident's second press would join the first's
    alert; the callers end the open alerts before each call)."""
    if n > len(devices):
        print(f"bench: warning: {n} presses from {len(devices)} devices: repeats join alerts")
    sent = [Sent(devices[i % len(devices)], str(uuid.uuid4())) for i in range(n)]
    start = time.perf_counter()
    tasks = []
    for i, one in enumerate(sent):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(press(http, stack, one, answer_timeout, retry_for)))
    await asyncio.gather(*tasks)
    return sent


async def collect(probe: Probe, sent: list[Sent], timeout: float) -> dict[str, Any]:
    """Wait up to `timeout` s for the tier-1 frame of every accepted press, then sum up."""
    ok = [s for s in sent if s.alert_id is not None]
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if all((s.manager_id, s.alert_id) in probe.raised for s in ok):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # let late duplicates show
    latencies, lost, duplicated, slowest = [], 0, 0, []
    for s in ok:
        assert s.alert_id is not None
        frames = probe.raised.get((s.manager_id, s.alert_id))
        if not frames:
            lost += 1
            continue
        ms = (frames[0][0] - s.t0) * 1000
        latencies.append(ms)
        duplicated += len(frames) - 1
        slowest.append((ms, (s.t1 - s.t0) * 1000, s.t0))
    statuses: Counter[str] = Counter(str(a.status) for s in sent for a in s.attempts)
    slowest.sort(reverse=True)
    start = min((s.t0 for s in sent), default=0.0)
    return {
        "sent": len(sent),
        "accepted": len(ok),
        "statuses": dict(statuses),
        "delivered": len(latencies),
        "lost": lost,
        "duplicated": duplicated,
        "latencies": latencies,
        "response_ms": [(s.t1 - s.t0) * 1000 for s in ok],
        "p50": pct(latencies, 50),
        "p99": pct(latencies, 99),
        "max": max(latencies) if latencies else float("nan"),
        "alert_ids": [s.alert_id for s in ok],
        # (latency ms, answer ms, seconds into the window) of the five slowest presses
        "slowest": [(round(a), round(b), round(t - start, 1)) for a, b, t in slowest[:5]],
    }
