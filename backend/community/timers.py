"""The community clock handlers: a notice's door-to-door round for the households it has not
reached, and a poll's closing. Both run once per timer (backend.core.clock)."""

from __future__ import annotations

from backend.core import clock
from backend.core.models import Timer
from backend.visits.actions import do_raise_visit_task
from backend.visits.models import TaskKind

from .actions import NOTICE_DOOR, POLL_CLOSE, close_poll
from .models import Notice, NoticeAddressee


@clock.handles(NOTICE_DOOR)
def notice_door(timer: Timer) -> None:
    """Households not reached by app or SMS go on their grid workers' visit lists, due by
    the end of the window."""
    notice = Notice.objects.filter(pk=int(timer.key), state=Notice.State.PUBLISHED).first()
    if notice is None or notice.ends_at is None:
        return
    rows = NoticeAddressee.objects.filter(notice=notice, read_at__isnull=True).select_related(
        "household__grid"
    )
    for row in rows.order_by("pk"):
        do_raise_visit_task(
            household=row.household,
            kind=TaskKind.NOTICE,
            reason=f"告知公示：{notice.title}"[:300],
            due_at=notice.ends_at,
            source_kind="notice",
            source_ref=f"{notice.pk}:{row.household_id}",
            data={"notice_id": notice.pk},
        )


@clock.handles(POLL_CLOSE)
def poll_close(timer: Timer) -> None:
    close_poll(int(timer.key))
