"""Scope's one translation into query filters: the grants a domain adds (an alert one was
called to, a case one filed) hold for an active user and vanish with the account."""

from __future__ import annotations

import pytest
from django.db.models import Q

from backend.accounts.selectors import scope_for
from backend.alerts.actions import do_assign
from backend.alerts.selectors import alerts_for
from backend.servicedesk.models import Case
from backend.servicedesk.selectors import cases_for
from backend.territory.models import Household
from backend.territory.scope import NOBODY, Scope, scope_filter
from tests.alerts.conftest import SignedDevice, alert_of
from tests.alerts.conftest import device_a as device_a
from tests.conftest import World
from tests.servicedesk.conftest import Desk, file_case
from tests.servicedesk.conftest import desk as desk

pytestmark = pytest.mark.django_db


def households(scope: Scope, also: Q | None = None) -> int:
    where = scope_filter(
        scope,
        grid="grid_id",
        community="grid__community_id",
        district="grid__community__district_id",
        also=also,
    )
    return Household.objects.filter(where).count()


def test_nobody_gets_nothing_not_even_grants(world: World) -> None:
    assert households(NOBODY) == 0
    assert households(NOBODY, also=Q(pk__isnull=False)) == 0  # a grant of every row
    assert households(scope_for(world.admin)) == Household.objects.count() > 0


def test_an_alert_one_was_called_to_is_seen_until_the_account_is_closed(
    world: World, device_a: SignedDevice
) -> None:
    alert = alert_of(device_a.press())  # in grid A; worker B holds grid B
    assert not alerts_for(world.worker_b).filter(pk=alert.pk).exists()
    do_assign(user=world.supervisor_1, alert_id=alert.pk, assignee_id=world.worker_b.pk)
    assert alerts_for(world.worker_b).filter(pk=alert.pk).exists()  # called to it
    world.worker_b.is_active = False
    world.worker_b.save(update_fields=["is_active"])
    assert not alerts_for(world.worker_b).exists()


def test_a_case_one_filed_is_seen_until_the_account_is_closed(desk: Desk, world: World) -> None:
    case = file_case(desk, by=world.worker_b, resident=world.resident_a)  # grid A's resident
    assert cases_for(world.worker_b).filter(pk=case.pk).exists()  # filed it
    assert not Case.objects.filter(pk=case.pk, grid_id__in=[world.grid_b.pk]).exists()
    world.worker_b.is_active = False
    world.worker_b.save(update_fields=["is_active"])
    assert not cases_for(world.worker_b).exists()
