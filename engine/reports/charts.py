"""Small charts as SVG, drawn on the server: no script, nothing fetched.

Readable without colour: each series has a pattern as well as a colour (solid, stripes,
dots, cross-hatch), bars carry their numbers as text, and every chart is meant to stand
beside a table of the same numbers. Labels that would overlap are thinned out (every n-th
shown) rather than drawn on top of each other.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence

from markupsafe import Markup

# (fill colour, pattern): the pattern is drawn over the colour in white or black.
STYLES = (
    ("#1d4f91", "solid"),
    ("#c85a00", "stripes"),
    ("#2e7d32", "dots"),
    ("#6a3d9a", "cross"),
    ("#5f6b73", "solid"),
    ("#b8860b", "stripes"),
)
MET = ("#2e7d32", "solid")
LATE = ("#b3261e", "stripes")
CHAR = 6.6  # width of a character at 12px, near enough for laying labels out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "chart"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _defs(prefix: str, styles: Sequence[tuple[str, str]]) -> str:
    parts = ["<defs>"]
    for i, (colour, pattern) in enumerate(styles):
        pid = f"{prefix}-p{i}"
        if pattern == "solid":
            continue
        parts.append(f'<pattern id="{pid}" width="8" height="8" patternUnits="userSpaceOnUse">'
                     f'<rect width="8" height="8" fill="{colour}"/>')
        if pattern == "stripes":
            parts.append('<path d="M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4" stroke="#fff" '
                         'stroke-width="2"/>')
        elif pattern == "dots":
            parts.append('<circle cx="4" cy="4" r="1.6" fill="#fff"/>')
        elif pattern == "cross":
            parts.append('<path d="M0,0 l8,8 M8,0 l-8,8" stroke="#fff" stroke-width="1.3"/>')
        parts.append("</pattern>")
    parts.append("</defs>")
    return "".join(parts)


def _fill(prefix: str, styles: Sequence[tuple[str, str]], i: int) -> str:
    colour, pattern = styles[i]
    return colour if pattern == "solid" else f"url(#{prefix}-p{i})"


def _open(title: str, width: int, height: int, description: str) -> tuple[str, str]:
    prefix = f"c-{_slug(title)}"
    head = (f'<svg class="chart" role="img" aria-labelledby="{prefix}-t {prefix}-d" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'preserveAspectRatio="xMinYMin meet" font-family="system-ui, sans-serif" '
            f'font-size="12">'
            f'<title id="{prefix}-t">{_e(title)}</title><desc id="{prefix}-d">'
            f'{_e(description)}</desc>')
    return prefix, head


def _legend(prefix: str, styles: Sequence[tuple[str, str]], names: Sequence[str], y: int) -> str:
    parts, x = [], 0.0
    for i, name in enumerate(names):
        parts.append(f'<rect x="{x:.0f}" y="{y}" width="14" height="14" '
                     f'fill="{_fill(prefix, styles, i)}" stroke="#1a1a1a" stroke-width="0.6"/>'
                     f'<text x="{x + 19:.0f}" y="{y + 11}">{_e(name)}</text>')
        x += 19 + CHAR * len(name) + 18
    return "".join(parts)


def _ticks(top: float) -> tuple[float, list[float]]:
    """A rounded top for the axis and its gridlines."""
    if top <= 0:
        return 1.0, [0.0, 1.0]
    raw = top / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    count = math.ceil(top / step)
    return step * count, [step * i for i in range(count + 1)]


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def stacked_columns(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[int]]],
                    description: str, width: int = 720) -> Markup:
    """Vertical columns, one per label, each stacked by series (contacts per day by
    channel). Shows every n-th label when they would overlap."""
    styles = STYLES[:max(1, len(series))]
    height, left, bottom, top_pad = 260, 44, 40, 34
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    totals = [sum(s[1][i] for s in series) for i in range(len(labels))]
    top, grid = _ticks(max(totals, default=0))
    prefix, head = _open(title, width, height, description)
    parts = [head, _defs(prefix, styles)]
    parts.append(_legend(prefix, styles, [name for name, _ in series], 0))
    for value in grid:
        y = top_pad + plot_h - plot_h * value / top
        parts.append(f'<line x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#ccc"/><text x="{left - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{_number(value)}</text>')
    slot = plot_w / max(1, len(labels))
    bar = max(2.0, slot * 0.72)
    widest = max((len(label) for label in labels), default=1)
    every = max(1, math.ceil((widest * CHAR + 8) / slot))
    for i, label in enumerate(labels):
        x = left + slot * i + (slot - bar) / 2
        y = top_pad + plot_h
        for j, (name, values) in enumerate(series):
            h = plot_h * values[i] / top
            if h <= 0:
                continue
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{_fill(prefix, styles, j)}" stroke="#fff" stroke-width="0.5">'
                         f'<title>{_e(label)}: {values[i]} {_e(name)}</title></rect>')
        if totals[i] and slot >= CHAR * len(str(totals[i])) + 2:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle">'
                         f'{totals[i]}</text>')
        if i % every == 0:
            parts.append(f'<text x="{left + slot * i + slot / 2:.1f}" y="{height - bottom + 16}" '
                         f'text-anchor="middle">{_e(label)}</text>')
    parts.append(f'<line x1="{left}" x2="{width - 8}" y1="{top_pad + plot_h}" '
                 f'y2="{top_pad + plot_h}" stroke="#1a1a1a"/></svg>')
    return Markup("".join(parts))


def met_bars(title: str, rows: Sequence[tuple[str, int, int]], description: str,
             width: int = 720) -> Markup:
    """One bar per row, the share met (solid) and missed (striped), with the numbers."""
    label_w = min(300, max((len(label) for label, _, _ in rows), default=8) * CHAR + 12)
    text_w = 150
    bar_w = width - label_w - text_w
    height = 26 + 26 * len(rows)
    prefix, head = _open(title, width, height, description)
    styles = (MET, LATE)
    parts = [head, _defs(prefix, styles), _legend(prefix, styles, ["met", "missed"], 0)]
    for i, (label, met, late) in enumerate(rows):
        y = 24 + 26 * i
        total = met + late
        parts.append(f'<text x="0" y="{y + 13}">{_e(label)}</text>')
        if total:
            met_w = bar_w * met / total
            parts.append(f'<rect x="{label_w}" y="{y}" width="{met_w:.1f}" height="18" '
                         f'fill="{_fill(prefix, styles, 0)}"><title>{met} met</title></rect>')
            parts.append(f'<rect x="{label_w + met_w:.1f}" y="{y}" width="{bar_w - met_w:.1f}" '
                         f'height="18" fill="{_fill(prefix, styles, 1)}"><title>{late} missed'
                         f'</title></rect>')
            words = f"{met / total:.0%} met ({met} of {total})"
        else:
            parts.append(f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="18" fill="none" '
                         f'stroke="#999" stroke-dasharray="3 3"/>')
            words = "none due yet"
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 13}">{_e(words)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(title: str, labels: Sequence[str], values: Sequence[float], description: str,
            unit: str = "", width: int = 360, height: int = 180) -> Markup:
    """Simple columns with their value above each (a lateness distribution)."""
    left, bottom, top_pad = 8, 34, 18
    plot_w, plot_h = width - left * 2, height - bottom - top_pad
    top = max(values, default=0) or 1
    prefix, head = _open(title, width, height, description)
    slot = plot_w / max(1, len(labels))
    parts = [head, _defs(prefix, (LATE,))]
    widest = max((len(label) for label in labels), default=1)
    every = max(1, math.ceil((widest * CHAR * 0.9 + 4) / slot))
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = plot_h * value / top
        x = left + slot * i + slot * 0.12
        y = top_pad + plot_h - h
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.76:.1f}" height="{h:.1f}" '
                     f'fill="{_fill(prefix, (LATE,), 0)}"><title>{_e(label)}: {_number(value)}'
                     f'{_e(unit)}</title></rect>')
        parts.append(f'<text x="{x + slot * 0.38:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
                     f'{_number(value)}{_e(unit)}</text>')
        if i % every == 0:
            parts.append(f'<text x="{left + slot * (i + 0.5):.1f}" y="{height - bottom + 15}" '
                         f'text-anchor="middle" font-size="11">{_e(label)}</text>')
    parts.append(f'<line x1="{left}" x2="{width - left}" y1="{top_pad + plot_h}" '
                 f'y2="{top_pad + plot_h}" stroke="#1a1a1a"/></svg>')
    return Markup("".join(parts))


def hbars(title: str, rows: Sequence[tuple[str, float, str]], description: str,
          width: int = 720, style: int = 0) -> Markup:
    """Horizontal bars, one per row, each with its words beside it ("12 contacts")."""
    label_w = min(320, max((len(label) for label, _, _ in rows), default=8) * CHAR + 12)
    text_w = 170
    bar_w = width - label_w - text_w
    height = 8 + 26 * len(rows)
    top = max((v for _, v, _ in rows), default=0) or 1
    prefix, head = _open(title, width, height, description)
    styles = (STYLES[style % len(STYLES)],)
    parts = [head, _defs(prefix, styles)]
    for i, (label, value, words) in enumerate(rows):
        y = 4 + 26 * i
        w = bar_w * value / top
        parts.append(f'<text x="0" y="{y + 13}">{_e(label)}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="18" '
                     f'fill="{_fill(prefix, styles, 0)}"><title>{_e(words)}</title></rect>'
                     f'<text x="{label_w + w + 6:.1f}" y="{y + 13}">{_e(words)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def hours_text(value: float | None) -> str:
    """Hours as people read them: '45 min' under an hour, else '3.5 h' (never days: a
    working-hours figure in days would mislead)."""
    if value is None:
        return "—"
    if value < 1:
        return f"{round(value * 60)} min"
    return f"{value:,.1f} h".replace(".0 h", " h")


def paired_bars(title: str, rows: Sequence[tuple[str, float | None, float | None]],
                names: tuple[str, str], description: str, unit: str = "%",
                width: int = 760) -> Markup:
    """Two bars per row, before (solid) and after (striped), each with its value as text:
    a before/after comparison (deadlines met, hours in a step)."""
    styles = (STYLES[0], STYLES[1])
    label_w = min(300, max((len(label) for label, _, _ in rows), default=8) * CHAR + 12)
    text_w = 90
    bar_w = width - label_w - text_w
    top = max([v for _, a, b in rows for v in (a, b) if v is not None] or [0]) or 1
    if unit == "%":
        top = max(top, 100.0)
    height = 26 + 44 * len(rows)
    prefix, head = _open(title, width, height, description)
    parts = [head, _defs(prefix, styles), _legend(prefix, styles, list(names), 0)]
    for i, (label, before, after) in enumerate(rows):
        y = 26 + 44 * i
        parts.append(f'<text x="0" y="{y + 19}">{_e(label)}</text>')
        for j, value in enumerate((before, after)):
            yy = y + j * 18
            if value is None:
                parts.append(f'<text x="{label_w}" y="{yy + 12}" font-size="11">'
                             f'{_e(names[j])}: none</text>')
                continue
            w = bar_w * value / top
            words = f"{_number(value)}{unit}" if unit == "%" else f"{_number(value)} {unit}"
            parts.append(f'<rect x="{label_w}" y="{yy}" width="{w:.1f}" height="15" '
                         f'fill="{_fill(prefix, styles, j)}"><title>{_e(names[j])}: {_e(words)}'
                         f'</title></rect><text x="{label_w + w + 5:.1f}" y="{yy + 12}" '
                         f'font-size="11">{_e(words)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def grouped_columns(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
                    description: str, width: int = 420, height: int = 200) -> Markup:
    """Columns side by side per label, one per series (lateness bands before and after)."""
    styles = STYLES[:max(1, len(series))]
    left, bottom, top_pad = 8, 34, 40
    plot_w, plot_h = width - left * 2, height - bottom - top_pad
    top = max([v for _, values in series for v in values] or [0]) or 1
    prefix, head = _open(title, width, height, description)
    parts = [head, _defs(prefix, styles), _legend(prefix, styles, [n for n, _ in series], 0)]
    slot = plot_w / max(1, len(labels))
    bar = slot * 0.8 / max(1, len(series))
    widest = max((len(label) for label in labels), default=1)
    every = max(1, math.ceil((widest * CHAR * 0.9 + 4) / slot))
    for i, label in enumerate(labels):
        for j, (name, values) in enumerate(series):
            value = values[i]
            h = plot_h * value / top
            x = left + slot * i + slot * 0.1 + bar * j
            y = top_pad + plot_h - h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{_fill(prefix, styles, j)}"><title>{_e(label)}, {_e(name)}: '
                         f'{_number(value)}</title></rect>')
            if value:
                parts.append(f'<text x="{x + bar / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
                             f'font-size="10">{_number(value)}</text>')
        if i % every == 0:
            parts.append(f'<text x="{left + slot * (i + 0.5):.1f}" y="{height - bottom + 15}" '
                         f'text-anchor="middle" font-size="11">{_e(label)}</text>')
    parts.append(f'<line x1="{left}" x2="{width - left}" y1="{top_pad + plot_h}" '
                 f'y2="{top_pad + plot_h}" stroke="#1a1a1a"/></svg>')
    return Markup("".join(parts))
