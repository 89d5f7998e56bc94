"""Locale codes: parsing what users type, text direction, territory."""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from babel import Locale, UnknownLocaleError
from babel.core import get_global

from . import paper
from .errors import UnknownLocale, UsageError

SOURCE_LOCALE = "en"
_CODE = re.compile(r"^[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,8}){0,3}$")


def parse(code: str | None) -> Locale | None:
    """The Babel Locale for ``code`` (``pt-BR``, ``pt_br``, ``zh-Hans``), or None.

    Deprecated language codes become today's (``iw`` he, ``in`` id, ``tl``
    fil, ``ji`` yi, ``jw`` jv, ``mo`` ro), keeping whatever else was typed."""
    if not isinstance(code, str) or not _CODE.match(code):
        return None
    parts = code.replace("-", "_").split("_")
    alias = get_global("language_aliases").get(parts[0].lower())
    if alias and "_" not in alias:
        parts[0] = alias
    try:
        return Locale.parse("_".join(parts))
    except (ValueError, UnknownLocaleError):
        return None


def canonical(code: str | None) -> str | None:
    """The project's spelling of ``code`` (``pt_BR``, ``zh_Hans``), or None."""
    locale = parse(code)
    return str(locale) if locale else None


def _likely(locale):
    """(language, script, territory) of ``locale`` with CLDR's likely subtags
    filling what it does not say (``pt`` is pt, Latn, BR; ``zh_TW`` is zh, Hant, TW)."""
    likely = get_global("likely_subtags")
    script, territory = locale.script, locale.territory
    for key in (f"{locale.language}_{script}" if script else None,
                f"{locale.language}_{territory}" if territory else None, locale.language):
        if key and key in likely:
            parts = likely[key].split("_")
            script = script or next((p for p in parts[1:] if len(p) == 4), None)
            territory = territory or next((p for p in parts[1:] if len(p) in (2, 3) and p != parts[0]), None)
            break
    return locale.language, script, territory


def same_language(header: str | None, code: str) -> bool:
    """True when a catalog's ``Language:`` header names the language of the
    locale ``code``: ``es``, ``es_ES`` or ``es-ES`` for es.po, ``pl_PL`` for
    pl.po, ``zh_CN`` for zh_Hans.po; never another language or script, nor
    another country where the file names one (``pt_PT`` in pt_BR.po)."""
    said, wanted = parse((header or "").strip()), parse(code)
    if said is None or wanted is None:
        return False
    language, script, territory = _likely(said)
    want_language, want_script, want_territory = _likely(wanted)
    if (language, script) != (want_language, want_script):
        return False
    return wanted.territory is None or territory == want_territory


@dataclass(frozen=True)
class Choice:
    """The catalog chosen for what the user typed, and the territory typed."""

    typed: str
    code: str
    territory: str | None = None  # a country the user named (its paper is used)

    @property
    def fallback(self) -> bool:
        return canonical(self.typed) != self.code

    def describe(self, paper_used: str | None = None) -> str:
        """``es_MX: using the es catalog, Letter paper``."""
        size = paper_used or self.paper or info(self.code).paper
        size = {"a4": "A4", "letter": "Letter"}.get(size, size)
        return f"{self.typed}: using the {self.code} catalog, {size} paper"

    @property
    def paper(self) -> str | None:
        return paper.for_territory(self.territory) if self.territory else None


def choose(code: str, available: Iterable[str]) -> Choice:
    """The Choice for ``code`` among the ``available`` catalogs.

    An exact match (any case, ``-`` or ``_``) wins. Otherwise Babel parses the
    code (deprecated codes become today's) and CLDR's likely subtags complete
    it: a catalog of the same language and script is used, preferring one of
    the same country, then one that names no country, then the language's
    usual one (``pt`` is Brazilian Portuguese). Another script is never a
    substitute: zh_TW (Traditional) does not fall back to zh_Hans.
    """
    by_folded = {c.lower(): c for c in available}
    typed = code or ""
    wanted = parse(typed) if _CODE.match(typed) else None
    for candidate in (canonical(typed) if wanted else None, typed.replace("-", "_")):
        if candidate and candidate.lower() in by_folded:
            return Choice(typed, by_folded[candidate.lower()])
    if wanted is None:
        raise UnknownLocale(f"unknown locale {code!r}", hint="available: " + ", ".join(sorted(available)))
    language, script, territory = _likely(wanted)
    ranked = []
    for name in available:
        have = parse(name)
        if have is None:
            continue
        have_language, have_script, have_territory = _likely(have)
        if (have_language, have_script) != (language, script):
            continue
        if have.territory is not None and have.territory == wanted.territory:
            ranked.append((0, name))
        elif have.territory is None:
            ranked.append((1, name))
        elif have_territory == territory and wanted.territory is None:
            ranked.append((2, name))
    country = wanted.territory if wanted.territory and wanted.territory.isalpha() else None
    if ranked:
        return Choice(typed, min(ranked)[1], country)
    same_language = sorted(n for n in available if (found := parse(n)) is not None and found.language == language)
    if same_language:
        scripts = {_likely(parse(n))[1] for n in same_language}
        other = (f"is written in another script ({', '.join(sorted(filter(None, scripts)))}, not {script})"
                 if script not in scripts else "is for another country")
        suggest = f"{language}_{script}" if script not in scripts and script else canonical(typed)
        raise UnknownLocale(
            f"no catalog for {code!r} ({wanted.get_display_name('en')}); {', '.join(same_language)} "
            f"{other} and is not used in its place",
            hint=f"start one with `nkhandout init-locale {suggest}`")
    raise UnknownLocale(f"unknown locale {code!r}", hint="available: " + ", ".join(sorted(available)))


def resolve(code: str, available: Iterable[str]) -> str:
    """The available locale that ``code`` names (see choose)."""
    return choose(code, available).code


@dataclass(frozen=True)
class LocaleInfo:
    """What rendering needs to know about a locale."""

    code: str
    locale: Locale

    @property
    def lang_tag(self) -> str:
        """BCP 47 tag for html lang and the PDF's /Lang (``pt-BR``, ``zh-Hans``)."""
        return str(self.locale).replace("_", "-")

    @property
    def direction(self) -> str:
        return self.locale.text_direction

    @property
    def territory(self) -> str | None:
        """The locale's territory, or the likely one from CLDR's likely subtags."""
        if self.locale.territory:
            return self.locale.territory
        likely = get_global("likely_subtags")
        for key in (str(self.locale), self.locale.language):
            if key in likely:
                parts = likely[key].split("_")
                for part in parts[1:]:
                    if (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit()):
                        return part
        return None

    @property
    def paper(self) -> str:
        return paper.for_territory(self.territory)

    @property
    def native_name(self) -> str:
        return self.locale.get_display_name(self.locale) or self.code


def info(code: str) -> LocaleInfo:
    """LocaleInfo for a canonical ``code``."""
    locale = parse(code)
    if locale is None:
        raise UsageError(f"{code!r} is not a locale code Babel knows", hint="e.g. es, pt_BR, zh_Hans")
    return LocaleInfo(code=code, locale=locale)
