"""Demo data for `seed_demo`: the demo officer also works the sample district departments'
queues, two cases are under way (one in the officer's queue, one proxy draft), and an Open311
key with a published value exists for trying GeoReport clients."""

from __future__ import annotations

import hashlib

from backend.accounts.models import User
from backend.people.models import Resident
from backend.servicedesk import actions
from backend.servicedesk.models import Department, Open311Key, ServiceItem

DEMO_OPEN311_KEY = "o311_demo-key-not-for-production"  # published: synthetic demo data only


def seed_demo_cases(*, worker: User, officer: User, resident: Resident) -> int:
    """Call inside the seed's transaction, after the catalog migration has run."""
    for department in Department.objects.filter(district__isnull=True):
        department.members.add(officer)
    Open311Key.objects.get_or_create(
        digest=hashlib.sha256(DEMO_OPEN311_KEY.encode()).hexdigest(),
        defaults={"name": "demo integration", "prefix": DEMO_OPEN311_KEY[:8]},
    )
    filed = 0
    allowance = ServiceItem.objects.filter(code="elderly-allowance").first()
    if allowance is not None:
        actions.do_file_case(
            item=allowance,
            channel="front_desk",
            filed_by=worker,
            resident=resident,
            description="居民到社区服务站申请高龄津贴（演示数据）",
        )
        filed += 1
    modification = ServiceItem.objects.filter(code="age-friendly-home-modification").first()
    if modification is not None:
        actions.do_file_case(
            item=modification,
            channel="doorstep",
            filed_by=worker,
            resident=resident,
            proxy=True,
            description="上门代办适老化改造申请，待拍摄委托书（演示数据）",
        )
        filed += 1
    return filed
