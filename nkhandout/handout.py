"""The Handout value: everything one page shows, translated and escaped."""

import re
from dataclasses import dataclass, field

from babel.dates import format_date
from markupsafe import Markup, escape

from . import figures, markup, references
from .errors import HandoutError
from .locales import SOURCE_LOCALE


@dataclass
class Handout:
    """A plain value handed to the template; nothing in it is raw user HTML."""

    code: str
    lang: str
    dir: str
    paper: str
    title: Markup
    title_text: str
    lead: Markup
    lead_text: str
    sections: list
    disclaimer: Markup
    references: list
    version: str
    reviewed_iso: str
    reviewed: str
    name: str
    draft: bool
    reviewed_translation: bool
    clinic: object = None
    key: object = None  # Markup of the key message, or None
    label: object = field(repr=False, default=None)
    translator: object = field(repr=False, default=None)


class Translator:
    """Looks up a locale's translations; records what is missing."""

    def __init__(self, translations, draft, is_source):
        self.translations = translations
        self.draft = draft
        self.is_source = is_source
        self.missing = []

    def __call__(self, context, msgid):
        if self.is_source:
            return msgid
        found = self.translations.get((context, msgid))
        if found:
            return found
        self.missing.append((context, msgid))
        return msgid


def _plain(text):
    """Text without nkhandout markup, for PDF metadata."""
    text = references.CITATION.sub("", text).replace("*", "")
    return re.sub(r"\s+", " ", text).strip()


def build(source, refs, numbers, info, translations, *, draft=False, reviewed_translation=False,
          paper, where="", clinic=None, keep_words=False, digits="latn"):
    """The Handout for locale ``info`` from the source and its translations.

    ``numbers`` maps citation keys to reference numbers (references.number);
    ``keep_words``: never break a line inside a word; ``digits``: the digits
    numbers and the date are printed in (both from fonts.toml [locale]).
    """
    translate = Translator(translations, draft, info.code == SOURCE_LOCALE)
    texts = {unit.context: translate(unit.context, unit.text) for unit in source.units}
    rtl = info.direction == "rtl"

    def render(unit):
        return markup.render(texts[unit.context], numbers=numbers, values=source.values,
                             locale=info.locale, rtl=rtl, keep_words=keep_words, digits=digits)

    def label(context, msgid, **fields):
        text = translate(context, msgid)
        html = str(escape(text))
        for name, value in fields.items():
            html = html.replace("{%s}" % name, str(escape(value)))
        return Markup(html)

    def block(b):
        made = {"kind": b.kind, "texts": [render(u) for u in b.units], "id": b.id, "lines": b.lines}
        if b.kind == "figure":
            total = source.values[b.rows[0].total][1]
            made["small"] = len(b.rows) == 1 and b.rows[0].label is None and total <= figures.SMALL
            unit_mm = figures.SMALL_UNIT_MM if made["small"] else figures.UNIT_MM
            made["rows"] = [_figure_row(row, texts, render, source.values, info.locale, rtl, unit_mm, digits)
                            for row in b.rows]
        return made

    sections = [
        {
            "id": section.id,
            "heading": render(section.heading),
            "blocks": [block(b) for b in section.blocks],
        }
        for section in source.sections
    ]
    et_al = translate("reference", references.WORDS["et_al"])
    handout = Handout(
        code=info.code, lang=info.lang_tag, dir=info.direction, paper=paper,
        title=render(source.title), title_text=_plain(texts["title"]),
        lead=render(source.lead), lead_text=_plain(texts["lead"]),
        sections=sections, disclaimer=render(source.disclaimer),
        references=references.render_list(refs, numbers, et_al),
        version=source.version, reviewed_iso=source.reviewed.isoformat(),
        reviewed=markup.localize_digits(format_date(source.reviewed, format="long", locale=info.locale), digits),
        name=source.name, draft=draft,
        reviewed_translation=reviewed_translation or info.code == SOURCE_LOCALE,
        label=label, clinic=clinic, translator=translate,
        key=render(source.key) if source.key is not None else None,
    )
    return handout


def _figure_row(row, texts, render, values, locale, rtl, unit_mm, digits="latn"):
    """One row of an icon array: its label and its SVG, numbers from [values]."""
    filled, total = values[row.filled][1], values[row.total][1]
    alt = markup.plain_text(texts[row.alt.context], values=values, locale=locale, digits=digits)
    return {
        "label": render(row.label) if row.label is not None else None,
        "svg": figures.icon_array(filled, total, alt, rtl=rtl, unit_mm=unit_mm),
        "alt": alt,
    }


def require_complete(handout, where):
    """Refuse a handout that fell back to English (unless it is a draft)."""
    missing = handout.translator.missing
    if missing and not handout.draft:
        shown = "; ".join(f"{ctx}: {msgid[:40]!r}" for ctx, msgid in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise HandoutError(
            f"{len(missing)} string(s) untranslated or fuzzy: {shown}{more}", where,
            "translate them, or build with --draft")
