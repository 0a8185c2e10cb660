"""Writes for visits, one module per use case group: `tasks` (one-off tasks: follow-ups,
device checks, deliveries, raised by the domains above visits), `daily` (the daily derivation
of routine tasks), `checkin` (arrival at the door and the geofence), `sync` (the offline batch
of visit records), `photos` (visit photos). What the stream says is in `backend.visits.events`.

Every write runs in one transaction with its stream events: a new or changed task reaches the
grid's B-post workers on the stream (urgent ones are pushed to phones without a live socket).
"""

from .checkin import check_may_visit, do_check_in, fence_for, get_visitable_household
from .daily import derive_due_visits, start_of
from .photos import MAX_PHOTOS_PER_VISIT, PHOTO_SUBJECT, do_add_visit_photo
from .sync import FindingRecord, SyncResult, VisitRecord, do_sync_visits
from .tasks import ONE_OFF_WITHIN, do_cancel_visit_task, do_raise_visit_task

__all__ = [
    "MAX_PHOTOS_PER_VISIT",
    "ONE_OFF_WITHIN",
    "PHOTO_SUBJECT",
    "FindingRecord",
    "SyncResult",
    "VisitRecord",
    "check_may_visit",
    "derive_due_visits",
    "do_add_visit_photo",
    "do_cancel_visit_task",
    "do_check_in",
    "do_raise_visit_task",
    "do_sync_visits",
    "fence_for",
    "get_visitable_household",
    "start_of",
]
