"""Key rotation of FIELD_ENCRYPTION_KEYS: `manage.py rotate_field_keys` re-encrypts every
encrypted value with the newest key, after which the old key can go."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from backend.alerts.devices import do_register_device
from backend.alerts.models import Device
from backend.people.models import Resident
from tests.conftest import World

pytestmark = pytest.mark.django_db


def _raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return str(cursor.fetchone()[0])


def test_rotation_re_encrypts_every_field_so_the_old_key_can_go(world: World) -> None:
    old = settings.FIELD_ENCRYPTION_KEYS[0]
    new = Fernet.generate_key().decode()
    device, secret = do_register_device(
        device_id="PENDANT-ROT", kind="pendant", resident=world.resident_a
    )
    before = {r.pk: (r.id_number, r.health_notes) for r in Resident.objects.all()}
    table = Resident._meta.db_table

    with override_settings(FIELD_ENCRYPTION_KEYS=[new, old]):
        out = io.StringIO()
        call_command("rotate_field_keys", "--batch", "2", stdout=out)
        assert f"people.Resident: {len(before)} row(s)" in out.getvalue()
        assert "alerts.Device: 1 row(s)" in out.getvalue()
        again = io.StringIO()
        call_command("rotate_field_keys", stdout=again)  # nothing left to do
        assert "people.Resident: 0 row(s)" in again.getvalue()

    token = _raw(table, "id_number", world.resident_a.pk)
    assert Fernet(new.encode()).decrypt(token.encode()).decode() == world.resident_a.id_number
    with pytest.raises(InvalidToken):
        Fernet(old.encode()).decrypt(token.encode())

    with override_settings(FIELD_ENCRYPTION_KEYS=[new]):  # the old key dropped
        after = {r.pk: (r.id_number, r.health_notes) for r in Resident.objects.all()}
        assert after == before
        assert Device.objects.get(pk=device.pk).secret == secret
