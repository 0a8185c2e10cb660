"""The share of visits followed up (回访抽样) is the scheme's `visit_sample_rate`, 0-1: the
latest grid-worker scheme of the district for B-post visits, the officers' for A-post visits,
10 % without one. The sample is reproducible (by visit id) and its share holds."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.assessment import actions, follow_ups
from backend.assessment.models import FollowUp, Scheme
from backend.core.errors import ApiError
from backend.visits.models import Visit
from tests.admin_login import admin_client_for
from tests.conftest import World

pytestmark = pytest.mark.django_db
N = 200


def visits(w: World, n: int, post: str = "b") -> list[int]:
    at = timezone.now() - timedelta(hours=2)
    made = Visit.objects.bulk_create(
        Visit(
            client_uuid=uuid.uuid4(), worker=w.worker_a, household=w.household_a,
            grid=w.grid_a, community=w.c1, state=Visit.State.COMPLETED, visited_at=at,
            received_at=at, counted_at=at, recorded_at=at, present=True, post=post,
        )
        for _ in range(n)
    )  # fmt: skip
    return [v.pk for v in made]


def asked_visits() -> set[int]:
    refs = FollowUp.objects.filter(source="visit").values_list("source_ref", flat=True)
    return {int(r) for r in refs}


def scheme(w: World, applies_to: str, rate: float) -> Scheme:
    return Scheme.objects.create(
        district=w.district, name=f"{applies_to} {rate}", applies_to=applies_to,
        visit_sample_rate=rate,
    )  # fmt: skip


def test_the_rate_changes_the_sample(world: World) -> None:
    ids = visits(world, N)
    scheme(world, "worker", 0.0)
    follow_ups.ask_due()
    assert asked_visits() == set()  # 0: none followed up
    scheme(world, "worker", 0.25)  # the latest scheme's rate counts
    follow_ups.ask_due()
    quarter = asked_visits()
    assert quarter == {i for i in ids if follow_ups.sampled(i, 0.25)}
    assert 0.2 * N <= len(quarter) <= 0.3 * N
    scheme(world, "worker", 0.5)
    follow_ups.ask_due()
    half = asked_visits()
    assert quarter < half and 0.45 * N <= len(half) <= 0.55 * N  # the 25 % are in the 50 %
    scheme(world, "worker", 1.0)
    follow_ups.ask_due()
    assert asked_visits() == set(ids)


def test_a_post_visits_follow_the_officers_scheme(world: World) -> None:
    b = visits(world, 20, post="b")
    a = visits(world, 20, post="a")
    scheme(world, "worker", 0.0)
    scheme(world, "officer", 1.0)
    follow_ups.ask_due()
    assert asked_visits() == set(a) and not asked_visits() & set(b)
    assert set(FollowUp.objects.filter(source="visit").values_list("post", flat=True)) == {"A"}


def test_without_a_scheme_one_in_ten_evenly_spread(world: World) -> None:
    assert follow_ups.visit_sample_rate(world.district.pk) == 0.1
    for start in (1, 1000, 123_457):
        hits = sum(follow_ups.sampled(i, 0.1) for i in range(start, start + 1000))
        assert 95 <= hits <= 105, start  # every run of ids, not blocks
    ids = visits(world, 100)
    follow_ups.ask_due()
    assert asked_visits() == {i for i in ids if follow_ups.sampled(i, 0.1)}


def test_the_rate_is_validated_0_to_1(world: World) -> None:
    for bad in (-0.1, 1.5):
        with pytest.raises(ValidationError) as exc:
            Scheme(district=world.district, name="x", applies_to="worker",
                   visit_sample_rate=bad).full_clean()  # fmt: skip
        assert "visit_sample_rate" in exc.value.message_dict
        with pytest.raises(IntegrityError), transaction.atomic():  # and the database refuses
            scheme(world, "worker", bad)
    client = admin_client_for(world.admin)
    page = client.post(
        "/admin/assessment/scheme/add/",
        {"district": world.district.pk, "name": "抽样过高", "version": 1, "applies_to": "worker",
         "grade_bands": "{}", "leader_weight": 0, "visit_sample_rate": 2,
         "created_at_0": "2026-12-01", "created_at_1": "10:00:00",
         "groups-TOTAL_FORMS": 0, "groups-INITIAL_FORMS": 0},
    )  # fmt: skip
    assert page.status_code == 200 and not Scheme.objects.filter(name="抽样过高").exists()
    assert "visit_sample_rate" in page.context["adminform"].form.errors
    unsaved = Scheme(district=world.district, name="y", applies_to="worker", visit_sample_rate=3)
    with pytest.raises(ApiError) as refused:  # a period is not opened on one either
        actions.check_scheme(unsaved)
    assert refused.value.fields == {"visit_sample_rate": "field_out_of_range"}
