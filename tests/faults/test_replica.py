"""A real streaming replica: a private PostgreSQL primary (initdb, run as the postgres OS
user), a replica made with pg_basebackup -R, and a server with DATABASE_REPLICA_URL. With the
replica's replay paused, a lag-tolerant list (Open311 services.json) is served from the
replica and does not yet show a new service, while the detail of that service (read after
write: primary) does; once replay resumes, the list catches up."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from harness.processes import ENTRYPOINT, Processes, free_port, wait_until

pytestmark = pytest.mark.slow

PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
PG_BIN = PG_BIN.parent


def as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the postgres OS user."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@pytest.fixture
def pgdir() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="gridline-replica-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(base, user.pw_uid, user.pw_gid)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _postgres(procs: Processes, name: str, data: Path, port: int, ready: str) -> None:
    argv = [str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port), "-k", str(data.parent)]
    argv += ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=60"]
    procs.start(name, as_postgres(argv), ready_text=ready).wait_ready(timeout=60)


def _sql(port: int, sql: str, db: str = "postgres") -> list[tuple[object, ...]]:
    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname=db) as conn:
        conn.autocommit = True
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


def _manage(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [ENTRYPOINT, *args],
        env={**env, "GRIDLINE_PYTHON": sys.executable},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_lag_tolerant_reads_come_from_the_replica_and_the_rest_from_the_primary(
    procs: Processes, pgdir: Path
) -> None:
    primary, replica = free_port(), free_port()
    subprocess.run(
        as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(pgdir / "primary"),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    _postgres(procs, "pg-primary", pgdir / "primary", primary, "ready to accept connections")
    _sql(primary, "CREATE DATABASE gridline")
    url = f"postgis://postgres@127.0.0.1:{primary}/gridline"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DATABASE_URL=url, REDIS_URL="", DB_POOL_MAX_SIZE="4", ALLOWED_HOSTS="127.0.0.1")
    _manage(env, "migrate")

    subprocess.run(
        as_postgres(
            [
                str(PG_BIN / "pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(primary),
                "-U",
                "postgres",
                "-D",
                str(pgdir / "replica"),
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",
            ]
        ),
        check=True,
        capture_output=True,
    )
    _postgres(procs, "pg-replica", pgdir / "replica", replica, "read-only connections")
    streaming = _sql(primary, "SELECT state FROM pg_stat_replication")
    assert streaming == [("streaming",)]

    replica_url = f"postgis://postgres@127.0.0.1:{replica}/gridline"
    server = procs.server("asgi", env={**env, "DATABASE_REPLICA_URL": replica_url})
    _sql(replica, "SELECT pg_wal_replay_pause()", db="gridline")
    code = "t-replica-lag"
    _manage(
        env,
        "manage",
        "shell",
        "-c",
        "from backend.servicedesk.models import ServiceItem as S; S.objects.create("
        f"code='{code}', name_zh='测试', name_en='Test', category='elderly',"
        " line='elderly_care', time_limit_days=5)",
    )

    def listed() -> bool:
        answer = httpx.get(f"{server.url}/open311/v2/services.json", trust_env=False)
        assert answer.status_code == 200, answer.text
        return code in {s["service_code"] for s in answer.json()}

    detail = httpx.get(f"{server.url}/open311/v2/services/{code}.json", trust_env=False)
    assert detail.status_code == 200, detail.text  # the primary: read after write
    assert not listed()  # the paused replica
    _sql(replica, "SELECT pg_wal_replay_resume()", db="gridline")
    wait_until(listed, timeout=20, what="the replica to replay the new service")
