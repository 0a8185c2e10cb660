"""Real child processes for the fault tests and the benchmarks: private redis-servers, uvicorn
ASGI servers, `manage.py dispatcher` workers and any other command, started with subprocess and
always stopped, also on failure.

Every child runs in a session of its own (one signal reaches it and whatever it starts) and gets
PR_SET_PDEATHSIG=SIGKILL on Linux, so nothing outlives a killed parent (pytest or the bench
runner). Start children from the main thread: the death signal follows the thread that forked.
Logs go to files in the caller's directory; `Processes.report()` gives their tails. Children are
only ever stopped by their own id (the process group the child leads), never by name.
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

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
# The image's entry point (infra/Dockerfile): gridline's servers and dispatchers start through
# it here too, so the tests run the roles exactly as a container does.
ENTRYPOINT = str(ROOT / "infra" / "entrypoint.sh")
SENTINEL_SCRIPT = str(ROOT / "infra" / "sentinel.sh")

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


def _die_with_parent() -> None:  # runs in the child between fork and exec: prctl only
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Process:
    """One child process with its log file; it can be started again after it stopped."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], log: Path, ready_text: str = ""
    ) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.ready_text = ready_text  # printed once the process can do its work
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        if self.alive():
            raise RuntimeError(f"{self.name} is running")
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
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        return self

    def _started(self) -> subprocess.Popen[bytes]:
        if self.popen is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.popen

    @property
    def pid(self) -> int:
        return self._started().pid

    @property
    def returncode(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def wait(self, timeout: float | None = None) -> int:
        return self._started().wait(timeout=timeout)

    def signal(self, sig: int) -> None:
        """`sig` to the child's process group (the child and whatever it started)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)

    def kill(self) -> None:
        """kill -9: no cleanup, no goodbye."""
        if self.alive():
            self.signal(signal.SIGKILL)
            self.wait(timeout=10)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds."""
        if not self.alive():
            return
        self.signal(signal.SIGTERM)
        try:
            self.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def wait_ready(self, timeout: float = 60) -> None:
        """Return once the process can do its work: it printed `ready_text`, if it has one."""
        if self.ready_text:
            self.wait_for_output(self.ready_text, timeout)
        elif not self.alive() and self.returncode:
            raise AssertionError(f"{self.name} exited {self.returncode}:\n{self.tail()}")

    def wait_for_output(self, text: str, timeout: float) -> None:
        def seen() -> bool:
            if text in self.output():
                return True
            if not self.alive():
                raise AssertionError(f"{self.name} exited:\n{self.tail()}")
            return False

        wait_until(seen, timeout=timeout, interval=0.1, what=f"{self.name} to print {text!r}")


class RedisServer(Process):
    """A private redis-server without persistence; stopped, it starts again on the same port."""

    def __init__(self, port: int, log: Path, maxclients: int = 10_000) -> None:
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--daemonize", "no", "--maxclients", str(maxclients)]
        argv += ["--dir", str(log.parent)]
        super().__init__(f"redis:{port}", argv, dict(os.environ), log, "Ready to accept")
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> RedisServer:
        super().start()
        self.wait_ready(timeout=20)
        wait_until(lambda: port_open(self.port), timeout=10, what=f"{self.name} to listen")
        return self

    def kill(self) -> None:
        super().kill()
        wait_until(lambda: not port_open(self.port), timeout=10, what=f"{self.name} to close")


class Sentinel(Process):
    """A Redis Sentinel (infra/sentinel.sh) watching one master under `master_name`."""

    def __init__(
        self, name: str, port: int, master: RedisServer, master_name: str, env: dict[str, str]
    ) -> None:
        workdir = master.log.parent / name
        argv = [SENTINEL_SCRIPT, "sentinel", str(workdir), str(port), "127.0.0.1"]
        argv += [str(master.port), master_name]
        super().__init__(name, argv, env, master.log.parent / f"{name}.log", "+monitor")
        self.port, self.master_name = port, master_name
        self.address = f"127.0.0.1:{port}"

    def _ask(self, fn: Callable[[Any], T]) -> T:
        client = redis.Redis(port=self.port, socket_timeout=2)
        try:
            return fn(client)
        finally:
            client.close()

    def master_port(self) -> int:
        """The port of the master the sentinel names now."""
        address = self._ask(lambda c: c.sentinel_get_master_addr_by_name(self.master_name))
        return int(address[1])

    def knows_replicas(self) -> bool:
        return bool(self._ask(lambda c: c.sentinel_slaves(self.master_name)))


class Server(Process):
    """uvicorn serving an ASGI app (by default gridline's, through the entry point's `asgi`
    role) on a port of its own; ready once it answers HTTP at all (a 404 touches neither the
    database nor Redis)."""

    APP = "backend.config.asgi:application"

    def __init__(
        self,
        name: str,
        port: int,
        env: dict[str, str],
        log: Path,
        app: str = APP,
        args: tuple[str, ...] = (),
    ) -> None:
        if app == self.APP:
            argv = [ENTRYPOINT, "asgi"]
            env = {**env, "GRIDLINE_PYTHON": PYTHON}
        else:
            argv = [PYTHON, "-m", "uvicorn", app]
        argv += ["--host", "127.0.0.1", "--port", str(port)]
        argv += ["--lifespan", "on", "--timeout-graceful-shutdown", "2", *args]
        super().__init__(name, argv, env, log)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"

    def wait_ready(self, timeout: float = 60) -> None:
        wait_until(self.ready, timeout=timeout, interval=0.1, what=f"{self.name} to serve")

    def ready(self) -> bool:
        if not self.alive():
            raise AssertionError(f"{self.name} exited:\n{self.tail()}")
        try:
            # the liveness probe: answered on the event loop, never behind the clients
            httpx.get(f"{self.url}/api/v1/health/live", timeout=1, trust_env=False)
        except httpx.HTTPError:
            return False
        return True


class AlarmReceiver(Process):
    """A DC-09 receiver process; ready once it printed that it listens."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], log: Path, tcp: int, udp: int
    ) -> None:
        super().__init__(name, argv, env, log, "alarm receiver listening")
        self.tcp_port, self.udp_port = tcp, udp


EnvFor = Callable[[str], dict[str, str]]  # redis_url -> a Django process's environment


class Processes:
    """Everything one test or one benchmark run started; `close()` stops all of it.

    `django_env(redis_url)` gives the environment of the Django processes (servers and
    dispatchers); the tests and the bench each say which database and settings they use."""

    def __init__(self, workdir: Path, django_env: EnvFor | None = None) -> None:
        self.workdir = workdir
        self.django_env = django_env or (lambda redis_url: dict(os.environ, REDIS_URL=redis_url))
        self.started: list[Process] = []

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def add(self, proc: Process) -> Process:
        self.started.append(proc)
        return proc

    def start(
        self, name: str, argv: list[str], env: dict[str, str] | None = None, ready_text: str = ""
    ) -> Process:
        """Any command (its log is NAME.log), started now and not waited for."""
        proc = Process(name, argv, dict(os.environ) if env is None else env, self.log(name))
        proc.ready_text = ready_text
        return self.add(proc).start()

    def redis(self, name: str = "redis") -> RedisServer:
        server = RedisServer(free_port(), self.log(name))
        self.started.append(server)
        return server.start()

    def redis_replica(self, master: RedisServer, name: str = "redis-replica") -> RedisServer:
        """A replica of `master` (infra/sentinel.sh replica), returned once it has synced."""
        port = free_port()
        replica = RedisServer(port, self.log(name))
        replica.name = name
        replica.argv = [SENTINEL_SCRIPT, "replica", str(self.workdir / name), str(port)]
        replica.argv += ["127.0.0.1", str(master.port)]
        replica.ready_text = "MASTER <-> REPLICA sync: Finished"
        self.started.append(replica)
        return replica.start()

    def sentinel(
        self,
        master: RedisServer,
        name: str = "sentinel",
        *,
        master_name: str = "gridline",
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 5000,
    ) -> Sentinel:
        """A sentinel watching `master` (infra/sentinel.sh sentinel), returned once it does."""
        env = dict(os.environ, SENTINEL_DOWN_AFTER_MS=str(down_after_ms))
        env["SENTINEL_FAILOVER_TIMEOUT_MS"] = str(failover_timeout_ms)
        sentinel = Sentinel(name, free_port(), master, master_name, env)
        self.add(sentinel).start()
        sentinel.wait_ready(timeout=20)
        return sentinel

    def servers(
        self,
        *names: str,
        redis_url: str = "",
        wait: bool = True,
        app: str = Server.APP,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> list[Server]:
        """uvicorn processes side by side (gridline's app with `django_env` unless told
        otherwise); with `wait`, return when each answers HTTP."""
        servers = []
        for name in names:
            server_env = env if env is not None else self.django_env(redis_url)
            server = Server(name, free_port(), server_env, self.log(name), app, args)
            self.started.append(server)
            server.start()
            servers.append(server)
        if wait:
            self.wait_ready(*servers)
        return servers

    def server(self, name: str, *, redis_url: str = "", **kwargs: Any) -> Server:
        return self.servers(name, redis_url=redis_url, **kwargs)[0]

    def dispatchers(
        self, *names: str, redis_url: str, wait: bool = True, poll: float = 0.1
    ) -> list[Process]:
        """`manage.py dispatcher` processes; with `wait`, return when each runs."""
        started = []
        for name in names:
            argv = [ENTRYPOINT, "dispatcher", "--poll", str(poll)]
            env = {**self.django_env(redis_url), "GRIDLINE_PYTHON": PYTHON}
            started.append(self.start(name, argv, env, "dispatcher running"))
        if wait:
            self.wait_ready(*started)
        return started

    def dispatcher(self, name: str, *, redis_url: str, **kwargs: Any) -> Process:
        return self.dispatchers(name, redis_url=redis_url, **kwargs)[0]

    def alarm_receiver(self, name: str, *, redis_url: str, wait: bool = True) -> AlarmReceiver:
        """`manage.py alarm_receiver` on a TCP and a UDP port of its own."""
        tcp, udp = free_port(), free_port()
        argv = [ENTRYPOINT, "alarm-receiver", "--tcp-port", str(tcp), "--udp-port", str(udp)]
        env = {**self.django_env(redis_url), "GRIDLINE_PYTHON": PYTHON}
        proc = AlarmReceiver(name, argv, env, self.log(name), tcp, udp)
        self.add(proc).start()
        if wait:
            proc.wait_ready()
        return proc

    @staticmethod
    def wait_ready(*procs: Process) -> None:
        """Wait for processes started with wait=False (they start up side by side)."""
        for proc in procs:
            proc.wait_ready()

    def stop(self, proc: Process, grace: float = 5.0) -> None:
        """Stop one child and forget it."""
        proc.stop(grace)
        if proc in self.started:
            self.started.remove(proc)

    @staticmethod
    def stop_all(procs: list[Process], grace: float = 5.0) -> None:
        """SIGTERM to all at once, then wait for each within one shared grace period; SIGKILL
        whatever is still running after it."""
        running = [p for p in procs if p.alive()]
        for proc in running:
            proc.signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in running:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()

    def report(self, lines: int = 40) -> str:
        return "\n".join(
            f"--- {p.name} ({'running' if p.alive() else f'exited {p.returncode}'}), "
            f"{p.log} ---\n{p.tail(lines)}"
            for p in self.started
            if p.popen is not None
        )

    def close(self, grace: float = 3.0) -> None:
        with contextlib.suppress(Exception):
            self.stop_all(self.started, grace=grace)
        for proc in self.started:
            with contextlib.suppress(Exception):
                proc.kill()
        self.started.clear()

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
