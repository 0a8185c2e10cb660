"""Notices (公示): a draft with attachments, published to the households of its area for a
window, read receipts by channel, objections as service-desk cases during the window."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from backend.accounts.models import Role, User
from backend.accounts.selectors import b_post_workers, scope_for
from backend.community import selectors
from backend.community.area import AreaIn, check_author, households_in, resolve_area
from backend.community.models import (
    Notice,
    NoticeAddressee,
    NoticeAttachment,
    NoticeObjection,
    ReadChannel,
)
from backend.core import clock
from backend.core.errors import ApiError, NotFound
from backend.core.stream import record_events
from backend.people.models import Resident
from backend.people.selectors import get_resident
from backend.photos import pipeline
from backend.servicedesk.actions import do_intake
from backend.servicedesk.models import Channel, ServiceItem
from backend.visits.actions import do_cancel_visit_task
from backend.visits.models import TaskKind, Visit

NOTICE_DOOR = "community.notice_door"
MAX_WINDOW_DAYS = 90
MAX_ATTACHMENTS = 10
MAX_PDF_BYTES = 10 * 1024 * 1024
TEXT_LIMITS = {"title": 200, "body": 20_000}
ADDRESSEE_BATCH = 2000


def _invalid(field: str, code: str = "field_invalid") -> ApiError:
    return ApiError("validation_error", status=422, fields={field: code})


def objection_item(code: str | None = None) -> ServiceItem:
    """The catalog item objections are filed as (settings.COMMUNITY_OBJECTION_ITEM by default)."""
    item = ServiceItem.objects.filter(
        code=code or settings.COMMUNITY_OBJECTION_ITEM, active=True
    ).first()
    if item is None:
        raise _invalid("objection_item_code")
    return item


@dataclass(frozen=True)
class NoticeDraft:
    kind: str
    title: str
    body: str
    area: AreaIn
    window_days: int = 7
    door_after_hours: int = 48
    send_sms: bool = True
    objection_item_code: str | None = None


def _check_draft(draft: NoticeDraft) -> None:
    for name, limit in TEXT_LIMITS.items():
        value = getattr(draft, name)
        if not value.strip():
            raise _invalid(name, "field_required")
        if len(value) > limit:
            raise _invalid(name, "field_too_long")
    if not 1 <= draft.window_days <= MAX_WINDOW_DAYS:
        raise _invalid("window_days", "field_out_of_range")
    if not 0 <= draft.door_after_hours <= 24 * MAX_WINDOW_DAYS:
        raise _invalid("door_after_hours", "field_out_of_range")


def do_create_notice(*, user: User, draft: NoticeDraft) -> Notice:
    """A draft notice for an area the author (a supervisor or district administrator) may
    address."""
    _check_draft(draft)
    area = resolve_area(user=user, area=draft.area)
    return Notice.objects.create(
        kind=draft.kind,
        title=draft.title.strip(),
        body=draft.body.strip(),
        window_days=draft.window_days,
        door_after_hours=draft.door_after_hours,
        send_sms=draft.send_sms,
        objection_item=objection_item(draft.objection_item_code),
        created_by=user,
        **area,
    )


def _draft_of(user: User, notice_id: int) -> Notice:
    """The notice, locked, for its author's side: in scope (else 404), an author (403), a
    draft (409)."""
    notice = selectors.get_notice(user, notice_id)
    check_author(user)
    notice = Notice.objects.select_for_update().get(pk=notice.pk)
    if notice.state != Notice.State.DRAFT:
        raise ApiError("notice_wrong_state", status=409)
    return notice


def do_add_attachment(
    *, user: User, notice_id: int, data: bytes, filename: str, label: str = ""
) -> NoticeAttachment:
    """A photo (through the photo pipeline: re-encoded, metadata stripped) or a PDF (checked
    by its first bytes, at most 10 MB) for a draft notice."""
    with transaction.atomic():
        notice = _draft_of(user, notice_id)
        if notice.attachments.count() >= MAX_ATTACHMENTS:
            raise ApiError("notice_attachment_limit", status=422)
        if data.startswith(b"%PDF-"):
            if len(data) > MAX_PDF_BYTES:
                raise ApiError("attachment_too_large", status=413, fields={"file": "too_large"})
            kind, content, name = NoticeAttachment.Kind.PDF, data, "document.pdf"
        else:
            processed = pipeline.process(data)  # 413/422 for what is not a usable photo
            kind, content, name = NoticeAttachment.Kind.PHOTO, processed.display, "photo.jpg"
        attachment = NoticeAttachment(
            notice=notice,
            kind=kind,
            label=(label or filename)[:100],
            size=len(content),
            added_by=user,
        )
        attachment.file.save(name, ContentFile(content), save=False)
        attachment.save()
    return attachment


def do_publish_notice(*, user: User, notice_id: int) -> Notice:
    """Publish a draft: fix its households, open the window, queue an SMS link for each
    household (sent by the dispatcher), and set the timer that puts the households not reached
    by then on the workers' visit lists."""
    with transaction.atomic():
        notice = _draft_of(user, notice_id)
        publish(notice, by=user)
    return notice


