"""Open311 GeoReport v2 at /open311/v2/: catalog items are services, cases are requests.

Plain Django views rather than the Ninja API, because GeoReport fixes its own shapes: a
`.json` or `.xml` suffix picks the format, POST bodies are form-encoded, errors are a list of
{code, description}. Services are public. Filing needs an api_key (admin → Open311 API keys).
Reading requests without a key shows only the requests of public items (environment,
facilities: `ServiceItem.public_requests`), without description, with the community for the
address and the location to about 100 m; a key sees what it filed, unless it belongs to a
trusted platform that sees the whole district. Names, phones and ID numbers of residents never
leave through Open311.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

from django.contrib.gis.geos import Point
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from backend.core.errors import ApiError, api_error_of, message
from backend.servicedesk import actions, selectors
from backend.servicedesk.models import Case, CaseState, Channel, Open311Key, ServiceItem

CLOSED = (CaseState.APPROVED, CaseState.REJECTED, CaseState.DELIVERED, CaseState.CLOSED)
MAX_REQUESTS = 1000
DEFAULT_WINDOW = timedelta(days=90)
# How nested lists are named in XML: <attributes><attribute>...</attribute></attributes>.
XML_ITEMS = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "services": "service",
    "service_requests": "request",
    "errors": "error",
}


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


# -- rendering -------------------------------------------------------------------------------


# Characters XML 1.0 cannot carry at all (C0 controls but tab, LF, CR; lone surrogates;
# U+FFFE/FFFF). ElementTree writes them anyway and every parser then refuses the whole
# document, so one control character in one description broke the feed for every consumer.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def _xml_value(parent: ET.Element, name: str, value: Any) -> None:
    node = ET.SubElement(parent, name)
    if isinstance(value, list):
        child = XML_ITEMS.get(name, "item")
        for item in value:
            _xml_value(node, child, item)
    elif isinstance(value, dict):
        for key, inner in value.items():
            _xml_value(node, key, inner)
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    elif value is not None:
        node.text = xml_text(str(value))


def render(data: Any, fmt: str, *, root: str, status: int = 200) -> HttpResponse:
    if fmt == "xml":
        tree = ET.Element(root)
        items = data if isinstance(data, list) else [data]
        child = XML_ITEMS.get(root)
        for item in items:
            if child is None:
                for key, value in item.items():
                    _xml_value(tree, key, value)
            else:
                _xml_value(tree, child, item)
        body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(tree, encoding="utf-8")
        return HttpResponse(body, status=status, content_type="text/xml; charset=utf-8")
    return JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})


def error(fmt: str, status: int, description: str) -> HttpResponse:
    return render([{"code": status, "description": description}], fmt, root="errors", status=status)


def _iso(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


def _english() -> bool:
    return (translation.get_language() or "zh-hans").startswith("en")


def _name(item: ServiceItem) -> str:
    return item.name_en if _english() else item.name_zh


# -- shapes ------------------------------------------------------------------------------------


def service_json(item: ServiceItem) -> dict[str, Any]:
    return {
        "service_code": item.code,
        "service_name": _name(item),
        "description": (item.description_en if _english() else item.description_zh) or _name(item),
        "metadata": bool(item.materials("zh")),
        "type": "realtime",
        "keywords": ",".join([item.name_zh, item.category, item.line or "department"]),
        "group": item.get_category_display(),
    }


def service_definition(item: ServiceItem) -> dict[str, Any]:
    materials = item.materials("en" if _english() else "zh")
    return {
        "service_code": item.code,
        "attributes": [
            {
                "variable": False,
                "code": f"material_{i}",
                "datatype": "text",
                "required": False,
                "datatype_description": "",
                "order": i,
                "description": text,
            }
            for i, text in enumerate(materials, start=1)
        ],
    }


# Keyless reads place a request to 3 decimals of a degree (about 100 m): where the street
# light is, not whose door.
PUBLIC_PRECISION = 3


def request_json(case: Case, *, public: bool = False) -> dict[str, Any]:
    """A request as GeoReport names its fields. `public` (read without an api_key): no
    description (free text may name people), the community for the address, the location
    rounded to PUBLIC_PRECISION decimals."""
    queue = case.queue_department or None
    agency = (
        (queue.name_en if _english() else queue.name_zh)
        if queue
        else (case.community.name if case.community else "")
    )
    body: dict[str, Any] = {
        "service_request_id": case.number,
        "status": "closed" if case.state in CLOSED else "open",
        "status_notes": case.get_state_display(),
        "service_name": _name(case.item),
        "service_code": case.item.code,
        "description": case.description if case.channel == Channel.OPEN311 else "",
        "agency_responsible": agency,
        "service_notice": f"{case.item.time_limit_days} working days",
        "requested_datetime": _iso(case.submitted_at or case.created_at),
        "updated_datetime": _iso(case.updated_at),
        "expected_datetime": _iso(case.due_at),
        "address": case.address,
        "address_id": "",
        "zipcode": "",
        "lat": case.location.y if case.location else None,
        "long": case.location.x if case.location else None,
        "media_url": "",
    }
    if public:
        body["description"] = ""
        body["address"] = case.community.name if case.community else ""
        for name in ("lat", "long"):
            if body[name] is not None:
                body[name] = round(body[name], PUBLIC_PRECISION)
    return body


# -- keys and visibility -----------------------------------------------------------------------


def key_for(raw: str | None) -> Open311Key:
    """The key a write names: required."""
    key = optional_key(raw)
    if key is None:
        raise Open311Error(403, message("api_key_invalid"))
    return key


def optional_key(raw: str | None) -> Open311Key | None:
    """The key a read names, or None for a read without one (public requests only, as
    GeoReport v2 allows); a key that is named but wrong or revoked is refused (403)."""
    if not raw:
        return None
    key = Open311Key.objects.filter(
        digest=hashlib.sha256(raw.encode()).hexdigest(), active=True
    ).first()
    if key is None:
        raise Open311Error(403, message("api_key_invalid"))
    Open311Key.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    return key


def visible_requests(key: Open311Key) -> QuerySet[Case]:
    if key.sees_all_requests:
        q = Q() if key.district_id is None else Q(district_id=key.district_id)
    else:
        q = Q(open311_key=key)
    return (
        Case.objects.filter(q)
        .exclude(state=CaseState.DRAFT)
        .select_related("item", "queue_department", "community")
    )


def _handled(view: Any) -> Any:
    def wrapper(request: HttpRequest, fmt: str, **kwargs: Any) -> HttpResponse:
        try:
            for params in (request.GET, request.POST):
                for name, values in params.lists():
                    if any("\x00" in v for v in [name, *values]):
                        raise Open311Error(400, f"{name}: " + message("field_invalid"))
            response: HttpResponse = view(request, fmt, **kwargs)
            return response
        except Open311Error as exc:
            return error(fmt, exc.status, exc.description)
        except Exception as exc:  # the one mapping, rendered in GeoReport's shape
            failure = api_error_of(request, exc)
            described = "; ".join(f"{k}: {message(v)}" for k, v in failure.fields.items())
            text = message(failure.code) + (f" ({described})" if described else "")
            return error(fmt, 400 if failure.status in (409, 422) else failure.status, text)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


# -- endpoints ---------------------------------------------------------------------------------


@require_GET
@_handled
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    base = request.build_absolute_uri(reverse("open311-root"))
    return render(
        {
            "changeset": "2026-11-27T00:00:00+08:00",
            "contact": "the district administrator (see the Django admin)",
            "key_service": "api keys are issued by the district administrator in the admin",
            "endpoints": [
                {
                    "specification": "http://wiki.open311.org/GeoReport_v2",
                    "url": base.rstrip("/"),
                    "changeset": "2026-11-27T00:00:00+08:00",
                    "type": "production",
                    "formats": ["application/json", "text/xml"],
                }
            ],
        },
        fmt,
        root="discovery",
    )


@require_GET
@_handled
def services(request: HttpRequest, fmt: str) -> HttpResponse:
    items = selectors.catalog(district_id=_district(request))
    return render([service_json(i) for i in items], fmt, root="services")


@require_GET
@_handled
def service(request: HttpRequest, fmt: str, code: str) -> HttpResponse:
    item = selectors.catalog(district_id=_district(request)).filter(code=code).first()
    if item is None:
        raise Open311Error(404, message("not_found"))
    return render(service_definition(item), fmt, root="service_definition")


def _district(request: HttpRequest) -> int | None:
    """jurisdiction_id is the district code; absent, the catalog shared by every district."""
    from backend.territory.models import District

    code = request.GET.get("jurisdiction_id") or request.POST.get("jurisdiction_id")
    if not code:
        return None
    district = District.objects.filter(code=code).first()
    if district is None:
        raise Open311Error(404, "jurisdiction_id: " + message("not_found"))
    return district.pk


@csrf_exempt
@require_http_methods(["GET", "POST"])
@_handled
def requests(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "POST":
        return _post_request(request, fmt)
    key = optional_key(request.GET.get("api_key"))
    qs = (
        visible_requests(key)
        if key is not None
        else selectors.public_requests(district_id=_district(request))
    )
    params = request.GET
    if params.get("service_request_id"):
        qs = qs.filter(number__in=params["service_request_id"].split(","))
    else:
        now = timezone.now()
        start = _date(params.get("start_date"), "start_date")
        end = _date(params.get("end_date"), "end_date")
        if start is None and end is None:
            start = now - DEFAULT_WINDOW
        if start is not None:
            qs = qs.filter(created_at__gte=start)
        if end is not None:
            qs = qs.filter(created_at__lte=end)
        if params.get("service_code"):
            qs = qs.filter(item__code__in=params["service_code"].split(","))
        statuses = {s for s in params.get("status", "").split(",") if s}
        if statuses - {"open", "closed"}:
            raise Open311Error(400, "status: " + message("field_invalid"))
        if statuses == {"open"}:
            qs = qs.exclude(state__in=CLOSED)
        elif statuses == {"closed"}:
            qs = qs.filter(state__in=CLOSED)
    cases = list(qs.order_by("-created_at")[:MAX_REQUESTS])
    if key is not None:
        selectors.record_open311_read(key, cases, request=request)
    return render(
        [request_json(c, public=key is None) for c in cases], fmt, root="service_requests"
    )


def _date(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        value = parse_datetime(raw.replace(" ", "+"))  # a '+' in a query string arrives as ' '
    except ValueError:
        value = None
    if value is None:
        raise Open311Error(400, f"{name}: " + message("field_invalid"))
    return value if value.tzinfo else timezone.make_aware(value)


def _float(raw: str | None, name: str, limit: float) -> float:
    try:
        value = float(raw or "")
    except ValueError:
        raise Open311Error(400, f"{name}: " + message("field_required")) from None
    if not -limit <= value <= limit:
        raise Open311Error(400, f"{name}: " + message("field_out_of_range"))
    return value


def _post_request(request: HttpRequest, fmt: str) -> HttpResponse:
    data = request.POST
    key = key_for(data.get("api_key"))
    district_id = key.district_id or _district(request)
    lat = _float(data.get("lat"), "lat", 90)
    lon = _float(data.get("long"), "long", 180)
    first, last = data.get("first_name", ""), data.get("last_name", "")
    try:
        filed = actions.do_open311_intake(
            filer=actions.PublicFiler(
                key=key,
                location=Point(lon, lat, srid=4326),
                address=data.get("address_string", "")[:300],
                name=f"{last}{first}".strip()[:100],
                phone=data.get("phone", "")[:20],
                email=data.get("email", "")[:200],
            ),
            item_code=data.get("service_code", ""),
            district_id=district_id,
            description=data.get("description", "")[:4000],
        )
    except ApiError as exc:
        if "item_code" in exc.fields:  # GeoReport's name for the catalog item
            raise Open311Error(400, "service_code: " + message(exc.fields["item_code"])) from exc
        raise
    case, item = filed.case, filed.case.item
    body = [
        {
            "service_request_id": case.number,
            "service_notice": f"{_name(item)}: {item.time_limit_days} working days",
            "account_id": None,
            "token": str(case.uuid),
        }
    ]
    return render(body, fmt, root="service_requests", status=201)


@require_GET
@_handled
def request_detail(request: HttpRequest, fmt: str, request_id: str) -> HttpResponse:
    key = optional_key(request.GET.get("api_key"))
    qs = (
        visible_requests(key)
        if key is not None
        else selectors.public_requests(district_id=_district(request))
    )
    case = qs.filter(number=request_id).first()
    if case is None:
        raise Open311Error(404, message("not_found"))
    if key is not None:
        selectors.record_open311_read(key, [case], request=request)
    return render([request_json(case, public=key is None)], fmt, root="service_requests")


@require_GET
@_handled
def token(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    try:
        value = uuid.UUID(token)
    except ValueError:
        raise Open311Error(404, message("not_found")) from None
    number = (
        Case.objects.filter(uuid=value, channel=Channel.OPEN311)
        .values_list("number", flat=True)
        .first()
    )
    if number is None:
        raise Open311Error(404, message("not_found"))
    return render([{"service_request_id": number, "token": token}], fmt, root="service_requests")
