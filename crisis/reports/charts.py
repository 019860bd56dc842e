"""Horizontal bar charts as inline SVG, drawn on the server.

No JavaScript and no inline styles (the CSP allows neither): SVG
presentation attributes only. Each chart has a title and a description for
screen readers, prints its value next to every bar, and says so in words
when a district's figure is suppressed, so the picture never shows more
than the tables do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask_babel import gettext as _
from markupsafe import Markup, escape

from crisis.reports.figures import Figure, Shown, Unit, display
from crisis.reports.services import Chart

INK, MUTED, LINE, BAR, CITY, GRID = "#1b1f24", "#5b6470", "#d5dae0", "#0b5cad", "#8a5a00", "#eef0f3"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
MAX_LABEL = 26
TOP = 40  # room for the city line's label
AXIS = 30


@dataclass(frozen=True)
class Layout:
    """Where things go. On a desk the district names stand left of the bars; on a
    phone (shown instead of the wide one below 40rem, see app.css) above them, so the
    bars get the whole width and the text stays at reading size."""

    name: str
    width: int
    bar_start: int
    bar_space: int  # room for the longest bar; after it comes its value
    row: int
    bar_height: int
    font_size: int
    labels_above: bool

    def bar_y(self, row_y: float) -> float:
        if self.labels_above:
            return row_y + self.row - self.bar_height - 6
        return row_y + (self.row - self.bar_height) / 2


# District names up to "Enskede-Årsta-Vantör" fit left of the bars at 15px.
WIDE = Layout("wide", width=760, bar_start=220, bar_space=450, row=34, bar_height=22, font_size=15,
              labels_above=False)
NARROW = Layout("narrow", width=360, bar_start=8, bar_space=262, row=50, bar_height=20, font_size=15,
                labels_above=True)


def nice_ceiling(value: float) -> float:
    """A round number at or above `value` for the end of the axis, divisible into four
    round ticks (4, 6, 8, 10, 12, 16, 20 ... x 10^n)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.6, 2, 2.4, 3, 4, 6, 8, 10):
        if value <= step * magnitude + 1e-9:
            return step * magnitude
    return 10 * magnitude


def ordered_bars(chart: Chart) -> list:
    """Best first, so the eye reads the ranking at once: shortest time, highest share;
    districts whose figure is hidden come last, by name."""
    shown = [b for b in chart.bars if b.figure.is_shown]
    hidden = sorted((b for b in chart.bars if not b.figure.is_shown), key=lambda b: str(b.label))
    shown.sort(key=lambda b: (-b.figure.value if chart.unit == Unit.PERCENT else b.figure.value, str(b.label)))
    return shown + hidden


def _scale_max(chart: Chart) -> float:
    if chart.unit == Unit.PERCENT:
        return 100.0
    values = [b.figure.value for b in chart.bars if b.figure.is_shown]
    if chart.reference.is_shown:
        values.append(chart.reference.value)
    return nice_ceiling(max(values, default=0))


def _why_not_shown(figure: Figure) -> str:
    if figure.shown == Shown.NO_CASES:
        return _("no cases")
    return _("not shown (small numbers)")


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def _tick_text(value: float, unit: Unit) -> str:
    from flask_babel import format_decimal

    text = format_decimal(value, format="#,##0" if float(value).is_integer() else "#,##0.#")
    return text + {Unit.PERCENT: " %", Unit.HOURS: " h", Unit.MINUTES: " min"}.get(unit, "")


