"""One self-contained HTML page: the document's tables, and its figures as inline SVG, for CI artifacts.

Nothing on the page loads anything: no script, no font, no image from elsewhere (its content
security policy forbids them), so a page from another machine's files is safe to open. Every
text is escaped, and text from outside shows its control characters escaped too (``safe_text``).
"""

from __future__ import annotations

import math
from html import escape
from typing import Optional

from netprobe.render.safe import safe_text
from netprobe.render.sections import Document, Figure, Section

# Colours that stay apart for the common kinds of colour blindness (Okabe and Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 20, 45
TICKS = 5

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; max-width: 80em; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
figure { margin: 1.5em 0; } figcaption { font-weight: 600; margin-bottom: .3em; }
.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .4em 1.2em; }
.legend span { display: inline-block; width: .9em; height: .9em; margin-right: .35em; vertical-align: -.1em; }
svg text { font: 11px system-ui, sans-serif; fill: #444; }
"""
_POLICY = "default-src 'none'; style-src 'unsafe-inline'"


def _text(value: object) -> str:
    return escape(safe_text(str(value)))


def _table(section: Section) -> list[str]:
    out = ["<table>"]
    if any(section.headers):
        out.append("<thead><tr>" + "".join(f"<th>{_text(h)}</th>" for h in section.headers) + "</tr></thead>")
    out.append("<tbody>")
    for row in section.rows:
        out.append("<tr>" + "".join(f"<td>{_text(cell)}</td>" for cell in row) + "</tr>")
    out.append("</tbody></table>")
    return out


def _nice_top(value: float) -> float:
    """The axis's top: ``value`` rounded up to 1, 2 or 5 times a power of ten (1 for nothing to show)."""
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 2, 5, 10) if value <= step * magnitude)


def _tick(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.2g}"


def _figure(figure: Figure, number: int) -> list[str]:
    """The figure as an inline SVG line chart with both axes from zero, its legend beside it, not over the data."""
    points = [p for s in figure.series for p in s.points]
    x_top, y_top = _nice_top(max((x for x, _ in points), default=0)), _nice_top(max((y for _, y in points), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def at(x: float, y: float) -> str:
        return f"{LEFT + x / x_top * plot_w:.1f},{TOP + plot_h - y / y_top * plot_h:.1f}"

    label = f"figure-{number}"
    svg = [f'<svg role="img" aria-labelledby="{label}" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg">']
    for i in range(TICKS + 1):
        x, y = x_top * i / TICKS, y_top * i / TICKS
        gx, gy = LEFT + plot_w * i / TICKS, TOP + plot_h - plot_h * i / TICKS
        svg.append(f'<line x1="{LEFT}" y1="{gy:.1f}" x2="{LEFT + plot_w}" y2="{gy:.1f}" stroke="#eee"/>')
        svg.append(f'<text x="{LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end">{_tick(y)}</text>')
        svg.append(f'<text x="{gx:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{_tick(x)}</text>')
    svg.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#888"/>')
    svg.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="#888"/>')
    svg.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle">'
               f'{_text(figure.x_label)}</text>')
    svg.append(f'<text transform="translate(14 {TOP + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">'
               f'{_text(figure.y_label)}</text>')
    for i, series in enumerate(figure.series):
        colour = PALETTE[i % len(PALETTE)]
        path = " ".join(at(x, y) for x, y in series.points)
        svg.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        for x, y in series.points:
            cx, cy = at(x, y).split(",")
            svg.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour}"/>')
    svg.append("</svg>")
    legend = ['<ul class="legend">'] + [
        f'<li><span style="background:{PALETTE[i % len(PALETTE)]}"></span>{_text(s.name)}</li>'
        for i, s in enumerate(figure.series)] + ["</ul>"]
    return [f'<figure><figcaption id="{label}">{_text(figure.title)}</figcaption>', *svg, *legend, "</figure>"]


def render_document(doc: Document, width: Optional[int] = None) -> str:
    """The document as one HTML page that needs nothing else; ``width`` is ignored, as a page reflows its own."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_text(doc.title)}</title><style>{_STYLE}</style></head><body>",
           f"<h1>{_text(doc.title)}</h1>"]
    out += [f"<p>{_text(line)}</p>" for line in doc.lead]
    for number, figure in enumerate(doc.figures, 1):
        out += _figure(figure, number)
    for section in doc.sections:
        out.append(f"<h2>{_text(section.title)}</h2>")
        out += [f"<p>{_text(line)}</p>" for line in section.lead]
        out += _table(section)
    out.append("</body></html>")
    return "\n".join(out) + "\n"
