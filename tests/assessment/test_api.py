"""The assessment API: a worker's card and its evidence, a supervisor's ranking and scoring,
the XLSX whose totals equal the API's, the PDF with its Chinese font embedded."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import MULTIPART_CONTENT
from openpyxl import load_workbook

from backend.assessment import actions
from backend.assessment.models import Scorecard

from .fixtures import jpeg

pytestmark = pytest.mark.django_db


def test_a_worker_sees_their_card_and_its_evidence(quarter: Any, client_for: Any) -> None:
    client = client_for(quarter.worker_a)
    cards = client.get("/api/v1/assessment/scorecards").json()
    assert [c["user_id"] for c in cards] == [quarter.worker_a.pk]
    card = client.get(f"/api/v1/assessment/scorecards/{cards[0]['id']}").json()
    assert card["indicators"]["b_fence_pass"]["counted"] == 2
    assert card["exclusions"]["visit_no_photo"] == 1
    rows = client.get(
        f"/api/v1/assessment/scorecards/{card['id']}/evidence", {"indicator": "b_fence_pass"}
    ).json()
    v1, v2, v3 = (v.pk for v in quarter.visits[:3])
    assert {(r["ref"], r["value"], r["excluded"]) for r in rows} == {
        (v1, 1.0, ""), (v2, 0.0, ""), (v3, 1.0, "visit_no_photo"),
    }  # fmt: skip
    assert all(r["record"] == "visit" for r in rows)
    bad = client.get(
        f"/api/v1/assessment/scorecards/{card['id']}/evidence", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert bad.status_code == 422 and bad.json()["error"]["fields"] == {"indicator": "Required."}


def test_a_supervisor_ranks_the_community_and_scores_with_a_photo(
    quarter: Any, client_for: Any
) -> None:
    client = client_for(quarter.supervisor_1)
    p = quarter.period.pk
    ranking = client.get(f"/api/v1/assessment/periods/{p}/communities/{quarter.c1.pk}").json()
    assert [r["user_id"] for r in ranking] == [quarter.worker_b.pk, quarter.worker_a.pk]
    assert [r["rank"] for r in ranking] == [1, 2]
    card = ranking[1]["id"]
    early = client.post(f"/api/v1/assessment/scorecards/{card}/adjustments",
                        {"points": "3", "reason": "r"}, content_type=MULTIPART_CONTENT)  # fmt: skip
    assert early.status_code == 409 and early.json()["error"]["code"] == "period_wrong_state"
    actions.do_advance(period_id=p, by=quarter.admin, to="self_review")
    actions.do_advance(period_id=p, by=quarter.admin, to="scoring")
    made = client.post(
        f"/api/v1/assessment/scorecards/{card}/adjustments",
        {"points": "10", "reason": "协助转移群众", "household_id": str(quarter.household_a.pk),
         "file": SimpleUploadedFile("p.jpg", jpeg(), "image/jpeg")},
        content_type=MULTIPART_CONTENT,
    )  # fmt: skip
    assert made.status_code == 201, made.content
    assert made.json()["photo_id"]
    again = client.get(f"/api/v1/assessment/periods/{p}/communities/{quarter.c1.pk}").json()
    assert again[0]["user_id"] == quarter.worker_b.pk
    assert again[1]["adjustment"] == 10


def test_the_xlsx_opens_and_its_totals_equal_the_api(quarter: Any, client_for: Any) -> None:
    client = client_for(quarter.supervisor_1)
    response = client.get(f"/api/v1/assessment/periods/{quarter.period.pk}/xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    head, *rows = list(book["scorecards"].iter_rows(values_only=True))
    pad = len(head)  # read-only mode leaves trailing empty cells out
    sheet = {r[0]: dict(zip(head, (*r, *[None] * (pad - len(r))), strict=True)) for r in rows}
    legend = {r[0]: r for r in list(book["indicators"].iter_rows(values_only=True))[1:]}
    assert legend["b_fence_pass"] == ("b_fence_pass", "签到围栏通过率", "geofence pass rate",
                                      "visit", "b_fence_pass")  # fmt: skip
    for card_id, row in sheet.items():
        api = client.get(f"/api/v1/assessment/scorecards/{card_id}").json()
        assert row["total"] == api["total"] and row["grade"] == api["grade"]
        assert row["leader"] == api["leader"]
        for code, figure in api["indicators"].items():
            assert row[f"{code}.counted"] == figure["counted"]
            assert row[f"{code}.hits"] == figure["hits"]
            top, *evidence = book[code].iter_rows(values_only=True)  # one sheet per indicator
            assert top == ("card_id", f"{legend[code][3]}_id", "value", "excluded")
            mine = [(*e, None)[:4] for e in evidence if e[0] == card_id]  # empty: not excluded
            counted = [e for e in mine if not e[3]]
            assert len(counted) == figure["counted"]
            assert sum(e[2] for e in counted) == pytest.approx(figure["hits"])
            excluded = sum(1 for e in mine if e[3])
            assert excluded == sum(
                n for reason, n in figure["excluded"].items() if reason != "visit_flagged"
            )
    assert len(sheet) == Scorecard.objects.filter(period=quarter.period).count() == 2


def test_the_pdfs_embed_the_chinese_font(quarter: Any, client_for: Any) -> None:
    client = client_for(quarter.worker_a)
    card = client.get("/api/v1/assessment/scorecards").json()[0]["id"]
    response = client.get(f"/api/v1/assessment/scorecards/{card}/pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert b"WenQuanYiMicroHei" in response.content and b"/FontFile2" in response.content
    supervisor = client_for(quarter.supervisor_1)
    p, c = quarter.period.pk, quarter.c1.pk
    community = supervisor.get(f"/api/v1/assessment/periods/{p}/communities/{c}/pdf")
    assert community.status_code == 200 and community.content.startswith(b"%PDF")
    other = f"/api/v1/assessment/periods/{p}/communities/{quarter.c2.pk}/pdf"
    assert supervisor.get(other).status_code == 404
