"""Assessment (考核): my scorecard, its evidence, self-review and appeal for workers; the
ranking, drill-down, scoring, appeal decisions and exports for supervisors; follow-up answers
for residents (and workers at the door). A card, period or follow-up out of scope is 404."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import ValidationError as PydanticValidationError

from backend.assessment import actions, exports, follow_ups, selectors
from backend.assessment.models import Period, Scorecard
from backend.core.api_errors import responses
from backend.core.errors import ApiError, NotFound
from mobile_api.security import caller

from .schemas import (
    AdjustmentForm,
    AdjustmentOut,
    AnswerIn,
    AppealIn,
    AppealOut,
    CardOut,
    CardRowOut,
    CommentIn,
    DecisionIn,
    EvidenceOut,
    FollowUpOut,
    LeaderScoreIn,
    LeaderScoreOut,
    PeriodOut,
)

router = Router(tags=["assessment"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_UPLOAD = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["points", "reason"],
                    "properties": {
                        "points": {"type": "number"},
                        "reason": {"type": "string"},
                        "household_id": {"type": "integer"},
                        "file": {"type": "string", "format": "binary"},
                    },
                }
            }
        }
    }
}


def _binary(content_type: str) -> dict[str, Any]:
    """Document a file answer (the PDF, the XLSX) with its media type."""
    schema = {"type": "string", "format": "binary"}
    return {"responses": {200: {"content": {content_type: {"schema": schema}}}}}


PDF_DOC = _binary("application/pdf")


def period_out(p: Period) -> dict[str, Any]:
    return {
        "id": p.pk, "scheme": p.scheme.name, "version": p.scheme.version,
        "applies_to": p.scheme.applies_to, "year": p.year, "quarter": p.quarter,
        "label": p.label, "state": p.state, "publish_until": p.publish_until,
        "signed_off_at": p.signed_off_at,
    }  # fmt: skip


def row_out(c: Scorecard) -> dict[str, Any]:
    return {
        "id": c.pk, "period_id": c.period_id, "user_id": c.user_id,
        "name": c.user.name if c.user else c.community.name, "community_id": c.community_id,
        "community": c.community.name, "base": c.base, "leader": c.leader,
        "adjustment": c.adjustment,
        "total": c.total, "grade": c.grade, "rank": c.rank,
    }  # fmt: skip


def card_out(c: Scorecard) -> dict[str, Any]:
    return row_out(c) | {
        "period": period_out(c.period),
        "indicators": c.indicators,
        "exclusions": c.exclusions,
        "self_comment": c.self_comment,
        "leader_weight": c.period.scheme.leader_weight,
        "leader_scores": list(c.leader_scores.order_by("version")),
        "adjustments": [
            {
                "id": a.pk,
                "points": a.points,
                "reason": a.reason,
                "by_id": a.by_id,
                "at": a.at,
                "photo_id": str(a.photo_id) if a.photo_id else None,
            }
            for a in c.adjustments.order_by("at", "pk")
        ],
        "appeals": list(c.appeals.order_by("at", "pk")),
    }


@router.get("/assessment/scorecards", response=responses({200: list[CardRowOut]}, 401))
def scorecards(request: HttpRequest) -> list[dict[str, Any]]:
    """My cards (a worker); my community's (a supervisor); the district's (an administrator)."""
    return [row_out(c) for c in selectors.scorecards_for(caller(request))[:1000]]


@router.get(
    "/assessment/scorecards/{scorecard_id}", response=responses({200: CardOut}, 401, 404, 422)
)
def scorecard(request: HttpRequest, scorecard_id: int) -> dict[str, Any]:
    return card_out(selectors.get_scorecard(caller(request), scorecard_id))


class EvidenceQuery(Schema):
    indicator: str | None = None  # checked after the scope: 404 before 422


@router.get(
    "/assessment/scorecards/{scorecard_id}/evidence",
    response=responses({200: list[EvidenceOut]}, 401, 404, 422),
)
def evidence(
    request: HttpRequest, scorecard_id: int, q: Query[EvidenceQuery]
) -> list[dict[str, Any]]:
    """The records one indicator of the card counted or excluded (and why)."""
    return selectors.evidence(caller(request), scorecard_id, q.indicator)


@router.get(
    "/assessment/scorecards/{scorecard_id}/pdf",
    response=responses({200: None}, 401, 404, 422),
    openapi_extra=PDF_DOC,
)
def scorecard_pdf(request: HttpRequest, scorecard_id: int) -> HttpResponse:
    card = selectors.get_scorecard(caller(request), scorecard_id)
    response = HttpResponse(exports.pdf(card), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="scorecard-{card.pk}.pdf"'
    return response


@router.post(
    "/assessment/scorecards/{scorecard_id}/self-review",
    response=responses({200: CardOut}, 400, 401, 403, 404, 409, 422),
)
def self_review(request: HttpRequest, scorecard_id: int, payload: CommentIn) -> dict[str, Any]:
    user = caller(request)
    actions.do_self_comment(user=user, card_id=scorecard_id, comment=payload.comment)
    return card_out(selectors.get_scorecard(user, scorecard_id))


@router.post(
    "/assessment/scorecards/{scorecard_id}/appeals",
    response=responses({201: AppealOut}, 400, 401, 403, 404, 409, 422),
)
def appeal(request: HttpRequest, scorecard_id: int, payload: AppealIn) -> Status[Any]:
    """申诉 while the card is published."""
    made = actions.do_appeal(user=caller(request), card_id=scorecard_id, text=payload.text)
    return Status(201, made)


@router.post(
    "/assessment/scorecards/{scorecard_id}/adjustments",
    response=responses({201: AdjustmentOut}, 400, 401, 403, 404, 409, 413, 415, 422),
    openapi_extra=_UPLOAD,
)
def adjust(request: HttpRequest, scorecard_id: int) -> Status[Any]:
    """加分 / 减分 (multipart: points, reason, and an evidence photo `file` of `household_id`)."""
    user = caller(request)
    selectors.get_scorecard(user, scorecard_id)  # scope first
    try:
        form = AdjustmentForm.model_validate(request.POST.dict())
    except PydanticValidationError as exc:
        fields = {
            ".".join(str(p) for p in e["loc"]) or "body": "field_invalid" for e in exc.errors()
        }
        raise ApiError("validation_error", status=422, fields=fields) from exc
    upload = request.FILES.get("file")
    if upload is not None and upload.size and upload.size > 15 * 1024 * 1024:
        raise ApiError("photo_too_large", status=413, fields={"file": "photo_too_large"})
    made = actions.do_adjust(
        user=user, card_id=scorecard_id, points=form.points, reason=form.reason,
        photo=upload.read() if upload is not None else None, household_id=form.household_id,
    )  # fmt: skip
    return Status(201, {**vars(made), "photo_id": str(made.photo_id) if made.photo_id else None})


@router.post(
    "/assessment/scorecards/{scorecard_id}/leader-score",
    response=responses({201: LeaderScoreOut}, 400, 401, 403, 404, 409, 422),
)
def leader_score(request: HttpRequest, scorecard_id: int, payload: LeaderScoreIn) -> Status[Any]:
    """领导评价: the leader's qualitative score (0-100, a reason) during scoring, by a supervisor
    of the card's community or a district administrator. Once per card: to change it send
    `replaces` = the current version; the change is the next version, the old one kept."""
    made = actions.do_leader_score(
        user=caller(request), card_id=scorecard_id, score=payload.score,
        reason=payload.reason, replaces=payload.replaces,
    )  # fmt: skip
    return Status(201, made)


@router.post(
    "/assessment/appeals/{appeal_id}/decision",
    response=responses({200: AppealOut}, 400, 401, 403, 404, 409, 422),
)
def decide(request: HttpRequest, appeal_id: int, payload: DecisionIn) -> Any:
    """Decide an appeal (by someone who did not score the card)."""
    return actions.do_decide_appeal(
        user=caller(request), appeal_id=appeal_id, change=payload.change,
        points=payload.points, note=payload.note,
    )  # fmt: skip


@router.get("/assessment/periods", response=responses({200: list[PeriodOut]}, 401))
def periods(request: HttpRequest) -> list[dict[str, Any]]:
    return [period_out(p) for p in selectors.periods_for(caller(request))[:200]]


@router.get(
    "/assessment/periods/{period_id}/ranking",
    response=responses({200: list[CardRowOut]}, 401, 404, 422),
)
def ranking(request: HttpRequest, period_id: int) -> list[dict[str, Any]]:
    """Every card of the period the caller may see, by community and rank."""
    return [row_out(c) for c in selectors.ranking(caller(request), period_id)]


@router.get(
    "/assessment/periods/{period_id}/communities/{community_id}",
    response=responses({200: list[CardRowOut]}, 401, 404, 422),
)
def community_ranking(request: HttpRequest, period_id: int, community_id: int) -> Any:
    """One community's ranking (drill down to a card with /scorecards/{id})."""
    return [row_out(c) for c in selectors.ranking(caller(request), period_id, community_id)]


