"""What every phase of `python -m bench` shares: the scale, the results table, printing and
percentiles."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results.json"
PASSWORD = "bench-pass-2718"  # noqa: S105 - synthetic staff of the throw-away bench database


@dataclass(frozen=True)
class Scale:
    small: bool
    communities: int
    sockets: int  # N: every connected socket, the probe's included
    devices: int  # devices that press
    rate: float  # presses per second of the steady phase
    warmup: float  # seconds of load after every socket is open, before measuring
    duration: float  # seconds of the steady phase
    curve: tuple[float, ...]  # press rates of the capacity curve
    curve_duration: float  # seconds per rate
    heartbeat_devices: int  # buttons that report ...
    heartbeat_interval: float  # ... every this many seconds (the background load)
    heartbeat_window: float  # seconds of heartbeats alone, to price one heartbeat
    burst: int
    burst_window: float
    reconnect_presses: int  # presses while every socket is cut
    timers_pending: int
    timers_due: int
    timer_rate: float
    memory_sockets: int
    settle: float  # seconds to let RSS and PostgreSQL's statistics settle
    lead: float  # seconds between scheduling timers and the first one coming due
    concurrency: int  # socket opens in flight per holder process
    per_holder: int  # idle sockets per holder process

    @property
    def heartbeat_rate(self) -> float:
        return self.heartbeat_devices / self.heartbeat_interval


FULL = Scale(
    small=False,
    communities=18,
    sockets=5000,
    devices=1500,  # no phase presses one twice (steady 20/s x 60 s, curve 80/s x 15 s)
    rate=20.0,
    warmup=10.0,
    duration=60.0,
    curve=(5.0, 10.0, 20.0, 40.0, 80.0),
    curve_duration=15.0,
    heartbeat_devices=10_000,
    heartbeat_interval=100.0,
    heartbeat_window=10.0,
    burst=1000,
    burst_window=10.0,
    reconnect_presses=40,
    timers_pending=10_000,
    timers_due=1000,
    timer_rate=20.0,
    memory_sockets=2500,
    settle=3.0,
    lead=3.0,
    concurrency=8,
    per_holder=1250,
)
SMALL = replace(
    FULL,
    small=True,
    communities=1,
    sockets=50,
    devices=150,
    warmup=1.0,
    duration=3.0,
    curve=(5.0, 20.0, 80.0),
    curve_duration=1.5,
    heartbeat_devices=200,
    heartbeat_interval=10.0,
    heartbeat_window=2.0,
    burst=30,
    burst_window=1.5,
    reconnect_presses=5,
    timers_pending=300,
    timers_due=20,
    memory_sockets=20,
    settle=0.3,
    lead=1.5,
    per_holder=10,
)


@dataclass
class Results:
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def merge(self, rows: dict[str, dict[str, Any]]) -> None:
        for name, row in rows.items():
            self.add(name, row.get("value"), str(row.get("unit", "")), row.get("baseline"))

    def add(self, name: str, value: float | None, unit: str, baseline: float | None) -> None:
        value, baseline = _clean(value), _clean(baseline)
        ratio = round(value / baseline, 3) if value is not None and baseline else None
        self.rows[name] = {"value": value, "unit": unit, "baseline": baseline, "ratio": ratio}

    def note(self, text: str) -> None:
        self.notes.append(text)
        say(f"note: {text}")

    def table(self) -> str:
        head = f"{'name':<38} {'value':>11} {'unit':<10} {'baseline':>11} {'ratio':>8}"
        lines = [head, "-" * len(head)]
        for name, r in self.rows.items():
            lines.append(
                f"{name:<38} {_fmt(r['value']):>11} {r['unit']:<10} "
                f"{_fmt(r['baseline']):>11} {_fmt(r['ratio']):>8}"
            )
        return "\n".join(lines)

    def write(self) -> None:
        RESULTS.write_text(json.dumps(self.rows, indent=2) + "\n")


def _clean(v: float | None) -> float | None:
    if v is None or math.isnan(v):
        return None
    return round(float(v), 3)


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 1000 or float(v).is_integer() else f"{v:.3g}"


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo = math.floor(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data
