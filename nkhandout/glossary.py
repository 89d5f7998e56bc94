"""Glossaries: the agreed translation of each key term, per locale.

content/glossary/en.toml lists the key terms of the English source (with a
note for translators); content/glossary/CODE.toml gives a locale's agreed
translation of each. `nkhandout check` then flags a translated entry whose
English contains a term but whose translation contains none of the agreed
forms, the way Weblate's glossary check does.

    # content/glossary/fr.toml
    [terms]
    "steroid" = ["corticoïde", "corticoïdes"]   # any one of these forms
    "placebo" = "placebo"

Matching: an English term matches as whole words, in any case, also with a
plural "s" or "es" ("NK cell" matches "NK cells"). An agreed form matches
anywhere in the translation, in any case, so a stem common to every
inflected form ("кортикостероид") covers them all.
"""

import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import HandoutError
from .project import Project, read_utf8

if TYPE_CHECKING:
    from babel.messages.catalog import Catalog

MAX_GLOSSARY_BYTES = 64 * 1024
SOURCE = "en"


@dataclass(frozen=True)
class Term:
    english: str
    forms: tuple  # agreed translations; any one will do
    line: int

    def in_english(self, text: str) -> bool:
        return _english_pattern(self.english).search(text) is not None

    def in_translation(self, text: str) -> bool:
        folded = text.casefold()
        return any(form.casefold() in folded for form in self.forms)


@functools.lru_cache(maxsize=1024)
def _english_pattern(english: str) -> re.Pattern:
    """The term ``english`` as a whole word or words, any case, plural too."""
    pattern = r"(?<![\w-])" + r"\s+".join(map(re.escape, english.split())) + r"(?:e?s)?(?![\w-])"
    return re.compile(pattern, re.IGNORECASE)


def path_for(project: Project, code: str) -> Path:
    return project.content_dir / "glossary" / f"{code}.toml"


def _read(project, code):
    """(table of terms, lines of the file, where) or None when there is no file."""
    path = path_for(project, code)
    if not path.is_file():
        return None
    where = project.relative(path)
    text = read_utf8(path, MAX_GLOSSARY_BYTES, where, project.content_dir)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = re.search(r"line (\d+)", str(error))
        raise HandoutError(f"TOML syntax error: {str(error).split(' (at')[0]}",
                           f"{where}:{line.group(1) if line else 1}") from None
    terms = data.get("terms")
    if not isinstance(terms, dict) or set(data) - {"terms"}:
        raise HandoutError("a glossary has one table, [terms], of \"English term\" = \"agreed word\"",
                           where)
    return terms, text.splitlines(), where


def _line(lines, key):
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith((f'"{key}"', key)):
            return number
    return 0


def english_terms(project: Project) -> dict[str, str]:
    """{term: note} from content/glossary/en.toml ({} without the file)."""
    read = _read(project, SOURCE)
    if read is None:
        return {}
    terms, lines, where = read
    for term, note in terms.items():
        if not isinstance(note, str) or not term.strip():
            raise HandoutError(f"term {term!r}: give a short note for translators as text",
                               f"{where}:{_line(lines, term)}")
    return terms


def load(project: Project, code: str) -> list[Term]:
    """The Terms agreed for ``code`` ([] without a glossary file).

    Every term must be one of the English list's, so a typo cannot switch a
    check off unnoticed."""
    read = _read(project, code)
    if read is None:
        return []
    terms, lines, where = read
    known = english_terms(project)
    found = []
    for english, agreed in terms.items():
        line = _line(lines, english)
        forms = (agreed,) if isinstance(agreed, str) else tuple(agreed) if isinstance(agreed, list) else ()
        if not forms or not all(isinstance(f, str) and f.strip() for f in forms):
            raise HandoutError(f"term {english!r}: give the agreed translation as text or a list of texts",
                               f"{where}:{line}")
        if english not in known:
            hint = f"{project.relative(path_for(project, SOURCE))} lists: {', '.join(sorted(known)) or 'nothing'}"
            raise HandoutError(f"{english!r} is not a term of the English glossary", f"{where}:{line}", hint)
        found.append(Term(english, tuple(f.strip() for f in forms), line))
    return found


def problems(terms: list[Term], pot: "Catalog", translations: dict, catalog: "Catalog",
             where: str) -> list[tuple[int, str]]:
    """(line, message) for each translated entry that misses an agreed term."""
    found: list[tuple[int, str]] = []
    if not terms:
        return found
    glossary_file = where
    for message in pot:
        if not message.id or not isinstance(message.id, str):  # the templates have no plural forms
            continue
        text = translations.get((message.context, message.id))
        if not text:
            continue
        for term in terms:
            if term.in_english(message.id) and not term.in_translation(text):
                entry = catalog.get(message.id, context=message.context)
                expected = " or ".join(f'"{f}"' for f in term.forms)
                found.append((getattr(entry, "lineno", 0) or 0,
                               f'{message.context}: glossary: the English has "{term.english}", '
                               f"the translation lacks {expected} ({glossary_file})"))
    return found
