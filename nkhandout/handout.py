"""The Handout value: everything one page shows, translated and escaped."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from babel.dates import format_date
from markupsafe import Markup, escape

from . import figures, markup, references
from .locales import SOURCE_LOCALE


@dataclass(frozen=True)
class Handout:
    """A plain, frozen value handed to the template; nothing in it is raw
    user HTML, and every label is translated before the template runs."""

    code: str
    lang: str
    dir: str
    paper: str
    title: Markup
    title_text: str
    lead: Markup
    lead_text: str
    sections: tuple
    disclaimer: Markup
    references: tuple
    version: str
    reviewed_iso: str
    reviewed: str
    name: str
    topic: str
    keywords: str
    draft: bool
    reviewed_translation: bool
    labels: Mapping[str, str] = field(repr=False)  # msgctxt -> text, for pgettext
    missing: tuple = ()  # (msgctxt, msgid) shown in English in a draft
    clinic: Any = None
    key: Markup | None = None
    keep_words: bool = False  # the printed page keeps Korean words whole (markup.join_words)

    def label(self, context: str, msgid: str, **fields: Any) -> Markup:
        """A template label: its translation, with ``{name}`` fields filled
        in after escaping (so a field may be markup, such as a phone number
        kept left-to-right)."""
        html = str(escape(self.labels.get(context, msgid)))
        for name, value in fields.items():
            html = html.replace("{%s}" % name, str(escape(value)))
        return Markup(html)


def _plain(text):
    """Text without nkhandout markup or word joiners, for PDF metadata."""
    text = references.CITATION.sub("", text).replace("*", "").replace(markup.JOINER, "")
    return re.sub(r"\s+", " ", text).strip()


def build(source: Any, refs: dict, numbers: dict, info: Any, translations: Mapping,
          labels_pot: Any, *, draft: bool = False, reviewed_translation: bool = False,
          paper: str, clinic: Any = None, keep_words: bool = False, digits: str = "latn") -> Handout:
    """The Handout for locale ``info`` from the source and its translations.

    ``numbers`` maps citation keys to reference numbers (references.number);
    ``labels_pot`` lists the template's labels; ``keep_words``: never break
    a line inside a word; ``digits``: the digits numbers and the date are
    printed in (both from fonts.toml [locale]). What has no translation is
    shown in English (only a draft gets this far with gaps), marked as
    English and, on a right-to-left page, kept left-to-right."""
    source_locale = info.code == SOURCE_LOCALE
    rtl = info.direction == "rtl"
    missing = []

    def translate(context: str, msgid: str) -> tuple[str, bool]:
        found = msgid if source_locale else translations.get((context, msgid))
        if found:
            return found, False
        missing.append((context, msgid))
        return msgid, True

    texts, english = {}, set()
    for unit in source.units:
        texts[unit.context], fell_back = translate(unit.context, unit.text)
        if fell_back:
            english.add(unit.context)

    def render(unit: Any) -> Markup:
        html = markup.render(texts[unit.context], numbers=numbers, values=source.values,
                             locale=info.locale, rtl=rtl and unit.context not in english,
                             digits="latn" if unit.context in english else digits)
        if unit.context in english:
            return Markup('<span lang="en" dir="ltr">%s</span>') % html
        return html

    def block(b: Any) -> dict:
        made = {"kind": b.kind, "texts": [render(u) for u in b.units], "id": b.id, "lines": b.lines}
        if b.kind == "figure":
            total = source.values[b.rows[0].total][1]
            made["small"] = len(b.rows) == 1 and b.rows[0].label is None and total <= figures.SMALL
            unit_mm = figures.SMALL_UNIT_MM if made["small"] else figures.UNIT_MM
            made["rows"] = [_figure_row(row, texts, render, source.values, info.locale, rtl, unit_mm, digits)
                            for row in b.rows]
        return made

    sections = tuple(
        {
            "id": section.id,
            "heading": render(section.heading),
            "blocks": [block(b) for b in section.blocks],
        }
        for section in source.sections
    )
    labels = {}
    for message in labels_pot:
        if message.id and message.context != "reference":
            labels[message.context] = translate(message.context, message.id)[0]
    et_al = translate("reference", references.WORDS["et_al"])[0]
    return Handout(
        code=info.code, lang=info.lang_tag, dir=info.direction, paper=paper,
        title=render(source.title), title_text=_plain(texts["title"]),
        lead=render(source.lead), lead_text=_plain(texts["lead"]),
        sections=sections, disclaimer=render(source.disclaimer),
        references=tuple(references.render_list(refs, numbers, et_al)),
        version=source.version, reviewed_iso=source.reviewed.isoformat(),
        reviewed=markup.localize_digits(format_date(source.reviewed, format="long", locale=info.locale), digits),
        name=source.name, topic=source.topic, keywords=source.keywords, draft=draft,
        reviewed_translation=reviewed_translation or source_locale,
        labels=MappingProxyType(labels), missing=tuple(missing), clinic=clinic,
        key=render(source.key) if source.key is not None else None, keep_words=keep_words,
    )


def _figure_row(row, texts, render, values, locale, rtl, unit_mm, digits="latn"):
    """One row of an icon array: its label and its SVG, numbers from [values]."""
    filled, total = values[row.filled][1], values[row.total][1]
    alt = markup.plain_text(texts[row.alt.context], values=values, locale=locale, digits=digits)
    return {
        "label": render(row.label) if row.label is not None else None,
        "svg": figures.icon_array(filled, total, alt, rtl=rtl, unit_mm=unit_mm),
        "alt": alt,
    }
