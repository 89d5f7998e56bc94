"""Icon arrays: rows of person icons drawn as vector SVG inside the page.

The project draws every figure itself from numbers in [values]: no image
files, no network. Filled icons are dark and outline icons are white with a
dark edge, so a chart reads the same printed in black and white. The SVG
carries its alternative text in <title>, which the renderer tags as the
figure's /Alt in the PDF structure tree.
"""

from math import pi, sqrt

from markupsafe import Markup, escape

INK = "#111111"  # filled icons and outlines
PAPER = "#ffffff"  # inside of outline icons
PER_LINE = 20  # icons in one line before the row wraps
ICON_W, ICON_H = 10.0, 20.0  # one icon, in SVG units
PITCH = 11.0  # icon width plus the gap after it
GROUP_GAP = 3.0  # extra gap after every fifth icon, to make counting easy
LINE_GAP = 3.0
UNIT_MM = 0.26  # one SVG unit in millimetres: icons 5.2 mm tall
SMALL = 10  # a chart of one unlabelled row of at most this many icons is drawn large
SMALL_UNIT_MM = 0.45  # ... with icons 9 mm tall, beside its caption

# A person: a round head and a body with rounded shoulders, in a 10 x 20 box.
_HEAD = (5.0, 3.6, 3.1)
STROKE = 1.2


def _x(column):
    return column * PITCH + (column // 5) * GROUP_GAP


def size(total: int) -> tuple[float, float]:
    """(width, height) in SVG units of a row of ``total`` icons."""
    columns = min(total, PER_LINE)
    lines = -(-total // PER_LINE)
    width = _x(columns - 1) + ICON_W
    return width, lines * ICON_H + (lines - 1) * LINE_GAP


def positions(total: int, rtl: bool = False) -> list[tuple[float, float]]:
    """The top-left corner of each icon, in drawing order (filled first).

    On right-to-left pages the row starts at the right, as the text does."""
    width, _height = size(total)
    found = []
    for index in range(total):
        line, column = divmod(index, PER_LINE)
        x = _x(column)
        if rtl:
            x = width - ICON_W - x
        found.append((x, line * (ICON_H + LINE_GAP)))
    return found


def _n(value):
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _icon(x, y, filled):
    """One icon as two subpaths: its head (a circle drawn with the four
    curves a renderer draws <circle> with) and its body."""
    inset = 0 if filled else STROKE / 2
    cx, cy, r = _HEAD
    cx, cy, r = x + cx, y + cy, r - inset
    k = r / sqrt(pi)  # the curves' control offset (WeasyPrint's for <circle>)
    n = _n
    head = (f"M{n(cx + r)},{n(cy)} C{n(cx + r)},{n(cy + k)} {n(cx + k)},{n(cy + r)} {n(cx)},{n(cy + r)} "
            f"C{n(cx - k)},{n(cy + r)} {n(cx - r)},{n(cy + k)} {n(cx - r)},{n(cy)} "
            f"C{n(cx - r)},{n(cy - k)} {n(cx - k)},{n(cy - r)} {n(cx)},{n(cy - r)} "
            f"C{n(cx + k)},{n(cy - r)} {n(cx + r)},{n(cy - k)} {n(cx + r)},{n(cy)} Z")
    x1, x2, xm = x + 1.2 + inset, x + 8.8 - inset, x + 5
    top, shoulder, foot = y + 7.9 + inset, y + 11.6, y + 19.4 - inset
    body = (f"M{x1:g},{foot:g} L{x1:g},{shoulder:g} Q{x1:g},{top:g} {xm:g},{top:g} "
            f"Q{x2:g},{top:g} {x2:g},{shoulder:g} L{x2:g},{foot:g} Z")
    return f"{head} {body}"


def _icons(filled, total, rtl):
    """The SVG of the icons: one path for all dark icons and one for all
    outline icons (a few drawing operations instead of three elements per
    icon; each icon is two subpaths, head then body)."""
    dark: list[str] = []
    light: list[str] = []
    for index, (x, y) in enumerate(positions(total, rtl)):
        (dark if index < filled else light).append(_icon(x, y, index < filled))
    parts = []
    if dark:
        parts.append(f'<path fill="{INK}" d="{" ".join(dark)}"/>')
    if light:
        parts.append(f'<path fill="{PAPER}" stroke="{INK}" stroke-width="{STROKE:g}" d="{" ".join(light)}"/>')
    return "".join(parts)


def icon_array(filled: int, total: int, alt: str, rtl: bool = False, unit_mm: float = UNIT_MM) -> Markup:
    """An SVG row of ``total`` person icons, the first ``filled`` dark.

    ``alt`` is the plain alternative text (numbers already formatted);
    ``unit_mm`` sets the size (one SVG unit in millimetres)."""
    if not 0 <= filled <= total:
        raise ValueError(f"cannot fill {filled} of {total} icons")
    width, height = size(total)
    icons = _icons(filled, total, rtl)
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="icons" role="img" '
        'width="{w}mm" height="{h}mm" viewBox="-1 -1 {vw} {vh}" data-filled="{f}" data-total="{t}">'
        "<title>{alt}</title>{icons}</svg>"
    ).format(w=f"{(width + 2) * unit_mm:.2f}", h=f"{(height + 2) * unit_mm:.2f}",
             vw=f"{width + 2:g}", vh=f"{height + 2:g}", f=filled, t=total,
             alt=escape(alt), icons=Markup(icons))
