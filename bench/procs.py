"""Child processes and private services for the benchmarks, and their cleanup.

Every child runs in its own session (so one signal reaches it and its children) with
PR_SET_PDEATHSIG, so it dies with us even if we are killed with SIGKILL. `Procs.stop_all()`
is called from a `finally` in `bench.run.main`, which also covers Ctrl-C and failures.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BENCH_DB = "gridline_bench"  # never the developers' `gridline` nor a test database
BENCH_ROLE = "gridline_bench"  # a login role of its own with a connection limit
# The server may be shared (other people's test runs): whatever the benchmarks do, they can
# hold at most this many connections (PostgreSQL's default max_connections is 100).
BENCH_CONNECTIONS = 60

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


@dataclass
class Child:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Procs:
    workdir: Path
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        log = self.workdir / f"{name}.log"
        out = open(log, "ab")  # noqa: SIM115 - the child owns it
        popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # prctl only: safe between fork and exec
        )
        out.close()
        child = Child(name, popen, log)
        self.children.append(child)
        return child

    def stop(self, child: Child, timeout: float = 10.0) -> None:
        if child.alive():
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(child.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    child.popen.wait(timeout=timeout)
                    break
                except subprocess.TimeoutExpired:
                    continue
        else:
            child.popen.poll()
        if child in self.children:
            self.children.remove(child)

    def stop_all(self) -> None:
        for child in reversed(list(self.children)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in reversed(list(self.children)):
            try:
                child.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.popen.wait()
        self.children.clear()


def wait_tcp(port: int, child: Child | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            raise RuntimeError(f"{child.name} exited early:\n{child.tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on port {port} after {timeout} s")


# -- PostgreSQL: the benchmark database ------------------------------------------------------


@dataclass(frozen=True)
class Pg:
    """`user` (from DATABASE_URL, a superuser) only creates and drops the role, the database
    and the postgis extension; everything else runs as BENCH_ROLE."""

    host: str
    port: int
    user: str
    password: str
    role_password: str = field(default_factory=lambda: secrets.token_hex(16))

    @classmethod
    def from_env(cls) -> Pg:
        url = os.environ.get("DATABASE_URL", "postgis://postgres@127.0.0.1:5432/gridline")
        parts = urlsplit(url)
        if parts.scheme not in ("postgis", "postgres", "postgresql"):
            raise SystemExit(f"bench needs PostGIS: DATABASE_URL={url!r} is not postgis://...")
        return cls(
            parts.hostname or "127.0.0.1",
            parts.port or 5432,
            parts.username or "postgres",
            parts.password or "",
        )

    def url(self) -> str:
        return f"postgis://{BENCH_ROLE}:{self.role_password}@{self.host}:{self.port}/{BENCH_DB}"

    def shown(self) -> str:
        return f"postgis://{BENCH_ROLE}@{self.host}:{self.port}/{BENCH_DB}"

    def dsn(self) -> str:
        return (
            f"host={self.host} port={self.port} dbname={BENCH_DB} "
            f"user={BENCH_ROLE} password={self.role_password}"
        )

    def connect(self, **kwargs: Any) -> Any:
        import psycopg

        return psycopg.connect(self.dsn(), **kwargs)

    def _admin(self, db: str) -> Any:
        import psycopg

        dsn = f"host={self.host} port={self.port} user={self.user} dbname={db}"
        dsn += f" password={self.password}" if self.password else ""
        return psycopg.connect(dsn, autocommit=True)

    def recreate(self) -> None:
        from psycopg import sql

        assert BENCH_DB == BENCH_ROLE == "gridline_bench"
        with self._admin("postgres") as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
            if not conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (BENCH_ROLE,)
            ).fetchone():
                conn.execute(f"CREATE ROLE {BENCH_ROLE} LOGIN")
            conn.execute(
                sql.SQL("ALTER ROLE {} LOGIN NOSUPERUSER CONNECTION LIMIT {} PASSWORD {}").format(
                    sql.Identifier(BENCH_ROLE),
                    sql.Literal(BENCH_CONNECTIONS),
                    sql.Literal(self.role_password),
                )
            )
            conn.execute(f"CREATE DATABASE {BENCH_DB} OWNER {BENCH_ROLE}")
        with self._admin(BENCH_DB) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    def drop(self) -> None:
        with self._admin("postgres") as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
            conn.execute(f"DROP ROLE IF EXISTS {BENCH_ROLE}")


# -- Redis: a private server on a free port --------------------------------------------------


def start_redis(procs: Procs) -> tuple[str, Child | None]:
    """A private redis-server (no persistence) on a free port; the URL and the child."""
    binary = "redis-server"
    from shutil import which

    if which(binary) is None:
        raise SystemExit("bench needs redis-server on PATH (./infra/bootstrap.sh installs it)")
    port = free_port()
    rdir = procs.workdir / "redis"
    rdir.mkdir(exist_ok=True)
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    argv += ["no", "--dir", str(rdir), "--maxclients", "10000", "--daemonize", "no"]
    child = procs.start("redis", argv, dict(os.environ))
    wait_tcp(port, child, timeout=20)
    return f"redis://127.0.0.1:{port}/0", child


# -- who else is using the machine ------------------------------------------------------------


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
    database: other people's tests too), and every other process. Sampled each second, so
    processes living less than a second are only seen in the host total."""

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
        groups = {"bench": 0, "postgres": 0, "other": 0}
        for pid, (comm, _, ticks) in self.last.items():
            used = ticks - self.first[pid][2]
            key = "bench" if pid in mine else "postgres" if comm.startswith("postgres") else "other"
            groups[key] += used
        host = _host_busy_ticks() - self.host0
        result = {k: v / tick / seconds for k, v in groups.items()}
        result["host"] = host / tick / seconds
        return result
