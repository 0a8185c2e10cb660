"""Writes of the service desk, one module per use case group: `intake` (filing a case from
any channel), `workflow` (the transition table and one function per step), `sla` (the
working-day clocks), `documents` (consent, documents, comments, ratings). What the stream
and the SMS texts say is in `backend.servicedesk.events`.

Every step locks the case row (SELECT ... FOR UPDATE), checks the state first (an illegal
transition is 409 and changes nothing), then who may do it, and writes the new state, its
timeline step, its stream events and its clock timers in one transaction.
"""

from .documents import do_add_document, do_comment, do_rate
from .intake import (
    STAFF_CHANNELS,
    Filed,
    PublicFiler,
    check_intake,
    do_file_case,
    do_intake,
    do_open311_intake,
    grid_at,
    next_number,
)
from .sla import SLA_OVERDUE, SLA_WARNING, WARN_AT, sla_check, used_seconds
from .workflow import (
    DELIVERY_METHODS,
    DELIVERY_WITHIN,
    TRANSITIONS,
    Transition,
    do_confirm_consent,
    do_transition,
    within_geofence,
)

__all__ = [
    "DELIVERY_METHODS",
    "DELIVERY_WITHIN",
    "SLA_OVERDUE",
    "SLA_WARNING",
    "STAFF_CHANNELS",
    "TRANSITIONS",
    "WARN_AT",
    "Filed",
    "PublicFiler",
    "Transition",
    "check_intake",
    "do_add_document",
    "do_comment",
    "do_confirm_consent",
    "do_file_case",
    "do_intake",
    "do_open311_intake",
    "do_rate",
    "do_transition",
    "grid_at",
    "next_number",
    "sla_check",
    "used_seconds",
    "within_geofence",
]
