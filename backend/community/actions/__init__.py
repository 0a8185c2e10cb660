"""Writes of community life, one module per use case group: `notices` (draft, attachments,
publish, read receipts, objections), `polls` (open, vote in the app or at the door, close on
the clock), `hearings` (invite, register, check in, opinions, conclude), `volunteers`
(registry, needs matched by distance and consent, hours confirmed once), `groups` (grid
self-governance groups: members, meetings, proposals), `topics` (民主议事: topics residents
and groups propose, supported up to the community's threshold, moderated, taken up as a poll
or a hearing), `calls` (a poll or a hearing invitation read out by voice call to residents
without smartphones; the keypress votes or registers)."""

from .calls import do_call_hearing, do_call_poll
from .groups import (
    MeetingIn,
    do_add_member,
    do_create_group,
    do_decide_proposal,
    do_propose_topic,
    do_record_meeting,
)
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
from .topics import (
    TopicHearingIn,
    TopicPollIn,
    do_propose,
    do_reject_topic,
    do_support,
    do_topic_hearing,
    do_topic_poll,
)
from .volunteers import (
    NeedIn,
    VolunteerIn,
    do_accept_task,
    do_confirm_hours,
    do_create_volunteer_task,
    do_record_hours,
    do_register_volunteer,
)

__all__ = [
    "NOTICE_DOOR",
    "POLL_CLOSE",
    "FollowUpIn",
    "HearingDraft",
    "MeetingIn",
    "NeedIn",
    "NoticeDraft",
    "PollDraft",
    "TopicHearingIn",
    "TopicPollIn",
    "VolunteerIn",
    "close_poll",
    "do_accept_task",
    "do_add_attachment",
    "do_add_member",
    "do_call_hearing",
    "do_call_poll",
    "do_check_in",
    "do_conclude_hearing",
    "do_confirm_hours",
    "do_create_group",
    "do_create_hearing",
    "do_create_notice",
    "do_create_poll",
    "do_create_volunteer_task",
    "do_decide_proposal",
    "do_invite",
    "do_object",
    "do_open_poll",
    "do_propose",
    "do_propose_topic",
    "do_publish_notice",
    "do_read_by_link",
    "do_read_in_app",
    "do_record_hours",
    "do_record_meeting",
    "do_record_opinion",
    "do_register",
    "do_register_volunteer",
    "do_reject_topic",
    "do_support",
    "do_tell_in_person",
    "do_topic_hearing",
    "do_topic_poll",
    "do_vote",
    "do_vote_at_door",
    "publish",
]
