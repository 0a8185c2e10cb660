"""The event stream's lock order: actions that tell overlapping groups never deadlock."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction

from backend.core import stream
from backend.core.models import StreamEvent
from tests.conftest import World

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_actions_telling_two_users_in_opposite_orders_do_not_deadlock(world: World) -> None:
    a, b = world.worker_a.pk, world.supervisor_1.pk
    with transaction.atomic():  # both cursors exist, so both transactions will lock rows
        stream.record_events(user_ids=[a, b], type="warm", data={})
    halfway = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def action(first: int, second: int) -> None:
        try:
            with transaction.atomic(), stream.batch():
                stream.record_events(user_ids=[first], type="one", data={})
                halfway.wait()  # the other action has told its first user too
                stream.record_events(user_ids=[second], type="two", data={})
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=action, args=(a, b)),
        threading.Thread(target=action, args=(b, a)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    for user in (a, b):
        seqs = list(
            StreamEvent.objects.filter(user_id=user).order_by("seq").values_list("seq", flat=True)
        )
        assert seqs == [1, 2, 3]


def test_a_batch_that_fails_writes_nothing(world: World) -> None:
    def fail() -> Any:
        with transaction.atomic(), stream.batch():
            stream.record_events(user_ids=[world.worker_a.pk], type="lost", data={})
            raise RuntimeError("the action failed")

    with pytest.raises(RuntimeError):
        fail()
    assert not StreamEvent.objects.exists()
    assert stream.current_seq(world.worker_a.pk) == 0
