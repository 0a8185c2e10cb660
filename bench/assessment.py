"""Assessment benchmark (issue 14): a year of synthetic activity for the synthetic district,
then one quarter's scorecards for everyone (grid workers, A-post officers, communities), the
year's, and the XLSX of the quarter's grid-worker cards with their evidence sheets — beside a
bare SQL aggregate of the same headline counts, run in the same process on the same data (and
checked against the cards: the same numbers).

It runs in its own database (`bench_assessment_<communities>c`, created with migrations and
loaded on first use, then kept: the full district's year takes minutes to load).

    run(small) -> {"name": {"value", "unit", "baseline", "ratio"}}
    DATABASE_URL=postgis://... .venv/bin/python -m bench --only assessment [--small]
    DATABASE_URL=postgis://... .venv/bin/python -m bench.assessment [--small] [--communities N]

Targets: quarter <= 10 s, year <= 30 s, XLSX <= 10 s at 18 communities.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from typing import Any

YEAR = 2025  # a finished year: every quarter complete
QUARTER = 2
SEED = 20100801
BENCH_PASSWORD = "bench-only-not-secret"  # noqa: S105 (synthetic accounts of the bench database)

# The headline counts, by hand: households with a valid visit per B-post worker, visits
# inside the fence (of those with a photo) per worker, on-time decisions per A post.
BARE_SQL = {
    "coverage": """
        SELECT ga.user_id, COUNT(*), COUNT(*) FILTER (WHERE EXISTS (
            SELECT 1 FROM visits_visit v
            WHERE v.household_id = h.id AND v.state = 'completed' AND v.flag = ''
              AND v.counted_at >= %(start)s AND v.counted_at < %(end)s
              AND EXISTS (SELECT 1 FROM photos_photo p
                          WHERE p.subject_kind = 'visit' AND p.subject_uuid = v.client_uuid)))
        FROM territory_household h JOIN accounts_gridassignment ga ON ga.grid_id = h.grid_id
        GROUP BY ga.user_id""",
    "fence": """
        SELECT v.worker_id, COUNT(*), COUNT(*) FILTER (WHERE v.flag = '')
        FROM visits_visit v
        WHERE v.state = 'completed' AND v.counted_at >= %(start)s AND v.counted_at < %(end)s
          AND EXISTS (SELECT 1 FROM photos_photo p
                      WHERE p.subject_kind = 'visit' AND p.subject_uuid = v.client_uuid)
        GROUP BY v.worker_id""",
    "on_time": """
        SELECT c.assignee_id, COUNT(*), COUNT(*) FILTER (WHERE c.overdue_at IS NULL)
        FROM servicedesk_case c
        WHERE c.decided_at >= %(start)s AND c.decided_at < %(end)s
          AND c.assignee_id IS NOT NULL AND c.filed_by_id IS DISTINCT FROM c.assignee_id
          AND NOT EXISTS (SELECT 1 FROM servicedesk_case e
                          WHERE e.resident_id = c.resident_id AND e.item_id = c.item_id
                            AND e.created_at < c.created_at
                            AND e.created_at >= c.created_at - interval '7 days')
        GROUP BY c.assignee_id""",
}
CARD_CODES = {"coverage": "b_coverage", "fence": "b_fence_pass", "on_time": "a_on_time"}


def _row(value: float, unit: str, baseline: float | None) -> dict[str, Any]:
    return {
        "value": round(value, 3),
        "unit": unit,
        "baseline": None if baseline is None else round(baseline, 3),
        "ratio": round(value / baseline, 3) if baseline else None,
    }


def _setup(communities: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
    from django.db import connection

    settings = connection.settings_dict
    assert settings["ENGINE"].endswith("postgis"), "the assessment benchmark needs PostGIS"
    name = f"bench_assessment_{communities}c"
    if settings["NAME"] != name:
        settings["TEST"]["NAME"] = name
        connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=True)


def _load(communities: int) -> tuple[Any, float]:
    """The district and a year of its work, loaded once per database."""
    from django.db import connection
    from django.utils import timezone

    from backend.demo import synthetic
    from backend.demo.activity import answer_panel, generate_year
    from backend.territory.models import District

    district = District.objects.filter(code=synthetic.DISTRICT_CODE).first()
    if district is not None:
        return district, 0.0
    started = time.perf_counter()
    loaded = synthetic.generate_district(
        password=BENCH_PASSWORD, seed=SEED, communities=communities, day=timezone.localdate()
    )
    end = datetime(YEAR + 1, 1, 1, tzinfo=synthetic.LOCAL_TZ)
    generate_year(district=loaded.district, year=YEAR, seed=SEED, until=end)
    answer_panel(district=loaded.district, year=YEAR, seed=SEED)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return loaded.district, time.perf_counter() - started


def _periods(district: Any, quarter: int) -> list[Any]:
    from backend.assessment.actions import period_bounds
    from backend.assessment.models import Period
    from backend.assessment.samples import do_create_sample_schemes

    start, end = period_bounds(YEAR, quarter)
    periods = []
    for scheme in do_create_sample_schemes(district=district):
        period, _ = Period.objects.get_or_create(
            scheme=scheme, year=YEAR, quarter=quarter, defaults={"starts_at": start, "ends_at": end}
        )
        periods.append(period)
    return periods


def _compute(periods: list[Any]) -> tuple[float, int]:
    from backend.assessment.compute import do_compute

    started = time.perf_counter()
    cards = sum(do_compute(p) for p in periods)
    return time.perf_counter() - started, cards


def _bare(quarter: int) -> tuple[float, dict[str, dict[int, tuple[int, int]]]]:
    from django.db import connection

    from backend.assessment.actions import period_bounds

    start, end = period_bounds(YEAR, quarter)
    found: dict[str, dict[int, tuple[int, int]]] = {}
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for name, sql in BARE_SQL.items():
            cursor.execute(sql, {"start": start, "end": end})
            found[name] = {int(u): (int(n), int(h)) for u, n, h in cursor.fetchall()}
    return time.perf_counter() - started, found


def _check(periods: list[Any], bare: dict[str, dict[int, tuple[int, int]]]) -> None:
    """The cards' counts are the bare SQL's (the benchmark measures the right work)."""
    from backend.assessment.models import Scorecard

    cards = Scorecard.objects.filter(period__in=periods, user__isnull=False)
    seen = 0
    for card in cards.filter(period__scheme__applies_to__in=["worker", "officer"]):
        for name, code in CARD_CODES.items():
            figure = card.indicators.get(code)
            if figure is None:
                continue
            counted, hits = bare[name].get(card.user_id or 0, (0, 0))
            assert (figure["counted"], int(figure["hits"])) == (counted, hits), (card.pk, code)
            seen += 1
    assert seen, "no card carried the checked indicators"


def _xlsx(period: Any) -> tuple[float, int]:
    from backend.assessment.exports import xlsx

    started = time.perf_counter()
    body = xlsx(period, period.scorecards.all())
    return time.perf_counter() - started, len(body)


def run(small: bool = False, communities: int | None = None) -> dict[str, dict[str, Any]]:
    communities = communities or (1 if small else 18)
    _setup(communities)
    from backend.accounts.models import GridAssignment

    district, load_s = _load(communities)
    results: dict[str, dict[str, Any]] = {}
    if load_s:
        results["assessment_load_year"] = _row(load_s, "s", None)
    workers = GridAssignment.objects.values("user_id").distinct().count()
    quarter = _periods(district, QUARTER)
    _compute(quarter)  # warm: plans cached, pages in memory, as on a server
    q_s, q_cards = _compute(quarter)
    bare_q, counts = _bare(QUARTER)
    _check(quarter, counts)
    year = _periods(district, 0)
    _compute(year)
    y_s, y_cards = _compute(year)
    bare_y, counts_y = _bare(0)
    _check(year, counts_y)
    x_s, x_bytes = _xlsx(next(p for p in quarter if p.scheme.applies_to == "worker"))
    results["assessment_quarter_compute"] = _row(q_s, "s", bare_q)
    results["assessment_year_compute"] = _row(y_s, "s", bare_y)
    results["assessment_quarter_xlsx"] = _row(x_s, "s", None)
    results["assessment_cards"] = _row(float(q_cards), "cards", None)
    results["assessment_year_cards"] = _row(float(y_cards), "cards", None)
    results["assessment_grid_workers"] = _row(float(workers), "workers", None)
    results["assessment_xlsx_size"] = _row(x_bytes / 1024, "KiB", None)
    return results


def print_table(results: dict[str, dict[str, Any]]) -> None:
    print(f"{'name':<30} {'value':>10} {'unit':<8} {'baseline':>10} {'ratio':>8}")
    for name, r in results.items():
        baseline = "" if r["baseline"] is None else r["baseline"]
        ratio = "" if r["ratio"] is None else r["ratio"]
        print(f"{name:<30} {r['value']:>10} {r['unit']:<8} {baseline:>10} {ratio:>8}")


def main() -> None:
    small = "--small" in sys.argv or os.environ.get("BENCH_SMALL") == "1"
    communities = None
    if "--communities" in sys.argv:
        communities = int(sys.argv[sys.argv.index("--communities") + 1])
    print_table(run(small, communities))


if __name__ == "__main__":
    main()
