"""The benchmark's own PostgreSQL database and login role.

The database and the role share one name, `gridline_bench` unless BENCH_DB says otherwise (two
people benchmarking on one server each pick their own). The servers' role is limited to
`limit` connections (at most BENCH_CONNECTIONS, and half the server's max_connections), so
that the benchmarks can never exhaust a shared server; each Django process's pool gets its
share (`pool_size`). The DATABASE_URL superuser creates and drops the role, the database and
the postgis extension, asks for a CHECKPOINT after the district is loaded, and logs in the
runner's own connections (counters, samples), which so never wait behind the servers'.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

BENCH_CONNECTIONS = 120
DJANGO_PROCESSES = 5  # A, B, C, M and the dispatcher


def bench_db_name() -> str:
    name = os.environ.get("BENCH_DB", "gridline_bench")
    # never the developers' `gridline` nor a test database; a plain identifier, so no quoting
    if not re.fullmatch(r"gridline_bench[a-z0-9_]*", name):
        raise SystemExit(f"BENCH_DB={name!r}: it must start with gridline_bench ([a-z0-9_])")
    return name


@dataclass(frozen=True)
class Pg:
    host: str
    port: int
    user: str
    password: str
    name: str = field(default_factory=bench_db_name)  # database and role
    role_password: str = field(default_factory=lambda: secrets.token_hex(16))
    limit: int = BENCH_CONNECTIONS  # set by recreate()

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
        return f"postgis://{self.name}:{self.role_password}@{self.host}:{self.port}/{self.name}"

    def shown(self) -> str:
        return f"postgis://{self.name}@{self.host}:{self.port}/{self.name}"

    def dsn(self) -> str:
        return (
            f"host={self.host} port={self.port} dbname={self.name} "
            f"user={self.name} password={self.role_password}"
        )

    def connect(self, autocommit: bool = False) -> Any:
        """The runner's own connection to the bench database: logged in as the superuser (not
        counted against the role's limit) acting as the role (what it creates is the role's,
        and it sees the role's statements in pg_stat_activity)."""
        from psycopg import sql

        conn = self.admin(self.name)
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(self.name)))
        conn.autocommit = autocommit
        return conn

    def end_open_alerts(self) -> int:
        """End every active alert before a phase presses: a press of a resident with an open
        alert joins it as "pressed again" (no new alert, no tier-1 ring), and each phase
        measures new alerts."""
        with self.connect(autocommit=True) as conn:
            cur = conn.execute(
                "UPDATE alerts_alert SET state = 'resolved', resolved_at = now() "
                "WHERE state IN ('open', 'accepted', 'arrived')"
            )
            return int(cur.rowcount or 0)

    def pool_size(self) -> int:
        """Each Django process's DB_POOL_MAX_SIZE: its share of the role's connections."""
        return max(2, min(20, (self.limit - 10) // DJANGO_PROCESSES))

    def admin(self, db: str = "postgres") -> Any:
        import psycopg

        dsn = f"host={self.host} port={self.port} user={self.user} dbname={db}"
        dsn += f" password={self.password}" if self.password else ""
        return psycopg.connect(dsn, autocommit=True)

    def recreate(self) -> None:
        from psycopg import sql

        with self.admin() as conn:
            row = conn.execute("SELECT current_setting('max_connections')::int").fetchone()
            object.__setattr__(self, "limit", min(BENCH_CONNECTIONS, int(row[0]) // 2))
            conn.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
            if not conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (self.name,)
            ).fetchone():
                conn.execute(f"CREATE ROLE {self.name} LOGIN")
            conn.execute(
                sql.SQL("ALTER ROLE {} LOGIN NOSUPERUSER CONNECTION LIMIT {} PASSWORD {}").format(
                    sql.Identifier(self.name),
                    sql.Literal(self.limit),
                    sql.Literal(self.role_password),
                )
            )
            conn.execute(f"CREATE DATABASE {self.name} OWNER {self.name}")
        with self.admin(self.name) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    def quiesce(self) -> None:
        """After the bulk load: statistics fresh and dirty pages written, so that neither
        autovacuum nor the checkpointer's write-back of the load lands in a measurement."""
        with self.admin(self.name) as conn:
            conn.execute("VACUUM (ANALYZE)")
            conn.execute("CHECKPOINT")

    def drop(self) -> None:
        with self.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
            conn.execute(f"DROP ROLE IF EXISTS {self.name}")
