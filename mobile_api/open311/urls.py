"""/open311/v2/ (GeoReport v2); `.json` or `.xml` picks the format."""

from django.urls import path, re_path

from . import views

FMT = r"\.(?P<fmt>json|xml)$"

urlpatterns = [
    path("", views.discovery, {"fmt": "json"}, name="open311-root"),
    re_path(r"^discovery" + FMT, views.discovery, name="open311-discovery"),
    re_path(r"^services" + FMT, views.services, name="open311-services"),
    re_path(r"^services/(?P<code>[-a-zA-Z0-9_]+)" + FMT, views.service, name="open311-service"),
    re_path(r"^requests" + FMT, views.requests, name="open311-requests"),
    re_path(
        r"^requests/(?P<request_id>[0-9A-Za-z-]+)" + FMT,
        views.request_detail,
        name="open311-request",
    ),
    re_path(r"^tokens/(?P<token>[0-9A-Za-z-]+)" + FMT, views.token, name="open311-token"),
]
