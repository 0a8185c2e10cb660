"""No personal data in any push (PIPL): a push says the kind, the tier, the grid and an id.

Two walks: (1) a day of real work (emergency and help presses, escalation, accept, arrival,
resolution and its follow-up visit, an assignment, technical alarms, a service-desk case) with
every event the stream recorded turned into its push, and every push the outbox holds; (2)
every event type the code can record, with data stuffed with names, addresses, phones and ID
numbers under every key an event has ever carried. No push may contain any of them."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from backend.accounts.models import User
from backend.alerts.devices import do_register_device
from backend.core.models import StreamEvent
from backend.notify.delivery import push_data
from backend.notify.models import OutboxMessage
from backend.people.models import EmergencyContact, Resident
from backend.servicedesk.actions import do_file_case
from backend.servicedesk.models import ServiceItem
from backend.territory.models import Household
from tests.alerts.conftest import SignedDevice, alert_of
from tests.alerts.conftest import device_a as device_a
from tests.alerts.conftest import rosters as rosters
from tests.conftest import World

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
MOBILE = re.compile(r"1[3-9][0-9]{9}")
ID_NUMBER = re.compile(r"[0-9]{17}[0-9Xx]")
ADDRESSY = re.compile(r"[号楼单元室路街巷弄村]")
PII = {
    "name": "张桂英",
    "address": "铜官区幸福路3号楼2单元301室",
    "phone": "13912345678",
    "id_number": "340702193805121234",
}


def personal_strings() -> set[str]:
    """Every name, address, phone and ID number the database holds."""
    found = set(PII.values())
    for r in Resident.objects.all():
        found |= {r.name, r.id_number, r.id_number_masked, r.phone, r.name[1:] or r.name}
    found |= set(Household.objects.values_list("address", flat=True))
    found |= set(EmergencyContact.objects.values_list("name", flat=True))
    found |= set(EmergencyContact.objects.values_list("phone", flat=True))
    found |= set(User.objects.values_list("phone", flat=True))
    found |= set(User.objects.values_list("name", flat=True))
    return {s for s in found if s}


def assert_clean(payload: dict[str, str], secrets: set[str]) -> None:
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in payload.items())
    assert set(payload) <= {"type", "event_id", "kind", "tier", "grid_id", "title", "body"} | {
        "alert_id",
        "task_id",
        "case_id",
    }
    text = json.dumps(payload, ensure_ascii=False)
    for secret in secrets:
        assert secret not in text, (secret, payload)
    for value in payload.values():
        assert not MOBILE.search(value) and not ID_NUMBER.search(value), payload
    assert not ADDRESSY.search(payload["kind"] + payload["type"]), payload


def a_day_of_work(world: World, device_a: SignedDevice, client_for: Any) -> None:
    alert = alert_of(device_a.press(location={"lat": 30.925, "lon": 117.805, "accuracy_m": 9}))
    alert_of(device_a.press(kind="help"))
    from backend.core import clock

    clock.fire_due(now=timezone.now() + timedelta(seconds=61))  # escalation to tier 2
    worker = client_for(world.worker_a)
    worker.post(f"/api/v1/alerts/{alert.pk}/acknowledge")
    worker.post(f"/api/v1/alerts/{alert.pk}/accept")
    worker.post(
        f"/api/v1/alerts/{alert.pk}/arrive", {"lat": 30.925, "lon": 117.805, "accuracy_m": 9}
    )
    worker.post(f"/api/v1/alerts/{alert.pk}/resolve", {"disposition": "assisted_on_site"})
    other = alert_of(device_a.press())
    client_for(world.supervisor_1).post(
        f"/api/v1/alerts/{other.pk}/assign", {"assignee_id": world.worker_a.pk, "note": "请去"}
    )
    device_a.post("/api/v1/device/heartbeat", {"battery": 5})  # a technical alarm
    do_register_device(device_id="PENDANT-PII", kind="pendant", resident=world.resident_b)
    item, _ = ServiceItem.objects.get_or_create(
        code="pii-allowance",
        defaults={"name_zh": "高龄津贴", "name_en": "Old-age allowance", "category": "elderly"}
        | {"line": "elderly_care", "time_limit_days": 20},
    )
    with transaction.atomic():
        do_file_case(
            item=item, channel="doorstep", filed_by=world.worker_a, resident=world.resident_a
        )


def test_no_push_of_a_day_of_work_carries_personal_data(
    world: World, device_a: SignedDevice, client_for: Any, rosters: Any
) -> None:
    a_day_of_work(world, device_a, client_for)
    secrets = personal_strings()
    events = list(StreamEvent.objects.all())
    types = {e.type for e in events}
    assert {"alert.raised", "alert.updated", "visit.task"} <= types, types
    assert any(t.startswith("case.") for t in types), types
    for event in events:
        assert_clean(push_data(event), secrets)
    pushes = list(OutboxMessage.objects.filter(channel="push"))
    assert len(pushes) >= 5
    for row in pushes:
        assert_clean(row.params, secrets)
    # Staff SMS and calls carry the kind, the grid and the alert number only.
    for row in OutboxMessage.objects.filter(user__isnull=False).exclude(channel="push"):
        assert set(row.params) == {"kind", "grid", "alert"}
        text = json.dumps(row.params, ensure_ascii=False)
        assert not any(secret in text for secret in secrets)


def event_types_in_the_code() -> set[str]:
    """Every stream event type a module of the product can record."""
    pattern = re.compile(r'"((?:alert|case|visit)\.[a-z_]+)"')
    found: set[str] = set()
    for path in (ROOT / "backend").rglob("*.py"):
        found |= set(pattern.findall(path.read_text()))
    return found


def stuffed(data: Any) -> Any:
    """The same shape, with personal data in every string and a few keys of its own."""
    if isinstance(data, dict):
        return {**{k: stuffed(v) for k, v in data.items()}, **PII, "kind": PII["name"]}
    if isinstance(data, list):
        return [stuffed(v) for v in data]
    if isinstance(data, str):
        return f"{PII['name']} {PII['address']} {PII['phone']} {PII['id_number']}"
    return data


def test_every_event_type_stuffed_with_personal_data_pushes_none_of_it(
    world: World, device_a: SignedDevice, client_for: Any, rosters: Any
) -> None:
    a_day_of_work(world, device_a, client_for)
    shapes = [e.data for e in StreamEvent.objects.all()]
    types = event_types_in_the_code()
    assert {"alert.raised", "alert.updated", "visit.task", "visit.tasks_changed"} <= types
    secrets = personal_strings()
    for type in sorted(types):
        for data in shapes:
            event = StreamEvent(user=world.worker_a, seq=1, type=type, data=stuffed(data))
            assert_clean(push_data(event), secrets)
