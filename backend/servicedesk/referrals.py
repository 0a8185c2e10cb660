"""Findings from door-to-door visits that need the service desk become cases in one step
(backend.visits.seams calls `open_case_for_finding` inside the visit's transaction)."""

from __future__ import annotations

from backend.accounts.models import BusinessLine
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


def open_case_for_finding(finding: VisitFinding) -> str:
    visit = finding.visit
    case = do_file_case(
        item=referral_item(),
        channel=Channel.DOORSTEP,
        filed_by=visit.worker,
        household=visit.household,
        description=f"[{finding.get_category_display()}] {finding.description}",
    )
    return case.number
