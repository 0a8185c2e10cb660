"""The findings of the security review (issue 11), one test (or more) per row: each failed
on the main branch before the fix."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from base64 import b32encode
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.utils import timezone

from backend.accounts.actions import do_enrol_totp
from backend.accounts.models import TOTPKey
from backend.people.actions import do_create_resident
from backend.people.idnumbers import mask
from backend.people.models import LegalBasis
from backend.visits.models import Visit, VisitFinding
from tests.admin_login import admin_client_for
from tests.backend.lockout_probe import guess_in_parallel
from tests.conftest import PASSWORD, World, make_id_number

ROOT = Path(__file__).resolve().parents[2]


# -- the admin: password under the lock-out, then TOTP; keys never shown ---------------------


@pytest.mark.django_db
def test_the_admin_has_no_password_only_log_in(world: World) -> None:
    world.admin.is_staff = world.admin.is_superuser = True
    world.admin.save()
    client = Client()
    # The admin's own form is gone: it sends the caller to the board's log-in.
    page = client.get("/admin/login/?next=/admin/")
    assert page.status_code == 302 and page["Location"].startswith("/board/login/")
    posted = client.post("/admin/login/", {"username": world.admin.phone, "password": PASSWORD})
    assert posted.status_code == 302
    assert client.get("/admin/").status_code == 302
    # A password-only Django log-in (no verified second factor) does not open the admin.
    client.force_login(world.admin)
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_twelve_wrong_passwords_then_the_right_one_do_not_open_the_admin(world: World) -> None:
    world.admin.is_staff = world.admin.is_superuser = True
    world.admin.save()
    do_enrol_totp(user=world.admin)
    client = Client()
    for i in range(12):
        wrong = client.post(
            "/board/login/?next=/admin/", {"phone": world.admin.phone, "password": f"x{i}"}
        )
        assert wrong.status_code in (401, 429)
    right = client.post(
        "/board/login/?next=/admin/", {"phone": world.admin.phone, "password": PASSWORD}
    )
    assert right.status_code == 429
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_password_then_code_open_the_admin_and_log_out_closes_it(world: World) -> None:
    client = admin_client_for(world.admin)
    assert client.get("/admin/").status_code == 200
    assert client.post("/admin/logout/").status_code == 302
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_no_admin_page_shows_a_totp_key_and_keys_are_encrypted_at_rest(world: World) -> None:
    client = admin_client_for(world.admin)
    device = TOTPKey.objects.get(user=world.admin)
    secrets = [device.key, b32encode(device.bin_key).decode()]
    for model in admin.site._registry:
        opts = model._meta
        page = client.get(f"/admin/{opts.app_label}/{opts.model_name}/")
        assert page.status_code == 200, opts.label
        assert not any(s in page.content.decode() for s in secrets), opts.label
    users = client.get(f"/admin/accounts/user/{world.admin.pk}/change/").content.decode()
    assert not any(s in users for s in secrets)
    with connection.cursor() as cursor:
        cursor.execute("SELECT key FROM accounts_totpkey WHERE id = %s", [device.pk])
        stored = cursor.fetchone()[0]
    assert device.key not in stored and stored.startswith("gAAAA")  # a Fernet token


@pytest.mark.django_db
def test_the_demo_totp_key_is_refused_in_production(world: World, settings: Any) -> None:
    from backend.accounts.actions import DEMO_TOTP_KEY_HEX
    from backend.core.errors import ApiError

    settings.PRODUCTION = True
    with pytest.raises(ApiError):
        do_enrol_totp(user=world.supervisor_1, key_hex=DEMO_TOTP_KEY_HEX)
    assert not TOTPKey.objects.filter(user=world.supervisor_1).exists()


# -- the ID number cannot be completed from what the same caller is served -----------------


@pytest.mark.django_db
def test_the_resident_detail_serves_age_not_the_birth_date(world: World, client_for: Any) -> None:
    body = client_for(world.worker_a).get(f"/api/v1/residents/{world.resident_a.pk}").json()
    assert body["id_number_masked"] == world.resident_a.id_number_masked
    assert "birth_date" not in body
    born = world.resident_a.birth_date
    assert body["age"] in (
        timezone.localdate().year - born.year - 1,
        timezone.localdate().year - born.year,
    )
    text = json.dumps(body)
    # No served value holds the eight digits the mask hides.
    assert world.resident_a.id_number[6:14] not in text
    assert born.strftime("%Y%m%d") not in text and born.isoformat() not in text


@pytest.mark.django_db
def test_the_admin_does_not_show_the_mask_beside_the_birth_date(world: World) -> None:
    client = admin_client_for(world.admin)
    page = client.get(f"/admin/people/resident/{world.resident_a.pk}/change/").content.decode()
    assert world.resident_a.id_number_masked not in page
    listing = client.get("/admin/people/resident/").content.decode()
    assert world.resident_a.id_number_masked in listing
    assert world.resident_a.birth_date.isoformat() not in listing
    assert mask(world.resident_a.id_number) == world.resident_a.id_number_masked


# -- the lock-out under 100 parallel guesses: PostGIS and SQLite -----------------------------


def _assert_held(report: dict[str, Any]) -> None:
    statuses = {int(k): v for k, v in report["statuses"].items()}
    assert sum(statuses.values()) == 100, statuses
    assert statuses.get(401, 0) <= 5, statuses  # at most five passwords were checked
    assert set(statuses) <= {401, 429}, statuses
    assert report["right_status"] == 429 and report["right_code"] == "account_locked", report


@pytest.mark.django_db(transaction=True)
def test_the_lock_out_holds_under_100_parallel_guesses_on_postgis(
    world: World, settings: Any
) -> None:
    # The account's lock-out, not the per-address rate limit (tests/trust/test_rate_limits.py).
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_ip": "10000/m"}
    _assert_held(guess_in_parallel(world.worker_a.phone, PASSWORD))


@pytest.mark.slow
def test_the_lock_out_holds_under_100_parallel_guesses_on_sqlite_and_the_file_is_600(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["GRIDLINE_DATA_DIR"] = str(tmp_path)
    env["RATE_LOGIN_PER_IP"] = "10000/m"  # the account's lock-out, not the address's limit
    result = subprocess.run(
        [sys.executable, "-m", "tests.backend.lockout_probe"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["engine"] == "backend.core.spatialite"
    _assert_held(report)
    assert report["file_mode"] == "0o600"
    assert (tmp_path / "gridline.sqlite3").stat().st_mode & 0o077 == 0


# -- A-post scope -----------------------------------------------------------------------------


def _housemate(world: World) -> Any:
    """A young, chronically ill housemate of resident_a: outside the elderly-care line."""
    return do_create_resident(
        household=world.household_a,
        name="张小明",
        gender="M",
        birth_date=date(1990, 2, 3),
        id_number=make_id_number(9001, date(1990, 2, 3)),
        legal_basis=LegalBasis.STATUTORY_DUTY,
        tags=["chronic_illness"],
    )


@pytest.mark.django_db
def test_a_care_tag_filter_reveals_nothing_of_an_out_of_scope_housemate(
    world: World, client_for: Any
) -> None:
    housemate = _housemate(world)
    officer = client_for(world.officer_elderly_1)
    assert officer.get(f"/api/v1/residents/{housemate.pk}").status_code == 404
    seen = [h["id"] for h in officer.get("/api/v1/households").json()["items"]]
    assert world.household_a.pk in seen
    ill = officer.get("/api/v1/households", {"care_tag": "chronic_illness"}).json()["items"]
    assert ill == []
    # The B post of the grid sees the housemate, so the filter does find the household there.
    worker = client_for(world.worker_a)
    found = worker.get("/api/v1/households", {"care_tag": "chronic_illness"}).json()["items"]
    assert [h["id"] for h in found] == [world.household_a.pk]


def _visit(world: World, worker: Any, post: str, note: str) -> Visit:
    now = timezone.now()
    visit = Visit.objects.create(
        client_uuid=uuid.uuid4(),
        worker=worker,
        household=world.household_a,
        grid=world.grid_a,
        community=world.c1,
        post=post,
        visited_at=now,
        counted_at=now,
        note=note,
        checklist={"health": {"status": "concern", "note": "血压 160/95"}},
    )
    VisitFinding.objects.create(
        visit=visit, category="health", description="insulin-dependent diabetes"
    )
    return visit


@pytest.mark.django_db
def test_an_a_post_reads_only_its_own_visits_of_a_household_it_sees(
    world: World, client_for: Any
) -> None:
    _housemate(world)
    b_visit = _visit(world, world.worker_a, Visit.Post.B, "张小明 insulin-dependent diabetes")
    a_visit = _visit(world, world.officer_elderly_1, Visit.Post.A, "张桂英 独居")
    officer = client_for(world.officer_elderly_1)
    assert officer.get(f"/api/v1/visits/{b_visit.client_uuid}").status_code == 404
    listed = officer.get("/api/v1/visits", {"household": world.household_a.pk}).json()["items"]
    assert [v["client_uuid"] for v in listed] == [str(a_visit.client_uuid)]
    worker = client_for(world.worker_a)
    assert worker.get(f"/api/v1/visits/{b_visit.client_uuid}").status_code == 200


# -- health text at rest ----------------------------------------------------------------------


@pytest.mark.django_db
def test_visit_notes_checklists_and_findings_are_encrypted_at_rest(world: World) -> None:
    visit = _visit(world, world.worker_a, Visit.Post.B, "insulin-dependent diabetes")
    with connection.cursor() as cursor:
        cursor.execute("SELECT note, checklist FROM visits_visit WHERE id = %s", [visit.pk])
        note, checklist = cursor.fetchone()
        cursor.execute(
            "SELECT description FROM visits_visitfinding WHERE visit_id = %s", [visit.pk]
        )
        (description,) = cursor.fetchone()
    for stored in (note, str(checklist), description):
        assert "diabetes" not in stored and "160/95" not in stored and stored.startswith("gAAAA")
    again = Visit.objects.get(pk=visit.pk)
    assert again.note == "insulin-dependent diabetes"
    assert again.checklist["health"]["note"] == "血压 160/95"
    assert re.search("diabetes", again.findings.get().description)
