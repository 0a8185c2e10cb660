"""The sample schemes a district starts from (edit them in the admin before the first period:
once a period uses a scheme it is frozen, and an edit makes a new version)."""

from __future__ import annotations

from django.db import transaction

from backend.territory.models import District

from .models import AppliesTo, Indicator, IndicatorGroup, Scheme

BANDS = {"优秀": 90, "良好": 80, "合格": 60}
# 领导评价: the leader's qualitative score, % of the total (a community's card has none).
LEADER_WEIGHT: dict[str, float] = {
    AppliesTo.WORKER: 10.0,
    AppliesTo.OFFICER: 10.0,
    AppliesTo.COMMUNITY: 0.0,
}
VISIT_SAMPLE_RATE = 0.1  # one completed visit in ten followed up (回访)

# applies_to -> name, [(group, weight, [(code, weight, target, floor, year_only)])]
Row = tuple[str, float, float, float, bool]
SAMPLES: dict[str, tuple[str, list[tuple[str, float, list[Row]]]]] = {
    AppliesTo.WORKER: ("网格员（B岗）考核", [
        ("网格岗位", 60, [
            ("b_coverage", 3, 1.0, 0.5, False),
            ("b_vulnerable_on_schedule", 2, 0.95, 0.6, False),
            ("b_fence_pass", 1, 0.98, 0.8, False),
            ("b_alert_follow_up_24h", 2, 1.0, 0.6, False),
            ("b_tier1_ack_p90", 1, 60, 600, False),
            ("b_accept_p50", 1, 60, 300, False),
            ("b_findings_followed", 1, 1.0, 0.5, False),
        ]),
        ("满意度", 40, [
            ("s_follow_up", 3, 95, 60, False),
            ("s_panel", 2, 95, 60, True),
        ]),
    ]),
    AppliesTo.OFFICER: ("职能岗（A岗）考核", [
        ("职能岗位", 70, [
            ("a_on_time", 3, 1.0, 0.7, False),
            ("a_cases_handled", 1, 40, 0, False),
            ("a_bounces", 1, 0, 10, False),
            ("a_material_requests", 1, 0.1, 0.5, False),
            ("a_rework", 1, 0.02, 0.2, False),
        ]),
        ("满意度", 30, [
            ("a_rating", 2, 95, 60, False),
            ("s_follow_up", 1, 95, 60, False),
        ]),
    ]),
    AppliesTo.COMMUNITY: ("社区考核", [
        ("网格岗位", 40, [
            ("b_coverage", 2, 1.0, 0.5, False),
            ("b_vulnerable_on_schedule", 1, 0.95, 0.6, False),
            ("c_alert_answered", 2, 0.98, 0.7, False),
        ]),
        ("职能岗位", 30, [("a_on_time", 1, 1.0, 0.7, False)]),
        ("满意度", 30, [
            ("s_follow_up", 2, 95, 60, False),
            ("s_panel", 1, 95, 60, True),
        ]),
    ]),
}  # fmt: skip


def do_create_sample_schemes(*, district: District) -> list[Scheme]:
    """The three sample schemes (grid workers, A-post officers, communities), version 1."""
    made = []
    with transaction.atomic():
        for applies_to, (name, groups) in SAMPLES.items():
            scheme, created = Scheme.objects.get_or_create(
                district=district, name=name, applies_to=applies_to, version=1,
                defaults={
                    "grade_bands": BANDS,
                    "leader_weight": LEADER_WEIGHT[applies_to],
                    "visit_sample_rate": VISIT_SAMPLE_RATE,
                },
            )  # fmt: skip
            made.append(scheme)
            if not created:
                continue
            for order, (group_name, weight, indicators) in enumerate(groups):
                group = IndicatorGroup.objects.create(
                    scheme=scheme, name=group_name, weight=weight, order=order
                )
                Indicator.objects.bulk_create(
                    Indicator(group=group, code=code, weight=w, target=target, floor=floor,
                              year_only=year_only)
                    for code, w, target, floor, year_only in indicators
                )  # fmt: skip
    return made