@router.get(
    "/assessment/periods/{period_id}/communities/{community_id}/pdf",
    response=responses({200: None}, 401, 404, 422),
    openapi_extra=PDF_DOC,
)
def community_pdf(request: HttpRequest, period_id: int, community_id: int) -> HttpResponse:
    cards = selectors.ranking(caller(request), period_id, community_id)
    first = cards.select_related("period__scheme", "community").first()
    if first is None:
        raise NotFound()
    body = exports.community_pdf(first.period, cards, first.community.name)
    return HttpResponse(body, content_type="application/pdf")


@router.get(
    "/assessment/periods/{period_id}/xlsx",
    response=responses({200: None}, 401, 404, 422),
    openapi_extra=_binary(XLSX),
)
def period_xlsx(request: HttpRequest, period_id: int) -> HttpResponse:
    """The cards the caller may see, with an evidence sheet that adds up to them."""
    cards = selectors.ranking(caller(request), period_id)
    period = Period.objects.select_related("scheme").get(pk=period_id)
    response = HttpResponse(exports.xlsx(period, cards), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="assessment-{period_id}.xlsx"'
    return response


@router.get("/assessment/follow-ups", response=responses({200: list[FollowUpOut]}, 401))
def open_follow_ups(request: HttpRequest) -> Any:
    """回访 questions: a resident's own; a worker's to ask at the door (not about them)."""
    return list(follow_ups.follow_ups_for(caller(request))[:200])


@router.post(
    "/assessment/follow-ups/{follow_up_id}/answer",
    response=responses({200: FollowUpOut}, 400, 401, 403, 404, 409, 422),
)
def answer(request: HttpRequest, follow_up_id: int, payload: AnswerIn) -> Any:
    """The resident's rating (1-5) or refusal (null), once."""
    return follow_ups.do_answer(
        user=caller(request), follow_up_id=follow_up_id, score=payload.score
    )