def bar_chart(chart: Chart, layout: Layout = WIDE) -> Markup:
    top = _scale_max(chart)
    bars = ordered_bars(chart)
    axis_y = TOP + layout.row * len(bars)
    height = axis_y + AXIS
    ids = f"chart-{chart.id}-{layout.name}"

    def x_of(value: float) -> float:
        return layout.bar_start + layout.bar_space * min(value, top) / top

    parts = [
        f'<svg class="chart chart-{layout.name}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {layout.width} {height}" role="img" aria-labelledby="{ids}-title {ids}-desc" '
        f'font-family="{FONT}" font-size="{layout.font_size}">',
        f'<title id="{ids}-title">{escape(chart.title)}</title>',
        f'<desc id="{ids}-desc">{escape(_describe(chart))}</desc>',
    ]
    for i in range(5):
        tick = top * i / 4
        x = x_of(tick)
        anchor = "start" if i == 0 and layout.labels_above else "middle"
        parts.append(f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{axis_y}" stroke="{GRID}" '
                     f'stroke-width="1"/>')
        parts.append(f'<text x="{x:.1f}" y="{axis_y + 20}" text-anchor="{anchor}" fill="{MUTED}" '
                     f'font-size="13">{escape(_tick_text(tick, chart.unit))}</text>')
    parts.append(f'<line x1="{layout.bar_start}" y1="{TOP - 6}" x2="{layout.bar_start}" y2="{axis_y}" '
                 f'stroke="{LINE}" stroke-width="1.5"/>')
    texts = []
    for index, bar in enumerate(bars):
        row_y = TOP + layout.row * index
        bar_y = layout.bar_y(row_y)
        label = str(bar.label)
        if layout.labels_above:
            texts.append(_text(layout.bar_start, bar_y - 6, label, INK, 'font-weight="600"', layout))
        else:
            parts.append(f'<text x="{layout.bar_start - 10}" y="{bar_y + layout.bar_height / 2 + 5:.1f}" '
                         f'text-anchor="end" fill="{INK}"><title>{escape(label)}</title>{escape(_short(label))}'
                         f'</text>')
        if bar.figure.is_shown:
            end = x_of(bar.figure.value)
            parts.append(f'<rect x="{layout.bar_start}" y="{bar_y:.1f}" width="{max(end - layout.bar_start, 2):.1f}" '
                         f'height="{layout.bar_height}" fill="{BAR}" rx="3"/>')
            texts.append(_text(max(end, layout.bar_start + 2) + 6, bar_y + layout.bar_height / 2 + 5,
                               display(bar.figure, with_unit=True), INK, 'font-weight="700"', layout))
        else:
            texts.append(_text(layout.bar_start + 6, bar_y + layout.bar_height / 2 + 5,
                               _why_not_shown(bar.figure), MUTED, 'font-style="italic"', layout))
    if chart.reference.is_shown:
        x = x_of(chart.reference.value)
        parts.append(f'<line x1="{x:.1f}" y1="{TOP - 8}" x2="{x:.1f}" y2="{axis_y}" stroke="{CITY}" '
                     f'stroke-width="2.5" stroke-dasharray="6 4"/>')
        anchor = "end" if x > layout.bar_start + layout.bar_space * 0.6 else "start"
        parts.append(f'<text x="{x + (-6 if anchor == "end" else 6):.1f}" y="{TOP - 14}" text-anchor="{anchor}" '
                     f'fill="{CITY}" font-weight="700">'
                     f'{escape(_("Whole city: %(value)s", value=display(chart.reference, with_unit=True)))}'
                     f'</text>')
    parts.extend(texts)  # over the city line, which must never run through a figure
    parts.append("</svg>")
    return Markup("".join(parts))


def _text(x: float, baseline: float, text: str, fill: str, extra: str, layout: Layout) -> str:
    """Text on a white ground, so the city line never runs through it (the width is
    estimated at about 0.6 em a character)."""
    width = len(text) * layout.font_size * 0.6 + 8
    height = layout.font_size + 6
    return (f'<rect x="{x - 4:.1f}" y="{baseline - layout.font_size - 1:.1f}" width="{width:.1f}" '
            f'height="{height}" fill="#fff"/>'
            f'<text x="{x:.1f}" y="{baseline:.1f}" fill="{fill}" {extra}>{escape(text)}</text>')


def charts_for_page(chart: Chart) -> Markup:
    """Both layouts; the style sheet shows the one that fits the screen."""
    return bar_chart(chart, WIDE) + bar_chart(chart, NARROW)


def _describe(chart: Chart) -> str:
    """The chart in words, for screen readers and for anyone who cannot see the bars."""
    items = []
    for bar in ordered_bars(chart):
        value = display(bar.figure, with_unit=True) if bar.figure.is_shown else _why_not_shown(bar.figure)
        items.append(f"{bar.label}: {value}")
    city = display(chart.reference, with_unit=True) if chart.reference.is_shown else \
        _why_not_shown(chart.reference)
    return f"{chart.description} " + "; ".join(items) + ". " + _("Whole city: %(value)s", value=city) + "."
