"""PIPL duties (issue 11 item 5): retention of workers' positions, a resident's data export
by a district administrator (audited), anonymisation that keeps non-personal facts."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from backend.accounts.actions import do_report_position, prune_positions
from backend.accounts.models import WorkerPosition
from backend.audit.models import AuditEvent
from backend.core.dispatcher import housekeeping
from backend.core.geo import Fix
from backend.people.models import Resident
from tests.conftest import World

pytestmark = pytest.mark.django_db


def test_positions_older_than_30_days_are_deleted(world: World) -> None:
    do_report_position(user=world.worker_a, fix=Fix(30.925, 117.805, 5))
    do_report_position(user=world.worker_b, fix=Fix(30.925, 117.815, 5))
    WorkerPosition.objects.filter(user=world.worker_a).update(
        at=timezone.now() - timedelta(days=31)
    )
    housekeeping()
    assert list(WorkerPosition.objects.values_list("user_id", flat=True)) == [world.worker_b.pk]
    assert prune_positions() == 0


def test_an_administrator_exports_a_residents_data_audited(world: World, tmp_path: Path) -> None:
    out = tmp_path / "export.json"
    call_command(
        "resident_data",
        "export",
        "--resident",
        str(world.resident_a.pk),
        "--by",
        world.admin.phone,
        "--out",
        str(out),
    )
    data = json.loads(out.read_text())
    assert data["id_number"] == world.resident_a.id_number
    assert data["health_notes"] == "高血压"
    assert data["emergency_contacts"][0]["phone"] == "13900000001"
    assert out.stat().st_mode & 0o077 == 0
    row = AuditEvent.objects.latest("pk")
    assert (row.action, row.actor, row.target_id) == ("export", world.admin, world.resident_a.pk)
    with pytest.raises(CommandError):
        call_command(
            "resident_data",
            "export",
            "--resident",
            str(world.resident_a.pk),
            "--by",
            world.worker_a.phone,
            "--out",
            str(out),
        )


def test_anonymising_keeps_the_facts_and_removes_the_person(world: World, client_for: Any) -> None:
    import uuid

    from backend.alerts.actions import do_raise_for_resident
    from backend.alerts.models import Alert

    do_raise_for_resident(
        user=world.resident_user_a,
        resident=world.resident_a,
        client_alert_id=uuid.uuid4(),
        kind="emergency",
        body={},
    )
    number, name = world.resident_a.id_number, world.resident_a.name
    call_command(
        "resident_data",
        "anonymise",
        "--resident",
        str(world.resident_a.pk),
        "--by",
        world.admin.phone,
    )
    resident = Resident.objects.get(pk=world.resident_a.pk)
    assert name not in resident.name and resident.phone == "" and resident.health_notes == ""
    assert resident.id_number == "" and number[-4:] not in resident.id_number_masked
    assert resident.birth_date.isoformat() == f"{world.resident_a.birth_date.year}-01-01"
    assert not resident.emergency_contacts.exists() and not resident.tags.exists()
    assert resident.household_id == world.household_a.pk  # the facts keep their place
    world.resident_user_a.refresh_from_db()
    assert not world.resident_user_a.is_active
    alert = Alert.objects.get()  # the alert keeps its facts: when, what kind, which grid
    assert (alert.resident_id, alert.kind, alert.grid_id) == (
        resident.pk,
        "emergency",
        world.grid_a.pk,
    )
    assert AuditEvent.objects.latest("pk").detail == "resident_data anonymise"
