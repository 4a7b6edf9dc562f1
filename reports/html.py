"""The report as one self-contained HTML file: styles and SVG charts inline, no script.

It must open from an e-mail attachment or a file share on a machine without
internet, so nothing is fetched: no CDN, no web font, no JavaScript.
"""

from __future__ import annotations

from html import escape
from zoneinfo import ZoneInfo

from reports.cells import banner_lines, cell_text, meta_rows, summary_text
from reports.charts import chart_svg
from reports.model import Fmt, Report, Section
from reports.text import Lang, text

__all__ = ["render_html"]

_STYLE = """
body{font-family:-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei","Noto Sans CJK SC",
sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}
h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em}th{background:#f3f5f7;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.meta{color:#555}.note{color:#555;font-size:.9em}
.banner{background:#fff4e0;border:1px solid #e0b060;padding:.8em 1em;margin:1em 0}
svg{max-width:100%;height:auto;display:block}
"""

_NUMERIC = frozenset({Fmt.INT, Fmt.MONEY, Fmt.RATE, Fmt.FIGURE})


def _table(section: Section, lang: Lang, zone: ZoneInfo) -> str:
    head = "".join(f"<th>{escape(text(lang, 'col.' + c.key))}</th>" for c in section.columns)
    body = []
    for row in section.rows:
        cells = "".join(
            f'<td class="n">{escape(cell_text(v, c, lang, zone))}</td>'
            if c.fmt in _NUMERIC
            else f"<td>{escape(cell_text(v, c, lang, zone))}</td>"
            for v, c in zip(row, section.columns, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _summary(section: Section, lang: Lang, zone: ZoneInfo) -> str:
    rows = "".join(
        f'<tr><th>{escape(k)}</th><td class="n">{escape(v)}</td></tr>'
        for k, v in (summary_text(row, lang, zone) for row in section.rows)
    )
    return f"<table><tbody>{rows}</tbody></table>"


def _section(section: Section, lang: Lang, zone: ZoneInfo) -> str:
    parts = [f'<h2 id="{section.key}">{escape(text(lang, "section." + section.key))}</h2>']
    if section.note:
        parts.append(f'<p class="note">{escape(text(lang, section.note))}</p>')
    if section.key == "summary":
        parts.append(_summary(section, lang, zone))
    elif not section.rows:
        parts.append(f'<p class="note">{escape(text(lang, "note.nothing"))}</p>')
    else:
        svg = chart_svg(section, lang)
        if svg:
            parts.append(f'<figure role="img">{svg}</figure>')
        parts.append(_table(section, lang, zone))
    return "\n".join(parts)


def render_html(report: Report, lang: Lang, zone: ZoneInfo) -> str:
    """The whole page for ``report`` in ``lang``."""
    title = f"{text(lang, 'report.' + report.period.kind)} {report.period.name}"
    meta = meta_rows(report, lang, zone)
    meta_html = " · ".join(f"{escape(k)}: {escape(v)}" for k, v in meta)
    sections = [] if report.empty else [_section(s, lang, zone) for s in report.sections]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            f'<html lang="{lang}"><head><meta charset="utf-8">',
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
            f"<h1>{escape(title)}</h1>",
            f'<p class="meta">{meta_html}</p>',
            *(
                f'<div class="banner" role="status">{escape(b)}</div>'
                for b in banner_lines(report, lang)
            ),
            *sections,
            "</body></html>",
        ]
    )
