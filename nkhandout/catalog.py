"""Gettext catalogs through Babel: build the template, read, merge, write."""

import datetime
import io
import re
from dataclasses import dataclass

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract
from babel.messages.pofile import PoFileError, read_po, write_po

from . import content, references
from .errors import HandoutError

PROJECT = "nkhandout handout"
MAX_CATALOG_BYTES = 512 * 1024
COMMENT_TAGS = ("Translators:",)
# Headers of nkhandout's own, kept through every read and write.
REVIEW_HEADERS = ("X-Review-Status", "X-Reviewed-By", "X-Review-Date", "X-Reviewed-Version")
_HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):\s*(.*)$")


def _fixed_date(day):
    return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc)


def template(source, templates_dir, rel):
    """The catalog template (.pot): the English source plus template labels."""
    pot = Catalog(project=PROJECT, version=source.version, fuzzy=False,
                  creation_date=_fixed_date(source.reviewed),
                  msgid_bugs_address="", copyright_holder="", charset="utf-8")
    source_rel = rel(source.path)
    for unit in source.units:
        flags = ("python-brace-format",) if content.placeholders(unit.text) else ()
        pot.add(unit.text, context=unit.context, auto_comments=[unit.comment],
                locations=[(source_rel, unit.line)], flags=flags)
    for path in sorted(templates_dir.glob("*.j2")):
        with path.open("rb") as handle:
            for line, msgid, comments, context in extract(
                    "jinja2.ext:babel_extract", handle, comment_tags=COMMENT_TAGS,
                    strip_comment_tags=True, options={"trimmed": "true"}):
                if not context:
                    raise HandoutError("template labels need pgettext(\"label.name\", \"...\")",
                                       f"{rel(path)}:{line}")
                text = msgid if isinstance(msgid, str) else msgid[0]
                flags = ("python-brace-format",) if content.placeholders(text) else ()
                pot.add(text, context=context, auto_comments=comments,
                        locations=[(rel(path), line)], flags=flags)
    for key, word in references.WORDS.items():
        pot.add(word, context="reference",
                auto_comments=[f"Printed in the reference list ({key})."])
    return pot


@dataclass
class Loaded:
    """A catalog read from disk, with the headers Babel does not keep."""

    catalog: Catalog
    extra_headers: dict
    raw_language: str | None
    plural_forms: str | None = None


def _raw_headers(text):
    """Header fields of the PO file's first entry, as written."""
    match = re.search(r'^msgid ""\s*\nmsgstr ""\s*\n((?:".*"\s*\n)*)', text, re.M)
    fields = {}
    if not match:
        return None
    joined = "".join(re.findall(r'^"(.*)"\s*$', match.group(1), re.M))
    for line in joined.replace('\\"', '"').split("\\n"):
        found = _HEADER_LINE.match(line.strip())
        if found:
            fields.setdefault(found.group(1), found.group(2).strip())
    return fields


def load(path, where=None, locale=None, inside=None):
    """Read the PO file at ``path``; a syntax error names file and line."""
    from .project import read_limited

    where = where or str(path)
    raw = read_limited(path, MAX_CATALOG_BYTES, where, inside)
    if not raw.strip():
        raise HandoutError("file is empty", where, "start from `nkhandout init-locale`")
    if raw.startswith(b"\xef\xbb\xbf"):
        raise HandoutError("file starts with a byte order mark (BOM)", f"{where}:1",
                           "save it as UTF-8 without BOM")
    if b"\r" in raw:
        line = raw[: raw.index(b"\r")].count(b"\n") + 1
        raise HandoutError("Windows (CRLF) line ends", f"{where}:{line}",
                           "save the file with Unix (LF) line ends")
    if b"\0" in raw:
        raise HandoutError("file contains NUL bytes; it is not a text catalog", where)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise HandoutError("not valid UTF-8", f"{where}:{line}", "save the file as UTF-8") from None
    headers = _raw_headers(text)
    if headers is None:
        raise HandoutError("no header entry (msgid \"\" with Language, Content-Type)", f"{where}:1",
                           "start from `nkhandout init-locale`")
    charset = re.search(r"charset=([\w-]+)", headers.get("Content-Type", ""))
    if not charset or charset.group(1).lower() not in ("utf-8", "utf8"):
        raise HandoutError("Content-Type header must say charset=UTF-8", f"{where}:1")
    _lint(text, where)
    _check_duplicates(text, where)
    text, previous = _take_previous(text)
    try:
        catalog = read_po(io.StringIO(text), locale=locale, abort_invalid=True, charset="utf-8")
    except PoFileError as error:
        raise HandoutError(f"PO syntax error: {error.args[0].rsplit(' on ', 1)[0]}",
                           f"{where}:{error.lineno + 1}") from None
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as error:
        raise HandoutError(f"PO syntax error: {error}", where) from None
    for message in catalog:
        message.auto_comments = [c for c in message.auto_comments if c]
        if message.lineno in previous:
            message.previous_id = [previous[message.lineno]]
    extra = {k: v for k, v in headers.items() if k.startswith("X-")}
    return Loaded(catalog, extra, headers.get("Language"), headers.get("Plural-Forms"))


