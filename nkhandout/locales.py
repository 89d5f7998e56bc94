"""Locale codes: parsing what users type, text direction, territory."""

import re
from dataclasses import dataclass

from babel import Locale, UnknownLocaleError
from babel.core import get_global

from . import paper
from .errors import UsageError

SOURCE_LOCALE = "en"
_CODE = re.compile(r"^[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,8}){0,3}$")


def parse(code):
    """The Babel Locale for ``code`` (``pt-BR``, ``pt_br``, ``zh-Hans``), or None."""
    if not isinstance(code, str) or not _CODE.match(code):
        return None
    try:
        return Locale.parse(code.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return None


def canonical(code):
    """The project's spelling of ``code`` (``pt_BR``, ``zh_Hans``), or None."""
    locale = parse(code)
    return str(locale) if locale else None


def resolve(code, available):
    """The available locale that ``code`` names, matched case-insensitively."""
    wanted = canonical(code) if _CODE.match(code or "") else None
    by_folded = {c.lower(): c for c in available}
    for candidate in (wanted, (code or "").replace("-", "_")):
        if candidate and candidate.lower() in by_folded:
            return by_folded[candidate.lower()]
    raise UsageError(
        f"unknown locale {code!r}",
        hint="available: " + ", ".join(sorted(available)),
    )


@dataclass(frozen=True)
class LocaleInfo:
    """What rendering needs to know about a locale."""

    code: str
    locale: Locale

    @property
    def lang_tag(self):
        """BCP 47 tag for html lang and the PDF's /Lang (``pt-BR``, ``zh-Hans``)."""
        return str(self.locale).replace("_", "-")

    @property
    def direction(self):
        return self.locale.text_direction

    @property
    def territory(self):
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
    def paper(self):
        return paper.for_territory(self.territory)

    @property
    def native_name(self):
        return self.locale.get_display_name(self.locale) or self.code


def info(code):
    """LocaleInfo for a canonical ``code``."""
    locale = parse(code)
    if locale is None:
        raise UsageError(f"{code!r} is not a locale code Babel knows", hint="e.g. es, pt_BR, zh_Hans")
    return LocaleInfo(code=code, locale=locale)
