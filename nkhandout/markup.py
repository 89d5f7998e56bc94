"""Translated text to safe HTML: escape first, then apply nkhandout's tiny markup.

The markup a string may carry:
  *words*        bold
  {name}         a number from [values], formatted for the locale
  [@key; @key]   citation marker, printed as the reference numbers
Anything else, HTML included, is printed as text.
"""

import re
from collections import Counter

from babel import Locale
from babel.numbers import UnsupportedNumberingSystemError, format_decimal, format_percent
from markupsafe import Markup, escape

from .fonts import DIGITS
from .references import CITATION

TOKEN = re.compile(r"(\[@[^\]]*\])|\{([a-z_][a-z0-9_]*)\}")
BOLD = re.compile(r"\*(?=\S)([^*]*?\S)\*")
# A run of Latin letters or digits, with the spaces and marks between them,
# isolated as left-to-right inside right-to-left text.
_LTR_RUN = re.compile(r"[A-Za-z0-9][A-Za-z0-9%.,:/'+\-\s]*[A-Za-z0-9%]|[A-Za-z0-9]")
# keep_words (fonts.toml): Korean breaks lines between words, like CSS
# `word-break: keep-all`, which WeasyPrint does not implement: it breaks
# between any two Hangul syllables. The printed page puts a word joiner
# (U+2060, invisible, never copied: see join_words) between each two
# characters of a Korean word; the web page leaves the text as written and
# asks the browser for keep-all (templates/screen.css).
JOINER = "\u2060"
# One character of HTML text: a character reference or a character (a
# zero-width space marks a break inside a word: it ends a word here).
_UNIT = r"(?:&[#0-9A-Za-z]+;|[^\s<&\u200b])"
# A Korean word in HTML text: Hangul syllables with the Latin letters,
# digits and marks glued to them.
_HANGUL_WORD = re.compile(rf"{_UNIT}*[\uac00-\ud7a3]{_UNIT}*")
_UNITS = re.compile(_UNIT)
# What is not the page's running text: tags, and the elements whose text is
# not set in lines (the title, SVG images: their text is alternative text).
_NOT_TEXT = re.compile(r"(<(svg|style|script|title)\b.*?</\2\s*>|<[^>]*>)", re.DOTALL | re.IGNORECASE)


def skeleton(text: str) -> tuple[Counter[tuple[str, ...]], Counter[str], int]:
    """What a translation must keep: citation markers, placeholders, bold."""
    cites = Counter(
        tuple(sorted(p.strip().lstrip("@") for p in m.split(";"))) for m in CITATION.findall(text))
    names = Counter(re.findall(r"\{([a-z_][a-z0-9_]*)\}", text))
    stars = text.count("*")
    return cites, names, stars


def format_value(spec: tuple[str, float], locale: Locale | str, digits: str = "latn") -> str:
    """A [values] entry as locale text, in ``digits`` (fonts.DIGITS)."""
    kind, number = spec
    formatter = format_percent if kind == "percent" else format_decimal
    try:  # the numbering system's own separators and percent sign
        text = formatter(number, locale=locale, numbering_system=digits)
    except UnsupportedNumberingSystemError:
        text = formatter(number, locale=locale)
    return localize_digits(text, digits)


def localize_digits(text: str, digits: str = "latn") -> str:
    """``text`` with its digits 0-9 written in ``digits`` (fonts.DIGITS)."""
    return text if digits == "latn" else text.translate(str.maketrans("0123456789", DIGITS[digits]))


def _wrap_runs(text, pattern, opening):
    """``text`` escaped, each match of ``pattern`` wrapped in ``opening``...</span>."""
    out = []
    last = 0
    for match in pattern.finditer(text):
        out.append(escape(text[last:match.start()]))
        out.append(Markup(opening + "%s</span>") % match.group(0))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def _plain(text, rtl):
    if rtl:
        return _wrap_runs(text, _LTR_RUN, '<span dir="ltr">')
    return escape(text)


def _join(match):
    units = _UNITS.findall(match.group(0))
    out = [units[0]]
    for before, unit in zip(units, units[1:]):
        if before != JOINER and unit != JOINER:
            out.append(JOINER)
        out.append(unit)
    return "".join(out)


def join_words(html: str) -> str:
    """``html`` (a page or part of one) with a word joiner between each two
    characters of every Korean word of its text (see JOINER): the renderer
    then never breaks a line inside the word. Tags, the title and SVG images
    are left as they are."""
    out = []
    last = 0
    for match in _NOT_TEXT.finditer(html):
        out.append(_HANGUL_WORD.sub(_join, html[last:match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(_HANGUL_WORD.sub(_join, html[last:]))
    return "".join(out)


def _inline(text, numbers, values, locale, rtl, digits="latn"):
    out = []
    last = 0
    for match in TOKEN.finditer(text):
        out.append(_plain(text[last:match.start()], rtl))
        cite, name = match.groups()
        if cite:
            keys = [k.strip().lstrip("@") for k in cite[2:-1].split(";")]
            nums = ",".join(str(numbers[k]) if k in numbers else "?" for k in keys)
            out.append(Markup('<span class="cite" dir="ltr">[%s]</span>') % nums)
        else:
            formatted = format_value(values[name], locale, digits) if name in values else "{%s}" % name
            span = '<span class="num" dir="ltr">%s</span>' if rtl else '<span class="num">%s</span>'
            out.append(Markup(span) % formatted)
            if text[match.end():match.end() + 1].isalpha():
                # A unit or particle written against the number (20分钟, 20명):
                # a word joiner keeps the line from breaking between them.
                out.append(Markup(JOINER))
        last = match.end()
    out.append(_plain(text[last:], rtl))
    return Markup("").join(out)


def plain_text(text: str, *, values: dict[str, tuple[str, float]], locale: Locale | str, digits: str = "latn") -> str:
    """``text`` as plain words (for alternative text): numbers formatted for
    the locale, citation markers, bold stars and word joiners (which only
    steer line breaks) dropped."""
    text = CITATION.sub("", text).replace(JOINER, "")
    text = BOLD.sub(lambda match: match.group(1), text)
    text = re.sub(r"\{([a-z_][a-z0-9_]*)\}",
                  lambda m: format_value(values[m.group(1)], locale, digits) if m.group(1) in values else m.group(0),
                  text)
    return re.sub(r"\s+", " ", text).strip()


def isolate(text: str, rtl: bool) -> Markup:
    """Plain ``text`` (a clinic's name or address) escaped, with Latin runs kept
    left-to-right on right-to-left pages."""
    return _plain(text, rtl)


def render(text: str, *, numbers: dict[str, int], values: dict[str, tuple[str, float]], locale: Locale | str, rtl: bool = False,
           digits: str = "latn") -> Markup:
    """``text`` as Markup: escaped, with bold, numbers and citations applied.

    ``numbers`` maps citation keys to reference numbers; ``values`` maps
    placeholder names to (kind, number). Only a matched pair of stars makes
    bold; a lone star is printed as it is.
    """
    out = []
    last = 0
    for match in BOLD.finditer(text):
        out.append(_inline(text[last:match.start()], numbers, values, locale, rtl, digits))
        out.append(Markup("<strong>%s</strong>") % _inline(match.group(1), numbers, values, locale, rtl, digits))
        last = match.end()
    out.append(_inline(text[last:], numbers, values, locale, rtl, digits))
    html = Markup("").join(out)
    # A marker at the end of a sentence sits after a no-break space.
    return Markup(re.sub(r"\s+(<span class=\"cite\")", "\u00a0\\1", str(html)))