def _unquote(chunk):
    chunk = chunk.strip()
    if len(chunk) < 2 or chunk[0] != '"' or chunk[-1] != '"':
        return ""
    return chunk[1:-1].replace('\\"', '"').replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")


def _take_previous(text):
    """Babel does not read ``#| msgid`` lines: take them out, keyed by entry line.

    The lines become empty ``#.`` comments so that line numbers stay true.
    """
    lines = text.split("\n")
    previous = {}
    pending = None
    for index, line in enumerate(lines):
        if line.startswith("#| msgid "):
            pending = _unquote(line[len("#| msgid "):])
            lines[index] = "#."
        elif line.startswith('#| "') and pending is not None:
            pending += _unquote(line[3:])
            lines[index] = "#."
        elif line.startswith("#|"):
            lines[index] = "#."
        elif line.startswith("msgid ") and pending is not None:
            previous[index + 1] = pending
            pending = None
        elif not line.strip():
            pending = None
    return "\n".join(lines), previous


_STRING = re.compile(r'^"(?:[^"\\]|\\.)*"$')
_KEYWORD = re.compile(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+(.*)$')


def _lint(text, where):
    """Stricter than Babel's reader: every line must be a comment, a keyword
    with one quoted string, a quoted continuation, or blank (as msgfmt asks)."""
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _KEYWORD.match(stripped)
        value = match.group(2) if match else stripped
        if not match and not stripped.startswith('"'):
            raise HandoutError(f"PO syntax error: unknown keyword {stripped.split()[0][:20]!r}",
                               f"{where}:{number}", "each line is msgctxt, msgid, msgstr, a \"quoted\" line or a # comment")
        if not _STRING.match(value):
            raise HandoutError("PO syntax error: string not closed with a quote (or a stray quote inside)",
                               f"{where}:{number}", 'write quotes inside text as \\"')


def _check_duplicates(text, where):
    """Two live entries with the same msgctxt and msgid."""
    seen = {}
    lines = text.split("\n")
    context = None
    number = 0
    while number < len(lines):
        line = lines[number]
        if line.startswith("msgctxt "):
            context = line[8:]
        elif line.startswith("msgid "):
            start = number + 1
            msgid = [line[6:]]
            while number + 1 < len(lines) and lines[number + 1].startswith('"'):
                number += 1
                msgid.append(lines[number])
            key = (context, "".join(msgid))
            if key != (None, '""'):
                if key in seen:
                    raise HandoutError(
                        f"duplicate entry (first at line {seen[key]})", f"{where}:{start}",
                        "delete one of the two entries")
                seen[key] = start
            context = None
        elif not line.strip():
            context = None
        number += 1


def dump(loaded):
    """The catalog as PO text, with nkhandout's extra headers kept."""
    buffer = io.BytesIO()
    write_po(buffer, loaded.catalog, width=76, include_previous=False,
             omit_header=False, sort_output=False)
    text = _with_previous(buffer.getvalue().decode("utf-8"), loaded.catalog)
    if loaded.extra_headers:
        extra = "".join(f'"{k}: {v}\\n"\n' for k, v in loaded.extra_headers.items())
        text = re.sub(r'("Generated-By: [^"]*\\n"\n)', lambda m: m.group(1) + extra, text, count=1)
    return text


def _with_previous(text, catalog):
    """``text`` with each fuzzy entry's old English as ``#| msgid`` lines.

    Babel wraps a long previous msgid as one comment (``#| msgid "" "a b"``),
    which no reader takes back; GNU gettext's form is one quoted piece a line
    (``#| msgid ""`` then ``#| "..."``), and _take_previous reads it back."""
    from babel.messages.pofile import normalize

    lines = text.split("\n")
    for message in catalog:
        if not (message.id and message.context and message.previous_id):
            continue
        quoted = normalize(message.context, width=76)
        target = f"msgctxt {quoted}"
        if "\n" in target or target not in lines:
            continue
        at = lines.index(target)
        previous = normalize(message.previous_id[0], prefix="#| ", width=76).split("\n")
        previous[0] = "#| msgid " + previous[0]
        lines[at:at] = previous
    return "\n".join(lines)


def merge(loaded, pot):
    """Bring ``loaded`` up to date with ``pot``; return the changed contexts.

    Matching is by place first: an entry whose msgctxt is unchanged but whose
    English changed becomes fuzzy, keeping the old English as ``#| msgid``.
    English that only moved keeps its translation. New strings come in empty;
    removed ones become obsolete.
    """
    old = loaded.catalog
    by_key = {(m.context, m.id): m for m in old if m.id}
    by_context = {m.context: m for m in old if m.id and m.context}
    by_id = {}
    for message in old:
        if message.id and message.string and not message.fuzzy:
            by_id.setdefault(message.id, message)
    new = Catalog(locale=old.locale, project=old.project, version=pot.version,
                  creation_date=pot.creation_date, revision_date=old.revision_date,
                  last_translator=old.last_translator, language_team=old.language_team,
                  charset="utf-8", fuzzy=False, header_comment=old.header_comment)
    used = set()
    changed = []
    for message in pot:
        if not message.id:
            continue
        key = (message.context, message.id)
        flags = set(message.flags)
        previous = ()
        string = ""
        user_comments = []
        if key in by_key:
            match = by_key[key]
            string, user_comments = match.string, match.user_comments
            if match.fuzzy:
                flags.add("fuzzy")
                previous = match.previous_id
            used.add(key)
        elif message.id in by_id:
            match = by_id[message.id]
            string, user_comments = match.string, match.user_comments
        elif message.context in by_context and by_context[message.context].string:
            match = by_context[message.context]
            string, user_comments = match.string, match.user_comments
            flags.add("fuzzy")
            # An entry already fuzzy keeps the English its text translates.
            previous = match.previous_id if match.fuzzy and match.previous_id else [match.id]
            used.add((match.context, match.id))
            changed.append(message.context)
        new.add(message.id, string, context=message.context, flags=flags,
                auto_comments=message.auto_comments, user_comments=user_comments,
                locations=message.locations, previous_id=previous)
    for (context, msgid), message in by_key.items():
        if (context, msgid) not in used and (context, msgid) not in {(m.context, m.id) for m in pot}:
            if message.string:
                new.obsolete[(msgid, context) if context else msgid] = message
    for key, message in old.obsolete.items():
        if (message.context, message.id) not in {(m.context, m.id) for m in new if m.id}:
            new.obsolete.setdefault(key, message)
    return Loaded(new, loaded.extra_headers, loaded.raw_language), changed


@dataclass(frozen=True)
class Stats:
    translated: int
    fuzzy: int
    untranslated: int

    @property
    def complete(self):
        return self.fuzzy == 0 and self.untranslated == 0


def stats(catalog, pot):
    """Counts against the template: translated, fuzzy, untranslated."""
    translated = fuzzy = untranslated = 0
    for message in pot:
        if not message.id:
            continue
        found = catalog.get(message.id, context=message.context)
        if found is None or not found.string:
            untranslated += 1
        elif found.fuzzy:
            fuzzy += 1
        else:
            translated += 1
    return Stats(translated, fuzzy, untranslated)


def incomplete(catalog, pot):
    """Contexts of the template's strings that are untranslated or fuzzy."""
    found = []
    for message in pot:
        if message.id:
            entry = catalog.get(message.id, context=message.context)
            if entry is None or not entry.string or entry.fuzzy:
                found.append(message.context or message.id[:30])
    return found


def translations(catalog):
    """{(context, msgid): text} for every translated, non-fuzzy entry."""
    return {
        (m.context, m.id): m.string
        for m in catalog
        if m.id and isinstance(m.string, str) and m.string and not m.fuzzy
    }
