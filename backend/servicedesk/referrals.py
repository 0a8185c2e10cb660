"""Findings from door-to-door visits that need the service desk become cases in the same step
as the visit sync: `do_sync_visits` here is the sync the API calls — backend.visits stores the
records (a finding for the service desk is stored awaiting it), then the awaiting findings of
the batch are filed as cases, all in one transaction. The service desk sits above visits, so
visits never name it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import transaction

from backend.accounts.models import BusinessLine, User
from backend.visits.actions import SyncResult, VisitRecord
from backend.visits.actions import do_sync_visits as do_store_visits
from backend.visits.models import VisitFinding

from .actions import do_file_case
from .models import Category, Channel, ServiceItem

REFERRAL_CODE = "visit-referral"


def referral_item() -> ServiceItem:
    """The catalog item for "found on a visit": civil affairs sorts it out or reassigns it."""
    item, _ = ServiceItem.objects.get_or_create(
        code=REFERRAL_CODE,
        defaults={
            "name_zh": "走访发现事项转办",
            "name_en": "Referral from a door-to-door visit",
            "category": Category.SOCIAL_ASSISTANCE,
            "line": BusinessLine.CIVIL_AFFAIRS,
            "time_limit_days": 5,
            "proxy_allowed": True,
            "is_sample": True,
        },
    )
    return item


def do_sync_visits(
    *, worker: User, records: Sequence[VisitRecord], now: datetime | None = None
) -> list[SyncResult]:
    """Store a batch of visit records (backend.visits.actions.do_sync_visits: one result per
    record, in order) and file a case for each finding of the batch that needs the service
    desk, in one transaction."""
    refers = any(f.action == VisitFinding.Action.SERVICE_CASE for r in records for f in r.findings)
    with transaction.atomic():
        results = do_store_visits(worker=worker, records=records, now=now)
        created = [r.visit_id for r in results if r.status == "created" and r.visit_id]
        if refers and created:
            do_refer_findings(
                VisitFinding.objects.filter(
                    visit_id__in=created, case_state=VisitFinding.CaseState.AWAITING
                )
                .select_related("visit__worker", "visit__household__grid")
                .order_by("pk")
            )
    return results


def do_refer_findings(findings: Iterable[VisitFinding]) -> list[VisitFinding]:
    """File a doorstep case for each finding awaiting the service desk; call in a transaction."""
    done = []
    for finding in findings:
        visit = finding.visit
        case = do_file_case(
            item=referral_item(),
            channel=Channel.DOORSTEP,
            filed_by=visit.worker,
            household=visit.household,
            description=f"[{finding.get_category_display()}] {finding.description}",
        )
        finding.case_ref, finding.case_state = case.number, VisitFinding.CaseState.OPENED
        done.append(finding)
    VisitFinding.objects.bulk_update(done, ["case_ref", "case_state"])
    return done
