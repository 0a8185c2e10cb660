"""The benchmark's own PostgreSQL database and login role.

The database and the role share one name, `gridline_bench` unless BENCH_DB says otherwise (two
people benchmarking on one server each pick their own). The role is limited to
BENCH_CONNECTIONS connections, so that the benchmarks can never exhaust a shared server; the
DATABASE_URL superuser only creates and drops the role, the database and the postgis
extension, and asks for a CHECKPOINT after the district is loaded.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# PostgreSQL's default max_connections is 100; the server may be shared.
BENCH_CONNECTIONS = 60


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

    def connect(self, **kwargs: Any) -> Any:
        import psycopg

        return psycopg.connect(self.dsn(), **kwargs)

    def admin(self, db: str = "postgres") -> Any:
        import psycopg

        dsn = f"host={self.host} port={self.port} user={self.user} dbname={db}"
        dsn += f" password={self.password}" if self.password else ""
        return psycopg.connect(dsn, autocommit=True)

    def recreate(self) -> None:
        from psycopg import sql

        with self.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
            if not conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (self.name,)
            ).fetchone():
                conn.execute(f"CREATE ROLE {self.name} LOGIN")
            conn.execute(
                sql.SQL("ALTER ROLE {} LOGIN NOSUPERUSER CONNECTION LIMIT {} PASSWORD {}").format(
                    sql.Identifier(self.name),
                    sql.Literal(BENCH_CONNECTIONS),
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
