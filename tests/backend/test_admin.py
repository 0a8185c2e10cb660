"""The admin works for a district administrator, with Leaflet shipped locally (no CDN)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from backend.visits.actions import derive_due_visits
from tests.admin_login import admin_client_for
from tests.conftest import CaptureEvents, World

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(world: World) -> Client:
    return admin_client_for(world.admin)


@pytest.mark.parametrize(
    "path",
    [
        "territory/grid",
        "territory/household",
        "territory/building",
        "territory/servicepoint",
        "territory/community",
        "territory/district",
        "people/resident",
        "accounts/user",
        "accounts/dutyshift",
        "accounts/mobilesession",
        "accounts/pushtoken",
        "audit/auditevent",
        "community/notice",
        "community/poll",
        "community/hearing",
        "community/socialorganisation",
        "community/volunteer",
        "community/volunteertask",
        "community/selfgovernancegroup",
        "community/topic",
        "community/topicsettings",
    ],
)
def test_changelists_render(admin_client_: Client, path: str) -> None:
    assert admin_client_.get(f"/admin/{path}/").status_code == 200


def test_grid_change_page_uses_the_shipped_leaflet_and_no_cdn(
    admin_client_: Client, world: World
) -> None:
    page = admin_client_.get(f"/admin/territory/grid/{world.grid_a.pk}/change/").content.decode()
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', page)
    assert any("leaflet/leaflet.js" in s for s in scripts)
    links = scripts + re.findall(r'<link[^>]+href="([^"]+)"', page)
    assert not [u for u in links if u.startswith(("http:", "https:", "//"))], links


def test_resident_page_shows_the_masked_id_only(admin_client_: Client, world: World) -> None:
    # The list shows the mask (and no birth date); the change form, which edits the birth
    # date, shows neither the mask nor the number (tests/trust/test_findings.py).
    listing = admin_client_.get("/admin/people/resident/").content.decode()
    page = admin_client_.get(
        f"/admin/people/resident/{world.resident_a.pk}/change/"
    ).content.decode()
    assert world.resident_a.id_number_masked in listing
    assert world.resident_a.id_number not in page + listing


@pytest.mark.parametrize(
    "path",
    [
        "alerts/alert",
        "alerts/device",
        "alerts/escalationpolicy",
        "alerts/alert/add",
        "alerts/alarmaccount",
    ],
)
def test_alert_admin_pages_render(admin_client_: Client, path: str) -> None:
    assert admin_client_.get(f"/admin/{path}/").status_code in (200, 403)


def test_registering_a_device_in_the_admin_shows_the_secret_once(
    admin_client_: Client, world: World
) -> None:
    from backend.alerts.models import Device

    response = admin_client_.post(
        "/admin/alerts/device/add/",
        {
            "device_id": "ADMIN-PENDANT-1",
            "kind": "pendant",
            "resident": world.resident_a.pk,
            "household": world.household_a.pk,
            "heartbeat_interval_s": 3600,
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
        },
        follow=True,
    )
    assert response.status_code == 200
    device = Device.objects.get(device_id="ADMIN-PENDANT-1")
    page = response.content.decode()
    assert device.secret in page
    assert len(device.secret) == 64


def test_b_posts_given_in_the_admin_tell_the_worker_at_once(
    admin_client_: Client, world: World, capture_events: CaptureEvents
) -> None:
    """The user page's B-post rows go through the accounts actions: the worker's phone hears
    that their visit list changed, in the same transaction as the new post."""
    derive_due_visits()
    worker = world.worker_b
    (existing,) = worker.b_posts.all()
    form = {
        "phone": worker.phone,
        "name": worker.name,
        "role": worker.role,
        "community": world.c1.pk,
        "is_active": "on",
        "b_posts-TOTAL_FORMS": "2",
        "b_posts-INITIAL_FORMS": "1",
        "b_posts-MIN_NUM_FORMS": "0",
        "b_posts-MAX_NUM_FORMS": "1000",
        "b_posts-0-id": existing.pk,
        "b_posts-0-user": worker.pk,
        "b_posts-0-grid": existing.grid_id,
        "b_posts-1-user": worker.pk,
        "b_posts-1-grid": world.grid_a.pk,
        "a_posts-TOTAL_FORMS": "0",
        "a_posts-INITIAL_FORMS": "0",
        "a_posts-MIN_NUM_FORMS": "0",
        "a_posts-MAX_NUM_FORMS": "1000",
    }
    with capture_events() as events:
        response = admin_client_.post(f"/admin/accounts/user/{worker.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert set(worker.b_posts.values_list("grid_id", flat=True)) == {
        existing.grid_id,
        world.grid_a.pk,
    }
    (told,) = events.of(worker, "visit.tasks_changed")
    assert told.urgent and told.data["reason"] == "grid_assigned"
    assert told.data["grid_ids"] == [world.grid_a.pk]


def test_the_duty_roster_is_edited_in_the_admin(admin_client_: Client, world: World) -> None:
    from backend.accounts.models import DutyShift

    response = admin_client_.post(
        "/admin/accounts/dutyshift/add/",
        {
            "user": world.worker_b.pk,
            "community": world.c1.pk,
            "grid": world.grid_b.pk,
            "starts_at_0": "2026-12-01",
            "starts_at_1": "08:00:00",
            "ends_at_0": "2026-12-01",
            "ends_at_1": "17:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    shift = DutyShift.objects.get(user=world.worker_b)
    assert shift.grid == world.grid_b
    backwards = admin_client_.post(
        f"/admin/accounts/dutyshift/{shift.pk}/change/",
        {
            "user": world.worker_b.pk,
            "community": world.c1.pk,
            "starts_at_0": "2026-12-01",
            "starts_at_1": "18:00:00",
            "ends_at_0": "2026-12-01",
            "ends_at_1": "17:00:00",
        },
    )
    assert backwards.status_code == 200  # the form shows the error; nothing changes
    shift.refresh_from_db()
    assert shift.grid == world.grid_b
    admin_client_.post(f"/admin/accounts/dutyshift/{shift.pk}/delete/", {"post": "yes"})
    assert not DutyShift.objects.filter(user=world.worker_b).exists()
