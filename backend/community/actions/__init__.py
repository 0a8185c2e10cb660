"""Writes of community life, one module per use case group: `notices` (draft, attachments,
publish, read receipts, objections), `polls` (open, vote in the app or at the door, close on
the clock), `hearings` (invite, register, check in, opinions, conclude)."""

from .hearings import (
    FollowUpIn,
    HearingDraft,
    do_check_in,
    do_conclude_hearing,
    do_create_hearing,
    do_invite,
    do_record_opinion,
    do_register,
)
from .notices import (
    NOTICE_DOOR,
    NoticeDraft,
    do_add_attachment,
    do_create_notice,
    do_object,
    do_publish_notice,
    do_read_by_link,
    do_read_in_app,
    do_tell_in_person,
    publish,
)
from .polls import (
    POLL_CLOSE,
    PollDraft,
    close_poll,
    do_create_poll,
    do_open_poll,
    do_vote,
    do_vote_at_door,
)

__all__ = [
    "NOTICE_DOOR",
    "POLL_CLOSE",
    "FollowUpIn",
    "HearingDraft",
    "NoticeDraft",
    "PollDraft",
    "close_poll",
    "do_add_attachment",
    "do_check_in",
    "do_conclude_hearing",
    "do_create_hearing",
    "do_create_notice",
    "do_create_poll",
    "do_invite",
    "do_object",
    "do_open_poll",
    "do_publish_notice",
    "do_read_by_link",
    "do_read_in_app",
    "do_record_opinion",
    "do_register",
    "do_tell_in_person",
    "do_vote",
    "do_vote_at_door",
    "publish",
]
