"""The catalog: the shipped sample, and the admin where a district administrator edits it and
issues Open311 keys (shown once, stored as a digest)."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.test import Client

from backend.accounts.models import BusinessLine
from backend.servicedesk import sample_catalog
from backend.servicedesk.actions.keys import do_issue_open311_key
from backend.servicedesk.models import Case, Category, Open311Key
from tests.admin_login import admin_client_for

from .conftest import Desk, file_case

pytestmark = pytest.mark.django_db


def test_the_shipped_sample_catalog_is_realistic_and_consistent() -> None:
    rows = sample_catalog.rows()
    assert len(rows) >= 20
    names = {r["name_zh"] for r in rows}
    for expected in (
        "高龄津贴申领",
        "最低生活保障申请",
        "残疾人证办理",
        "居住证明开具",
        "养老保险待遇资格认证",
        "医疗保险报销代办",
        "临时救助申请",
    ):
        assert expected in names
    departments = {d["code"] for d in sample_catalog.DEPARTMENTS}
    for r in rows:
        assert r["is_sample"] and r["name_en"] and r["materials_zh"] and r["time_limit_days"] > 0
        assert r["category"] in Category.values
        assert (r["line"] in BusinessLine.values) != (r["department_code"] in departments)
        assert len(r["materials_zh"].splitlines()) == len(r["materials_en"].splitlines())


@pytest.fixture
def admin_client(desk: Desk) -> Client:
    admin = desk.world.admin
    return admin_client_for(admin)


@pytest.mark.parametrize(
    "path",
    [
        "serviceitem",
        "department",
        "calendarday",
        "open311key",
        "case",
        "caserating",
    ],
)
def test_changelists_render(admin_client: Client, path: str) -> None:
    assert admin_client.get(f"/admin/servicedesk/{path}/").status_code == 200


def test_admin_edits_an_item_and_sees_a_case(admin_client: Client, desk: Desk) -> None:
    item = desk.allowance
    page = admin_client.get(f"/admin/servicedesk/serviceitem/{item.pk}/change/")
    assert page.status_code == 200
    case = file_case(desk)
    assert admin_client.get(f"/admin/servicedesk/case/{case.pk}/change/").status_code == 200
    assert Case.objects.count() == 1


def test_an_open311_key_is_shown_once_and_stored_as_a_digest(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/servicedesk/open311key/add/",
        {"name": "12345 热线", "active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    shown = re.search(r"\(shown once\): (o311_[\w-]+)", response.content.decode())
    assert shown
    key = Open311Key.objects.get()
    assert key.digest == hashlib.sha256(shown.group(1).encode()).hexdigest()
    assert shown.group(1) not in str(Open311Key.objects.values().get())


def test_rotating_an_open311_key_in_the_admin_retires_the_old_one(admin_client: Client) -> None:
    key = Open311Key(name="12345 热线")
    old = do_issue_open311_key(key=key)
    response = admin_client.post(
        "/admin/servicedesk/open311key/",
        {"action": "rotate", "_selected_action": [key.pk]},
        follow=True,
    )
    shown = re.search(r"\(shown once\): (o311_[\w-]+)", response.content.decode())
    assert shown and shown.group(1) != old
    assert Client().get("/open311/v2/requests.json", {"api_key": old}).status_code == 403
    assert Client().get("/open311/v2/requests.json", {"api_key": shown.group(1)}).status_code == 200
