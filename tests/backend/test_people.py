"""Residents' sensitive data: checksum-validated ID numbers, encrypted at rest, masked."""

from __future__ import annotations

from datetime import date

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.db import connection

from backend.accounts.selectors import scope_for
from backend.audit.models import AuditEvent
from backend.core.errors import ApiError, NotFound
from backend.people import idnumbers
from backend.people.actions import do_create_resident
from backend.people.models import Resident
from backend.people.selectors import read_resident
from tests.conftest import World, make_id_number

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("11010519491231002X", True),  # the GB 11643 example
        ("11010519491231002x", True),
        ("110105194912310021", False),  # wrong check digit
        ("11010519491231002", False),
        ("1101051949123100AX", False),
        ("", False),
    ],
)
def test_checksum(value: str, valid: bool) -> None:
    assert idnumbers.is_valid(value) is valid


def test_mask_keeps_region_and_last_four() -> None:
    assert idnumbers.mask("11010519491231002X") == "110105********002X"


def test_a_database_dump_does_not_show_id_numbers_or_health_notes(world: World) -> None:
    clear = world.resident_a.id_number
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT row_to_json(r)::text FROM people_resident r WHERE id = %s",
            [world.resident_a.pk],
        )
        (row,) = cursor.fetchone()
    assert clear not in row
    assert clear[6:14] not in row  # not even the birth date part
    assert "高血压" not in row
    assert Resident.objects.get(pk=world.resident_a.pk).id_number == clear


def test_reading_with_the_wrong_key_fails_loudly(world: World, settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(InvalidToken):
        Resident.objects.get(pk=world.resident_a.pk)


def test_key_rotation_reads_old_rows_and_writes_with_the_new_key(world: World, settings) -> None:
    old = list(settings.FIELD_ENCRYPTION_KEYS)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *old]
    resident = Resident.objects.get(pk=world.resident_a.pk)
    resident.save()
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]
    assert Resident.objects.get(pk=world.resident_a.pk).id_number == world.resident_a.id_number


def test_invalid_and_duplicate_id_numbers_are_refused_and_change_nothing(world: World) -> None:
    before = Resident.objects.count()
    with pytest.raises(ApiError) as bad:
        do_create_resident(
            household=world.household_a,
            name="赵六",
            gender="M",
            birth_date=date(1960, 1, 1),
            id_number="110105194912310021",
            legal_basis="consent",
        )
    assert bad.value.fields == {"id_number": "id_number_invalid"}
    with pytest.raises(ApiError) as dup:
        do_create_resident(
            household=world.household_a,
            name="赵六",
            gender="M",
            birth_date=date(1960, 1, 1),
            id_number=world.resident_b.id_number.lower(),
            legal_basis="consent",
        )
    assert dup.value.fields == {"id_number": "id_number_duplicate"}
    with pytest.raises(ApiError):
        do_create_resident(
            household=world.household_a,
            name="赵六",
            gender="M",
            birth_date=date(1960, 1, 1),
            id_number=make_id_number(999),
            legal_basis="consent",
            tags=["vip"],
        )
    assert Resident.objects.count() == before


def test_every_reader_of_a_resident_record_is_audited_by_the_selector(world: World) -> None:
    """The audit is written where the record is read, so a reader other than the mobile API
    (the board, an export, a command) cannot skip it."""
    scope = scope_for(world.worker_a)
    resident = read_resident(scope, world.resident_a.pk, reader=world.worker_a, client="cli")
    assert resident == world.resident_a
    event = AuditEvent.objects.get()
    assert (event.actor, event.target_type, event.target_id, event.client, event.ip) == (
        world.worker_a,
        "resident",
        world.resident_a.pk,
        "cli",
        None,
    )
    with pytest.raises(NotFound):  # out of scope: 404, and nothing is read or written
        read_resident(scope, world.resident_b.pk, reader=world.worker_a)
    assert AuditEvent.objects.count() == 1
