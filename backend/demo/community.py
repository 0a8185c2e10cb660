"""Demo data for `seed_demo`: community life in grid 1 — a published notice (居务公开) the demo
resident has not read yet, an open consultative poll, a hearing with its invitations out and
a resident's topic collecting support."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from backend.accounts.models import User
from backend.community import actions
from backend.community.area import AreaIn
from backend.community.models import Hearing, Notice, Poll
from backend.people.models import Resident
from backend.servicedesk.models import ServiceItem
from backend.territory.models import Grid


def ensure_objection_item() -> None:
    """The item objections are filed as (servicedesk migration 0003 ships it; a test run that
    flushed the catalog has lost it)."""
    ServiceItem.objects.get_or_create(
        code=settings.COMMUNITY_OBJECTION_ITEM,
        defaults={
            "name_zh": "公示异议",
            "name_en": "Objection to a community notice",
            "category": "community_affairs",
            "line": "civil_affairs",
            "time_limit_days": 5,
            "is_sample": True,
        },
    )


def seed_demo_community(*, supervisor: User, grid: Grid) -> tuple[Notice, Poll, Hearing]:
    """Call inside the seed's transaction. Written through the actions, as a supervisor would."""
    ensure_objection_item()
    area = AreaIn(kind="grids", ids=(grid.pk,))
    notice = actions.do_create_notice(
        user=supervisor,
        draft=actions.NoticeDraft(
            kind="finance",
            title="2026年第三季度社区公益金收支公示",
            body="收入：区拨公益金 50,000 元。\n支出：楼道照明改造 18,600 元；"
            "老年助餐补贴 12,400 元；结余 19,000 元。\n"
            "公示期内如有异议，请在居民端提出或告知网格员。",
            area=area,
        ),
    )
    notice = actions.do_publish_notice(user=supervisor, notice_id=notice.pk)
    poll = actions.do_create_poll(
        user=supervisor,
        draft=actions.PollDraft(
            title="小区充电桩选址",
            question="电动自行车集中充电桩建在哪里？",
            options=("3号楼北侧空地", "小区东门车棚", "暂不建设"),
            closes_at=timezone.now() + timedelta(days=7),
            area=area,
            secret=True,
        ),
    )
    poll = actions.do_open_poll(user=supervisor, poll_id=poll.pk)
    hearing = actions.do_create_hearing(
        user=supervisor,
        draft=actions.HearingDraft(
            title="老旧小区改造方案听证会",
            topic="外墙保温、加装电梯及停车位调整方案，听取受影响住户意见。",
            place="社区居委会二楼会议室",
            meeting_at=timezone.now() + timedelta(days=10),
            area=area,
            send_sms=False,  # the notice's links already show the SMS channel on the console
        ),
    )
    hearing = actions.do_invite(user=supervisor, hearing_id=hearing.pk)
    proposer = Resident.objects.filter(household__grid=grid).order_by("pk").first()
    if proposer is not None:  # a resident's topic collecting support (民主议事)
        actions.do_propose(
            user=supervisor,
            title="东门车棚加装电动车充电桩",
            text="楼道充电有火灾隐患，建议在东门车棚加装充电桩，费用和管理方式请大家议一议。",
            resident_id=proposer.pk,
        )
    return notice, poll, hearing
