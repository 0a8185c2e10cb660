"""The process from the command line and the Django admin: the same actions, the same refusals."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from backend.assessment.models import Period, ProcessStep
from tests.admin_login import admin_client_for
from tests.conftest import World

from .fixtures import build, worker_scheme

pytestmark = pytest.mark.django_db


def run(*args: Any) -> str:
    out = io.StringIO()
    call_command("assessment_period", *args, stdout=out)
    return out.getvalue()


def test_the_command_opens_and_moves_a_period(world: World) -> None:
    build(world)
    scheme = worker_scheme(world)
    common = ["--scheme", str(scheme.pk), "--year", "2026", "--quarter", "3", "--by"]
    assert "2 scorecards" in run("open", *common, world.admin.phone)
    assert "self_review" in run("self_review", *common, world.admin.phone)
    with pytest.raises(CommandError, match="period_wrong_state"):
        run("publish", *common, world.admin.phone)
    with pytest.raises(CommandError, match="permission_denied"):
        run("scoring", *common, world.worker_a.phone)
    assert Period.objects.get().state == "self_review"


def test_the_admin_actions_record_the_administrator(world: World, settings: Any) -> None:
    build(world)
    scheme = worker_scheme(world)
    run("open", "--scheme", str(scheme.pk), "--year", "2026", "--quarter", "3",
        "--by", world.admin.phone)  # fmt: skip
    client = admin_client_for(world.admin)  # the board's log-in and TOTP, as the admin wants
    for path in ("scheme", "indicatorgroup", "period", "processstep", "appeal", "followup"):
        assert client.get(f"/admin/assessment/{path}/").status_code == 200, path
    scheme_page = client.get(f"/admin/assessment/scheme/{scheme.pk}/change/")
    assert scheme_page.status_code == 200 and b'name="name"' not in scheme_page.content  # frozen
    period = Period.objects.get()
    response = client.post(
        "/admin/assessment/period/",
        {"action": "to_self_review", "_selected_action": [period.pk]},
        follow=True,
    )
    assert response.status_code == 200
    period.refresh_from_db()
    assert period.state == "self_review"
    step = ProcessStep.objects.filter(kind="self_review").get()
    assert step.actor == world.admin
