"""Real processes for process-level tests: private redis-servers, uvicorn ASGI servers and
`manage.py dispatcher` workers, started with subprocess and always stopped, also on failure.

Every child gets PR_SET_PDEATHSIG=SIGKILL (Linux), so nothing outlives a killed pytest. Logs go
to files under the test's tmp_path; `Processes.report()` gives their tails for a failure message.
Processes are only ever stopped by their own pid.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], *, timeout: float, interval: float = 0.05, what: str = "condition"
) -> T:
    """Poll `predicate` until it returns something truthy; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def child_database_url() -> str:
    """DATABASE_URL of the database pytest-django created for this run (visible to children
    only for data committed by `django_db(transaction=True)` tests)."""
    from django.db import connection

    s = connection.settings_dict
    auth = quote(s["USER"] or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    return f"postgis://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Process:
    """One child process with its log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.popen: subprocess.Popen[bytes] | None = None
        self.ready_text: str | None = None  # printed once the process is ready

    def start(self) -> Process:
        assert self.popen is None or self.popen.poll() is not None, f"{self.name} is running"
        with self.log.open("ab") as out:
            out.write(f"\n=== start {' '.join(self.argv)}\n".encode())
            out.flush()
            self.popen = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """kill -9: no cleanup, no goodbye."""
        if self.alive():
            assert self.popen is not None
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self, grace: float = 5.0) -> None:
        if not self.alive():
            return
        assert self.popen is not None
        self.popen.terminate()
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def wait_ready(self, timeout: float = 60) -> None:
        """Return once the process can do its work (subclasses and callers say how)."""
        if self.ready_text:
            self.wait_for_output(self.ready_text, timeout)

    def wait_for_output(self, text: str, timeout: float) -> None:
        def seen() -> bool:
            if not self.alive():
                raise AssertionError(f"{self.name} exited:\n{self.tail()}")
            return text in self.tail(200_000)

        wait_until(seen, timeout=timeout, what=f"{self.name} to print {text!r}")


class RedisServer(Process):
    """A private redis-server (no persistence): stop it, start it again on the same port."""

    def __init__(self, port: int, log: Path) -> None:
        argv = [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]
        super().__init__(f"redis:{port}", argv, dict(os.environ), log)
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> RedisServer:
        super().start()
        self.wait_for_output("Ready to accept connections", timeout=20)
        wait_until(lambda: port_open(self.port), timeout=10, what=f"{self.name} to listen")
        return self

    def kill(self) -> None:
        super().kill()
        wait_until(lambda: not port_open(self.port), timeout=10, what=f"{self.name} to close")


class Server(Process):
    """`uvicorn backend.config.asgi:application` on its own port."""

    def __init__(self, name: str, port: int, env: dict[str, str], log: Path) -> None:
        argv = [
            str(BIN / "uvicorn"),
            "backend.config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "on",
            "--timeout-graceful-shutdown",
            "2",
        ]
        super().__init__(name, argv, env, log)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"

    def wait_ready(self, timeout: float = 60) -> None:
        wait_until(self.ready, timeout=timeout, interval=0.1, what=f"{self.name} to serve")

    def ready(self) -> bool:
        """Any HTTP answer at all (a 404 here touches neither the database nor Redis)."""
        if not self.alive():
            raise AssertionError(f"{self.name} exited:\n{self.tail()}")
        try:
            httpx.get(f"{self.url}/__ready__", timeout=1, trust_env=False)
        except httpx.HTTPError:
            return False
        return True


class Processes:
    """Everything a test started; `close()` stops all of it (the fixture calls it)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.started: list[Process] = []

    def env(self, *, redis_url: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
        env.update(
            DJANGO_SETTINGS_MODULE="backend.config.settings",
            DATABASE_URL=child_database_url(),
            REDIS_URL=redis_url,
            EMBEDDED_DISPATCHER="0",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            DB_CONN_MAX_AGE="0",
            PYTHONUNBUFFERED="1",
            # The tests' users are created with the fast test hasher (tests/conftest.py).
            PASSWORD_HASHERS="django.contrib.auth.hashers.MD5PasswordHasher,"
            "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        )
        env.update(extra)
        return env

    def _log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def redis(self, name: str = "redis") -> RedisServer:
        server = RedisServer(free_port(), self._log(name))
        self.started.append(server)
        return server.start()

    def servers(self, *names: str, redis_url: str, wait: bool = True) -> list[Server]:
        """Start uvicorn processes side by side; with `wait`, return when each answers HTTP."""
        servers = []
        for name in names:
            env = self.env(redis_url=redis_url)
            server = Server(name, free_port(), env, self._log(name))
            self.started.append(server)
            server.start()
            servers.append(server)
        if wait:
            self.wait_ready(*servers)
        return servers

    def server(self, name: str, *, redis_url: str) -> Server:
        return self.servers(name, redis_url=redis_url)[0]

    def dispatchers(self, *names: str, redis_url: str, wait: bool = True) -> list[Process]:
        """Start `manage.py dispatcher` processes; with `wait`, return when each runs."""
        started = []
        for name in names:
            argv = [str(BIN / "python"), "manage.py", "dispatcher", "--poll", "0.1"]
            proc = Process(name, argv, self.env(redis_url=redis_url), self._log(name))
            proc.ready_text = "dispatcher running"
            self.started.append(proc)
            started.append(proc.start())
        if wait:
            self.wait_ready(*started)
        return started

    def dispatcher(self, name: str, *, redis_url: str) -> Process:
        return self.dispatchers(name, redis_url=redis_url)[0]

    @staticmethod
    def wait_ready(*procs: Process) -> None:
        """Wait for processes started with wait=False (they start up side by side)."""
        for proc in procs:
            proc.wait_ready()

    @staticmethod
    def stop_all(procs: list[Process], grace: float = 5.0) -> None:
        """SIGTERM to all at once, then wait for each within one shared grace period; SIGKILL
        whatever is still running after it."""
        running = [p for p in procs if p.alive() and p.popen is not None]
        for proc in running:
            assert proc.popen is not None
            proc.popen.terminate()
        deadline = time.monotonic() + grace
        for proc in running:
            assert proc.popen is not None
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()

    def report(self) -> str:
        return "\n".join(f"--- {p.name} (pid {p.pid}) ---\n{p.tail()}" for p in self.started)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop_all(self.started, grace=3)
        for proc in self.started:
            with contextlib.suppress(Exception):
                proc.kill()

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
