"""The audit trail (MLPS 2.0 level 3, issue 11 item 2): rows for reads (a list page is one row
naming its ids), writes, log-ins and failed log-ins, admin changes; append-only for the
application's role; a hash chain that `audit_verify` checks; archive after the retention."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone

from backend.audit.actions import do_archive, seal_events, verify_chain
from backend.audit.models import AuditAnchor, AuditEvent, AuditSeal
from tests.admin_login import admin_client_for
from tests.conftest import World

pytestmark = pytest.mark.django_db


def test_a_list_page_is_one_row_naming_its_ids(world: World, client_for: Any) -> None:
    client = client_for(world.supervisor_1)
    before = AuditEvent.objects.count()
    page = client.get("/api/v1/residents").json()
    assert AuditEvent.objects.count() == before + 1
    row = AuditEvent.objects.latest("pk")
    assert row.action == "list_residents" and row.actor == world.supervisor_1
    assert sorted(row.target_ids) == sorted(r["id"] for r in page["items"])
    assert row.ip == "127.0.0.1"
    client.get(f"/api/v1/households/{world.household_a.pk}")
    row = AuditEvent.objects.latest("pk")
    assert (row.action, row.target_id) == ("view_household", world.household_a.pk)
    client.get("/api/v1/households")
    assert AuditEvent.objects.latest("pk").action == "list_households"


def test_log_ins_failed_log_ins_and_writes_are_recorded(world: World, client_for: Any) -> None:
    Client().post(
        "/api/v1/auth/login",
        {"phone": world.worker_a.phone, "password": "wrong"},
        content_type="application/json",
    )
    failed = AuditEvent.objects.latest("pk")
    assert (failed.action, failed.actor_id, failed.actor_label, failed.result) == (
        "login_failed",
        None,
        world.worker_a.phone,
        "failed",
    )
    client = client_for(world.worker_a)
    login = AuditEvent.objects.latest("pk")
    assert (login.action, login.actor) == ("login", world.worker_a)
    client.post("/api/v1/me/position", {"lat": 30.925, "lon": 117.805, "accuracy_m": 5})
    write = AuditEvent.objects.latest("pk")
    assert (write.action, write.actor, write.detail, write.result) == (
        "write",
        world.worker_a,
        "POST /api/v1/me/position 204",
        "ok",
    )


def test_admin_changes_are_recorded(world: World) -> None:
    client = admin_client_for(world.admin)
    client.post(
        f"/admin/territory/district/{world.district.pk}/change/",
        {"code": world.district.code, "name": "铜官区改"},
    )
    row = AuditEvent.objects.latest("pk")
    assert row.action == "admin_change" and row.actor == world.admin
    assert row.detail.startswith(f"POST /admin/territory/district/{world.district.pk}/change/")


def test_the_application_cannot_update_or_delete_audit_rows(world: World) -> None:
    row = AuditEvent.objects.create(actor=world.worker_a, action="view_resident")
    for statement in (
        "UPDATE audit_auditevent SET action = 'nothing' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [row.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=row.pk).update(action="x")
    assert AuditEvent.objects.get(pk=row.pk).action == "view_resident"


def _old_rows(world: World, n: int, days: int) -> list[AuditEvent]:
    at = timezone.now() - timedelta(days=days)
    return [
        AuditEvent.objects.create(actor=world.worker_a, action="view_resident", target_id=i, at=at)
        for i in range(n)
    ]


def test_the_chain_detects_a_changed_row(world: World) -> None:
    rows = _old_rows(world, 5, days=1)
    assert seal_events() == 5
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "intact: 5 rows" in out.getvalue()
    # Someone with the power to lift the trigger changes a row.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # triggers off
        cursor.execute("UPDATE audit_auditevent SET target_id = 999 WHERE id = %s", [rows[2].pk])
        cursor.execute("SET LOCAL session_replication_role = origin")
    verdict = verify_chain()
    assert (verdict.broken_at, verdict.reason) == (rows[2].pk, "row changed")
    with pytest.raises(CommandError, match=f"broken at event {rows[2].pk}"):
        call_command("audit_verify")


def test_the_chain_detects_a_removed_row(world: World) -> None:
    rows = _old_rows(world, 4, days=1)
    seal_events()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # triggers off
        cursor.execute("DELETE FROM audit_auditseal WHERE event_id = %s", [rows[1].pk])
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [rows[1].pk])
        cursor.execute("SET LOCAL session_replication_role = origin")
    assert verify_chain().broken_at == rows[2].pk


def test_rows_past_the_retention_are_archived_then_deleted(world: World, tmp_path: Path) -> None:
    old = _old_rows(world, 3, days=200)
    recent = _old_rows(world, 2, days=10)
    seal_events()
    path, count = do_archive(directory=tmp_path)
    assert count == 3 and path is not None and path.stat().st_mode & 0o077 == 0
    assert len(path.read_text().splitlines()) == 3
    assert set(AuditEvent.objects.values_list("pk", flat=True)) >= {r.pk for r in recent}
    assert not AuditEvent.objects.filter(pk__in=[r.pk for r in old]).exists()
    assert AuditAnchor.objects.get().through_event_id == old[-1].pk
    assert verify_chain().broken_at is None  # the chain resumes from the anchor
    # A row younger than 180 days cannot be deleted, archive or not.
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=recent[0].pk).delete()
    assert AuditSeal.objects.count() == 2
