"""Exports: the XLSX of a period's scorecards (openpyxl, write-only) with an evidence sheet per
indicator whose rows add up to the cards' counts, and a printable PDF of one card (reportlab,
with the WenQuanYi Micro Hei font embedded so that the Chinese prints anywhere)."""

from __future__ import annotations

import io
from functools import cache
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from . import compute
from .indicators import SPECS
from .models import Period, Scorecard

FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
FONT = "WenQuanYiMicroHei"


def _subject_name(card: Scorecard) -> str:
    return card.user.name if card.user is not None else card.community.name


def xlsx(period: Period, cards: QuerySet[Scorecard]) -> bytes:
    """Sheet `scorecards`: the cards (one row each, per indicator its value, count, hits and
    points). Sheet `indicators`: each indicator's code, names, what its records are and the
    sheet of its evidence. Then one evidence sheet per indicator, named by its code: a row
    per record it counted or excluded for the subjects in `cards` — card_id, the record's id,
    value, and the reason only where it was excluded (an empty cell otherwise: the evidence is
    most of the file's cells, and a cell per field made the district's export slow)."""
    from openpyxl import Workbook

    cards = cards.select_related("user", "community")
    codes = [i.code for i in compute.indicators_of(period)]
    book = Workbook(write_only=True)
    sheet = book.create_sheet("scorecards")
    head = [
        "card_id", "subject", "community", "base", "leader", "adjustment", "total", "grade",
        "rank",
    ]  # fmt: skip
    for code in codes:
        head += [f"{code}.value", f"{code}.counted", f"{code}.hits", f"{code}.points"]
    sheet.append(head)
    subjects: dict[int, int] = {}
    for card in cards:
        subjects[card.user_id if card.user_id is not None else card.community_id] = card.pk
        row: list[Any] = [
            card.pk, _subject_name(card), card.community.name, card.base, card.leader,
            card.adjustment, card.total, card.grade, card.rank,
        ]  # fmt: skip
        for code in codes:
            figure = card.indicators.get(code, {})
            row += [figure.get("value"), figure.get("counted"), figure.get("hits"),
                    figure.get("points")]  # fmt: skip
        sheet.append(row)
    legend = book.create_sheet("indicators")
    legend.append(["indicator", "label_zh", "label_en", "record", "sheet"])
    for code in codes:
        spec = SPECS[code]
        legend.append([code, spec.label_zh, spec.label_en, spec.record, code])
    for code in codes:
        evidence = book.create_sheet(code)
        evidence.append(["card_id", f"{SPECS[code].record}_id", "value", "excluded"])
        append = evidence.append
        for subject, ref, value, excluded in compute.evidence_values(period, code):
            card_id = subjects.get(int(subject))
            if card_id is not None:
                append((card_id, ref, value, excluded) if excluded else (card_id, ref, value))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@cache
def _font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    path = getattr(settings, "ASSESSMENT_PDF_FONT", "") or FONT_PATH
    pdfmetrics.registerFont(TTFont(FONT, path, subfontIndex=0))
    return FONT


def pdf(card: Scorecard) -> bytes:
    """One card on A4: who, the period, each indicator and its points, adjustments, appeals."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _font()
    title = ParagraphStyle("t", fontName=font, fontSize=16, leading=22)
    body = ParagraphStyle("b", fontName=font, fontSize=10, leading=14)
    rows: list[list[Any]] = [["指标", "值", "计入", "得分", "剔除"]]
    for code, figure in card.indicators.items():
        spec = SPECS.get(code)
        value = figure.get("value")
        rows.append([
            spec.label_zh if spec else code,
            "—" if value is None else f"{value:.3g}",
            str(figure.get("counted", 0)),
            "—" if figure.get("points") is None else f"{figure['points']:.1f}",
            "，".join(f"{k} {v}" for k, v in figure.get("excluded", {}).items()) or "—",
        ])  # fmt: skip
    table = Table(rows, repeatRows=1)
    table.setStyle(
        TableStyle([
            ("FONTNAME", (0, 0), (-1, -1), font),
            ("FONTSIZE", (0, 0), (-1, -1), 9),
            ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
        ])
    )  # fmt: skip
    story: list[Any] = [
        Paragraph(f"{card.period.label}考核 · {_subject_name(card)}", title),
        Paragraph(
            f"社区：{card.community.name}　基础分 {card.base:.1f}　加减分 {card.adjustment:+.1f}"
            f"　总分 {card.total:.1f}　等次 {card.grade}　社区排名 {card.rank or '—'}",
            body,
        ),
        Spacer(1, 8),
        table,
        Spacer(1, 8),
    ]
    for adj in card.adjustments.select_related("by"):
        story.append(Paragraph(f"加减分 {adj.points:+g}：{adj.reason}（{adj.by.name}）", body))
    for appeal in card.appeals.all():
        story.append(Paragraph(f"申诉：{appeal.text}　结果：{appeal.decision or '待处理'}", body))
    if card.self_comment:
        story.append(Paragraph(f"自评：{card.self_comment}", body))
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4, title=f"scorecard {card.pk}").build(story)
    return out.getvalue()


def community_pdf(period: Period, cards: QuerySet[Scorecard], community_name: str) -> bytes:
    """A community's ranking on A4: every card of it in the period, best first."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _font()
    rows: list[list[Any]] = [["排名", "姓名", "基础分", "加减分", "总分", "等次"]]
    for card in cards.select_related("user", "community"):
        rows.append([card.rank, _subject_name(card), f"{card.base:.1f}",
                     f"{card.adjustment:+.1f}", f"{card.total:.1f}", card.grade])  # fmt: skip
    table = Table(rows, repeatRows=1)
    table.setStyle(
        TableStyle([
            ("FONTNAME", (0, 0), (-1, -1), font),
            ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
        ])
    )  # fmt: skip
    title = ParagraphStyle("t", fontName=font, fontSize=16, leading=22)
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4).build(
        [Paragraph(f"{period.label}考核 · {community_name}", title), Spacer(1, 8), table]
    )
    return out.getvalue()
