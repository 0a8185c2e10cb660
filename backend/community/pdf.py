"""The printable A4 page of a notice, for the building's notice board (Chinese font embedded:
WenQuanYi Micro Hei from Debian's fonts-wqy-microhei)."""

from __future__ import annotations

import io
from functools import cache
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import timezone
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from .area import describe
from .models import Notice, NoticeKind

FONT = "WenQuanYiMicroHei"


@cache
def _font() -> str:
    pdfmetrics.registerFont(TTFont(FONT, settings.NOTICE_PDF_FONT, subfontIndex=0))
    return FONT


def _styles() -> dict[str, ParagraphStyle]:
    font = _font()
    base = ParagraphStyle("body", fontName=font, fontSize=12, leading=18, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=20, leading=28, alignment=1),
        "meta": ParagraphStyle("meta", parent=base, fontSize=10, leading=14, alignment=1),
        "body": base,
        "foot": ParagraphStyle("foot", parent=base, fontSize=10, leading=14),
    }


def _lines(text: str) -> str:
    return escape(text).replace("\n", "<br/>")


def notice_pdf(notice: Notice) -> bytes:
    """One A4 notice: title, kind, area, window, body, attachments, how to object."""
    s = _styles()
    start = timezone.localtime(notice.published_at) if notice.published_at else None
    end = timezone.localtime(notice.ends_at) if notice.ends_at else None
    window = f"公示期：{start:%Y-%m-%d} 至 {end:%Y-%m-%d}" if start and end else "（草稿，未发布）"
    story = [
        Paragraph(_lines(notice.title), s["title"]),
        Spacer(1, 3 * mm),
        Paragraph(
            f"{NoticeKind(notice.kind).label.split()[0]} · {escape(describe(notice))}", s["meta"]
        ),
        Paragraph(window, s["meta"]),
        Spacer(1, 8 * mm),
        Paragraph(_lines(notice.body), s["body"]),
        Spacer(1, 8 * mm),
    ]
    labels = [a.label for a in notice.attachments.order_by("pk")]
    if labels:
        story.append(Paragraph("附件：" + escape("；".join(labels)), s["foot"]))
    story.append(
        Paragraph(
            "如有异议，请在公示期内通过居民端“异议”、向网格员当面提出，或到社区服务站反映。"
            f"公示编号：{notice.pk}",
            s["foot"],
        )
    )
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=notice.title,
        author="gridline",
    )
    doc.build(story)
    return out.getvalue()
