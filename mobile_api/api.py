"""The one NinjaAPI for phones, devices and integrations: auth, error handlers, routers."""

from __future__ import annotations

import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from psycopg_pool import PoolTimeout

from backend.core.errors import ApiError, error_body, message

from .errors import field_name, reason_code
from .security import BearerAuth

logger = logging.getLogger(__name__)

api = NinjaAPI(
    title="gridline mobile API",
    version="1",
    urls_namespace="api-v1",
    auth=BearerAuth(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)

api.add_router("/auth", "mobile_api.auth.router.router")
api.add_router("/me", "mobile_api.me.router.router")
api.add_router("/grids", "mobile_api.territory.router.router")
api.add_router("/", "mobile_api.people.router.router")
api.add_router("/health", "mobile_api.health.router.router")
api.add_router("/", "mobile_api.alerts.router.router")
api.add_router("/device", "mobile_api.alerts.router.device_router")
api.add_router("/realtime", "mobile_api.realtime.router.router")
api.add_router("/", "mobile_api.visits.router.router")
api.add_router("/", "mobile_api.servicedesk.router.router")


def _respond(request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
    return api.create_response(request, body, status=status)


@api.exception_handler(ApiError)
def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return _respond(request, exc.status, exc.body())


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields: dict[str, str] = {}
    for error in exc.errors:
        fields.setdefault(field_name(error.get("loc", ())), message(reason_code(error)))
    return _respond(request, 422, error_body("validation_error", fields))


_HTTP_CODES = {
    400: "invalid_json",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
}


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc, AuthenticationError):
        return _respond(request, 401, error_body("not_authenticated"))
    code = _HTTP_CODES.get(exc.status_code, "validation_error")
    return _respond(request, exc.status_code, error_body(code))


@api.exception_handler(MultiPartParserError)
def on_unparsable_body(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    return _respond(request, 400, error_body("invalid_json"))


@api.exception_handler(Http404)
def on_404(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _respond(request, 404, error_body("not_found"))


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    if isinstance(exc.__cause__, PoolTimeout):
        # Every database connection of this process is busy (a burst): nothing was written,
        # and a device or phone should simply retry — which they do with the same client id.
        logger.warning("database pool exhausted on %s %s", request.method, request.path)
        response = _respond(request, 503, error_body("service_busy"))
        response["Retry-After"] = "2"
        return response
    logger.exception("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return _respond(request, 500, error_body("internal_error"))
