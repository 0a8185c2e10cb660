"""The page an SMS link opens (/n/<token>): the notice in plain HTML for any phone browser;
opening it is the household's read receipt by SMS."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.html import escape, linebreaks
from django.views.decorators.http import require_GET

from backend.core.errors import ApiError, error_response

from .actions import do_read_by_link


@require_GET
def notice_link(request: HttpRequest, token: str) -> HttpResponseBase:
    try:
        notice = do_read_by_link(token=token)
    except ApiError as exc:  # an unknown or unpublished link
        return error_response(request, exc)
    page = (
        '<!doctype html><html lang="zh-Hans"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(notice.title)}</title>"
        '<body style="font-size:1.25rem;line-height:1.6;max-width:40rem;margin:1rem auto;'
        'padding:0 1rem">'
        f"<h1>{escape(notice.title)}</h1>{linebreaks(notice.body)}"
        "<p>如有异议，请在公示期内告诉您的网格员，或在居民端提出。</p></body></html>"
    )
    return HttpResponse(page)
