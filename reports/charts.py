"""Charts drawn on the server as inline SVG (matplotlib), for a page with no network.

Lenders' networks reach no CDN, so the HTML carries its charts inside it. Text is
kept as SVG ``<text>`` (``svg.fonttype: none``) rather than drawn as glyph paths:
the reader's browser then draws Chinese labels with its own fonts, where
matplotlib's bundled font has no CJK glyphs.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")  # no display: must be chosen before pyplot is imported

from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from reports.model import Section  # noqa: E402
from reports.text import Lang, label, text  # noqa: E402

__all__ = ["chart_svg"]

_COLOUR = "#2f6f9f"


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    with (
        matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "loanwatch"}),
        warnings.catch_warnings(),
    ):
        # Its font lacks CJK glyphs; the text stays text, drawn by the reader's browser.
        warnings.filterwarnings("ignore", "Glyph .* missing from font", UserWarning)
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]  # drop the XML prolog and DOCTYPE: it sits inside HTML


def _bars(section: Section, lang: Lang) -> Figure:
    family = section.columns[0].family or "bucket"
    labels = [label(lang, family, str(row[0])) for row in section.rows]
    figure, axes = plt.subplots(figsize=(6, 2.6))
    axes.bar(labels, [row[1] for row in section.rows], color=_COLOUR)
    axes.set_ylabel(text(lang, "col.loans"))
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def _hbars(section: Section, lang: Lang) -> Figure:
    rows = sorted(section.rows, key=lambda r: -r[2])[:10][::-1]
    figure, axes = plt.subplots(figsize=(6, 0.35 * len(rows) + 0.8))
    axes.barh([str(r[0]) for r in rows], [r[2] for r in rows], color=_COLOUR)
    axes.set_xlabel(text(lang, "col.opened"))
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def _matrix(section: Section, lang: Lang) -> Figure:
    froms = sorted({r[0] for r in section.rows}, key=_bucket_order)
    tos = sorted({r[1] for r in section.rows}, key=_bucket_order)
    grid = [[0.0] * len(tos) for _ in froms]
    for a, b, _, rate in section.rows:
        grid[froms.index(a)][tos.index(b)] = rate or 0.0
    figure, axes = plt.subplots(figsize=(0.7 * len(tos) + 2, 0.45 * len(froms) + 1.2))
    axes.imshow(grid, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    axes.set_xticks(range(len(tos)), tos)
    axes.set_yticks(range(len(froms)), froms)
    axes.set_xlabel(text(lang, "col.to"))
    axes.set_ylabel(text(lang, "col.from"))
    for i, row in enumerate(grid):
        for j, rate in enumerate(row):
            colour = "white" if rate > 0.6 else "black"
            axes.text(j, i, f"{100 * rate:.0f}%", ha="center", va="center", color=colour)
    return figure


def _curves(section: Section, lang: Lang) -> Figure:
    figure, axes = plt.subplots(figsize=(6, 2.8))
    for cohort in sorted({r[0] for r in section.rows}):
        points = [(r[1], 100 * (r[4] or 0.0)) for r in section.rows if r[0] == cohort]
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=cohort)
    axes.set_xlabel(text(lang, "col.mob"))
    axes.set_ylabel(text(lang, "col.bad_rate") + " %")
    axes.legend(fontsize="small", frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def _bucket_order(value: str) -> tuple[int, str]:
    return (len(value), value)  # M0 < M1 < ... < M6 < M6+


_CHARTS: dict[str, Callable[[Section, Lang], Figure]] = {
    "bars": _bars,
    "hbars": _hbars,
    "matrix": _matrix,
    "curves": _curves,
}


def chart_svg(section: Section, lang: Lang) -> str | None:
    """The section's chart as an ``<svg>`` element, or None when it has none or no rows."""
    if section.chart is None or not section.rows:
        return None
    return _svg(_CHARTS[section.chart](section, lang))