def publish(notice: Notice, *, by: User) -> int:
    """Publish `notice` (a draft, locked or new) now; returns how many households it is for.
    Also used by polls and hearings for the notices they write. Call inside a transaction."""
    now = timezone.now()
    households = list(households_in(notice).values_list("pk", "grid_id"))
    if not households:
        raise ApiError("area_empty", status=422)
    sms = NoticeAddressee.Sms.PENDING if notice.send_sms else NoticeAddressee.Sms.OFF
    NoticeAddressee.objects.bulk_create(
        [
            NoticeAddressee(notice=notice, household_id=h, grid_id=g, sms_state=sms)
            for h, g in households
        ],
        batch_size=ADDRESSEE_BATCH,
    )
    notice.state = Notice.State.PUBLISHED
    notice.published_at = now
    notice.published_by = by
    notice.ends_at = now + timedelta(days=notice.window_days)
    notice.save(update_fields=["state", "published_at", "published_by", "ends_at"])
    door_at = min(now + timedelta(hours=notice.door_after_hours), notice.ends_at)
    clock.schedule(kind=NOTICE_DOOR, key=str(notice.pk), due_at=door_at)
    grids = {g for _, g in households}
    workers = {u for users in b_post_workers(grids).values() for u in users}
    record_events(
        user_ids=workers,
        type="community.notice",
        data={"notice_id": notice.pk, "kind": notice.kind, "title": notice.title},
    )
    return len(households)


# -- read receipts ------------------------------------------------------------------------------


def mark_reached(
    row: NoticeAddressee,
    *,
    channel: str,
    by: User | None = None,
    visit_uuid: uuid.UUID | None = None,
) -> bool:
    """Record the first time the household was reached (later reads change nothing); its
    door-to-door task, if one was raised, is no longer needed. Call inside a transaction."""
    updated = NoticeAddressee.objects.filter(pk=row.pk, read_at__isnull=True).update(
        read_at=timezone.now(), read_channel=channel, read_by=by, read_visit_uuid=visit_uuid
    )
    if updated:
        do_cancel_visit_task(
            kind=TaskKind.NOTICE,
            source_kind="notice",
            source_ref=f"{row.notice_id}:{row.household_id}",
        )
    return bool(updated)


def do_read_in_app(*, user: User, notice_id: int) -> bool:
    """A resident opened the notice in the app: a receipt for their household."""
    notice = selectors.get_notice(user, notice_id)
    if user.role != Role.RESIDENT or user.resident is None:
        raise ApiError("permission_denied", status=403)
    with transaction.atomic():
        row = selectors.addressee_of(notice, user.resident.household_id)
        return mark_reached(row, channel=ReadChannel.APP, by=user)


def do_read_by_link(*, token: str) -> Notice:
    """The SMS link was opened: a receipt for the household it was sent to."""
    row = (
        NoticeAddressee.objects.filter(link_token=token, notice__state=Notice.State.PUBLISHED)
        .select_related("notice", "notice__community")
        .first()
    )
    if row is None:
        raise NotFound()
    with transaction.atomic():
        mark_reached(row, channel=ReadChannel.SMS)
    return row.notice


def do_tell_in_person(
    *, user: User, notice_id: int, household_id: int, visit_uuid: uuid.UUID | None = None
) -> bool:
    """The worker ticked "told in person" at the door (on the visit `visit_uuid`, theirs to
    that household, when given)."""
    notice = selectors.get_notice(user, notice_id)
    if user.role == Role.RESIDENT:
        raise ApiError("permission_denied", status=403)
    selectors.household_in_scope(scope_for(user), household_id)
    if (
        visit_uuid is not None
        and not Visit.objects.filter(
            client_uuid=visit_uuid, worker=user, household_id=household_id
        ).exists()
    ):
        raise _invalid("visit_uuid")
    with transaction.atomic():
        row = selectors.addressee_of(notice, household_id)
        return mark_reached(row, channel=ReadChannel.IN_PERSON, by=user, visit_uuid=visit_uuid)


# -- objections ---------------------------------------------------------------------------------


def _objector(user: User, notice: Notice, resident_id: int | None) -> tuple[Resident, str]:
    """A resident objects for themselves in the app; a worker records a resident's objection
    at the door."""
    if user.role == Role.RESIDENT:
        if user.resident is None or resident_id not in (None, user.resident.pk):
            raise ApiError("permission_denied", status=403)
        return user.resident, Channel.RESIDENT_APP
    if resident_id is None:
        raise _invalid("resident_id", "field_required")
    return get_resident(scope_for(user), resident_id), Channel.DOORSTEP


def do_object(
    *, user: User, notice_id: int, text: str, resident_id: int | None = None
) -> NoticeObjection:
    """An objection during the window becomes a service-desk case of the notice's objection
    item, filed and routed by the one intake action; after the window it is refused (409)."""
    notice = selectors.get_notice(user, notice_id)
    resident, channel = _objector(user, notice, resident_id)
    if not text.strip():
        raise _invalid("text", "field_required")
    if len(text) > 2000:
        raise _invalid("text", "field_too_long")
    if not notice.in_window():
        raise ApiError("objection_window_closed", status=409)
    with transaction.atomic():
        selectors.addressee_of(notice, resident.household_id)  # 404: not addressed to them
        filed = do_intake(
            user=user,
            item_code=notice.objection_item.code if notice.objection_item else "",
            channel=channel,
            resident_id=resident.pk,
            description=f"对公示《{notice.title}》（编号 {notice.pk}）的异议：{text.strip()}",
        )
        return NoticeObjection.objects.create(
            notice=notice,
            household_id=resident.household_id,
            resident=resident,
            case=filed.case,
            filed_by=user,
        )
