"""The report as PDF, with reportlab (pure Python, no browser): the tables, no charts.

Chinese text uses reportlab's built-in CID font ``STSong-Light``, one of the
Adobe Asian fonts every PDF reader supplies, so no font file has to be installed
or embedded. The charts stay in the HTML: drawing matplotlib's SVG into a PDF
would need another converter (svglib) for little gain over the tables.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from reports.cells import banner_lines, cell_text, meta_rows, summary_text
from reports.model import Report, Section
from reports.text import Lang, text

__all__ = ["write_pdf"]

_CJK = "STSong-Light"


def _font(lang: Lang) -> str:
    if lang == "zh-CN":
        if _CJK not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont(_CJK))
        return _CJK
    return "Helvetica"


def _rows(section: Section, lang: Lang, zone: ZoneInfo) -> list[list[str]]:
    if section.key == "summary":
        return [list(summary_text(row, lang, zone)) for row in section.rows]
    head = [text(lang, "col." + c.key) for c in section.columns]
    return [head] + [
        [cell_text(v, c, lang, zone) for v, c in zip(row, section.columns, strict=True)]
        for row in section.rows
    ]


def _table(rows: list[list[str]], font: str, header: bool) -> Table:
    table = Table(rows, repeatRows=1 if header else 0, hAlign="LEFT")
    style = [
        ("FONT", (0, 0), (-1, -1), font, 8),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f3f5f7")))
    table.setStyle(TableStyle(style))
    return table


def write_pdf(report: Report, lang: Lang, zone: ZoneInfo, path: Path) -> None:
    """Write ``report`` to ``path`` as an A4 landscape PDF."""
    font = _font(lang)
    styles = getSampleStyleSheet()
    h1 = ParagraphStyle("h1", parent=styles["Heading1"], fontName=font)
    h2 = ParagraphStyle("h2", parent=styles["Heading2"], fontName=font)
    body = ParagraphStyle("body", parent=styles["BodyText"], fontName=font, fontSize=9)
    title = f"{text(lang, 'report.' + report.period.kind)} {report.period.name}"
    story: list[Flowable] = [Paragraph(escape(title), h1)]
    story += [Paragraph(escape(f"{k}: {v}"), body) for k, v in meta_rows(report, lang, zone)]
    story += [Paragraph(f"<b>{escape(line)}</b>", body) for line in banner_lines(report, lang)]
    for section in () if report.empty else report.sections:
        story += [Spacer(1, 8), Paragraph(escape(text(lang, "section." + section.key)), h2)]
        if section.note:
            story.append(Paragraph(escape(text(lang, section.note)), body))
        if section.rows:
            story.append(_table(_rows(section, lang, zone), font, section.key != "summary"))
        else:
            story.append(Paragraph(escape(text(lang, "note.nothing")), body))
    document = SimpleDocTemplate(str(path), pagesize=landscape(A4), title=title)
    document.build(story)
