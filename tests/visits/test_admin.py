"""Visit rules and settings are edited in the admin; visits are read there."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from backend.visits.actions import derive_due_visits
from backend.visits.models import VisitRule
from tests.admin_login import admin_client_for
from tests.conftest import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(world: World) -> Client:
    return admin_client_for(world.admin)


@pytest.mark.parametrize(
    "path", ["visitrule", "visitrule/add", "visitsettings", "visittask", "visit"]
)
def test_pages_render(admin: Client, world: World, path: str) -> None:
    derive_due_visits()
    assert admin.get(f"/admin/visits/{path}/").status_code == 200


def test_a_rule_is_added_with_care_tag_checkboxes(admin: Client, world: World) -> None:
    response = admin.post(
        "/admin/visits/visitrule/add/",
        {
            "community": world.c1.pk,
            "name": "独居 living alone",
            "tags": ["living_alone"],
            "match": "all",
            "interval_days": 14,
            "active": "on",
        },
    )
    assert response.status_code == 302, response.content
    rule = VisitRule.objects.get()
    assert (rule.tags, rule.interval_days) == (["living_alone"], 14)
    page = admin.get(f"/admin/visits/visitrule/{rule.pk}/change/").content.decode()
    assert re.search(r'value="living_alone"[^>]*checked', page)
    assert not re.search(r'value="aged_80"[^>]*checked', page)
    bad = admin.post(
        "/admin/visits/visitrule/add/",
        {"name": "x", "tags": ["vip"], "match": "all", "interval_days": 0},
    )
    assert bad.status_code == 200 and VisitRule.objects.count() == 1
