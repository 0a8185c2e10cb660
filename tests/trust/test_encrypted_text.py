"""A visit task's reason and a case's description (a referral carries the visit's finding) are
encrypted at rest like people's health notes (issue 11 item 1); the migrations encrypt the
rows written before (backend.core.fields.encrypt_column, as visits 0002 did)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.utils import timezone

from backend.core.fields import encrypt_column
from backend.servicedesk.models import Case
from backend.visits.actions import do_raise_visit_task
from backend.visits.models import TaskKind, VisitTask
from tests.servicedesk.conftest import Desk, desk, file_case, media_root  # noqa: F401

pytestmark = pytest.mark.django_db

HEALTH = "回访：已送医，胰岛素依赖型糖尿病"


def _raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return str(cursor.fetchone()[0])


def _task(desk: Desk) -> VisitTask:  # noqa: F811
    with transaction.atomic():
        task, _ = do_raise_visit_task(
            household=desk.world.household_a,
            kind=TaskKind.FINDING_FOLLOW_UP,
            reason=HEALTH,
            due_at=timezone.now() + timedelta(days=1),
        )
    return task


def test_a_task_reason_and_a_case_description_are_encrypted_at_rest(desk: Desk) -> None:  # noqa: F811
    task = _task(desk)
    case = file_case(desk)
    Case.objects.filter(pk=case.pk).update(description=HEALTH)
    for table, column, pk in (
        (VisitTask._meta.db_table, "reason", task.pk),
        (Case._meta.db_table, "description", case.pk),
    ):
        stored = _raw(table, column, pk)
        assert "糖尿病" not in stored and stored.startswith("gAAAA"), column
    assert VisitTask.objects.get(pk=task.pk).reason == HEALTH
    assert Case.objects.get(pk=case.pk).description == HEALTH


def test_the_migrations_encrypt_rows_written_in_clear(desk: Desk) -> None:  # noqa: F811
    task = _task(desk)
    case = file_case(desk)
    with connection.cursor() as cursor:  # as the rows were before the migration
        cursor.execute(
            f"UPDATE {VisitTask._meta.db_table} SET reason = %s WHERE id = %s",  # noqa: S608
            [HEALTH, task.pk],
        )
        cursor.execute(
            f"UPDATE {Case._meta.db_table} SET description = %s WHERE id = %s",  # noqa: S608
            [HEALTH, case.pk],
        )
    with connection.schema_editor() as editor:
        encrypt_column(apps, editor, app="visits", model="VisitTask", fields=["reason"])
        encrypt_column(apps, editor, app="servicedesk", model="Case", fields=["description"])
        again = _raw(Case._meta.db_table, "description", case.pk)
        encrypt_column(apps, editor, app="servicedesk", model="Case", fields=["description"])
    assert _raw(VisitTask._meta.db_table, "reason", task.pk).startswith("gAAAA")
    assert _raw(Case._meta.db_table, "description", case.pk) == again  # run twice: unchanged
    assert VisitTask.objects.get(pk=task.pk).reason == HEALTH
    assert Case.objects.get(pk=case.pk).description == HEALTH
