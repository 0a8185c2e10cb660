"""Serving photos through short-lived signed links (the API hands them out after its scope
check). The bytes served are the re-encoded copies, never the upload."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponseBase

from backend.core.errors import ApiError, error_response

from .actions import photo_for_link


def serve_photo(request: HttpRequest, token: str) -> HttpResponseBase:
    try:
        photo, variant = photo_for_link(token)
    except ApiError as exc:  # expired, forged and missing links all answer 404
        return error_response(request, exc)
    field = photo.display if variant == "display" else photo.thumbnail
    response = FileResponse(field.open("rb"), content_type="image/jpeg")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=300"
    response["Content-Disposition"] = "inline"
    return response
