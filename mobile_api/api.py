"""The one NinjaAPI for phones, devices and integrations: auth, error handlers, routers."""

from __future__ import annotations

from ninja import NinjaAPI

from backend.core.api_errors import install_error_handlers

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
api.add_router("/notify/callbacks", "mobile_api.notify.router.router")
api.add_router("/", "mobile_api.assessment.router.router")
api.add_router("/", "mobile_api.community.router.router")
api.add_router("/", "mobile_api.reassurance.router.router")


install_error_handlers(api)
