"""The one NinjaAPI for phones, devices and integrations: auth, error handlers, routers."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from backend.core.errors import ApiError, error_response

from .errors import field_name, reason_code
from .security import BearerAuth

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


_HTTP_CODES = {
    400: "invalid_json",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
}


def _ninja_error(exc: Exception) -> Exception:
    """Ninja's own exceptions as ours; everything else is mapped by `error_response`."""
    if isinstance(exc, ValidationError):
        fields: dict[str, str] = {}
        for error in exc.errors:
            fields.setdefault(field_name(error.get("loc", ())), reason_code(error))
        return ApiError("validation_error", status=422, fields=fields)
    if isinstance(exc, AuthenticationError):
        return ApiError("not_authenticated", status=401)
    if isinstance(exc, HttpError):
        code = _HTTP_CODES.get(exc.status_code, "validation_error")
        return ApiError(code, status=exc.status_code)
    return exc


def on_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(request, _ninja_error(exc))


# Ninja picks the handler registered for the most specific class, and registers its own
# defaults for these; the same one function replaces every one of them.
for _kind in (Exception, ApiError, ValidationError, HttpError, Http404):
    api.exception_handler(_kind)(on_error)
