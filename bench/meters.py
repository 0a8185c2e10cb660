"""What the benchmarks read besides latencies: CPU and RSS of a process, the host's CPU split
into ours / PostgreSQL / everything else, PostgreSQL's connections and lock waits, and how late
the runner's own event loop wakes up (a stalled measuring client would look like a slow server).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .pg import Pg

# Above this many cores of other people's work, a run is not one to quote.
BUSY_CORES = 0.2
# (phase, host CPU split) of every Watch that ended, in order: the run's summary reads it.
WATCHED: list[tuple[str, dict[str, float]]] = []


def raise_fd_limit() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit (children inherit it); returns (soft, hard)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (not its children)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_times() -> dict[int, tuple[str, int, int]]:
    """pid -> (comm, ppid, utime + stime ticks) for every process we can read."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw.rsplit(")", 1)[1].split()
        out[int(entry)] = (comm, int(fields[1]), int(fields[11]) + int(fields[12]))
    return out


def _host_busy_ticks() -> int:
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    return sum(cpu) - cpu[3] - cpu[4]  # all but idle and iowait


@dataclass
class CpuSampler:
    """CPU used during a window, in cores: the bench's process tree, PostgreSQL (every
    database: other people's tests too), the rest ("other"), and the host total from /proc/stat.
    Sampled each second, so processes living less than a second are only in the host total;
    "other" is therefore host - bench - postgres, which counts them too."""

    first: dict[int, tuple[str, int, int]] = field(default_factory=dict)
    last: dict[int, tuple[str, int, int]] = field(default_factory=dict)
    started: float = 0.0
    host0: int = 0

    def start(self) -> None:
        self.first = _proc_times()
        self.last = dict(self.first)
        self.started = time.monotonic()
        self.host0 = _host_busy_ticks()

    def sample(self) -> None:
        for pid, value in _proc_times().items():
            self.first.setdefault(pid, value)
            self.last[pid] = value

    def result(self) -> dict[str, float]:
        self.sample()
        seconds = max(1e-6, time.monotonic() - self.started)
        tick = os.sysconf("SC_CLK_TCK")
        mine = {os.getpid()}
        changed = True
        while changed:  # the bench's descendants
            changed = False
            for pid, (_, ppid, _) in self.last.items():
                if ppid in mine and pid not in mine:
                    mine.add(pid)
                    changed = True
        bench = postgres = 0
        for pid, (comm, _, ticks) in self.last.items():
            used = ticks - self.first[pid][2]
            if pid in mine:
                bench += used
            elif comm.startswith("postgres"):
                postgres += used
        host = _host_busy_ticks() - self.host0
        cores = {"bench": bench, "postgres": postgres, "host": host}
        result = {k: v / tick / seconds for k, v in cores.items()}
        result["other"] = max(0.0, result["host"] - result["bench"] - result["postgres"])
        return result


@dataclass
class DbSampler:
    """PostgreSQL seen from pg_stat_activity every 0.25 s: connections of the bench database,
    how many wait on a heavyweight lock (wait_event_type 'Lock': rows, transactions), which
    statements wait (first 70 characters), and the other wait events seen."""

    samples: int = 0
    connections_max: int = 0
    waiting_sum: int = 0
    waiting_max: int = 0
    waiting_queries: Counter[str] = field(default_factory=Counter)
    wait_events: Counter[str] = field(default_factory=Counter)

    async def run(self, pg: Pg) -> None:
        conn = await asyncio.to_thread(pg.connect, autocommit=True)
        try:
            while True:
                rows = await asyncio.to_thread(
                    lambda: conn.execute(
                        "SELECT state, wait_event_type, wait_event, left(query, 70) "
                        "FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()"
                    ).fetchall()
                )
                waiting = [q for _, kind, _, q in rows if kind == "Lock"]
                self.samples += 1
                self.connections_max = max(self.connections_max, len(rows))
                self.waiting_sum += len(waiting)
                self.waiting_max = max(self.waiting_max, len(waiting))
                self.waiting_queries.update(" ".join(q.split()) for q in waiting)
                self.wait_events.update(
                    f"{kind}:{event}"
                    for state, kind, event, _ in rows
                    if kind and state == "active" and kind not in ("Client", "Activity")
                )
                await asyncio.sleep(0.25)
        finally:
            conn.close()

    def summary(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "connections_max": self.connections_max,
            "lock_waits": self.waiting_sum,
            "lock_waiters_max": self.waiting_max,
            "waiting_on": self.waiting_queries.most_common(3),
            "wait_events": self.wait_events.most_common(4),
        }


@dataclass
class LoopLag:
    """How late this process's event loop wakes from a 10 ms sleep: if the measuring client
    stalls, its latencies are its own, not the server's."""

    max_ms: float = 0.0
    over_50ms: int = 0

    async def run(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            late = (time.perf_counter() - t - 0.01) * 1000
            self.max_ms = max(self.max_ms, late)
            self.over_50ms += late > 50


class Watch:
    """`async with Watch(name) as w:` a phase's host CPU (every second) and the runner's own
    loop lag; on exit it prints them, loudly when other people's work used more than
    BUSY_CORES, and keeps them in `w.host` and `w.lag`."""

    def __init__(self, name: str, say: Any) -> None:
        self.name, self.say = name, say
        self.sampler, self.lag = CpuSampler(), LoopLag()
        self.host: dict[str, float] = {}
        self.tasks: list[asyncio.Task[None]] = []

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1)
            await asyncio.to_thread(self.sampler.sample)

    async def __aenter__(self) -> Watch:
        self.sampler.start()
        self.tasks = [asyncio.create_task(self._tick()), asyncio.create_task(self.lag.run())]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.host = self.sampler.result()
        WATCHED.append((self.name, self.host))
        shown = " ".join(f"{k} {v:.2f}" for k, v in self.host.items())
        self.say(
            f"{self.name}: host CPU cores: {shown}; runner loop lag max {self.lag.max_ms:.0f} ms"
        )
        if self.host["other"] > BUSY_CORES:
            self.say(
                f"WARNING {self.name}: the host was busy (other CPU {self.host['other']:.2f} "
                f"cores > {BUSY_CORES}): do not quote these figures"
            )
