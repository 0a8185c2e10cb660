"""The admin works for a district administrator, with Leaflet shipped locally (no CDN)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.conftest import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(world: World) -> Client:
    world.admin.is_staff = world.admin.is_superuser = True
    world.admin.save()
    client = Client()
    client.force_login(world.admin)
    return client


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
    page = admin_client_.get(
        f"/admin/people/resident/{world.resident_a.pk}/change/"
    ).content.decode()
    assert world.resident_a.id_number_masked in page
    assert world.resident_a.id_number not in page


@pytest.mark.parametrize(
    "path", ["alerts/alert", "alerts/device", "alerts/escalationpolicy", "alerts/alert/add"]
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
