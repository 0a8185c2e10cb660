"""The restore drill (docs/operations.md): dump the database, restore it into a fresh one,
and the copy has the same rows, its encrypted fields decrypt with the configured keys, and no
migration is missing. The restored copy is read by a separate `manage.py` process, as an
operator would."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from backend.alerts.devices import do_register_device
from harness.processes import ENTRYPOINT
from tests.children import child_database_url
from tests.conftest import World

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _libpq(url: str) -> str:
    return url.replace("postgis://", "postgresql://", 1)


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(_libpq(url), autocommit=True) as db:
        tables = [
            r[0]
            for r in db.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        counts = {}
        for table in tables:
            row = db.execute(f'SELECT count(*) FROM "{table}"').fetchone()  # noqa: S608
            assert row is not None
            counts[table] = int(row[0])
        return counts


def _manage(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DATABASE_URL=url, GRIDLINE_PYTHON=sys.executable, DB_POOL="0")
    return subprocess.run(
        [ENTRYPOINT, "manage", *args], env=env, capture_output=True, text=True, check=False
    )


def test_dump_drop_restore_then_counts_match_and_fields_decrypt(
    world: World, tmp_path: Path
) -> None:
    do_register_device(device_id="PENDANT-DRILL", kind="pendant", resident=world.resident_a)
    source = child_database_url()
    dump = tmp_path / "gridline.dump"
    subprocess.run(["pg_dump", "-Fc", "-f", str(dump), _libpq(source)], check=True)

    name = f"{connection.settings_dict['NAME']}_drill_{uuid.uuid4().hex[:8]}"
    restored = source.rsplit("/", 1)[0] + f"/{name}"
    admin = source.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(_libpq(admin), autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    try:
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", "-d", _libpq(restored), str(dump)],
            check=True,
        )
        assert _counts(restored) == _counts(source)
        assert _counts(restored)["people_resident"] == 3

        check = _manage(restored, "migrate", "--check")
        assert check.returncode == 0, check.stdout + check.stderr
        shown = _manage(
            restored,
            "shell",
            "-c",
            "from backend.people.models import Resident as R;"
            "print(sorted(r.id_number for r in R.objects.all()))",
        )
        assert shown.returncode == 0, shown.stderr
        expected = sorted(r.id_number for r in world.__dict__.values() if hasattr(r, "id_number"))
        assert shown.stdout.strip().splitlines()[-1] == str(expected)
    finally:
        with psycopg.connect(_libpq(admin), autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
